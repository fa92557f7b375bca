//! Wiring: the only place that names concrete adapters. `Application::build` migrates (unless
//! told not to), opens the two restricted pools, assembles the use cases and binds the server.

use crate::config::Settings;
use leadzone_app::{App, AppConfig, SystemClock, UuidV7};
use leadzone_crypto::{Argon2Hasher, RandomTokens};
use leadzone_http::HttpState;
use leadzone_migrations::{Migrator, MigratorTrait};
use leadzone_postgres::{PgSystemStore, PgUnitOfWork, PoolConfig, connect};
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(String),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
    #[error("crypto: {0}")]
    Crypto(String),
}

fn db(e: impl std::fmt::Display) -> StartupError {
    StartupError::Database(e.to_string())
}

/// Creates the database named in `owner_url` if it does not exist (connecting to the server's
/// `postgres` database to do so), applies every pending migration, and sets the restricted roles'
/// passwords when they are configured.
pub async fn migrate(settings: &Settings) -> Result<(), StartupError> {
    let owner_url = settings.owner_url();
    let parsed = url::Url::parse(owner_url).map_err(db)?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    let mut admin_url = parsed.clone();
    admin_url.set_path("/postgres");
    let admin = Database::connect(admin_url.as_str()).await.map_err(db)?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await
        .map_err(db)?
        .is_some();
    if !exists {
        tracing::info!(database = %name, "creating database");
        let quoted = name.replace('"', "\"\"");
        if let Err(e) = admin.execute_unprepared(&format!("CREATE DATABASE \"{quoted}\"")).await {
            // Another process may have created it at the same moment; that is fine.
            if !e.to_string().contains("already exists") {
                return Err(db(e));
            }
        }
    }
    admin.close().await.map_err(db)?;

    let owner = Database::connect(owner_url).await.map_err(db)?;
    Migrator::up(&owner, None).await.map_err(db)?;
    for (role, password) in
        [("leadzone_app", &settings.app_db_password), ("leadzone_system", &settings.system_db_password)]
    {
        if let Some(pw) = password {
            // ALTER ROLE takes no parameters; quote the literal (standard_conforming_strings is on).
            let literal = pw.expose_secret().replace('\'', "''");
            owner.execute_unprepared(&format!("ALTER ROLE {role} PASSWORD '{literal}'")).await.map_err(db)?;
        }
    }
    owner.close().await.map_err(db)?;
    tracing::info!("migrations applied");
    Ok(())
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
}

impl Application {
    pub async fn build(settings: &Settings, run_migrations: bool) -> Result<Self, StartupError> {
        if run_migrations {
            migrate(settings).await?;
        }
        let pool = PoolConfig { max_connections: settings.db_pool_size, ..Default::default() };
        let app_db = connect(settings.database_app_url.expose_secret(), &pool).await.map_err(db)?;
        let system_db = connect(
            settings.database_system_url.expose_secret(),
            &PoolConfig { max_connections: (settings.db_pool_size / 2).max(2), ..pool.clone() },
        )
        .await
        .map_err(db)?;
        let app = App {
            uow: Arc::new(PgUnitOfWork::new(app_db)),
            system: Arc::new(PgSystemStore::new(system_db)),
            hasher: Arc::new(Argon2Hasher::new().map_err(|e| StartupError::Crypto(e.0))?),
            tokens: Arc::new(RandomTokens::new()),
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7),
            config: AppConfig {
                access_token_ttl: time::Duration::seconds(i64::from(settings.access_token_ttl_secs)),
                ..AppConfig::default()
            },
        };
        let state = HttpState {
            app,
            metrics: Arc::new(leadzone_http::metrics::Metrics::new()),
            trusted_proxies: settings.trusted_proxies.clone(),
        };
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let server = leadzone_http::serve(listener, state, settings.http_workers, settings.shutdown_timeout_secs)?;
        tracing::info!(port, "listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGTERM/SIGINT (or a handle's `stop`), letting in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
