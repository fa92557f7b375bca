//! Metered usage: the one place where an action is counted against the plan's monthly limit.
//! The count happens in the action's own transaction, so a rolled-back action gives its unit back.

use crate::AppError;
use leadzone_domain::billing::usage_period;
use leadzone_domain::enums::UsageMetric;
use leadzone_ports::store::{Increment, TenantTx};
use time::OffsetDateTime;

/// Counts `n` units of `metric` for the period containing `now`, or fails with 402
/// `QUOTA_EXCEEDED` and changes nothing.
pub async fn charge(tx: &dyn TenantTx, now: OffsetDateTime, metric: UsageMetric, n: i64) -> Result<(), AppError> {
    let (_, plan) = tx.subscriptions().current_with_plan().await?;
    let tenant = tx.tenants().current().await?;
    let period = usage_period(now, tenant.settings.timezone());
    match tx.usage().try_increment(metric, &period, n, plan.limit(metric)).await? {
        Increment::Counted { .. } => Ok(()),
        Increment::Refused { used, limit } => Err(AppError::QuotaExceeded { metric, limit, used }),
    }
}
