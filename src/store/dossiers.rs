//! Dossier rows and their reads: one dossier whole (by code or portal id), the paged list.
//! The intake transaction that writes them is `intake_batch`, handed what `intake` defines.

use super::dossier_rows::{OutboxSummary, StoredDossier};
use super::{with_pool, Store, StoreError};
use sqlx::Row;

const DOSSIER_COLUMNS: &str = "id, code, portal_id, procedure_code, status, channel, submitted_at, received_at, \
     accepted_at, due_at, finished_at, returned_at, timeliness, applicant, form, fees, summary, mapping_version, \
     status_before_payment, extended, supplement_requested_at, version";

macro_rules! stored_dossier_from_row {
    ($row:expr) => {{
        let row = $row;
        let applicant: String = row.try_get("applicant")?;
        let form: String = row.try_get("form")?;
        let fees: String = row.try_get("fees")?;
        $crate::store::StoredDossier {
            id: row.try_get("id")?,
            code: row.try_get("code")?,
            portal_id: row.try_get("portal_id")?,
            procedure_code: row.try_get("procedure_code")?,
            status: row.try_get("status")?,
            channel: row.try_get("channel")?,
            submitted_at: row.try_get("submitted_at")?,
            received_at: row.try_get("received_at")?,
            accepted_at: row.try_get("accepted_at")?,
            due_at: row.try_get("due_at")?,
            finished_at: row.try_get("finished_at")?,
            returned_at: row.try_get("returned_at")?,
            timeliness: row.try_get("timeliness")?,
            applicant: $crate::store::dossiers::decode_json(&applicant, "applicant")?,
            form: $crate::store::dossiers::decode_json(&form, "form")?,
            fees: $crate::store::dossiers::decode_json(&fees, "fees")?,
            summary: row.try_get("summary")?,
            mapping_version: row.try_get("mapping_version")?,
            documents: Vec::new(),
            progress: Vec::new(),
            sync: $crate::store::OutboxSummary::default(),
            status_before_payment: row.try_get("status_before_payment")?,
            extended: row.try_get::<i64, _>("extended")? != 0,
            supplement_requested_at: row.try_get("supplement_requested_at")?,
            version: row.try_get("version")?,
            payments: Vec::new(),
            steps: Vec::new(),
        }
    }};
}
pub(crate) use stored_dossier_from_row;

/// Loads a whole dossier (documents, progress, payments, sync state) through any executor: a
/// pool, or a transaction so that a change's answer shows the change. `$sql` is
/// [`Store::dossier_select`]: one statement, so one trip to the database (on SQLite, one
/// hand-off to the connection's thread) instead of five. Evaluates to
/// `Result<Option<StoredDossier>, StoreError>`.
macro_rules! load_dossier {
    ($exec:expr, $sql:expr, $value:expr) => {
        $crate::store::dossiers::typed_load(async {
            let Some(row) = sqlx::query(&$sql)
                .bind($value)
                .fetch_optional($exec)
                .await?
            else {
                return Ok(None);
            };
            let mut d = $crate::store::dossiers::stored_dossier_from_row!(&row);
            $crate::store::dossiers::attach_children(
                &mut d,
                row.try_get("documents_json")?,
                row.try_get("progress_json")?,
                row.try_get("payments_json")?,
                row.try_get("sync_json")?,
                row.try_get("steps_json")?,
            )?;
            Ok(Some(d))
        })
    };
}
pub(crate) use load_dossier;

/// Pins the error type of [`load_dossier!`]'s async block.
pub(crate) async fn typed_load(
    f: impl std::future::Future<Output = Result<Option<StoredDossier>, StoreError>>,
) -> Result<Option<StoredDossier>, StoreError> {
    f.await
}

/// A stored JSON text (a column, or one of the arrays [`Store::dossier_select`] aggregates)
/// read into its type; one that does not decode is corrupt.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Fills a dossier's documents, progress, payments and sync summary from the JSON arrays of
/// [`Store::dossier_select`] (each row an array whose columns are the row type's fields, in
/// order).
pub(crate) fn attach_children(
    d: &mut StoredDossier,
    documents: &str,
    progress: &str,
    payments: &str,
    sync: &str,
    steps: &str,
) -> Result<(), StoreError> {
    d.documents = decode_json(documents, "documents")?;
    d.steps = decode_json(steps, "steps")?;
    d.progress = decode_json(progress, "progress")?;
    d.payments = decode_json(payments, "payments")?;
    let (pending, delivered, dead, last_delivered_at): (i64, i64, i64, Option<i64>) =
        decode_json(sync, "sync")?;
    d.sync = OutboxSummary {
        pending,
        delivered,
        dead,
        last_delivered_at,
    };
    Ok(())
}

impl Store {
    /// An aggregate that folds the rows of a query into one JSON text: an array of arrays of
    /// `columns`, in `order` (an empty array when there are none). Rows come back from the
    /// database as one value, not one by one: on SQLite each row is otherwise a message
    /// between the connection's thread and the caller's, with a copy of every value.
    pub(crate) fn json_rows(&self, columns: &str, order: &str) -> String {
        match self {
            Store::Sqlite { .. } => {
                format!("json_group_array(json_array({columns}) ORDER BY {order})")
            }
            Store::Postgres(_) => {
                format!(
                    "COALESCE(json_agg(json_build_array({columns}) ORDER BY {order}), '[]')::text"
                )
            }
        }
    }

    /// The one statement that reads a whole dossier by a unique column: its own columns, and
    /// its documents, progress, payments and portal sync counts each aggregated into a JSON
    /// array in the backend's own dialect (read back by [`attach_children`]).
    pub(crate) fn dossier_select(&self, column: &str) -> String {
        let (array, cast) = match self {
            Store::Sqlite { .. } => ("json_array", ""),
            Store::Postgres(_) => ("json_build_array", "::text"),
        };
        let agg = |columns: &str, order: &str| self.json_rows(columns, order);
        let documents = agg(
            "id, component, file_name, sha256, size, state, \
             CASE WHEN state = 'stored' THEN NULL ELSE last_error END, step_ref",
            "position",
        );
        let progress = agg(
            "action, status, officer_name, officer_title, officer_unit, note, at",
            "id",
        );
        let payments = agg(
            "reference, dossier_id, d.code, provider, amount, state, pay_url, provider_txn, \
             created_at, settled_at",
            "id",
        );
        let steps = agg(super::steps::STEP_COLUMNS, "id");
        format!(
            "SELECT {DOSSIER_COLUMNS}, \
             (SELECT {documents} FROM dossier_documents WHERE dossier_id = d.id) AS documents_json, \
             (SELECT {progress} FROM progress WHERE dossier_id = d.id) AS progress_json, \
             (SELECT {payments} FROM payments WHERE dossier_id = d.id) AS payments_json, \
             (SELECT {steps} FROM dossier_steps WHERE dossier_id = d.id) AS steps_json, \
             (SELECT {array}(COUNT(*) FILTER (WHERE state = 'pending'), \
                 COUNT(*) FILTER (WHERE state = 'delivered'), COUNT(*) FILTER (WHERE state = 'dead'), \
                 MAX(delivered_at) FILTER (WHERE state = 'delivered')){cast} \
              FROM outbox WHERE dossier_id = d.id AND destination = 'portal') AS sync_json \
             FROM dossiers d WHERE d.{column} = $1"
        )
    }

    /// The whole dossier with this code.
    pub async fn dossier_by_code(&self, code: &str) -> Result<Option<StoredDossier>, StoreError> {
        self.dossier_where("code", code).await
    }

    /// The whole dossier with this portal id.
    pub async fn dossier_by_portal_id(
        &self,
        portal_id: &str,
    ) -> Result<Option<StoredDossier>, StoreError> {
        self.dossier_where("portal_id", portal_id).await
    }

    async fn dossier_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<StoredDossier>, StoreError> {
        let sql = self.dossier_select(column);
        with_pool!(read self, pool => load_dossier!(pool, sql, value).await)
    }
}
