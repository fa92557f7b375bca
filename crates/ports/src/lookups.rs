//! Cross-tenant look-ups on the system path (role `leadzone_system`): from a credential or an
//! outside id (an email, an invite or API-key hash, a Stripe subscription, a WhatsApp number) to
//! whose it is, before any tenant is known.

use crate::RepoError;
use leadzone_domain::entities::{ApiKey, Invite, Membership, Tenant, User};
use leadzone_domain::enums::{Role, TenantStatus};
use leadzone_domain::ids::{ApiKeyId, TenantId, UserId};
use time::OffsetDateTime;

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

/// Each method is one question a flow cannot ask inside a tenant.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait Lookups: Send + Sync {
    /// The user with this (lowercase) email, if any.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, RepoError>;

    async fn slug_taken(&self, slug: &str) -> Result<bool, RepoError>;

    /// Every membership of a user across tenants, with its tenant, oldest first.
    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<(Membership, Tenant)>, RepoError>;

    /// The invite whose token hashes to this, in whichever tenant.
    async fn invite_by_token_hash(&self, token_hash: &str) -> Result<Option<Invite>, RepoError>;

    /// The unrevoked, unexpired key with this hash.
    async fn api_key_by_hash(&self, key_hash: &str, now: OffsetDateTime) -> Result<Option<ApiKeyPrincipal>, RepoError>;

    /// Sets `last_used_at`, at most once a minute per key.
    async fn touch_api_key(&self, key: ApiKeyId, now: OffsetDateTime) -> Result<(), RepoError>;

    /// The tenant whose subscription has this Stripe id.
    async fn tenant_by_stripe_subscription(&self, stripe_id: &str) -> Result<Option<TenantId>, RepoError>;

    /// The tenant whose `WHATSAPP` connection has this phone number id (webhook routing).
    async fn tenant_by_whatsapp_number(&self, phone_number_id: &str) -> Result<Option<TenantId>, RepoError>;
}
