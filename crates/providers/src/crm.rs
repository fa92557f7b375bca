//! What the CRM adapters ([`hubspot`](crate::hubspot), [`notion`](crate::notion),
//! [`salesforce`](crate::salesforce)) send the same way: one unretried request with the tenant's
//! token as its bearer. What an answer or a failure means stays each adapter's own.

use crate::outbound::{Answer, Outbound, OutboundConfig, OutboundSetupError, RetryPolicy, bearer, endpoint};
use leadzone_ports::discovery::{ApiKey, ProviderError};
use leadzone_ports::sync::CrmError;

/// A CRM at a fixed base URL, called without retries (the SYNC job paces and retries): the
/// headers every request carries besides the bearer, and what a failure to get an answer means.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    outbound: Outbound,
    base: String,
    headers: &'static [(&'static str, &'static str)],
    failed: fn(ProviderError, &ApiKey) -> CrmError,
}

impl Endpoint {
    /// # Errors
    /// When the base URL is not usable or the client cannot be built.
    pub(crate) fn new(
        provider: &'static str,
        base_url: &str,
        config: OutboundConfig,
        headers: &'static [(&'static str, &'static str)],
        failed: fn(ProviderError, &ApiKey) -> CrmError,
    ) -> Result<Self, OutboundSetupError> {
        endpoint(base_url, "/")?;
        let config = OutboundConfig { retry: RetryPolicy::none(), ..config };
        let base = base_url.trim_end_matches('/').to_owned();
        Ok(Self { outbound: Outbound::new(provider, config)?, base, headers, failed })
    }

    /// `{base}{path}`; a path that makes no URL is `Rejected`.
    pub(crate) fn url(&self, path: &str) -> Result<url::Url, CrmError> {
        endpoint(&self.base, path).map_err(|e| CrmError::Rejected(e.to_string()))
    }

    /// [`call`] with this endpoint's headers and failure.
    pub(crate) async fn call(
        &self,
        log_path: &str,
        token: &ApiKey,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, CrmError> {
        let make = |c: &reqwest::Client| self.headers.iter().fold(make(c), |request, (k, v)| request.header(*k, *v));
        call(&self.outbound, log_path, token, make, |e| (self.failed)(e, token)).await
    }
}

/// Sends the request `make` builds once, with `token` as its bearer (a token no header can carry
/// is `Unauthorized`); a failure to get an answer becomes what `failed` makes of it.
pub(crate) async fn call(
    outbound: &Outbound,
    log_path: &str,
    token: &ApiKey,
    make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    failed: impl FnOnce(ProviderError) -> CrmError,
) -> Result<Answer, CrmError> {
    let auth = bearer(token, outbound.provider()).map_err(CrmError::Unauthorized)?;
    outbound
        .send(log_path, |_| false, |c| make(c).header(reqwest::header::AUTHORIZATION, auth.clone()))
        .await
        .map_err(failed)
}
