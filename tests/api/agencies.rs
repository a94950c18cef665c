//! Helpers of the inter-agency tests: a gateway whose portal and two agencies (the fire police
//! PC07 and the security police PC06, with the shipped test secrets) are test partners, a
//! dossier brought to processing, a forward, and an agency's signed answer.

use crate::helpers::*;
use crate::lifecycle::{act, arrive};
use serde_json::{json, Value};

pub const PC07: &str = "000.20.07.H29";
pub const PC06: &str = "000.20.06.H29";
pub const PC07_SECRET: &str = "whsec_dGVzdC1hZ2VuY3ktcGMwNy1zZWNyZXQtMDAwMQ==";
pub const PC06_SECRET: &str = "whsec_dGVzdC1hZ2VuY3ktcGMwNi1zZWNyZXQtMDAwMQ==";

/// A gateway whose portal and two agencies are test partners, delivering by hand.
pub struct Setup {
    pub app: TestApp,
    pub portal: TestPartner,
    pub pc07: TestPartner,
    pub pc06: TestPartner,
}

pub async fn setup() -> Setup {
    let (portal, pc07, pc06) = (
        TestPartner::start().await,
        TestPartner::start().await,
        TestPartner::start().await,
    );
    let app = spawn_app_with(&agencies_config(&portal, &pc07, &pc06)).await;
    Setup {
        app,
        portal,
        pc07,
        pc06,
    }
}

pub fn agencies_config(portal: &TestPartner, pc07: &TestPartner, pc06: &TestPartner) -> String {
    format!(
        "[portal]\nbase_url = \"{}\"\n[outbox]\nworker = false\nretry_schedule = [\"0s\"]\n\
         [server]\npublic_url = \"https://motcua.example.vn\"\n\
         [[agencies]]\ncode = \"{PC07}\"\nname = \"PC07 thử\"\nbase_url = \"{}\"\nsecret = \"{PC07_SECRET}\"\n\
         [[agencies]]\ncode = \"{PC06}\"\nname = \"PC06 thử\"\nbase_url = \"{}\"\nsecret = \"{PC06_SECRET}\"\n",
        portal.address, pc07.address, pc06.address
    )
}

pub fn officer() -> Value {
    json!({"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Phòng Quản lý Văn hóa"})
}

/// A dossier of `fixture` in status 4.
pub async fn processing(app: &TestApp, fixture: &str, id: &str) -> String {
    let code = arrive(app, fixture, id).await;
    for action in ["accept", "start_processing"] {
        let (s, d) = act(app, &code, json!({"action": action, "officer": officer()})).await;
        assert_eq!(s, 200, "{action}: {d}");
    }
    code
}

pub async fn forward(app: &TestApp, code: &str, step: &str) -> (u16, Value) {
    act(
        app,
        code,
        json!({"action": "forward", "step": step, "officer": officer()}),
    )
    .await
}

/// The step `id` of a dossier's JSON.
pub fn step_of<'a>(d: &'a Value, id: &str) -> &'a Value {
    d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {d}"))
}

/// An agency's answer to `reference`, signed with `secret` under `webhook_id`.
pub async fn agency_answer(
    app: &TestApp,
    reference: &str,
    secret: &str,
    webhook_id: &str,
    body: &Value,
) -> (u16, Value) {
    let bytes = body.to_string().into_bytes();
    // One reading of the clock for the signature and its header: two could straddle a second.
    let ts = now();
    let sig = motcua_gateway::signing::sign(
        &motcua_gateway::signing::WebhookSecret::parse(secret).unwrap(),
        webhook_id,
        ts,
        &bytes,
    );
    let res = app
        .client
        .post(app.url(&format!("/lienthong/v1/steps/{reference}")))
        .header("content-type", "application/json")
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(bytes)
        .send()
        .await
        .unwrap();
    status_and_json(res).await
}

pub fn done() -> Value {
    json!({"TrangThai": "done", "NguoiXuLy": "Đại úy Lê Văn C", "NoiDung": "Đạt yêu cầu",
           "KetQua": {"SoVanBan": "45/NT-PC07"}})
}

pub use crate::helpers::dossier_now as dossier;
