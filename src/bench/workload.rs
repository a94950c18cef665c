//! What the harness sends and where the outbox delivers: signed, unique portal submissions
//! built from the valid fixtures (every mapped procedure, XML and JSON), and a local sink that
//! answers every delivery as the portal does and counts them.

use super::client::{self, MakeRequest};
use super::gateway::PORTAL_SECRET;
use crate::signing::{sign, WebhookSecret};
use anyhow::Context;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One fixture, cut around its `MaHoSoQG` value so that each request gets its own id.
struct Template {
    before: Vec<u8>,
    after: Vec<u8>,
    content_type: &'static str,
    procedure: String,
}

/// The fixtures to submit.
pub struct Submissions {
    templates: Vec<Template>,
    secret: WebhookSecret,
}

impl Submissions {
    /// Loads every `.xml` and `.json` file of `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let mut templates = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("reading fixtures in {} (--fixtures)", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        names.sort();
        for path in names {
            let content_type = match path.extension().and_then(|e| e.to_str()) {
                Some("xml") => "application/xml",
                Some("json") => "application/json",
                _ => continue,
            };
            let text = std::fs::read_to_string(&path)?;
            let (start, end) = value_span(&text, "MaHoSoQG")
                .with_context(|| format!("{}: no MaHoSoQG", path.display()))?;
            let procedure = value_span(&text, "MaTTHC")
                .map(|(s, e)| text[s..e].to_owned())
                .unwrap_or_default();
            templates.push(Template {
                before: text.as_bytes()[..start].to_vec(),
                after: text.as_bytes()[end..].to_vec(),
                content_type,
                procedure,
            });
        }
        anyhow::ensure!(!templates.is_empty(), "no fixtures in {}", dir.display());
        Ok(Submissions {
            templates,
            secret: WebhookSecret::parse(PORTAL_SECRET)
                .map_err(|e| anyhow::anyhow!("bench secret: {e}"))?,
        })
    }

    /// The body of request `n` of worker `w`: fixture by turn, portal id `{prefix}{w}-{n}`;
    /// with its content type.
    pub fn body(&self, prefix: &str, w: usize, n: u64) -> (&'static str, Vec<u8>) {
        let t = &self.templates[(w + n as usize) % self.templates.len()];
        let mut body = t.before.clone();
        body.extend_from_slice(format!("{prefix}{w}-{n}").as_bytes());
        body.extend_from_slice(&t.after);
        (t.content_type, body)
    }

    /// The signature headers of `body` sent now as request `n` of worker `w`: `webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`.
    pub fn signature(&self, prefix: &str, w: usize, n: u64, body: &[u8]) -> [String; 3] {
        let id = format!("bench_{prefix}{w}_{n}");
        let ts = chrono::Utc::now().timestamp();
        let signature = sign(&self.secret, &id, ts, body);
        [id, ts.to_string(), signature]
    }

    /// Request `n` of worker `w`, as bytes: [`Submissions::body`], signed now.
    pub fn request(&self, prefix: &str, w: usize, n: u64) -> Vec<u8> {
        let (content_type, body) = self.body(prefix, w, n);
        let [id, ts, signature] = self.signature(prefix, w, n, &body);
        client::post(
            "/portal/v1/dossiers",
            &[
                ("content-type", content_type),
                ("webhook-id", &id),
                ("webhook-timestamp", &ts),
                ("webhook-signature", &signature),
            ],
            &body,
        )
    }

    /// Requests: [`Submissions::request`], each made as it is sent.
    pub fn maker(self: Arc<Self>, prefix: &'static str) -> MakeRequest {
        Arc::new(move |w, n| self.request(prefix, w, n))
    }

    /// The procedure codes of the fixtures, without repeats.
    pub fn procedures(&self) -> Vec<String> {
        let mut codes: Vec<String> = self.templates.iter().map(|t| t.procedure.clone()).collect();
        codes.sort();
        codes.dedup();
        codes
    }

    /// A body the size of a status sync, for the baseline's bare loop.
    pub fn sync_payload(&self) -> Vec<u8> {
        let mut body =
            br#"{"MaHoSo":"000.00.12.H29-261127-0001","TrangThaiHoSo":2,"note":""#.to_vec();
        body.extend(std::iter::repeat_n(b'x', 600));
        body.extend_from_slice(b"\"}");
        body
    }
}

/// The byte span of the value of `name` in an XML element or a JSON string field.
fn value_span(text: &str, name: &str) -> Option<(usize, usize)> {
    let xml = format!("<{name}>");
    let json = format!("\"{name}\": \"");
    let start = text
        .find(&xml)
        .map(|i| i + xml.len())
        .or_else(|| text.find(&json).map(|i| i + json.len()))?;
    let end = start + text[start..].find(['<', '"'])?;
    Some((start, end))
}

/// A local receiver of deliveries: answers `{"error_code":"0"}` and counts.
pub struct Sink {
    /// `host:port`.
    pub addr: String,
    count: Arc<AtomicU64>,
    reached: Arc<tokio::sync::Notify>,
}

impl Sink {
    /// Starts it on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let count = Arc::new(AtomicU64::new(0));
        let reached = Arc::new(tokio::sync::Notify::new());
        let (c, r) = (count.clone(), reached.clone());
        let app = axum::Router::new().fallback(move || {
            let (c, r) = (c.clone(), r.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                r.notify_waiters();
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    r#"{"error_code":"0"}"#,
                )
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Sink {
            addr,
            count,
            reached,
        })
    }

    /// Forgets what was counted.
    pub fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
    }

    /// Waits until `n` deliveries arrived.
    pub async fn wait_for(&self, n: u64) {
        loop {
            let notified = self.reached.notified();
            if self.count.load(Ordering::SeqCst) >= n {
                return;
            }
            notified.await;
        }
    }
}
