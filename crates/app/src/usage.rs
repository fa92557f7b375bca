//! Metered usage: the one place where an action is counted against the plan's monthly limit.
//! The count happens in the action's own transaction, so a rolled-back action gives its unit back.

use crate::AppError;
use leadzone_domain::billing::usage_period;
use leadzone_domain::enums::UsageMetric;
use leadzone_ports::{billing::Increment, tx::TenantTx};
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

/// Gives back `n` units counted earlier in the period containing `now` (a message Meta refused).
pub async fn refund(tx: &dyn TenantTx, now: OffsetDateTime, metric: UsageMetric, n: i64) -> Result<(), AppError> {
    let tenant = tx.tenants().current().await?;
    let period = usage_period(now, tenant.settings.timezone());
    tx.usage().give_back(metric, &period, n).await?;
    Ok(())
}

/// A plan's meter for a run of charges (a bulk's messages): the period and the limit, read once
/// after the tenant and subscription checks that `charge_up_to` makes on every call.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    metric: UsageMetric,
    period: String,
    limit: leadzone_domain::entities::Limit,
}

impl Meter {
    /// Counts one unit; false when the plan's limit is reached (nothing counted).
    pub(crate) async fn charge_one(&self, tx: &dyn TenantTx) -> Result<bool, AppError> {
        Ok(matches!(
            tx.usage().try_increment(self.metric, &self.period, 1, self.limit).await?,
            Increment::Counted { .. }
        ))
    }
}

crate::service! {
    /// Quota metering against the plan's monthly limits.
    Usage { ports: [clock] }
}

impl Usage {
    /// The meter of `metric` as of now; refuses a suspended tenant or an unpaid subscription.
    pub(crate) async fn meter(
        &self,
        tx: &dyn leadzone_ports::tx::TenantTx,
        metric: UsageMetric,
    ) -> Result<Meter, AppError> {
        let (subscription, plan) = tx.subscriptions().current_with_plan().await?;
        let tenant = tx.tenants().current().await?;
        // Checked at every batch: a tenant suspended or a subscription gone UNPAID while the job
        // runs stops it here, with this batch rolled back, as a request would be refused.
        if tenant.status == leadzone_domain::enums::TenantStatus::Suspended {
            return Err(AppError::TenantSuspended);
        }
        if !subscription.status.allows_writes() {
            return Err(AppError::SubscriptionUnpaid);
        }
        let period = leadzone_domain::billing::usage_period(self.clock.now(), tenant.settings.timezone());
        Ok(Meter { metric, period, limit: plan.limit(metric) })
    }

    /// Charges as many of `n` units as the plan allows; returns how many were charged.
    pub(crate) async fn charge_up_to(
        &self,
        tx: &dyn leadzone_ports::tx::TenantTx,
        metric: UsageMetric,
        n: i64,
    ) -> Result<i64, AppError> {
        let Meter { period, limit, .. } = self.meter(tx, metric).await?;
        match tx.usage().try_increment(metric, &period, n, limit).await? {
            Increment::Counted { .. } => Ok(n),
            Increment::Refused { used, limit: max } => {
                let left = (max - used).max(0).min(n);
                if left > 0 {
                    match tx
                        .usage()
                        .try_increment(metric, &period, left, leadzone_domain::entities::Limit::AtMost(max))
                        .await?
                    {
                        Increment::Counted { .. } => Ok(left),
                        Increment::Refused { .. } => Ok(0),
                    }
                } else {
                    Ok(0)
                }
            }
        }
    }
}
