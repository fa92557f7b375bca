//! The WhatsApp Business Cloud API (Graph) adapter, and its development double.
//!
//! Sends are never retried here: a send that timed out may have gone, and the caller (which
//! recorded the attempt first) decides. Reads (the number, the templates) are retried on 429/5xx
//! like every provider call. The token travels in `Authorization: Bearer`, marked sensitive, and
//! is scrubbed from anything Meta echoes back.

use crate::outbound::{Answer, Outbound, OutboundConfig, OutboundSetupError, endpoint, provider_message};
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::whatsapp::{
    NumberInfo, Outgoing, OutgoingMessage, RemoteTemplate, SubmittedTemplate, TemplateSubmission, WhatsAppApi,
    WhatsAppError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};

/// Meta's endpoint, with the Graph version the adapter speaks.
pub const WHATSAPP_BASE_URL: &str = "https://graph.facebook.com/v21.0";

const PROVIDER: &str = "WhatsApp";
/// The fields of a number Leadzone reads.
const NUMBER_FIELDS: &str = "display_phone_number,verified_name,quality_rating,messaging_limit_tier";
/// Templates per page when listing (Meta's maximum is higher; this keeps answers small).
const TEMPLATE_PAGE: u32 = 100;
/// Pages of templates read at most (10,000 templates: far above Meta's per-WABA limit).
const MAX_TEMPLATE_PAGES: usize = 100;

/// The Graph API adapter.
#[derive(Debug, Clone)]
pub struct GraphWhatsApp {
    base: String,
    reads: Outbound,
    sends: Outbound,
}

impl GraphWhatsApp {
    /// An adapter talking to `base_url` ([`WHATSAPP_BASE_URL`], or a local fake in tests).
    ///
    /// # Errors
    /// When the base URL is not usable or the client cannot be built.
    pub fn new(base_url: &str, config: OutboundConfig) -> Result<Self, OutboundSetupError> {
        endpoint(base_url, "/")?;
        let sends = OutboundConfig { retry: crate::outbound::RetryPolicy::none(), ..config.clone() };
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            reads: Outbound::new(PROVIDER, config)?,
            sends: Outbound::new(PROVIDER, sends)?,
        })
    }

    /// `{base}/{id}/{rest}` with `id` checked to be a Graph id (digits): a tenant's config never
    /// steers a request elsewhere.
    fn url(&self, id: &str, rest: &str) -> Result<url::Url, WhatsAppError> {
        if id.is_empty() || id.len() > 40 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WhatsAppError::Rejected { code: None, message: format!("{id:?} is not a WhatsApp id") });
        }
        let path = if rest.is_empty() { format!("/{id}") } else { format!("/{id}/{rest}") };
        endpoint(&self.base, &path).map_err(|e| WhatsAppError::Rejected { code: None, message: e.to_string() })
    }

    async fn call(
        &self,
        outbound: &Outbound,
        log_path: &str,
        token: &ApiKey,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Value, WhatsAppError> {
        let auth = crate::outbound::bearer(token, PROVIDER)
            .map_err(|message| WhatsAppError::Unauthorized { code: None, message })?;
        let answer = outbound
            .send(log_path, crate::outbound::is_throttled_or_failing, |client| {
                make(client).header(reqwest::header::AUTHORIZATION, auth.clone())
            })
            .await
            .map_err(|e| WhatsAppError::Unavailable(e.to_string()))?;
        if answer.is_success() {
            serde_json::from_slice(&answer.body).map_err(|_| {
                WhatsAppError::Unavailable(format!(
                    "WhatsApp answered HTTP {} with a body that is not JSON",
                    answer.status
                ))
            })
        } else {
            Err(graph_error(&answer, token))
        }
    }
}

#[async_trait::async_trait]
impl WhatsAppApi for GraphWhatsApp {
    async fn check_number(&self, token: &ApiKey, phone_number_id: &str) -> Result<NumberInfo, WhatsAppError> {
        let mut url = self.url(phone_number_id, "")?;
        url.query_pairs_mut().append_pair("fields", NUMBER_FIELDS);
        let body = self.call(&self.reads, "/{phone-number-id}", token, |c| c.get(url.clone())).await?;
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        Ok(NumberInfo {
            display_phone_number: text("display_phone_number").unwrap_or_default(),
            verified_name: text("verified_name"),
            quality_rating: text("quality_rating"),
            messaging_limit_tier: text("messaging_limit_tier"),
        })
    }

    async fn submit_template(
        &self,
        token: &ApiKey,
        waba_id: &str,
        template: &TemplateSubmission,
    ) -> Result<SubmittedTemplate, WhatsAppError> {
        let url = self.url(waba_id, "message_templates")?;
        let payload = template_payload(template);
        let body = self
            .call(&self.sends, "/{waba-id}/message_templates", token, |c| {
                c.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(payload.clone())
            })
            .await?;
        let id = body
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| WhatsAppError::Unavailable("WhatsApp accepted the template but gave no id".into()))?;
        Ok(SubmittedTemplate {
            id: id.to_owned(),
            status: body.get("status").and_then(Value::as_str).map(str::to_owned),
        })
    }

    async fn templates(&self, token: &ApiKey, waba_id: &str) -> Result<Vec<RemoteTemplate>, WhatsAppError> {
        let base = self.url(waba_id, "message_templates")?;
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_TEMPLATE_PAGES {
            let mut url = base.clone();
            url.query_pairs_mut()
                .append_pair("fields", "id,name,language,status,rejected_reason")
                .append_pair("limit", &TEMPLATE_PAGE.to_string());
            if let Some(a) = &after {
                url.query_pairs_mut().append_pair("after", a);
            }
            let page: TemplatePage = serde_json::from_value(
                self.call(&self.reads, "/{waba-id}/message_templates", token, |c| c.get(url.clone())).await?,
            )
            .map_err(|e| {
                WhatsAppError::Unavailable(format!("WhatsApp listed templates in a shape not understood: {e}"))
            })?;
            out.extend(page.data.into_iter().map(|t| RemoteTemplate {
                id: t.id,
                name: t.name,
                language: t.language,
                status: t.status,
                rejected_reason: t.rejected_reason.filter(|r| !r.is_empty() && r != "NONE"),
            }));
            // Meta gives `paging.next` only when there is a next page.
            match page.paging.and_then(|p| p.next.and(p.cursors).and_then(|c| c.after)) {
                Some(next) if !next.is_empty() => after = Some(next),
                _ => return Ok(out),
            }
        }
        Ok(out)
    }

    async fn send(
        &self,
        token: &ApiKey,
        phone_number_id: &str,
        message: &OutgoingMessage,
    ) -> Result<String, WhatsAppError> {
        let url = self.url(phone_number_id, "messages")?;
        let payload = message_payload(message);
        let body = self
            .call(&self.sends, "/{phone-number-id}/messages", token, |c| {
                c.post(url.clone()).header(reqwest::header::CONTENT_TYPE, "application/json").body(payload.clone())
            })
            .await?;
        body.pointer("/messages/0/id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| WhatsAppError::Unavailable("WhatsApp accepted the message but gave no message id".into()))
    }
}

#[derive(Deserialize)]
struct TemplatePage {
    #[serde(default)]
    data: Vec<TemplateItem>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct TemplateItem {
    id: String,
    name: String,
    #[serde(default)]
    language: String,
    #[serde(default)]
    status: String,
    rejected_reason: Option<String>,
}

#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

// The request bodies as structs, fields in the order Meta's reference shows them, so the bytes
// on the wire are the documented ones (a `json!` map would sort the keys).

#[derive(Serialize)]
struct TemplateCreate<'a> {
    name: &'a str,
    language: &'a str,
    category: &'a str,
    parameter_format: &'static str,
    components: [BodyComponent<'a>; 1],
}

#[derive(Serialize)]
struct BodyComponent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    example: Option<NamedExamples<'a>>,
}

#[derive(Serialize)]
struct NamedExamples<'a> {
    body_text_named_params: Vec<NamedExample<'a>>,
}

#[derive(Serialize)]
struct NamedExample<'a> {
    param_name: &'a str,
    example: &'a str,
}

/// The body of `POST /{waba-id}/message_templates` for a template with named parameters.
pub fn template_payload(t: &TemplateSubmission) -> Vec<u8> {
    let example = (!t.examples.is_empty()).then(|| NamedExamples {
        body_text_named_params: t
            .examples
            .iter()
            .map(|(name, example)| NamedExample { param_name: name, example })
            .collect(),
    });
    let body = TemplateCreate {
        name: &t.name,
        language: &t.language,
        category: &t.category,
        parameter_format: "NAMED",
        components: [BodyComponent { kind: "BODY", text: &t.body, example }],
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Serialize)]
struct MessagePayload<'a> {
    messaging_product: &'static str,
    recipient_type: &'static str,
    to: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<TemplateRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextBody<'a>>,
    biz_opaque_callback_data: &'a str,
}

#[derive(Serialize)]
struct TemplateRef<'a> {
    name: &'a str,
    language: LanguageCode<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<ParameterComponent<'a>>,
}

#[derive(Serialize)]
struct LanguageCode<'a> {
    code: &'a str,
}

#[derive(Serialize)]
struct ParameterComponent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    parameters: Vec<TextParameter<'a>>,
}

#[derive(Serialize)]
struct TextParameter<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    parameter_name: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct TextBody<'a> {
    preview_url: bool,
    body: &'a str,
}

/// The body of `POST /{phone-number-id}/messages`, as Meta documents it.
pub fn message_payload(m: &OutgoingMessage) -> Vec<u8> {
    let (kind, template, text) = match &m.content {
        Outgoing::Template { name, language, parameters } => {
            let components = if parameters.is_empty() {
                Vec::new()
            } else {
                vec![ParameterComponent {
                    kind: "body",
                    parameters: parameters
                        .iter()
                        .map(|(name, text)| TextParameter { kind: "text", parameter_name: name, text })
                        .collect(),
                }]
            };
            ("template", Some(TemplateRef { name, language: LanguageCode { code: language }, components }), None)
        }
        Outgoing::Text { body } => ("text", None, Some(TextBody { preview_url: false, body })),
    };
    serde_json::to_vec(&MessagePayload {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to: &m.to,
        kind,
        template,
        text,
        biz_opaque_callback_data: &m.callback_data,
    })
    .unwrap_or_default()
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    error: Option<GraphError>,
}

#[derive(Deserialize, Default)]
struct GraphError {
    #[serde(default)]
    message: String,
    code: Option<i64>,
    error_data: Option<Value>,
}

/// Meta's error answer as the kind of action it calls for.
fn graph_error(answer: &Answer, token: &ApiKey) -> WhatsAppError {
    let error = serde_json::from_slice::<GraphErrorBody>(&answer.body).ok().and_then(|b| b.error).unwrap_or_default();
    let details = error.error_data.as_ref().and_then(|d| d.get("details")).and_then(Value::as_str).unwrap_or_default();
    let said = match (error.message.trim(), details.trim()) {
        ("", "") => format!("HTTP {}", answer.status),
        (m, "") => m.to_owned(),
        ("", d) => d.to_owned(),
        (m, d) => format!("{m}: {d}"),
    };
    let code = error.code;
    let message = provider_message(
        &format!("WhatsApp: {said}{}", code.map(|c| format!(" (code {c})")).unwrap_or_default()),
        token,
    );
    match (answer.status, code) {
        (_, Some(130_429 | 131_048 | 131_056 | 80_007 | 4 | 80_004)) | (429, _) => {
            WhatsAppError::Throttled { code, message, retry_after: answer.retry_after }
        }
        (_, Some(131_050)) => WhatsAppError::OptedOut { code: 131_050, message },
        (_, Some(c @ (132_001 | 132_015 | 132_016))) => WhatsAppError::TemplateUnavailable { code: c, message },
        (
            _,
            Some(
                131_026 | 131_047 | 131_049 | 131_051 | 131_052 | 131_053 | 132_000 | 132_005 | 132_007 | 132_012
                | 131_008 | 131_009 | 100,
            ),
        ) => WhatsAppError::Undeliverable { code, message },
        (401, _) | (_, Some(190 | 10 | 200..=299)) => WhatsAppError::Unauthorized { code, message },
        (403, _) => WhatsAppError::Unauthorized { code, message },
        (500..=599, _) | (_, Some(1 | 2 | 131_000 | 131_016)) => WhatsAppError::Unavailable(message),
        _ => WhatsAppError::Rejected { code, message },
    }
}

/// The development double: any token works, the number is a Saudi test number, templates are
/// approved as soon as they are listed, sends are accepted with a `wamid.DEV…` id. The server
/// shows the statuses such a message would get (sent, delivered, read) itself.
#[derive(Debug, Default)]
pub struct DevWhatsApp {
    sent: AtomicU64,
}

impl DevWhatsApp {
    pub fn new() -> Self {
        Self::default()
    }
}

/// Message ids the double hands out start with this.
pub const DEV_MESSAGE_PREFIX: &str = "wamid.DEV";

#[async_trait::async_trait]
impl WhatsAppApi for DevWhatsApp {
    async fn check_number(&self, _token: &ApiKey, phone_number_id: &str) -> Result<NumberInfo, WhatsAppError> {
        Ok(NumberInfo {
            display_phone_number: "+966 50 000 0000".into(),
            verified_name: Some(format!("Development number {phone_number_id}")),
            quality_rating: Some("GREEN".into()),
            messaging_limit_tier: Some("TIER_250".into()),
        })
    }

    async fn submit_template(
        &self,
        _token: &ApiKey,
        _waba_id: &str,
        template: &TemplateSubmission,
    ) -> Result<SubmittedTemplate, WhatsAppError> {
        Ok(SubmittedTemplate { id: format!("dev-{}", template.name), status: Some("PENDING".into()) })
    }

    async fn templates(&self, _token: &ApiKey, _waba_id: &str) -> Result<Vec<RemoteTemplate>, WhatsAppError> {
        // The double approves whatever it is asked about: the app lists nothing it did not submit.
        Ok(Vec::new())
    }

    async fn send(
        &self,
        _token: &ApiKey,
        _phone_number_id: &str,
        message: &OutgoingMessage,
    ) -> Result<String, WhatsAppError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(format!("{DEV_MESSAGE_PREFIX}{n:06}.{}", message.callback_data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_sends_are_metas_documented_bytes() {
        let m = OutgoingMessage {
            to: "966501234567".into(),
            content: Outgoing::Template {
                name: "welcome_abc".into(),
                language: "ar".into(),
                parameters: vec![("name".into(), "النور".into()), ("city".into(), "الرياض".into())],
            },
            callback_data: "msg-1".into(),
        };
        assert_eq!(
            String::from_utf8(message_payload(&m)).unwrap(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"966501234567","type":"template","template":{"name":"welcome_abc","language":{"code":"ar"},"components":[{"type":"body","parameters":[{"type":"text","parameter_name":"name","text":"النور"},{"type":"text","parameter_name":"city","text":"الرياض"}]}]},"biz_opaque_callback_data":"msg-1"}"#
        );
        let t = OutgoingMessage { content: Outgoing::Text { body: "hi".into() }, ..m };
        assert_eq!(
            String::from_utf8(message_payload(&t)).unwrap(),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"966501234567","type":"text","text":{"preview_url":false,"body":"hi"},"biz_opaque_callback_data":"msg-1"}"#
        );
    }

    #[test]
    fn graph_errors_become_their_actions() {
        let token = ApiKey::new("EAAG-secret");
        let answer = |status: u16, code: i64| {
            Answer {
            status,
            retry_after: None,
            body: json!({"error": {"message": "m EAAG-secret", "type": "OAuthException", "code": code, "fbtrace_id": "x"}})
                .to_string()
                .into_bytes(),
        }
        };
        assert!(matches!(graph_error(&answer(400, 130_429), &token), WhatsAppError::Throttled { .. }));
        assert!(matches!(graph_error(&answer(400, 131_048), &token), WhatsAppError::Throttled { .. }));
        assert!(matches!(graph_error(&answer(400, 131_056), &token), WhatsAppError::Throttled { .. }));
        assert!(matches!(graph_error(&answer(400, 131_026), &token), WhatsAppError::Undeliverable { .. }));
        assert!(matches!(graph_error(&answer(400, 131_050), &token), WhatsAppError::OptedOut { .. }));
        for c in [132_001, 132_015, 132_016] {
            assert!(matches!(graph_error(&answer(404, c), &token), WhatsAppError::TemplateUnavailable { .. }));
        }
        let unauthorized = graph_error(&answer(401, 190), &token);
        assert!(matches!(unauthorized, WhatsAppError::Unauthorized { code: Some(190), .. }));
        assert!(!unauthorized.to_string().contains("EAAG-secret"), "{unauthorized}");
        assert!(matches!(graph_error(&answer(503, 0), &token), WhatsAppError::Unavailable(_)));
    }
}
