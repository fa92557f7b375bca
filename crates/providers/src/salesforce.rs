//! Salesforce REST v60.0 on the tenant's own instance: Leads upserted in batches of 200 by the
//! external-id field `Leadzone_Id__c`, which the tenant's admin creates (connecting checks it is
//! there). The instance URL is the tenant's, so the client is the SSRF-guarded one and every URL
//! passes [`ssrf::check_url`]. Errors keep Salesforce's words (never the token); nothing is
//! retried here — the SYNC job paces and retries.

use crate::crm;
use crate::outbound::{Answer, Outbound, OutboundConfig, OutboundSetupError, RetryPolicy, endpoint, provider_message};
use crate::ssrf::{self, FetchPolicy};
use leadzone_ports::discovery::{ApiKey, ProviderError};
use leadzone_ports::sync::{CrmBatch, CrmError, CrmFailure, CrmRecord, CrmResult, SalesforceApi};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The REST API version the adapter speaks.
pub const API_VERSION: &str = "v60.0";
/// The Lead field Leadzone keys its upserts by (a Text(36), Unique, External ID field).
pub const EXTERNAL_ID_FIELD: &str = "Leadzone_Id__c";
/// The largest batch the composite sObject collections accept.
pub const MAX_BATCH: usize = 200;

const PROVIDER: &str = "Salesforce";
const DESCRIBE_PATH: &str = "/services/data/v60.0/sobjects/Lead/describe";
const UPSERT_PATH: &str = "/services/data/v60.0/composite/sobjects/Lead/Leadzone_Id__c";
const BAD_INSTANCE: &str = "the instance URL must be the org's https address, such as \
    https://acme.my.salesforce.com, without a path, query or credentials";

/// The Salesforce adapter: one guarded client for every tenant's instance.
#[derive(Debug, Clone)]
pub struct Salesforce {
    outbound: Outbound,
    policy: FetchPolicy,
}

impl Salesforce {
    /// An adapter whose calls go through the SSRF guard under `policy` (`FetchPolicy::strict()`
    /// in production; private addresses and plain http only for local fakes).
    ///
    /// # Errors
    /// When the client cannot be built.
    pub fn new(config: OutboundConfig, policy: FetchPolicy) -> Result<Self, OutboundSetupError> {
        // Retries are the SYNC job's (it knows the org's daily allowance).
        let config = OutboundConfig { retry: RetryPolicy::none(), ..config };
        Ok(Self { outbound: Outbound::guarded(PROVIDER, config, policy)?, policy })
    }

    /// `{instance}{path}`, the instance checked to be a bare https origin (http only when private
    /// fetches are allowed) and the result passed through the SSRF guard.
    fn url(&self, instance_url: &str, path: &str) -> Result<url::Url, CrmError> {
        let bad = || CrmError::Rejected(BAD_INSTANCE.to_owned());
        let instance = url::Url::parse(instance_url.trim()).map_err(|_| bad())?;
        let scheme_ok = instance.scheme() == "https" || (self.policy.allow_private && instance.scheme() == "http");
        if !scheme_ok
            || instance.host().is_none()
            || !instance.username().is_empty()
            || instance.password().is_some()
            || instance.query().is_some()
            || instance.fragment().is_some()
            || instance.path() != "/"
        {
            return Err(bad());
        }
        ssrf::check_url(&instance, &self.policy).map_err(|refusal| CrmError::Rejected(refusal.to_string()))?;
        let url = endpoint(instance.as_str(), path).map_err(|_| bad())?;
        ssrf::check_url(&url, &self.policy).map_err(|refusal| CrmError::Rejected(refusal.to_string()))?;
        Ok(url)
    }

    async fn call(
        &self,
        log_path: &str,
        token: &ApiKey,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, CrmError> {
        crm::call(&self.outbound, log_path, token, make, |e| match e {
            // The guard's refusal, or an answer over the byte cap: the same call cannot succeed.
            ProviderError::Rejected(message) => CrmError::Rejected(provider_message(&message, token)),
            other => CrmError::Unavailable(provider_message(&other.to_string(), token)),
        })
        .await
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpsertBody<'a> {
    all_or_none: bool,
    records: Vec<LeadRow<'a>>,
}

/// One Lead: `attributes` first, then the external id, then the caller's fields in name order.
#[derive(Serialize)]
struct LeadRow<'a> {
    attributes: Attributes,
    #[serde(rename = "Leadzone_Id__c")]
    leadzone_id: String,
    #[serde(flatten)]
    fields: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct Attributes {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Deserialize)]
struct SaveResult {
    id: Option<String>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    errors: Vec<SalesforceError>,
}

/// An error as Salesforce writes it: `errorCode` in error answers, `statusCode` in save results.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SalesforceError {
    #[serde(default)]
    message: String,
    #[serde(default, alias = "errorCode")]
    status_code: String,
}

impl SalesforceError {
    fn words(&self) -> String {
        match (self.message.trim(), self.status_code.trim()) {
            ("", "") => "an unexplained error".to_owned(),
            (message, "") => message.to_owned(),
            ("", code) => code.to_owned(),
            (message, code) => format!("{message} ({code})"),
        }
    }
}

#[derive(Deserialize)]
struct Describe {
    #[serde(default)]
    fields: Vec<DescribedField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribedField {
    #[serde(default)]
    name: String,
    #[serde(default)]
    external_id: bool,
}

/// The body of a Lead upsert, as Salesforce documents it. A property named like the external-id
/// field or `attributes` is left out: the adapter writes those.
pub fn upsert_payload(records: &[CrmRecord]) -> Vec<u8> {
    let body = UpsertBody {
        all_or_none: false,
        records: records
            .iter()
            .map(|r| LeadRow {
                attributes: Attributes { kind: "Lead" },
                leadzone_id: r.lead_id.to_string(),
                fields: r
                    .properties
                    .iter()
                    .filter(|(name, _)| {
                        !name.eq_ignore_ascii_case(EXTERNAL_ID_FIELD) && !name.eq_ignore_ascii_case("attributes")
                    })
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The errors of an error answer: an array of `{message, errorCode}` (a lone object accepted).
fn parse_errors(body: &[u8]) -> Vec<SalesforceError> {
    serde_json::from_slice::<Vec<SalesforceError>>(body)
        .or_else(|_| serde_json::from_slice::<SalesforceError>(body).map(|e| vec![e]))
        .unwrap_or_default()
}

fn salesforce_error(answer: &Answer, token: &ApiKey) -> CrmError {
    let errors = parse_errors(&answer.body);
    let said = provider_message(
        &if errors.is_empty() {
            format!("Salesforce answered HTTP {}", answer.status)
        } else {
            format!("Salesforce: {}", errors.iter().map(SalesforceError::words).collect::<Vec<_>>().join("; "))
        },
        token,
    );
    let limit = errors.iter().find(|e| e.status_code == "REQUEST_LIMIT_EXCEEDED");
    // `TotalRequests Limit exceeded` is the org's 24-hour allowance; `ConcurrentRequests …
    // Limit exceeded` (too many long-running calls at once) passes in seconds.
    let daily = limit.is_some_and(|e| !e.message.to_ascii_lowercase().contains("concurrent"));
    match answer.status {
        403 | 429 if limit.is_some() => CrmError::RateLimited { daily, retry_after: answer.retry_after, message: said },
        429 => CrmError::RateLimited { daily: false, retry_after: answer.retry_after, message: said },
        401 | 403 => CrmError::Unauthorized(said),
        500..=599 => CrmError::Unavailable(said),
        _ => CrmError::Rejected(said),
    }
}

#[async_trait::async_trait]
impl SalesforceApi for Salesforce {
    async fn prepare(&self, instance_url: &str, token: &ApiKey) -> Result<(), CrmError> {
        let url = self.url(instance_url, DESCRIBE_PATH)?;
        let answer = self.call(DESCRIBE_PATH, token, |c| c.get(url.clone())).await?;
        if answer.status != 200 {
            return Err(salesforce_error(&answer, token));
        }
        let describe: Describe = serde_json::from_slice(&answer.body)
            .map_err(|e| CrmError::Unavailable(format!("Salesforce described Lead in a shape not understood: {e}")))?;
        if describe.fields.iter().any(|f| f.name.eq_ignore_ascii_case(EXTERNAL_ID_FIELD) && f.external_id) {
            Ok(())
        } else {
            Err(CrmError::Rejected(format!(
                "Salesforce: the Lead object has no external ID field {EXTERNAL_ID_FIELD} — create a Text(36) \
                 field named Leadzone_Id on Lead, marked Unique and External ID, and connect again"
            )))
        }
    }

    async fn upsert_leads(
        &self,
        instance_url: &str,
        token: &ApiKey,
        records: Vec<CrmRecord>,
    ) -> Result<CrmBatch, CrmError> {
        if records.len() > MAX_BATCH {
            return Err(CrmError::Rejected(format!("at most {MAX_BATCH} Salesforce leads per batch")));
        }
        if records.is_empty() {
            return Ok(CrmBatch::default());
        }
        let url = self.url(instance_url, UPSERT_PATH)?;
        let payload = upsert_payload(&records);
        let answer = self
            .call(UPSERT_PATH, token, |c| {
                c.patch(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(payload.clone())
            })
            .await?;
        if answer.status != 200 {
            return Err(salesforce_error(&answer, token));
        }
        let results: Vec<SaveResult> = serde_json::from_slice(&answer.body)
            .map_err(|e| CrmError::Unavailable(format!("Salesforce answered in a shape not understood: {e}")))?;
        // One result per record, in the records' order: a different count cannot be matched up.
        if results.len() != records.len() {
            return Err(CrmError::Unavailable(format!(
                "Salesforce answered {} results for {} leads",
                results.len(),
                records.len()
            )));
        }
        let mut batch = CrmBatch::default();
        for (record, result) in records.iter().zip(results) {
            match result.id.filter(|id| result.success && !id.is_empty()) {
                Some(id) => {
                    batch.results.push(CrmResult { lead_id: record.lead_id, external_id: id, created: result.created });
                }
                None => {
                    let words = if result.errors.is_empty() {
                        "the lead was not saved".to_owned()
                    } else {
                        result.errors.iter().map(SalesforceError::words).collect::<Vec<_>>().join("; ")
                    };
                    batch.failures.push(CrmFailure {
                        lead_id: Some(record.lead_id),
                        message: provider_message(&format!("Salesforce: {words}"), token),
                    });
                }
            }
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn adapter(allow_private: bool) -> Salesforce {
        Salesforce::new(OutboundConfig::default(), FetchPolicy::new(allow_private)).unwrap()
    }

    #[test]
    fn only_a_bare_https_origin_is_an_instance_url() {
        let strict = adapter(false);
        assert_eq!(
            strict.url("https://acme.my.salesforce.com/", DESCRIBE_PATH).map(|u| u.to_string()),
            Ok(format!("https://acme.my.salesforce.com{DESCRIBE_PATH}"))
        );
        for bad in [
            "acme.my.salesforce.com",
            "http://acme.my.salesforce.com",
            "https://acme.my.salesforce.com/x",
            "https://acme.my.salesforce.com/?a=1",
            "https://u:p@acme.my.salesforce.com",
            "https://acme.my.salesforce.com#f",
            "ftp://acme.my.salesforce.com",
        ] {
            assert!(matches!(strict.url(bad, DESCRIBE_PATH), Err(CrmError::Rejected(m)) if m.contains("instance URL")));
        }
        assert!(
            matches!(strict.url("https://10.0.0.1", DESCRIBE_PATH), Err(CrmError::Rejected(m)) if m.contains("private"))
        );
        assert!(adapter(true).url("http://127.0.0.1:8080", DESCRIBE_PATH).is_ok());
    }
}
