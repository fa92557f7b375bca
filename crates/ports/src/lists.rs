//! Lead lists.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ListRepo: Send + Sync {
    /// # Errors
    /// `NotFound` when the list does not exist in this tenant.
    async fn get(&self, id: ListId) -> Result<List, RepoError>;
    async fn insert(&self, list: &List) -> Result<(), RepoError>;
    async fn update(&self, list: &List) -> Result<(), RepoError>;
    /// Leads of a deleted list keep existing, without a list.
    async fn delete(&self, id: ListId) -> Result<(), RepoError>;
    async fn all(&self) -> Result<Vec<List>, RepoError>;
}
