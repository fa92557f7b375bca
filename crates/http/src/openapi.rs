//! The published contract: the OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]`
//! attributes and the typed bodies they parse (`GET /api/v1/openapi.json`).
//!
//! Handlers declare their success responses; the error answers every operation can give are added
//! here by one rule (`add_problem_responses`), so a new endpoint is born with its errors documented.
//! This module never decides behaviour: it only describes what the handlers do.

use actix_web::get;
use std::borrow::Cow;
use std::collections::BTreeSet;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// The name of the bearer security scheme (a session access token or an API key).
pub const BEARER: &str = "bearer";

/// Schema-only mirrors of the domain's closed sets: the values come from the domain's `ALL`, so
/// the document lists exactly what the server parses.
pub mod enums {
    use super::*;

    macro_rules! enum_schemas {
        ($($name:ident),+ $(,)?) => {$(
            #[doc = concat!("The wire spellings of `", stringify!($name), "`.")]
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    let values = leadzone_domain::enums::$name::ALL.iter().map(|v| v.as_str());
                    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).into()
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )+};
    }

    enum_schemas!(
        LeadStatus,
        Role,
        MembershipStatus,
        TenantStatus,
        InviteStatus,
        SubscriptionStatus,
        BillingCycle,
        UsageMetric,
        JobType,
        JobStatus,
        LogLevel,
        JobEntityType,
        EvidenceType,
        Confidence,
        ActivityType,
        AuditEventType,
        IntegrationType,
        IntegrationStatus,
        WhatsAppStatus,
        TemplateStatus,
        TemplateCategory,
        Language,
    );
}

/// One `errors[]` entry of a problem.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldProblem {
    /// The field, as the client named it (`filter.status`, `ids[3]`); `body` for the body itself.
    field: String,
    /// What is wrong, in the request's language.
    message: String,
}

/// An `application/problem+json` body (RFC 9457). Extra members (`existingLeadId`, `metric`,
/// `limit`, `used`, `retryAfter`, `feature`…) appear with the codes that carry them.
pub struct Problem;

impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        let codes = leadzone_app::error::ProblemCode::ALL.iter().map(|c| c.as_str());
        ObjectBuilder::new()
            .property("type", ObjectBuilder::new().schema_type(Type::String))
            .required("type")
            .property("title", ObjectBuilder::new().schema_type(Type::String))
            .required("title")
            .property("status", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(400)).maximum(Some(599)))
            .required("status")
            .property("detail", ObjectBuilder::new().schema_type(Type::String))
            .required("detail")
            .property("code", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(codes)))
            .required("code")
            .property("errors", utoipa::openapi::schema::ArrayBuilder::new().items(FieldProblem::schema()))
            .property("requestId", ObjectBuilder::new().schema_type(Type::String))
            .into()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((FieldProblem::name().into_owned(), FieldProblem::schema()));
    }
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem")))).build(),
        )
        .into()
}

/// The error statuses an operation can answer, by what it takes: every operation can fail
/// inside (500, 503) and be called too often (429); authenticated ones add 401/403 and writes
/// 402 (quota, unpaid) and 409; a path id adds 404; a body or query adds 400/413/422.
fn error_statuses(path: &str, method: &str, op: &Operation) -> BTreeSet<u16> {
    let mut s: BTreeSet<u16> = [429, 500, 503].into();
    let authed = op.security.as_ref().is_some_and(|v| !v.is_empty());
    if authed || path.starts_with("/admin/") {
        s.extend([401, 403]);
    }
    if path.starts_with("/api/v1/auth/") {
        // Wrong credentials, a missing one-time code, a rotated refresh token.
        s.insert(401);
    }
    let write = method != "get";
    if write {
        // A unique email or slug, a state that forbids the change.
        s.insert(409);
    }
    if authed && write {
        s.insert(402);
    }
    if path.contains('{') || path.starts_with("/api/v1/") || path.starts_with("/admin/") {
        // Also a tenant's missing singleton (`/tenant`) or a disabled admin API.
        s.insert(404);
    }
    if path.starts_with("/webhooks/") {
        // A callback with a bad signature (401), a refused verification handshake (403), a
        // webhook the platform has not configured (404).
        s.extend([401, 403, 404]);
    }
    let has_query = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if op.request_body.is_some() || has_query || write {
        s.extend([400, 422]);
    }
    if op.request_body.is_some() || write {
        s.extend([413, 415]);
    }
    s
}

fn description(status: u16) -> &'static str {
    match status {
        400 => "The request could not be read (BAD_REQUEST).",
        401 => "No valid session token or API key (UNAUTHENTICATED, INVALID_CREDENTIALS, OTP_REQUIRED).",
        402 => "A plan limit is reached or the subscription is unpaid (QUOTA_EXCEEDED, SUBSCRIPTION_UNPAID).",
        403 => "The role or API key lacks the permission, the tenant is suspended or the feature is off.",
        404 => "No such resource in this tenant (NOT_FOUND).",
        405 => "The path does not support this method (METHOD_NOT_ALLOWED).",
        409 => "The request conflicts with the current state.",
        410 => "The invitation has expired (INVITE_EXPIRED).",
        413 => "The body is too large (PAYLOAD_TOO_LARGE).",
        415 => "The body's content type is not accepted (UNSUPPORTED_MEDIA_TYPE).",
        422 => "One or more fields are invalid (VALIDATION_FAILED), each listed in `errors`.",
        429 => "Too many requests (RATE_LIMITED); see `Retry-After`.",
        503 => {
            "The service is temporarily unavailable, or an outside service it needs is not configured (UNAVAILABLE)."
        }
        _ => "Something went wrong on the server (INTERNAL).",
    }
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    let mut ops = Vec::new();
    for (m, op) in [
        ("get", &mut item.get),
        ("post", &mut item.post),
        ("put", &mut item.put),
        ("patch", &mut item.patch),
        ("delete", &mut item.delete),
    ] {
        if let Some(op) = op.as_mut() {
            ops.push((m, op));
        }
    }
    ops
}

/// Adds the problem responses every operation can give (see `error_statuses`), keeping any an
/// operation declared itself.
fn add_problem_responses(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for (method, op) in operations(item) {
            for status in error_statuses(path, method, op) {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem_response(description(status)));
            }
        }
    }
}

/// The (method, path) of every documented operation, upper-case methods.
pub fn documented_operations(doc: &OpenApi) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths.clone() {
        let mut item = item;
        for (m, _) in operations(&mut item) {
            out.push((m.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

/// Completes the document the routes produced: title, version, the bearer scheme, the problem
/// schema and the error answers.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info.title = "Leadzone API".to_owned();
    doc.info.contact = None;
    doc.info.license = None;
    doc.info.version = "1".to_owned();
    doc.info.description = Some(
        "Multi-tenant lead generation for sales teams in Saudi Arabia and the Gulf. Every error is \
         `application/problem+json` with a stable `code`; `title`, `detail` and `errors[].message` follow \
         `Accept-Language` (`ar` or `en`). Lists page by cursor (`limit` 1–200, default 50)."
            .to_owned(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("A session access token (from login) or an API key (`lz_live_…`, `lz_test_…`)."))
                .build(),
        ),
    );
    components.schemas.insert(Problem::name().into_owned(), Problem::schema());
    let mut nested = Vec::new();
    Problem::schemas(&mut nested);
    components.schemas.extend(nested);
    add_problem_responses(&mut doc);
    name_operations(&mut doc);
    doc
}

/// `operationId`s from method and path (`post_api_v1_leads_id_status`): unique by construction,
/// unlike the handler names utoipa would use.
fn name_operations(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let tail: String = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim_matches(|c| c == '{' || c == '}').replace(['.', '-'], "_"))
            .collect::<Vec<_>>()
            .join("_");
        let slash = if path.len() > 1 && path.ends_with('/') { "_slash" } else { "" };
        for (method, op) in operations(item) {
            op.operation_id = Some(format!("{method}_{tail}{slash}"));
        }
    }
}

/// A request body's JSON schema with its referenced components, for the body validator.
pub fn body_schema<T: ToSchema>() -> (RefOr<Schema>, Vec<(String, RefOr<Schema>)>) {
    let mut components = Vec::new();
    T::schemas(&mut components);
    (T::schema(), components)
}

/// The finished document of every route, built once.
pub fn document() -> &'static OpenApi {
    static DOC: std::sync::OnceLock<OpenApi> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        use utoipa_actix_web::AppExt;
        let (_, doc) = actix_web::App::new().into_utoipa_app().configure(crate::routes).split_for_parts();
        finish(doc)
    })
}

/// The document as JSON, rendered once.
fn document_json() -> &'static str {
    static JSON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    JSON.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".to_owned()))
}

fn template_matches(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.trim_end_matches('/').split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let param = ts.starts_with('{') && ts.ends_with('}');
                if !(ts == ps || (param && !ps.is_empty())) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The methods the document serves on `path` (empty when no template matches it).
pub fn allowed_methods(path: &str) -> Vec<String> {
    let ops = documented_operations(document());
    // A literal path (`/invites/accept`) is its own resource even where a template
    // (`/invites/{id}`) would also fit it.
    let literal = ops.iter().any(|(_, t)| t == path);
    let mut methods: Vec<String> = ops
        .into_iter()
        .filter(|(_, template)| if literal { template == path } else { template_matches(template, path) })
        .map(|(m, _)| m)
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

/// The methods served on `path` when it is one of the document's literal paths (no `{…}`); a
/// request there with another method is a 405 even where a template route would also fit it
/// (`DELETE /invites/accept` is not `DELETE /invites/{id}`).
pub fn literal_methods(path: &str) -> Option<&'static Vec<String>> {
    static LITERALS: std::sync::OnceLock<std::collections::HashMap<String, Vec<String>>> = std::sync::OnceLock::new();
    LITERALS
        .get_or_init(|| {
            let mut map: std::collections::HashMap<String, Vec<String>> = Default::default();
            for (m, t) in documented_operations(document()) {
                if !t.contains('{') {
                    map.entry(t).or_default().push(m);
                }
            }
            for methods in map.values_mut() {
                methods.sort();
            }
            map
        })
        .get(path)
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
async fn openapi_json() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().content_type("application/json").body(document_json())
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(openapi_json);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_segment_by_segment() {
        assert!(template_matches("/api/v1/leads/{id}", "/api/v1/leads/abc"));
        assert!(template_matches("/api/v1/leads", "/api/v1/leads/"));
        assert!(!template_matches("/api/v1/leads/{id}", "/api/v1/leads/"));
        assert!(!template_matches("/api/v1/leads/{id}", "/api/v1/leads/a/b"));
        assert!(!template_matches("/api/v1/leads", "/api/v1/lists"));
    }
}

#[cfg(test)]
mod drift_tests {
    //! The document and the router are one list walked two ways: every documented operation is
    //! served by a handler whose route is the documented path, no other method on a documented path
    //! reaches a handler, and every route the sources declare is documented.

    use super::*;
    use actix_web::{App, HttpMessage, dev::Service, test as atest};
    use std::sync::{Arc, Mutex};
    use utoipa_actix_web::AppExt;

    /// The pattern the router matched, or `None` when the request fell through to `unrouted`.
    async fn matched(method: &str, path: &str) -> Option<String> {
        let seen: Arc<Mutex<Option<String>>> = Arc::default();
        let record = seen.clone();
        let app = atest::init_service(
            App::new()
                .wrap_fn(move |req, srv| {
                    let record = record.clone();
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        let routed = res.request().extensions().get::<Unrouted>().is_none();
                        *record.lock().map_err(|_| actix_web::error::ErrorInternalServerError("lock"))? =
                            routed.then(|| res.request().match_pattern()).flatten();
                        Ok(res)
                    }
                })
                .into_utoipa_app()
                .configure(crate::routes)
                .into_app()
                .default_service(actix_web::web::to(|req: actix_web::HttpRequest| async move {
                    req.extensions_mut().insert(Unrouted);
                    actix_web::HttpResponse::NotFound().finish()
                })),
        )
        .await;
        let req = atest::TestRequest::default()
            .method(method.parse().unwrap_or(actix_web::http::Method::GET))
            .uri(path)
            .to_request();
        let _ = atest::call_service(&app, req).await;
        seen.lock().ok().and_then(|s| s.clone())
    }

    struct Unrouted;

    fn concrete(template: &str) -> String {
        template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "0190c6a0-0000-7000-8000-000000000001" } else { seg })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[actix_web::test]
    async fn every_documented_operation_is_served_at_its_path_and_no_other_method_is() {
        let documented = documented_operations(document());
        assert!(documented.len() > 10, "{documented:?}");
        for (method, template) in &documented {
            let got = matched(method, &concrete(template)).await;
            assert_eq!(got.as_deref(), Some(template.as_str()), "{method} {template} is documented but not served");
        }
        for (_, template) in &documented {
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if documented.iter().any(|(m, t)| m == method && t == template) {
                    continue;
                }
                // A literal path can also fit another template (`DELETE /invites/accept` is
                // `DELETE /invites/{id}`); what must not happen is reaching an undocumented pair.
                let got = matched(method, &concrete(template)).await;
                if let Some(pattern) = got {
                    assert!(
                        documented.iter().any(|(m, t)| m == method && *t == pattern),
                        "{method} {template} is served by {pattern} but not documented"
                    );
                }
            }
        }
    }

    /// Every `#[get("…")]`-style route in this crate's sources is in the document, and nothing
    /// registers a route any other way (`.route(`, `web::resource(`), which the document would miss.
    #[test]
    fn every_route_in_the_sources_is_documented() {
        let documented = documented_operations(document());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut undocumented = Vec::new();
        let route = regex::Regex::new(
            r#"#\[\s*(?:actix_web\s*::\s*|web\s*::\s*)?(get|post|put|patch|delete|head|route)\s*\(\s*"([^"]*)""#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path()) else { continue };
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for bad in [".route(", "web::resource(", "web::route("] {
                assert!(
                    !code.contains(bad),
                    "{} registers a route with {bad}: use a documented handler",
                    entry.path().display()
                );
            }
            for cap in route.captures_iter(code) {
                let (method, path) = (cap[1].to_ascii_uppercase(), &cap[2]);
                let served_as =
                    |dp: &String| ["", "/api/v1", "/webhooks", "/admin/v1"].iter().any(|p| *dp == format!("{p}{path}"));
                if !documented.iter().any(|(dm, dp)| *dm == method && served_as(dp)) {
                    undocumented.push(format!("{method} {path} ({})", entry.path().display()));
                }
            }
        }
        assert!(undocumented.is_empty(), "routes without documentation: {undocumented:?}");
    }
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn the_document_renders() {
        let json = super::document_json();
        std::fs::write(std::env::temp_dir().join("leadzone-openapi.json"), json).ok();
        assert!(json.contains("\"/api/v1/leads\""), "{json}");
    }
}
