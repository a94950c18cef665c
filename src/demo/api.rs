//! The gateway's internal API as the demo calls it: reads, lifecycle actions checked against
//! the status the contract gives them, and waiting for what the gateway does in the background.

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
                "request_supplement" => "Bổ sung bản sao Giấy chứng nhận đủ điều kiện về an ninh, trật tự",
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
