//! HubSpot CRM v3: companies upserted in batches of 100 by a unique `leadzone_id` property, which
//! connecting creates when it is missing. Errors keep HubSpot's words (never the token); a 429
//! says whether the ten-second window (wait and retry) or the day's allowance (stop) is spent.

use crate::crm;
use crate::outbound::{Answer, OutboundConfig, OutboundSetupError, provider_message};
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmBatch, CrmError, CrmFailure, CrmRecord, CrmResult, HubSpotApi};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// HubSpot's endpoint.
pub const HUBSPOT_BASE_URL: &str = "https://api.hubapi.com";
/// The company property Leadzone keys its upserts by.
pub const ID_PROPERTY: &str = "leadzone_id";
/// HubSpot's largest batch.
pub const MAX_BATCH: usize = 100;

const PROVIDER: &str = "HubSpot";
const UPSERT_PATH: &str = "/crm/v3/objects/companies/batch/upsert";
const PROPERTIES_PATH: &str = "/crm/v3/properties/companies";

#[derive(Debug, Clone)]
pub struct HubSpot {
    endpoint: crm::Endpoint,
}

impl HubSpot {
    /// # Errors
    /// When the base URL is not usable or the client cannot be built.
    pub fn new(base_url: &str, config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        // Retries are the SYNC job's (it knows the ten-second window and the daily limit).
        let endpoint = crm::Endpoint::new(PROVIDER, base_url, config, &[], |e, token| {
            CrmError::Unavailable(provider_message(&e.to_string(), token))
        })?;
        Ok(Self { endpoint })
    }
}

#[derive(Serialize)]
struct UpsertBody<'a> {
    inputs: Vec<UpsertInput<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpsertInput<'a> {
    id_property: &'static str,
    id: String,
    properties: &'a BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct UpsertAnswer {
    #[serde(default)]
    results: Vec<UpsertResult>,
    #[serde(default)]
    errors: Vec<HubSpotError>,
}

#[derive(Deserialize)]
struct UpsertResult {
    id: String,
    #[serde(default)]
    new: bool,
    #[serde(default)]
    properties: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct HubSpotError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    category: String,
    policy_name: Option<String>,
    #[serde(default)]
    context: BTreeMap<String, Vec<String>>,
}

/// The body of a batch upsert, as HubSpot documents it.
pub fn upsert_payload(records: &[CrmRecord]) -> Vec<u8> {
    let body = UpsertBody {
        inputs: records
            .iter()
            .map(|r| UpsertInput { id_property: ID_PROPERTY, id: r.lead_id.to_string(), properties: &r.properties })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

fn hubspot_error(answer: &Answer, token: &ApiKey) -> CrmError {
    let e: HubSpotError = serde_json::from_slice(&answer.body).unwrap_or_default();
    let said = provider_message(
        &if e.message.is_empty() {
            format!("HubSpot answered HTTP {}", answer.status)
        } else {
            format!("HubSpot: {}", e.message)
        },
        token,
    );
    match answer.status {
        401 | 403 => CrmError::Unauthorized(said),
        429 => CrmError::RateLimited {
            daily: e.policy_name.as_deref() == Some("DAILY"),
            retry_after: answer.retry_after,
            message: said,
        },
        423 => CrmError::Locked(said),
        500..=599 => CrmError::Unavailable(said),
        _ => CrmError::Rejected(if e.category.is_empty() { said } else { format!("{said} ({})", e.category) }),
    }
}

#[async_trait::async_trait]
impl HubSpotApi for HubSpot {
    async fn prepare(&self, token: &ApiKey) -> Result<(), CrmError> {
        let url = self.endpoint.url(&format!("{PROPERTIES_PATH}/{ID_PROPERTY}"))?;
        let answer = self.endpoint.call("/crm/v3/properties/companies/{name}", token, |c| c.get(url.clone())).await?;
        match answer.status {
            200 => Ok(()),
            404 => {
                let url = self.endpoint.url(PROPERTIES_PATH)?;
                let body = serde_json::json!({
                    "name": ID_PROPERTY, "label": "Leadzone ID", "type": "string", "fieldType": "text",
                    "groupName": "companyinformation", "hasUniqueValue": true,
                    "description": "The lead's id in Leadzone (set by its CRM sync)"
                });
                let created = self.endpoint.call(PROPERTIES_PATH, token, |c| c.post(url.clone()).json(&body)).await?;
                if created.is_success() || created.status == 409 { Ok(()) } else { Err(hubspot_error(&created, token)) }
            }
            _ => Err(hubspot_error(&answer, token)),
        }
    }

    async fn upsert_companies(&self, token: &ApiKey, records: Vec<CrmRecord>) -> Result<CrmBatch, CrmError> {
        if records.len() > MAX_BATCH {
            return Err(CrmError::Rejected(format!("at most {MAX_BATCH} companies per batch")));
        }
        let url = self.endpoint.url(UPSERT_PATH)?;
        let payload = upsert_payload(&records);
        let answer = self
            .endpoint
            .call(UPSERT_PATH, token, |c| {
                c.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(payload.clone())
            })
            .await?;
        if !matches!(answer.status, 200 | 201 | 207) {
            return Err(hubspot_error(&answer, token));
        }
        let parsed: UpsertAnswer = serde_json::from_slice(&answer.body)
            .map_err(|e| CrmError::Unavailable(format!("HubSpot answered in a shape not understood: {e}")))?;
        let lead_of =
            |leadzone_id: &str| records.iter().find(|r| r.lead_id.to_string() == leadzone_id).map(|r| r.lead_id);
        let results = parsed
            .results
            .into_iter()
            .filter_map(|r| {
                let key = r.properties.get(ID_PROPERTY).and_then(Value::as_str).map(str::to_owned)?;
                Some(CrmResult { lead_id: lead_of(&key)?, external_id: r.id, created: r.new })
            })
            .collect();
        let failures = parsed
            .errors
            .into_iter()
            .flat_map(|e| {
                let message = provider_message(&format!("HubSpot: {} ({})", e.message, e.category), token);
                let ids: Vec<String> = e.context.get("ids").cloned().unwrap_or_default();
                if ids.is_empty() {
                    vec![CrmFailure { lead_id: None, message }]
                } else {
                    ids.iter().map(|id| CrmFailure { lead_id: lead_of(id), message: message.clone() }).collect()
                }
            })
            .collect();
        Ok(CrmBatch { results, failures })
    }
}
