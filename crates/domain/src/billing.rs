//! Billing rules that need no IO: which usage period an instant falls in.

use time::{OffsetDateTime, UtcOffset};

/// UTC offsets of the time zones Leadzone's tenants use. None of them observes daylight saving,
/// so a fixed offset is exact. Unknown zones fall back to Riyadh time.
fn offset_of(timezone: &str) -> UtcOffset {
    let hours = match timezone {
        "UTC" | "Etc/UTC" => 0,
        "Asia/Dubai" | "Asia/Muscat" => 4,
        "Asia/Tehran" => return UtcOffset::from_hms(3, 30, 0).unwrap_or(UtcOffset::UTC),
        // Asia/Riyadh, Asia/Kuwait, Asia/Qatar, Asia/Bahrain, Asia/Baghdad, Asia/Aden and the default.
        _ => 3,
    };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// The zones `offset_of` knows; a tenant's `settings.timezone` must be one of them.
pub const SUPPORTED_TIMEZONES: &[&str] = &[
    "Asia/Riyadh",
    "Asia/Kuwait",
    "Asia/Qatar",
    "Asia/Bahrain",
    "Asia/Baghdad",
    "Asia/Aden",
    "Asia/Dubai",
    "Asia/Muscat",
    "Asia/Tehran",
    "UTC",
    "Etc/UTC",
];

/// The usage period (`YYYY-MM`, a calendar month in the tenant's time zone) containing `now`.
pub fn usage_period(now: OffsetDateTime, timezone: &str) -> String {
    let local = now.to_offset(offset_of(timezone));
    format!("{:04}-{:02}", local.year(), u8::from(local.month()))
}

impl crate::enums::SubscriptionStatus {
    /// The transitions Stripe's events and the period-end job drive.
    pub fn can_transition_to(self, to: crate::enums::SubscriptionStatus) -> bool {
        use crate::enums::SubscriptionStatus::*;
        matches!(
            (self, to),
            (Trialing, Active | PastDue | Cancelled)
                | (Active, PastDue | Cancelled)
                | (PastDue, Active | Unpaid | Cancelled)
                | (Unpaid, Active | Cancelled)
        )
    }

    /// Whether the tenant may still write (an UNPAID tenant may only read).
    pub fn allows_writes(self) -> bool {
        self != crate::enums::SubscriptionStatus::Unpaid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn subscription_transitions() {
        use crate::enums::SubscriptionStatus::*;
        assert!(Trialing.can_transition_to(Active));
        assert!(Active.can_transition_to(PastDue));
        assert!(PastDue.can_transition_to(Active));
        assert!(PastDue.can_transition_to(Unpaid));
        assert!(Unpaid.can_transition_to(Active));
        assert!(!Cancelled.can_transition_to(Active), "a cancelled subscription is final");
        assert!(!Active.can_transition_to(Unpaid), "UNPAID only follows PAST_DUE");
        assert!(!Active.can_transition_to(Trialing));
        assert!(!Unpaid.allows_writes() && PastDue.allows_writes());
    }

    #[test]
    fn the_month_turns_at_local_midnight() {
        // 21:30 UTC on 31 Jan is already 1 Feb in Riyadh (UTC+3).
        let t = datetime!(2026-01-31 21:30 UTC);
        assert_eq!(usage_period(t, "Asia/Riyadh"), "2026-02");
        assert_eq!(usage_period(t, "UTC"), "2026-01");
        assert_eq!(usage_period(datetime!(2026-01-31 20:59 UTC), "Asia/Riyadh"), "2026-01");
        assert_eq!(usage_period(datetime!(2026-12-31 20:00 UTC), "Asia/Dubai"), "2027-01");
    }

    #[test]
    fn unknown_zones_use_riyadh_time() {
        assert_eq!(usage_period(datetime!(2026-03-31 22:00 UTC), "Mars/Olympus"), "2026-04");
    }
}
