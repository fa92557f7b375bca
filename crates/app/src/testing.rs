//! Test doubles for the use-case unit tests, and for the adapters' tests of what sits on the use
//! cases (feature `testing`): a `TenantTx` made of mockall mocks, an `App` of mocks.

use leadzone_domain::ids::TenantId;
use leadzone_ports::RepoError;
use leadzone_ports::{
    api_keys::*, audit::*, billing::*, flags::*, identity::*, lead_actions::*, leads::*, lists::*, team::*, tx::*,
};

#[derive(Default)]
pub struct FakeTx {
    /// The tenant it must be begun for (tenant 0xA when `None`): beginning it for another fails.
    pub tenant: Option<TenantId>,
    /// Counts its commits; clone it before handing the transaction over to assert on it.
    pub commits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub users: MockUserRepo,
    pub tenants: MockTenantRepo,
    pub memberships: MockMembershipRepo,
    pub subscriptions: MockSubscriptionRepo,
    pub usage: MockUsageRepo,
    pub leads: MockLeadRepo,
    pub lists: MockListRepo,
    pub activities: MockActivityRepo,
    pub audit: MockAuditRepo,
    pub invites: MockInviteRepo,
    pub api_keys: MockApiKeyRepo,
    pub evidence: MockEvidenceRepo,
    pub jobs: leadzone_ports::jobs::MockJobRepo,
    pub features: MockFeatureRepo,
    pub outbox: leadzone_ports::mail::MockOutboxRepo,
    pub integrations: leadzone_ports::integrations::MockIntegrationRepo,
    pub reports: leadzone_ports::intelligence::MockReportRepo,
    pub whatsapp: leadzone_ports::whatsapp::MockWhatsAppRepo,
    pub webhooks: leadzone_ports::webhooks::MockWebhookRepo,
    pub sync: leadzone_ports::sync::MockSyncRepo,
    pub slack: leadzone_ports::slack::MockSlackRepo,
}

#[async_trait::async_trait]
impl TenantTx for FakeTx {
    fn tenant_id(&self) -> TenantId {
        self.tenant.unwrap_or_else(|| uuid::Uuid::from_u128(0xA).into())
    }
    fn users(&self) -> &dyn UserRepo {
        &self.users
    }
    fn tenants(&self) -> &dyn TenantRepo {
        &self.tenants
    }
    fn memberships(&self) -> &dyn MembershipRepo {
        &self.memberships
    }
    fn subscriptions(&self) -> &dyn SubscriptionRepo {
        &self.subscriptions
    }
    fn usage(&self) -> &dyn UsageRepo {
        &self.usage
    }
    fn leads(&self) -> &dyn LeadRepo {
        &self.leads
    }
    fn lists(&self) -> &dyn ListRepo {
        &self.lists
    }
    fn activities(&self) -> &dyn ActivityRepo {
        &self.activities
    }
    fn audit(&self) -> &dyn AuditRepo {
        &self.audit
    }
    fn invites(&self) -> &dyn InviteRepo {
        &self.invites
    }
    fn api_keys(&self) -> &dyn ApiKeyRepo {
        &self.api_keys
    }
    fn evidence(&self) -> &dyn EvidenceRepo {
        &self.evidence
    }
    fn jobs(&self) -> &dyn leadzone_ports::jobs::JobRepo {
        &self.jobs
    }
    fn features(&self) -> &dyn FeatureRepo {
        &self.features
    }
    fn outbox(&self) -> &dyn leadzone_ports::mail::OutboxRepo {
        &self.outbox
    }
    fn integrations(&self) -> &dyn leadzone_ports::integrations::IntegrationRepo {
        &self.integrations
    }
    fn reports(&self) -> &dyn leadzone_ports::intelligence::ReportRepo {
        &self.reports
    }
    fn whatsapp(&self) -> &dyn leadzone_ports::whatsapp::WhatsAppRepo {
        &self.whatsapp
    }
    fn webhooks(&self) -> &dyn leadzone_ports::webhooks::WebhookRepo {
        &self.webhooks
    }
    fn sync(&self) -> &dyn leadzone_ports::sync::SyncRepo {
        &self.sync
    }
    fn slack(&self) -> &dyn leadzone_ports::slack::SlackRepo {
        &self.slack
    }
    async fn commit(self: Box<Self>) -> Result<(), RepoError> {
        self.commits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

/// A unit of work that hands out prepared `FakeTx`s in order, one per `begin`: a use case that
/// runs several transactions gets each its own mocks, and one that begins more than were
/// prepared fails.
pub struct Txs(pub std::sync::Mutex<std::collections::VecDeque<FakeTx>>);

#[async_trait::async_trait]
impl UnitOfWork for Txs {
    async fn begin(&self, tenant: TenantId) -> Result<Box<dyn TenantTx>, RepoError> {
        let tx = self.0.lock().map_err(|_| RepoError::Other("poisoned".into()))?.pop_front();
        let tx = tx.ok_or_else(|| RepoError::Other("no more transactions".into()))?;
        if tx.tenant_id() != tenant {
            return Err(RepoError::Other(format!("a transaction of {} begun for {tenant}", tx.tenant_id())));
        }
        Ok(Box::new(tx))
    }
}

pub struct FixedClock(pub time::OffsetDateTime);

impl leadzone_ports::Clock for FixedClock {
    fn now(&self) -> time::OffsetDateTime {
        self.0
    }
}

/// A surveyor for use cases that never survey.
pub struct NoSurveyor;

#[async_trait::async_trait]
impl leadzone_ports::intelligence::WebsiteSurveyor for NoSurveyor {
    async fn survey(
        &self,
        _website: &str,
        _limits: &leadzone_ports::intelligence::SurveyLimits,
        _observer: &dyn leadzone_ports::intelligence::SurveyObserver,
    ) -> Result<leadzone_ports::intelligence::SurveyOutcome, leadzone_ports::discovery::ProviderError> {
        Err(leadzone_ports::discovery::ProviderError::Unavailable("no surveyor in unit tests".into()))
    }
}

pub fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-26 08:00 UTC)
}

/// Lead `n` of tenant 0xA, created by user 1 at `now()`.
pub fn lead(n: u128) -> leadzone_domain::entities::Lead {
    leadzone_domain::entities::Lead {
        id: uuid::Uuid::from_u128(n).into(),
        tenant_id: uuid::Uuid::from_u128(0xA).into(),
        company_name: format!("شركة النخبة {n}"),
        industry: None,
        city: None,
        phone: None,
        email: None,
        website: None,
        status: leadzone_domain::enums::LeadStatus::New,
        score: None,
        tags: Vec::new(),
        enrichment_data: Default::default(),
        list_id: None,
        assigned_to: None,
        created_by: uuid::Uuid::from_u128(1).into(),
        created_at: now(),
        updated_at: now(),
        last_contacted_at: None,
    }
}

/// Tenant 0xA, active.
pub fn tenant() -> leadzone_domain::entities::Tenant {
    leadzone_domain::entities::Tenant {
        id: uuid::Uuid::from_u128(0xA).into(),
        name: "Najd".into(),
        slug: "najd".into(),
        logo_url: None,
        status: leadzone_domain::enums::TenantStatus::Active,
        settings: Default::default(),
        created_at: now(),
        updated_at: now(),
    }
}

/// User `user`'s active membership of tenant 0xA as `role`.
pub fn member(user: u128, role: leadzone_domain::enums::Role) -> leadzone_domain::entities::Membership {
    leadzone_domain::entities::Membership {
        id: uuid::Uuid::from_u128(100 + user).into(),
        user_id: uuid::Uuid::from_u128(user).into(),
        tenant_id: uuid::Uuid::from_u128(0xA).into(),
        role,
        status: leadzone_domain::enums::MembershipStatus::Active,
        manager_id: None,
        created_at: now(),
        updated_at: now(),
    }
}

/// The free plan with `leads` leads a month.
pub fn plan(leads: i64) -> leadzone_domain::entities::Plan {
    use leadzone_domain::entities::Limit;
    leadzone_domain::entities::Plan {
        id: leadzone_domain::ids::PlanId::free(),
        name: "Free".into(),
        name_ar: "مجاني".into(),
        description: None,
        price_monthly: 0,
        price_yearly: 0,
        seats_limit: Limit::from_stored(3),
        leads_limit: Limit::from_stored(leads),
        searches_limit: Limit::from_stored(10),
        messages_limit: Limit::from_stored(50),
        features: vec![],
        is_active: true,
        sort_order: 0,
        created_at: now(),
        updated_at: now(),
    }
}

/// Tenant 0xA's monthly subscription to the free plan, in `status`.
pub fn subscription(status: leadzone_domain::enums::SubscriptionStatus) -> leadzone_domain::entities::Subscription {
    leadzone_domain::entities::Subscription {
        id: uuid::Uuid::nil().into(),
        tenant_id: uuid::Uuid::from_u128(0xA).into(),
        plan_id: leadzone_domain::ids::PlanId::free(),
        status,
        billing_cycle: leadzone_domain::enums::BillingCycle::Monthly,
        current_period_start: now(),
        current_period_end: now(),
        cancel_at_period_end: false,
        trial_ends_at: None,
        stripe_subscription_id: None,
        created_at: now(),
        updated_at: now(),
        stripe_event_at: None,
    }
}

/// An `App` whose tenant transaction is `tx`; other ports are strict mocks with no expectations.
pub fn app_with(tx: FakeTx) -> crate::App {
    app_with_txs(vec![tx])
}

/// An `App` whose tenant transactions are `txs`, in the order the use case begins them.
pub fn app_with_txs(txs: Vec<FakeTx>) -> crate::App {
    crate::App::new(ports_with_txs(txs))
}

/// Ports of mocks (no expectations: a call fails the test) whose tenant transactions are `txs`;
/// set the ports a test expects calls on, then build the services with [`crate::App::new`].
pub fn ports_with_txs(txs: Vec<FakeTx>) -> crate::Ports {
    use std::sync::Arc;
    crate::Ports {
        uow: Arc::new(Txs(std::sync::Mutex::new(txs.into()))),
        sessions: Arc::new(leadzone_ports::sessions::MockSessionStore::new()),
        lookups: Arc::new(leadzone_ports::lookups::MockLookups::new()),
        platform: Arc::new(leadzone_ports::platform::MockPlatformStore::new()),
        sweeps: Arc::new(leadzone_ports::sweeps::MockSweeps::new()),
        hasher: Arc::new(leadzone_ports::security::MockPasswordHasher::new()),
        tokens: Arc::new(leadzone_ports::security::MockTokens::new()),
        secrets: Arc::new(leadzone_ports::security::MockSecretBox::new()),
        totp: Arc::new(leadzone_ports::security::MockTotp::new()),
        blobs: Arc::new(leadzone_ports::blobs::MockBlobStore::new()),
        clock: Arc::new(FixedClock(now())),
        ids: Arc::new(crate::UuidV7),
        config: Arc::new(crate::AppConfig::default()),
        providers: crate::Providers {
            places: Arc::new(leadzone_ports::discovery::MockPlacesProvider::new()),
            places_key: None,
            contacts: Arc::new(leadzone_ports::discovery::MockContactsProvider::new()),
            contacts_key: None,
            doubles: None,
            surveyor: Arc::new(NoSurveyor),
            reports: Arc::new(leadzone_ports::intelligence::MockReportWriter::new()),
            whatsapp: Arc::new(leadzone_ports::whatsapp::MockWhatsAppApi::new()),
            webhooks: Arc::new(leadzone_ports::webhooks::MockWebhookSender::new()),
            hubspot: Arc::new(leadzone_ports::sync::MockHubSpotApi::new()),
            salesforce: Arc::new(leadzone_ports::sync::MockSalesforceApi::new()),
            notion: Arc::new(leadzone_ports::sync::MockNotionApi::new()),
            slack: Arc::new(leadzone_ports::slack::MockSlackApi::new()),
        },
    }
}

pub fn ctx(role: leadzone_domain::enums::Role, user: u128) -> crate::Ctx {
    crate::Ctx {
        user_id: uuid::Uuid::from_u128(user).into(),
        tenant_id: uuid::Uuid::from_u128(0xA).into(),
        role,
        permissions: role.permissions(),
        via: crate::ctx::Via::Session(uuid::Uuid::nil().into()),
        client: crate::ClientInfo::default(),
        tenant_status: leadzone_domain::enums::TenantStatus::Active,
        subscription_status: None,
    }
}

/// A blob store in memory.
#[derive(Default)]
pub struct MemBlobs(pub std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>);

impl MemBlobs {
    fn files(&self) -> Result<std::sync::MutexGuard<'_, std::collections::HashMap<String, Vec<u8>>>, RepoError> {
        self.0.lock().map_err(|_| RepoError::Other("poisoned".into()))
    }
}

#[async_trait::async_trait]
impl leadzone_ports::blobs::BlobStore for MemBlobs {
    async fn put(&self, key: &str, data: &[u8]) -> Result<(), RepoError> {
        self.files()?.insert(key.to_owned(), data.to_vec());
        Ok(())
    }
    async fn put_stream(&self, key: &str, mut body: leadzone_ports::blobs::ByteStream) -> Result<u64, RepoError> {
        let mut all = Vec::new();
        while let Some(piece) = futures::StreamExt::next(&mut body).await {
            all.extend_from_slice(&piece?);
        }
        let n = all.len() as u64;
        self.files()?.insert(key.to_owned(), all);
        Ok(n)
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, RepoError> {
        self.files()?.get(key).cloned().ok_or(RepoError::NotFound)
    }
    async fn read_at(&self, key: &str, offset: u64, max: usize) -> Result<Vec<u8>, RepoError> {
        let data = self.get(key).await?;
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
        Ok(data.get(from..from.saturating_add(max).min(data.len())).unwrap_or_default().to_vec())
    }
    async fn delete(&self, key: &str) -> Result<(), RepoError> {
        self.files()?.remove(key);
        Ok(())
    }
    async fn folders(&self, _: &str) -> Result<Vec<String>, RepoError> {
        Ok(Vec::new())
    }
    async fn delete_folder(&self, _: &str) -> Result<u64, RepoError> {
        Ok(0)
    }
    async fn purge_abandoned(&self, _: time::OffsetDateTime) -> Result<u64, RepoError> {
        Ok(0)
    }
}
