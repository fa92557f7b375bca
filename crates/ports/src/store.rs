//! Tenant-scoped storage. All tenant data is reached through one `TenantTx`: a database
//! transaction whose tenant is fixed when it begins (Postgres row-level security applies to every
//! statement inside it). Dropping a `TenantTx` without `commit` rolls everything back.

use crate::RepoError;
use crate::leads::{DuplicateMatch, LeadQuery};
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::*;
use leadzone_domain::enums::{AuditEventType, UsageMetric};
use leadzone_domain::ids::*;
use leadzone_domain::leads::{DedupKeys, LeadFilter};
use std::hash::BuildHasher as _;

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

/// A member as the team page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberView {
    pub membership: Membership,
    pub email: String,
    pub name: String,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait MembershipRepo: Send + Sync {
    /// # Errors
    /// `Conflict` when the user is already a member.
    async fn insert(&self, membership: &Membership) -> Result<(), RepoError>;
    /// The membership of `user` in this tenant.
    ///
    /// # Errors
    /// `NotFound` when the user is not a member.
    async fn get_by_user(&self, user: UserId) -> Result<Membership, RepoError>;
    /// Users whose `managerId` is `manager` (a MANAGER's team).
    async fn team_of(&self, manager: UserId) -> Result<Vec<UserId>, RepoError>;
    /// # Errors
    /// `NotFound` when no such membership exists in this tenant.
    async fn get(&self, id: MembershipId) -> Result<Membership, RepoError>;
    async fn list(&self) -> Result<Vec<MemberView>, RepoError>;
    async fn update(&self, membership: &Membership) -> Result<(), RepoError>;
    async fn delete(&self, id: MembershipId) -> Result<(), RepoError>;
    /// Active OWNERs, with their rows locked until the transaction ends, so that two concurrent
    /// demotions cannot both see "another owner remains".
    async fn lock_active_owners(&self) -> Result<Vec<MembershipId>, RepoError>;
    async fn count_active(&self) -> Result<i64, RepoError>;
    /// Clears `managerId` wherever it names `user`.
    async fn clear_manager(&self, user: UserId) -> Result<(), RepoError>;
    /// Whether a user with this email is a member already.
    async fn email_is_member(&self, email: &str) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SubscriptionRepo: Send + Sync {
    async fn insert(&self, subscription: &Subscription) -> Result<(), RepoError>;
    /// The tenant's subscription with its plan.
    ///
    /// # Errors
    /// `NotFound` if the tenant has none.
    async fn current_with_plan(&self) -> Result<(Subscription, Plan), RepoError>;
    async fn update(&self, subscription: &Subscription) -> Result<(), RepoError>;
    /// Records an inbound webhook event in this transaction; `false` when it was already
    /// recorded (a replay: apply nothing).
    async fn record_webhook_event(
        &self,
        provider: &str,
        event_id: &str,
        created: time::OffsetDateTime,
    ) -> Result<bool, RepoError>;
}

/// The outcome of a metered increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Increment {
    /// Counted; the counter now reads `value`.
    Counted { value: i64 },
    /// Refused: `used + n` would pass `limit`. Nothing changed.
    Refused { used: i64, limit: i64 },
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait UsageRepo: Send + Sync {
    /// Atomically adds `n` to the counter of `metric` in `period` unless that would pass `limit`
    /// (`Limit::Unlimited` never refuses). Concurrent callers are serialised by the row, so with
    /// k units left exactly k single-unit increments succeed. Rolled back with the transaction.
    async fn try_increment(
        &self,
        metric: UsageMetric,
        period: &str,
        n: i64,
        limit: Limit,
    ) -> Result<Increment, RepoError>;
    /// The tenant's counters of one period.
    async fn for_period(&self, period: &str) -> Result<Vec<UsageCounter>, RepoError>;
    /// Gives back `n` units counted in `period` (never below zero).
    async fn give_back(&self, metric: UsageMetric, period: &str, n: i64) -> Result<(), RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait LeadRepo: Send + Sync {
    async fn insert(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError>;
    /// # Errors
    /// `NotFound` when the lead does not exist in this tenant.
    async fn get(&self, id: LeadId) -> Result<Lead, RepoError>;
    /// One page of leads, in the query's order, starting after its position.
    async fn list(&self, query: &LeadQuery) -> Result<Vec<crate::leads::ListedLead>, RepoError>;
    /// An existing lead (other than `exclude`) with the same phone, website host, or name and city.
    /// Takes a transaction-scoped lock on the keys first, so two concurrent writes of one company
    /// cannot both pass.
    async fn find_duplicate(
        &self,
        keys: &DedupKeys,
        exclude: Option<LeadId>,
    ) -> Result<Option<DuplicateMatch>, RepoError>;
    /// Unassigns every lead assigned to `user`; returns how many.
    async fn unassign_user(&self, user: UserId) -> Result<u64, RepoError>;
    /// Writes every field of `lead` (and its dedup keys).
    async fn update(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError>;
    /// # Errors
    /// `NotFound` when the lead does not exist in this tenant.
    async fn delete(&self, id: LeadId) -> Result<(), RepoError>;
    /// Ids of the visible leads matching `filter`, oldest first, at most `limit`.
    async fn matching_ids(
        &self,
        visibility: &LeadVisibility,
        filter: &LeadFilter,
        limit: u64,
    ) -> Result<Vec<LeadId>, RepoError>;
    /// Applies one change to those of `ids` that are visible (and, for a status change, allowed
    /// from their current status). Returns the ids actually changed.
    async fn bulk(
        &self,
        change: &BulkChange,
        ids: &[LeadId],
        visibility: &LeadVisibility,
        at: time::OffsetDateTime,
    ) -> Result<Vec<LeadId>, RepoError>;
    /// For each filter, how many visible leads match it — in one statement.
    async fn count_matching(&self, visibility: &LeadVisibility, filters: &[LeadFilter]) -> Result<Vec<i64>, RepoError>;
    async fn stats(&self, visibility: &LeadVisibility, since: time::OffsetDateTime) -> Result<LeadStats, RepoError>;
    async fn touch_contacted(&self, id: LeadId, at: time::OffsetDateTime) -> Result<(), RepoError>;
    /// Inserts many leads in one statement (imports). Rows must already be validated and
    /// deduplicated by the caller; returns the ids inserted now. With `may_exist` (a resumed or
    /// retried import sends again what an earlier attempt may have written) a lead whose id is
    /// stored already is skipped; without it, that is a `Conflict` and nothing is inserted —
    /// the cheaper statement for an import's first run. For imports only: the transaction then
    /// commits without waiting for the disk (a batch lost in a crash is stored again when the
    /// import resumes).
    async fn insert_many(&self, leads: Vec<(Lead, DedupKeys)>, may_exist: bool) -> Result<Vec<LeadId>, RepoError>;
    /// Which of these keys already belong to a lead of the tenant other than the `except` ones
    /// (for batch duplicate checks). The keys stay fenced until the transaction ends: a single
    /// lead written meanwhile with one of them (`find_duplicate`) waits for the batch, then sees
    /// its rows.
    async fn existing_keys(&self, keys: &[DedupKeys], except: &[LeadId]) -> Result<ExistingKeys, RepoError>;
    /// Takes the tenant's discovery lock until the transaction ends: two discovery jobs of one
    /// tenant (two searches at once) store their pages one after the other, so the second sees
    /// the first's leads among the existing keys and never creates the same company twice.
    async fn lock_discovery(&self) -> Result<(), RepoError>;
}

/// Dedup keys found among a tenant's leads (or met earlier in one import file). hashbrown's
/// default hasher (foldhash, seeded per process) and one set of (name, city) pairs: with std's
/// SipHash and a set of cities per company name, keeping the keys of a 1,000,000-row file was a
/// quarter of an import's own CPU time.
#[derive(Debug, Clone, Default)]
pub struct ExistingKeys {
    phones: KeySet,
    hosts: KeySet,
    /// `(name_key, city_key)`, the city empty when there is none.
    names: KeySet,
    /// Place ids (leads found by discovery).
    places: KeySet,
    /// Room each set takes when its first key comes.
    expected: usize,
}

impl ExistingKeys {
    /// Empty, and sized for `n` keys of each kind that comes: a 1,000,000-row file's keys go in
    /// without the sets growing (and rehashing everything) twenty times; a kind the file does not
    /// have takes no room.
    pub fn expecting(n: usize) -> Self {
        Self { expected: n, ..Self::default() }
    }

    /// Whether a lead with these keys would duplicate one of the found leads.
    pub fn matches(&self, keys: &DedupKeys) -> bool {
        keys.phone.as_ref().is_some_and(|p| self.phones.contains((p, "")))
            || keys.website_host.as_ref().is_some_and(|h| self.hosts.contains((h, "")))
            || (!keys.name_key.is_empty()
                && self.names.contains((&keys.name_key, keys.city_key.as_deref().unwrap_or(""))))
            || keys.place_id.as_ref().is_some_and(|p| self.places.contains((p, "")))
    }

    /// Adds these keys (a row accepted earlier in the same file).
    pub fn add(&mut self, keys: &DedupKeys) {
        if let Some(p) = &keys.phone {
            self.add_phone(p);
        }
        if let Some(h) = &keys.website_host {
            self.add_host(h);
        }
        if !keys.name_key.is_empty() {
            self.add_name(&keys.name_key, keys.city_key.as_deref().unwrap_or(""));
        }
        if let Some(p) = &keys.place_id {
            self.add_place(p);
        }
    }

    pub fn add_place(&mut self, place_id: &str) {
        self.places.insert((place_id, ""), self.expected);
    }

    pub fn add_phone(&mut self, phone: &str) {
        self.phones.insert((phone, ""), self.expected);
    }

    pub fn add_host(&mut self, host: &str) {
        self.hosts.insert((host, ""), self.expected);
    }

    pub fn add_name(&mut self, name_key: &str, city_key: &str) {
        self.names.insert((name_key, city_key), self.expected);
    }
}

/// The same keys, however much room either was given.
impl PartialEq for ExistingKeys {
    fn eq(&self, other: &Self) -> bool {
        self.phones == other.phones
            && self.hosts == other.hosts
            && self.names == other.names
            && self.places == other.places
    }
}

impl Eq for ExistingKeys {}

/// A set of keys of one kind, each one or two texts. The texts live in one buffer, so that a
/// file's 1,000,000 keys are a few allocations to make and to free rather than one each: freeing
/// them one by one held up the end of a 1,000,000-row import by a quarter of a second.
#[derive(Debug, Clone, Default)]
struct KeySet {
    text: String,
    /// Where each key lies in `text`: 8 bytes a key, so a 1,000,000-key set's table is 16 MiB
    /// (with three `usize`s it was 48 MiB, and an import keeps two or three such sets).
    spans: hashbrown::HashTable<Span>,
    /// Keys too long for a span (never met: names, cities, phones, hosts and place ids are far
    /// shorter than 64 KiB), looked through one by one.
    long: Vec<(String, String)>,
    hasher: hashbrown::DefaultHashBuilder,
}

/// A key in `KeySet::text`: where it starts and the lengths of its two parts.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    first: u16,
    second: u16,
}

impl Span {
    fn new(start: usize, key: (&str, &str)) -> Option<Self> {
        Some(Self {
            start: u32::try_from(start).ok()?,
            first: u16::try_from(key.0.len()).ok()?,
            second: u16::try_from(key.1.len()).ok()?,
        })
    }
}

/// The key a span of `text` holds.
fn key_at<'a>(text: &'a str, span: &Span) -> (&'a str, &'a str) {
    let start = span.start as usize;
    let middle = start + usize::from(span.first);
    (
        text.get(start..middle).unwrap_or_default(),
        text.get(middle..middle + usize::from(span.second)).unwrap_or_default(),
    )
}

impl KeySet {
    fn contains(&self, key: (&str, &str)) -> bool {
        self.contains_hashed(self.hasher.hash_one(key), key)
    }

    fn contains_hashed(&self, hash: u64, key: (&str, &str)) -> bool {
        self.spans.find(hash, |span| key_at(&self.text, span) == key).is_some()
            || (!self.long.is_empty() && self.long.iter().any(|(a, b)| (a.as_str(), b.as_str()) == key))
    }

    /// Adds `key` unless it is in already; the first key gives the set room for `expected`.
    fn insert(&mut self, key: (&str, &str), expected: usize) {
        let hash = self.hasher.hash_one(key);
        if self.contains_hashed(hash, key) {
            return;
        }
        let Self { text, spans, long, hasher } = self;
        let Some(span) = Span::new(text.len(), key) else {
            long.push((key.0.to_owned(), key.1.to_owned()));
            return;
        };
        if spans.capacity() == 0 {
            spans.reserve(expected, |span| hasher.hash_one(key_at(text, span)));
        }
        text.push_str(key.0);
        text.push_str(key.1);
        spans.insert_unique(hash, span, |span| hasher.hash_one(key_at(text, span)));
    }

    fn len(&self) -> usize {
        self.spans.len() + self.long.len()
    }
}

impl PartialEq for KeySet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.spans.iter().all(|span| other.contains(key_at(&self.text, span)))
            && self.long.iter().all(|(a, b)| other.contains((a, b)))
    }
}

/// One change applied to many leads at once (`POST /leads/bulk`).
#[derive(Debug, Clone, PartialEq)]
pub enum BulkChange {
    Delete,
    Assign(Option<UserId>),
    SetStatus(leadzone_domain::enums::LeadStatus),
    AddToList(ListId),
    RemoveFromList(ListId),
    AddTags(Vec<String>),
    RemoveTags(Vec<String>),
}

/// `GET /stats/leads`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadStats {
    pub total: i64,
    pub by_status: Vec<(leadzone_domain::enums::LeadStatus, i64)>,
    pub by_city: Vec<(String, i64)>,
    pub by_industry: Vec<(String, i64)>,
    /// (day in UTC, leads created that day), oldest first.
    pub created_per_day: Vec<(time::Date, i64)>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait InviteRepo: Send + Sync {
    async fn insert(&self, invite: &Invite) -> Result<(), RepoError>;
    async fn list(&self) -> Result<Vec<Invite>, RepoError>;
    /// # Errors
    /// `NotFound` when no such invite exists in this tenant.
    async fn get(&self, id: InviteId) -> Result<Invite, RepoError>;
    /// Moves a PENDING invite to `status`; `false` when it was no longer pending (a race lost).
    async fn finish(
        &self,
        id: InviteId,
        status: leadzone_domain::enums::InviteStatus,
        at: time::OffsetDateTime,
    ) -> Result<bool, RepoError>;
    /// Pending invites that have not expired at `now`.
    async fn count_pending(&self, now: time::OffsetDateTime) -> Result<i64, RepoError>;
    async fn pending_for_email(&self, email: &str, now: time::OffsetDateTime) -> Result<bool, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ApiKeyRepo: Send + Sync {
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError>;
    async fn list(&self) -> Result<Vec<ApiKey>, RepoError>;
    /// # Errors
    /// `NotFound` when no such key exists in this tenant.
    async fn get(&self, id: ApiKeyId) -> Result<ApiKey, RepoError>;
    async fn revoke(&self, id: ApiKeyId, at: time::OffsetDateTime) -> Result<(), RepoError>;
    /// Revokes every live key `user` created in this tenant.
    async fn revoke_created_by(&self, user: UserId, at: time::OffsetDateTime) -> Result<u64, RepoError>;
}

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

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ListRepo: Send + Sync {
    /// # Errors
    /// `NotFound` when the list does not exist in this tenant.
    async fn get(&self, id: ListId) -> Result<List, RepoError>;
    async fn insert(&self, list: &List) -> Result<(), RepoError>;
    async fn update(&self, list: &List) -> Result<(), RepoError>;
    /// Leads of a deleted list keep existing, without a list.
    async fn delete(&self, id: ListId) -> Result<(), RepoError>;
    async fn all(&self) -> Result<Vec<List>, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ActivityRepo: Send + Sync {
    async fn insert(&self, activity: &Activity) -> Result<(), RepoError>;
    async fn insert_many(&self, activities: &[Activity]) -> Result<(), RepoError>;
    /// A lead's timeline, newest first, after `(created_at, id)` when paging.
    async fn list(
        &self,
        lead: LeadId,
        after: Option<(time::OffsetDateTime, ActivityId)>,
        limit: u64,
    ) -> Result<Vec<Activity>, RepoError>;
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait EvidenceRepo: Send + Sync {
    async fn insert(&self, evidence: &Evidence) -> Result<(), RepoError>;
    /// Inserts many rows in one statement (a search page's provenance, a survey's facts).
    async fn insert_many(&self, evidence: &[Evidence]) -> Result<(), RepoError>;
    /// A lead's evidence, newest first.
    async fn list(&self, lead: LeadId) -> Result<Vec<Evidence>, RepoError>;
}

/// What an audit row records besides its event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditLog {
    pub id: AuditLogId,
    pub event_type: AuditEventType,
    pub entity_type: Option<String>,
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

/// Plans, flags and this tenant's overrides, as the flag evaluation needs them.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait FeatureRepo: Send + Sync {
    /// Active plans by `sortOrder`.
    async fn plans(&self) -> Result<Vec<Plan>, RepoError>;
    async fn flags(&self) -> Result<Vec<FeatureFlag>, RepoError>;
    async fn overrides(&self) -> Result<Vec<TenantFeature>, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(phone: Option<&str>, host: Option<&str>, name: &str, city: Option<&str>) -> DedupKeys {
        DedupKeys {
            phone: phone.map(str::to_owned),
            website_host: host.map(str::to_owned),
            name_key: name.to_owned(),
            city_key: city.map(str::to_owned),
            place_id: None,
        }
    }

    #[test]
    fn a_company_name_is_a_duplicate_only_in_the_same_city() {
        let mut seen = ExistingKeys::default();
        seen.add(&keys(None, None, "نور", Some("رياض")));
        seen.add(&keys(None, None, "tech", None));
        assert!(seen.matches(&keys(None, None, "نور", Some("رياض"))));
        assert!(!seen.matches(&keys(None, None, "نور", Some("جده"))));
        assert!(!seen.matches(&keys(None, None, "نور", None)));
        assert!(seen.matches(&keys(None, None, "tech", None)));
        assert!(!seen.matches(&keys(None, None, "tech", Some("رياض"))));
        // The pair is compared whole: a name that ends where the city begins is another key.
        assert!(!seen.matches(&keys(None, None, "نو", Some("ررياض"))));
    }

    #[test]
    fn a_set_sized_for_a_file_takes_room_only_for_the_kinds_of_key_that_come() {
        let mut seen = ExistingKeys::expecting(10_000);
        seen.add(&keys(Some("+966500000001"), None, "نور", None));
        assert!(seen.phones.spans.capacity() >= 10_000 && seen.names.spans.capacity() >= 10_000);
        assert_eq!(seen.hosts.spans.capacity(), 0);
        assert!(seen.matches(&keys(Some("+966500000001"), None, "", None)));
        assert!(seen.matches(&keys(None, None, "نور", None)));
        assert!(!seen.matches(&keys(Some("+966500000002"), Some("example.sa"), "", None)));
    }

    #[test]
    fn keys_kept_in_one_buffer_survive_growth_and_compare_as_sets() {
        // No room given: the set grows (and rehashes its spans) many times over.
        let mut grown = ExistingKeys::default();
        let mut sized = ExistingKeys::expecting(20_000);
        for i in 0..5_000 {
            let k = keys(Some(&format!("+9665{i:08}")), None, &format!("شركة {i}"), Some(["رياض", ""][i % 2]));
            grown.add(&k);
            grown.add(&k); // again: no second copy
        }
        for i in (0..5_000).rev() {
            sized.add(&keys(Some(&format!("+9665{i:08}")), None, &format!("شركة {i}"), Some(["رياض", ""][i % 2])));
        }
        assert_eq!(grown.phones.spans.len(), 5_000);
        assert_eq!(grown, sized, "the same keys, added in another order into other room");
        for i in [0, 1, 2_500, 4_999] {
            let city = ["رياض", ""][i % 2];
            assert!(grown.matches(&keys(None, None, &format!("شركة {i}"), Some(city))));
            assert!(!grown.matches(&keys(None, None, &format!("شركة {i}"), Some(["رياض", ""][(i + 1) % 2]))));
            assert!(grown.matches(&keys(Some(&format!("+9665{i:08}")), None, "", None)));
        }
        assert!(!grown.matches(&keys(Some("+966500005000"), None, "شركة 5000", None)));
        sized.add_host("example.sa");
        assert_ne!(grown, sized);
    }

    #[test]
    fn a_phone_or_a_website_host_alone_makes_a_duplicate() {
        let mut seen = ExistingKeys::default();
        seen.add(&keys(Some("+966500000001"), Some("example.sa"), "", None));
        assert!(seen.matches(&keys(Some("+966500000001"), None, "other", None)));
        assert!(seen.matches(&keys(None, Some("example.sa"), "other", None)));
        assert!(!seen.matches(&keys(Some("+966500000002"), Some("example.com"), "other", None)));
        // An empty name key is no key: two nameless rows are not duplicates by name.
        assert!(!seen.matches(&keys(None, None, "", None)));
    }

    #[test]
    fn keys_too_long_for_a_span_still_count() {
        let mut set = KeySet::default();
        let long = "ن".repeat(40_000);
        set.insert((&long, "رياض"), 4);
        set.insert(("short", ""), 4);
        set.insert((&long, "رياض"), 4);
        assert_eq!((set.len(), set.long.len()), (2, 1), "kept once, outside the table");
        assert!(set.contains((&long, "رياض")) && set.contains(("short", "")));
        assert!(!set.contains((&long, "جدة")));
        let mut other = KeySet::default();
        other.insert(("short", ""), 4);
        other.insert((&long, "رياض"), 4);
        assert_eq!(set, other);
        // A span is 8 bytes: a 1,000,000-key table is 16 MiB of spans, not 48.
        assert_eq!(std::mem::size_of::<Span>(), 8);
    }
}
