//! The audit log: append and read.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::enums::AuditEventType;
use leadzone_domain::ids::*;

/// Filters of `GET /audit-logs`, and where the previous page ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub event_type: Option<AuditEventType>,
    pub entity_type: Option<String>,
    pub entity_id: Option<uuid::Uuid>,
    pub user_id: Option<UserId>,
    pub from: Option<time::OffsetDateTime>,
    pub to: Option<time::OffsetDateTime>,
    pub after: Option<(time::OffsetDateTime, AuditLogId)>,
    pub limit: u64,
}

/// What an audit row records besides its event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditLog {
    pub id: AuditLogId,
    pub event_type: AuditEventType,
    pub entity_type: Option<leadzone_domain::enums::AuditEntityType>,
    pub entity_id: Option<uuid::Uuid>,
    pub action: String,
    pub details: AuditDetails,
    pub user_id: Option<UserId>,
    pub ip_address: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait AuditRepo: Send + Sync {
    /// Appends an audit row in this transaction; audit rows are never updated or deleted.
    async fn append(&self, entry: &NewAuditLog) -> Result<(), RepoError>;
    /// Newest first.
    async fn list(&self, query: &AuditQuery) -> Result<Vec<AuditLog>, RepoError>;
}
