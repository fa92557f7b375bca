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
    Conflict(ConflictKind),
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
    /// The WhatsApp recipient opted out (409 `RECIPIENT_OPTED_OUT`).
    #[error("the recipient opted out")]
    RecipientOptedOut,
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
            Self::RecipientOptedOut => P::RecipientOptedOut,
            Self::RateLimited { .. } => P::RateLimited,
            Self::Unavailable(_) | Self::NotConfigured { .. } => P::Unavailable,
            Self::Internal(_) => P::Internal,
        }
    }
}

/// Why a request conflicts with the current state (409 `CONFLICT`): one variant per rule, each
/// with a stable `reason` code for clients and its text in English and Arabic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictKind {
    EmailTaken,
    SlugTaken,
    NoFreeSlug,
    TwoFactorAlreadyOn,
    TwoFactorAlreadyOff,
    TwoFactorNotSetUp,
    SmartListMembership,
    SamePlan,
    NothingToCancel,
    FlagExists,
    AlreadyMember,
    InvitePending,
    /// The invitation is accepted, revoked or expired (its status).
    InviteNotPending(String),
    LastOwner,
    /// The tenant has no WhatsApp number connected (and this server fakes nothing).
    WhatsAppNotConnected,
    /// The WhatsApp number is connected to another organization.
    WhatsAppNumberTaken,
    /// The service is not connected (or its connection needs attention).
    IntegrationNotConnected,
    /// A uniqueness rule without a rule of its own (the constraint goes to the log).
    AlreadyExists,
}

impl ConflictKind {
    /// Every kind (the text table's test walks them).
    pub fn all() -> Vec<ConflictKind> {
        use ConflictKind::*;
        vec![
            EmailTaken,
            SlugTaken,
            NoFreeSlug,
            TwoFactorAlreadyOn,
            TwoFactorAlreadyOff,
            TwoFactorNotSetUp,
            SmartListMembership,
            SamePlan,
            NothingToCancel,
            FlagExists,
            AlreadyMember,
            InvitePending,
            InviteNotPending("EXPIRED".into()),
            LastOwner,
            WhatsAppNotConnected,
            WhatsAppNumberTaken,
            IntegrationNotConnected,
            AlreadyExists,
        ]
    }

    /// The stable code clients may branch on (`reason` in the problem body).
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::SlugTaken => "SLUG_TAKEN",
            Self::NoFreeSlug => "NO_FREE_SLUG",
            Self::TwoFactorAlreadyOn => "TWO_FACTOR_ALREADY_ON",
            Self::TwoFactorAlreadyOff => "TWO_FACTOR_ALREADY_OFF",
            Self::TwoFactorNotSetUp => "TWO_FACTOR_NOT_SET_UP",
            Self::SmartListMembership => "SMART_LIST_MEMBERSHIP",
            Self::SamePlan => "SAME_PLAN",
            Self::NothingToCancel => "NOTHING_TO_CANCEL",
            Self::FlagExists => "FLAG_EXISTS",
            Self::AlreadyMember => "ALREADY_MEMBER",
            Self::InvitePending => "INVITE_PENDING",
            Self::InviteNotPending(_) => "INVITE_NOT_PENDING",
            Self::LastOwner => "LAST_OWNER",
            Self::WhatsAppNotConnected => "WHATSAPP_NOT_CONNECTED",
            Self::WhatsAppNumberTaken => "WHATSAPP_NUMBER_TAKEN",
            Self::IntegrationNotConnected => "INTEGRATION_NOT_CONNECTED",
            Self::AlreadyExists => "ALREADY_EXISTS",
        }
    }

    /// The text in English and in Arabic.
    pub fn texts(&self) -> (String, String) {
        let (en, ar): (&str, &str) = match self {
            Self::EmailTaken => {
                ("An account with this email already exists.", "يوجد حساب بهذا البريد الإلكتروني بالفعل.")
            }
            Self::SlugTaken => ("This organization slug is taken.", "هذا المعرّف المختصر للمنظمة مستخدم."),
            Self::NoFreeSlug => (
                "Could not find a free organization slug; please choose one.",
                "تعذّر إيجاد معرّف مختصر متاح للمنظمة؛ يرجى اختيار واحد.",
            ),
            Self::TwoFactorAlreadyOn => (
                "Two-factor authentication is already on; disable it first.",
                "المصادقة الثنائية مفعّلة بالفعل؛ عطّلها أولًا.",
            ),
            Self::TwoFactorAlreadyOff => {
                ("Two-factor authentication is already off.", "المصادقة الثنائية معطّلة بالفعل.")
            }
            Self::TwoFactorNotSetUp => ("Run the two-factor setup first.", "ابدأ إعداد المصادقة الثنائية أولًا."),
            Self::SmartListMembership => (
                "A smart list is defined by its filters; leads cannot be added or removed.",
                "القائمة الذكية تُعرَّف بمرشحاتها؛ لا يمكن إضافة عملاء محتملين إليها أو إزالتهم منها.",
            ),
            Self::SamePlan => ("This is already the current plan.", "هذه هي الخطة الحالية بالفعل."),
            Self::NothingToCancel => ("The free plan has nothing to cancel.", "الخطة المجانية لا تحتاج إلى إلغاء."),
            Self::FlagExists => ("A flag with this key exists.", "توجد ميزة بهذا المفتاح بالفعل."),
            Self::AlreadyMember => ("This person is already a member.", "هذا الشخص عضو بالفعل."),
            Self::InvitePending => {
                ("An invitation to this email is already pending.", "توجد دعوة معلّقة لهذا البريد الإلكتروني بالفعل.")
            }
            Self::InviteNotPending(status) => {
                return (format!("The invitation is {status}."), format!("الدعوة لم تعد قائمة (الحالة: {status})."));
            }
            Self::LastOwner => (
                "The last owner cannot be demoted, suspended or removed.",
                "لا يمكن تخفيض دور المالك الأخير أو إيقافه أو إزالته.",
            ),
            Self::WhatsAppNotConnected => (
                "This organization has no WhatsApp number connected (or its connection needs attention): connect one under integrations first.",
                "لا يوجد رقم واتساب مربوط بهذه المنظمة (أو أن الربط يحتاج إلى مراجعة): اربط رقمًا من صفحة التكاملات أولًا.",
            ),
            Self::WhatsAppNumberTaken => {
                ("This WhatsApp number is connected to another organization.", "رقم واتساب هذا مربوط بمنظمة أخرى.")
            }
            Self::IntegrationNotConnected => (
                "This service is not connected, or its connection needs attention (see lastError): connect it again.",
                "هذه الخدمة غير مربوطة، أو أن ربطها يحتاج إلى مراجعة (انظر lastError): اربطها من جديد.",
            ),
            Self::AlreadyExists => {
                ("This conflicts with data that already exists.", "يتعارض هذا مع بيانات موجودة بالفعل.")
            }
        };
        (en.to_owned(), ar.to_owned())
    }
}

impl std::fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.texts().0)
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

            /// The code that `as_str` spells `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(ProblemCode::$variant),)+ _ => None }
            }
        }
    };
}

/// Written as its contract spelling (`"QUOTA_EXCEEDED"`), in job results as in answers.
impl serde::Serialize for ProblemCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ProblemCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown problem code {s:?}")))
    }
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
                Self::Conflict(ConflictKind::AlreadyExists)
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

#[cfg(test)]
mod problem_code_serde_tests {
    use super::ProblemCode;

    /// Every code reads back as itself from its contract spelling, and nothing else reads.
    #[test]
    fn every_code_round_trips_through_its_spelling() {
        for code in ProblemCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ProblemCode>(&json).unwrap(), *code);
        }
        assert!(serde_json::from_str::<ProblemCode>("\"quota_exceeded\"").is_err());
        assert!(serde_json::from_str::<ProblemCode>("\"FAILED\"").is_err());
    }
}

#[cfg(test)]
mod conflict_kind_tests {
    use super::ConflictKind;

    /// `ConflictKind::all` is a hand-written list; this match is exhaustive, so a new variant does
    /// not compile until it has a place here, and the test fails until `all` lists it there.
    fn place(kind: &ConflictKind) -> usize {
        use ConflictKind::*;
        match kind {
            EmailTaken => 0,
            SlugTaken => 1,
            NoFreeSlug => 2,
            TwoFactorAlreadyOn => 3,
            TwoFactorAlreadyOff => 4,
            TwoFactorNotSetUp => 5,
            SmartListMembership => 6,
            SamePlan => 7,
            NothingToCancel => 8,
            FlagExists => 9,
            AlreadyMember => 10,
            InvitePending => 11,
            InviteNotPending(_) => 12,
            LastOwner => 13,
            WhatsAppNotConnected => 14,
            WhatsAppNumberTaken => 15,
            IntegrationNotConnected => 16,
            AlreadyExists => 17,
        }
    }

    #[test]
    fn all_lists_every_conflict_kind_once() {
        let all = ConflictKind::all();
        let places: Vec<usize> = all.iter().map(place).collect();
        assert_eq!(places, (0..18).collect::<Vec<_>>());
        let mut codes: Vec<&str> = all.iter().map(ConflictKind::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "every kind has a code of its own");
    }
}
