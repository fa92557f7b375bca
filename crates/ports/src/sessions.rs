//! Login sessions on the system path (role `leadzone_system`): a session is found by its token
//! before its tenant is known. Also login throttling and spent one-time-code steps.

use crate::RepoError;
use leadzone_domain::enums::{MembershipStatus, Role, TenantStatus};
use leadzone_domain::ids::{SessionId, TenantId, UserId};
use std::net::IpAddr;
use time::OffsetDateTime;

/// Failed logins for one email within the throttling window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    /// From the client asked about: how many, and the oldest.
    pub from_ip: i64,
    pub from_ip_oldest: Option<OffsetDateTime>,
    /// From every client, that one included.
    pub total: i64,
    pub total_oldest: Option<OffsetDateTime>,
}

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
    pub subscription_status: Option<leadzone_domain::enums::SubscriptionStatus>,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub membership_status: MembershipStatus,
    pub tenant_status: TenantStatus,
    pub access_expires_at: OffsetDateTime,
}

/// The new pair that replaces a session's tokens on refresh (already hashed).
#[derive(Debug, Clone, PartialEq)]
pub struct RotatedTokens {
    pub access_token_hash: String,
    pub access_expires_at: OffsetDateTime,
    pub refresh_token_hash: String,
    pub refresh_expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// The tokens were rotated; the principal is the session's, as of now.
    Rotated(SessionPrincipal),
    /// The token was already rotated away: it leaked. The whole session is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

/// Sessions: create, resolve, rotate, revoke; failed-login counts; TOTP steps.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, session: &NewSession) -> Result<(), RepoError>;

    /// Resolves an access-token hash to its principal. Returns `None` when no live session
    /// (unrevoked, unexpired at `now`) has this hash, or its user is no longer a member.
    async fn session_by_access_hash(
        &self,
        access_token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionPrincipal>, RepoError>;

    async fn record_login(&self, user: UserId, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Records that the user spent one-time-code time step `step`; false when that step or a
    /// later one was already spent (a replayed code). Atomic across concurrent logins.
    async fn claim_totp_step(&self, user: UserId, step: i64) -> Result<bool, RepoError>;

    /// Swaps a session's tokens when `refresh_token_hash` is its live refresh token; detects reuse
    /// of a rotated one (and then revokes the session).
    async fn rotate_refresh(
        &self,
        refresh_token_hash: &str,
        new: &RotatedTokens,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, RepoError>;

    async fn revoke_session(&self, session: SessionId, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Revokes every live session of `user` in `tenant`.
    async fn revoke_tenant_sessions(
        &self,
        user: UserId,
        tenant: TenantId,
        at: OffsetDateTime,
    ) -> Result<u64, RepoError>;

    /// Revokes every live session of `user`, except `keep`.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
    ) -> Result<u64, RepoError>;

    /// Failed logins for `email` since `since`, from the client `ip` and from every client.
    /// `email` is the throttle key (a hash of the address as typed); `ip: None` is a client of
    /// unknown address, counted as one client of its own.
    async fn login_failures(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        since: OffsetDateTime,
    ) -> Result<LoginFailures, RepoError>;

    async fn record_login_failure(&self, email: &str, ip: Option<IpAddr>, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Forgets the failures for `email` from `ip` only (a success there); other clients' stay.
    async fn clear_login_failures(&self, email: &str, ip: Option<IpAddr>) -> Result<(), RepoError>;
}
