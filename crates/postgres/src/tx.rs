//! The tenant unit of work: one transaction on a `leadzone_app` connection that begins with
//! `set_config('app.current_tenant_id', $1, true)`. The setting is transaction-local, so a pooled
//! connection never carries a tenant into its next use. Queries still filter by `tenant_id`
//! (defence in depth): row-level security is the second lock, not the only one.

use crate::entities::*;
use crate::error::db_err;
use crate::mapping::lead_active_model;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::*;
use leadzone_domain::enums::UsageMetric;
use leadzone_domain::ids::*;
use leadzone_domain::leads::DedupKeys;
use leadzone_domain::leads::LeadFilter;
use leadzone_ports::RepoError;
use leadzone_ports::leads::{DuplicateMatch, LeadQuery, ListedLead};
use leadzone_ports::store::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, Statement, TransactionTrait,
};
use sea_orm::{QueryOrder, QuerySelect};

#[derive(Clone)]
pub struct PgUnitOfWork {
    db: DatabaseConnection,
}

impl PgUnitOfWork {
    /// `db` must be a pool of the restricted `leadzone_app` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Begins a tenant transaction (also usable directly by adapter tests).
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had.
    pub async fn begin_tenant(&self, tenant: TenantId) -> Result<PgTenantTx, RepoError> {
        self.begin_with(tenant, "SELECT set_config('app.current_tenant_id', $1, true)", false).await
    }

    /// Begins a read-only tenant transaction; with `search`, its statements are planned per
    /// execution (`plan_cache_mode`). Both are set in the same round trip as the tenant.
    ///
    /// # Errors
    /// `Unavailable` when no connection can be had.
    pub async fn begin_tenant_read(&self, tenant: TenantId, search: bool) -> Result<PgTenantTx, RepoError> {
        let setup = if search {
            "SELECT set_config('app.current_tenant_id', $1, true), \
                    set_config('plan_cache_mode', 'force_custom_plan', true), \
                    set_config('transaction_read_only', 'on', true)"
        } else {
            "SELECT set_config('app.current_tenant_id', $1, true), set_config('transaction_read_only', 'on', true)"
        };
        self.begin_with(tenant, setup, search).await
    }

    async fn begin_with(&self, tenant: TenantId, setup: &str, custom_plans: bool) -> Result<PgTenantTx, RepoError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        txn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, setup, [tenant.to_string().into()]))
            .await
            .map_err(db_err)?;
        Ok(PgTenantTx { txn, tenant, custom_plans })
    }
}

#[async_trait::async_trait]
impl UnitOfWork for PgUnitOfWork {
    async fn begin(&self, tenant: TenantId) -> Result<Box<dyn TenantTx>, RepoError> {
        Ok(Box::new(self.begin_tenant(tenant).await?))
    }

    async fn begin_read(&self, tenant: TenantId, search: bool) -> Result<Box<dyn TenantTx>, RepoError> {
        Ok(Box::new(self.begin_tenant_read(tenant, search).await?))
    }
}

pub struct PgTenantTx {
    pub(crate) txn: DatabaseTransaction,
    pub(crate) tenant: TenantId,
    /// Every statement is already planned per execution (a search's read transaction).
    pub(crate) custom_plans: bool,
}

impl PgTenantTx {
    pub(crate) fn tid(&self) -> uuid::Uuid {
        self.tenant.as_uuid()
    }

    /// The transaction itself, for adapter tests that need raw SQL inside the tenant context.
    pub fn connection(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl TenantTx for PgTenantTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant
    }
    fn users(&self) -> &dyn UserRepo {
        self
    }
    fn tenants(&self) -> &dyn TenantRepo {
        self
    }
    fn memberships(&self) -> &dyn MembershipRepo {
        self
    }
    fn subscriptions(&self) -> &dyn SubscriptionRepo {
        self
    }
    fn usage(&self) -> &dyn UsageRepo {
        self
    }
    fn leads(&self) -> &dyn LeadRepo {
        self
    }
    fn lists(&self) -> &dyn ListRepo {
        self
    }
    fn activities(&self) -> &dyn ActivityRepo {
        self
    }
    fn audit(&self) -> &dyn AuditRepo {
        self
    }
    fn invites(&self) -> &dyn InviteRepo {
        self
    }
    fn api_keys(&self) -> &dyn ApiKeyRepo {
        self
    }
    fn evidence(&self) -> &dyn EvidenceRepo {
        self
    }
    fn jobs(&self) -> &dyn leadzone_ports::jobs::JobRepo {
        self
    }
    fn features(&self) -> &dyn FeatureRepo {
        self
    }
    fn outbox(&self) -> &dyn leadzone_ports::mail::OutboxRepo {
        self
    }
    fn integrations(&self) -> &dyn leadzone_ports::integrations::IntegrationRepo {
        self
    }
    fn reports(&self) -> &dyn leadzone_ports::intelligence::ReportRepo {
        self
    }

    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        self.txn.commit().await.map_err(db_err)
    }
}

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

#[async_trait::async_trait]
impl LeadRepo for PgTenantTx {
    async fn insert(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError> {
        lead_active_model(lead, keys).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn get(&self, id: LeadId) -> Result<Lead, RepoError> {
        leads::Entity::find_by_id(id.as_uuid())
            .filter(leads::Column::TenantId.eq(self.tid()))
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
    }

    async fn list(&self, query: &LeadQuery) -> Result<Vec<ListedLead>, RepoError> {
        crate::leads::list(&self.txn, self.tid(), query, self.custom_plans).await
    }

    async fn find_duplicate(
        &self,
        keys: &DedupKeys,
        exclude: Option<LeadId>,
    ) -> Result<Option<DuplicateMatch>, RepoError> {
        crate::leads::find_duplicate(&self.txn, self.tid(), keys, exclude).await
    }

    async fn update(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError> {
        lead_active_model(lead, keys).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn delete(&self, id: LeadId) -> Result<(), RepoError> {
        let res = leads::Entity::delete_many()
            .filter(leads::Column::TenantId.eq(self.tid()))
            .filter(leads::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn matching_ids(
        &self,
        visibility: &LeadVisibility,
        filter: &LeadFilter,
        limit: u64,
    ) -> Result<Vec<LeadId>, RepoError> {
        crate::leads::matching_ids(&self.txn, self.tid(), visibility, filter, limit).await
    }

    async fn bulk(
        &self,
        change: &BulkChange,
        ids: &[LeadId],
        visibility: &LeadVisibility,
        at: time::OffsetDateTime,
    ) -> Result<Vec<LeadId>, RepoError> {
        crate::leads::bulk(&self.txn, self.tid(), change, ids, visibility, at).await
    }

    async fn count_matching(&self, visibility: &LeadVisibility, filters: &[LeadFilter]) -> Result<Vec<i64>, RepoError> {
        crate::leads::count_matching(&self.txn, self.tid(), visibility, filters).await
    }

    async fn stats(&self, visibility: &LeadVisibility, since: time::OffsetDateTime) -> Result<LeadStats, RepoError> {
        crate::leads::stats(&self.txn, self.tid(), visibility, since).await
    }

    async fn insert_many(&self, leads: Vec<(Lead, DedupKeys)>, may_exist: bool) -> Result<Vec<LeadId>, RepoError> {
        crate::leads::insert_many(&self.txn, self.tid(), leads, may_exist).await
    }

    async fn existing_keys(&self, keys: &[DedupKeys], except: &[LeadId]) -> Result<ExistingKeys, RepoError> {
        crate::leads::existing_keys(&self.txn, self.tid(), keys, except).await
    }

    async fn lock_discovery(&self) -> Result<(), RepoError> {
        self.txn
            .execute_raw(crate::stmt(
                "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':discovery', 0))",
                vec![self.tid().into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn touch_contacted(&self, id: LeadId, at: time::OffsetDateTime) -> Result<(), RepoError> {
        self.txn
            .execute_raw(crate::stmt(
                "UPDATE leads SET last_contacted_at = GREATEST(COALESCE(last_contacted_at, $3), $3), updated_at = $3
                  WHERE tenant_id = $1 AND id = $2",
                vec![self.tid().into(), id.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn unassign_user(&self, user: UserId) -> Result<u64, RepoError> {
        let res = self
            .txn
            .execute_raw(crate::stmt(
                "UPDATE leads SET assigned_to = NULL, updated_at = now() WHERE tenant_id = $1 AND assigned_to = $2",
                vec![self.tid().into(), user.as_uuid().into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }
}

#[async_trait::async_trait]
impl ListRepo for PgTenantTx {
    async fn get(&self, id: ListId) -> Result<List, RepoError> {
        lists::Entity::find_by_id(id.as_uuid())
            .filter(lists::Column::TenantId.eq(self.tid()))
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
    }

    async fn insert(&self, list: &List) -> Result<(), RepoError> {
        lists::ActiveModel::from(list).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn update(&self, list: &List) -> Result<(), RepoError> {
        lists::ActiveModel::from(list).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn delete(&self, id: ListId) -> Result<(), RepoError> {
        let res = lists::Entity::delete_many()
            .filter(lists::Column::TenantId.eq(self.tid()))
            .filter(lists::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn all(&self) -> Result<Vec<List>, RepoError> {
        lists::Entity::find()
            .filter(lists::Column::TenantId.eq(self.tid()))
            .order_by_asc(lists::Column::CreatedAt)
            .order_by_asc(lists::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(List::try_from)
            .collect()
    }
}

#[async_trait::async_trait]
impl ActivityRepo for PgTenantTx {
    async fn insert(&self, activity: &Activity) -> Result<(), RepoError> {
        activities::ActiveModel::from(activity).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn insert_many(&self, items: &[Activity]) -> Result<(), RepoError> {
        for chunk in items.chunks(1000) {
            activities::Entity::insert_many(chunk.iter().map(activities::ActiveModel::from))
                .exec_without_returning(&self.txn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn list(
        &self,
        lead: LeadId,
        after: Option<(time::OffsetDateTime, ActivityId)>,
        limit: u64,
    ) -> Result<Vec<Activity>, RepoError> {
        let mut q = activities::Entity::find()
            .filter(activities::Column::TenantId.eq(self.tid()))
            .filter(activities::Column::LeadId.eq(lead.as_uuid()));
        if let Some((at, id)) = after {
            q = q.filter(
                Expr::tuple([Expr::col(activities::Column::CreatedAt), Expr::col(activities::Column::Id)])
                    .lt(Expr::tuple([Expr::val(at), Expr::val(id.as_uuid())])),
            );
        }
        q.order_by_desc(activities::Column::CreatedAt)
            .order_by_desc(activities::Column::Id)
            .limit(limit)
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(Activity::try_from)
            .collect()
    }
}

#[async_trait::async_trait]
impl EvidenceRepo for PgTenantTx {
    async fn insert(&self, e: &Evidence) -> Result<(), RepoError> {
        evidence::ActiveModel::from(e).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn insert_many(&self, items: &[Evidence]) -> Result<(), RepoError> {
        for chunk in items.chunks(1000) {
            evidence::Entity::insert_many(chunk.iter().map(evidence::ActiveModel::from))
                .exec_without_returning(&self.txn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn list(&self, lead: LeadId) -> Result<Vec<Evidence>, RepoError> {
        evidence::Entity::find()
            .filter(evidence::Column::TenantId.eq(self.tid()))
            .filter(evidence::Column::LeadId.eq(lead.as_uuid()))
            .order_by_desc(evidence::Column::CreatedAt)
            .order_by_desc(evidence::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(Evidence::try_from)
            .collect()
    }
}
