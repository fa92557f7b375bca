//! Shapes of lead queries: a resolved visibility, filters, a sort and a keyset position.

use leadzone_domain::access::LeadVisibility;
use leadzone_domain::ids::LeadId;
use leadzone_domain::leads::{LeadFilter, LeadSort};
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
