//! Job rules that need no IO: retry back-off and the cancellation rule.

use crate::enums::JobStatus;
use time::Duration;

/// The wait before retry number `attempt` (1-based): (attempt + 1)^4 seconds, spread by ±10%
/// with `jitter` in [-1, 1] (the caller draws it), so that many failures do not retry in step.
pub fn retry_delay(attempt: i32, jitter: f64) -> Duration {
    let base = f64::from(attempt.max(0) + 1).powi(4);
    Duration::seconds_f64(base * (1.0 + 0.1 * jitter.clamp(-1.0, 1.0)))
}

/// What a cancel request does to a job in this status (api.md, Jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelEffect {
    /// PENDING: cancelled at once.
    CancelNow,
    /// RUNNING: flagged; the job stops at its next checkpoint.
    RequestStop,
    /// Already finished: 409.
    Refuse,
}

pub fn cancel_effect(status: JobStatus) -> CancelEffect {
    match status {
        JobStatus::Pending => CancelEffect::CancelNow,
        JobStatus::Running => CancelEffect::RequestStop,
        JobStatus::Success | JobStatus::Failed | JobStatus::Cancelled => CancelEffect::Refuse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_as_the_fourth_power_with_bounded_jitter() {
        assert_eq!(retry_delay(0, 0.0), Duration::seconds(1));
        assert_eq!(retry_delay(1, 0.0), Duration::seconds(16));
        assert_eq!(retry_delay(2, 0.0), Duration::seconds(81));
        assert_eq!(retry_delay(4, 0.0), Duration::seconds(625));
        assert_eq!(retry_delay(1, 1.0), Duration::seconds_f64(17.6));
        assert_eq!(retry_delay(1, -1.0), Duration::seconds_f64(14.4));
        assert_eq!(retry_delay(1, 7.0), retry_delay(1, 1.0), "jitter is clamped");
    }

    #[test]
    fn cancel_rule() {
        assert_eq!(cancel_effect(JobStatus::Pending), CancelEffect::CancelNow);
        assert_eq!(cancel_effect(JobStatus::Running), CancelEffect::RequestStop);
        for s in [JobStatus::Success, JobStatus::Failed, JobStatus::Cancelled] {
            assert_eq!(cancel_effect(s), CancelEffect::Refuse);
        }
    }
}
