//! WhatsApp: the Cloud API (Graph) a tenant's own number is reached through, and the tenant's
//! templates, messages and contacts (opt-outs, the 24-hour window).
//!
//! The access token travels as an [`ApiKey`] (its `Debug` is redacted); an adapter never writes
//! it into a log line or an error message.

use crate::RepoError;
use crate::discovery::ApiKey;
use leadzone_domain::entities::{WhatsAppMessage, WhatsAppTemplate};
use leadzone_domain::enums::WhatsAppStatus;
use leadzone_domain::ids::{JobId, LeadId, UserId, WhatsAppMessageId, WhatsAppTemplateId};
use std::time::Duration;
use time::OffsetDateTime;

/// `GET /{phone-number-id}`: what Meta says of the number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberInfo {
    pub display_phone_number: String,
    pub verified_name: Option<String>,
    /// `GREEN`, `YELLOW`, `RED`, `UNKNOWN`.
    pub quality_rating: Option<String>,
    /// `TIER_250`, `TIER_2K`, `TIER_10K`, `TIER_100K`, `TIER_UNLIMITED` (older names `TIER_1K`
    /// and `TIER_50` too): unique recipients a day outside a service window.
    pub messaging_limit_tier: Option<String>,
}

/// A template submitted for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSubmission {
    /// Meta's name (lowercase, underscores).
    pub name: String,
    /// `ar` or `en`.
    pub language: String,
    /// `MARKETING` or `UTILITY`.
    pub category: String,
    /// The body with `{{parameter_name}}` placeholders.
    pub body: String,
    /// One example value per named parameter, in order (Meta requires them for review).
    pub examples: Vec<(String, String)>,
}

/// What Meta answered to a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedTemplate {
    pub id: String,
    /// `PENDING` usually; `APPROVED` when Meta decided at once.
    pub status: Option<String>,
}

/// One template as Meta lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED` (or a newer word Meta adds).
    pub status: String,
    pub rejected_reason: Option<String>,
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// An approved template with its named body parameters `(parameter_name, text)`.
    Template { name: String, language: String, parameters: Vec<(String, String)> },
    /// Free text: only inside the recipient's 24-hour service window.
    Text { body: String },
}

/// One send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// International digits without `+` (`9665…`).
    pub to: String,
    pub content: Outgoing,
    /// Echoed by Meta in the message's status webhooks (`biz_opaque_callback_data`): the
    /// message's own id, which reconciles a send whose answer was lost.
    pub callback_data: String,
}

/// Why a Graph call failed: each kind is one action the caller takes. Messages are written for
/// the tenant and never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhatsAppError {
    /// The token was refused (HTTP 401, OAuthException code 190, a missing permission).
    #[error("{message}")]
    Unauthorized { code: Option<i64>, message: String },
    /// Too fast: 130429 (the number's throughput), 131048 (spam rate limit: slow down), 131056
    /// (too many to one recipient), HTTP 429. Nothing was sent; try again after a pause.
    #[error("{message}")]
    Throttled { code: Option<i64>, message: String, retry_after: Option<Duration> },
    /// This message cannot be delivered (131026 undeliverable, 131047 outside the window, 131049
    /// per-user marketing limit, 132000 parameter mismatch…): permanent for it, others go on.
    #[error("{message}")]
    Undeliverable { code: Option<i64>, message: String },
    /// The recipient stopped marketing messages (131050): an opt-out.
    #[error("{message}")]
    OptedOut { code: i64, message: String },
    /// The template is missing, not approved for the language, paused or disabled (132001,
    /// 132015, 132016): no message with it can go until someone fixes the template.
    #[error("{message}")]
    TemplateUnavailable { code: i64, message: String },
    /// Meta refused the request itself (another 4xx).
    #[error("{message}")]
    Rejected { code: Option<i64>, message: String },
    /// Meta did not answer in a usable way (5xx, a timeout, a network failure). For a send the
    /// outcome is unknown: the message may have gone.
    #[error("{0}")]
    Unavailable(String),
}

impl WhatsAppError {
    /// Meta's error code, when it gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Unauthorized { code, .. }
            | Self::Throttled { code, .. }
            | Self::Undeliverable { code, .. }
            | Self::Rejected { code, .. } => *code,
            Self::OptedOut { code, .. } | Self::TemplateUnavailable { code, .. } => Some(*code),
            Self::Unavailable(_) => None,
        }
    }
}

/// The WhatsApp Business Cloud API, as Leadzone uses it.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait WhatsAppApi: Send + Sync {
    /// `GET /{phone-number-id}`: checks the token and reads the number.
    ///
    /// # Errors
    /// `Unauthorized` for a refused token; others as their kinds say.
    async fn check_number(&self, token: &ApiKey, phone_number_id: &str) -> Result<NumberInfo, WhatsAppError>;

    /// `POST /{waba-id}/message_templates`.
    ///
    /// # Errors
    /// As their kinds say.
    async fn submit_template(
        &self,
        token: &ApiKey,
        waba_id: &str,
        template: &TemplateSubmission,
    ) -> Result<SubmittedTemplate, WhatsAppError>;

    /// `GET /{waba-id}/message_templates`, every page.
    ///
    /// # Errors
    /// As their kinds say.
    async fn templates(&self, token: &ApiKey, waba_id: &str) -> Result<Vec<RemoteTemplate>, WhatsAppError>;

    /// `POST /{phone-number-id}/messages`: Meta's message id (`wamid…`).
    ///
    /// # Errors
    /// As their kinds say; `Unavailable` means the outcome is unknown.
    async fn send(
        &self,
        token: &ApiKey,
        phone_number_id: &str,
        message: &OutgoingMessage,
    ) -> Result<String, WhatsAppError>;
}

/// A phone as the tenant knows it on WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppContact {
    pub phone: String,
    pub opted_out_at: Option<OffsetDateTime>,
    pub last_inbound_at: Option<OffsetDateTime>,
}

/// `GET /whatsapp/messages` filters; newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageQuery {
    pub lead: Option<LeadId>,
    pub status: Option<WhatsAppStatus>,
    /// Only messages sent by these members (`None`: everyone's).
    pub sent_by: Option<Vec<UserId>>,
    pub after: Option<(OffsetDateTime, WhatsAppMessageId)>,
    pub limit: u64,
}

/// A status callback's effect on one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub status: WhatsAppStatus,
    pub delivered_at: Option<OffsetDateTime>,
    pub read_at: Option<OffsetDateTime>,
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
}

/// One message of a bulk, stored when the bulk is enqueued.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkMessage {
    pub id: WhatsAppMessageId,
    pub lead: LeadId,
    /// E.164.
    pub phone: String,
    /// The text the recipient reads.
    pub message: String,
    /// What is sent (the job's `Content`).
    pub payload: serde_json::Value,
}

/// A lead as a bulk sees it: who may see it, its phone and the fields a template uses.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientLead {
    pub id: LeadId,
    pub company_name: String,
    pub city: Option<String>,
    pub industry: Option<String>,
    pub phone: Option<String>,
    pub created_by: UserId,
    pub assigned_to: Option<UserId>,
}

/// Where a bulk's messages stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobTally {
    /// Accepted by Meta (SENT, DELIVERED, READ).
    pub sent: i64,
    pub failed: i64,
    /// Handed to Meta by an attempt whose answer was lost (not sent again).
    pub unconfirmed: i64,
    /// Not tried yet.
    pub pending: i64,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait WhatsAppRepo: Send + Sync {
    /// The tenant's templates, newest first.
    async fn templates(&self) -> Result<Vec<WhatsAppTemplate>, RepoError>;
    /// # Errors
    /// `NotFound` when the tenant has no such template.
    async fn template(&self, id: WhatsAppTemplateId) -> Result<WhatsAppTemplate, RepoError>;
    async fn insert_template(&self, template: &WhatsAppTemplate) -> Result<(), RepoError>;
    /// # Errors
    /// `NotFound` when the tenant has no such template.
    async fn update_template(&self, template: &WhatsAppTemplate) -> Result<(), RepoError>;
    /// False when there was none.
    async fn delete_template(&self, id: WhatsAppTemplateId) -> Result<bool, RepoError>;

    /// # Errors
    /// `Conflict` when the idempotency key, or the job and phone, are taken.
    async fn insert_message(&self, message: &WhatsAppMessage) -> Result<(), RepoError>;
    /// The message, locked for this transaction.
    ///
    /// # Errors
    /// `NotFound` when the tenant has no such message.
    async fn lock_message(&self, id: WhatsAppMessageId) -> Result<WhatsAppMessage, RepoError>;
    /// # Errors
    /// `NotFound` when the tenant has no such message.
    async fn message(&self, id: WhatsAppMessageId) -> Result<WhatsAppMessage, RepoError>;
    async fn message_by_idempotency_key(&self, key: &str) -> Result<Option<WhatsAppMessage>, RepoError>;
    /// The message Meta knows by `external_id`, locked.
    async fn lock_message_by_external_id(&self, external_id: &str) -> Result<Option<WhatsAppMessage>, RepoError>;
    async fn list_messages(&self, query: &MessageQuery) -> Result<Vec<WhatsAppMessage>, RepoError>;
    /// The messages a job has stored so far, by id.
    async fn job_messages(&self, job: JobId) -> Result<Vec<WhatsAppMessage>, RepoError>;
    /// Records that the send is being handed to Meta now.
    async fn mark_attempted(&self, id: WhatsAppMessageId, at: OffsetDateTime) -> Result<(), RepoError>;
    /// Forgets an attempt Meta certainly refused (throttled: nothing went), so it is tried again.
    async fn clear_attempt(&self, id: WhatsAppMessageId) -> Result<(), RepoError>;
    /// SENT with Meta's id (and nothing else changed when it has a later status already).
    async fn mark_sent(&self, id: WhatsAppMessageId, external_id: &str) -> Result<(), RepoError>;
    async fn update_status(&self, id: WhatsAppMessageId, update: &StatusUpdate) -> Result<(), RepoError>;

    async fn contact(&self, phone: &str) -> Result<Option<WhatsAppContact>, RepoError>;
    /// The contacts among `phones` who opted out.
    async fn opted_out_among(&self, phones: &[String]) -> Result<Vec<String>, RepoError>;
    /// Sets or clears (`None`) the opt-out of a phone.
    async fn set_opt_out(&self, phone: &str, at: Option<OffsetDateTime>) -> Result<(), RepoError>;
    /// Records an inbound message from the phone (opens its 24-hour window).
    async fn record_inbound(&self, phone: &str, at: OffsetDateTime) -> Result<(), RepoError>;
    /// The tenant's leads with this phone (at most a few), each with the member whose timeline
    /// it is (the assignee, else the creator).
    async fn leads_with_phone(&self, phone: &str) -> Result<Vec<(LeadId, UserId)>, RepoError>;

    /// The leads among `ids` (those that exist in the tenant).
    async fn recipients(&self, ids: &[LeadId]) -> Result<Vec<RecipientLead>, RepoError>;
    /// Stores a bulk's messages (PENDING) in one statement.
    async fn insert_bulk(
        &self,
        job: JobId,
        template: WhatsAppTemplateId,
        sent_by: UserId,
        at: OffsetDateTime,
        messages: &[BulkMessage],
    ) -> Result<(), RepoError>;
    /// A job's messages not tried yet, by id.
    async fn untried_job_messages(&self, job: JobId, limit: u64) -> Result<Vec<WhatsAppMessage>, RepoError>;
    async fn job_tally(&self, job: JobId) -> Result<JobTally, RepoError>;
    /// Marks a job's untried messages FAILED with `why`; how many.
    async fn fail_untried(&self, job: JobId, why: &str) -> Result<u64, RepoError>;
    /// Distinct phones the tenant's messages were handed to Meta for since `since` (the messaging
    /// limit counts unique recipients over a moving 24 hours).
    async fn unique_recipients_since(&self, since: OffsetDateTime) -> Result<i64, RepoError>;
}
