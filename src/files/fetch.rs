//! Fetching a dossier's documents (contract section 6), after the dossier is committed and never
//! while the portal waits: each due document is leased, fetched from its `DuongDanTaiTepTin`
//! with the guards of [`super::guard`], streamed through SHA-256 into storage (never whole in
//! memory), and stored only if its bytes match `MaHash` and `KichThuoc`. A file already stored
//! under that hash is not fetched again. Failures that may pass (the host down, a 5xx, a
//! timeout) are retried on the outbox's schedule; the rest settle the document at once.

use super::guard::{NotAllowed, Source, TooManyRedirects};
use super::storage::{FileStore, Upload};
use crate::config::{Config, Dur};
use crate::dossiers::status_cache::StatusCache;
use crate::outbox::schedule::next_attempt;
use crate::portal::sync::ONESTOP;
use crate::store::{DocumentOutcome, DueDocument, NewOutboxMessage, Store, StoreError};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use super::guard::MAX_REDIRECTS;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The bytes are stored.
    Stored,
    /// Settled in another state, with the reason.
    Refused(&'static str, String),
    /// Worth another try.
    Transient(String),
}

/// Fetches due documents.
#[derive(Debug)]
pub struct Fetcher {
    /// The portal's documents: `portal.file_hosts` only.
    portal: Source,
    /// Each agency's results (contract section 9): that agency's own host only, each with a
    /// client of its own so that one source's listed addresses never open another's.
    agencies: std::collections::HashMap<String, Source>,
    store: Store,
    files: FileStore,
    max_size: u64,
    schedule: Vec<Dur>,
    give_up_after: Duration,
    timeout: Duration,
    concurrency: usize,
    /// Whether a settled document is pushed to the one-stop software.
    onestop: bool,
    status_cache: Arc<StatusCache>,
}

impl Fetcher {
    /// A fetcher over this configuration, store and storage.
    pub fn new(
        config: &Config,
        store: Store,
        files: FileStore,
        status_cache: Arc<StatusCache>,
    ) -> anyhow::Result<Self> {
        let timeout = config.storage.fetch_timeout.0;
        let portal = Source::new(&config.portal.file_hosts, timeout)?;
        let agencies = crate::lienthong::Agencies::new(config)
            .all()
            .iter()
            .map(|a| {
                Ok((
                    a.code.clone(),
                    Source::new(std::slice::from_ref(&a.host), timeout)?,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            portal,
            agencies,
            store,
            files,
            max_size: config.portal.max_file_size,
            schedule: config.outbox.retry_schedule.clone(),
            give_up_after: config.outbox.give_up_after.0,
            timeout: config.storage.fetch_timeout.0,
            concurrency: config.storage.fetch_concurrency.max(1),
            onestop: config.onestop.base_url.is_some(),
            status_cache,
        })
    }

    /// How long a claimed document is leased: the longest fetch and half again, so a live
    /// fetch is never leased twice; a fetch cut off by a crash is taken up when it runs out.
    fn lease(&self) -> Duration {
        self.timeout * 3 / 2
    }

    /// Fetches every document due now, a few at a time; `(id, state)` of each settled or
    /// rescheduled.
    pub async fn fetch_due(&self) -> Result<Vec<(i64, DocumentOutcome)>, StoreError> {
        let now = now_ms();
        let lease = i64::try_from(self.lease().as_millis()).unwrap_or(i64::MAX / 4);
        let limit = i64::try_from(self.concurrency).unwrap_or(4);
        let due = self.store.claim_documents(now, now + lease, limit).await?;
        // Each outcome is recorded as its fetch ends, not when the batch's slowest does.
        let recorded: Vec<Result<(i64, DocumentOutcome), StoreError>> =
            futures_util::stream::iter(due)
                .map(|doc| async move {
                    let verdict = self.fetch(&doc).await;
                    let outcome = self.outcome(&doc, verdict);
                    self.record(&doc, &outcome).await?;
                    Ok((doc.id, outcome))
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        recorded.into_iter().collect()
    }

    /// Records one outcome, with the one-stop push when it settles, and drops the dossier's
    /// cached read.
    async fn record(&self, doc: &DueDocument, outcome: &DocumentOutcome) -> Result<(), StoreError> {
        let push = match outcome {
            DocumentOutcome::Settled { state, .. } if self.onestop => Some(push(doc, state)),
            _ => None,
        };
        let changed = self
            .store
            .record_document(doc, outcome, push.as_ref(), now_ms())
            .await?;
        if changed {
            self.status_cache.forget(doc.dossier_id);
        }
        Ok(())
    }

    /// Fetches until stopped: whatever is due, then again a second later (a document waits at
    /// most that long after its dossier is stored).
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        // What a crash cut off: older than a lease, no fetch is still writing it.
        match self.files.sweep_incoming(self.lease()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "unfinished document writes removed"),
            Err(e) => tracing::warn!(error = %e, "unfinished document writes not removed"),
        }
        loop {
            let more = match self.fetch_due().await {
                Ok(done) => !done.is_empty(),
                Err(e) => {
                    tracing::error!(error = %e, "document fetch: the store failed");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn outcome(&self, doc: &DueDocument, verdict: Verdict) -> DocumentOutcome {
        let settled = |state, reason| DocumentOutcome::Settled { state, reason };
        match verdict {
            Verdict::Stored => {
                tracing::info!(dossier = %doc.dossier_code, document = doc.id, "document stored");
                settled("stored", None)
            }
            Verdict::Refused(state, reason) => {
                tracing::warn!(dossier = %doc.dossier_code, document = doc.id, state, %reason, "document refused");
                settled(state, Some(reason))
            }
            Verdict::Transient(reason) => {
                let next = next_attempt(
                    &self.schedule,
                    self.give_up_after,
                    doc.attempts,
                    doc.received_at,
                    now_ms(),
                    None,
                );
                tracing::info!(dossier = %doc.dossier_code, document = doc.id, %reason, "document fetch failed");
                match next {
                    Some(next_attempt_at) => DocumentOutcome::Retry {
                        next_attempt_at,
                        reason,
                    },
                    None => settled("failed", Some(format!("retries ran out: {reason}"))),
                }
            }
        }
    }

    /// One attempt at one document.
    pub async fn fetch(&self, doc: &DueDocument) -> Verdict {
        let expected = u64::try_from(doc.size).unwrap_or(u64::MAX);
        if expected > self.max_size {
            return Verdict::Refused(
                "too_large",
                format!(
                    "KichThuoc {expected} is over portal.max_file_size {}",
                    self.max_size
                ),
            );
        }
        let Ok(url) = Url::parse(&doc.url) else {
            return Verdict::Refused("failed", "DuongDanTaiTepTin is not a URL".into());
        };
        let source = match &doc.agency {
            None => &self.portal,
            Some(code) => match self.agencies.get(code) {
                Some(source) => source,
                None => {
                    return Verdict::Refused(
                        "host_not_allowed",
                        "the agency that sent it is no longer configured".into(),
                    )
                }
            },
        };
        if let Err(e) = source.hosts.check(&url) {
            return Verdict::Refused("host_not_allowed", e.to_string());
        }
        match self.files.size_of(&doc.sha256).await {
            Ok(Some(size)) if size == expected => return Verdict::Stored,
            Ok(Some(size)) => {
                return Verdict::Refused(
                    "hash_mismatch",
                    format!("the file with this MaHash is {size} bytes, not {expected}"),
                )
            }
            Ok(None) => {}
            Err(e) => return Verdict::Transient(e.to_string()),
        }
        let response = match source.client.get(url).send().await {
            Ok(r) => r,
            Err(e) => return classify(e),
        };
        if !response.status().is_success() {
            return Verdict::Transient(format!("HTTP {}", response.status().as_u16()));
        }
        match response.content_length() {
            Some(n) if n > self.max_size => {
                return Verdict::Refused(
                    "too_large",
                    format!("Content-Length {n} is over portal.max_file_size"),
                )
            }
            Some(n) if n != expected => {
                return Verdict::Refused(
                    "hash_mismatch",
                    format!("Content-Length {n}, KichThuoc {expected}"),
                )
            }
            _ => {}
        }
        let upload = match self.files.begin(&doc.sha256).await {
            Ok(u) => u,
            Err(e) => return Verdict::Transient(e.to_string()),
        };
        self.stream_into(response, upload, doc, expected).await
    }

    async fn stream_into(
        &self,
        response: reqwest::Response,
        mut upload: Upload,
        doc: &DueDocument,
        expected: u64,
    ) -> Verdict {
        let mut hasher = Sha256::new();
        let mut count: u64 = 0;
        let mut body = response.bytes_stream();
        let verdict = loop {
            let chunk = match body.next().await {
                None => break None,
                Some(Ok(c)) => c,
                Some(Err(e)) => break Some(classify(e)),
            };
            count = count.saturating_add(chunk.len() as u64);
            if count > self.max_size {
                break Some(Verdict::Refused(
                    "too_large",
                    format!("more than portal.max_file_size ({}) bytes", self.max_size),
                ));
            }
            if count > expected {
                break Some(Verdict::Refused(
                    "hash_mismatch",
                    format!("more than KichThuoc ({expected}) bytes"),
                ));
            }
            hasher.update(&chunk);
            if let Err(e) = upload.write(&chunk).await {
                break Some(Verdict::Transient(e.to_string()));
            }
        };
        let verdict = verdict.unwrap_or_else(|| {
            let got = hex::encode(hasher.finalize());
            if count != expected {
                Verdict::Refused(
                    "hash_mismatch",
                    format!("{count} bytes, KichThuoc {expected}"),
                )
            } else if got != doc.sha256 {
                Verdict::Refused(
                    "hash_mismatch",
                    format!("SHA-256 {got}, MaHash {}", doc.sha256),
                )
            } else {
                Verdict::Stored
            }
        });
        let done = match verdict {
            Verdict::Stored => upload.finish().await,
            _ => upload.abort().await,
        };
        match (verdict, done) {
            (Verdict::Stored, Err(e)) => Verdict::Transient(e.to_string()),
            (v, Err(e)) => {
                tracing::warn!(error = %e, "an upload thrown away left its staging behind");
                v
            }
            (v, Ok(())) => v,
        }
    }
}

/// The one-stop software's message about a settled document (contract section 1: the same
/// `POST {onestop.base_url}/dossiers`, in order with the dossier's others): its state, hash and,
/// once stored, the gateway's own link to it — a path on the gateway's internal API, which the
/// one-stop software reaches with its `dossiers:read` token.
fn push(doc: &DueDocument, state: &str) -> NewOutboxMessage {
    let link = (state == "stored")
        .then(|| format!("/api/v1/dossiers/{}/documents/{}", doc.dossier_code, doc.id));
    NewOutboxMessage {
        destination: ONESTOP.into(),
        kind: "document".into(),
        payload: serde_json::json!({
            "event": "document.settled",
            "dossier": { "code": doc.dossier_code },
            "document": {
                "id": doc.id,
                "MaThanhPhanHoSo": doc.component,
                "TenTepDinhKem": doc.file_name,
                "MaHash": doc.sha256,
                "KichThuoc": doc.size,
                "state": state,
                "link": link,
            },
        })
        .to_string(),
    }
}

/// A client error: a refused host or address, too many redirects, or something that may pass.
/// The reason never carries the URL: a portal's link may hold a signed token in its query.
fn classify(e: reqwest::Error) -> Verdict {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<NotAllowed>() {
            return Verdict::Refused("host_not_allowed", refused.to_string());
        }
        if s.downcast_ref::<TooManyRedirects>().is_some() {
            return Verdict::Refused("failed", s.to_string());
        }
        source = s.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transfer failed"
    };
    let e = e.without_url();
    let cause = std::error::Error::source(&e).map(ToString::to_string);
    Verdict::Transient(match cause {
        Some(c) => format!("{kind}: {c}"),
        None => format!("{kind}: {e}"),
    })
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
