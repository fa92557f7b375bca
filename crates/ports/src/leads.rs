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
    /// Search relevance.
    Rank(f32),
}

/// A listed lead with its search relevance (0 when the query has no `q`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedLead {
    pub lead: leadzone_domain::entities::Lead,
    pub rank: f32,
    /// The stored duplicate key of the name, which `sort=companyName` orders by.
    pub name_key: String,
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
