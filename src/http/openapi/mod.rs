//! The internal API's OpenAPI 3 document (contract section 5), generated from the handlers'
//! own `#[utoipa::path]` descriptions as the router registers them (`http::limited_routes` and `http::liveness`), so a
//! route cannot be served without being described; served at `/api/v1/openapi.json` and, as a
//! page read in any browser with nothing fetched from elsewhere, at `/api/v1/docs`.
//!
//! What every guarded route shares — 401 without a valid token, 403 without the scope, 429
//! past the caller's budget, 408 past the time limit — is added here to each operation rather
//! than repeated on every handler.

mod page;
pub mod schema;

use super::answer::Answer;
use super::error::json_response;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, Ref, RefOr, Response as OpenApiResponse, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi as _};

/// The document's frame: title, tags, the bearer scheme and the shared schemas.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "motcua-gateway internal API",
        description = "The department's systems read dossiers and drive each through its lifecycle; \
operators decide on the outbox. Authentication: `Authorization: Bearer <token>`; each operation \
names the scope it needs (`dossiers:read`, `dossiers:write`, `payments:write`, `admin`). Errors are \
`{\"error_code\":…,\"message\":…}`. Writes accept an `Idempotency-Key` header: the same key and body \
again return the first answer and do nothing more. The portal's push and the payment providers' \
callbacks are partners' interfaces signed as their contracts say, not described here.",
        license(name = "MIT")
    ),
    tags(
        (name = "dossiers", description = "Reading dossiers and driving their lifecycle"),
        (name = "payments", description = "Asking a payment platform to collect a dossier's fees"),
        (name = "outbox", description = "Operators' decisions on messages the gateway could not deliver"),
        (name = "catalogue", description = "The procedures received online, open to anyone"),
        (name = "reports", description = "The figures the city scores the department on"),
        (name = "operations", description = "Probes, metrics and this document"),
    ),
    components(schemas(schema::ErrorBody, schema::ValidationBody)),
    modifiers(&Bearer)
)]
struct Frame;

/// Declares the bearer scheme the operations' `security` names.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A client token of `clients` in the configuration (`motcua token new`)",
                    ))
                    .build(),
            ),
        );
    }
}

/// A refusal with the error body.
fn refusal(description: &str) -> RefOr<OpenApiResponse> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// Adds the answers every operation shares to one operation.
fn add_shared(op: &mut Operation) {
    let guarded = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let shared: &[(&str, &str)] = if guarded {
        &[
            ("401", "`UNAUTHORIZED`: no valid bearer token"),
            ("403", "`FORBIDDEN`: the token lacks the operation's scope"),
            (
                "408",
                "The request took longer than `server.request_timeout`",
            ),
            (
                "429",
                "`RATE_LIMITED`, with `Retry-After`: past the client's or the address's budget",
            ),
        ]
    } else {
        &[
            (
                "408",
                "The request took longer than `server.request_timeout`",
            ),
            (
                "429",
                "`RATE_LIMITED`, with `Retry-After`: past the address's budget",
            ),
        ]
    };
    for (status, text) in shared {
        op.responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| refusal(text));
    }
}

/// Answers that always carry every key their schema describes, `null` where there is nothing
/// (the views are built whole): each key is marked required, and the tests hold real answers
/// to it.
const WHOLE: &[&str] = &[
    "AttemptView",
    "Catalogue",
    "CatalogueProcedure",
    "Decided",
    "DocumentRow",
    "Dossier",
    "DossierListItem",
    "DossierPage",
    "Figures",
    "Finished",
    "IndicatorLine",
    "Indicators",
    "OutboxMessage",
    "OutboxPage",
    "PaymentMade",
    "PaymentView",
    "Probe",
    "ProgressView",
    "Received",
    "RulesView",
    "Share",
    "SyncView",
];

fn mark_whole(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for name in WHOLE {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) {
            object.required = object.properties.keys().cloned().collect();
        }
    }
}

/// The whole document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let (_, limited) = super::limited_routes().split_for_parts();
        let mut doc = Frame::openapi().merge_from(limited);
        for item in doc.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                add_shared(op);
            }
        }
        // The liveness probe answers outside every limit.
        let (_, liveness) = super::liveness().split_for_parts();
        let mut doc = doc.merge_from(liveness);
        mark_whole(&mut doc);
        doc
    })
}

/// The document as JSON text, built once.
fn document_json() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| serde_json::to_string(document()).unwrap_or_default())
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi_json",
    tag = "operations",
    responses((status = 200, description = "This document, OpenAPI 3", body = Object))
)]
pub async fn openapi_json() -> Response {
    json_response(StatusCode::OK, document_json())
}

/// `GET /api/v1/docs`: the document as a page, for reading in a browser.
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    operation_id = "docs",
    tag = "operations",
    responses((status = 200, description = "This document as an HTML page", content_type = "text/html"))
)]
pub async fn docs() -> Response {
    static HTML: OnceLock<String> = OnceLock::new();
    let html = HTML.get_or_init(|| page::render(document()));
    Answer::page(StatusCode::OK, html.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_answer_built_whole_is_a_described_object_with_every_key_required() {
        let doc = document();
        let schemas = &doc.components.as_ref().map(|c| &c.schemas);
        for name in WHOLE {
            match schemas.and_then(|s| s.get(*name)) {
                Some(RefOr::T(Schema::Object(o))) => {
                    assert!(!o.properties.is_empty(), "{name}");
                    assert_eq!(o.required.len(), o.properties.len(), "{name}");
                }
                _ => panic!("{name} is not an object schema of the document"),
            }
        }
    }
}
