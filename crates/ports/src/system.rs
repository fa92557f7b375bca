//! The narrow cross-tenant path (role `leadzone_system`): flows that cannot know their tenant
//! before they run — login by email, resolving a bearer token, slug uniqueness, health checks.

use crate::RepoError;
use leadzone_domain::entities::{Membership, Tenant, User};
use leadzone_domain::enums::{MembershipStatus, Role, TenantStatus};
use leadzone_domain::ids::{SessionId, TenantId, UserId};
use time::OffsetDateTime;

/// A new login session; tokens arrive already hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub access_token_hash: String,
    pub access_expires_at: OffsetDateTime,
    pub refresh_token_hash: String,
    pub refresh_expires_at: OffsetDateTime,
    pub ip_address: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
}

/// What a valid access token resolves to: the session, its user's membership, the tenant's state.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionPrincipal {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub membership_status: MembershipStatus,
    pub tenant_status: TenantStatus,
    pub access_expires_at: OffsetDateTime,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SystemStore: Send + Sync {
    /// Answers when the database does.
    ///
    /// # Errors
    /// `Unavailable` when it does not.
    async fn ping(&self) -> Result<(), RepoError>;

    /// The user with this (lowercase) email, if any.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, RepoError>;

    async fn slug_taken(&self, slug: &str) -> Result<bool, RepoError>;

    /// Every membership of a user across tenants, with its tenant, oldest first.
    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<(Membership, Tenant)>, RepoError>;

    async fn create_session(&self, session: &NewSession) -> Result<(), RepoError>;

    /// Resolves an access-token hash to its principal. Returns `None` when no live session
    /// (unrevoked, unexpired at `now`) has this hash, or its user is no longer a member.
    async fn session_by_access_hash(
        &self,
        access_token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionPrincipal>, RepoError>;

    async fn record_login(&self, user: UserId, at: OffsetDateTime) -> Result<(), RepoError>;
}
