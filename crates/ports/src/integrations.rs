//! The tenant's connections to outside services (`integration_connections`): one per type, the
//! credentials stored only sealed (`SecretBox`), never read back by any API.

use crate::RepoError;
use leadzone_domain::entities::IntegrationConnection;
use leadzone_domain::enums::IntegrationType;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait IntegrationRepo: Send + Sync {
    /// The tenant's connections, by type.
    ///
    /// # Errors
    /// Storage errors only.
    async fn list(&self) -> Result<Vec<IntegrationConnection>, RepoError>;

    /// The connection of one type, if the tenant has one.
    ///
    /// # Errors
    /// Storage errors only.
    async fn get(&self, kind: IntegrationType) -> Result<Option<IntegrationConnection>, RepoError>;

    /// Creates the connection of its type, or replaces the one there (keeping its id and
    /// creation time; everything else, `last_sync_at` included, as given); returns it as stored.
    ///
    /// # Errors
    /// Storage errors only.
    async fn upsert(&self, connection: &IntegrationConnection) -> Result<IntegrationConnection, RepoError>;

    /// Removes the connection of one type; false when there was none.
    ///
    /// # Errors
    /// Storage errors only.
    async fn delete(&self, kind: IntegrationType) -> Result<bool, RepoError>;
}
