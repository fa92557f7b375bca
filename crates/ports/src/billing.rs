//! Subscriptions and metered usage.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::enums::UsageMetric;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SubscriptionRepo: Send + Sync {
    async fn insert(&self, subscription: &Subscription) -> Result<(), RepoError>;
    /// The tenant's subscription with its plan.
    ///
    /// # Errors
    /// `NotFound` if the tenant has none.
    async fn current_with_plan(&self) -> Result<(Subscription, Plan), RepoError>;
    async fn update(&self, subscription: &Subscription) -> Result<(), RepoError>;
    /// Records an inbound webhook event in this transaction; `false` when it was already
    /// recorded (a replay: apply nothing).
    async fn record_webhook_event(
        &self,
        provider: &str,
        event_id: &str,
        created: time::OffsetDateTime,
    ) -> Result<bool, RepoError>;
}

/// The outcome of a metered increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// Counted; the counter now reads `value`.
    Counted { value: i64 },
    /// Refused: `used + n` would pass `limit`. Nothing changed.
    Refused { used: i64, limit: i64 },
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait UsageRepo: Send + Sync {
    /// Atomically adds `n` to the counter of `metric` in `period` unless that would pass `limit`
    /// (`Limit::Unlimited` never refuses). Concurrent callers are serialised by the row, so with
    /// k units left exactly k single-unit increments succeed. Rolled back with the transaction.
    async fn try_increment(
        &self,
        metric: UsageMetric,
        period: &str,
        n: i64,
        limit: Limit,
    ) -> Result<Increment, RepoError>;
    /// The tenant's counters of one period.
    async fn for_period(&self, period: &str) -> Result<Vec<UsageCounter>, RepoError>;
    /// Gives back `n` units counted in `period` (never below zero).
    async fn give_back(&self, metric: UsageMetric, period: &str, n: i64) -> Result<(), RepoError>;
}
