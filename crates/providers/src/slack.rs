//! Slack incoming webhooks: `POST <webhook URL>` `{"text": …, "blocks"?: …}`. The URL is the
//! credential (its path is the secret), so it is never logged nor put in an error — logs name it
//! "slack webhook" — and it is fetched only through the SSRF guard (public https addresses in
//! production), with a 10-second limit and no redirects. Slack answers errors as plain-text codes;
//! those saying the webhook is gone for good come back as [`SlackError::Gone`].

use crate::outbound::{USER_AGENT, read_body_capped};
use crate::ssrf::{self, FetchPolicy, GuardedResolver, SystemResolver};
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::slack::{SlackApi, SlackError};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time one post may take, answer included.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

const PROVIDER: &str = "Slack";
/// What logs show of the URL.
const LOG_PATH: &str = "slack webhook";
/// Slack's answers are a word or two: more than this is not read.
const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// The codes saying the webhook (or its channel, or the app) is gone: the connection turns ERROR.
const GONE: [&str; 5] =
    ["action_prohibited", "channel_not_found", "channel_is_archived", "no_service", "no_active_hooks"];

/// The Slack incoming-webhook adapter.
#[derive(Debug, Clone)]
pub struct SlackWebhook {
    client: reqwest::Client,
    policy: FetchPolicy,
    resolver: GuardedResolver,
}

#[derive(Serialize)]
struct Message<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    blocks: Option<serde_json::Value>,
}

impl SlackWebhook {
    /// An adapter whose posts go through the SSRF guard under `policy` (`FetchPolicy::strict()`
    /// in production; private addresses and plain http only for local fakes).
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(policy: FetchPolicy) -> Result<Self, String> {
        let client = ssrf::guarded_client_builder(policy, None)
            .timeout(POST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(Self { client, policy, resolver: GuardedResolver::new(Arc::new(SystemResolver), policy) })
    }

    /// The webhook URL, if it is one the guard lets through; the reason otherwise, in words that
    /// never repeat the URL.
    fn parse(&self, webhook_url: &ApiKey) -> Result<url::Url, String> {
        let url = url::Url::parse(webhook_url.expose().trim())
            .map_err(|_| "the Slack webhook URL is not a valid URL".to_owned())?;
        if url.scheme() != "https" && !(self.policy.allow_private && url.scheme() == "http") {
            return Err("the Slack webhook URL must be an https URL".to_owned());
        }
        ssrf::check_url(&url, &self.policy).map_err(|refusal| refusal.to_string())?;
        Ok(url)
    }
}

/// `text` with the webhook URL and its path (the secret) replaced, for anything read from an
/// error on its way out.
fn scrub(text: &str, url: &url::Url) -> String {
    let mut text = text.replace(url.as_str(), "[slack webhook]");
    if url.path().len() > 1 {
        text = text.replace(url.path(), "/[REDACTED]");
    }
    text
}

/// Slack's plain-text error code, when the answer is one (`no_service`); never anything longer.
fn code_of(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let is_code = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    is_code.then_some(text)
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[async_trait::async_trait]
impl SlackApi for SlackWebhook {
    async fn check(&self, webhook_url: &ApiKey) -> Result<(), String> {
        let url = self.parse(webhook_url)?;
        if let Some(url::Host::Domain(name)) = url.host()
            && name.parse::<std::net::IpAddr>().is_err()
        {
            self.resolver.resolve_host(name).await.map_err(|e| scrub(&e.to_string(), &url))?;
        }
        Ok(())
    }

    async fn post(
        &self,
        webhook_url: &ApiKey,
        text: &str,
        blocks: Option<serde_json::Value>,
    ) -> Result<(), SlackError> {
        let url = self.parse(webhook_url).map_err(SlackError::Rejected)?;
        let body = serde_json::to_vec(&Message { text, blocks })
            .map_err(|e| SlackError::Rejected(format!("the Slack message could not be written: {e}")))?;
        let started = Instant::now();
        let sent = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                let err = err.without_url();
                let error = match ssrf::refusal_in(&err) {
                    Some(refusal) => SlackError::Rejected(refusal.to_string()),
                    None if err.is_timeout() => {
                        SlackError::Unavailable(format!("Slack did not answer within {} s", POST_TIMEOUT.as_secs()))
                    }
                    None if err.is_connect() => SlackError::Unavailable("Slack could not be reached".to_owned()),
                    None => SlackError::Unavailable(scrub(&format!("the call to Slack failed ({err})"), &url)),
                };
                tracing::warn!(
                    provider = PROVIDER,
                    path = LOG_PATH,
                    elapsed_ms = elapsed_ms(started),
                    error = %error,
                    "provider call failed"
                );
                return Err(error);
            }
        };
        let status = response.status().as_u16();
        let retry_after = crate::outbound::retry_after(response.headers());
        // An unreadable or over-long answer has no code: its status decides.
        let answer = read_body_capped(response, MAX_ANSWER_BYTES, PROVIDER, POST_TIMEOUT).await.unwrap_or_default();
        let code = code_of(&answer);
        tracing::info!(
            provider = PROVIDER,
            path = LOG_PATH,
            status,
            elapsed_ms = elapsed_ms(started),
            code = code.unwrap_or_default(),
            "provider call answered"
        );
        let said = code.map_or_else(|| format!("Slack answered HTTP {status}"), |code| format!("Slack: {code}"));
        match status {
            _ if code.is_some_and(|c| GONE.contains(&c)) => Err(SlackError::Gone(said)),
            200..=299 => Ok(()),
            429 => Err(SlackError::RateLimited { retry_after }),
            500..=599 => Err(SlackError::Unavailable(said)),
            _ => Err(SlackError::Rejected(said)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_codes_are_read_as_codes() {
        assert_eq!(code_of(b"no_service\n"), Some("no_service"));
        assert_eq!(code_of(b"ok"), Some("ok"));
        assert_eq!(code_of(b"<html>Bad gateway</html>"), None);
        assert_eq!(code_of(b""), None);
        assert_eq!(code_of("x".repeat(100).as_bytes()), None);
    }
}
