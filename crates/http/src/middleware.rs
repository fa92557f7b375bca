//! The one middleware every request passes: a request id (echoed as `X-Request-Id` and put in
//! every problem body), a tracing span, metrics, and problem bodies re-rendered in the request's
//! language.

use crate::HttpState;
use crate::problem::{Lang, Problem};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| v.to_owned())
}

/// Paths whose responses may carry a token or a secret and so are sent with
/// `Cache-Control: no-store` (no browser cache, no proxy, no back-forward cache keeps them):
/// register, login, refresh and switch-tenant (token pairs) under [`NO_STORE_PREFIX`], invite
/// creation (the invite token) and acceptance (a token pair), API-key creation (the secret),
/// two-factor setup (the TOTP secret) and outbound-webhook creation (the signing secret).
/// Matched by path whatever the method: the listings that share a path lose nothing by it.
const NO_STORE_PATHS: &[&str] =
    &["/api/v1/invites", "/api/v1/invites/accept", "/api/v1/api-keys", "/api/v1/me/2fa/setup", "/api/v1/webhooks"];
/// Every path under it answers with `Cache-Control: no-store` (see [`NO_STORE_PATHS`]).
const NO_STORE_PREFIX: &str = "/api/v1/auth/";

/// Whether the response to `path` must not be stored (it may carry a token or a secret).
fn carries_secrets(path: &str) -> bool {
    let path = path.strip_suffix('/').unwrap_or(path);
    path.starts_with(NO_STORE_PREFIX) || NO_STORE_PATHS.contains(&path)
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let lang = Lang::from_accept_language(req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let metrics = req.app_data::<web::Data<HttpState>>().map(|s| s.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id, %method, %path);

    // A literal path (`/leads/bulk`) with a method it does not serve would otherwise reach the
    // template beside it (`PATCH /leads/{id}`): answer 405 before any handler reads the body.
    let res = match crate::openapi::literal_methods(&path) {
        Some(allowed) if !allowed.contains(&method) => {
            let err = crate::problem::ApiError::MethodNotAllowed(allowed.clone());
            req.error_response(err)
        }
        _ => next.call(req).instrument(span.clone()).await?.map_into_boxed_body(),
    };

    let problem = res.response().extensions().get::<Problem>().cloned();
    let mut res = match problem {
        Some(problem) => {
            let rendered = problem.response(lang, Some(&id));
            res.into_response(rendered).map_into_boxed_body()
        }
        None => res,
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    // Set after a problem body is re-rendered (that replaces the response and its headers).
    res.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if carries_secrets(&path) {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    let status = res.status().as_u16();
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.observe(&method, &route, status, elapsed.as_secs_f64());
    }
    span.in_scope(|| tracing::info!(status, route = %route, latency_ms = elapsed.as_millis() as u64, "handled"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::carries_secrets;

    #[test]
    fn token_and_secret_paths_are_not_stored() {
        for path in [
            "/api/v1/auth/login",
            "/api/v1/auth/register",
            "/api/v1/auth/refresh",
            "/api/v1/auth/switch-tenant",
            "/api/v1/invites",
            "/api/v1/invites/accept",
            "/api/v1/api-keys",
            "/api/v1/api-keys/",
            "/api/v1/me/2fa/setup",
            "/api/v1/webhooks",
        ] {
            assert!(carries_secrets(path), "{path}");
        }
        for path in ["/api/v1/leads", "/api/v1/api-keys/123", "/api/v1/me", "/api/v1/authx", "/healthz", "/"] {
            assert!(!carries_secrets(path), "{path}");
        }
    }
}
