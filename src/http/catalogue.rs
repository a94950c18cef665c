//! `GET /api/v1/procedures`: the catalogue of procedures received online (contract section 5),
//! open to anyone — it is what the department publishes. Each procedure's code in the stem and
//! the portal's form, name, field, kind, processing time, required documents and the fee lines
//! in force on `?at=YYYY-MM-DD` (today, Vietnam time, by default) — all of it from the version of
//! the procedure's rules in force that day, which is named; a procedure with no version in force
//! that day is left out. Stand-in codes, for which no published catalogue page was found, are
//! marked as such.

use super::error::{json_response, ApiError};
use super::AppState;
use crate::domain::time::vn_date;
use crate::mapping::{CodeSource, FeeAmount, FeeVersion, Procedure, ProcedureKind};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogueQuery {
    /// The day whose rules are shown, `YYYY-MM-DD` (default: today, Vietnam time).
    at: Option<String>,
}

/// The handler.
#[utoipa::path(
    get,
    path = "/api/v1/procedures",
    operation_id = "list_procedures",
    tag = "catalogue",
    summary = "The procedures received online, under the rules in force on a day",
    params(CatalogueQuery),
    responses(
        (status = 200, description = "The catalogue", body = super::openapi::schema::Catalogue),
        (status = 400, description = "`INVALID_QUERY`: `at` is not a day", body = super::openapi::schema::ErrorBody),
    )
)]
pub async fn procedures(
    State(state): State<AppState>,
    Query(q): Query<CatalogueQuery>,
) -> Result<Response, ApiError> {
    let day = match q.at.as_deref() {
        None => vn_date(chrono::Utc::now()),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid_query("at: a day YYYY-MM-DD"))?,
    };
    let province = state.config.agency.code.province().to_owned();
    let items: Vec<Value> = state
        .mappings
        .iter()
        .filter_map(|(code, versions)| {
            let p = state.mappings.in_force(code, day)?;
            Some(procedure(p, versions, day, &province))
        })
        .collect();
    let body = json!({"at": day.format("%Y-%m-%d").to_string(), "items": items});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

fn procedure(p: &Procedure, versions: &[Arc<Procedure>], day: NaiveDate, province: &str) -> Value {
    let span = |v: &Procedure| {
        json!({
            "effective_from": v.effective_from.to_string(),
            "effective_until": v.effective_until.map(|d| d.to_string()),
        })
    };
    json!({
        "MaTTHC": p.code.as_str(),
        "MaTTHC_portal": p.code.with_province(province),
        "stand_in": p.code_source == CodeSource::Example,
        "code_note": p.code_note,
        "version": p.version,
        "effective_from": p.effective_from.to_string(),
        "effective_until": p.effective_until.map(|d| d.to_string()),
        "versions": versions.iter().map(|v| span(v)).collect::<Vec<_>>(),
        "name": p.name,
        "field": p.field,
        "kind": match p.kind {
            ProcedureKind::Approval => "approval",
            ProcedureKind::Notice => "notice",
        },
        "processing_days": p.processing_days,
        "variants": p.variants.iter().map(|v| json!({
            "code": v.code, "name": v.name, "processing_days": v.processing_days,
            "legal_basis": v.legal_basis,
        })).collect::<Vec<_>>(),
        "handling_unit": p.handling_unit,
        "legal_basis": p.legal_basis,
        "documents": p.documents.iter().map(|d| json!({
            "MaThanhPhanHoSo": d.code, "name": d.name, "required": d.required,
        })).collect::<Vec<_>>(),
        "fees": p.fees_in_force(day).into_iter().map(fee).collect::<Vec<_>>(),
        "steps": p.steps.iter().map(|st| json!({
            "id": st.id, "agency": st.agency, "name": st.name,
            "working_days": st.working_days, "fields": st.fields, "documents": st.documents,
            "after": st.after, "legal_basis": st.legal_basis,
        })).collect::<Vec<_>>(),
    })
}

fn fee(v: &FeeVersion) -> Value {
    let amount = match &v.amount {
        FeeAmount::Fixed(a) => json!({"fixed": a}),
        FeeAmount::PerUnit { each, unit, max } => {
            json!({"per_unit": each, "unit": unit, "max": max})
        }
        FeeAmount::Tiers { unit, bands } => json!({
            "unit": unit,
            "tiers": bands.iter().map(|(up_to, amount)| json!({"up_to": up_to, "amount": amount})).collect::<Vec<_>>(),
        }),
    };
    json!({
        "kind": v.kind,
        "code": v.code,
        "name": v.name,
        "legal_basis": v.legal_basis,
        "effective_from": v.effective_from.format("%Y-%m-%d").to_string(),
        "when": v.when.as_ref().map(|(field, equals)| json!({"field": field, "equals": equals})),
        "amount": amount,
    })
}
