//! The portal's dossier statuses (`TrangThaiHoSo`) and their Vietnamese names.

use serde::Serialize;

/// A dossier's status, numbered as the portal numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "i64")]
pub enum Status {
    /// 1 — arrived online, not yet checked by the counter.
    New,
    /// 2 — accepted; the clock runs.
    Accepted,
    /// 3 — refused at reception.
    Refused,
    /// 4 — with the competent unit.
    Processing,
    /// 5 — supplement requested; the clock stops.
    SupplementRequested,
    /// 6 — fees to be paid.
    PaymentRequested,
    /// 7 — withdrawn by the applicant.
    Withdrawn,
    /// 8 — processing stopped.
    Stopped,
    /// 9 — result ready.
    Completed,
    /// 10 — result returned.
    Returned,
}

impl Status {
    /// The portal's number.
    pub fn code(self) -> i64 {
        match self {
            Status::New => 1,
            Status::Accepted => 2,
            Status::Refused => 3,
            Status::Processing => 4,
            Status::SupplementRequested => 5,
            Status::PaymentRequested => 6,
            Status::Withdrawn => 7,
            Status::Stopped => 8,
            Status::Completed => 9,
            Status::Returned => 10,
        }
    }

    /// The status with the portal's number, if there is one.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Status::New,
            2 => Status::Accepted,
            3 => Status::Refused,
            4 => Status::Processing,
            5 => Status::SupplementRequested,
            6 => Status::PaymentRequested,
            7 => Status::Withdrawn,
            8 => Status::Stopped,
            9 => Status::Completed,
            10 => Status::Returned,
            _ => return None,
        })
    }

    /// The status's name as officers and citizens read it.
    pub fn name_vi(self) -> &'static str {
        match self {
            Status::New => "Mới đăng ký",
            Status::Accepted => "Được tiếp nhận",
            Status::Refused => "Không được tiếp nhận",
            Status::Processing => "Đang xử lý",
            Status::SupplementRequested => "Yêu cầu bổ sung giấy tờ",
            Status::PaymentRequested => "Yêu cầu thực hiện nghĩa vụ tài chính",
            Status::Withdrawn => "Công dân yêu cầu rút hồ sơ",
            Status::Stopped => "Dừng xử lý",
            Status::Completed => "Đã xử lý xong",
            Status::Returned => "Đã trả kết quả",
        }
    }

    /// Whether no further step is possible.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Refused | Status::Withdrawn | Status::Stopped | Status::Returned
        )
    }

    /// Whether a dossier in this status is still being handled: neither ended nor completed.
    pub fn is_open(self) -> bool {
        !self.is_terminal() && self != Status::Completed
    }

    /// Whether the processing clock runs in this status, so that the dossier can become
    /// overdue: open, and not waiting on the applicant for a supplement (5) or fees (6) —
    /// "a dossier in status 5 or 6 is never shown as overdue" (contract section 5).
    pub fn clock_runs(self) -> bool {
        self.is_open() && !matches!(self, Status::SupplementRequested | Status::PaymentRequested)
    }
}

impl From<Status> for i64 {
    fn from(s: Status) -> i64 {
        s.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for code in 1..=10 {
            assert_eq!(Status::from_code(code).map(Status::code), Some(code));
        }
        assert!(Status::from_code(0).is_none());
        assert!(Status::from_code(11).is_none());
    }
}
