//! Tenant-scoped storage. All tenant data is reached through one `TenantTx`: a database
//! transaction whose tenant is fixed when it begins (Postgres row-level security applies to every
//! statement inside it). Dropping a `TenantTx` without `commit` rolls everything back. Each
//! repository it hands out lives in its capability's module.

use crate::RepoError;
use crate::api_keys::ApiKeyRepo;
use crate::audit::AuditRepo;
use crate::billing::{SubscriptionRepo, UsageRepo};
use crate::flags::FeatureRepo;
use crate::identity::{TenantRepo, UserRepo};
use crate::lead_actions::{ActivityRepo, EvidenceRepo};
use crate::leads::LeadRepo;
use crate::lists::ListRepo;
use crate::team::{InviteRepo, MembershipRepo};
use leadzone_domain::ids::*;

/// Opens tenant-scoped transactions.
#[async_trait::async_trait]
pub trait UnitOfWork: Send + Sync {
    /// Begins a transaction bound to `tenant`.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn begin(&self, tenant: TenantId) -> Result<Box<dyn TenantTx>, RepoError>;

    /// Begins a read-only transaction bound to `tenant`, for listings: nothing can be written
    /// through it. With `search`, every query in it is planned for its own arguments (a plan
    /// cached for one search word can be a thousand times slower for another); otherwise the
    /// database may reuse a plan, which saves the planning of each filtered listing.
    ///
    /// # Errors
    /// `Unavailable` when the database cannot be reached.
    async fn begin_read(&self, tenant: TenantId, _search: bool) -> Result<Box<dyn TenantTx>, RepoError> {
        self.begin(tenant).await
    }
}

/// One tenant-scoped transaction and the repositories that run inside it.
#[async_trait::async_trait]
pub trait TenantTx: Send + Sync {
    fn tenant_id(&self) -> TenantId;
    fn users(&self) -> &dyn UserRepo;
    fn tenants(&self) -> &dyn TenantRepo;
    fn memberships(&self) -> &dyn MembershipRepo;
    fn subscriptions(&self) -> &dyn SubscriptionRepo;
    fn usage(&self) -> &dyn UsageRepo;
    fn leads(&self) -> &dyn LeadRepo;
    fn lists(&self) -> &dyn ListRepo;
    fn activities(&self) -> &dyn ActivityRepo;
    fn audit(&self) -> &dyn AuditRepo;
    fn invites(&self) -> &dyn InviteRepo;
    fn api_keys(&self) -> &dyn ApiKeyRepo;
    fn evidence(&self) -> &dyn EvidenceRepo;
    fn jobs(&self) -> &dyn crate::jobs::JobRepo;
    fn features(&self) -> &dyn FeatureRepo;
    /// Mail queued with the change that sends it.
    fn outbox(&self) -> &dyn crate::mail::OutboxRepo;
    fn integrations(&self) -> &dyn crate::integrations::IntegrationRepo;
    fn reports(&self) -> &dyn crate::intelligence::ReportRepo;
    fn whatsapp(&self) -> &dyn crate::whatsapp::WhatsAppRepo;
    fn webhooks(&self) -> &dyn crate::webhooks::WebhookRepo;
    fn sync(&self) -> &dyn crate::sync::SyncRepo;
    fn slack(&self) -> &dyn crate::slack::SlackRepo;

    /// Makes every write of this transaction durable.
    ///
    /// # Errors
    /// `Conflict` when a deferred constraint fails; `Unavailable` when the connection is lost
    /// (the outcome is then unknown to the caller and nothing may be assumed written).
    async fn commit(self: Box<Self>) -> Result<(), RepoError>;
}
