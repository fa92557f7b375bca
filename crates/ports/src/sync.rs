//! CRM sync: the leads a SYNC job pushes and what each is called in each service
//! (`SyncRepo`), and the services it pushes them to (HubSpot, Salesforce, Notion).

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
    /// The first decision maker's name, when the lead has one.
    pub contact_name: Option<String>,
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
    /// The record addressed is gone (a Notion page deleted or archived): create it again.
    #[error("{0}")]
    NotFound(String),
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

/// Salesforce REST v60.0 on the tenant's instance (`config.instanceUrl`): Leads upserted by the
/// external-id field `Leadzone_Id__c`. The instance URL is the tenant's, so every call passes the
/// SSRF guard.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SalesforceApi: Send + Sync {
    /// `GET {instance}/services/data/v60.0/sobjects/Lead/describe`: the token works and Lead has
    /// the external-id field `Leadzone_Id__c` (`Rejected` saying how to add it when not).
    async fn prepare(&self, instance_url: &str, token: &ApiKey) -> Result<(), CrmError>;
    /// `PATCH {instance}/services/data/v60.0/composite/sobjects/Lead/Leadzone_Id__c`, at most
    /// 200 records, `allOrNone: false`; `properties` are Lead field API names (the caller fills
    /// `Company` and `LastName`), the adapter adds `Leadzone_Id__c` = the lead's id. Per-record
    /// errors come back as failures naming their lead.
    async fn upsert_leads(
        &self,
        instance_url: &str,
        token: &ApiKey,
        records: Vec<CrmRecord>,
    ) -> Result<CrmBatch, CrmError>;
}

/// A Notion property type a sync can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotionKind {
    Title,
    RichText,
    PhoneNumber,
    Email,
    Url,
    Select,
    Status,
}

impl NotionKind {
    /// Notion's `type` of a property, when it is one a sync writes.
    pub fn from_type(kind: &str) -> Option<Self> {
        Some(match kind {
            "title" => Self::Title,
            "rich_text" => Self::RichText,
            "phone_number" => Self::PhoneNumber,
            "email" => Self::Email,
            "url" => Self::Url,
            "select" => Self::Select,
            "status" => Self::Status,
            _ => return None,
        })
    }
}

/// A data source's writable properties: name → type.
pub type NotionSchema = BTreeMap<String, NotionKind>;

/// Notion (`NOTION_BASE_URL`, `Notion-Version: 2025-09-03`): one page per lead in the tenant's
/// data source. Retries and pacing are the caller's (it knows the connection's 3 requests/s).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait NotionApi: Send + Sync {
    /// `GET /v1/data_sources/{id}`: the token reaches the data source; its writable properties.
    async fn data_source(&self, token: &ApiKey, data_source_id: &str) -> Result<NotionSchema, CrmError>;
    /// `POST /v1/pages` with parent `{"data_source_id": …}`: the new page's id. Properties of
    /// `record` the schema does not have are left out; values are written in the schema's type.
    async fn create_page(
        &self,
        token: &ApiKey,
        data_source_id: &str,
        schema: &NotionSchema,
        record: &CrmRecord,
    ) -> Result<String, CrmError>;
    /// `PATCH /v1/pages/{id}`: `NotFound` when the page is gone (deleted, archived, in trash).
    async fn update_page(
        &self,
        token: &ApiKey,
        page_id: &str,
        schema: &NotionSchema,
        record: &CrmRecord,
    ) -> Result<(), CrmError>;
}
