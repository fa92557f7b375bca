//! The outbound webhook sender: POSTs through the one SSRF guard (`ssrf.rs`) — http(s) on 80/443
//! to public addresses only unless `LEADZONE_ALLOW_PRIVATE_FETCH`, every resolved address
//! checked — with a 10-second limit and no redirects (a redirect is an answer, not followed).

use crate::ssrf::{self, FetchPolicy, GuardedResolver, SystemResolver};
use leadzone_ports::webhooks::{Sent, WebhookSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The time one delivery may take, answer included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct GuardedWebhookSender {
    client: reqwest::Client,
    policy: FetchPolicy,
    resolver: GuardedResolver,
}

impl GuardedWebhookSender {
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(policy: FetchPolicy) -> Result<Self, String> {
        let client = ssrf::guarded_client_builder(policy, None)
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(crate::outbound::USER_AGENT)
            .build()
            .map_err(|e| e.without_url().to_string())?;
        Ok(Self { client, policy, resolver: GuardedResolver::new(Arc::new(SystemResolver), policy) })
    }

    fn parse(&self, url: &str) -> Result<url::Url, String> {
        let parsed = url::Url::parse(url).map_err(|_| format!("refused: {url:?} is not a valid URL"))?;
        ssrf::check_url(&parsed, &self.policy).map_err(|r| r.to_string())?;
        Ok(parsed)
    }
}

#[async_trait::async_trait]
impl WebhookSender for GuardedWebhookSender {
    async fn check(&self, url: &str) -> Result<(), String> {
        let parsed = self.parse(url)?;
        if let Some(url::Host::Domain(name)) = parsed.host()
            && name.parse::<std::net::IpAddr>().is_err()
        {
            self.resolver.resolve_host(name).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    async fn send(&self, url: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Result<Sent, String> {
        let parsed = self.parse(url)?;
        let mut request = self.client.post(parsed).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let started = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // The body is not read beyond what arrived: an endpoint's answer is its status.
                drop(response);
                Ok(Sent { status, latency: started.elapsed() })
            }
            Err(e) => Err(match ssrf::refusal_in(&e) {
                Some(refusal) => refusal.to_string(),
                None if e.is_timeout() => format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()),
                None if e.is_connect() => "the endpoint could not be reached".to_owned(),
                None => e.without_url().to_string(),
            }),
        }
    }
}
