//! The narrow cross-tenant path (role `leadzone_system`): flows that cannot know their tenant
//! before they run — login by email, resolving a bearer token, slug uniqueness, health checks.

use crate::RepoError;
use leadzone_domain::entities::{ApiKey, Invite, Membership, Tenant, User};
use leadzone_domain::enums::{MembershipStatus, Role, TenantStatus};
use leadzone_domain::ids::{ApiKeyId, SessionId, TenantId, UserId};
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

/// What a valid API key resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyPrincipal {
    pub subscription_status: Option<leadzone_domain::enums::SubscriptionStatus>,
    pub key: ApiKey,
    pub tenant_status: TenantStatus,
    /// The creator's current role when they are still an active member; `None` otherwise (a
    /// removed or suspended member's keys stop working).
    pub creator_role: Option<Role>,
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

    /// The invite whose token hashes to this, in whichever tenant.
    async fn invite_by_token_hash(&self, token_hash: &str) -> Result<Option<Invite>, RepoError>;

    /// The unrevoked, unexpired key with this hash.
    async fn api_key_by_hash(&self, key_hash: &str, now: OffsetDateTime) -> Result<Option<ApiKeyPrincipal>, RepoError>;
    /// Sets `last_used_at`, at most once a minute per key.
    async fn touch_api_key(&self, key: ApiKeyId, now: OffsetDateTime) -> Result<(), RepoError>;

    /// Platform admin: tenants by creation, after `after`.
    async fn list_tenants(&self, after: Option<TenantId>, limit: u64) -> Result<Vec<Tenant>, RepoError>;
    /// Tenants whose subscription is due a period-end change at `now`: cancelled at period end
    /// and past it, or PAST_DUE since before `past_due_before`.
    async fn due_subscriptions(
        &self,
        now: OffsetDateTime,
        past_due_before: OffsetDateTime,
    ) -> Result<Vec<TenantId>, RepoError>;
    /// The tenant whose subscription has this Stripe id.
    async fn tenant_by_stripe_subscription(&self, stripe_id: &str) -> Result<Option<TenantId>, RepoError>;
    /// The tenant whose `WHATSAPP` connection has this phone number id (webhook routing).
    async fn tenant_by_whatsapp_number(&self, phone_number_id: &str) -> Result<Option<TenantId>, RepoError>;
    /// Tenants with a CONNECTED `WHATSAPP` connection (the worker syncs their templates).
    async fn whatsapp_tenants(&self) -> Result<Vec<TenantId>, RepoError>;
    /// CONNECTED CRM connections with `config.syncEveryMinutes` whose last sync is older than that
    /// (or that never synced): (tenant, type), with an active OWNER of the tenant to act as.
    async fn due_syncs(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<(TenantId, leadzone_domain::enums::IntegrationType, leadzone_domain::ids::UserId)>, RepoError>;
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

    /// # Errors
    /// `NotFound` when no such tenant exists.
    async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: TenantStatus,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError>;
}
