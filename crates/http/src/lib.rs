//! Leadzone's HTTP adapter (actix-web): routes per capability, the auth extractor, problem+json
//! errors, request ids and metrics.
//!
//! Handlers translate HTTP to use-case calls and back; they never decide permissions, never
//! touch storage, and never build adapters. HTTP status codes exist only in this crate.

pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod billing;
pub mod body;
pub mod cors;
pub mod discovery;
pub mod docs;
pub mod dto;
pub mod health;
pub mod identity;
pub mod integrations;
pub mod intelligence;
pub mod jobs;
pub mod leads;
pub mod lists;
pub mod malformed;
pub mod messages;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod team;
pub mod tenant;
pub mod typed;
pub mod webhooks;
pub mod whatsapp;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, middleware::from_fn, web};
use problem::ApiError;
use std::net::TcpListener;
use std::sync::Arc;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::{AppExt, scope};

/// What handlers share: the use cases and the adapter's own state.
pub struct HttpState {
    pub app: leadzone_app::App,
    pub metrics: Arc<metrics::Metrics>,
    pub trusted_proxies: Vec<auth::Cidr>,
    /// Origins whose pages may call the API (`LEADZONE_CORS_ORIGINS`).
    pub cors_origins: Vec<String>,
    /// Requests per minute per API key, session or client IP (`LEADZONE_RATE_LIMIT_PER_MIN`).
    pub rate_limit: ratelimit::RateLimit,
}

/// A path id that is not a UUID names nothing: 404, never 400 or 500.
pub(crate) fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::App(leadzone_app::AppError::NotFound))
}

/// The query string's pairs; a NUL anywhere is 422 (PostgreSQL cannot store it).
pub(crate) fn query_pairs(req: &actix_web::HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect();
    match pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        Some((k, _)) => {
            Err(leadzone_app::AppError::field(&k.replace('\0', ""), "must not contain NUL characters").into())
        }
        None => Ok(pairs),
    }
}

/// `?limit=&cursor=` of a cursor-paged listing, checked against the documented `PageQuery`.
pub(crate) fn page_params(req: &actix_web::HttpRequest) -> Result<(Option<String>, Option<String>), ApiError> {
    let pairs = query_pairs(req)?;
    typed::check_query::<leads::PageQuery>(&pairs)?;
    Ok((query_param(&pairs, "limit"), query_param(&pairs, "cursor")))
}

/// The value of a query parameter (the last one when repeated).
pub(crate) fn query_param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// What no route answers: 405 with `Allow` when the path is served with other methods (the
/// document is the route table), 404 otherwise.
async fn unrouted(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = openapi::allowed_methods(req.path());
    if allowed.is_empty() {
        return Err(ApiError::App(leadzone_app::AppError::NotFound));
    }
    Err(ApiError::MethodNotAllowed(allowed))
}

/// Every route of the service, each documented by its handler's `#[utoipa::path]`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.configure(health::configure)
        .configure(docs::configure)
        .service(
            scope("/api/v1")
                .configure(openapi::configure)
                .configure(identity::configure)
                .configure(billing::configure)
                .configure(tenant::configure)
                .configure(team::configure)
                .configure(api_keys::configure)
                .configure(leads::configure)
                .configure(lists::configure)
                .configure(jobs::configure)
                .configure(discovery::configure)
                .configure(integrations::configure)
                .configure(intelligence::configure)
                .configure(whatsapp::configure)
                .configure(webhooks::configure),
        )
        .service(scope("/webhooks").configure(billing::configure_webhooks).configure(whatsapp::configure_webhooks))
        .service(scope("/admin/v1").configure(admin::configure).configure(billing::configure_admin));
}

/// Builds the HTTP server on an already-bound listener. Dropping every handle of the returned
/// `Server` does not stop it; `Server::handle().stop(true)` (or SIGTERM/SIGINT) drains in-flight
/// requests first.
///
/// # Errors
/// When the listener cannot be used.
pub fn serve(
    listener: TcpListener,
    state: HttpState,
    workers: usize,
    shutdown_timeout_secs: u64,
) -> std::io::Result<Server> {
    use actix_service::{ServiceFactoryExt, fn_service, map_config};
    let origins = state.cors_origins.clone();
    let state = web::Data::new(state);
    let app = move || {
        App::new()
            .app_data(state.clone())
            // Inside `observe`: a refused request becomes the problem `observe` renders.
            .wrap(from_fn(ratelimit::enforce))
            .wrap(from_fn(middleware::observe))
            // Around `observe` (which re-renders problems from scratch): charges the bucket and
            // puts `RateLimit-*` on every answer, problems included.
            .wrap(from_fn(ratelimit::account))
            // Around the rest: a preflight is answered before anything inside runs.
            .wrap(cors::layer(&origins))
            // Outside everything, so a preflight answered by the CORS layer carries it too.
            .wrap(actix_web::middleware::DefaultHeaders::new().add((
                actix_web::http::header::X_CONTENT_TYPE_OPTIONS,
                actix_web::http::header::HeaderValue::from_static("nosniff"),
            )))
            .into_utoipa_app()
            .configure(routes)
            .into_app()
            .default_service(web::to(unrouted))
    };
    // actix-web's HttpServer, less one thing: each connection is wrapped so that the codec's own
    // error answers (requests no handler can see) are problem+json too (`malformed`).
    let addr = listener.local_addr()?;
    let server = actix_server::Server::build()
        .workers(workers.max(1))
        .shutdown_timeout(shutdown_timeout_secs)
        .listen("leadzone-http", listener, move || {
            let factory = actix_service::IntoServiceFactory::into_factory(app())
                .map_err(|err: actix_web::Error| err.error_response());
            fn_service(|io: actix_web::rt::net::TcpStream| {
                let peer = io.peer_addr().ok();
                let _ = io.set_nodelay(true);
                std::future::ready(Ok::<_, actix_http::error::DispatchError>((malformed::ProblemIo::new(io), peer)))
            })
            .and_then(
                actix_http::HttpService::build()
                    .local_addr(addr)
                    .h1(map_config(factory, |_| actix_web::dev::AppConfig::default())),
            )
        })?
        .run();
    Ok(server)
}
