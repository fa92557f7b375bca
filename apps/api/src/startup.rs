//! Wiring: the only place that names concrete adapters. `Application::build` migrates (unless
//! told not to), opens the two restricted pools, assembles the use cases and binds the server.

use crate::config::{BlobLocation, Settings};
use leadzone_app::{App, AppConfig, Ports, SystemClock, UuidV7};
use leadzone_crypto::{AesGcmBox, Argon2Hasher, RandomTokens, RfcTotp};
use leadzone_http::HttpState;
use leadzone_ports::jobs::JobQueue;
use leadzone_postgres::{PgJobQueue, PgMailOutbox, PgUnitOfWork, PoolConfig, connect};
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
    #[error("mail: {0}")]
    Mail(String),
    #[error("outside service: {0}")]
    Provider(String),
    #[error("files: {0}")]
    Files(String),
}

fn db(e: impl std::fmt::Display) -> StartupError {
    StartupError::Database(e.to_string())
}

/// Creates the database if it does not exist, applies every pending migration, and sets the
/// restricted roles' passwords when they are configured (`leadzone_migrations::migrate`).
pub async fn migrate(settings: &Settings) -> Result<(), StartupError> {
    let passwords: Vec<(&str, &str)> =
        [("leadzone_app", &settings.app_db_password), ("leadzone_system", &settings.system_db_password)]
            .into_iter()
            .filter_map(|(role, pw)| pw.as_ref().map(|pw| (role, pw.expose_secret())))
            .collect();
    leadzone_migrations::migrate(settings.owner_url(), &passwords).await.map_err(db)?;
    tracing::info!("migrations applied");
    Ok(())
}

/// The master keys: from the environment, or in development a key generated once into
/// `<data dir>/master.key` (with a warning: losing that file loses every sealed secret).
pub fn master_keys(settings: &Settings) -> Result<Vec<Vec<u8>>, StartupError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    if let Some(keys) = &settings.master_keys {
        return Ok(keys.clone());
    }
    let path = settings.data_dir.join("master.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let key = STANDARD
            .decode(text.trim())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| StartupError::Crypto(format!("{} does not hold base64 of 32 bytes", path.display())))?;
        return Ok(vec![key]);
    }
    let key = leadzone_crypto::random_key().map_err(|e| StartupError::Crypto(e.0))?;
    std::fs::create_dir_all(&settings.data_dir)?;
    write_private(&path, STANDARD.encode(key).as_bytes())?;
    tracing::warn!(path = %path.display(), "LEADZONE_MASTER_KEY is not set: generated a development master key; set LEADZONE_MASTER_KEY in production");
    Ok(vec![key.to_vec()])
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(data)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, data)
}

/// The use cases and the job queue, wired to their adapters.
pub async fn build_core(
    settings: &Settings,
) -> Result<(App, Arc<dyn JobQueue>, crate::worker::Scheduled), StartupError> {
    let pool = PoolConfig { max_connections: settings.db_pool_size, ..Default::default() };
    let app_db = connect(settings.database_app_url.expose_secret(), &pool).await.map_err(db)?;
    let system_db = connect(
        settings.database_system_url.expose_secret(),
        &PoolConfig { max_connections: (settings.db_pool_size / 2).max(2), ..pool.clone() },
    )
    .await
    .map_err(db)?;
    let secrets = AesGcmBox::new(&master_keys(settings)?).map_err(|e| StartupError::Crypto(e.0))?;
    let queue: Arc<dyn JobQueue> =
        Arc::new(PgJobQueue::new(system_db.clone(), settings.database_system_url.expose_secret()));
    let ports = Ports {
        uow: Arc::new(PgUnitOfWork::new(app_db)),
        sessions: Arc::new(leadzone_postgres::PgSessions::new(system_db.clone())),
        lookups: Arc::new(leadzone_postgres::PgLookups::new(system_db.clone())),
        platform: Arc::new(leadzone_postgres::PgPlatform::new(system_db.clone())),
        sweeps: Arc::new(leadzone_postgres::PgSweeps::new(system_db.clone())),
        hasher: Arc::new(Argon2Hasher::new().map_err(|e| StartupError::Crypto(e.0))?),
        tokens: Arc::new(RandomTokens::new()),
        secrets: Arc::new(secrets),
        totp: Arc::new(RfcTotp::new("Leadzone")),
        blobs: blob_store(settings, leadzone_postgres::PgBlobStore::new(system_db.clone()))?,
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7),
        config: Arc::new(AppConfig {
            access_token_ttl: time::Duration::seconds(i64::from(settings.access_token_ttl_secs)),
            admin_token: settings.admin_token.clone(),
            public_url: settings.public_url.clone(),
            stripe_webhook_secret: settings.stripe_webhook_secret.clone(),
            grace_days: i64::from(settings.grace_days),
            whatsapp_app_secret: settings.whatsapp_app_secret.clone(),
            whatsapp_verify_token: settings.whatsapp_verify_token.clone(),
            whatsapp_mps: settings.whatsapp_mps,
            ..AppConfig::default()
        }),
        providers: providers(settings)?,
    };
    let app = App::new(ports.clone());
    let mail = leadzone_app::mail::MailDelivery {
        outbox: Arc::new(PgMailOutbox::new(system_db.clone())),
        transport: mail_transport(settings)?,
        secrets: ports.secrets.clone(),
        clock: ports.clock.clone(),
    };
    let webhooks = leadzone_app::webhooks::WebhookDeliverer {
        outbox: Arc::new(leadzone_postgres::PgWebhookOutbox::new(system_db.clone())),
        sender: ports.providers.webhooks.clone(),
        secrets: ports.secrets.clone(),
        uow: ports.uow.clone(),
        clock: ports.clock.clone(),
        ids: ports.ids.clone(),
        tokens: ports.tokens.clone(),
        retry_scale: settings.webhook_retry_scale,
    };
    let slack = leadzone_app::slack::SlackDeliverer {
        outbox: Arc::new(leadzone_postgres::PgSlackOutbox::new(system_db.clone())),
        slack: ports.providers.slack.clone(),
        secrets: ports.secrets.clone(),
        clock: ports.clock.clone(),
        ids: ports.ids.clone(),
    };
    let scheduled = crate::worker::Scheduled {
        retention: Arc::new(leadzone_postgres::PgRetention::new(system_db)),
        mail: Arc::new(mail),
        webhooks: Arc::new(webhooks),
        slack: Arc::new(slack),
        clock: ports.clock.clone(),
        blobs: ports.blobs.clone(),
    };
    Ok((app, queue, scheduled))
}

/// The blob store `LEADZONE_BLOB_URL` names.
fn blob_store(
    settings: &Settings,
    in_database: leadzone_postgres::PgBlobStore,
) -> Result<Arc<dyn leadzone_ports::blobs::BlobStore>, StartupError> {
    let before = settings.data_dir.join("blobs");
    if !matches!(settings.blob_store, BlobLocation::File(_))
        && std::fs::read_dir(&before).is_ok_and(|mut entries| entries.next().is_some())
    {
        tracing::warn!(
            folder = %before.display(),
            "files written before LEADZONE_BLOB_URL are still in this folder, which the server no longer reads: \
             copy them once with `leadzone copy-files {}`, or set LEADZONE_BLOB_URL=file://{} to keep them there",
            before.display(),
            before.display()
        );
    }
    Ok(match &settings.blob_store {
        BlobLocation::Postgres => Arc::new(in_database),
        BlobLocation::S3(s3) => {
            tracing::info!(bucket = %s3.bucket, prefix = %s3.prefix, "files live in S3");
            Arc::new(leadzone_providers::S3BlobStore::new(s3).map_err(StartupError::Provider)?)
        }
        BlobLocation::File(dir) => {
            if settings.environment == crate::config::Environment::Production {
                tracing::warn!(dir = %dir.display(), "files live on this machine's disk: other processes cannot read them");
            }
            Arc::new(leadzone_providers::LocalBlobStore::new(dir))
        }
    })
}

/// The discovery adapters: Google Places and Hunter over HTTP, with the platform keys when set;
/// the development doubles only in development (production refuses work that has no key).
fn providers(settings: &Settings) -> Result<leadzone_app::Providers, StartupError> {
    use leadzone_ports::discovery::ApiKey;
    let provider = |e: leadzone_providers::OutboundSetupError| StartupError::Provider(e.to_string());
    let outbound = leadzone_providers::OutboundConfig::default();
    let places =
        leadzone_providers::GooglePlaces::new(&settings.google_places_base_url, outbound.clone()).map_err(provider)?;
    let contacts = leadzone_providers::Hunter::new(&settings.hunter_base_url, outbound.clone()).map_err(provider)?;
    let whatsapp = leadzone_providers::GraphWhatsApp::new(&settings.whatsapp_base_url, outbound).map_err(provider)?;
    let places_key = settings.google_places_api_key.as_ref().map(|k| ApiKey::new(k.expose_secret()));
    let contacts_key = settings.hunter_api_key.as_ref().map(|k| ApiKey::new(k.expose_secret()));
    let development = settings.environment == crate::config::Environment::Development;
    if development && places_key.is_none() {
        tracing::warn!(
            "GOOGLE_PLACES_API_KEY is not set: searches without a tenant key use the development double (not real data)"
        );
    }
    if development && contacts_key.is_none() {
        tracing::warn!("HUNTER_API_KEY is not set: reveals use the development double (not real data)");
    }
    let reports: Arc<dyn leadzone_ports::intelligence::ReportWriter> =
        match (&settings.llm_base_url, &settings.llm_api_key) {
            (Some(base), Some(key)) => {
                // A model writing a report takes longer than a lookup.
                let config = leadzone_providers::OutboundConfig {
                    timeout: std::time::Duration::from_secs(90),
                    ..leadzone_providers::OutboundConfig::default()
                };
                let writer = leadzone_providers::ChatCompletionsWriter::new(
                    base,
                    ApiKey::new(key.expose_secret()),
                    settings.llm_model.clone(),
                    config,
                )
                .map_err(provider)?;
                tracing::info!(model = %settings.llm_model, "reports are written by a chat-completions model");
                Arc::new(writer)
            }
            _ => Arc::new(leadzone_providers::BuiltinReportWriter::new()),
        };
    let surveyor =
        leadzone_providers::HttpSurveyor::new(leadzone_providers::FetchPolicy::new(settings.allow_private_fetch), None)
            .map_err(provider)?;
    if settings.allow_private_fetch {
        tracing::warn!(
            "LEADZONE_ALLOW_PRIVATE_FETCH is on: the website surveyor may fetch private addresses (tests and development only)"
        );
    }
    let webhooks = leadzone_providers::GuardedWebhookSender::new(leadzone_providers::FetchPolicy::new(
        settings.allow_private_fetch,
    ))
    .map_err(StartupError::Provider)?;
    let hubspot =
        leadzone_providers::HubSpot::new(&settings.hubspot_base_url, leadzone_providers::OutboundConfig::default())
            .map_err(provider)?;
    let policy = leadzone_providers::FetchPolicy::new(settings.allow_private_fetch);
    let salesforce =
        leadzone_providers::Salesforce::new(leadzone_providers::OutboundConfig::default(), policy).map_err(provider)?;
    let notion =
        leadzone_providers::Notion::new(&settings.notion_base_url, leadzone_providers::OutboundConfig::default())
            .map_err(provider)?;
    let slack = leadzone_providers::SlackWebhook::new(policy).map_err(StartupError::Provider)?;
    Ok(leadzone_app::Providers {
        hubspot: Arc::new(hubspot),
        salesforce: Arc::new(salesforce),
        notion: Arc::new(notion),
        slack: Arc::new(slack),
        webhooks: Arc::new(webhooks),
        surveyor: Arc::new(surveyor),
        reports,
        places: Arc::new(places),
        places_key,
        contacts: Arc::new(contacts),
        contacts_key,
        whatsapp: Arc::new(whatsapp),
        doubles: development.then(|| leadzone_app::Doubles {
            places: Arc::new(leadzone_providers::DevPlaces::new()),
            contacts: Arc::new(leadzone_providers::DevContacts::new()),
            whatsapp: Arc::new(leadzone_providers::DevWhatsApp::new()),
        }),
    })
}

/// SMTP when `LEADZONE_SMTP_URL` is set; otherwise (development only: production refuses to start
/// without it) mail goes to the log.
fn mail_transport(settings: &Settings) -> Result<Arc<dyn leadzone_ports::mail::MailTransport>, StartupError> {
    match &settings.smtp_url {
        Some(url) => {
            let smtp = leadzone_providers::SmtpMailer::new(url, &settings.mail_from).map_err(StartupError::Mail)?;
            tracing::info!(server = %smtp.server(), from = %settings.mail_from, "mail is delivered over SMTP");
            Ok(Arc::new(smtp))
        }
        None => {
            tracing::warn!("LEADZONE_SMTP_URL is not set: mail is written to the log, not sent (development only)");
            Ok(Arc::new(leadzone_providers::LogMailer))
        }
    }
}

/// A built, bound, not yet running server (and its job workers, when configured).
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    workers: Option<(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

impl Application {
    pub async fn build(settings: &Settings, run_migrations: bool) -> Result<Self, StartupError> {
        if run_migrations {
            migrate(settings).await?;
        }
        let (app, queue, scheduled) = build_core(settings).await?;
        let workers = (settings.workers > 0).then(|| {
            let (tx, rx) = tokio::sync::watch::channel(false);
            let cfg = crate::worker::WorkerConfig::new(settings.workers, settings.job_lease_secs);
            (tx, tokio::spawn(crate::worker::run(app.clone(), queue.clone(), scheduled, cfg, rx)))
        });
        let state = HttpState {
            app,
            metrics: Arc::new(leadzone_http::metrics::Metrics::new()),
            trusted_proxies: settings.trusted_proxies.clone(),
            cors_origins: settings.cors_origins.clone(),
            rate_limit: leadzone_http::ratelimit::RateLimit::per_minute(settings.rate_limit_per_min),
        };
        let listener = TcpListener::bind(settings.bind)?;
        let port = listener.local_addr()?.port();
        let server = leadzone_http::serve(listener, state, settings.http_workers, settings.shutdown_timeout_secs)?;
        tracing::info!(port, workers = settings.workers, "listening");
        Ok(Self { port, server, workers })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Runs until SIGTERM/SIGINT (or a handle's `stop`): in-flight requests finish, then the
    /// workers drain.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        if let Some((stop, task)) = self.workers {
            let _ = stop.send(true);
            let _ = task.await;
        }
        result
    }
}

/// `leadzone reseal`: every sealed value sealed again with the first master key (run with the
/// owner's `DATABASE_URL`, while the old key is still listed after the new one).
pub async fn reseal(settings: &Settings) -> Result<leadzone_postgres::reseal::ResealReport, StartupError> {
    let secrets = AesGcmBox::new(&master_keys(settings)?).map_err(|e| StartupError::Crypto(e.0))?;
    let owner = connect(settings.database_url.expose_secret(), &PoolConfig::default())
        .await
        .map_err(|e| StartupError::Crypto(format!("connecting as the owner: {e}")))?;
    leadzone_postgres::reseal::reseal_all(&owner, &secrets).await.map_err(|e| StartupError::Crypto(e.to_string()))
}

/// `leadzone copy-files FOLDER`: copies every file under a local folder (the store before
/// `LEADZONE_BLOB_URL`: `$LEADZONE_DATA_DIR/blobs`) into the configured store, under the same
/// keys, streamed; returns how many. Copying again overwrites with the same bytes.
pub async fn copy_files(settings: &Settings, from: &std::path::Path) -> Result<u64, StartupError> {
    use futures::StreamExt;
    let (_, _, scheduled) = build_core(settings).await?;
    let mut copied = 0u64;
    let mut folders = vec![from.to_path_buf()];
    while let Some(dir) = folders.pop() {
        let io = |e: std::io::Error| StartupError::Files(format!("{}: {e}", dir.display()));
        let mut entries = tokio::fs::read_dir(&dir).await.map_err(io)?;
        while let Some(entry) = entries.next_entry().await.map_err(io)? {
            let path = entry.path();
            if entry.file_type().await.map_err(io)?.is_dir() {
                folders.push(path);
                continue;
            }
            let Ok(relative) = path.strip_prefix(from) else { continue };
            let key = relative.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
            if key.ends_with(".partial") || !leadzone_providers::blobs::key_is_safe(&key) {
                tracing::warn!(file = %path.display(), "not a stored file: skipped");
                continue;
            }
            let file = tokio::fs::File::open(&path).await.map_err(io)?;
            let body = futures::stream::unfold(file, |mut file| async move {
                use tokio::io::AsyncReadExt;
                let mut piece = vec![0u8; 1024 * 1024];
                match file.read(&mut piece).await {
                    Ok(0) => None,
                    Ok(n) => {
                        piece.truncate(n);
                        Some((Ok(piece), file))
                    }
                    Err(e) => Some((Err(leadzone_ports::RepoError::Other(e.to_string())), file)),
                }
            })
            .boxed();
            let bytes =
                scheduled.blobs.put_stream(&key, body).await.map_err(|e| StartupError::Files(format!("{key}: {e}")))?;
            tracing::info!(key = %key, bytes, "copied");
            copied += 1;
        }
    }
    Ok(copied)
}

/// `leadzone worker`: job workers only, until SIGTERM/SIGINT.
pub async fn run_worker(settings: &Settings) -> Result<(), StartupError> {
    let (app, queue, scheduled) = build_core(settings).await?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let cfg = crate::worker::WorkerConfig::new(settings.workers.max(1), settings.job_lease_secs);
    let task = tokio::spawn(crate::worker::run(app, queue, scheduled, cfg, rx));
    shutdown_signal().await;
    let _ = tx.send(true);
    let _ = task.await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_development_master_key_is_generated_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("leadzone-key-{}", uuid_like()));
        let env: HashMap<String, String> = [("LEADZONE_DATA_DIR".to_owned(), dir.display().to_string())].into();
        let settings = Settings::from_map(&env).unwrap();
        let first = master_keys(&settings).unwrap();
        let second = master_keys(&settings).unwrap();
        assert_eq!(first, second);
        assert_eq!(first[0].len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the key file is private");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn uuid_like() -> String {
        format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
    }
}
