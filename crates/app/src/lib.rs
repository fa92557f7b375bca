//! Leadzone's use cases, one module per capability. Authorisation (the `policy` module), quotas
//! (`usage`) and audit happen here, never in an adapter: HTTP handlers call these functions and
//! only translate their results.
//!
//! This crate knows no SQL, no HTTP and no concrete adapter; it speaks to the world through
//! `leadzone-ports`.

/// The type of each port, by its field name in [`Ports`].
macro_rules! port_type {
    (uow) => { std::sync::Arc<dyn leadzone_ports::tx::UnitOfWork> };
    (sessions) => { std::sync::Arc<dyn leadzone_ports::sessions::SessionStore> };
    (lookups) => { std::sync::Arc<dyn leadzone_ports::lookups::Lookups> };
    (platform) => { std::sync::Arc<dyn leadzone_ports::platform::PlatformStore> };
    (sweeps) => { std::sync::Arc<dyn leadzone_ports::sweeps::Sweeps> };
    (hasher) => { std::sync::Arc<dyn leadzone_ports::security::PasswordHasher> };
    (tokens) => { std::sync::Arc<dyn leadzone_ports::security::Tokens> };
    (secrets) => { std::sync::Arc<dyn leadzone_ports::security::SecretBox> };
    (totp) => { std::sync::Arc<dyn leadzone_ports::security::Totp> };
    (blobs) => { std::sync::Arc<dyn leadzone_ports::blobs::BlobStore> };
    (clock) => { std::sync::Arc<dyn leadzone_ports::Clock> };
    (ids) => { std::sync::Arc<dyn leadzone_ports::Ids> };
    (config) => { std::sync::Arc<$crate::AppConfig> };
    (providers) => { $crate::Providers };
}

/// Declares a capability's service: the ports it uses, by their names in [`Ports`], and the other
/// capabilities it calls (`uses`); `new` takes the ports from [`Ports`] and is given the rest.
macro_rules! service {
    ($(#[$meta:meta])* $name:ident { ports: [$($port:ident),* $(,)?] $(, uses: [$($svc:ident: $ty:ty),* $(,)?])? $(,)? }) => {
        $(#[$meta])*
        ///
        /// Holds only the ports (and the other capabilities) its use cases reach.
        #[derive(Clone)]
        pub struct $name {
            $(pub(crate) $port: $crate::port_type!($port),)*
            $($(pub(crate) $svc: $ty,)*)?
        }

        impl $name {
            /// Takes its ports from `p`; the capabilities it calls are handed in.
            pub(crate) fn new(p: &$crate::Ports $($(, $svc: $ty)*)?) -> Self {
                Self { $($port: p.$port.clone(),)* $($($svc,)*)? }
            }
        }
    };
}
pub(crate) use {port_type, service};

pub mod account;
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod crm;
pub mod csv_files;
pub mod ctx;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod exports;
pub mod files;
pub mod flags;
pub mod health;
pub mod identity;
pub mod imports;
pub mod integrations;
pub mod intelligence;
pub mod jobs;
pub mod lead_actions;
pub mod leads;
pub mod lists;
pub mod mail;
pub mod policy;
pub mod retention;
pub mod slack;
pub mod stripe;
pub mod sync;
pub mod team;
pub mod tenant;
pub mod usage;
pub mod webhooks;
pub mod whatsapp;
pub mod whatsapp_bulk;
pub mod whatsapp_webhooks;

use leadzone_ports::lookups::Lookups;
use leadzone_ports::platform::PlatformStore;
use leadzone_ports::security::{PasswordHasher, SecretBox, Tokens, Totp};
use leadzone_ports::sessions::SessionStore;
use leadzone_ports::sweeps::Sweeps;
use leadzone_ports::tx::UnitOfWork;
use leadzone_ports::{Clock, Ids};
use std::sync::Arc;
use time::Duration;

pub use ctx::{ClientInfo, Ctx};
pub use error::AppError;

/// Settings the use cases need.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub invite_ttl: Duration,
    /// The platform operators' bearer token; `None` turns the admin API off. `Debug` prints
    /// `[REDACTED]`.
    pub admin_token: Option<secrecy::SecretString>,
    /// Where invitation links point (the web app's accept page).
    pub public_url: String,
    /// `whsec_…`; `None` turns the Stripe webhook off. `Debug` prints `[REDACTED]`.
    pub stripe_webhook_secret: Option<secrecy::SecretString>,
    /// Days a PAST_DUE subscription keeps writing before it becomes UNPAID.
    pub grace_days: i64,
    /// `WHATSAPP_APP_SECRET`: signs WhatsApp's webhooks; `None` turns them off (404).
    pub whatsapp_app_secret: Option<secrecy::SecretString>,
    /// `WHATSAPP_VERIFY_TOKEN`: the webhook verification handshake's token.
    pub whatsapp_verify_token: Option<secrecy::SecretString>,
    /// `LEADZONE_WHATSAPP_MPS`: messages per second per number a bulk sends at most.
    pub whatsapp_mps: u32,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::minutes(15),
            refresh_token_ttl: Duration::days(30),
            invite_ttl: Duration::days(7),
            admin_token: None,
            public_url: "http://localhost:8080".to_owned(),
            stripe_webhook_secret: None,
            grace_days: 7,
            whatsapp_app_secret: None,
            whatsapp_verify_token: None,
            whatsapp_mps: 20,
        }
    }
}

/// Every port, as the composition root builds them; [`App::new`] hands each capability the ones
/// it uses. Cheap to clone.
#[derive(Clone)]
pub struct Ports {
    pub uow: Arc<dyn UnitOfWork>,
    /// The system path (role `leadzone_system`), one port per kind of question.
    pub sessions: Arc<dyn SessionStore>,
    pub lookups: Arc<dyn Lookups>,
    pub platform: Arc<dyn PlatformStore>,
    pub sweeps: Arc<dyn Sweeps>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn Tokens>,
    pub secrets: Arc<dyn SecretBox>,
    pub totp: Arc<dyn Totp>,
    pub blobs: Arc<dyn leadzone_ports::blobs::BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    pub config: Arc<AppConfig>,
    /// The outside services lead discovery uses.
    pub providers: Providers,
}

/// The use cases, one service per capability (the module of the same name), each holding only the
/// ports it reaches, and nothing else (no handler reaches a port past its service). HTTP handlers
/// call `app.<capability>.<use case>`; the worker runs jobs through [`App::run_job`]. Cheap to
/// clone.
#[derive(Clone)]
pub struct App {
    pub identity: identity::Identity,
    pub account: account::Account,
    pub team: team::Team,
    pub tenant: tenant::Tenants,
    pub api_keys: api_keys::ApiKeys,
    pub admin: admin::Admin,
    pub flags: flags::Flags,
    pub audit: audit::Audit,
    pub usage: usage::Usage,
    pub billing: billing::Billing,
    pub jobs: jobs::Jobs,
    pub integrations: integrations::Integrations,
    pub webhooks: webhooks::Webhooks,
    pub leads: leads::Leads,
    pub lists: lists::Lists,
    pub imports: imports::Imports,
    pub exports: exports::Exports,
    pub files: files::Files,
    pub discovery: discovery::Discovery,
    pub intelligence: intelligence::Intelligence,
    pub whatsapp: whatsapp::WhatsApp,
    pub health: health::Health,
}

impl App {
    /// Hands each capability the ports (and the other capabilities) it uses.
    pub fn new(p: Ports) -> App {
        let identity = identity::Identity::new(&p);
        let account = account::Account::new(&p, identity.clone());
        let team = team::Team::new(&p, identity.clone());
        let tenant = tenant::Tenants::new(&p);
        let api_keys = api_keys::ApiKeys::new(&p);
        let admin = admin::Admin::new(&p);
        let flags = flags::Flags::new(&p);
        let audit = audit::Audit::new(&p);
        let usage = usage::Usage::new(&p);
        let billing = billing::Billing::new(&p);
        let jobs = jobs::Jobs::new(&p);
        let integrations = integrations::Integrations::new(&p, flags.clone(), jobs.clone());
        let webhooks = webhooks::Webhooks::new(&p, flags.clone());
        let leads = leads::Leads::new(&p, webhooks.clone());
        let lists = lists::Lists::new(&p, leads.clone());
        let imports = imports::Imports::new(&p, jobs.clone(), leads.clone(), usage.clone());
        let exports = exports::Exports::new(&p, flags.clone(), jobs.clone());
        let files = files::Files::new(&p);
        let discovery = discovery::Discovery::new(&p, integrations.clone(), jobs.clone(), leads.clone(), usage.clone());
        let intelligence = intelligence::Intelligence::new(&p, flags.clone(), jobs.clone(), leads.clone());
        let whatsapp = whatsapp::WhatsApp::new(
            &p,
            flags.clone(),
            integrations.clone(),
            jobs.clone(),
            leads.clone(),
            usage.clone(),
            webhooks.clone(),
        );
        let health = health::Health::new(&p);
        App {
            identity,
            account,
            team,
            tenant,
            api_keys,
            admin,
            flags,
            audit,
            usage,
            billing,
            jobs,
            integrations,
            webhooks,
            leads,
            lists,
            imports,
            exports,
            files,
            discovery,
            intelligence,
            whatsapp,
            health,
        }
    }
}

/// The outside services of lead discovery and how each is chosen: a tenant's own key (its
/// connection) first, then the platform's key, then — in development only — a double.
#[derive(Clone)]
pub struct Providers {
    /// The real places adapter (Google Places API (New)).
    pub places: Arc<dyn leadzone_ports::discovery::PlacesProvider>,
    /// `GOOGLE_PLACES_API_KEY`.
    pub places_key: Option<leadzone_ports::discovery::ApiKey>,
    /// The real contacts adapter (Hunter).
    pub contacts: Arc<dyn leadzone_ports::discovery::ContactsProvider>,
    /// `HUNTER_API_KEY`.
    pub contacts_key: Option<leadzone_ports::discovery::ApiKey>,
    /// The development doubles, used when no key is configured. `None` in production: there a
    /// missing key refuses the work (503) instead of faking data.
    pub doubles: Option<Doubles>,
    /// The website surveyor (every fetch through the SSRF guard).
    pub surveyor: Arc<dyn leadzone_ports::intelligence::WebsiteSurveyor>,
    /// The report writer: a chat-completions model when `LLM_BASE_URL` is set, else the built-in
    /// writer.
    pub reports: Arc<dyn leadzone_ports::intelligence::ReportWriter>,
    /// The WhatsApp Cloud API adapter (`WHATSAPP_BASE_URL`), used with a tenant's own number.
    pub whatsapp: Arc<dyn leadzone_ports::whatsapp::WhatsAppApi>,
    /// HubSpot CRM (`HUBSPOT_BASE_URL`), used with a tenant's own token.
    pub hubspot: Arc<dyn leadzone_ports::sync::HubSpotApi>,
    /// Salesforce REST on each tenant's own instance (through the SSRF guard).
    pub salesforce: Arc<dyn leadzone_ports::sync::SalesforceApi>,
    /// Notion (`NOTION_BASE_URL`), used with a tenant's own token.
    pub notion: Arc<dyn leadzone_ports::sync::NotionApi>,
    /// Slack incoming webhooks (the URL is the tenant's credential; through the SSRF guard).
    pub slack: Arc<dyn leadzone_ports::slack::SlackApi>,
    /// Outbound webhooks' sender (through the SSRF guard).
    pub webhooks: Arc<dyn leadzone_ports::webhooks::WebhookSender>,
}

#[derive(Clone)]
pub struct Doubles {
    pub places: Arc<dyn leadzone_ports::discovery::PlacesProvider>,
    pub contacts: Arc<dyn leadzone_ports::discovery::ContactsProvider>,
    pub whatsapp: Arc<dyn leadzone_ports::whatsapp::WhatsAppApi>,
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Truncated to microseconds, the database's precision, so a value reads back as written.
    fn now(&self) -> time::OffsetDateTime {
        let now = time::OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
    }
}

/// UUIDv7 ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7;

impl Ids for UuidV7 {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod config_tests {
    /// The operators' token and the Stripe secret never print, not even in `{:?}` of the config.
    #[test]
    fn debug_output_hides_the_secrets() {
        let config = super::AppConfig {
            admin_token: Some(secrecy::SecretString::from("operator-token-123456")),
            stripe_webhook_secret: Some(secrecy::SecretString::from("whsec_topsecret")),
            ..Default::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("operator-token-123456") && !printed.contains("whsec_topsecret"), "{printed}");
        assert!(printed.contains("REDACTED"), "{printed}");
    }
}
