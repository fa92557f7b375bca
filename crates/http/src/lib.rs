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
pub mod dto;
pub mod health;
pub mod identity;
pub mod jobs;
pub mod leads;
pub mod lists;
pub mod metrics;
pub mod middleware;
pub mod problem;
pub mod team;
pub mod tenant;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, middleware::from_fn, web};
use problem::{ApiError, Lang, Problem};
use std::net::TcpListener;
use std::sync::Arc;

/// What handlers share: the use cases and the adapter's own state.
pub struct HttpState {
    pub app: leadzone_app::App,
    pub metrics: Arc<metrics::Metrics>,
    pub trusted_proxies: Vec<auth::Cidr>,
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

/// The value of a query parameter (the last one when repeated).
pub(crate) fn query_param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::App(leadzone_app::AppError::NotFound))
}

/// Every route of the service.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .service(
            web::scope("/api/v1")
                .configure(identity::configure)
                .configure(billing::configure)
                .configure(tenant::configure)
                .configure(team::configure)
                .configure(api_keys::configure)
                .configure(leads::configure)
                .configure(lists::configure)
                .configure(jobs::configure)
                .default_service(web::to(not_found)),
        )
        .service(web::scope("/webhooks").configure(billing::configure_webhooks).default_service(web::to(not_found)))
        .service(
            web::scope("/admin/v1")
                .configure(admin::configure)
                .configure(billing::configure_admin)
                .default_service(web::to(not_found)),
        );
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
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(middleware::observe))
            .configure(routes)
            .default_service(web::to(not_found))
    })
    .workers(workers.max(1))
    .shutdown_timeout(shutdown_timeout_secs)
    .listen(listener)?
    .run();
    Ok(server)
}

/// A problem response outside any handler (used by tests and the binary).
pub fn problem_response(err: &ApiError) -> actix_web::HttpResponse {
    Problem::from_error(err).response(Lang::En, None)
}
