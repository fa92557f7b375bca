//! Outgoing mail: queued in the outbox inside the transaction of the change that sends it (its
//! body sealed under the master key), delivered later by a worker through a `MailTransport`.
//!
//! The outbox never holds a usable secret in plain text: the body (which may carry an invitation
//! link) is stored only sealed, and erased once the mail is delivered or given up.

use crate::RepoError;
use time::OffsetDateTime;

/// An outgoing email, as the transport sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The body may carry a live link: `Debug` never prints it.
impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail").field("to", &self.to).field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// A mail as the outbox stores it: the body sealed (`SecretBox::seal`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: uuid::Uuid,
    pub to: String,
    pub subject: String,
    pub sealed_body: Vec<u8>,
}

/// A mail a worker claimed for one delivery attempt (`attempts` counts this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    pub id: uuid::Uuid,
    pub to: String,
    pub subject: String,
    pub sealed_body: Vec<u8>,
    pub attempts: i32,
}

/// The outbox inside a tenant transaction: a mail queued here exists exactly when the change
/// that sends it commits.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait OutboxRepo: Send + Sync {
    /// # Errors
    /// Storage errors only.
    async fn queue(&self, mail: &QueuedMail) -> Result<(), RepoError>;
}

/// The outbox as the delivering worker sees it (the system path: mail crosses tenants).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait MailOutbox: Send + Sync {
    /// Up to `limit` undelivered mails due at `now` (`FOR UPDATE SKIP LOCKED`), each counted as
    /// one more attempt and leased until `lease_until`, so another worker does not send it too.
    ///
    /// # Errors
    /// Storage errors only.
    async fn claim(
        &self,
        limit: u32,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<ClaimedMail>, RepoError>;

    /// The mail was handed to the mail server: marks it delivered and erases its body.
    ///
    /// # Errors
    /// Storage errors only.
    async fn delivered(&self, id: uuid::Uuid, at: OffsetDateTime) -> Result<(), RepoError>;

    /// An attempt failed: records `error` and retries at `retry_at`, or with `None` gives the mail
    /// up (and erases its body).
    ///
    /// # Errors
    /// Storage errors only.
    async fn failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        at: OffsetDateTime,
    ) -> Result<(), RepoError>;

    /// Erases the body of every mail queued before `before` (undelivered ones are given up).
    /// Returns how many bodies were erased.
    ///
    /// # Errors
    /// Storage errors only.
    async fn erase_older_than(&self, before: OffsetDateTime, at: OffsetDateTime) -> Result<u64, RepoError>;
}

/// Why a transport could not deliver a mail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The server is unreachable or answered with a temporary failure: try again later.
    #[error("mail server unavailable: {0}")]
    Transient(String),
    /// The server refused this mail for good (bad address, policy): do not retry.
    #[error("mail refused: {0}")]
    Rejected(String),
}

/// Hands a mail to the outside world (an SMTP server, or the log in development).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait MailTransport: Send + Sync {
    /// # Errors
    /// `Transient` to retry later, `Rejected` to give the mail up.
    async fn deliver(&self, mail: &Mail) -> Result<(), MailError>;
}
