//! Hunter Domain Search: `GET {base}/v2/domain-search?domain=…&api_key=…`. The key travels in
//! the query string, so the URL itself is never logged nor put in an error (reqwest's errors are
//! stripped of it) and `Debug` shows the endpoint without a query.

use crate::outbound::{Answer, Outbound, OutboundConfig, OutboundSetupError, endpoint, provider_message};
use leadzone_ports::discovery::{ApiKey, Contact, ContactsProvider, ProviderError};
use serde::Deserialize;

/// Hunter's own endpoint.
pub const HUNTER_BASE_URL: &str = "https://api.hunter.io";

/// The path of Domain Search (what the logs show).
pub const DOMAIN_SEARCH_PATH: &str = "/v2/domain-search";

const PROVIDER: &str = "Hunter";

/// The Hunter adapter.
#[derive(Debug, Clone)]
pub struct Hunter {
    outbound: Outbound,
    search_url: url::Url,
}

impl Hunter {
    /// An adapter talking to `base_url` ([`HUNTER_BASE_URL`] in production, a local fake in tests)
    /// within the limits of `config`.
    ///
    /// # Errors
    /// When the base URL is not usable or the client cannot be built.
    pub fn new(base_url: &str, config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        Ok(Self { search_url: endpoint(base_url, DOMAIN_SEARCH_PATH)?, outbound: Outbound::new(PROVIDER, config)? })
    }
}

/// Hunter throttles per second with 403 and reports a used-up quota with 429; both, and 5xx, are
/// worth the adapter's few retries.
fn retryable(status: u16) -> bool {
    status == 403 || crate::outbound::is_throttled_or_failing(status)
}

#[async_trait::async_trait]
impl ContactsProvider for Hunter {
    async fn domain_search(&self, key: &ApiKey, domain: &str) -> Result<Vec<Contact>, ProviderError> {
        let domain = domain.trim();
        if domain.is_empty() {
            return Err(ProviderError::Rejected("Hunter needs a domain to search".to_owned()));
        }
        let mut url = self.search_url.clone();
        url.query_pairs_mut().append_pair("domain", domain).append_pair("api_key", key.expose());
        let answer = self.outbound.send(DOMAIN_SEARCH_PATH, retryable, |client| client.get(url.clone())).await?;
        if !answer.is_success() {
            return Err(hunter_error(&answer, key));
        }
        parse_domain_search(&answer.body)
    }
}

#[derive(Debug, Default, Deserialize)]
struct DomainSearchResponse {
    data: Option<DomainSearchData>,
}

#[derive(Debug, Default, Deserialize)]
struct DomainSearchData {
    #[serde(default)]
    emails: Vec<HunterEmail>,
}

#[derive(Debug, Default, Deserialize)]
struct HunterEmail {
    value: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    position: Option<String>,
    phone_number: Option<String>,
    confidence: Option<f64>,
    #[serde(default)]
    sources: Vec<HunterSource>,
}

#[derive(Debug, Default, Deserialize)]
struct HunterSource {
    uri: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct HunterErrorBody {
    #[serde(default)]
    errors: Vec<HunterError>,
}

#[derive(Debug, Default, Deserialize)]
struct HunterError {
    id: Option<String>,
    details: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_domain_search(body: &[u8]) -> Result<Vec<Contact>, ProviderError> {
    let response: DomainSearchResponse = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Rejected(format!("Hunter sent an answer that is not the expected JSON ({e})")))?;
    Ok(response.data.unwrap_or_default().emails.into_iter().filter_map(map_email).collect())
}

fn map_email(email: HunterEmail) -> Option<Contact> {
    Some(Contact {
        email: non_empty(email.value)?,
        first_name: non_empty(email.first_name),
        last_name: non_empty(email.last_name),
        position: non_empty(email.position),
        phone: non_empty(email.phone_number),
        confidence: confidence(email.confidence),
        sources: email.sources.into_iter().filter_map(|s| non_empty(s.uri)).collect(),
    })
}

fn confidence(value: Option<f64>) -> u8 {
    match value {
        Some(v) if v.is_finite() => {
            // 0..=100 after the clamp, so the cast is exact.
            v.round().clamp(0.0, 100.0) as u8
        }
        _ => 0,
    }
}

/// A failing answer (after the retries) as the port's error, in Hunter's own words.
fn hunter_error(answer: &Answer, key: &ApiKey) -> ProviderError {
    let errors = serde_json::from_slice::<HunterErrorBody>(&answer.body).map(|b| b.errors).unwrap_or_default();
    let details: Vec<String> = errors
        .into_iter()
        .filter_map(|e| non_empty(e.details).or_else(|| non_empty(e.id)))
        .map(|d| provider_message(&d, key))
        .collect();
    let status = answer.status;
    // ": <Hunter's words>", or the status when it said nothing readable.
    let said = if details.is_empty() { format!(" (HTTP {status})") } else { format!(": {}", details.join("; ")) };
    match status {
        401 => ProviderError::Unauthorized(format!("Hunter refused the API key{said}")),
        403 | 429 => ProviderError::RateLimited {
            message: format!("Hunter is rate limiting this key or its quota is used up{said}"),
            retry_after: answer.retry_after,
        },
        400 | 422 => ProviderError::Rejected(format!("Hunter refused the search{said}")),
        500..=599 if details.is_empty() => ProviderError::Unavailable(format!("Hunter is unavailable (HTTP {status})")),
        500..=599 => ProviderError::Unavailable(format!("Hunter is unavailable (HTTP {status}){said}")),
        _ if details.is_empty() => ProviderError::Rejected(format!("Hunter answered HTTP {status}")),
        _ => ProviderError::Rejected(format!("Hunter answered HTTP {status}{said}")),
    }
}

#[cfg(test)]
mod tests {
    use super::confidence;

    #[test]
    fn confidence_is_clamped_and_rounded() {
        assert_eq!(confidence(Some(92.0)), 92);
        assert_eq!(confidence(Some(150.0)), 100);
        assert_eq!(confidence(Some(-3.0)), 0);
        assert_eq!(confidence(Some(87.6)), 88);
        assert_eq!(confidence(None), 0);
        assert_eq!(confidence(Some(f64::NAN)), 0);
    }
}
