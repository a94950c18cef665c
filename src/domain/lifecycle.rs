//! The dossier's lifecycle: which action may be taken from which status, and where it leads.
//! Pure rules; the store applies them in a transaction with the progress record and the outbox
//! message that report the change.

use super::status::Status;
use chrono::NaiveDate;

/// An action of the department's systems (`POST …/actions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// 1 → 2: accepted at the counter; the clock starts.
    Accept,
    /// 1 → 3: refused at reception.
    Reject,
    /// 2 → 4: handed to the competent unit.
    StartProcessing,
    /// 4 → 5: supplement requested; the clock stops.
    RequestSupplement,
    /// 5 → 4: supplement received; the clock resumes.
    ReceiveSupplement,
    /// 2, 4 → 6: fees to be paid.
    RequestPayment,
    /// 6 → the status before 6: a verified payment (callback or reconciliation only).
    ConfirmPayment,
    /// 6 → the status before 6: the fees paid at the counter, with the receipt's number.
    RecordPayment,
    /// 2, 4, 5, 6 → same: a new due date, once, with an apology letter.
    Extend,
    /// 4 → 4: a step forwarded to another agency (contract section 9).
    Forward,
    /// 4 → 9: result ready.
    Complete,
    /// 9 → 10: result handed over.
    ReturnResult,
    /// 1, 2, 4, 5, 6 → 7: withdrawn on the applicant's request.
    Withdraw,
    /// 2, 4, 5, 6 → 8: processing stopped.
    Stop,
}

impl Action {
    /// Every action an officer may ask for, in the order a page offers them.
    pub const OFFICERS: [Action; 12] = [
        Self::Accept,
        Self::Reject,
        Self::StartProcessing,
        Self::RequestSupplement,
        Self::ReceiveSupplement,
        Self::RequestPayment,
        Self::RecordPayment,
        Self::Extend,
        Self::Complete,
        Self::ReturnResult,
        Self::Withdraw,
        Self::Stop,
    ];

    /// The officers' actions the lifecycle allows from `from`.
    pub fn available_from(from: Status) -> impl Iterator<Item = Action> {
        // The status before payment only decides where a payment leads, not whether it may
        // be recorded: any open status stands in for it here.
        Self::OFFICERS
            .into_iter()
            .filter(move |a| transition(*a, from, Some(Status::Processing)).is_some())
    }

    /// What an officer's page calls it.
    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Accept => "Tiếp nhận hồ sơ",
            Self::Reject => "Từ chối tiếp nhận",
            Self::StartProcessing => "Chuyển xử lý",
            Self::RequestSupplement => "Yêu cầu bổ sung giấy tờ",
            Self::ReceiveSupplement => "Nhận giấy tờ bổ sung",
            Self::RequestPayment => "Yêu cầu nộp phí, lệ phí",
            Self::ConfirmPayment => "Xác nhận thanh toán trực tuyến",
            Self::RecordPayment => "Ghi nhận nộp phí tại quầy",
            Self::Extend => "Gia hạn giải quyết",
            Self::Forward => "Chuyển liên thông",
            Self::Complete => "Hoàn thành xử lý",
            Self::ReturnResult => "Trả kết quả",
            Self::Withdraw => "Rút hồ sơ theo yêu cầu công dân",
            Self::Stop => "Dừng xử lý",
        }
    }

    /// From the API's name; `ConfirmPayment` has none (only payment callbacks take it).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "accept" => Self::Accept,
            "reject" => Self::Reject,
            "start_processing" => Self::StartProcessing,
            "request_supplement" => Self::RequestSupplement,
            "receive_supplement" => Self::ReceiveSupplement,
            "request_payment" => Self::RequestPayment,
            "record_payment" => Self::RecordPayment,
            "extend" => Self::Extend,
            "forward" => Self::Forward,
            "complete" => Self::Complete,
            "return_result" => Self::ReturnResult,
            "withdraw" => Self::Withdraw,
            "stop" => Self::Stop,
            _ => return None,
        })
    }

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accept => "accept",
            Self::Reject => "reject",
            Self::StartProcessing => "start_processing",
            Self::RequestSupplement => "request_supplement",
            Self::ReceiveSupplement => "receive_supplement",
            Self::RequestPayment => "request_payment",
            Self::ConfirmPayment => "payment_confirmed",
            Self::RecordPayment => "record_payment",
            Self::Extend => "extend",
            Self::Forward => "forward",
            Self::Complete => "complete",
            Self::ReturnResult => "return_result",
            Self::Withdraw => "withdraw",
            Self::Stop => "stop",
        }
    }

    /// Whether the action needs a `note` (a reason, a list of what is needed, the apology).
    pub fn needs_note(self) -> bool {
        matches!(
            self,
            Self::Reject | Self::RequestSupplement | Self::Extend | Self::Stop
        )
    }

    /// What the progress record says when the officer gives no note.
    pub fn default_note(self) -> &'static str {
        match self {
            Self::Accept => "Tiếp nhận hồ sơ, hẹn ngày trả kết quả",
            Self::Reject => "Không tiếp nhận hồ sơ",
            Self::StartProcessing => "Chuyển hồ sơ đến đơn vị xử lý",
            Self::RequestSupplement => "Yêu cầu bổ sung giấy tờ",
            Self::ReceiveSupplement => "Nhận giấy tờ bổ sung, tiếp tục xử lý",
            Self::RequestPayment => "Yêu cầu thực hiện nghĩa vụ tài chính",
            Self::ConfirmPayment => "Đã thanh toán phí, lệ phí",
            Self::RecordPayment => "Nộp phí, lệ phí tại Bộ phận Một cửa",
            Self::Extend => "Gia hạn thời gian giải quyết",
            Self::Forward => "Chuyển liên thông",
            Self::Complete => "Đã xử lý xong, có kết quả",
            Self::ReturnResult => "Đã trả kết quả",
            Self::Withdraw => "Công dân yêu cầu rút hồ sơ",
            Self::Stop => "Dừng xử lý hồ sơ",
        }
    }
}

/// The status an action leads to from `from`, or `None` where the lifecycle forbids it.
/// `before_payment` is the status the dossier had when payment was requested.
pub fn transition(action: Action, from: Status, before_payment: Option<Status>) -> Option<Status> {
    use Status::*;
    match (action, from) {
        (Action::Accept, New) => Some(Accepted),
        (Action::Reject, New) => Some(Refused),
        (Action::StartProcessing, Accepted) => Some(Processing),
        (Action::RequestSupplement, Processing) => Some(SupplementRequested),
        (Action::ReceiveSupplement, SupplementRequested) => Some(Processing),
        (Action::RequestPayment, Accepted | Processing) => Some(PaymentRequested),
        (Action::ConfirmPayment | Action::RecordPayment, PaymentRequested) => before_payment,
        (Action::Extend, s @ (Accepted | Processing | SupplementRequested | PaymentRequested)) => {
            Some(s)
        }
        (Action::Forward, Processing) => Some(Processing),
        (Action::Complete, Processing) => Some(Completed),
        (Action::ReturnResult, Completed) => Some(Returned),
        (
            Action::Withdraw,
            New | Accepted | Processing | SupplementRequested | PaymentRequested,
        ) => Some(Withdrawn),
        (Action::Stop, Accepted | Processing | SupplementRequested | PaymentRequested) => {
            Some(Stopped)
        }
        _ => None,
    }
}

/// Timeliness of a finished dossier: the date it finished against the date it was due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeliness {
    /// Finished on an earlier day.
    Early,
    /// Finished on the due day.
    OnTime,
    /// Finished on a later day.
    Late,
}

impl Timeliness {
    /// Compares Vietnam-time dates.
    pub fn of(finished: NaiveDate, due: NaiveDate) -> Self {
        match finished.cmp(&due) {
            std::cmp::Ordering::Less => Self::Early,
            std::cmp::Ordering::Equal => Self::OnTime,
            std::cmp::Ordering::Greater => Self::Late,
        }
    }

    /// The contract's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Early => "truoc_han",
            Self::OnTime => "dung_han",
            Self::Late => "qua_han",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 13] = [
        Action::Forward,
        Action::Accept,
        Action::Reject,
        Action::StartProcessing,
        Action::RequestSupplement,
        Action::ReceiveSupplement,
        Action::RequestPayment,
        Action::RecordPayment,
        Action::Extend,
        Action::Complete,
        Action::ReturnResult,
        Action::Withdraw,
        Action::Stop,
    ];

    #[test]
    fn the_table_of_the_contract_and_nothing_else() {
        let allowed: &[(&str, &[i64], Option<i64>)] = &[
            ("accept", &[1], Some(2)),
            ("reject", &[1], Some(3)),
            ("start_processing", &[2], Some(4)),
            ("request_supplement", &[4], Some(5)),
            ("receive_supplement", &[5], Some(4)),
            ("request_payment", &[2, 4], Some(6)),
            ("extend", &[2, 4, 5, 6], None),
            ("forward", &[4], None),
            ("complete", &[4], Some(9)),
            ("return_result", &[9], Some(10)),
            ("withdraw", &[1, 2, 4, 5, 6], Some(7)),
            ("stop", &[2, 4, 5, 6], Some(8)),
        ];
        // `record_payment`, as the confirmation, leads back to the status before 6: with none
        // known, nowhere.
        for action in ACTIONS.into_iter().filter(|a| *a != Action::RecordPayment) {
            let (_, froms, to) = allowed
                .iter()
                .find(|(n, _, _)| *n == action.name())
                .copied()
                .unwrap_or(("", &[], None));
            for code in 1..=10 {
                let from = Status::from_code(code).unwrap_or(Status::New);
                let got = transition(action, from, None).map(Status::code);
                let want = froms.contains(&code).then_some(to.unwrap_or(code));
                assert_eq!(got, want, "{} from {code}", action.name());
            }
        }
    }

    #[test]
    fn a_confirmed_payment_returns_to_the_status_before_it() {
        assert_eq!(
            transition(
                Action::ConfirmPayment,
                Status::PaymentRequested,
                Some(Status::Processing)
            ),
            Some(Status::Processing)
        );
        assert_eq!(
            transition(
                Action::ConfirmPayment,
                Status::Processing,
                Some(Status::Processing)
            ),
            None
        );
    }

    #[test]
    fn an_officer_is_offered_what_the_table_allows_from_each_status() {
        let offered =
            |s: Status| -> Vec<&str> { Action::available_from(s).map(Action::name).collect() };
        assert_eq!(offered(Status::New), ["accept", "reject", "withdraw"]);
        assert_eq!(
            offered(Status::PaymentRequested),
            ["record_payment", "extend", "withdraw", "stop"]
        );
        assert_eq!(offered(Status::Completed), ["return_result"]);
        for s in [
            Status::Refused,
            Status::Withdrawn,
            Status::Stopped,
            Status::Returned,
        ] {
            assert_eq!(offered(s), Vec::<&str>::new());
        }
    }

    #[test]
    fn terminal_statuses_allow_nothing() {
        for s in [
            Status::Refused,
            Status::Withdrawn,
            Status::Stopped,
            Status::Returned,
        ] {
            assert!(ACTIONS.iter().all(|a| transition(*a, s, None).is_none()));
        }
    }

    #[test]
    fn timeliness_compares_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        assert_eq!(
            Timeliness::of(d("2026-11-26"), d("2026-11-27")).as_str(),
            "truoc_han"
        );
        assert_eq!(
            Timeliness::of(d("2026-11-27"), d("2026-11-27")).as_str(),
            "dung_han"
        );
        assert_eq!(
            Timeliness::of(d("2026-11-28"), d("2026-11-27")).as_str(),
            "qua_han"
        );
    }
}
