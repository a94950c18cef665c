//! `GET /api/v1/dossiers/{MaHoSo}/documents/{id}` (contract section 6, scope `dossiers:read`):
//! a stored document's bytes, streamed from storage, with its original file name, a content
//! type from its extension, its SHA-256 as the `ETag`, and one byte range when asked
//! (`Range: bytes=…`, 206; 416 when it lies past the end). 409 `NOT_STORED` while the
//! document is in any other state.

use super::auth::Caller;
use super::error::ApiError;
use super::AppState;
use crate::config::Scope;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::TryStreamExt;
use std::ops::Range;

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file (no header, or one this server does not honour, such as several ranges).
    Whole,
    /// These bytes.
    Part(Range<u64>),
    /// Nothing of the file lies in the range asked.
    Unsatisfiable,
}

/// Reads a `Range` header: one range of bytes, `a-b`, `a-` or `-n`.
pub fn wanted(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let number = |t: &str| t.trim().parse::<u64>().ok();
    let range = match (first.trim().is_empty(), number(first), number(last)) {
        // The last n bytes.
        (true, _, Some(n)) if n > 0 => size.saturating_sub(n)..size,
        (true, _, _) => return Wanted::Unsatisfiable,
        (false, Some(a), None) if last.trim().is_empty() => a..size,
        (false, Some(a), Some(b)) if b >= a => a..b.saturating_add(1).min(size),
        _ => return Wanted::Whole,
    };
    if range.start >= size || range.is_empty() {
        Wanted::Unsatisfiable
    } else {
        Wanted::Part(range)
    }
}

/// The content type a file name's extension suggests.
pub fn content_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        "xml" => "application/xml",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `attachment` with the original name: an ASCII stand-in for old clients, and the name itself
/// (RFC 6266, `filename*` in UTF-8).
pub fn disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String =
        percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The handler.
#[utoipa::path(
    get,
    path = "/api/v1/dossiers/{MaHoSo}/documents/{id}",
    operation_id = "download_document",
    tag = "dossiers",
    summary = "A document's stored bytes",
    description = "With its original file name (`Content-Disposition`), its SHA-256 as the `ETag`, \
and one byte range when asked (`Range: bytes=…`).",
    params(
        ("MaHoSo" = String, Path, description = "The department's dossier code"),
        ("id" = i64, Path, description = "The document's `id` in the dossier's `documents`"),
        ("Range" = Option<String>, Header, description = "One range of bytes: `a-b`, `a-` or `-n`"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The range asked", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "`NOT_FOUND`: no such dossier or document", body = super::openapi::schema::ErrorBody),
        (status = 409, description = "`NOT_STORED`: the document is pending, refused or failed", body = super::openapi::schema::ErrorBody),
        (status = 416, description = "The range lies past the end of the file"),
    ),
    security(("bearer" = ["dossiers:read"]))
)]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersRead)?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("document"))?;
    match document_response(&state, &code, id, &headers).await {
        Ok(res) => Ok(res),
        Err(NotServed::Missing) => Err(ApiError::not_found("document")),
        Err(NotServed::NotStored(state)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "NOT_STORED",
            format!("the document is {state}"),
        )),
        Err(NotServed::Failed(e)) => Err(ApiError::internal(&e)),
    }
}

/// Why a document's bytes are not served.
#[derive(Debug)]
pub enum NotServed {
    /// No such dossier, or no such document of it.
    Missing,
    /// The document is in this state, not `stored`.
    NotStored(String),
    /// The store or the storage failed.
    Failed(String),
}

/// The stored bytes of document `id` of dossier `code` as a response (one range when
/// `headers` ask), for the API and the officers' page alike.
pub async fn document_response(
    state: &AppState,
    code: &str,
    id: i64,
    headers: &HeaderMap,
) -> Result<Response, NotServed> {
    let doc = state
        .store
        .document_file(code, id)
        .await
        .map_err(|e| NotServed::Failed(e.to_string()))?
        .ok_or(NotServed::Missing)?;
    if doc.state != "stored" {
        return Err(NotServed::NotStored(doc.state));
    }
    let size = u64::try_from(doc.size).unwrap_or(0);
    let asked = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, range) = match wanted(asked, size) {
        Wanted::Whole => (StatusCode::OK, None),
        Wanted::Part(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
        Wanted::Unsatisfiable => {
            let mut refused = Response::new(Body::empty());
            *refused.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            refused.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok(refused);
        }
    };
    let stream = state
        .files
        .read(&doc.sha256, range.clone())
        .await
        .map_err(|e| NotServed::Failed(e.to_string()))?;
    let length = range.as_ref().map_or(size, |r| r.end - r.start);
    let mut response = Response::new(Body::from_stream(stream.map_err(std::io::Error::other)));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&doc.file_name)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::ETAG, header_value(&format!("\"{}\"", doc.sha256)));
    h.insert(
        header::CONTENT_DISPOSITION,
        header_value(&disposition(&doc.file_name)),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Some(r) = range {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {}-{}/{size}", r.start, r.end - 1)),
        );
    }
    Ok(response)
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_range_of_bytes_is_read_and_others_mean_the_whole_file() {
        let size = 1000;
        for (header, expected) in [
            (None, Wanted::Whole),
            (Some("bytes=0-99"), Wanted::Part(0..100)),
            (Some("bytes=900-"), Wanted::Part(900..1000)),
            (Some("bytes=-10"), Wanted::Part(990..1000)),
            (Some("bytes=-5000"), Wanted::Part(0..1000)),
            (Some("bytes=990-5000"), Wanted::Part(990..1000)),
            (Some("bytes=1000-"), Wanted::Unsatisfiable),
            (Some("bytes=-0"), Wanted::Unsatisfiable),
            (Some("bytes=0-1,5-6"), Wanted::Whole),
            (Some("bytes=9-3"), Wanted::Whole),
            (Some("items=0-1"), Wanted::Whole),
            (Some("bytes=a-b"), Wanted::Whole),
        ] {
            assert_eq!(wanted(header, size), expected, "{header:?}");
        }
    }

    #[test]
    fn the_original_name_survives_in_the_disposition() {
        assert_eq!(
            disposition("Đơn đề nghị.pdf"),
            "attachment; filename=\"__n __ ngh_.pdf\"; filename*=UTF-8''%C4%90%C6%A1n%20%C4%91%E1%BB%81%20ngh%E1%BB%8B%2Epdf"
        );
        assert_eq!(content_type("GCN.PDF"), "application/pdf");
        assert_eq!(content_type("noextension"), "application/octet-stream");
    }
}
