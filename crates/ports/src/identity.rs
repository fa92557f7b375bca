//! Users and tenants, as a tenant transaction reaches them.

use crate::RepoError;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;

/// Users are platform rows (no tenant), written inside a tenant transaction when a tenant's flow
/// creates or changes one (registration, profile edits).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait UserRepo: Send + Sync {
    /// # Errors
    /// `Conflict("users_email_key")` when the email is taken.
    async fn insert(&self, user: &User) -> Result<(), RepoError>;
    /// # Errors
    /// `NotFound` when no such user exists.
    async fn get(&self, id: UserId) -> Result<User, RepoError>;
    /// Writes name, avatar, phone, password hash, TOTP fields and `updated_at` of `user`.
    ///
    /// # Errors
    /// `NotFound` when no such user exists.
    async fn update(&self, user: &User) -> Result<(), RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait TenantRepo: Send + Sync {
    /// # Errors
    /// `Conflict("tenants_slug_key")` when the slug is taken.
    async fn insert(&self, tenant: &Tenant) -> Result<(), RepoError>;
    /// The transaction's own tenant.
    ///
    /// # Errors
    /// `NotFound` if it does not exist.
    async fn current(&self) -> Result<Tenant, RepoError>;
    /// The tenant, locked until the transaction ends: serialises seat checks.
    async fn lock_current(&self) -> Result<Tenant, RepoError>;
    /// Writes name, logo, settings and `updated_at`.
    async fn update(&self, tenant: &Tenant) -> Result<(), RepoError>;
}
