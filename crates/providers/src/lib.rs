//! Outbound adapters and local doubles: today the local blob store (files under the data
//! directory) and mail (SMTP, or the log in development); the HTTP providers (Places, WhatsApp
//! Cloud API, chat completions, HubSpot, Slack) join as their capabilities land.

pub mod blob;
pub mod mail;

pub use blob::LocalBlobStore;
pub use mail::{LogMailer, SmtpMailer};
