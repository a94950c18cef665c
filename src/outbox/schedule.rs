//! When something that failed is tried again: an outbox message, or a document's fetch
//! (contract section 6: "retried like an outbox message"). The schedule's next delay after
//! `attempts` tries (the last delay repeats), jittered by ±20 %, or later if the other side
//! asked (`hint`, its `Retry-After`) — but never past the window (`give_up_after` from when it
//! was queued): one answer asking for a long wait does not end the retries; only the schedule
//! running out of the window does.

use crate::config::Dur;
use rand::Rng;
use std::time::Duration;

/// The next attempt's time (ms), or `None` when the window is spent: give up.
pub fn next_attempt(
    schedule: &[Dur],
    give_up_after: Duration,
    attempts: i64,
    queued_at: i64,
    now: i64,
    hint: Option<Duration>,
) -> Option<i64> {
    let n = usize::try_from(attempts)
        .unwrap_or(usize::MAX)
        .min(schedule.len().saturating_sub(1));
    let base = schedule.get(n).map_or(Duration::from_secs(60), |d| d.0);
    let jitter = rand::rng().random_range(0.8..1.2);
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
    let scheduled = now.saturating_add(ms(base.mul_f64(jitter)));
    let give_up = queued_at.saturating_add(ms(give_up_after));
    if scheduled > give_up {
        return None;
    }
    let asked = now.saturating_add(ms(hint.unwrap_or_default()));
    Some(scheduled.max(asked.min(give_up)))
}
