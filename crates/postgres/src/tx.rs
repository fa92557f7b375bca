//! The tenant unit of work: one transaction on a `leadzone_app` connection that begins with
//! `set_config('app.current_tenant_id', $1, true)`. The setting is transaction-local, so a pooled
//! connection never carries a tenant into its next use. Queries still filter by `tenant_id`
//! (defence in depth): row-level security is the second lock, not the only one.

use crate::error::db_err;
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::{
    api_keys::*, audit::*, billing::*, flags::*, identity::*, lead_actions::*, leads::*, lists::*, team::*, tx::*,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, TransactionTrait};

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
    fn whatsapp(&self) -> &dyn leadzone_ports::whatsapp::WhatsAppRepo {
        self
    }
    fn webhooks(&self) -> &dyn leadzone_ports::webhooks::WebhookRepo {
        self
    }
    fn sync(&self) -> &dyn leadzone_ports::sync::SyncRepo {
        self
    }
    fn slack(&self) -> &dyn leadzone_ports::slack::SlackRepo {
        self
    }
    fn reports(&self) -> &dyn leadzone_ports::intelligence::ReportRepo {
        self
    }

    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        self.txn.commit().await.map_err(db_err)
    }
}
