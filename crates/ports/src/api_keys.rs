//! API keys of a tenant.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ApiKeyRepo: Send + Sync {
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError>;
    async fn list(&self) -> Result<Vec<ApiKey>, RepoError>;
    /// # Errors
    /// `NotFound` when no such key exists in this tenant.
    async fn get(&self, id: ApiKeyId) -> Result<ApiKey, RepoError>;
    async fn revoke(&self, id: ApiKeyId, at: time::OffsetDateTime) -> Result<(), RepoError>;
    /// Revokes every live key `user` created in this tenant.
    async fn revoke_created_by(&self, user: UserId, at: time::OffsetDateTime) -> Result<u64, RepoError>;
}
