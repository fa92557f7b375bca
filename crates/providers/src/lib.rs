//! Outbound adapters and local doubles: today the local blob store (files under the data
//! directory); the HTTP providers (Places, WhatsApp Cloud API, chat completions, HubSpot, Slack)
//! join as their capabilities land.

pub mod blob;

pub use blob::LocalBlobStore;
