//! Lead discovery: the places provider a SEARCH pages through (Google Places API (New) Text
//! Search) and the contacts provider a REVEAL asks for a company's decision makers (Hunter Domain
//! Search). Adapters live in `leadzone-providers`, each with a development double.
//!
//! A provider call takes the key to use: the tenant's own (its `GOOGLE_MAPS` connection) or the
//! platform's. Keys never print — `ApiKey`'s `Debug` is redacted — and an adapter never writes one
//! into a log line or an error message.

use std::time::Duration;

/// A provider key. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The key itself, for the one header or query parameter that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// Why a provider call failed. Every message is written for the tenant (it may end up in a job's
/// error) and never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The key was refused (HTTP 401/403, a key restriction, the API not enabled): retrying
    /// cannot help until someone fixes the key.
    #[error("{0}")]
    Unauthorized(String),
    /// The provider asked us to slow down (HTTP 429) and kept asking after the adapter's own
    /// retries; `retry_after` is its hint.
    #[error("{message}")]
    RateLimited { message: String, retry_after: Option<Duration> },
    /// The provider could not answer now (5xx, a timeout, a network failure): worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// The provider refused the request itself (HTTP 400, an over-large or malformed answer):
    /// retrying the same request cannot help.
    #[error("{0}")]
    Rejected(String),
}

impl ProviderError {
    /// Whether the job system's back-off may help.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_))
    }
}

/// One Text Search, as the SEARCH job asks it: every page of it is sent with the same fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceQuery {
    /// The query plus the city when one was given (`مطاعم في الرياض`).
    pub text: String,
    /// `ar` or `en`: the tenant's language.
    pub language: String,
    /// At most 20 (Google's page size limit).
    pub page_size: u32,
}

/// A place as the provider describes it; `place_id` is the durable key (Google's terms allow
/// keeping it indefinitely), everything else is provenance-marked content.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Place {
    pub place_id: String,
    pub name: String,
    pub phone: Option<String>,
    pub website: Option<String>,
    /// The primary type's display name (`Restaurant`, `مطعم`), else the first type.
    pub category: Option<String>,
    pub types: Vec<String>,
    /// The locality from the address components.
    pub city: Option<String>,
    pub maps_url: Option<String>,
    pub rating: Option<f64>,
    pub rating_count: Option<u32>,
}

/// One page of results and the token of the next, if any.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlacesPage {
    pub places: Vec<Place>,
    pub next_page_token: Option<String>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait PlacesProvider: Send + Sync {
    /// The first page (`page_token` None) or the next one of `query`.
    ///
    /// # Errors
    /// `ProviderError` as documented on each variant.
    async fn search_page(
        &self,
        key: &ApiKey,
        query: &PlaceQuery,
        page_token: Option<String>,
    ) -> Result<PlacesPage, ProviderError>;

    /// One cheap call that tells whether `key` works (connecting `GOOGLE_MAPS` checks it).
    ///
    /// # Errors
    /// `Unauthorized` with the provider's own words when the key is refused.
    async fn check_key(&self, key: &ApiKey) -> Result<(), ProviderError>;
}

/// A person the contacts provider knows at a company's domain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub position: Option<String>,
    pub phone: Option<String>,
    /// 0–100, the provider's confidence in the address.
    pub confidence: u8,
    /// The pages the address was found on.
    pub sources: Vec<String>,
}

#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait ContactsProvider: Send + Sync {
    /// The people the provider knows at `domain` (a bare host, `example.sa`).
    ///
    /// # Errors
    /// `ProviderError` as documented on each variant.
    async fn domain_search(&self, key: &ApiKey, domain: &str) -> Result<Vec<Contact>, ProviderError>;
}
