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
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }
}
