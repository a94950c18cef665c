//! Inter-agency steps as the store keeps them (contract section 9): each forwarding of a step
//! of a dossier to an agency (`dossier_steps`, one row per forwarding, a new `ref` each time),
//! the agency's answers folded into it, and the result documents it sends back (rows of
//! `dossier_documents` with the forwarding's `step_ref`, fetched as the portal's are). Written
//! only inside a dossier's change (`lifecycle`), so a step, its progress record and its
//! messages commit together; read with the dossier, by `ref`, and as the open and late list.

use super::{with_pool, Store, StoreError};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The states in which a forwarding is still open.
pub const OPEN_STATES: &str = "('forwarded', 'received', 'processing')";

/// One forwarding of a step, as the dossier's read shows it. (Deserialized from the positional
/// arrays of `Store::dossier_select`, in field order.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRow {
    /// The mapping's step id.
    pub step: String,
    /// The agency's e-ID.
    pub agency: String,
    /// The gateway's unique id of this forwarding.
    pub reference: String,
    /// `forwarded`, `received`, `processing`, `done` or `refused`.
    pub state: String,
    /// When it was forwarded (ms).
    pub forwarded_at: i64,
    /// `HanXuLy` (ms).
    pub due_at: i64,
    /// The agency's last answer (ms).
    pub answered_at: Option<i64>,
    /// When it became `done` or `refused` (ms).
    pub finished_at: Option<i64>,
    /// `NguoiXuLy` of the last answer.
    pub handler: Option<String>,
    /// `NoiDung` of the last answer.
    pub note: Option<String>,
    /// `KetQua.SoVanBan`.
    pub result_no: Option<String>,
}

impl StepRow {
    /// Whether the agency still has it.
    pub fn is_open(&self) -> bool {
        matches!(self.state.as_str(), "forwarded" | "received" | "processing")
    }
}

/// The columns of [`StepRow`], in order, for `Store::dossier_select`.
pub const STEP_COLUMNS: &str = "step, agency, ref, state, forwarded_at, due_at, answered_at, \
     finished_at, handler, note, result_no";

/// A result document an agency sent: fetched from its agency's host and checked against its
/// hash and size, as a portal document is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultDocument {
    /// `MaThanhPhanHoSo` (the agency's own, or `KQ`).
    pub component: String,
    /// `TenTepDinhKem`.
    pub file_name: String,
    /// `DuongDan`.
    pub url: String,
    /// `MaHash`, lower case.
    pub sha256: String,
    /// `KichThuoc`.
    pub size: i64,
}

/// What a change does to a dossier's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOp {
    /// A step forwarded: a new open row.
    Forward {
        /// The mapping's step id.
        step: String,
        /// The agency's e-ID.
        agency: String,
        /// The new forwarding's id.
        reference: String,
        /// `HanXuLy` (ms).
        due_at: i64,
    },
    /// An agency's answer to an open forwarding.
    Answer {
        /// The forwarding.
        reference: String,
        /// `received`, `processing`, `done` or `refused`.
        state: String,
        /// `NguoiXuLy`.
        handler: Option<String>,
        /// `NoiDung`.
        note: Option<String>,
        /// `KetQua.SoVanBan`.
        result_no: Option<String>,
        /// `KetQua.TaiLieu`.
        documents: Vec<ResultDocument>,
    },
}

/// Runs a step operation inside a transaction; evaluates to whether it applied (an answer to a
/// forwarding already `done` or `refused` does not).
macro_rules! apply_step_op {
    ($exec:expr, $dossier_id:expr, $op:expr, $now:expr) => {
        async {
            match $op {
                $crate::store::StepOp::Forward {
                    step,
                    agency,
                    reference,
                    due_at,
                } => {
                    sqlx::query(
                        "INSERT INTO dossier_steps (dossier_id, step, agency, ref, state, forwarded_at, due_at) \
                         VALUES ($1, $2, $3, $4, 'forwarded', $5, $6)",
                    )
                    .bind($dossier_id)
                    .bind(step)
                    .bind(agency)
                    .bind(reference)
                    .bind($now)
                    .bind(*due_at)
                    .execute(&mut *$exec)
                    .await?;
                    Ok::<bool, $crate::store::StoreError>(true)
                }
                $crate::store::StepOp::Answer {
                    reference,
                    state,
                    handler,
                    note,
                    result_no,
                    documents,
                } => {
                    let finished = matches!(state.as_str(), "done" | "refused").then_some($now);
                    let updated = sqlx::query(
                        "UPDATE dossier_steps SET state = $1, answered_at = $2, finished_at = $3, \
                         handler = COALESCE($4, handler), note = COALESCE($5, note), \
                         result_no = COALESCE($6, result_no) \
                         WHERE ref = $7 AND dossier_id = $8 \
                         AND state IN ('forwarded', 'received', 'processing')",
                    )
                    .bind(state)
                    .bind($now)
                    .bind(finished)
                    .bind(handler.as_deref())
                    .bind(note.as_deref())
                    .bind(result_no.as_deref())
                    .bind(reference)
                    .bind($dossier_id)
                    .execute(&mut *$exec)
                    .await?;
                    if updated.rows_affected() == 0 {
                        return Ok(false);
                    }
                    for doc in documents {
                        sqlx::query(
                            "INSERT INTO dossier_documents (dossier_id, position, component, file_name, url, \
                             sha256, size, state, next_attempt_at, step_ref) \
                             VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM dossier_documents \
                             WHERE dossier_id = $1), $2, $3, $4, $5, $6, 'pending', $7, $8)",
                        )
                        .bind($dossier_id)
                        .bind(&doc.component)
                        .bind(&doc.file_name)
                        .bind(&doc.url)
                        .bind(&doc.sha256)
                        .bind(doc.size)
                        .bind($now)
                        .bind(reference)
                        .execute(&mut *$exec)
                        .await?;
                    }
                    Ok(true)
                }
            }
        }
    };
}
pub(crate) use apply_step_op;

/// An open forwarding as `GET /api/v1/lienthong` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenStep {
    /// Row id (the cursor).
    pub id: i64,
    /// The dossier's code.
    pub dossier_code: String,
    /// The dossier's procedure.
    pub procedure_code: String,
    /// The dossier's `NgayHenTra` (ms).
    pub dossier_due_at: Option<i64>,
    /// The forwarding.
    pub row: StepRow,
}

/// A step's figures for the indicators: forwardings of one agency.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepCounts {
    /// Finished (`done` or `refused`) in the period on or before their due day.
    pub on_time: i64,
    /// Finished in the period after their due day.
    pub late: i64,
    /// Open at the period's end.
    pub open: i64,
    /// Open at the period's end and past their due time then.
    pub open_late: i64,
}

impl Store {
    /// The dossier code and agency of the forwarding `reference`.
    pub async fn step_owner(
        &self,
        reference: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        with_pool!(read self, pool => {
            Ok(sqlx::query_as::<_, (String, String)>(
                "SELECT d.code, s.agency FROM dossier_steps s JOIN dossiers d ON d.id = s.dossier_id \
                 WHERE s.ref = $1",
            )
            .bind(reference)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Open forwardings of dossiers still being handled (statuses 2, 4, 5, 6), by due time;
    /// with `late_at`, only those due before it. At most `limit`, after row `after_id` in that
    /// order when given (`(due_at, id)` of the previous page's last).
    pub async fn open_steps(
        &self,
        late_at: Option<i64>,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<OpenStep>, StoreError> {
        let columns: Vec<String> = STEP_COLUMNS
            .split(", ")
            .map(|c| format!("s.{}", c.trim()))
            .collect();
        let columns = columns.join(", ");
        let sql = format!(
            "SELECT s.id, d.code, d.procedure_code, d.due_at AS dossier_due, {columns} \
             FROM dossier_steps s JOIN dossiers d ON d.id = s.dossier_id \
             WHERE s.state IN {OPEN_STATES} AND d.status IN (2, 4, 5, 6) \
             AND s.due_at < $1 AND (s.due_at > $2 OR (s.due_at = $2 AND s.id > $3)) \
             ORDER BY s.due_at, s.id LIMIT $4"
        );
        let (after_due, after_id) = after.unwrap_or((i64::MIN, i64::MIN));
        with_pool!(read self, pool => {
            let rows = sqlx::query(&sql)
                .bind(late_at.unwrap_or(i64::MAX))
                .bind(after_due)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(OpenStep {
                        id: r.try_get("id")?,
                        dossier_code: r.try_get("code")?,
                        procedure_code: r.try_get("procedure_code")?,
                        dossier_due_at: r.try_get("dossier_due")?,
                        row: StepRow {
                            step: r.try_get("step")?,
                            agency: r.try_get("agency")?,
                            reference: r.try_get("ref")?,
                            state: r.try_get("state")?,
                            forwarded_at: r.try_get("forwarded_at")?,
                            due_at: r.try_get("due_at")?,
                            answered_at: r.try_get("answered_at")?,
                            finished_at: r.try_get("finished_at")?,
                            handler: r.try_get("handler")?,
                            note: r.try_get("note")?,
                            result_no: r.try_get("result_no")?,
                        },
                    })
                })
                .collect()
        })
    }

    /// Per agency: forwardings finished in `[from, to)` (ms) and whether on time (their finish
    /// day, Vietnam time, not after their due day: `offset_ms` is Vietnam's offset), and those
    /// forwarded before `to` still open at `to`, late or not.
    pub async fn step_counts(
        &self,
        from: i64,
        to: i64,
        offset_ms: i64,
    ) -> Result<Vec<(String, StepCounts)>, StoreError> {
        const DAY: i64 = 86_400_000;
        let sql = format!(
            "SELECT agency, \
             COUNT(*) FILTER (WHERE finished_at >= $1 AND finished_at < $2 \
                 AND (finished_at + {offset_ms}) / {DAY} <= (due_at + {offset_ms}) / {DAY}) AS on_time, \
             COUNT(*) FILTER (WHERE finished_at >= $1 AND finished_at < $2 \
                 AND (finished_at + {offset_ms}) / {DAY} > (due_at + {offset_ms}) / {DAY}) AS late, \
             COUNT(*) FILTER (WHERE forwarded_at < $2 AND (finished_at IS NULL OR finished_at >= $2)) AS open, \
             COUNT(*) FILTER (WHERE forwarded_at < $2 AND (finished_at IS NULL OR finished_at >= $2) \
                 AND due_at < $2) AS open_late \
             FROM dossier_steps WHERE forwarded_at < $2 AND (finished_at IS NULL OR finished_at >= $1) \
             GROUP BY agency ORDER BY agency"
        );
        with_pool!(read self, pool => {
            let rows = sqlx::query(&sql).bind(from).bind(to).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get("agency")?,
                        StepCounts {
                            on_time: r.try_get("on_time")?,
                            late: r.try_get("late")?,
                            open: r.try_get("open")?,
                            open_late: r.try_get("open_late")?,
                        },
                    ))
                })
                .collect()
        })
    }
}
