//! Plans, flags and a tenant's overrides, as flag evaluation reads them.

use crate::RepoError;
use leadzone_domain::entities::*;

/// Plans, flags and this tenant's overrides, as the flag evaluation needs them.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait FeatureRepo: Send + Sync {
    /// Active plans by `sortOrder`.
    async fn plans(&self) -> Result<Vec<Plan>, RepoError>;
    async fn flags(&self) -> Result<Vec<FeatureFlag>, RepoError>;
    async fn overrides(&self) -> Result<Vec<TenantFeature>, RepoError>;
}
