//! Outbound adapters and local doubles: the blob stores (S3-compatible object storage, or files
//! under the data directory),
//! mail (SMTP, or the log in development), and lead discovery — Google Places (New) Text Search
//! and Hunter Domain Search over the shared [`outbound`] client, with their development doubles.
//! The WhatsApp Cloud API, chat completions and the CRM syncs to HubSpot ([`hubspot`]) and Notion
//! ([`notion`]) use the same client.
//! Whatever fetches a URL a tenant controls goes through the [`ssrf`] guard: the website surveyor
//! ([`survey`]) and the outbound webhooks ([`webhooks`]) with clients of their own, Salesforce
//! ([`salesforce`], the tenant's instance URL) over a guarded [`outbound::Outbound`], and Slack
//! incoming webhooks ([`slack`], whose URL is the credential).

pub mod blobs;
mod crm;
pub mod discovery_doubles;
pub mod hubspot;
pub mod hunter;
pub mod mail;
pub mod notion;
pub mod outbound;
pub mod places;
pub mod reports;
pub mod salesforce;
pub mod slack;
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
pub use notion::Notion;
pub use outbound::{OutboundConfig, OutboundSetupError, RetryPolicy};
pub use places::{GooglePlaces, search_all};
pub use reports::{BuiltinReportWriter, ChatCompletionsWriter};
pub use salesforce::Salesforce;
pub use slack::SlackWebhook;
pub use ssrf::FetchPolicy;
pub use survey::HttpSurveyor;
pub use webhooks::GuardedWebhookSender;
pub use whatsapp::{DevWhatsApp, GraphWhatsApp};
