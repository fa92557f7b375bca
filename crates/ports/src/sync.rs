//! CRM sync: the leads a SYNC job pushes and what each is called in each service
//! (`SyncRepo`), and the CRM adapters it pushes through (HubSpot today).

use crate::RepoError;
use crate::discovery::ApiKey;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::LeadId;
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// A lead as a sync sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncLead {
    pub id: LeadId,
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub status: LeadStatus,
    pub updated_at: OffsetDateTime,
}

/// What a lead is called in a service, and the version of it last sent (its `updated_at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRef {
    pub lead_id: LeadId,
    pub external_id: String,
    pub synced_version: OffsetDateTime,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SyncRepo: Send + Sync {
    /// Leads with `updated_at >= since` (all when `None`), restricted to `only` when given,
    /// after `(updated_at, id)` in that order.
    async fn changed_leads(
        &self,
        since: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, LeadId)>,
        only: Option<Vec<LeadId>>,
        limit: u64,
    ) -> Result<Vec<SyncLead>, RepoError>;
    async fn refs(&self, service: &str, leads: Vec<LeadId>) -> Result<Vec<SyncRef>, RepoError>;
    async fn save_refs(&self, service: &str, refs: Vec<SyncRef>, at: OffsetDateTime) -> Result<(), RepoError>;
}

/// One record to upsert: the lead it comes from and its properties in the service's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmRecord {
    pub lead_id: LeadId,
    pub properties: BTreeMap<String, String>,
}

/// The service's id of an upserted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmResult {
    pub lead_id: LeadId,
    pub external_id: String,
    pub created: bool,
}

/// A record the service refused (its lead when the answer names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmFailure {
    pub lead_id: Option<LeadId>,
    pub message: String,
}

/// A batch's answer: a partial one (HubSpot's 207) has both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrmBatch {
    pub results: Vec<CrmResult>,
    pub failures: Vec<CrmFailure>,
}

/// Why a CRM call failed; messages are the service's words, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    #[error("{0}")]
    Unauthorized(String),
    /// Too many calls: `daily` when the day's allowance is spent (stop until tomorrow).
    #[error("{message}")]
    RateLimited { daily: bool, retry_after: Option<Duration>, message: String },
    /// A record is locked (HubSpot 423): wait a little and try again.
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Rejected(String),
}

/// HubSpot CRM v3, companies keyed by a unique `leadzone_id` property.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait HubSpotApi: Send + Sync {
    /// Checks the token and creates the `leadzone_id` company property when missing.
    async fn prepare(&self, token: &ApiKey) -> Result<(), CrmError>;
    /// `POST /crm/v3/objects/companies/batch/upsert`, at most 100 records.
    async fn upsert_companies(&self, token: &ApiKey, records: Vec<CrmRecord>) -> Result<CrmBatch, CrmError>;
}
