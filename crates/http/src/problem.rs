//! problem+json (RFC 9457): the one mapping from use-case errors to HTTP status and stable public
//! `code`, and the localised `title`/`detail` (English or Arabic by `Accept-Language`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use leadzone_app::AppError;
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
    pub code: &'static str,
    pub errors: Vec<FieldError>,
    /// Extra members (`existingLeadId`, `metric`…).
    pub extra: Map<String, Value>,
    /// For logs only; never sent.
    pub internal: Option<String>,
    /// The `Allow` header of a 405.
    pub allow: Option<String>,
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

impl Problem {
    pub fn new(status: StatusCode, code: &'static str) -> Self {
        Self { status, code, errors: Vec::new(), extra: Map::new(), internal: None, allow: None }
    }

    pub fn from_error(err: &ApiError) -> Self {
        use AppError as E;
        let p = Self::new;
        match err {
            ApiError::BadRequest(why) => {
                let mut prob = p(StatusCode::BAD_REQUEST, "BAD_REQUEST");
                prob.errors.push(FieldError::new("body", why.clone()));
                prob
            }
            ApiError::PayloadTooLarge => p(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::MethodNotAllowed(methods) => {
                let mut prob = p(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
                prob.allow = Some(methods.join(", "));
                prob
            }
            ApiError::App(app) => match app {
                E::Validation(errors) => {
                    let mut prob = p(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED");
                    prob.errors = errors.clone();
                    prob
                }
                E::BadRequest(why) => {
                    let mut prob = p(StatusCode::BAD_REQUEST, "BAD_REQUEST");
                    prob.errors.push(FieldError::new("body", why.clone()));
                    prob
                }
                E::Unauthenticated => p(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
                E::InvalidCredentials => p(StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"),
                E::OtpRequired => p(StatusCode::UNAUTHORIZED, "OTP_REQUIRED"),
                E::Forbidden => p(StatusCode::FORBIDDEN, "FORBIDDEN"),
                E::TenantSuspended => p(StatusCode::FORBIDDEN, "TENANT_SUSPENDED"),
                E::SubscriptionUnpaid => p(StatusCode::PAYMENT_REQUIRED, "SUBSCRIPTION_UNPAID"),
                E::FeatureDisabled(key) => {
                    let mut prob = p(StatusCode::FORBIDDEN, "FEATURE_DISABLED");
                    prob.extra.insert("feature".into(), json!(key));
                    prob
                }
                E::NotFound => p(StatusCode::NOT_FOUND, "NOT_FOUND"),
                E::Conflict(why) => {
                    let mut prob = p(StatusCode::CONFLICT, "CONFLICT");
                    prob.extra.insert("reason".into(), json!(why));
                    prob
                }
                E::DuplicateLead { existing } => {
                    let mut prob = p(StatusCode::CONFLICT, "DUPLICATE_LEAD");
                    prob.extra.insert("existingLeadId".into(), json!(existing.to_string()));
                    prob
                }
                E::InvalidStateTransition { from, to } => {
                    let mut prob = p(StatusCode::CONFLICT, "INVALID_STATE_TRANSITION");
                    prob.extra.insert("from".into(), json!(from));
                    prob.extra.insert("to".into(), json!(to));
                    prob
                }
                E::PlanLimitConflict { metric, limit, used } => {
                    let mut prob = p(StatusCode::CONFLICT, "PLAN_LIMIT_CONFLICT");
                    prob.extra.insert("metric".into(), json!(metric.as_str()));
                    prob.extra.insert("limit".into(), json!(limit));
                    prob.extra.insert("used".into(), json!(used));
                    prob
                }
                E::QuotaExceeded { metric, limit, used } => {
                    let mut prob = p(StatusCode::PAYMENT_REQUIRED, "QUOTA_EXCEEDED");
                    prob.extra.insert("metric".into(), json!(metric.as_str()));
                    prob.extra.insert("limit".into(), json!(limit));
                    prob.extra.insert("used".into(), json!(used));
                    prob
                }
                E::InviteExpired => p(StatusCode::GONE, "INVITE_EXPIRED"),
                E::RateLimited { retry_after_secs } => {
                    let mut prob = p(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
                    prob.extra.insert("retryAfter".into(), json!(retry_after_secs));
                    prob
                }
                E::Unavailable(why) => {
                    let mut prob = p(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
                    prob.internal = Some(why.clone());
                    prob
                }
                E::Internal(why) => {
                    let mut prob = p(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL");
                    prob.internal = Some(why.clone());
                    prob
                }
            },
        }
    }

    /// The JSON body in `lang`, with the request id when known.
    pub fn body(&self, lang: Lang, request_id: Option<&str>) -> Value {
        let (title, detail) = texts(self.code, lang);
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("urn:leadzone:problem:{}", self.code)));
        body.insert("title".into(), json!(title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(detail));
        body.insert("code".into(), json!(self.code));
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
            tracing::error!(code = problem.code, error = %internal, "request failed");
        }
        problem.response(Lang::En, None)
    }
}

/// Title and detail of each public code.
fn texts(code: &str, lang: Lang) -> (&'static str, &'static str) {
    let (en, ar) = match code {
        "BAD_REQUEST" => (("Bad request", "The request could not be read."), ("طلب غير صالح", "تعذّرت قراءة الطلب.")),
        "UNAUTHENTICATED" => (
            ("Not authenticated", "A valid access token or API key is required."),
            ("غير مصادق", "يلزم رمز وصول أو مفتاح API صالح."),
        ),
        "INVALID_CREDENTIALS" => (
            ("Invalid credentials", "The email or password is incorrect."),
            ("بيانات الدخول غير صحيحة", "البريد الإلكتروني أو كلمة المرور غير صحيحة."),
        ),
        "OTP_REQUIRED" => (
            ("One-time code required", "Two-factor authentication is on: send a valid one-time code."),
            ("رمز التحقق مطلوب", "المصادقة الثنائية مفعّلة: أرسل رمز تحقق صالحًا."),
        ),
        "FORBIDDEN" => (
            ("Forbidden", "Your role or API key does not allow this action."),
            ("غير مسموح", "دورك أو مفتاح API لا يسمح بهذا الإجراء."),
        ),
        "TENANT_SUSPENDED" => {
            (("Organization suspended", "This organization is suspended."), ("المنظمة موقوفة", "هذه المنظمة موقوفة."))
        }
        "FEATURE_DISABLED" => (
            ("Feature disabled", "This feature is not enabled for your organization."),
            ("الميزة غير مفعّلة", "هذه الميزة غير مفعّلة لمنظمتك."),
        ),
        "NOT_FOUND" => (("Not found", "The resource does not exist."), ("غير موجود", "المورد غير موجود.")),
        "METHOD_NOT_ALLOWED" => (
            ("Method not allowed", "This method is not supported on this path."),
            ("الطريقة غير مسموحة", "هذه الطريقة غير مدعومة على هذا المسار."),
        ),
        "CONFLICT" => (
            ("Conflict", "The request conflicts with the current state."),
            ("تعارض", "الطلب يتعارض مع الحالة الحالية."),
        ),
        "DUPLICATE_LEAD" => (
            ("Duplicate lead", "A lead for this company already exists."),
            ("عميل محتمل مكرر", "يوجد عميل محتمل لهذه الشركة بالفعل."),
        ),
        "INVALID_STATE_TRANSITION" => (
            ("Invalid state transition", "This status change is not allowed."),
            ("انتقال حالة غير صالح", "تغيير الحالة هذا غير مسموح."),
        ),
        "PLAN_LIMIT_CONFLICT" => (
            ("Plan limit conflict", "Current usage is above the new plan's limits."),
            ("تعارض مع حدود الخطة", "الاستخدام الحالي يتجاوز حدود الخطة الجديدة."),
        ),
        "INVITE_EXPIRED" => {
            (("Invite expired", "This invitation has expired."), ("انتهت صلاحية الدعوة", "انتهت صلاحية هذه الدعوة."))
        }
        "PAYLOAD_TOO_LARGE" => (
            ("Payload too large", "The request body is too large."),
            ("حجم الطلب كبير جدًا", "محتوى الطلب أكبر من المسموح."),
        ),
        "VALIDATION_FAILED" => {
            (("Validation failed", "One or more fields are invalid."), ("فشل التحقق", "حقل واحد أو أكثر غير صالح."))
        }
        "SUBSCRIPTION_UNPAID" => (
            ("Subscription unpaid", "The subscription is unpaid: the organization can only read until it is paid."),
            ("الاشتراك غير مدفوع", "الاشتراك غير مدفوع: يمكن للمنظمة القراءة فقط حتى يتم السداد."),
        ),
        "QUOTA_EXCEEDED" => (
            ("Quota exceeded", "Your plan's limit for this month is reached."),
            ("تم تجاوز الحصة", "تم بلوغ حد خطتك لهذا الشهر."),
        ),
        "RATE_LIMITED" => (
            ("Too many requests", "Slow down and retry after the indicated time."),
            ("طلبات كثيرة جدًا", "يرجى الانتظار ثم إعادة المحاولة بعد الوقت المحدد."),
        ),
        "UNAVAILABLE" => (
            ("Service unavailable", "The service is temporarily unavailable."),
            ("الخدمة غير متاحة", "الخدمة غير متاحة مؤقتًا."),
        ),
        _ => (("Internal error", "Something went wrong on our side."), ("خطأ داخلي", "حدث خطأ من جهتنا.")),
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
            (AppError::Conflict("x".into()), 409, "CONFLICT"),
            (AppError::QuotaExceeded { metric: UsageMetric::Leads, limit: 1, used: 1 }, 402, "QUOTA_EXCEEDED"),
            (AppError::Unavailable("db".into()), 503, "UNAVAILABLE"),
            (AppError::Internal("boom".into()), 500, "INTERNAL"),
        ];
        for (err, status, code) in cases {
            let p = Problem::from_error(&ApiError::App(err));
            assert_eq!((p.status.as_u16(), p.code), (status, code));
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

    #[test]
    fn accept_language() {
        assert_eq!(Lang::from_accept_language(Some("ar")), Lang::Ar);
        assert_eq!(Lang::from_accept_language(Some("ar-SA,en;q=0.8")), Lang::Ar);
        assert_eq!(Lang::from_accept_language(Some("en-US,ar;q=0.9")), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("arn")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }
}
