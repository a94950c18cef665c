//! The soak's load: each client pushes dossiers through a random instance, accepts them and
//! starts their processing, and has one in three paid — the request through a random
//! instance, the money taken on the platform, and the platform's CONFIRM sent to a random
//! instance, sometimes twice at once through two, sometimes never (left to reconciliation).
//! Every request whose answer is not known (its instance died, or failed) is tried again
//! elsewhere; only 2xx answers are written down (`check::Acked`) for the invariants.

use super::check::Acked;
use super::paygov::{FlakyPaygov, SECRET};
use crate::bench::gateway::{PORTAL_SECRET, TOKEN};
use crate::sim::locked;
use crate::sim::paygov::answer_is_signed;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

/// The instances: each slot's address while it is up.
pub type Slots = Arc<RwLock<Vec<Option<String>>>>;

/// Times a request is tried while its answer is not known.
const TRIES: usize = 20;

/// One client's share of the load.
pub struct Driver {
    /// Its number, in the dossiers' portal ids.
    pub n: usize,
    /// Where the instances are.
    pub slots: Slots,
    /// The 2xx answers.
    pub acked: Arc<Mutex<Acked>>,
    /// Requests sent, by every client.
    pub sent: Arc<AtomicU64>,
    /// The dossier pushed, each time under a new portal id.
    pub template: Arc<Vec<u8>>,
    /// The payment platform.
    pub paygov: FlakyPaygov,
}

impl Driver {
    /// Drives dossiers until `until`.
    pub async fn run(self, until: Instant) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let Ok(secret) = crate::signing::WebhookSecret::parse(PORTAL_SECRET) else {
            return;
        };
        let mut i = 0u64;
        while Instant::now() < until {
            i += 1;
            let address = self.target().await;
            let portal_id = format!("SOAK-{:02}-{i:06}", self.n);
            let body = with_portal_id(&self.template, &portal_id);
            let pushed = crate::sim::portal::push(
                &client,
                &format!("http://{address}"),
                &secret,
                &body,
                "application/json",
            )
            .await;
            let code = match pushed {
                Ok((201, answer)) => answer["MaHoSo"].as_str().unwrap_or_default().to_owned(),
                _ => continue,
            };
            locked(&self.acked)
                .dossiers
                .insert(portal_id.clone(), code.clone());
            let mut processing = false;
            for action in ["accept", "start_processing"] {
                processing = self.act(&client, &code, &portal_id, action).await;
                if !processing {
                    break;
                }
            }
            if processing && i % 3 == 0 {
                self.pay(&client, &code).await;
            }
        }
    }

    /// Applies `action` with an `Idempotency-Key`, tried again through another instance while
    /// the answer is not known; whether it was answered 200.
    async fn act(&self, client: &reqwest::Client, code: &str, id: &str, action: &str) -> bool {
        let key = format!("{id}-{action}");
        let body = json!({"action": action,
            "officer": {"name": "Soak", "title": "Kiểm thử", "unit": "Soak"}});
        for _ in 0..TRIES {
            let address = self.target().await;
            let res = client
                .post(format!("http://{address}/api/v1/dossiers/{code}/actions"))
                .bearer_auth(TOKEN)
                .header("idempotency-key", &key)
                .json(&body)
                .send()
                .await;
            match res.map(|r| r.status().as_u16()) {
                Ok(200) => {
                    locked(&self.acked)
                        .actions
                        .push((code.to_owned(), action.to_owned()));
                    return true;
                }
                // Refused for good: nothing was applied.
                Ok(s) if s < 500 => return false,
                // The instance died under it, or failed: the answer is not known.
                Ok(_) | Err(_) => {}
            }
        }
        false
    }

    /// Has the dossier's fees paid through PayGov.
    async fn pay(&self, client: &reqwest::Client, code: &str) {
        let Some(reference) = self.request_payment(client, code).await else {
            return;
        };
        let Some(confirm) = self.paygov.pay(&reference) else {
            locked(&self.acked).findings.push(format!(
                "{code}: payment {reference} answered 201, never asked of the platform"
            ));
            return;
        };
        match rand::random::<u32>() % 5 {
            // The platform's CONFIRM is lost: reconciliation must find the payment.
            0 => locked(&self.acked).confirms_lost += 1,
            // Sent twice at once, through two instances.
            1 => {
                tokio::join!(
                    self.confirm(client, code, &confirm),
                    self.confirm(client, code, &confirm)
                );
            }
            _ => self.confirm(client, code, &confirm).await,
        }
    }

    /// `POST …/payments` with an `Idempotency-Key`, tried again while its answer is not known
    /// or the platform failed; the payment reference, from the answer or — when an instance
    /// died after committing it — from the dossier.
    async fn request_payment(&self, client: &reqwest::Client, code: &str) -> Option<String> {
        for _ in 0..TRIES {
            let address = self.target().await;
            let res = client
                .post(format!("http://{address}/api/v1/dossiers/{code}/payments"))
                .bearer_auth(TOKEN)
                .header("idempotency-key", format!("{code}-pay"))
                .json(&json!({"provider": "paygov"}))
                .send()
                .await;
            let Ok(res) = res else { continue };
            let status = res.status().as_u16();
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            match status {
                201 => {
                    let reference = answer["payment_ref"].as_str()?.to_owned();
                    locked(&self.acked)
                        .payments
                        .push((code.to_owned(), reference.clone()));
                    return Some(reference);
                }
                // Already pending (an earlier try committed it before its instance died), or
                // that try's key still held by the dead instance: the dossier tells.
                409 => return self.pending_payment(client, &address, code).await,
                // The platform failed or the instance did: try again.
                s if s >= 500 => {}
                _ => return None,
            }
        }
        None
    }

    async fn pending_payment(
        &self,
        client: &reqwest::Client,
        address: &str,
        code: &str,
    ) -> Option<String> {
        let res = client
            .get(format!("http://{address}/api/v1/dossiers/{code}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .ok()?;
        let dossier: Value = res.json().await.ok()?;
        let pending = dossier["payments"]
            .as_array()?
            .iter()
            .find(|p| p["state"] == "pending")?;
        let reference = pending["payment_ref"].as_str()?.to_owned();
        locked(&self.acked)
            .payments
            .push((code.to_owned(), reference.clone()));
        Some(reference)
    }

    /// Sends the platform's CONFIRM to random instances until one answers it, signed.
    async fn confirm(&self, client: &reqwest::Client, code: &str, confirm: &Value) {
        for _ in 0..TRIES {
            let address = self.target().await;
            locked(&self.acked).confirms_sent += 1;
            let res = client
                .post(format!("http://{address}/payment/paygov/confirm"))
                .json(confirm)
                .send()
                .await;
            let Ok(res) = res else { continue };
            if res.status().as_u16() != 200 {
                continue;
            }
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            let reference = confirm["MaThamChieu"].as_str().unwrap_or_default();
            if !answer_is_signed(&answer, SECRET) {
                locked(&self.acked).findings.push(format!(
                    "{code}: the answer to the CONFIRM of {reference} is not signed: {answer}"
                ));
            } else if answer["MaLoi"] != "00" {
                locked(&self.acked).findings.push(format!(
                    "{code}: the platform's CONFIRM of {reference} refused: {answer}"
                ));
            }
            return;
        }
    }

    /// A random instance that is up (waiting while none is), the request about to go to it
    /// counted.
    async fn target(&self) -> String {
        loop {
            let up: Vec<String> = self.slots.read().await.iter().flatten().cloned().collect();
            if let Some(address) = up.get(rand::random::<u32>() as usize % up.len().max(1)) {
                self.sent.fetch_add(1, Ordering::Relaxed);
                return address.clone();
            }
            tokio::task::yield_now().await;
        }
    }
}

fn with_portal_id(template: &[u8], id: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(template).unwrap_or_default();
    v["MaHoSoQG"] = Value::String(id.to_owned());
    serde_json::to_vec(&v).unwrap_or_default()
}
