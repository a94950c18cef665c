//! What the intake transaction is handed and what it answers: each new dossier with its
//! request, the rows its arrival writes, its exchange for the message log, and the answer it
//! gets. Everything is data; text that names the code the transaction draws comes as a
//! [`CodeTemplate`]. The transaction itself is `intake_batch`.

use super::outbox::NewOutboxMessage;
use crate::chain::NewMessage;
use crate::domain::code_template::CodeTemplate;
use crate::domain::dossier::{NewDossier, Progress};
use chrono::{DateTime, Utc};

/// What a new dossier's arrival writes besides the dossier, each text naming the code to come.
#[derive(Debug, Clone)]
pub struct ArrivalRows {
    /// The success answer's body, kept to answer replays with the same bytes.
    pub first_answer: CodeTemplate,
    /// Messages to queue.
    pub outbox: Vec<NewOutboxMessage<CodeTemplate>>,
    /// The arrival's progress record.
    pub progress: Progress,
}

/// How the answer an item gets is recorded in the message log, whichever outcome the store
/// finds: the answer's record less its status and body, each outcome's status, and the body
/// of a conflict, which names the dossier already stored.
#[derive(Debug, Clone)]
pub struct IntakeReplies {
    /// The answer's record; its status, body and verdict are set from the outcome.
    pub record: NewMessage,
    /// The status of a new dossier's answer (its body: the first answer).
    pub created: u16,
    /// The status of a replay's answer (its body: the stored first answer).
    pub replayed: u16,
    /// The status of a conflict's answer.
    pub conflict: u16,
    /// The body of a conflict's answer.
    pub conflict_body: CodeTemplate,
}

/// One dossier waiting to be stored.
#[derive(Debug, Clone)]
pub struct IntakeItem {
    /// The dossier.
    pub dossier: NewDossier,
    /// When it arrived (its code's day, its times).
    pub received_at: DateTime<Utc>,
    /// Its procedure is a notice (a deemed-consent date, never overdue: `store::listing`).
    pub notice: bool,
    /// What its arrival writes once its code is drawn.
    pub rows: ArrivalRows,
    /// The request as it crossed the wire, for the message log.
    pub request: NewMessage,
    /// How its answer is recorded.
    pub replies: IntakeReplies,
}

/// What became of an item. Each carries the answer's body, exactly as the log recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// A new dossier was stored.
    Created {
        /// Its code.
        code: String,
        /// The first answer.
        answer: String,
    },
    /// The dossier was stored before with the same content: its first answer again.
    Replayed {
        /// Its code.
        code: String,
        /// The first answer.
        answer: String,
    },
    /// The portal id is stored with different content.
    Conflict {
        /// The stored dossier's code.
        code: String,
        /// The conflict's answer.
        answer: String,
    },
}

impl InsertOutcome {
    /// The dossier's code.
    pub fn code(&self) -> &str {
        match self {
            Self::Created { code, .. }
            | Self::Replayed { code, .. }
            | Self::Conflict { code, .. } => code,
        }
    }

    /// The answer's body.
    pub fn answer(&self) -> &str {
        match self {
            Self::Created { answer, .. }
            | Self::Replayed { answer, .. }
            | Self::Conflict { answer, .. } => answer,
        }
    }
}

impl IntakeReplies {
    /// The record of the answer an item got.
    pub fn record_of(&self, outcome: &InsertOutcome) -> NewMessage {
        let status = match outcome {
            InsertOutcome::Created { .. } => self.created,
            InsertOutcome::Replayed { .. } => self.replayed,
            InsertOutcome::Conflict { .. } => self.conflict,
        };
        self.record
            .clone()
            .answered(status, outcome.answer().as_bytes().to_vec())
    }
}
