//! Platform administration on the system path (role `leadzone_system`): health, every tenant,
//! the public plans, feature flags and per-tenant overrides.

use crate::RepoError;
use leadzone_domain::entities::Tenant;
use leadzone_domain::enums::TenantStatus;
use leadzone_domain::ids::TenantId;
use time::OffsetDateTime;

/// What the platform operator (and the health check) reads and changes across tenants.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait PlatformStore: Send + Sync {
    /// Answers when the database does.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), RepoError>;

    /// Platform admin: tenants by creation, after `after`.
    async fn list_tenants(&self, after: Option<TenantId>, limit: u64) -> Result<Vec<Tenant>, RepoError>;

    /// # Errors
    /// `NotFound` when no such tenant exists.
    async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: TenantStatus,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError>;

    /// Active plans by `sortOrder` (public).
    async fn active_plans(&self) -> Result<Vec<leadzone_domain::entities::Plan>, RepoError>;

    async fn list_flags(&self) -> Result<Vec<leadzone_domain::entities::FeatureFlag>, RepoError>;

    /// # Errors
    /// `Conflict` when a flag with this key exists.
    async fn insert_flag(&self, flag: &leadzone_domain::entities::FeatureFlag) -> Result<(), RepoError>;

    /// # Errors
    /// `NotFound` when no flag has this key.
    async fn update_flag(&self, flag: &leadzone_domain::entities::FeatureFlag) -> Result<(), RepoError>;

    async fn flag(&self, key: &str) -> Result<Option<leadzone_domain::entities::FeatureFlag>, RepoError>;

    /// Creates or replaces a tenant's override of `key`.
    async fn set_override(&self, o: &leadzone_domain::entities::TenantFeature) -> Result<(), RepoError>;

    /// Removes it; `false` when there was none.
    async fn delete_override(&self, tenant: TenantId, key: &str) -> Result<bool, RepoError>;
}
