//! Leadzone's PostgreSQL adapter (SeaORM). It implements the storage ports: tenant-scoped
//! transactions for tenant data (role `leadzone_app`, row-level security on) and the narrow
//! cross-tenant system path (role `leadzone_system`).
//!
//! SQL lives only here. Nothing this crate returns carries a `DbErr`: every failure is mapped to a
//! `RepoError` by `db_err`.

mod api_keys;
mod audit;
mod billing;
mod blobs;
mod entities;
mod error;
mod fetch;
mod flags;
mod identity;
mod integrations;
mod jobs;
mod lead_actions;
mod leads;
mod lists;
mod lookups;
mod mail;
mod mapping;
mod platform;
mod reports;
pub mod reseal;
mod retention;
mod sessions;
mod slack;
mod sweeps;
mod sync;
mod team;
mod tx;
mod webhooks;
mod whatsapp;

pub use blobs::PgBlobStore;
pub use error::db_err;
pub use jobs::{JOBS_CHANNEL, PgJobQueue};
pub use lookups::PgLookups;
pub use mail::PgMailOutbox;
pub use platform::PgPlatform;
pub use retention::PgRetention;
pub use sessions::PgSessions;
pub use slack::PgSlackOutbox;
pub use sweeps::PgSweeps;
pub use tx::{PgTenantTx, PgUnitOfWork};
pub use webhooks::PgWebhookOutbox;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

/// A raw Postgres statement with its bound values: the one way this adapter writes SQL by hand.
pub(crate) fn stmt(sql: &str, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
    sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
}

/// Pool settings for one role's connections.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self { max_connections: 10, acquire_timeout: Duration::from_secs(5) }
    }
}

/// Opens a pool. Connections are made lazily and re-made after the database comes back, so a
/// server started while Postgres is briefly down recovers by itself.
///
/// # Errors
/// When the URL is malformed.
pub async fn connect(url: &str, pool: &PoolConfig) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(pool.max_connections)
        .min_connections(0)
        .connect_timeout(pool.acquire_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        // sqlx pings every connection it hands out (one more round trip per checkout, two per
        // request with the system pool); only a connection idle this long is tested first. A
        // connection that died while busy fails its query and is discarded.
        .test_before_acquire_if_idle_for(Duration::from_secs(10))
        .connect_lazy(true)
        .sqlx_logging(false);
    Database::connect(opts).await
}
