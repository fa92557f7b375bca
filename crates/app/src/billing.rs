//! Subscriptions and usage: what the tenant pays for and how much of it is used this month.
//! Billing stays reachable for a suspended tenant (api.md), so these use cases check the
//! permission without the suspension rule.

use crate::{AppError, Ctx, audit};
use leadzone_domain::access::Permission;
use leadzone_domain::billing::usage_period;
use leadzone_domain::entities::{AuditDetails, Limit, Plan, Subscription, UsageCounter};
use leadzone_domain::enums::{AuditEventType, BillingCycle, SubscriptionStatus, UsageMetric};
use leadzone_domain::ids::PlanId;
use leadzone_ports::tx::TenantTx;
use serde_json::json;
use time::Duration;

pub const TRIAL_DAYS: i64 = 14;

/// `GET /billing/subscription`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionView {
    pub subscription: Subscription,
    pub plan: Plan,
    /// (metric, used, limit) for seats, leads, searches and messages; limit -1 = unlimited.
    pub usage: Vec<(UsageMetric, i64, i64)>,
}

fn require_billing(ctx: &Ctx, p: Permission) -> Result<(), AppError> {
    if ctx.has(p) { Ok(()) } else { Err(AppError::Forbidden) }
}

crate::service! {
    /// Subscriptions, usage, billing periods and Stripe's webhook.
    Billing { ports: [uow, lookups, sweeps, tokens, clock, ids, config] }
}

impl Billing {
    /// Current use of every metric: seats live (active members + pending invites), the rest from
    /// this month's counters in the tenant's time zone.
    async fn current_use(&self, tx: &dyn TenantTx) -> Result<Vec<(UsageMetric, i64)>, AppError> {
        let tenant = tx.tenants().current().await?;
        let period = usage_period(self.clock.now(), tenant.settings.timezone());
        let counters = tx.usage().for_period(&period).await?;
        let seats = tx.memberships().count_active().await? + tx.invites().count_pending(self.clock.now()).await?;
        let counted = |m: UsageMetric| counters.iter().find(|c| c.metric == m).map_or(0, |c| c.value);
        Ok(vec![
            (UsageMetric::Seats, seats),
            (UsageMetric::Leads, counted(UsageMetric::Leads)),
            (UsageMetric::Searches, counted(UsageMetric::Searches)),
            (UsageMetric::Messages, counted(UsageMetric::Messages)),
        ])
    }

    pub async fn subscription(&self, ctx: &Ctx) -> Result<SubscriptionView, AppError> {
        require_billing(ctx, Permission::BillingRead)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let (subscription, plan) = tx.subscriptions().current_with_plan().await?;
        let usage =
            self.current_use(&*tx).await?.into_iter().map(|(m, used)| (m, used, plan.limit(m).to_stored())).collect();
        Ok(SubscriptionView { subscription, plan, usage })
    }

    /// `GET /usage?period=YYYY-MM` (default: this month in the tenant's zone).
    pub async fn usage(&self, ctx: &Ctx, period: Option<String>) -> Result<(String, Vec<UsageCounter>), AppError> {
        require_billing(ctx, Permission::BillingRead)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let period = match period.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
            Some(p) => {
                let ok = p.len() == 7
                    && p.as_bytes().get(4) == Some(&b'-')
                    && p.get(..4).is_some_and(|y| y.parse::<u16>().is_ok())
                    && p.get(5..).and_then(|m| m.parse::<u8>().ok()).is_some_and(|m| (1..=12).contains(&m));
                if !ok {
                    return Err(AppError::field("period", "must be YYYY-MM"));
                }
                p
            }
            None => usage_period(self.clock.now(), tx.tenants().current().await?.settings.timezone()),
        };
        let counters = tx.usage().for_period(&period).await?;
        Ok((period, counters))
    }

    /// Changes plan. A plan whose limits are below current use is 409 `PLAN_LIMIT_CONFLICT`
    /// naming the metric; a paid plan taken for the first time starts a 14-day trial.
    pub async fn change_plan(
        &self,
        ctx: &Ctx,
        plan_id: &str,
        cycle: Option<&str>,
    ) -> Result<SubscriptionView, AppError> {
        require_billing(ctx, Permission::BillingManage)?;
        let cycle = match cycle.map(str::trim) {
            None | Some("") | Some("MONTHLY") => BillingCycle::Monthly,
            Some("YEARLY") => BillingCycle::Yearly,
            Some(_) => return Err(AppError::field("billingCycle", "must be MONTHLY or YEARLY")),
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.tenants().lock_current().await?;
        let (before, current_plan) = tx.subscriptions().current_with_plan().await?;
        let plan = tx
            .features()
            .plans()
            .await?
            .into_iter()
            .find(|p| p.id.as_str() == plan_id.trim())
            .ok_or_else(|| AppError::field("planId", "is not an available plan"))?;
        if plan.id == current_plan.id && before.billing_cycle == cycle {
            return Err(AppError::Conflict(crate::error::ConflictKind::SamePlan));
        }
        // Usage is counted per calendar month, so changing the plan does not change it: read once.
        let current = self.current_use(&*tx).await?;
        for &(metric, used) in &current {
            if let Limit::AtMost(max) = plan.limit(metric)
                && used > max
            {
                return Err(AppError::PlanLimitConflict { metric, limit: max, used });
            }
        }
        let now = self.clock.now();
        let upgrade = plan.price_monthly > current_plan.price_monthly;
        let first_paid = plan.price_monthly > 0 && before.trial_ends_at.is_none() && current_plan.price_monthly == 0;
        let period = match cycle {
            BillingCycle::Monthly => Duration::days(30),
            BillingCycle::Yearly => Duration::days(365),
        };
        let after = Subscription {
            plan_id: PlanId::new(plan.id.as_str()),
            billing_cycle: cycle,
            status: if first_paid { SubscriptionStatus::Trialing } else { SubscriptionStatus::Active },
            trial_ends_at: if first_paid { Some(now + Duration::days(TRIAL_DAYS)) } else { before.trial_ends_at },
            current_period_start: now,
            current_period_end: now + if first_paid { Duration::days(TRIAL_DAYS) } else { period },
            cancel_at_period_end: false,
            updated_at: now,
            ..before.clone()
        };
        tx.subscriptions().update(&after).await?;
        let event = if upgrade { AuditEventType::SubscriptionUpgraded } else { AuditEventType::SubscriptionDowngraded };
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                event,
                Some((leadzone_domain::enums::AuditEntityType::Subscription, after.id.as_uuid())),
                format!("plan {} → {}", current_plan.id, plan.id),
                AuditDetails {
                    before: Some(json!({"planId": current_plan.id.as_str(), "status": before.status, "billingCycle": before.billing_cycle})),
                    after: Some(json!({"planId": plan.id.as_str(), "status": after.status, "billingCycle": after.billing_cycle})),
                    metadata: None,
                },
            ))
            .await?;
        let usage = current.into_iter().map(|(m, used)| (m, used, plan.limit(m).to_stored())).collect();
        tx.commit().await?;
        Ok(SubscriptionView { subscription: after, plan, usage })
    }

    /// Cancels at the end of the current period.
    pub async fn cancel_subscription(&self, ctx: &Ctx) -> Result<Subscription, AppError> {
        require_billing(ctx, Permission::BillingManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let (before, plan) = tx.subscriptions().current_with_plan().await?;
        if plan.price_monthly == 0 {
            return Err(AppError::Conflict(crate::error::ConflictKind::NothingToCancel));
        }
        if before.cancel_at_period_end {
            return Ok(before);
        }
        let after = Subscription { cancel_at_period_end: true, updated_at: self.clock.now(), ..before.clone() };
        tx.subscriptions().update(&after).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::SubscriptionCancelled,
                Some((leadzone_domain::enums::AuditEntityType::Subscription, after.id.as_uuid())),
                "cancels at period end",
                AuditDetails {
                    after: Some(json!({"cancelAtPeriodEnd": true, "periodEnd": after.current_period_end})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await?;
        Ok(after)
    }
}

impl Billing {
    /// The hourly billing step: subscriptions cancelled at period end become CANCELLED on the free
    /// plan once the period is over; PAST_DUE longer than the grace period becomes UNPAID (the
    /// tenant may then only read). Returns how many subscriptions changed.
    pub async fn run_billing_periods(&self, now: time::OffsetDateTime) -> Result<usize, AppError> {
        let grace = Duration::days(self.config.grace_days);
        let due = self.sweeps.due_subscriptions(now, now - grace).await?;
        let mut changed = 0;
        for tenant in due {
            let tx = self.uow.begin(tenant).await?;
            let (before, _) = tx.subscriptions().current_with_plan().await?;
            let mut after = before.clone();
            let (event, action) = if before.cancel_at_period_end && before.current_period_end <= now {
                after.status = SubscriptionStatus::Cancelled;
                after.plan_id = PlanId::free();
                after.cancel_at_period_end = false;
                (AuditEventType::SubscriptionCancelled, "period ended: cancelled, moved to the free plan")
            } else if before.status == SubscriptionStatus::PastDue
                && before.status.can_transition_to(SubscriptionStatus::Unpaid)
            {
                after.status = SubscriptionStatus::Unpaid;
                (AuditEventType::PaymentFailed, "grace period over: unpaid, read-only")
            } else {
                continue;
            };
            after.updated_at = now;
            tx.subscriptions().update(&after).await?;
            let row = audit::system_entry(
                &*self.ids,
                event,
                Some((leadzone_domain::enums::AuditEntityType::Subscription, after.id.as_uuid())),
                action,
                AuditDetails {
                    before: Some(json!({"status": before.status, "planId": before.plan_id.as_str()})),
                    after: Some(json!({"status": after.status, "planId": after.plan_id.as_str()})),
                    metadata: None,
                },
            );
            tx.audit().append(&row).await?;
            tx.commit().await?;
            changed += 1;
        }
        Ok(changed)
    }
}
