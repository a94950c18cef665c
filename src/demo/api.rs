//! The gateway's internal API as the demo calls it: reads, lifecycle actions checked against
//! the status the contract gives them, a step forwarded and followed to its agency's result,
//! and waiting for what the gateway does in the background.

use anyhow::bail;
use serde_json::{json, Value};
use std::time::Duration;

/// The demo's client of the gateway.
pub(super) struct Api {
    pub(super) client: reqwest::Client,
    pub(super) gateway: String,
    pub(super) token: String,
}

impl Api {
    pub(super) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .client
            .get(format!("{}{path}", self.gateway))
            .bearer_auth(&self.token)
            .header("cache-control", "no-cache")
            .send()
            .await?
            .json()
            .await?)
    }

    pub(super) async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let res = self
            .client
            .post(format!("{}{path}", self.gateway))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        Ok((
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        ))
    }

    /// One lifecycle action; the dossier's new status, or why not.
    pub(super) async fn act(
        &self,
        code: &str,
        action: &str,
        expect: i64,
    ) -> anyhow::Result<String> {
        let body = json!({
            "action": action,
            "officer": {"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Bộ phận Một cửa"},
            "note": match action {
                "request_supplement" => "Bổ sung bản vẽ mặt bằng các phòng hát",
                _ => "Demo",
            },
        });
        let (status, d) = self
            .post(&format!("/api/v1/dossiers/{code}/actions"), &body)
            .await?;
        if status != 200 || d["TrangThaiHoSo"] != expect {
            bail!("{code}: {action} answered {status} {d}, expected status {expect}");
        }
        Ok(format!(
            "{action} → {expect} {}",
            d["TenTrangThaiHoSo"].as_str().unwrap_or("")
        ))
    }
}

/// Polls until `done` holds for the dossier, at most 30 s.
pub(super) async fn until(
    api: &Api,
    code: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    for _ in 0..300 {
        let d = api.get(&format!("/api/v1/dossiers/{code}")).await?;
        if done(&d) {
            return Ok(d);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{code}: {what} did not happen within 30 s")
}

/// Forwards `step` and waits for its agency's simulator to answer it done, with its result
/// document fetched from the agency and verified: what happened, a line each.
pub(super) async fn through_agency(
    api: &Api,
    code: &str,
    step: &str,
) -> anyhow::Result<Vec<String>> {
    let body = json!({"action": "forward", "step": step,
        "officer": {"name": "Lê Thị Hoa", "title": "Chuyên viên", "unit": "Phòng Quản lý Văn hóa"}});
    let (status, d) = api
        .post(&format!("/api/v1/dossiers/{code}/actions"), &body)
        .await?;
    let forwarded = d["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == step))
        .cloned()
        .unwrap_or_default();
    let Some(reference) = forwarded["ref"].as_str().filter(|_| status == 200) else {
        bail!("{code}: forward {step} answered {status} {d}");
    };
    let mut lines = vec![format!(
        "forward {step} → agency {}, HanXuLy {}, still in status {}",
        forwarded["agency"].as_str().unwrap_or_default(),
        forwarded["HanXuLy"].as_str().unwrap_or_default(),
        d["TrangThaiHoSo"]
    )];
    let d = until(api, code, "the agency's result", |d| {
        let done = d["steps"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["id"] == step && s["state"] == "done"));
        let fetched = d["documents"].as_array().is_some_and(|docs| {
            docs.iter()
                .any(|x| x["step"] == reference && x["state"] != "pending")
        });
        done && fetched
    })
    .await?;
    let result: Vec<&str> = d["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["step"] == reference)
        .filter_map(|x| x["state"].as_str())
        .collect();
    if result != ["stored"] {
        bail!("{code}: the result of {step} is {result:?}, expected one stored document");
    }
    let answered = d["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == step))
        .cloned()
        .unwrap_or_default();
    lines.push(format!(
        "the agency answered received, processing, done (số văn bản {}); its result fetched from the agency, hash verified, stored",
        answered["SoVanBan"].as_str().unwrap_or_default()
    ));
    Ok(lines)
}
