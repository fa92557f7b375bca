//! What happens to a lead: its timeline (activities) and its evidence.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ActivityRepo: Send + Sync {
    async fn insert(&self, activity: &Activity) -> Result<(), RepoError>;
    async fn insert_many(&self, activities: &[Activity]) -> Result<(), RepoError>;
    /// A lead's timeline, newest first, after `(created_at, id)` when paging.
    async fn list(
        &self,
        lead: LeadId,
        after: Option<(time::OffsetDateTime, ActivityId)>,
        limit: u64,
    ) -> Result<Vec<Activity>, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait EvidenceRepo: Send + Sync {
    async fn insert(&self, evidence: &Evidence) -> Result<(), RepoError>;
    /// Inserts many rows in one statement (a search page's provenance, a survey's facts).
    async fn insert_many(&self, evidence: &[Evidence]) -> Result<(), RepoError>;
    /// A lead's evidence, newest first.
    async fn list(&self, lead: LeadId) -> Result<Vec<Evidence>, RepoError>;
}
