//! Outbound webhooks: a tenant's endpoints and deliveries (`WebhookRepo`, inside the tenant), the
//! workers' side of the outbox (`WebhookOutbox`, across tenants), and the guarded HTTP client that
//! sends them (`WebhookSender`).

use crate::RepoError;
use leadzone_domain::ids::{TenantId, UserId};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// A subscribed URL. `secret` is the sealed `whsec_…` (never shown after creation).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub secret: Vec<u8>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<OffsetDateTime>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One event for one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub endpoint_id: Uuid,
    /// `webhook-id`: the same on every attempt.
    pub event_id: Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    /// `PENDING`, `DELIVERED`, `FAILED`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<OffsetDateTime>,
    /// `[{at, status, latencyMs, error}]`.
    pub history: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait WebhookRepo: Send + Sync {
    async fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, RepoError>;
    /// # Errors
    /// `NotFound` when the tenant has no such endpoint.
    async fn endpoint(&self, id: Uuid) -> Result<WebhookEndpoint, RepoError>;
    async fn insert_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), RepoError>;
    /// # Errors
    /// `NotFound` when the tenant has no such endpoint.
    async fn update_endpoint(&self, endpoint: &WebhookEndpoint) -> Result<(), RepoError>;
    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, RepoError>;
    /// Writes one delivery of `event_type` per enabled endpoint subscribed to it, in this
    /// transaction; how many.
    async fn enqueue(
        &self,
        event_id: Uuid,
        event_type: &str,
        payload: &serde_json::Value,
        ids: &[Uuid],
        at: OffsetDateTime,
    ) -> Result<u64, RepoError>;
    /// An endpoint's deliveries, newest first, before `(created_at, id)` when paging.
    async fn deliveries(
        &self,
        endpoint: Uuid,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>, RepoError>;
    /// Puts a delivery back in the queue now (a manual retry keeps its `webhook-id`).
    ///
    /// # Errors
    /// `NotFound` when the endpoint has no such delivery.
    async fn retry_delivery(
        &self,
        endpoint: Uuid,
        delivery: Uuid,
        at: OffsetDateTime,
    ) -> Result<WebhookDelivery, RepoError>;
}

/// A delivery a worker claimed, with what it needs to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    pub delivery: WebhookDelivery,
    pub url: String,
    pub sealed_secret: Vec<u8>,
    pub failing_since: Option<OffsetDateTime>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub at: OffsetDateTime,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
    /// Delivered (a 2xx).
    pub delivered: bool,
    /// When to try again; `None` with `delivered` false: the delivery has failed for good.
    pub next_attempt_at: Option<OffsetDateTime>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Claims up to `limit` due deliveries of enabled endpoints (any tenant) for `lease`.
    async fn claim_due(&self, now: OffsetDateTime, lease: Duration, limit: u64) -> Result<Vec<DueDelivery>, RepoError>;
    /// Records an attempt, and on the endpoint: a success clears its failing streak, a failure
    /// starts one (when none is running).
    async fn record(&self, delivery: &WebhookDelivery, attempt: &AttemptRecord) -> Result<(), RepoError>;
    /// Disables an endpoint (its pending deliveries stay, unsent, until it is enabled again).
    async fn disable(
        &self,
        tenant: TenantId,
        endpoint: Uuid,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), RepoError>;
}

/// The answer of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub status: u16,
    pub latency: Duration,
}

/// Sends signed deliveries through the SSRF guard (10 s, no redirects).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    /// Whether the guard lets this URL through (scheme, port and address, its name resolved).
    ///
    /// # Errors
    /// The guard's reason, written for the tenant.
    async fn check(&self, url: &str) -> Result<(), String>;
    /// POSTs `body` with `headers`; any answer is `Ok` (the caller reads the status).
    ///
    /// # Errors
    /// A refused URL, a timeout or a network failure, in plain words.
    async fn send(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Result<Sent, String>;
}
