//! Slack notifications: the outbox a tenant's chosen events are written to in the transaction
//! that caused them (`SlackRepo`), the workers' side of it (`SlackOutbox`), and the incoming
//! webhook they are posted through (`SlackApi`).

use crate::RepoError;
use crate::discovery::ApiKey;
use leadzone_domain::ids::TenantId;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// A message waiting for the tenant's Slack channel, already in the tenant's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackNotification {
    pub id: Uuid,
    /// The Slack event it tells of (`lead.assigned`, `lead.qualified`, `job.completed`,
    /// `job.failed`, `whatsapp.bulk.completed`).
    pub event: String,
    pub text: String,
    pub created_at: OffsetDateTime,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SlackRepo: Send + Sync {
    /// Queues a message for the current tenant (in the caller's transaction).
    async fn enqueue(&self, notification: &SlackNotification) -> Result<(), RepoError>;
}

/// A message a worker claimed: the sealed credentials of the tenant's connection when it is
/// still CONNECTED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSlack {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub text: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub sealed_credentials: Option<Vec<u8>>,
}

/// The workers' side of the outbox (the system role, across tenants).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SlackOutbox: Send + Sync {
    /// The next message of each tenant whose queue may move: its head is due and not in flight,
    /// and nothing was posted to its channel in the last second. Each claimed for `lease`.
    async fn claim_due(&self, now: OffsetDateTime, lease: Duration, limit: u64) -> Result<Vec<DueSlack>, RepoError>;
    async fn sent(&self, id: Uuid, at: OffsetDateTime) -> Result<(), RepoError>;
    /// Tried again at `at` (this message only: a failure of Slack's).
    async fn retry_at(&self, id: Uuid, at: OffsetDateTime, error: &str) -> Result<(), RepoError>;
    /// Slack asked to wait: the tenant's whole queue waits until `until`.
    async fn hold(&self, tenant: TenantId, until: OffsetDateTime) -> Result<(), RepoError>;
    /// This message will never go.
    async fn failed(&self, id: Uuid, error: &str) -> Result<(), RepoError>;
    /// The webhook is gone: the connection turns ERROR with `error`, and the tenant's queue is
    /// failed with it.
    async fn webhook_gone(&self, tenant: TenantId, error: &str, at: OffsetDateTime) -> Result<(), RepoError>;
    /// Forgets messages sent or failed before `before`; how many.
    async fn purge(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
}

/// Why a Slack message was not posted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// The webhook is gone for good (`no_service`, `no_active_hooks`, `channel_not_found`,
    /// `channel_is_archived`, `action_prohibited`): the connection turns ERROR.
    #[error("{0}")]
    Gone(String),
    /// 429: try again after `retry_after` (Slack's `Retry-After`).
    #[error("Slack is rate limiting this webhook")]
    RateLimited { retry_after: Option<Duration> },
    /// This message was refused (`invalid_payload`, `no_text`, another 4xx): not retried.
    #[error("{0}")]
    Rejected(String),
    /// No answer, a timeout or a 5xx: retried later.
    #[error("{0}")]
    Unavailable(String),
}

/// A Slack incoming webhook. Its URL is the credential: never logged, and fetched only through
/// the SSRF guard (public https addresses in production).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait SlackApi: Send + Sync {
    /// Whether the guard lets this URL through (a reason fit for a tenant when not).
    async fn check(&self, webhook_url: &ApiKey) -> Result<(), String>;
    /// `POST <webhook URL>` `{"text": …, "blocks"?: …}`.
    async fn post(&self, webhook_url: &ApiKey, text: &str, blocks: Option<serde_json::Value>)
    -> Result<(), SlackError>;
}
