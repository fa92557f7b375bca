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
    /// An outside service this needs has no key configured (production refuses rather than fake
    /// data): `setting` names the environment variable that would configure it.
    #[error("{service} is not configured")]
    NotConfigured { service: &'static str, setting: &'static str },
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn field(field: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The stable public code of this error (api.md's table).
    pub fn code(&self) -> ProblemCode {
        use ProblemCode as P;
        match self {
            Self::Validation(_) => P::ValidationFailed,
            Self::BadRequest(_) => P::BadRequest,
            Self::Unauthenticated => P::Unauthenticated,
            Self::InvalidCredentials => P::InvalidCredentials,
            Self::OtpRequired => P::OtpRequired,
            Self::Forbidden => P::Forbidden,
            Self::TenantSuspended => P::TenantSuspended,
            Self::SubscriptionUnpaid => P::SubscriptionUnpaid,
            Self::FeatureDisabled(_) => P::FeatureDisabled,
            Self::NotFound => P::NotFound,
            Self::Conflict(_) => P::Conflict,
            Self::DuplicateLead { .. } => P::DuplicateLead,
            Self::InvalidStateTransition { .. } => P::InvalidStateTransition,
            Self::PlanLimitConflict { .. } => P::PlanLimitConflict,
            Self::QuotaExceeded { .. } => P::QuotaExceeded,
            Self::InviteExpired => P::InviteExpired,
            Self::RateLimited { .. } => P::RateLimited,
            Self::Unavailable(_) | Self::NotConfigured { .. } => P::Unavailable,
            Self::Internal(_) => P::Internal,
        }
    }
}

macro_rules! problem_codes {
    ($($variant:ident => $s:literal),+ $(,)?) => {
        /// Every public error code of the API (api.md's table), the same in HTTP answers and in a
        /// failed job's `error.code`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemCode { $($variant),+ }

        impl ProblemCode {
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $(ProblemCode::$variant => $s),+ }
            }
        }
    };
}

problem_codes!(
    BadRequest => "BAD_REQUEST",
    Unauthenticated => "UNAUTHENTICATED",
    InvalidCredentials => "INVALID_CREDENTIALS",
    OtpRequired => "OTP_REQUIRED",
    SubscriptionUnpaid => "SUBSCRIPTION_UNPAID",
    QuotaExceeded => "QUOTA_EXCEEDED",
    Forbidden => "FORBIDDEN",
    TenantSuspended => "TENANT_SUSPENDED",
    FeatureDisabled => "FEATURE_DISABLED",
    NotFound => "NOT_FOUND",
    MethodNotAllowed => "METHOD_NOT_ALLOWED",
    Conflict => "CONFLICT",
    DuplicateLead => "DUPLICATE_LEAD",
    InvalidStateTransition => "INVALID_STATE_TRANSITION",
    PlanLimitConflict => "PLAN_LIMIT_CONFLICT",
    RecipientOptedOut => "RECIPIENT_OPTED_OUT",
    InviteExpired => "INVITE_EXPIRED",
    PayloadTooLarge => "PAYLOAD_TOO_LARGE",
    UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
    ValidationFailed => "VALIDATION_FAILED",
    RateLimited => "RATE_LIMITED",
    Internal => "INTERNAL",
    Unavailable => "UNAVAILABLE",
    ProviderUnauthorized => "PROVIDER_UNAUTHORIZED",
    ProviderUnavailable => "PROVIDER_UNAVAILABLE",
    ProviderRejected => "PROVIDER_REJECTED",
);

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
