//! Who is acting, for which tenant, with which permissions, from where.

use leadzone_domain::access::Permission;
use leadzone_domain::enums::{Role, TenantStatus};
use leadzone_domain::ids::{ApiKeyId, SessionId, TenantId, UserId};
use std::net::IpAddr;

/// Request facts recorded in audit rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// How the actor authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Session(SessionId),
    ApiKey(ApiKeyId),
}

/// The context of every tenant use case (architecture.md, Tenancy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    /// Effective permissions: the role's, or for an API key its scopes ∩ ADMIN's.
    pub permissions: Vec<Permission>,
    pub via: Via,
    pub client: ClientInfo,
    /// Checked by `policy::require`: a suspended tenant may only read `GET /me` and billing.
    pub tenant_status: TenantStatus,
    /// An UNPAID subscription leaves the tenant read-only (`policy::require`).
    pub subscription_status: Option<leadzone_domain::enums::SubscriptionStatus>,
}

impl Ctx {
    /// The context of work done for a member outside a request of their own: a job running on
    /// its creator's behalf, the audit row of an accepted invitation or of a login. It carries
    /// the tenant's and the subscription's state as they are now, so `policy::require` refuses
    /// what a request would be refused (a suspended tenant, an unpaid subscription).
    pub fn on_behalf_of(
        user_id: UserId,
        tenant_id: TenantId,
        role: Role,
        client: ClientInfo,
        tenant_status: TenantStatus,
        subscription_status: Option<leadzone_domain::enums::SubscriptionStatus>,
    ) -> Self {
        Self {
            user_id,
            tenant_id,
            role,
            permissions: role.permissions(),
            via: Via::Session(SessionId::from_uuid(uuid::Uuid::nil())),
            client,
            tenant_status,
            subscription_status,
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }
}
