//! Outbound adapters and local doubles: the blob stores (S3-compatible object storage, or files
//! under the data directory),
//! mail (SMTP, or the log in development), and lead discovery — Google Places (New) Text Search
//! and Hunter Domain Search over the shared [`outbound`] client, with their development doubles.
//! The other HTTP providers (WhatsApp Cloud API, chat completions, HubSpot, Slack) join as their
//! capabilities land, on the same client.
//! The website surveyor ([`survey`]) has its own client: it fetches URLs a tenant controls, so
//! only through the [`ssrf`] guard.

pub mod blobs;
pub mod discovery_doubles;
pub mod hubspot;
pub mod hunter;
pub mod mail;
pub mod outbound;
pub mod places;
pub mod reports;
pub mod ssrf;
pub mod survey;
pub mod webhooks;
pub mod whatsapp;

pub use blobs::local::LocalBlobStore;
pub use blobs::s3::{S3BlobStore, S3Settings};
pub use discovery_doubles::{DevContacts, DevPlaces};
pub use hubspot::HubSpot;
pub use hunter::Hunter;
pub use mail::{LogMailer, SmtpMailer};
pub use outbound::{OutboundConfig, OutboundSetupError, RetryPolicy};
pub use places::{GooglePlaces, search_all};
pub use reports::{BuiltinReportWriter, ChatCompletionsWriter};
pub use ssrf::FetchPolicy;
pub use survey::HttpSurveyor;
pub use webhooks::GuardedWebhookSender;
pub use whatsapp::{DevWhatsApp, GraphWhatsApp};
