//! The one outbound HTTP client every provider adapter uses: reqwest over rustls, bounded in time
//! (connect and whole-request timeouts), in size (a byte cap on every answer), in redirects (a
//! few, same host only, never down to plain HTTP — the key headers must not follow a redirect
//! elsewhere) and in retries (429/5xx, honouring `Retry-After` up to a cap).
//!
//! Nothing here ever logs or returns a URL with its query string: reqwest errors are stripped of
//! their URL, call logs name the provider and the path only, and [`redact`] scrubs `api_key=…`
//! from any text that might still carry one.
//!
//! An adapter whose host is the tenant's (a Salesforce instance URL) builds its [`Outbound`] with
//! [`Outbound::guarded`] instead: the [`ssrf`](crate::ssrf) guard's client (every resolved address
//! checked, no proxy, no redirects) and [`check_url`](crate::ssrf::check_url) on every request.

use crate::ssrf::{self, FetchPolicy};
use leadzone_ports::discovery::{ApiKey, ProviderError};
use std::time::{Duration, Instant};

/// The `User-Agent` of every outbound call.
pub const USER_AGENT: &str = concat!("Leadzone/", env!("CARGO_PKG_VERSION"), " (+https://leadzone.sa)");

/// Redirects followed at most (same host only).
pub const MAX_REDIRECTS: usize = 3;

/// How many characters of a provider's own error message an error keeps.
const MAX_PROVIDER_MESSAGE_CHARS: usize = 300;

/// When and how often a throttled or failing call is tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so `max_retries + 1` requests at most).
    pub max_retries: u32,
    /// The wait before the first retry when the answer gives no `Retry-After`; doubled each time.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, whatever `Retry-After` asks for.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 2, initial_backoff: Duration::from_millis(200), max_wait: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self { max_retries: 0, ..Self::default() }
    }

    /// The wait before retry number `retry` (0-based): the provider's `Retry-After` when it gave
    /// one, else the exponential back-off; capped at `max_wait` either way.
    pub fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let wait =
            retry_after.unwrap_or_else(|| self.initial_backoff.saturating_mul(2_u32.saturating_pow(retry.min(16))));
        wait.min(self.max_wait)
    }
}

/// The limits of one adapter's outbound calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundConfig {
    /// Time allowed to open the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, answer body included.
    pub timeout: Duration,
    /// The largest answer body accepted, in bytes.
    pub max_body_bytes: usize,
    pub retry: RetryPolicy,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
            max_body_bytes: 2 * 1024 * 1024,
            retry: RetryPolicy::default(),
        }
    }
}

/// Why an adapter could not be built (at startup, from configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundSetupError {
    #[error("the base URL {url:?} is not usable: {reason}")]
    BaseUrl { url: String, reason: String },
    #[error("the outbound HTTP client could not be built: {0}")]
    Client(String),
}

/// Builds the shared reqwest client: rustls, the timeouts of `config`, Leadzone's `User-Agent`,
/// and at most [`MAX_REDIRECTS`] redirects, each to the same host and never from HTTPS to HTTP.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn build_client(config: &OutboundConfig) -> Result<reqwest::Client, OutboundSetupError> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt.previous().first().is_some_and(|first| {
            first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
                && !(first.scheme() == "https" && attempt.url().scheme() != "https")
        });
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if same_origin {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .tls_backend_rustls()
        .user_agent(USER_AGENT)
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .redirect(redirects)
        .build()
        .map_err(|e| OutboundSetupError::Client(error_chain(&e.without_url())))
}

/// Parses an adapter's base URL (`https://places.googleapis.com`, or a local fake's) and joins
/// `path` to it, keeping any path prefix the base has.
///
/// # Errors
/// When the base is not an absolute http(s) URL, or carries a query or fragment.
pub fn endpoint(base_url: &str, path: &str) -> Result<url::Url, OutboundSetupError> {
    let bad = |reason: &str| OutboundSetupError::BaseUrl { url: redact(base_url), reason: reason.to_owned() };
    let base = url::Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(bad("a base URL carries no query or fragment"));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(bad("a base URL carries no credentials"));
    }
    let joined = format!("{}/{}", base.as_str().trim_end_matches('/'), path.trim_start_matches('/'));
    url::Url::parse(&joined).map_err(|e| bad(&e.to_string()))
}

/// `Authorization: Bearer <token>`, marked sensitive (never printed by reqwest's `Debug`).
///
/// # Errors
/// The sentence to show for a token that cannot be sent.
pub fn bearer(token: &ApiKey, provider: &str) -> Result<reqwest::header::HeaderValue, String> {
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| format!("The {provider} token contains characters an HTTP header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A provider's answer, after the retries: the status, its `Retry-After` hint and the body (read
/// within the byte cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One provider's outbound side: the shared client, its limits and its name for logs and
/// messages.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    config: OutboundConfig,
    provider: &'static str,
    /// The SSRF policy every request URL is checked against, for a [`guarded`](Self::guarded) one.
    guard: Option<FetchPolicy>,
}

impl Outbound {
    /// # Errors
    /// See [`build_client`].
    pub fn new(provider: &'static str, config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        Ok(Self { client: build_client(&config)?, config, provider, guard: None })
    }

    /// An outbound side for a provider whose host the tenant chooses: the client comes from
    /// [`ssrf::guarded_client_builder`] (every address a name resolves to checked, no proxy, no
    /// redirects — a 3xx is an answer) with the timeouts of `config` and Leadzone's `User-Agent`,
    /// and [`send`](Self::send) refuses any URL [`ssrf::check_url`] refuses.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn guarded(
        provider: &'static str,
        config: OutboundConfig,
        policy: FetchPolicy,
    ) -> Result<Self, OutboundSetupError> {
        let client = ssrf::guarded_client_builder(policy, None)
            .user_agent(USER_AGENT)
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| OutboundSetupError::Client(error_chain(&e.without_url())))?;
        Ok(Self { client, config, provider, guard: Some(policy) })
    }

    pub fn provider(&self) -> &'static str {
        self.provider
    }

    pub fn config(&self) -> &OutboundConfig {
        &self.config
    }

    /// Sends the request `make` builds, again while the answer's status is one `retryable`
    /// accepts (and retries are left), waiting as [`RetryPolicy::wait`] says in between. Returns
    /// the last answer whatever its status: the adapter turns a failing one into its own error.
    /// `path` is what the logs show of the request: never put a key or a query string in it.
    ///
    /// # Errors
    /// `Unavailable` on a timeout or a network failure (not retried: the request may have been
    /// carried out); `Rejected` when the body exceeds the cap, and, for a guarded one, with the
    /// guard's words when it refuses the URL or every address its host resolves to.
    pub async fn send(
        &self,
        path: &str,
        retryable: impl Fn(u16) -> bool,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let provider = self.provider;
        let mut retry = 0_u32;
        loop {
            let request = make(&self.client).build().map_err(|err| self.transport_error(err))?;
            if let Some(policy) = &self.guard
                && let Err(refusal) = ssrf::check_url(request.url(), policy)
            {
                tracing::warn!(provider, path, error = %refusal, "provider call refused by the SSRF guard");
                return Err(ProviderError::Rejected(refusal.to_string()));
            }
            let started = Instant::now();
            let response = match self.client.execute(request).await {
                Ok(response) => response,
                Err(err) => {
                    let error = self.transport_error(err);
                    tracing::warn!(
                        provider,
                        path,
                        elapsed_ms = elapsed_ms(started),
                        error = %error,
                        "provider call failed"
                    );
                    return Err(error);
                }
            };
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            if retryable(status) && retry < self.config.retry.max_retries {
                let wait = self.config.retry.wait(retry, retry_after);
                tracing::info!(
                    provider,
                    path,
                    status,
                    elapsed_ms = elapsed_ms(started),
                    retry = retry + 1,
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "provider call throttled or failing; retrying"
                );
                drop(response);
                tokio::time::sleep(wait).await;
                retry += 1;
                continue;
            }
            let body = self.read_body(response).await;
            let elapsed_ms = elapsed_ms(started);
            match &body {
                Ok(body) => {
                    tracing::info!(provider, path, status, elapsed_ms, bytes = body.len(), "provider call answered");
                }
                Err(error) => {
                    tracing::warn!(provider, path, status, elapsed_ms, error = %error, "provider answer unreadable");
                }
            }
            return Ok(Answer { status, retry_after, body: body? });
        }
    }

    /// Reads the body within this adapter's byte cap.
    ///
    /// # Errors
    /// See [`read_body_capped`].
    pub async fn read_body(&self, response: reqwest::Response) -> Result<Vec<u8>, ProviderError> {
        read_body_capped(response, self.config.max_body_bytes, self.provider, self.config.timeout).await
    }

    /// A transport failure as this provider's `Unavailable`; `Rejected` with the guard's words
    /// when the SSRF guard refused the host (a guarded client only).
    pub fn transport_error(&self, err: reqwest::Error) -> ProviderError {
        match ssrf::refusal_in(&err) {
            Some(refusal) => ProviderError::Rejected(refusal.to_string()),
            None => transport_error(self.provider, err, self.config.timeout),
        }
    }
}

/// Reads `response`'s body chunk by chunk, giving up as soon as it exceeds `max_bytes` (or its
/// announced length does).
///
/// # Errors
/// `Rejected("<provider> sent an answer larger than N bytes")` over the cap; `Unavailable` when
/// the transfer fails or times out.
pub async fn read_body_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
    provider: &str,
    timeout: Duration,
) -> Result<Vec<u8>, ProviderError> {
    let too_large = || ProviderError::Rejected(format!("{provider} sent an answer larger than {max_bytes} bytes"));
    if response.content_length().is_some_and(|len| len > max_bytes as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(provider, e, timeout))? {
        if body.len().saturating_add(chunk.len()) > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest failure as `Unavailable`, worded for the tenant, without the URL (reqwest's errors
/// print it, query string and all).
pub fn transport_error(provider: &str, err: reqwest::Error, timeout: Duration) -> ProviderError {
    let err = err.without_url();
    let what = if err.is_timeout() {
        format!("{provider} did not answer within {}", human_duration(timeout))
    } else if err.is_connect() {
        format!("{provider} could not be reached")
    } else {
        format!("the call to {provider} failed")
    };
    ProviderError::Unavailable(redact(&format!("{what} ({})", error_chain(&err))))
}

/// An error and its sources, `: `-separated, without repeats.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn human_duration(d: Duration) -> String {
    if d.as_millis() < 1000 || d.subsec_millis() != 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs())
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `Retry-After` in its delay-seconds form (the HTTP-date form is ignored: back-off applies).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Whether a status is worth retrying by default: 429 and every 5xx.
pub fn is_throttled_or_failing(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// `text` with every `api_key=…` value (up to the next `&`, whitespace, quote or bracket) replaced
/// by `REDACTED`; for anything that might hold a URL on its way to a log line or a message.
pub fn redact(text: &str) -> String {
    const NEEDLE: &str = "api_key=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = find_ascii_case_insensitive(rest, NEEDLE) {
        let value_start = found + NEEDLE.len();
        let (before, after) = rest.split_at(value_start);
        out.push_str(before);
        out.push_str("REDACTED");
        let value_len = after
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || "\"'<>()[]{},;".contains(c))
            .unwrap_or(after.len());
        rest = after.get(value_len..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    haystack.as_bytes().windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A provider's own error text made safe to show: the key removed should it be echoed,
/// whitespace collapsed, `api_key=` values redacted, and at most a few hundred characters.
pub fn provider_message(message: &str, key: &ApiKey) -> String {
    let mut text = message.to_owned();
    if !key.expose().is_empty() {
        text = text.replace(key.expose(), "[REDACTED]");
    }
    let text = redact(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    if text.chars().count() > MAX_PROVIDER_MESSAGE_CHARS {
        let cut: String = text.chars().take(MAX_PROVIDER_MESSAGE_CHARS).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_replaces_every_api_key_value() {
        assert_eq!(
            redact("GET https://api.hunter.io/v2/domain-search?domain=a.sa&api_key=s3cr3t&x=1 failed"),
            "GET https://api.hunter.io/v2/domain-search?domain=a.sa&api_key=REDACTED&x=1 failed"
        );
        assert_eq!(redact("api_key=abc API_KEY=def"), "api_key=REDACTED API_KEY=REDACTED");
        assert_eq!(redact("url (…?api_key=abc)"), "url (…?api_key=REDACTED)");
        assert_eq!(redact("nothing here"), "nothing here");
        assert_eq!(redact("ends with api_key="), "ends with api_key=REDACTED");
    }

    #[test]
    fn retry_wait_prefers_retry_after_and_caps_it() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.wait(0, None), Duration::from_millis(200));
        assert_eq!(policy.wait(1, None), Duration::from_millis(400));
        assert_eq!(policy.wait(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(policy.wait(0, Some(Duration::from_secs(3600))), Duration::from_secs(10));
        assert_eq!(policy.wait(40, None), Duration::from_secs(10));
    }

    #[test]
    fn endpoint_joins_and_refuses_bad_bases() {
        assert_eq!(
            endpoint("https://places.googleapis.com/", "/v1/places:searchText").map(|u| u.to_string()),
            Ok("https://places.googleapis.com/v1/places:searchText".to_owned())
        );
        assert_eq!(
            endpoint("http://127.0.0.1:8080/prefix", "v2/domain-search").map(|u| u.to_string()),
            Ok("http://127.0.0.1:8080/prefix/v2/domain-search".to_owned())
        );
        assert!(endpoint("ftp://x", "/a").is_err());
        assert!(endpoint("https://x/?api_key=1", "/a").is_err());
        assert!(endpoint("not a url", "/a").is_err());
    }

    #[test]
    fn provider_message_strips_the_key() {
        let key = ApiKey::new("k-123");
        assert_eq!(provider_message("bad key  k-123\n", &key), "bad key [REDACTED]");
        assert!(provider_message(&"x".repeat(1000), &key).chars().count() <= MAX_PROVIDER_MESSAGE_CHARS + 1);
    }
}
