//! The worker's periodic sweeps on the system path (role `leadzone_system`): which tenants have
//! work due — subscriptions at period end, WhatsApp templates to sync, CRM syncs on a schedule.

use crate::RepoError;
use leadzone_domain::ids::TenantId;
use time::OffsetDateTime;

/// Each method lists the tenants a sweep acts on now.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait Sweeps: Send + Sync {
    /// Tenants whose subscription is due a period-end change at `now`: cancelled at period end
    /// and past it, or PAST_DUE since before `past_due_before`.
    async fn due_subscriptions(
        &self,
        now: OffsetDateTime,
        past_due_before: OffsetDateTime,
    ) -> Result<Vec<TenantId>, RepoError>;

    /// Tenants with a CONNECTED `WHATSAPP` connection (the worker syncs their templates).
    async fn whatsapp_tenants(&self) -> Result<Vec<TenantId>, RepoError>;

    /// CONNECTED CRM connections with `config.syncEveryMinutes` whose last sync is older than that
    /// (or that never synced): (tenant, type), with an active OWNER of the tenant to act as.
    async fn due_syncs(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<(TenantId, leadzone_domain::enums::IntegrationType, leadzone_domain::ids::UserId)>, RepoError>;
}
