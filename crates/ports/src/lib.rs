//! The ports: what the Leadzone core needs from the world, as async traits that speak only domain
//! types. Adapters (Postgres, crypto, providers) implement them; `leadzone-app` depends only on
//! these traits, and its unit tests use the `mockall` mocks behind the `mock` feature.
//!
//! Every trait documents what an adapter MUST return in its `# Errors` section.

pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod blobs;
pub mod discovery;
pub mod error;
pub mod flags;
pub mod identity;
pub mod integrations;
pub mod intelligence;
pub mod jobs;
pub mod lead_actions;
pub mod leads;
pub mod lists;
pub mod lookups;
pub mod mail;
pub mod platform;
pub mod security;
pub mod sessions;
pub mod slack;
pub mod sweeps;
pub mod sync;
pub mod team;
pub mod tx;
pub mod webhooks;
pub mod whatsapp;

pub use error::RepoError;

use time::OffsetDateTime;

/// The current time. Use cases never read the system clock directly, so tests can fix it.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// New identifiers: UUIDv7, time-ordered.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Ids: Send + Sync {
    fn new_id(&self) -> uuid::Uuid;
}
