//! `POST /api/v1/dossiers/{MaHoSo}/actions`: one step of the lifecycle, with `Idempotency-Key`.

use super::auth::Caller;
use super::body::read_body;
use super::error::{json_response, ApiError};
use super::AppState;
use crate::config::Scope;
use crate::domain::lifecycle::Action;
use crate::domain::money::Vnd;
use crate::domain::time::parse_wire;
use crate::domain::validation::{text_field, FieldError};
use crate::dossiers::fees::CounterReceipt;
use crate::dossiers::plan::{ActionInput, LifecycleError, Officer};
use crate::portal::sync::TIEN_DO_LIMITS as LIMITS;
use crate::store::{IdempotencyKey, StoreError};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest action body.
const MAX_BODY: usize = 64 * 1024;

/// Reads the action body; every problem is listed.
fn parse_input(body: &[u8]) -> Result<ActionInput, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::malformed(format!("JSON is not well-formed: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::malformed("the body must be one JSON object"));
    };
    action_input(&obj).map_err(|errors| ApiError::validation(&errors))
}

/// The action an object asks for, checked field by field; every problem is listed. The
/// officers' page builds the same object from its form.
pub fn action_input(obj: &serde_json::Map<String, Value>) -> Result<ActionInput, Vec<FieldError>> {
    let mut errors = Vec::new();
    let action = match text_field(obj, "action", "action", 64, &mut errors) {
        Some(name) => Action::parse(&name).or_else(|| {
            errors.push(FieldError::new(
                "action",
                "not_allowed",
                format!("unknown action {name:?}"),
            ));
            None
        }),
        None => {
            errors.push(FieldError::required("action"));
            None
        }
    };
    let officer = match obj.get("officer") {
        Some(Value::Object(o)) => {
            // Each as long as the portal's progress record takes it (`TIEN_DO_LIMITS`).
            let name = text_field(o, "name", "officer.name", LIMITS.officer_name, &mut errors);
            let title = text_field(
                o,
                "title",
                "officer.title",
                LIMITS.officer_title,
                &mut errors,
            );
            let unit = text_field(o, "unit", "officer.unit", LIMITS.officer_unit, &mut errors);
            for (v, f) in [
                (&name, "officer.name"),
                (&title, "officer.title"),
                (&unit, "officer.unit"),
            ] {
                if v.is_none() && !errors.iter().any(|e| e.field == f) {
                    errors.push(FieldError::required(f));
                }
            }
            match (name, title, unit) {
                (Some(name), Some(title), Some(unit)) => Some(Officer { name, title, unit }),
                _ => None,
            }
        }
        None | Some(Value::Null) => {
            errors.push(FieldError::required("officer"));
            None
        }
        Some(_) => {
            errors.push(FieldError::new(
                "officer",
                "wrong_type",
                "an object with name, title and unit",
            ));
            None
        }
    };
    let note = text_field(obj, "note", "note", LIMITS.note, &mut errors);
    if action.is_some_and(Action::needs_note)
        && note.is_none()
        && !errors.iter().any(|e| e.field == "note")
    {
        errors.push(FieldError::new(
            "note",
            "required",
            "this action needs a note (the reason, or what is needed)",
        ));
    }
    let new_due = match text_field(obj, "new_due", "new_due", 14, &mut errors) {
        Some(t) => parse_wire(&t).or_else(|| {
            errors.push(FieldError::new(
                "new_due",
                "invalid_format",
                "a time yyyyMMddHHmmss",
            ));
            None
        }),
        None => None,
    };
    if action == Some(Action::Extend)
        && new_due.is_none()
        && !errors.iter().any(|e| e.field == "new_due")
    {
        errors.push(FieldError::required("new_due"));
    }
    let variant = text_field(obj, "variant", "variant", 64, &mut errors);
    if variant.is_some() && action.is_some_and(|a| a != Action::Accept) {
        errors.push(FieldError::new(
            "variant",
            "not_allowed",
            "only accept takes a variant",
        ));
    }
    let step = text_field(obj, "step", "step", 40, &mut errors);
    match (action, &step) {
        (Some(Action::Forward), None) if !errors.iter().any(|e| e.field == "step") => {
            errors.push(FieldError::required("step"));
        }
        (Some(a), Some(_)) if a != Action::Forward => errors.push(FieldError::new(
            "step",
            "not_allowed",
            "only forward takes a step",
        )),
        _ => {}
    }
    let counter = if action == Some(Action::RecordPayment) {
        counter_receipt(obj, &mut errors)
    } else {
        None
    };
    match (action, officer, errors.is_empty()) {
        (Some(action), Some(officer), true) => Ok(ActionInput {
            action,
            officer,
            note,
            new_due,
            counter,
            variant,
            step,
        }),
        _ => Err(errors),
    }
}

/// `record_payment`'s own fields: `method:"counter"`, the `amount` paid in whole đồng and the
/// `receipt_no` (1–50 characters).
fn counter_receipt(
    obj: &serde_json::Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Option<CounterReceipt> {
    match text_field(obj, "method", "method", 20, errors).as_deref() {
        Some("counter") => {}
        None if !errors.iter().any(|e| e.field == "method") => {
            errors.push(FieldError::required("method"))
        }
        None => {}
        Some(_) => errors.push(FieldError::new(
            "method",
            "not_allowed",
            "\"counter\": fees paid at the one-stop counter",
        )),
    }
    let amount = match obj.get("amount") {
        None | Some(Value::Null) => {
            errors.push(FieldError::required("amount"));
            None
        }
        Some(v) => v.as_i64().and_then(|n| Vnd::try_from(n).ok()).or_else(|| {
            errors.push(FieldError::new(
                "amount",
                "wrong_type",
                "a whole number of đồng, not negative",
            ));
            None
        }),
    };
    let receipt_no = text_field(obj, "receipt_no", "receipt_no", 50, errors);
    if receipt_no.is_none() && !errors.iter().any(|e| e.field == "receipt_no") {
        errors.push(FieldError::required("receipt_no"));
    }
    Some(CounterReceipt {
        amount: amount?,
        receipt_no: receipt_no?,
    })
}

/// The client's idempotency key, if any: 1–255 visible ASCII characters.
pub fn idempotency_key(
    headers: &HeaderMap,
    client: &str,
    method_path: &str,
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED",
                "Idempotency-Key: 1 to 255 visible ASCII characters",
            )
        })?;
    Ok(Some(request_key(client, key, method_path, body)))
}

/// The key `key` of `client` for the request `method_path` with `body`: the request is kept as
/// its SHA-256, so that the same key with another request is told apart. The officers' page
/// keys its action forms the same way.
pub fn request_key(client: &str, key: &str, method_path: &str, body: &[u8]) -> IdempotencyKey {
    let mut hash = Sha256::new();
    hash.update(method_path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    IdempotencyKey {
        client: client.to_owned(),
        key: key.to_owned(),
        request_hash: hex::encode(hash.finalize()),
    }
}

/// 422: the key was used with another request.
pub fn key_reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
        "this Idempotency-Key was used for a different request",
    )
}

/// The handler.
#[utoipa::path(
    post,
    path = "/api/v1/dossiers/{MaHoSo}/actions",
    operation_id = "act_on_dossier",
    tag = "dossiers",
    summary = "One step of a dossier's lifecycle",
    description = "The action's rules are contract section 5's table. The answer is the dossier as \
`GET` then shows it; each status change is queued for the portal in order.",
    params(
        ("MaHoSo" = String, Path, description = "The department's dossier code"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key and body again return the first answer and do nothing more"),
    ),
    request_body(content = super::openapi::schema::ActionBody, description = "The action, its officer, and the action's own fields"),
    responses(
        (status = 200, description = "Done: the dossier after it", body = super::openapi::schema::Dossier),
        (status = 400, description = "`MALFORMED`: not one JSON object", body = super::openapi::schema::ErrorBody),
        (status = 404, description = "`NOT_FOUND`: no dossier with this code", body = super::openapi::schema::ErrorBody),
        (status = 409, description = "`INVALID_TRANSITION` (the lifecycle forbids it from this status), \
`CALENDAR_MISSING` (the due date falls in a year with no calendar file), `FEES_UNPAID` (`return_result` with fees due), \
`STEP_NOT_READY` (`forward` of a step whose `after` steps are not done), `STEP_OPEN` (`forward` of a step \
already with its agency) or `STEPS_OPEN` (`complete` while a forwarded step is not done)", body = super::openapi::schema::ErrorBody),
        (status = 413, description = "`TOO_LARGE`: the body is over 64 KiB", body = super::openapi::schema::ErrorBody),
        (status = 422, description = "`VALIDATION` (every problem of the body, listed) or \
`IDEMPOTENCY_KEY_REUSED` (the key was used with another body)", body = super::openapi::schema::ValidationBody),
    ),
    security(("bearer" = ["dossiers:write"]))
)]
pub async fn act(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Scope::DossiersWrite)?;
    let bytes = read_body(&headers, body, MAX_BODY).await?;
    let key = idempotency_key(
        &headers,
        &caller.0.name,
        &format!("POST /api/v1/dossiers/{code}/actions"),
        &bytes,
    )?;
    let input = parse_input(&bytes)?;
    match state
        .lifecycle
        .act(&code, &input, key.as_ref(), chrono::Utc::now())
        .await
    {
        Ok(body) => Ok(json_response(StatusCode::OK, body)),
        Err(LifecycleError::NotFound) => Err(ApiError::not_found("dossier")),
        Err(LifecycleError::InvalidTransition(m)) => {
            Err(ApiError::new(StatusCode::CONFLICT, "INVALID_TRANSITION", m))
        }
        Err(LifecycleError::Validation(errors)) => Err(ApiError::validation(&errors)),
        Err(LifecycleError::KeyReused) => Err(key_reused()),
        Err(LifecycleError::PaymentNotPending) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "INVALID_TRANSITION",
            "payment settled",
        )),
        Err(e @ LifecycleError::CalendarMissing(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "CALENDAR_MISSING",
            e.to_string(),
        )),
        Err(e @ LifecycleError::FeesUnpaid(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "FEES_UNPAID",
            e.to_string(),
        )),
        Err(LifecycleError::Store(StoreError::Duplicate(_))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "INVALID_TRANSITION",
            "this receipt number is already recorded",
        )),
        Err(LifecycleError::StepConflict { code, message }) => {
            Err(ApiError::new(StatusCode::CONFLICT, code, message))
        }
        Err(LifecycleError::Store(e)) => Err(ApiError::internal(&e)),
    }
}
