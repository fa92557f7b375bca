//! Notion (API version 2025-09-03): one page per lead in the tenant's data source. Connecting
//! reads the data source's properties; a sync writes only the properties the data source has,
//! each in its own type. Errors keep Notion's words (never the token); nothing is retried here —
//! the SYNC job paces at the connection's three requests a second and retries.

use crate::crm;
use crate::outbound::{Answer, OutboundConfig, OutboundSetupError, provider_message};
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmError, CrmRecord, NotionApi, NotionKind, NotionSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Notion's endpoint.
pub const NOTION_BASE_URL: &str = "https://api.notion.com";
/// The `Notion-Version` every request names (data sources, not databases, hold pages).
pub const NOTION_VERSION: &str = "2025-09-03";
/// The longest text content Notion accepts in one rich-text object (UTF-16 code units).
pub const MAX_TEXT: usize = 2000;

const PROVIDER: &str = "Notion";
const PAGES_PATH: &str = "/v1/pages";

/// The Notion adapter.
#[derive(Debug, Clone)]
pub struct Notion {
    endpoint: crm::Endpoint,
}

/// What a call is doing: a 404 or an archived page means something different for each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Call {
    DataSource,
    Create,
    Update,
}

impl Notion {
    /// An adapter talking to `base_url` ([`NOTION_BASE_URL`], or a local fake in tests).
    ///
    /// # Errors
    /// When the base URL is not usable or the client cannot be built.
    pub fn new(base_url: &str, config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        let endpoint = crm::Endpoint::new(
            PROVIDER,
            base_url,
            config,
            &[("Notion-Version", NOTION_VERSION), ("Accept", "application/json")],
            |e, token| CrmError::Unavailable(provider_message(&e.to_string(), token)),
        )?;
        Ok(Self { endpoint })
    }

    /// Sends a JSON `body` and returns the answer when it is a success.
    async fn write(
        &self,
        call: Call,
        log_path: &str,
        token: &ApiKey,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        body: &[u8],
    ) -> Result<Answer, CrmError> {
        let answer = self
            .endpoint
            .call(log_path, token, |c| {
                make(c).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_vec())
            })
            .await?;
        if answer.is_success() { Ok(answer) } else { Err(notion_error(&answer, token, call)) }
    }
}

/// A Notion id (a page's, a data source's): a UUID with or without its dashes, written back in
/// the dashed form. Anything else never reaches a URL.
fn notion_id(id: &str, what: &str) -> Result<String, CrmError> {
    let id = id.trim();
    let parsed = if matches!(id.len(), 32 | 36) { uuid::Uuid::try_parse(id).ok() } else { None };
    parsed
        .map(|u| u.hyphenated().to_string())
        .ok_or_else(|| CrmError::Rejected(format!("{id:?} is not a Notion {what} id")))
}

#[derive(Deserialize)]
struct DataSource {
    #[serde(default)]
    properties: BTreeMap<String, PropertyDefinition>,
}

#[derive(Deserialize)]
struct PropertyDefinition {
    #[serde(rename = "type", default)]
    kind: String,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize, Default)]
struct NotionError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Serialize)]
struct CreateBody<'a> {
    parent: Parent<'a>,
    properties: BTreeMap<&'a str, PropertyValue>,
}

#[derive(Serialize)]
struct Parent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    data_source_id: &'a str,
}

#[derive(Serialize)]
struct UpdateBody<'a> {
    properties: BTreeMap<&'a str, PropertyValue>,
}

/// A property value in its type's shape: `{"title": [...]}`, `{"email": "…"}`, …; an empty value
/// clears the property (an empty text, or `null`).
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum PropertyValue {
    Title(Vec<RichText>),
    RichText(Vec<RichText>),
    PhoneNumber(Option<String>),
    Email(Option<String>),
    Url(Option<String>),
    Select(Option<Named>),
    Status(Option<Named>),
}

#[derive(Serialize)]
struct RichText {
    #[serde(rename = "type")]
    kind: &'static str,
    text: TextContent,
}

#[derive(Serialize)]
struct TextContent {
    content: String,
}

#[derive(Serialize)]
struct Named {
    name: String,
}

/// `text` cut to Notion's [`MAX_TEXT`] UTF-16 code units, never inside a character.
fn within_limit(text: &str) -> String {
    let mut units = 0;
    text.chars()
        .take_while(|c| {
            units += c.len_utf16();
            units <= MAX_TEXT
        })
        .collect()
}

fn value(kind: NotionKind, text: &str) -> PropertyValue {
    let text = text.trim();
    let rich = || {
        if text.is_empty() {
            Vec::new()
        } else {
            vec![RichText { kind: "text", text: TextContent { content: within_limit(text) } }]
        }
    };
    let plain = || (!text.is_empty()).then(|| text.to_owned());
    // A select option's name may not hold a comma (Notion's multi-value separator).
    let named = || {
        let name = within_limit(&text.replace(',', " ").split_whitespace().collect::<Vec<_>>().join(" "));
        (!name.is_empty()).then_some(Named { name })
    };
    match kind {
        NotionKind::Title => PropertyValue::Title(rich()),
        NotionKind::RichText => PropertyValue::RichText(rich()),
        NotionKind::PhoneNumber => PropertyValue::PhoneNumber(plain()),
        NotionKind::Email => PropertyValue::Email(plain()),
        NotionKind::Url => PropertyValue::Url(plain()),
        NotionKind::Select => PropertyValue::Select(named()),
        NotionKind::Status => PropertyValue::Status(named()),
    }
}

/// The record's properties the schema has, each in the schema's type.
fn properties<'a>(schema: &NotionSchema, record: &'a CrmRecord) -> BTreeMap<&'a str, PropertyValue> {
    record
        .properties
        .iter()
        .filter_map(|(name, text)| schema.get(name).map(|kind| (name.as_str(), value(*kind, text))))
        .collect()
}

/// The body of a page creation in data source `data_source_id` (a dashed UUID).
pub fn create_payload(data_source_id: &str, schema: &NotionSchema, record: &CrmRecord) -> Vec<u8> {
    let body = CreateBody {
        parent: Parent { kind: "data_source_id", data_source_id },
        properties: properties(schema, record),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The body of a page update.
pub fn update_payload(schema: &NotionSchema, record: &CrmRecord) -> Vec<u8> {
    serde_json::to_vec(&UpdateBody { properties: properties(schema, record) }).unwrap_or_default()
}

fn notion_error(answer: &Answer, token: &ApiKey, call: Call) -> CrmError {
    let e: NotionError = serde_json::from_slice(&answer.body).unwrap_or_default();
    let said = provider_message(
        &match (e.message.trim(), e.code.trim()) {
            ("", "") => format!("Notion answered HTTP {}", answer.status),
            (message, "") => format!("Notion: {message}"),
            ("", code) => format!("Notion: {code}"),
            (message, code) => format!("Notion: {message} ({code})"),
        },
        token,
    );
    // The page addressed is gone: deleted (404), or archived or in the trash, which Notion
    // answers with a validation error naming it.
    let lowered = e.message.to_ascii_lowercase();
    let archived = answer.status == 400 && (lowered.contains("archived") || lowered.contains("trash"));
    if call == Call::Update && (answer.status == 404 || archived) {
        return CrmError::NotFound(said);
    }
    match answer.status {
        // 403 `restricted_resource`: the integration lost its access.
        401 | 403 => CrmError::Unauthorized(said),
        404 => CrmError::Rejected(format!("{said} — share the data source with the Leadzone integration in Notion")),
        429 => CrmError::RateLimited { daily: false, retry_after: answer.retry_after, message: said },
        409 => CrmError::Locked(said),
        500..=599 => CrmError::Unavailable(said),
        _ => CrmError::Rejected(said),
    }
}

#[async_trait::async_trait]
impl NotionApi for Notion {
    async fn data_source(&self, token: &ApiKey, data_source_id: &str) -> Result<NotionSchema, CrmError> {
        let id = notion_id(data_source_id, "data source")?;
        let url = self.endpoint.url(&format!("/v1/data_sources/{id}"))?;
        let answer = self.endpoint.call("/v1/data_sources/{id}", token, |c| c.get(url.clone())).await?;
        if !answer.is_success() {
            return Err(notion_error(&answer, token, Call::DataSource));
        }
        let source: DataSource = serde_json::from_slice(&answer.body).map_err(|e| {
            CrmError::Unavailable(format!("Notion described the data source in a shape not understood: {e}"))
        })?;
        Ok(source
            .properties
            .into_iter()
            .filter_map(|(name, definition)| NotionKind::from_type(&definition.kind).map(|kind| (name, kind)))
            .collect())
    }

    async fn create_page(
        &self,
        token: &ApiKey,
        data_source_id: &str,
        schema: &NotionSchema,
        record: &CrmRecord,
    ) -> Result<String, CrmError> {
        let id = notion_id(data_source_id, "data source")?;
        let url = self.endpoint.url(PAGES_PATH)?;
        let body = create_payload(&id, schema, record);
        let answer = self.write(Call::Create, PAGES_PATH, token, |c| c.post(url.clone()), &body).await?;
        let page: Page = serde_json::from_slice(&answer.body)
            .map_err(|e| CrmError::Unavailable(format!("Notion answered in a shape not understood: {e}")))?;
        if page.id.is_empty() {
            return Err(CrmError::Unavailable("Notion created a page without telling its id".into()));
        }
        Ok(page.id)
    }

    async fn update_page(
        &self,
        token: &ApiKey,
        page_id: &str,
        schema: &NotionSchema,
        record: &CrmRecord,
    ) -> Result<(), CrmError> {
        let id = notion_id(page_id, "page")?;
        let url = self.endpoint.url(&format!("{PAGES_PATH}/{id}"))?;
        let body = update_payload(schema, record);
        self.write(Call::Update, "/v1/pages/{id}", token, |c| c.patch(url.clone()), &body).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ids_are_uuids_with_or_without_dashes() {
        let dashed = "1a2b3c4d-0000-4000-8000-00000000abcd";
        assert_eq!(notion_id(dashed, "page"), Ok(dashed.to_owned()));
        assert_eq!(notion_id("1A2B3C4D00004000800000000000ABCD", "page"), Ok(dashed.to_owned()));
        for bad in
            ["", "../v1/users", "1a2b3c4d-0000-4000-8000-00000000abcd/x", "{1a2b3c4d-0000-4000-8000-00000000abcd}"]
        {
            assert!(matches!(notion_id(bad, "page"), Err(CrmError::Rejected(_))), "{bad}");
        }
    }

    #[test]
    fn text_is_cut_at_notions_limit_without_splitting_a_character() {
        assert_eq!(within_limit(&"ن".repeat(2500)).chars().count(), MAX_TEXT);
        let emoji = within_limit(&"😀".repeat(1500));
        assert_eq!(emoji.encode_utf16().count(), MAX_TEXT);
        assert_eq!(within_limit("short"), "short");
    }

    #[test]
    fn empty_values_clear_and_select_names_lose_their_commas() {
        let v = |kind, text| serde_json::to_string(&value(kind, text)).unwrap();
        assert_eq!(v(NotionKind::Email, " "), r#"{"email":null}"#);
        assert_eq!(v(NotionKind::Title, ""), r#"{"title":[]}"#);
        assert_eq!(v(NotionKind::Select, "Riyadh, KSA"), r#"{"select":{"name":"Riyadh KSA"}}"#);
        assert_eq!(v(NotionKind::Status, ","), r#"{"status":null}"#);
    }
}
