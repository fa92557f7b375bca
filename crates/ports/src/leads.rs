//! Leads in storage: the repository of a tenant transaction (`LeadRepo`), the shapes of its
//! queries (a resolved visibility, filters, a sort and a keyset position), duplicate keys and bulk
//! changes.

use crate::RepoError;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;
use leadzone_domain::leads::{DedupKeys, LeadFilter, LeadSort};
use std::hash::BuildHasher as _;
use time::OffsetDateTime;

/// The value of the sort column at a page boundary.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Time(OffsetDateTime),
    /// Scores sort with "no score" as -1, so the key is never null.
    Int(i64),
    Text(String),
    /// Search relevance (see [`Relevance`]).
    Relevance {
        window: Option<(OffsetDateTime, LeadId)>,
        at: Relevance,
    },
}

/// Where a row stands in the relevance order of a search. The newest [`RANKED_WINDOW`] matches
/// (as they were when the first page was read: `window` is the oldest of them, `None` when the
/// search had fewer) come first, by `ts_rank`; every older match follows, newest first. Both
/// halves are keyset-paged, and a row's place depends on itself and the window only, so paging
/// stays exact while leads are added (a new one lands among the ranked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Relevance {
    Ranked(f32),
    Older(OffsetDateTime),
}

/// How many of the newest matches a relevance search ranks. Measured on 200,000 names that all
/// hold the word (README, `just bench-leads`): each ranked match costs about 3–6 µs of database
/// time (read through the newest-first index, matched, ranked), so 2,000 made a page 6–12 ms and
/// 1,000 half that; 1,000 ranked results is more than anyone reads before refining the search.
pub const RANKED_WINDOW: u64 = 1_000;

/// A listed lead with its search relevance (0 when the query has no `q`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedLead {
    pub lead: leadzone_domain::entities::Lead,
    pub rank: f32,
    /// The stored duplicate key of the name, which `sort=companyName` orders by.
    pub name_key: String,
    /// Under a relevance search: its window and whether this row was ranked (else it is older).
    pub relevance: Option<(Option<(OffsetDateTime, LeadId)>, bool)>,
}

/// Where the previous page ended: the sort key and id of its last row.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPosition {
    pub key: SortKey,
    pub id: LeadId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LeadQuery {
    pub visibility: LeadVisibility,
    pub filter: LeadFilter,
    pub sort: LeadSort,
    pub after: Option<LeadPosition>,
    /// Rows to return; adapters return at most this many.
    pub limit: u64,
}

/// Rows that would make a new lead a duplicate, by the domain's dedup keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateMatch {
    Phone(LeadId),
    WebsiteHost(LeadId),
    NameAndCity(LeadId),
}

impl DuplicateMatch {
    pub fn lead_id(self) -> LeadId {
        match self {
            Self::Phone(id) | Self::WebsiteHost(id) | Self::NameAndCity(id) => id,
        }
    }
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
    /// Where each key lies in `text`: 8 bytes a key (with three `usize`s it was 24, and an import
    /// keeps two or three such sets). In tables of at most `SHARD_KEYS` keys, chosen by the key's
    /// hash: a hash table's size is a power of two, so one table for 1,000,000 keys is 2^21 slots
    /// (18.9 MB with its control bytes) where nine of 2^17 hold 1,032,192 keys in 10.6 MB.
    shards: Vec<hashbrown::HashTable<Span>>,
    /// Keys too long for a span (never met: names, cities, phones, hosts and place ids are far
    /// shorter than 64 KiB), looked through one by one.
    long: Vec<(String, String)>,
    hasher: hashbrown::DefaultHashBuilder,
}

/// The keys one shard of a `KeySet` is made for: a 2^17-slot table at hashbrown's 7/8 load.
const SHARD_KEYS: usize = 114_688;

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

/// The shard of `shards` a hash belongs to: from bits 24–55, which neither the slot (low bits)
/// nor the control byte (top seven) of a hashbrown table uses, so each shard's keys stay spread.
fn shard_of(hash: u64, shards: usize) -> usize {
    ((((hash >> 24) & 0xFFFF_FFFF) * shards as u64) >> 32) as usize
}

impl KeySet {
    fn contains(&self, key: (&str, &str)) -> bool {
        self.contains_hashed(self.hasher.hash_one(key), key)
    }

    fn contains_hashed(&self, hash: u64, key: (&str, &str)) -> bool {
        self.shards
            .get(shard_of(hash, self.shards.len()))
            .is_some_and(|shard| shard.find(hash, |span| key_at(&self.text, span) == key).is_some())
            || (!self.long.is_empty() && self.long.iter().any(|(a, b)| (a.as_str(), b.as_str()) == key))
    }

    /// Adds `key` unless it is in already; the first key gives the set room for `expected` (a
    /// shard that gets more than its share grows on its own).
    fn insert(&mut self, key: (&str, &str), expected: usize) {
        let hash = self.hasher.hash_one(key);
        if self.contains_hashed(hash, key) {
            return;
        }
        let Self { text, shards, long, hasher } = self;
        let Some(span) = Span::new(text.len(), key) else {
            long.push((key.0.to_owned(), key.1.to_owned()));
            return;
        };
        if shards.is_empty() {
            let n = expected.div_ceil(SHARD_KEYS).max(1);
            shards.extend((0..n).map(|_| hashbrown::HashTable::with_capacity(expected.min(SHARD_KEYS))));
        }
        let n = shards.len();
        if let Some(shard) = shards.get_mut(shard_of(hash, n)) {
            text.push_str(key.0);
            text.push_str(key.1);
            shard.insert_unique(hash, span, |span| hasher.hash_one(key_at(text, span)));
        }
    }

    fn len(&self) -> usize {
        self.shards.iter().map(hashbrown::HashTable::len).sum::<usize>() + self.long.len()
    }

    /// Slots for keys before any table grows.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.shards.iter().map(hashbrown::HashTable::capacity).sum()
    }

    fn spans(&self) -> impl Iterator<Item = &Span> {
        self.shards.iter().flat_map(hashbrown::HashTable::iter)
    }
}

impl PartialEq for KeySet {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.spans().all(|span| other.contains(key_at(&self.text, span)))
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
        assert!(seen.phones.capacity() >= 10_000 && seen.names.capacity() >= 10_000);
        assert_eq!(seen.hosts.capacity(), 0);
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
        assert_eq!(grown.phones.len(), 5_000);
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

    #[test]
    fn a_set_for_many_keys_spreads_them_over_tables_sized_to_the_count() {
        let n = 300_000;
        let mut set = KeySet::default();
        for i in 0..n {
            set.insert((&format!("+9665{i:08}"), ""), n);
        }
        // Three 2^17-slot tables (344,064 keys' room), not one of 2^19 (458,752).
        assert_eq!(set.shards.len(), 3);
        assert_eq!(set.capacity(), 3 * SHARD_KEYS, "no shard had to grow");
        assert!(set.shards.iter().all(|t| t.len() > n / 3 - 2_000), "the hash spreads the keys evenly");
        assert_eq!(set.len(), n);
        for i in [0, 1, 150_000, n - 1] {
            assert!(set.contains((&format!("+9665{i:08}"), "")));
            set.insert((&format!("+9665{i:08}"), ""), n);
        }
        assert_eq!(set.len(), n, "a key added again is not kept twice");
        assert!(!set.contains(("+966500300000", "")));
        let mut one_table = KeySet::default();
        for i in (0..n).rev() {
            one_table.insert((&format!("+9665{i:08}"), ""), 0);
        }
        assert_eq!(one_table.shards.len(), 1);
        assert_eq!(set, one_table, "the same keys whatever the tables");
    }
}
