//! Settings from the environment, validated at start-up. A bad value stops the process with a
//! message naming the variable. Secrets are wrapped so that they never print.

use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// Owner connection: creates the database if missing and migrates.
    pub database_url: SecretString,
    /// The restricted role for tenant data.
    pub database_app_url: SecretString,
    /// The narrow cross-tenant role.
    pub database_system_url: SecretString,
    pub app_db_password: Option<SecretString>,
    pub system_db_password: Option<SecretString>,
    pub bind: SocketAddr,
    pub environment: Environment,
    pub access_token_ttl_secs: u32,
    pub trusted_proxies: Vec<leadzone_http::auth::Cidr>,
    /// `LEADZONE_RATE_LIMIT_PER_MIN`: requests per minute per API key, session or IP (0 = off).
    pub rate_limit_per_min: u32,
    /// `LEADZONE_CORS_ORIGINS`: exact origins whose pages may call the API.
    pub cors_origins: Vec<String>,
    pub http_workers: usize,
    pub db_pool_size: u32,
    pub shutdown_timeout_secs: u64,
    pub data_dir: std::path::PathBuf,
    /// Base64 keys, comma-separated (the first seals); `None` → a development key file.
    pub master_keys: Option<Vec<Vec<u8>>>,
    pub admin_token: Option<SecretString>,
    pub public_url: String,
    /// `LEADZONE_SMTP_URL`: where mail is delivered; `None` = logged (development only).
    pub smtp_url: Option<SecretString>,
    /// `LEADZONE_MAIL_FROM`: the sender of every mail.
    pub mail_from: String,
    /// Job workers inside `serve` (0 = none).
    pub workers: usize,
    pub job_lease_secs: u64,
    pub stripe_webhook_secret: Option<SecretString>,
    pub grace_days: u32,
    /// `GOOGLE_PLACES_API_KEY`: the platform's places key (a tenant's own connection wins).
    pub google_places_api_key: Option<SecretString>,
    /// `GOOGLE_PLACES_BASE_URL`.
    pub google_places_base_url: String,
    /// `HUNTER_API_KEY`: the contacts provider's key.
    pub hunter_api_key: Option<SecretString>,
    /// `HUNTER_BASE_URL`.
    pub hunter_base_url: String,
    /// `LEADZONE_ALLOW_PRIVATE_FETCH`: the website surveyor may fetch private and loopback
    /// addresses on any port (tests and local development only; refused in production).
    pub allow_private_fetch: bool,
    /// `LLM_BASE_URL`: an OpenAI-compatible chat-completions API for reports; `None` = the
    /// built-in writer.
    pub llm_base_url: Option<String>,
    /// `LLM_API_KEY`.
    pub llm_api_key: Option<SecretString>,
    /// `LLM_MODEL`.
    pub llm_model: String,
    /// `LEADZONE_BLOB_URL`: where files live.
    pub blob_store: BlobLocation,
    /// `HUBSPOT_BASE_URL`: HubSpot's API.
    pub hubspot_base_url: String,
    /// `NOTION_BASE_URL`: Notion's API. (Salesforce's is each connection's instance URL, and
    /// Slack's each connection's webhook URL.)
    pub notion_base_url: String,
    /// `WHATSAPP_BASE_URL`: the Graph API with its version.
    pub whatsapp_base_url: String,
    /// `WHATSAPP_APP_SECRET`: the platform app's secret that signs WhatsApp's webhooks.
    pub whatsapp_app_secret: Option<SecretString>,
    /// `WHATSAPP_VERIFY_TOKEN`: the webhook handshake's token.
    pub whatsapp_verify_token: Option<SecretString>,
    /// `LEADZONE_WEBHOOK_RETRY_SCALE`: the outbound webhooks' retry schedule times this (1 in
    /// production; tests shrink 5 s … 10 h to milliseconds and seconds).
    pub webhook_retry_scale: f64,
    /// `LEADZONE_WHATSAPP_MPS`: a bulk's messages per second per number (1–80, Meta's default
    /// throughput; 0 = unpaced, for local fakes and benchmarks, refused in production).
    pub whatsapp_mps: u32,
}

/// `LEADZONE_BLOB_URL`: `postgres` (the default), `s3://bucket/prefix`, or `file:///path`.
#[derive(Debug, Clone)]
pub enum BlobLocation {
    /// In the database every process already shares.
    Postgres,
    /// S3 or an S3-compatible store (`LEADZONE_S3_ENDPOINT`, `LEADZONE_S3_REGION`, `AWS_*`).
    S3(leadzone_providers::S3Settings),
    /// A local folder: development and single-process use only (other machines cannot see it).
    File(std::path::PathBuf),
}

fn blob_location(get: &dyn Fn(&str) -> Option<String>) -> Result<BlobLocation, ConfigError> {
    const VAR: &str = "LEADZONE_BLOB_URL";
    let raw = get(VAR).unwrap_or_else(|| "postgres".into());
    if raw == "postgres" {
        return Ok(BlobLocation::Postgres);
    }
    if raw.starts_with("s3://") {
        let mut s3 =
            leadzone_providers::S3Settings::from_url(&raw).map_err(|message| ConfigError { var: VAR, message })?;
        s3.endpoint = get("LEADZONE_S3_ENDPOINT").map(|u| base_url(u, "LEADZONE_S3_ENDPOINT")).transpose()?;
        s3.region = get("LEADZONE_S3_REGION");
        s3.access_key_id = get("AWS_ACCESS_KEY_ID");
        s3.secret_access_key = get("AWS_SECRET_ACCESS_KEY").map(SecretString::from);
        s3.session_token = get("AWS_SESSION_TOKEN").map(SecretString::from);
        if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
            return Err(ConfigError {
                var: "AWS_SECRET_ACCESS_KEY",
                message: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set together".into(),
            });
        }
        return Ok(BlobLocation::S3(s3));
    }
    if let Some(path) = raw.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(ConfigError { var: VAR, message: "a file:// URL needs an absolute path (file:///…)".into() });
        }
        return Ok(BlobLocation::File(std::path::PathBuf::from(path)));
    }
    Err(ConfigError { var: VAR, message: "must be postgres, s3://bucket/prefix or file:///path".into() })
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/leadzone";

/// `url` with its user (and password) replaced, and an `application_name` for pg_stat_activity.
pub fn with_role(url: &str, role: &str, password: Option<&str>, var: &'static str) -> Result<String, ConfigError> {
    let mut u = url::Url::parse(url).map_err(|e| ConfigError { var, message: e.to_string() })?;
    u.set_username(role).map_err(|()| ConfigError { var, message: "cannot set the user".into() })?;
    u.set_password(password).map_err(|()| ConfigError { var, message: "cannot set the password".into() })?;
    Ok(with_application_name(u, role))
}

fn with_application_name(mut u: url::Url, role: &str) -> String {
    if !u.query_pairs().any(|(k, _)| k == "application_name") {
        let name = format!("leadzone:{role}");
        u.query_pairs_mut().append_pair("application_name", &name);
    }
    u.to_string()
}

/// An outside service's base URL: http(s), no query; kept without a trailing slash.
fn base_url(raw: String, var: &'static str) -> Result<String, ConfigError> {
    let u = url::Url::parse(&raw).map_err(|e| ConfigError { var, message: e.to_string() })?;
    if !matches!(u.scheme(), "http" | "https") || u.query().is_some() || u.host().is_none() {
        return Err(ConfigError { var, message: "must be an http(s) URL without a query".into() });
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn check_postgres_url(var: &'static str, raw: &str) -> Result<url::Url, ConfigError> {
    let u = url::Url::parse(raw).map_err(|e| ConfigError { var, message: e.to_string() })?;
    if !matches!(u.scheme(), "postgres" | "postgresql") {
        return Err(ConfigError { var, message: "must be a postgres:// URL".into() });
    }
    if u.path().trim_start_matches('/').is_empty() {
        return Err(ConfigError { var, message: "must name a database".into() });
    }
    Ok(u)
}

impl Settings {
    /// Reads settings from the process environment.
    ///
    /// # Errors
    /// The first variable with a bad value.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads settings from a map of variables (testable without touching the environment).
    ///
    /// # Errors
    /// The first variable with a bad value.
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| env.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        check_postgres_url("DATABASE_URL", &database_url)?;
        let app_db_password = get("LEADZONE_APP_DB_PASSWORD");
        let system_db_password = get("LEADZONE_SYSTEM_DB_PASSWORD");
        let database_app_url = match get("DATABASE_APP_URL") {
            Some(u) => with_application_name(check_postgres_url("DATABASE_APP_URL", &u)?, "leadzone_app"),
            None => with_role(&database_url, "leadzone_app", app_db_password.as_deref(), "DATABASE_URL")?,
        };
        let database_system_url = match get("DATABASE_SYSTEM_URL") {
            Some(u) => with_application_name(check_postgres_url("DATABASE_SYSTEM_URL", &u)?, "leadzone_system"),
            None => with_role(&database_url, "leadzone_system", system_db_password.as_deref(), "DATABASE_URL")?,
        };
        let bind = get("LEADZONE_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .map_err(|e| ConfigError { var: "LEADZONE_BIND", message: format!("{e} (expected host:port)") })?;
        let environment = match get("LEADZONE_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(ConfigError {
                    var: "LEADZONE_ENV",
                    message: format!("{other:?} is neither development nor production"),
                });
            }
        };
        let access_token_ttl_secs =
            parse_num(get("LEADZONE_ACCESS_TOKEN_TTL_SECS"), "LEADZONE_ACCESS_TOKEN_TTL_SECS", 900)?;
        if !(30..=86_400).contains(&access_token_ttl_secs) {
            return Err(ConfigError { var: "LEADZONE_ACCESS_TOKEN_TTL_SECS", message: "must be 30–86400".into() });
        }
        let rate_limit_per_min = parse_num(get("LEADZONE_RATE_LIMIT_PER_MIN"), "LEADZONE_RATE_LIMIT_PER_MIN", 1200)?;
        let trusted_proxies = match get("LEADZONE_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    leadzone_http::auth::Cidr::parse(s).ok_or_else(|| ConfigError {
                        var: "LEADZONE_TRUSTED_PROXIES",
                        message: format!("{s:?} is not an address or CIDR"),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let cors_origins = leadzone_http::cors::parse_origins(&get("LEADZONE_CORS_ORIGINS").unwrap_or_default())
            .map_err(|message| ConfigError { var: "LEADZONE_CORS_ORIGINS", message })?;
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let http_workers = parse_num(get("LEADZONE_HTTP_WORKERS"), "LEADZONE_HTTP_WORKERS", cores as u32)? as usize;
        let db_pool_size = parse_num(get("LEADZONE_DB_POOL_SIZE"), "LEADZONE_DB_POOL_SIZE", 10)?;
        let shutdown_timeout_secs =
            u64::from(parse_num(get("LEADZONE_SHUTDOWN_TIMEOUT_SECS"), "LEADZONE_SHUTDOWN_TIMEOUT_SECS", 30)?);
        let data_dir = std::path::PathBuf::from(get("LEADZONE_DATA_DIR").unwrap_or_else(|| ".leadzone".to_owned()));
        let master_keys = match get("LEADZONE_MASTER_KEY") {
            None => None,
            Some(raw) => Some(
                raw.split(',')
                    .map(|k| {
                        use base64::Engine;
                        base64::engine::general_purpose::STANDARD
                            .decode(k.trim())
                            .ok()
                            .filter(|b| b.len() == 32)
                            .ok_or_else(|| ConfigError {
                                var: "LEADZONE_MASTER_KEY",
                                message: "must be base64 of 32 bytes (comma-separated to rotate)".into(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        if environment == Environment::Production && master_keys.is_none() {
            return Err(ConfigError { var: "LEADZONE_MASTER_KEY", message: "is required in production".into() });
        }
        let admin_token = get("LEADZONE_ADMIN_TOKEN");
        if let Some(t) = &admin_token
            && t.len() < 16
        {
            return Err(ConfigError { var: "LEADZONE_ADMIN_TOKEN", message: "must be at least 16 characters".into() });
        }
        let public_url = get("LEADZONE_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let parsed_public_url = url::Url::parse(&public_url)
            .map_err(|e| ConfigError { var: "LEADZONE_PUBLIC_URL", message: e.to_string() })?;
        let smtp_url = get("LEADZONE_SMTP_URL");
        if let Some(u) = &smtp_url {
            leadzone_providers::mail::check_smtp_url(u)
                .map_err(|message| ConfigError { var: "LEADZONE_SMTP_URL", message })?;
        } else if environment == Environment::Production {
            return Err(ConfigError {
                var: "LEADZONE_SMTP_URL",
                message: "is required in production (invitations are mailed)".into(),
            });
        }
        let mail_from = get("LEADZONE_MAIL_FROM").unwrap_or_else(|| {
            let domain = match parsed_public_url.host() {
                Some(url::Host::Domain(d)) if d.contains('.') => d.to_owned(),
                _ => "localhost".to_owned(),
            };
            format!("Leadzone <no-reply@{domain}>")
        });
        leadzone_providers::mail::check_mail_from(&mail_from)
            .map_err(|message| ConfigError { var: "LEADZONE_MAIL_FROM", message })?;
        let workers = parse_num(get("LEADZONE_WORKERS"), "LEADZONE_WORKERS", 2)? as usize;
        let job_lease_secs = u64::from(parse_num(get("LEADZONE_JOB_LEASE_SECS"), "LEADZONE_JOB_LEASE_SECS", 60)?);
        if job_lease_secs < 2 {
            return Err(ConfigError { var: "LEADZONE_JOB_LEASE_SECS", message: "must be at least 2".into() });
        }
        let stripe_webhook_secret = get("STRIPE_WEBHOOK_SECRET").map(SecretString::from);
        let grace_days = parse_num(get("LEADZONE_GRACE_DAYS"), "LEADZONE_GRACE_DAYS", 7)?;
        let google_places_base_url = base_url(
            get("GOOGLE_PLACES_BASE_URL").unwrap_or_else(|| "https://places.googleapis.com".into()),
            "GOOGLE_PLACES_BASE_URL",
        )?;
        let hunter_base_url =
            base_url(get("HUNTER_BASE_URL").unwrap_or_else(|| "https://api.hunter.io".into()), "HUNTER_BASE_URL")?;
        let allow_private_fetch = match get("LEADZONE_ALLOW_PRIVATE_FETCH").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(_) => {
                return Err(ConfigError {
                    var: "LEADZONE_ALLOW_PRIVATE_FETCH",
                    message: "must be true or false".into(),
                });
            }
        };
        if allow_private_fetch && environment == Environment::Production {
            return Err(ConfigError {
                var: "LEADZONE_ALLOW_PRIVATE_FETCH",
                message: "cannot be true in production (it lifts the SSRF guard)".into(),
            });
        }
        let llm_base_url = get("LLM_BASE_URL").map(|u| base_url(u, "LLM_BASE_URL")).transpose()?;
        let llm_api_key = get("LLM_API_KEY").map(SecretString::from);
        if llm_base_url.is_some() && llm_api_key.is_none() {
            return Err(ConfigError { var: "LLM_API_KEY", message: "is required when LLM_BASE_URL is set".into() });
        }
        let blob_store = blob_location(&get)?;
        let whatsapp_base_url = base_url(
            get("WHATSAPP_BASE_URL").unwrap_or_else(|| "https://graph.facebook.com/v21.0".into()),
            "WHATSAPP_BASE_URL",
        )?;
        let whatsapp_mps = parse_num(get("LEADZONE_WHATSAPP_MPS"), "LEADZONE_WHATSAPP_MPS", 20)?;
        if whatsapp_mps > 80 {
            return Err(ConfigError {
                var: "LEADZONE_WHATSAPP_MPS",
                message: "must be at most 80 (Meta's default throughput per number is 80 messages a second)".into(),
            });
        }
        if whatsapp_mps == 0 && environment == Environment::Production {
            return Err(ConfigError {
                var: "LEADZONE_WHATSAPP_MPS",
                message: "0 (unpaced) is for local fakes and benchmarks, never production".into(),
            });
        }
        let webhook_retry_scale = match get("LEADZONE_WEBHOOK_RETRY_SCALE") {
            None => 1.0,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 1.0 => v,
                _ => {
                    return Err(ConfigError {
                        var: "LEADZONE_WEBHOOK_RETRY_SCALE",
                        message: format!("{raw:?} is not a number above 0 and at most 1"),
                    });
                }
            },
        };
        if webhook_retry_scale < 1.0 && environment == Environment::Production {
            return Err(ConfigError {
                var: "LEADZONE_WEBHOOK_RETRY_SCALE",
                message: "shrinks the retry schedule for tests; production keeps 1".into(),
            });
        }
        let hubspot_base_url =
            base_url(get("HUBSPOT_BASE_URL").unwrap_or_else(|| "https://api.hubapi.com".into()), "HUBSPOT_BASE_URL")?;
        let notion_base_url =
            base_url(get("NOTION_BASE_URL").unwrap_or_else(|| "https://api.notion.com".into()), "NOTION_BASE_URL")?;
        Ok(Self {
            hubspot_base_url,
            notion_base_url,
            webhook_retry_scale,
            whatsapp_base_url,
            whatsapp_app_secret: get("WHATSAPP_APP_SECRET").map(SecretString::from),
            whatsapp_verify_token: get("WHATSAPP_VERIFY_TOKEN").map(SecretString::from),
            whatsapp_mps,
            blob_store,
            allow_private_fetch,
            llm_base_url,
            llm_api_key,
            llm_model: get("LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            google_places_api_key: get("GOOGLE_PLACES_API_KEY").map(SecretString::from),
            google_places_base_url,
            hunter_api_key: get("HUNTER_API_KEY").map(SecretString::from),
            hunter_base_url,
            grace_days,
            stripe_webhook_secret,
            workers,
            job_lease_secs,
            data_dir,
            master_keys,
            admin_token: admin_token.map(Into::into),
            public_url,
            smtp_url: smtp_url.map(Into::into),
            mail_from,
            database_url: database_url.into(),
            database_app_url: database_app_url.into(),
            database_system_url: database_system_url.into(),
            app_db_password: app_db_password.map(Into::into),
            system_db_password: system_db_password.map(Into::into),
            bind,
            environment,
            access_token_ttl_secs,
            trusted_proxies,
            rate_limit_per_min,
            cors_origins,
            http_workers,
            db_pool_size,
            shutdown_timeout_secs,
        })
    }

    pub fn owner_url(&self) -> &str {
        self.database_url.expose_secret()
    }
}

fn parse_num(raw: Option<String>, var: &'static str, default: u32) -> Result<u32, ConfigError> {
    match raw {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| ConfigError { var, message: format!("{s:?} is not a non-negative integer") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_map(&env(&[])).unwrap();
        assert_eq!(s.owner_url(), DEFAULT_DATABASE_URL);
        assert_eq!(
            s.database_app_url.expose_secret(),
            "postgres://leadzone_app@127.0.0.1:5432/leadzone?application_name=leadzone%3Aleadzone_app"
        );
        assert!(
            s.database_system_url.expose_secret().starts_with("postgres://leadzone_system@127.0.0.1:5432/leadzone")
        );
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.access_token_ttl_secs, 900);
        assert_eq!(s.rate_limit_per_min, 1200);
        assert_eq!(s.environment, Environment::Development);
    }

    #[test]
    fn files_live_in_postgres_unless_told_otherwise() {
        assert!(matches!(Settings::from_map(&env(&[])).unwrap().blob_store, BlobLocation::Postgres));
        let s = Settings::from_map(&env(&[
            ("LEADZONE_BLOB_URL", "s3://leadzone-files/prod"),
            ("LEADZONE_S3_ENDPOINT", "http://127.0.0.1:9000/"),
            ("LEADZONE_S3_REGION", "me-central-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret-key"),
        ]))
        .unwrap();
        let BlobLocation::S3(s3) = &s.blob_store else { panic!("{:?}", s.blob_store) };
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("leadzone-files", "prod"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region.as_deref(), Some("me-central-1"));
        assert!(!format!("{s:?}").contains("very-secret-key"), "settings never print a credential");
        let s = Settings::from_map(&env(&[("LEADZONE_BLOB_URL", "file:///var/lib/leadzone/files")])).unwrap();
        assert!(matches!(&s.blob_store, BlobLocation::File(p) if p == std::path::Path::new("/var/lib/leadzone/files")));
        for (bad, var) in [
            ("ftp://x", "LEADZONE_BLOB_URL"),
            ("file://relative", "LEADZONE_BLOB_URL"),
            ("s3://x", "LEADZONE_BLOB_URL"),
        ] {
            assert_eq!(Settings::from_map(&env(&[("LEADZONE_BLOB_URL", bad)])).unwrap_err().var, var, "{bad}");
        }
        let half = env(&[("LEADZONE_BLOB_URL", "s3://leadzone-files"), ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")]);
        assert_eq!(Settings::from_map(&half).unwrap_err().var, "AWS_SECRET_ACCESS_KEY");
    }

    #[test]
    fn outside_services_are_configured_by_their_variables() {
        let s = Settings::from_map(&env(&[])).unwrap();
        assert_eq!(s.google_places_base_url, "https://places.googleapis.com");
        assert_eq!(s.hunter_base_url, "https://api.hunter.io");
        assert!(s.google_places_api_key.is_none() && !s.allow_private_fetch && s.llm_base_url.is_none());
        let s = Settings::from_map(&env(&[
            ("GOOGLE_PLACES_BASE_URL", "http://127.0.0.1:9000/"),
            ("GOOGLE_PLACES_API_KEY", "AIza-secret"),
            ("LEADZONE_ALLOW_PRIVATE_FETCH", "true"),
            ("LLM_BASE_URL", "http://127.0.0.1:9001/v1"),
            ("LLM_API_KEY", "sk-secret"),
        ]))
        .unwrap();
        assert_eq!(s.google_places_base_url, "http://127.0.0.1:9000");
        assert!(s.allow_private_fetch);
        assert!(
            !format!("{s:?}").contains("AIza-secret") && !format!("{s:?}").contains("sk-secret"),
            "keys never print"
        );
        for (var, value) in [
            ("GOOGLE_PLACES_BASE_URL", "ftp://x"),
            ("HUNTER_BASE_URL", "http://x/?k=1"),
            ("LEADZONE_ALLOW_PRIVATE_FETCH", "yes"),
        ] {
            assert_eq!(Settings::from_map(&env(&[(var, value)])).unwrap_err().var, var);
        }
        assert_eq!(
            Settings::from_map(&env(&[("LLM_BASE_URL", "http://127.0.0.1:9001/v1")])).unwrap_err().var,
            "LLM_API_KEY"
        );
        let key = ("LEADZONE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let smtp = ("LEADZONE_SMTP_URL", "smtps://u:p@smtp.example.com:465");
        let err = Settings::from_map(&env(&[
            ("LEADZONE_ENV", "production"),
            key,
            smtp,
            ("LEADZONE_ALLOW_PRIVATE_FETCH", "true"),
        ]))
        .unwrap_err();
        assert_eq!(err.var, "LEADZONE_ALLOW_PRIVATE_FETCH");
    }

    #[test]
    fn production_needs_a_master_key() {
        let err = Settings::from_map(&env(&[("LEADZONE_ENV", "production")])).unwrap_err();
        assert_eq!(err.var, "LEADZONE_MASTER_KEY");
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let smtp = ("LEADZONE_SMTP_URL", "smtps://u:p@smtp.example.com:465");
        let s =
            Settings::from_map(&env(&[("LEADZONE_ENV", "production"), ("LEADZONE_MASTER_KEY", key), smtp])).unwrap();
        assert_eq!(s.master_keys.unwrap()[0].len(), 32);
    }

    #[test]
    fn production_needs_a_mail_server_and_its_password_never_prints() {
        let key = ("LEADZONE_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
        let err = Settings::from_map(&env(&[("LEADZONE_ENV", "production"), key])).unwrap_err();
        assert_eq!(err.var, "LEADZONE_SMTP_URL");
        assert!(err.to_string().contains("LEADZONE_SMTP_URL"), "{err}");
        let s = Settings::from_map(&env(&[])).unwrap();
        assert!(s.smtp_url.is_none(), "development logs mail instead");
        assert_eq!(s.mail_from, "Leadzone <no-reply@localhost>");
        let s = Settings::from_map(&env(&[
            ("LEADZONE_SMTP_URL", "smtp://mailer:hunter2@smtp.example.com:587?tls=required"),
            ("LEADZONE_PUBLIC_URL", "https://app.leadzone.sa"),
        ]))
        .unwrap();
        assert_eq!(s.mail_from, "Leadzone <no-reply@app.leadzone.sa>");
        assert!(!format!("{s:?}").contains("hunter2"), "secrets never print");
        let err = Settings::from_map(&env(&[("LEADZONE_SMTP_URL", "smtp://mailer:hunter2@smtp.example.com:25")]))
            .unwrap_err();
        assert_eq!(err.var, "LEADZONE_SMTP_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_app_password_goes_into_the_derived_url() {
        let s = Settings::from_map(&env(&[("LEADZONE_APP_DB_PASSWORD", "s3cret")])).unwrap();
        assert!(s.database_app_url.expose_secret().starts_with("postgres://leadzone_app:s3cret@"));
        assert!(!format!("{s:?}").contains("s3cret"), "secrets never print");
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("DATABASE_URL", "mysql://x/y"),
            ("DATABASE_URL", "postgres://host"),
            ("LEADZONE_BIND", "nowhere"),
            ("LEADZONE_ENV", "staging"),
            ("LEADZONE_ACCESS_TOKEN_TTL_SECS", "ten"),
            ("LEADZONE_ACCESS_TOKEN_TTL_SECS", "5"),
            ("LEADZONE_TRUSTED_PROXIES", "10.0.0.0/8, nope"),
            ("LEADZONE_RATE_LIMIT_PER_MIN", "-1"),
            ("LEADZONE_MASTER_KEY", "c2hvcnQ="),
            ("LEADZONE_ADMIN_TOKEN", "short"),
            ("LEADZONE_SMTP_URL", "http://mail.example.com"),
            ("LEADZONE_MAIL_FROM", "nobody"),
        ] {
            let err = Settings::from_map(&env(&[(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.to_string().starts_with(&format!("invalid {var}:")));
        }
    }
}
