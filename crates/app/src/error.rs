//! What a use case can fail with. Each variant maps to one stable public code in `leadzone-http`.

use leadzone_domain::enums::UsageMetric;
use leadzone_domain::ids::LeadId;
use leadzone_domain::{DomainError, FieldError};
use leadzone_ports::RepoError;
use leadzone_ports::security::CryptoError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The request cannot be read at all (a bad webhook signature, say).
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("not authenticated")]
    Unauthenticated,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("one-time password required")]
    OtpRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("tenant suspended")]
    TenantSuspended,
    #[error("subscription unpaid")]
    SubscriptionUnpaid,
    #[error("feature {0} disabled")]
    FeatureDisabled(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("duplicate lead {existing}")]
    DuplicateLead { existing: LeadId },
    #[error("cannot move from {from} to {to}")]
    InvalidStateTransition { from: String, to: String },
    #[error("the plan's {metric} limit is below current use")]
    PlanLimitConflict { metric: UsageMetric, limit: i64, used: i64 },
    #[error("quota exceeded for {metric}")]
    QuotaExceeded { metric: UsageMetric, limit: i64, used: i64 },
    #[error("invite expired")]
    InviteExpired,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn field(field: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Validation(errors) => Self::Validation(errors),
            DomainError::InvalidStateTransition { from, to } => Self::InvalidStateTransition { from, to },
            DomainError::UnknownVariant { .. } => Self::Internal(e.to_string()),
        }
    }
}

impl From<RepoError> for AppError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::NotFound => Self::NotFound,
            // The constraint name is for logs, not for clients.
            RepoError::Conflict(what) => {
                tracing::info!(constraint = %what, "uniqueness conflict");
                Self::Conflict("this conflicts with data that already exists".into())
            }
            RepoError::Unavailable(why) => Self::Unavailable(why),
            RepoError::Other(why) => Self::Internal(why),
        }
    }
}

impl From<CryptoError> for AppError {
    fn from(e: CryptoError) -> Self {
        Self::Internal(e.0)
    }
}
