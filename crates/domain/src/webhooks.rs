//! Outbound webhooks: the events a tenant may subscribe to, the retry schedule, and what a
//! Standard Webhooks signature covers.

use crate::DomainError;
use time::Duration;

crate::enums::string_enum!(WebhookEvent {
    LeadCreated => "lead.created",
    LeadUpdated => "lead.updated",
    LeadStatusChanged => "lead.status_changed",
    LeadAssigned => "lead.assigned",
    JobCompleted => "job.completed",
    JobFailed => "job.failed",
    WhatsAppMessageStatus => "whatsapp.message.status",
});

/// The waits after each failed attempt (the schedule Svix publishes): 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 10 h; after the eighth attempt the delivery has failed.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// An endpoint whose deliveries all failed for this long is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(3);

/// The wait before attempt `attempts + 1`, after `attempts` failed ones, with `jitter` in [0, 1)
/// spreading it by up to a tenth; `None` when no attempt is left.
pub fn next_wait(attempts: u32, jitter: f64) -> Option<Duration> {
    let base = RETRY_SCHEDULE.get(usize::try_from(attempts.checked_sub(1)?).ok()?)?;
    Some(*base + *base * (jitter.clamp(0.0, 1.0) / 10.0))
}

/// What a Standard Webhooks signature is computed over: `{id}.{timestamp}.{body}`.
pub fn signed_content(id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{id}.{timestamp}.").into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_grows_and_ends_after_eight_attempts() {
        assert_eq!(next_wait(0, 0.0), None, "no wait before the first attempt");
        assert_eq!(next_wait(1, 0.0), Some(Duration::seconds(5)));
        assert_eq!(next_wait(2, 0.0), Some(Duration::minutes(5)));
        assert_eq!(next_wait(7, 0.0), Some(Duration::hours(10)));
        assert_eq!(next_wait(8, 0.0), None);
        let jittered = next_wait(3, 0.5).unwrap();
        assert!(jittered > Duration::minutes(30) && jittered <= Duration::minutes(33), "{jittered}");
    }

    #[test]
    fn events_have_their_dotted_names() {
        use std::str::FromStr;
        assert_eq!(WebhookEvent::from_str("lead.status_changed").unwrap(), WebhookEvent::LeadStatusChanged);
        assert!(WebhookEvent::from_str("lead.deleted").is_err());
        assert_eq!(signed_content("msg_1", 1_700_000_000, b"{}"), b"msg_1.1700000000.{}".to_vec());
    }
}
