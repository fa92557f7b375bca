//! Billing storage: the tenant's subscription (with its plan) and the usage counters.

use crate::entities::*;
use crate::error::db_err;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::enums::UsageMetric;
use leadzone_ports::RepoError;
use leadzone_ports::billing::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

#[async_trait::async_trait]
impl SubscriptionRepo for PgTenantTx {
    async fn insert(&self, subscription: &Subscription) -> Result<(), RepoError> {
        subscriptions::ActiveModel::from(subscription).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn update(&self, subscription: &Subscription) -> Result<(), RepoError> {
        subscriptions::ActiveModel::from(subscription).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn record_webhook_event(
        &self,
        provider: &str,
        event_id: &str,
        created: time::OffsetDateTime,
    ) -> Result<bool, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                "INSERT INTO processed_webhook_events (provider, event_id, event_created_at) VALUES ($1, $2, $3)
                 ON CONFLICT (provider, event_id) DO NOTHING RETURNING event_id",
                vec![provider.into(), event_id.into(), created.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    }

    async fn current_with_plan(&self) -> Result<(Subscription, Plan), RepoError> {
        let sub = subscriptions::Entity::find()
            .filter(subscriptions::Column::TenantId.eq(self.tid()))
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        let plan = plans::Entity::find_by_id(sub.plan_id.clone())
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or_else(|| RepoError::Other(format!("subscription names unknown plan {}", sub.plan_id)))?;
        Ok((sub.try_into()?, plan.try_into()?))
    }
}

#[async_trait::async_trait]
impl UsageRepo for PgTenantTx {
    async fn try_increment(
        &self,
        metric: UsageMetric,
        period: &str,
        n: i64,
        limit: Limit,
    ) -> Result<Increment, RepoError> {
        // One statement: insert the counter or add to it, but only while the sum stays within the
        // limit. Concurrent increments of one counter serialise on its row and re-check the sum.
        let limit_value = limit.to_stored();
        let counted = self
            .txn
            .query_one_raw(crate::stmt(
                // The id is a UUIDv7 like every other (api.md), made here: the column's default
                // (`gen_random_uuid()`) would be a v4. An existing counter keeps its id.
                "INSERT INTO usage_counters (id, tenant_id, metric, period, value, updated_at)
                 SELECT $6, $1, $2, $3, $4, now() WHERE $5 < 0 OR $4 <= $5
                 ON CONFLICT (tenant_id, metric, period) DO UPDATE
                   SET value = usage_counters.value + EXCLUDED.value, updated_at = now()
                   WHERE $5 < 0 OR usage_counters.value + EXCLUDED.value <= $5
                 RETURNING value",
                vec![
                    self.tid().into(),
                    metric.as_str().into(),
                    period.into(),
                    n.into(),
                    limit_value.into(),
                    uuid::Uuid::now_v7().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        if let Some(row) = counted {
            let value: i32 = row.try_get("", "value").map_err(db_err)?;
            return Ok(Increment::Counted { value: i64::from(value) });
        }
        let used = self
            .txn
            .query_one_raw(crate::stmt(
                "SELECT value FROM usage_counters WHERE tenant_id = $1 AND metric = $2 AND period = $3",
                vec![self.tid().into(), metric.as_str().into(), period.into()],
            ))
            .await
            .map_err(db_err)?
            .map(|row| row.try_get::<i32>("", "value"))
            .transpose()
            .map_err(db_err)?
            .unwrap_or(0);
        Ok(Increment::Refused { used: i64::from(used), limit: limit_value })
    }

    async fn give_back(&self, metric: UsageMetric, period: &str, n: i64) -> Result<(), RepoError> {
        self.txn
            .execute_raw(crate::stmt(
                "UPDATE usage_counters SET value = GREATEST(value - $4, 0), updated_at = now()
                 WHERE tenant_id = $1 AND metric = $2 AND period = $3",
                vec![self.tid().into(), metric.as_str().into(), period.into(), n.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn for_period(&self, period: &str) -> Result<Vec<UsageCounter>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                "SELECT id, metric, value, period, updated_at FROM usage_counters WHERE tenant_id = $1 AND period = $2 ORDER BY metric",
                vec![self.tid().into(), period.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let metric: String = r.try_get("", "metric").map_err(db_err)?;
                Ok(UsageCounter {
                    id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
                    tenant_id: self.tenant,
                    metric: metric.parse().map_err(|_| RepoError::Other(format!("stored metric {metric:?}")))?,
                    value: i64::from(r.try_get::<i32>("", "value").map_err(db_err)?),
                    period: r.try_get("", "period").map_err(db_err)?,
                    updated_at: r.try_get("", "updated_at").map_err(db_err)?,
                })
            })
            .collect()
    }
}
