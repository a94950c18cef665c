//! The operators' outbox: list messages by state with their attempts, and decide on dead ones
//! (replay: sent next; discard: set aside, releasing the dossier's later messages).

use super::auth::Caller;
use super::error::{json_response, ApiError};
use super::AppState;
use crate::config::Scope;
use crate::dossiers::view::wire;
use crate::outbox::selection;
use crate::store::{OutboxItem, OutboxSelector};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

/// Query of the listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pending`, `dead` (the default), `delivered` or `discarded`.
    state: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// Page size, 1–500 (default 100).
    limit: Option<String>,
}

/// The listing's view of one message.
pub fn item_view(m: &OutboxItem) -> Value {
    json!({
        "id": m.id,
        "destination": m.destination,
        "dossier": m.dossier,
        "kind": m.kind,
        "state": m.state,
        "attempts": m.attempts,
        "created_at": wire(Some(m.created_at)),
        "next_attempt_at": wire(Some(m.next_attempt_at)),
        "delivered_at": wire(m.delivered_at),
        "last_error": m.last_error,
        "attempt_log": m.attempt_log.iter().map(|a| json!({
            "attempt": a.attempt,
            "worker": a.worker,
            "at": wire(Some(a.started_at)),
            "latency_ms": a.latency_ms,
            "http_status": a.http_status,
            "outcome": a.outcome,
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/outbox?state=pending|dead|delivered`.
#[utoipa::path(
    get,
    path = "/api/v1/outbox",
    operation_id = "list_outbox",
    tag = "outbox",
    summary = "Messages in one state, oldest first, with every attempt",
    params(ListQuery),
    responses(
        (status = 200, description = "A page", body = super::openapi::schema::OutboxPage),
        (status = 400, description = "`INVALID_QUERY`: a parameter is not understood", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let which = q.state.as_deref().unwrap_or("dead");
    if !matches!(which, "pending" | "dead" | "delivered" | "discarded") {
        return Err(ApiError::invalid_query(
            "state: pending, dead, delivered or discarded",
        ));
    }
    let after = match q.cursor.as_deref() {
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_query("cursor: not a cursor this API gave"))?,
        None => 0,
    };
    let limit = match q.limit.as_deref() {
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::invalid_query("limit: 1 to 500"))?,
        None => 100,
    };
    let items = state
        .store
        .outbox_page(which, after, limit)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|m| m.id.to_string()))
        .flatten();
    let body =
        json!({ "items": items.iter().map(item_view).collect::<Vec<_>>(), "next_cursor": next });
    Ok(json_response(StatusCode::OK, body.to_string()))
}

/// An operator's decision on the dead message `id`: replayed (sent next) or discarded. Whether
/// there was such a message. Shared by the API and the officers' page.
pub async fn decide_one(
    state: &AppState,
    id: i64,
    replay: bool,
    operator: &str,
) -> Result<bool, crate::store::StoreError> {
    let sel = OutboxSelector {
        id: Some(id),
        ..OutboxSelector::default()
    };
    let now = chrono::Utc::now().timestamp_millis();
    let n = if replay {
        state.store.replay_outbox(&sel, now).await
    } else {
        state.store.discard_outbox(&sel).await
    }?;
    state.lifecycle.forget_all();
    if n > 0 {
        tracing::info!(outbox.id = id, operator = %operator, decision = if replay { "replay" } else { "discard" }, "operator decision");
        state.outbox_wake.notify_one();
    }
    Ok(n > 0)
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    id: &str,
    replay: bool,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("message"))?;
    let decided = decide_one(state, id, replay, &caller.0.name)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    if !decided {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "NOT_DEAD",
            "no dead message with this id",
        ));
    }
    let state_word = if replay { "pending" } else { "discarded" };
    Ok(json_response(
        StatusCode::OK,
        json!({ "id": id, "state": state_word }).to_string(),
    ))
}

/// `POST /api/v1/outbox/{id}/replay`.
#[utoipa::path(
    post,
    path = "/api/v1/outbox/{id}/replay",
    operation_id = "replay_message",
    tag = "outbox",
    summary = "Replay one dead message",
    description = "The message is sent next, its attempts starting again.",
    params(("id" = i64, Path, description = "The message's `id`")),
    responses(
        (status = 200, description = "Decided: the message is now `pending`", body = super::openapi::schema::Decided),
        (status = 404, description = "`NOT_FOUND`: not a message id", body = super::openapi::schema::ErrorBody),
        (status = 409, description = "`NOT_DEAD`: no dead message with this id", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &id, true).await
}

/// `POST /api/v1/outbox/{id}/discard`.
#[utoipa::path(
    post,
    path = "/api/v1/outbox/{id}/discard",
    operation_id = "discard_message",
    tag = "outbox",
    summary = "Discard one dead message",
    description = "The message is set aside for good, releasing the dossier's later messages.",
    params(("id" = i64, Path, description = "The message's `id`")),
    responses(
        (status = 200, description = "Decided: the message is now `discarded`", body = super::openapi::schema::Decided),
        (status = 404, description = "`NOT_FOUND`: not a message id", body = super::openapi::schema::ErrorBody),
        (status = 409, description = "`NOT_DEAD`: no dead message with this id", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &id, false).await
}

/// Body of a bulk decision: every condition given applies; `all: true` is needed when none is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    destination: Option<String>,
    dossier: Option<String>,
    since: Option<String>,
    #[serde(default)]
    all: bool,
}

async fn bulk(
    state: &AppState,
    caller: &Caller,
    body: &[u8],
    replay: bool,
) -> Result<Response, ApiError> {
    caller.require(Scope::Admin)?;
    let b: BulkBody =
        serde_json::from_slice(body).map_err(|e| ApiError::malformed(format!("{e}")))?;
    let sel = selection(None, b.destination, b.dossier, b.since.as_deref(), b.all)
        .map_err(|e| ApiError::invalid_query(e.to_string()))?;
    let n = if replay {
        state
            .store
            .replay_outbox(&sel, chrono::Utc::now().timestamp_millis())
            .await
    } else {
        state.store.discard_outbox(&sel).await
    }
    .map_err(|e| ApiError::internal(&e))?;
    state.lifecycle.forget_all();
    tracing::info!(count = n, operator = %caller.0.name, decision = if replay { "replay" } else { "discard" }, "operator decision");
    state.outbox_wake.notify_one();
    Ok(json_response(
        StatusCode::OK,
        json!({ if replay { "replayed" } else { "discarded" }: n }).to_string(),
    ))
}

/// `POST /api/v1/outbox/replay` with a selection: many dead messages at once.
#[utoipa::path(
    post,
    path = "/api/v1/outbox/replay",
    operation_id = "replay_messages",
    tag = "outbox",
    summary = "Replay every dead message a selection names",
    request_body(content = super::openapi::schema::Selection),
    responses(
        (status = 200, description = "How many were moved", body = super::openapi::schema::BulkDecided),
        (status = 400, description = "`MALFORMED` (not the selection's JSON) or `INVALID_QUERY` (no condition and no `all: true`)", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn replay_many(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    bulk(&state, &caller, &body, true).await
}

/// `POST /api/v1/outbox/discard` with a selection: many dead messages at once.
#[utoipa::path(
    post,
    path = "/api/v1/outbox/discard",
    operation_id = "discard_messages",
    tag = "outbox",
    summary = "Discard every dead message a selection names",
    request_body(content = super::openapi::schema::Selection),
    responses(
        (status = 200, description = "How many were moved", body = super::openapi::schema::BulkDecided),
        (status = 400, description = "`MALFORMED` (not the selection's JSON) or `INVALID_QUERY` (no condition and no `all: true`)", body = super::openapi::schema::ErrorBody),
    ),
    security(("bearer" = ["admin"]))
)]
pub async fn discard_many(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    bulk(&state, &caller, &body, false).await
}
