//! problem+json (RFC 9457): the one mapping from use-case errors to HTTP status and stable public
//! `code`, and the localised `title`/`detail` (English or Arabic by `Accept-Language`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use leadzone_app::AppError;
use leadzone_app::error::ProblemCode;
use leadzone_domain::FieldError;
use serde_json::{Map, Value, json};

/// The error type of every handler.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("payload too large")]
    PayloadTooLarge,
    /// The path is served, but not with this method; the methods that are, for `Allow`.
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
}

/// What a problem response says, kept beside the body so the problem middleware can re-render it
/// in the request's language with its request id.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: ProblemCode,
    pub errors: Vec<FieldError>,
    /// Extra members (`existingLeadId`, `metric`…).
    pub extra: Map<String, Value>,
    /// For logs only; never sent.
    pub internal: Option<String>,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
    /// A detail written for this one problem (English, Arabic) instead of the code's own.
    pub detail: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ar,
}

impl Lang {
    /// `ar` when the first language the client names is Arabic; English otherwise.
    pub fn from_accept_language(value: Option<&str>) -> Self {
        let first = value.and_then(|v| v.split(',').next()).map(|s| s.trim().to_ascii_lowercase());
        match first {
            Some(tag) if tag == "ar" || tag.starts_with("ar-") || tag.starts_with("ar;") => Lang::Ar,
            _ => Lang::En,
        }
    }
}

/// The HTTP status of each public code (api.md's table).
pub fn status_of(code: ProblemCode) -> StatusCode {
    use ProblemCode as P;
    match code {
        P::BadRequest => StatusCode::BAD_REQUEST,
        P::Unauthenticated | P::InvalidCredentials | P::OtpRequired => StatusCode::UNAUTHORIZED,
        P::SubscriptionUnpaid | P::QuotaExceeded => StatusCode::PAYMENT_REQUIRED,
        P::Forbidden | P::TenantSuspended | P::FeatureDisabled => StatusCode::FORBIDDEN,
        P::NotFound => StatusCode::NOT_FOUND,
        P::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        P::Conflict | P::DuplicateLead | P::InvalidStateTransition | P::PlanLimitConflict | P::RecipientOptedOut => {
            StatusCode::CONFLICT
        }
        P::InviteExpired => StatusCode::GONE,
        P::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        P::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        P::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
        P::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        P::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        P::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Codes of failed jobs (an outside service's answer); a request that meets one answers
        // as a gateway would.
        P::ProviderUnauthorized | P::ProviderUnavailable | P::ProviderRejected => StatusCode::BAD_GATEWAY,
    }
}

impl Problem {
    /// A problem with `code`'s status.
    pub fn of(code: ProblemCode) -> Self {
        Self::new(status_of(code), code)
    }

    pub fn new(status: StatusCode, code: ProblemCode) -> Self {
        Self { status, code, errors: Vec::new(), extra: Map::new(), internal: None, allow: None, detail: None }
    }

    pub fn from_error(err: &ApiError) -> Self {
        use AppError as E;
        match err {
            ApiError::BadRequest(why) => {
                let mut prob = Self::of(ProblemCode::BadRequest);
                prob.errors.push(FieldError::new("body", why.clone()));
                prob
            }
            ApiError::PayloadTooLarge => Self::of(ProblemCode::PayloadTooLarge),
            ApiError::MethodNotAllowed(methods) => {
                let mut prob = Self::of(ProblemCode::MethodNotAllowed);
                prob.allow = Some(methods.join(", "));
                prob
            }
            ApiError::App(app) => {
                let mut prob = Self::of(app.code());
                match app {
                    E::Validation(errors) => prob.errors = errors.clone(),
                    E::BadRequest(why) => prob.errors.push(FieldError::new("body", why.clone())),
                    E::FeatureDisabled(key) => {
                        prob.extra.insert("feature".into(), json!(key));
                    }
                    E::Conflict(kind) => {
                        prob.extra.insert("reason".into(), json!(kind.code()));
                        prob.detail = Some(kind.texts());
                    }
                    E::DuplicateLead { existing } => {
                        prob.extra.insert("existingLeadId".into(), json!(existing.to_string()));
                    }
                    E::InvalidStateTransition { from, to } => {
                        prob.extra.insert("from".into(), json!(from));
                        prob.extra.insert("to".into(), json!(to));
                    }
                    E::PlanLimitConflict { metric, limit, used } | E::QuotaExceeded { metric, limit, used } => {
                        prob.extra.insert("metric".into(), json!(metric.as_str()));
                        prob.extra.insert("limit".into(), json!(limit));
                        prob.extra.insert("used".into(), json!(used));
                    }
                    E::RateLimited { retry_after_secs } => {
                        prob.extra.insert("retryAfter".into(), json!(retry_after_secs));
                    }
                    E::Unavailable(why) | E::Internal(why) => prob.internal = Some(why.clone()),
                    E::NotConfigured { service, setting } => {
                        prob.extra.insert("setting".into(), json!(setting));
                        prob.detail = Some((
                            format!(
                                "{service} is not configured on this server: the operator sets {setting}, or the organization connects its own account."
                            ),
                            format!(
                                "الخدمة {service} غير مهيأة على هذا الخادم: يضبط المشغّل {setting}، أو تربط المنظمة حسابها الخاص."
                            ),
                        ));
                    }
                    E::Unauthenticated
                    | E::InvalidCredentials
                    | E::OtpRequired
                    | E::Forbidden
                    | E::TenantSuspended
                    | E::SubscriptionUnpaid
                    | E::NotFound
                    | E::InviteExpired
                    | E::RecipientOptedOut => {}
                }
                prob
            }
        }
    }

    /// The JSON body in `lang`, with the request id when known.
    pub fn body(&self, lang: Lang, request_id: Option<&str>) -> Value {
        let (title, detail) = texts(self.code, lang);
        let detail = match (&self.detail, lang) {
            (Some((en, _)), Lang::En) => en.as_str(),
            (Some((_, ar)), Lang::Ar) => ar.as_str(),
            (None, _) => detail,
        };
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("urn:leadzone:problem:{}", self.code.as_str())));
        body.insert("title".into(), json!(title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(detail));
        body.insert("code".into(), json!(self.code.as_str()));
        if !self.errors.is_empty() {
            let errors: Vec<Value> = self
                .errors
                .iter()
                .map(|e| json!({"field": e.field, "message": crate::messages::localise(&e.message, lang)}))
                .collect();
            body.insert("errors".into(), Value::Array(errors));
        }
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        if let Some(id) = request_id {
            body.insert("requestId".into(), json!(id));
        }
        Value::Object(body)
    }

    pub fn response(&self, lang: Lang, request_id: Option<&str>) -> HttpResponse {
        let mut res = HttpResponse::build(self.status)
            .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json")))
            .body(self.body(lang, request_id).to_string());
        if let Some(Value::Number(n)) = self.extra.get("retryAfter")
            && let Ok(v) = HeaderValue::from_str(&n.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(allow) = self.allow.as_deref().and_then(|a| HeaderValue::from_str(a).ok()) {
            res.headers_mut().insert(header::ALLOW, allow);
        }
        res.extensions_mut().insert(self.clone());
        res
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        Problem::from_error(self).status
    }

    fn error_response(&self) -> HttpResponse {
        let problem = Problem::from_error(self);
        if let Some(internal) = &problem.internal {
            tracing::error!(code = problem.code.as_str(), error = %internal, "request failed");
        }
        problem.response(Lang::En, None)
    }
}

/// Title and detail of each public code.
pub fn texts(code: ProblemCode, lang: Lang) -> (&'static str, &'static str) {
    use ProblemCode as P;
    let (en, ar) = match code {
        P::BadRequest => (("Bad request", "The request could not be read."), ("طلب غير صالح", "تعذّرت قراءة الطلب.")),
        P::Unauthenticated => (
            ("Not authenticated", "A valid access token or API key is required."),
            ("غير مصادق", "يلزم رمز وصول أو مفتاح API صالح."),
        ),
        P::InvalidCredentials => (
            ("Invalid credentials", "The email or password is incorrect."),
            ("بيانات الدخول غير صحيحة", "البريد الإلكتروني أو كلمة المرور غير صحيحة."),
        ),
        P::OtpRequired => (
            ("One-time code required", "Two-factor authentication is on: send a valid one-time code."),
            ("رمز التحقق مطلوب", "المصادقة الثنائية مفعّلة: أرسل رمز تحقق صالحًا."),
        ),
        P::Forbidden => (
            ("Forbidden", "Your role or API key does not allow this action."),
            ("غير مسموح", "دورك أو مفتاح API لا يسمح بهذا الإجراء."),
        ),
        P::TenantSuspended => {
            (("Organization suspended", "This organization is suspended."), ("المنظمة موقوفة", "هذه المنظمة موقوفة."))
        }
        P::FeatureDisabled => (
            ("Feature disabled", "This feature is not enabled for your organization."),
            ("الميزة غير مفعّلة", "هذه الميزة غير مفعّلة لمنظمتك."),
        ),
        P::NotFound => (("Not found", "The resource does not exist."), ("غير موجود", "المورد غير موجود.")),
        P::MethodNotAllowed => (
            ("Method not allowed", "This method is not supported on this path."),
            ("الطريقة غير مسموحة", "هذه الطريقة غير مدعومة على هذا المسار."),
        ),
        P::Conflict => (
            ("Conflict", "The request conflicts with the current state."),
            ("تعارض", "الطلب يتعارض مع الحالة الحالية."),
        ),
        P::DuplicateLead => (
            ("Duplicate lead", "A lead for this company already exists."),
            ("عميل محتمل مكرر", "يوجد عميل محتمل لهذه الشركة بالفعل."),
        ),
        P::InvalidStateTransition => (
            ("Invalid state transition", "This status change is not allowed."),
            ("انتقال حالة غير صالح", "تغيير الحالة هذا غير مسموح."),
        ),
        P::PlanLimitConflict => (
            ("Plan limit conflict", "Current usage is above the new plan's limits."),
            ("تعارض مع حدود الخطة", "الاستخدام الحالي يتجاوز حدود الخطة الجديدة."),
        ),
        P::InviteExpired => {
            (("Invite expired", "This invitation has expired."), ("انتهت صلاحية الدعوة", "انتهت صلاحية هذه الدعوة."))
        }
        P::PayloadTooLarge => (
            ("Payload too large", "The request body is too large."),
            ("حجم الطلب كبير جدًا", "محتوى الطلب أكبر من المسموح."),
        ),
        P::ValidationFailed => {
            (("Validation failed", "One or more fields are invalid."), ("فشل التحقق", "حقل واحد أو أكثر غير صالح."))
        }
        P::SubscriptionUnpaid => (
            ("Subscription unpaid", "The subscription is unpaid: the organization can only read until it is paid."),
            ("الاشتراك غير مدفوع", "الاشتراك غير مدفوع: يمكن للمنظمة القراءة فقط حتى يتم السداد."),
        ),
        P::QuotaExceeded => (
            ("Quota exceeded", "Your plan's limit for this month is reached."),
            ("تم تجاوز الحصة", "تم بلوغ حد خطتك لهذا الشهر."),
        ),
        P::RateLimited => (
            ("Too many requests", "Slow down and retry after the indicated time."),
            ("طلبات كثيرة جدًا", "يرجى الانتظار ثم إعادة المحاولة بعد الوقت المحدد."),
        ),
        P::Unavailable => (
            ("Service unavailable", "The service is temporarily unavailable."),
            ("الخدمة غير متاحة", "الخدمة غير متاحة مؤقتًا."),
        ),
        P::Internal => (("Internal error", "Something went wrong on our side."), ("خطأ داخلي", "حدث خطأ من جهتنا.")),
        P::RecipientOptedOut => (
            ("Recipient opted out", "This recipient asked not to be messaged."),
            ("المستلم ألغى الاشتراك", "طلب هذا المستلم عدم مراسلته."),
        ),
        P::UnsupportedMediaType => (
            ("Unsupported media type", "The body's content type is not accepted here."),
            ("نوع محتوى غير مدعوم", "نوع محتوى الطلب غير مقبول هنا."),
        ),
        P::ProviderUnauthorized => (
            ("Provider refused the key", "An outside service refused the key it was called with."),
            ("رفض المزوّد المفتاح", "رفضت خدمة خارجية المفتاح الذي استُدعيت به."),
        ),
        P::ProviderUnavailable => (
            ("Provider unavailable", "An outside service did not answer in time; the work is retried."),
            ("المزوّد غير متاح", "لم تستجب خدمة خارجية في الوقت المناسب؛ ستُعاد المحاولة."),
        ),
        P::ProviderRejected => (
            ("Provider refused the request", "An outside service refused the request."),
            ("رفض المزوّد الطلب", "رفضت خدمة خارجية الطلب."),
        ),
    };
    match lang {
        Lang::En => en,
        Lang::Ar => ar,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadzone_domain::enums::UsageMetric;

    #[test]
    fn app_errors_map_to_stable_codes_and_statuses() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::field("email", "bad"), 422, "VALIDATION_FAILED"),
            (AppError::Unauthenticated, 401, "UNAUTHENTICATED"),
            (AppError::InvalidCredentials, 401, "INVALID_CREDENTIALS"),
            (AppError::Forbidden, 403, "FORBIDDEN"),
            (AppError::NotFound, 404, "NOT_FOUND"),
            (AppError::Conflict(leadzone_app::error::ConflictKind::SamePlan), 409, "CONFLICT"),
            (AppError::QuotaExceeded { metric: UsageMetric::Leads, limit: 1, used: 1 }, 402, "QUOTA_EXCEEDED"),
            (AppError::Unavailable("db".into()), 503, "UNAVAILABLE"),
            (AppError::Internal("boom".into()), 500, "INTERNAL"),
        ];
        for (err, status, code) in cases {
            let p = Problem::from_error(&ApiError::App(err));
            assert_eq!((p.status.as_u16(), p.code.as_str()), (status, code));
        }
    }

    #[test]
    fn bodies_carry_fields_and_never_internal_text() {
        let p = Problem::from_error(&ApiError::App(AppError::Internal("SELECT secret FROM x".into())));
        let body = p.body(Lang::En, Some("req-1")).to_string();
        assert!(!body.contains("SELECT"), "{body}");
        assert!(body.contains("\"requestId\":\"req-1\""));
        let p = Problem::from_error(&ApiError::App(AppError::QuotaExceeded {
            metric: UsageMetric::Leads,
            limit: 100,
            used: 100,
        }));
        let body = p.body(Lang::Ar, None);
        assert_eq!(body["metric"], "leads");
        assert_eq!(body["limit"], 100);
        assert_eq!(body["detail"], "تم بلوغ حد خطتك لهذا الشهر.");
    }

    /// Every code has a status in the 4xx/5xx range and its own English and Arabic title and detail.
    #[test]
    fn every_code_has_a_status_and_both_texts() {
        let mut titles = std::collections::HashSet::new();
        for code in ProblemCode::ALL {
            let status = status_of(*code).as_u16();
            assert!((400..600).contains(&status), "{code}");
            let (en_title, en_detail) = texts(*code, Lang::En);
            let (ar_title, ar_detail) = texts(*code, Lang::Ar);
            assert!(titles.insert(en_title), "{code} shares its title");
            for text in [en_title, en_detail, ar_title, ar_detail] {
                assert!(!text.is_empty(), "{code}");
            }
            assert!(ar_title.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)), "{code}: {ar_title}");
        }
    }

    /// Every conflict rule has its own stable reason and its text in both languages, and a 409
    /// says which rule in the client's language.
    #[test]
    fn every_conflict_has_a_reason_and_both_texts() {
        use leadzone_app::error::ConflictKind;
        let mut codes = std::collections::HashSet::new();
        for kind in ConflictKind::all() {
            assert!(codes.insert(kind.code()), "{kind:?} shares its code");
            let (en, ar) = kind.texts();
            assert!(!en.is_empty() && ar.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)), "{kind:?}");
        }
        let p = Problem::from_error(&ApiError::App(AppError::Conflict(ConflictKind::LastOwner)));
        let body = p.body(Lang::Ar, None);
        assert_eq!((body["status"].as_u64(), body["reason"].as_str()), (Some(409), Some("LAST_OWNER")));
        assert_eq!(body["detail"], "لا يمكن تخفيض دور المالك الأخير أو إيقافه أو إزالته.");
        assert_eq!(p.body(Lang::En, None)["detail"], "The last owner cannot be demoted, suspended or removed.");
    }

    #[test]
    fn accept_language() {
        assert_eq!(Lang::from_accept_language(Some("ar")), Lang::Ar);
        assert_eq!(Lang::from_accept_language(Some("ar-SA,en;q=0.8")), Lang::Ar);
        assert_eq!(Lang::from_accept_language(Some("en-US,ar;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("arn")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }
}
