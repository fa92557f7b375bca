//! Slack notifications (a `SLACK` connection: an incoming-webhook URL as its credential,
//! `config.events` the events the tenant chose). A chosen event writes its message — in the
//! tenant's language, with a link to the lead — in the transaction of the change (an outbox, as
//! for outbound webhooks); the workers post each tenant's messages in order, at most one a
//! second, wait as long as a 429's `Retry-After` says, and turn the connection to ERROR when Slack
//! says the webhook is gone (`no_service`, `no_active_hooks`…).

use crate::{AppError, Ctx};
use leadzone_domain::enums::{IntegrationStatus, IntegrationType, JobType, Language};
use leadzone_domain::ids::TenantId;
use leadzone_domain::webhooks::WebhookEvent;
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::slack::{DueSlack, SlackApi, SlackError, SlackNotification, SlackOutbox};
use leadzone_ports::tx::TenantTx;
use leadzone_ports::{Clock, Ids};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// What a tenant may choose to hear about in Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackEvent {
    /// A lead assigned to someone.
    LeadAssigned,
    /// A lead moved to QUALIFIED.
    LeadQualified,
    /// A job finished.
    JobCompleted,
    /// A job failed.
    JobFailed,
    /// A bulk WhatsApp send finished.
    WhatsAppBulkCompleted,
}

impl SlackEvent {
    pub const ALL: [Self; 5] =
        [Self::LeadAssigned, Self::LeadQualified, Self::JobCompleted, Self::JobFailed, Self::WhatsAppBulkCompleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadAssigned => "lead.assigned",
            Self::LeadQualified => "lead.qualified",
            Self::JobCompleted => "job.completed",
            Self::JobFailed => "job.failed",
            Self::WhatsAppBulkCompleted => "whatsapp.bulk.completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The Slack event an outbound event is, when it is one (a bulk WhatsApp's end is its own
    /// event; a status change is one only when it reaches QUALIFIED).
    fn of(event: WebhookEvent, data: &Value) -> Option<Self> {
        match event {
            WebhookEvent::LeadAssigned if !data["assignedTo"].is_null() => Some(Self::LeadAssigned),
            WebhookEvent::LeadStatusChanged if data["status"] == "QUALIFIED" => Some(Self::LeadQualified),
            WebhookEvent::JobCompleted if data["type"] == JobType::WhatsAppBulk.as_str() => {
                Some(Self::WhatsAppBulkCompleted)
            }
            WebhookEvent::JobCompleted => Some(Self::JobCompleted),
            WebhookEvent::JobFailed => Some(Self::JobFailed),
            _ => None,
        }
    }
}

/// Slack's escaping of `&`, `<` and `>` in message text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A job type as the tenant reads it.
fn job_name(kind: &str, language: Language) -> String {
    let Ok(kind) = kind.parse::<JobType>() else { return escape(kind) };
    let (en, ar) = match kind {
        JobType::Search => ("Search", "البحث"),
        JobType::Survey => ("Website survey", "مسح الموقع"),
        JobType::WhatsApp => ("WhatsApp message", "رسالة واتساب"),
        JobType::WhatsAppBulk => ("Bulk WhatsApp", "واتساب الجماعي"),
        JobType::Import => ("Import", "الاستيراد"),
        JobType::Export => ("Export", "التصدير"),
        JobType::Reveal => ("Decision makers", "صناع القرار"),
        JobType::Report => ("Report", "التقرير"),
        JobType::Sync => ("CRM sync", "المزامنة"),
    };
    match language {
        Language::Ar => ar.to_owned(),
        Language::En => en.to_owned(),
    }
}

/// The message of `event` in `language`; `link` is the lead's page.
pub fn render(event: SlackEvent, data: &Value, language: Language, link: &str, assignee: Option<&str>) -> String {
    let company = escape(data["companyName"].as_str().unwrap_or_default());
    let lead = format!("<{link}|{company}>");
    let assignee = escape(assignee.unwrap_or("?"));
    let job = job_name(data["type"].as_str().unwrap_or_default(), language);
    let count = |name: &str| data.get("result").and_then(|r| r.get(name)).and_then(Value::as_i64).unwrap_or(0);
    let error = escape(data.pointer("/error/message").and_then(Value::as_str).unwrap_or_default());
    match (event, language) {
        (SlackEvent::LeadAssigned, Language::En) => format!("Lead {lead} was assigned to {assignee}."),
        (SlackEvent::LeadAssigned, Language::Ar) => format!("أُسند العميل المحتمل {lead} إلى {assignee}."),
        (SlackEvent::LeadQualified, Language::En) => format!("Lead {lead} is now qualified."),
        (SlackEvent::LeadQualified, Language::Ar) => format!("أصبح العميل المحتمل {lead} مؤهلاً."),
        (SlackEvent::JobCompleted, Language::En) => format!("{job} finished."),
        (SlackEvent::JobCompleted, Language::Ar) => format!("اكتمل {job}."),
        (SlackEvent::JobFailed, Language::En) => format!("{job} failed: {error}"),
        (SlackEvent::JobFailed, Language::Ar) => format!("فشل {job}: {error}"),
        (SlackEvent::WhatsAppBulkCompleted, Language::En) => {
            format!("Bulk WhatsApp finished: {} sent, {} failed.", count("sent"), count("failed"))
        }
        (SlackEvent::WhatsAppBulkCompleted, Language::Ar) => {
            format!("اكتمل الإرسال الجماعي عبر واتساب: أُرسلت {} وفشلت {}.", count("sent"), count("failed"))
        }
    }
}

/// What connecting (and `POST …/test`) posts to the channel.
pub fn connected_text(language: Language) -> String {
    match language {
        Language::En => "Leadzone is connected: this channel will hear about the events you chose.".to_owned(),
        Language::Ar => "تم ربط Leadzone: ستصل إلى هذه القناة إشعارات الأحداث التي اخترتها.".to_owned(),
    }
}

/// `config.events`: a non-empty list of known events, each once.
fn chosen_events(config: &Value) -> Result<Vec<SlackEvent>, AppError> {
    let Some(list) = config.get("events") else {
        return Ok(SlackEvent::ALL.to_vec());
    };
    let known = SlackEvent::ALL.map(SlackEvent::as_str).join(", ");
    let Some(list) = list.as_array() else { return Err(AppError::field("config.events", "must be a list")) };
    if list.is_empty() {
        return Err(AppError::field("config.events", "must name at least one event"));
    }
    let mut events = Vec::new();
    for item in list {
        match item.as_str().and_then(SlackEvent::parse) {
            Some(e) if !events.contains(&e) => events.push(e),
            Some(_) => {}
            None => return Err(AppError::field("config.events", &format!("must be one of {known}"))),
        }
    }
    Ok(events)
}

impl crate::integrations::Integrations {
    /// Connecting `SLACK`: the URL passes the SSRF guard and a first message reaches the
    /// channel (Slack's refusal is a 422 with its code).
    pub(crate) async fn connect_slack(
        &self,
        ctx: &Ctx,
        url: String,
        config: &Value,
    ) -> Result<(Value, Value), AppError> {
        self.flags.require_feature(ctx, "integrations").await?;
        let events = chosen_events(config)?;
        let key = ApiKey::new(url.clone());
        self.providers.slack.check(&key).await.map_err(|why| AppError::field("credentials.webhookUrl", &why))?;
        let text = connected_text(self.tenant_language(ctx.tenant_id).await);
        match self.providers.slack.post(&key, &text, None).await {
            Ok(()) => {}
            Err(SlackError::Gone(why) | SlackError::Rejected(why)) => {
                return Err(AppError::field("credentials.webhookUrl", &why));
            }
            Err(e) => return Err(AppError::Unavailable(format!("posting to Slack: {e}"))),
        }
        let mut out = config.as_object().cloned().unwrap_or_default();
        out.insert("events".into(), json!(events.iter().map(|e| e.as_str()).collect::<Vec<_>>()));
        Ok((json!({ "webhookUrl": url }), Value::Object(out)))
    }

    /// The tenant's language (English when it has not chosen).
    pub(crate) async fn tenant_language(&self, tenant: TenantId) -> Language {
        let language = async {
            let tx = self.uow.begin(tenant).await?;
            Ok::<_, AppError>(tx.tenants().current().await?.settings.language)
        };
        language.await.ok().flatten().unwrap_or(Language::En)
    }
}

/// Queues the Slack message of `event` when the tenant's connection chose it (in `tx`, the
/// change's own transaction). Costs one read when the event can be a Slack one, none
/// otherwise. The message links to the lead under `public_url`.
pub(crate) async fn notify_slack(
    tx: &dyn TenantTx,
    event: WebhookEvent,
    data: &Value,
    public_url: &str,
    ids: &dyn Ids,
    clock: &dyn Clock,
) -> Result<(), AppError> {
    let Some(slack_event) = SlackEvent::of(event, data) else { return Ok(()) };
    let Some(connection) = tx.integrations().get(IntegrationType::Slack).await? else { return Ok(()) };
    if connection.status != IntegrationStatus::Connected {
        return Ok(());
    }
    let chosen = connection
        .config
        .get("events")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|e| e == slack_event.as_str()));
    if !chosen {
        return Ok(());
    }
    let language = tx.tenants().current().await?.settings.language.unwrap_or(Language::En);
    let assignee = match data["assignedTo"].as_str().and_then(|u| uuid::Uuid::parse_str(u).ok()) {
        Some(user) if slack_event == SlackEvent::LeadAssigned => tx.users().get(user.into()).await.ok().map(|u| u.name),
        _ => None,
    };
    let link = format!("{}/leads/{}", public_url.trim_end_matches('/'), data["id"].as_str().unwrap_or_default());
    let text = render(slack_event, data, language, &link, assignee.as_deref());
    tx.slack()
        .enqueue(&SlackNotification {
            id: ids.new_id(),
            event: slack_event.as_str().to_owned(),
            text,
            created_at: clock.now(),
        })
        .await?;
    Ok(())
}

/// Attempts a message gets when Slack fails (5xx, timeouts) before it is given up.
const MAX_ATTEMPTS: i32 = 6;
/// Messages claimed per round: posted 8 at a time within Slack's 10-second limit, a round ends
/// well inside its 60-second lease.
const CLAIM: u64 = 16;
/// Sent and failed messages are kept this long.
const KEEP: time::Duration = time::Duration::days(30);

/// The workers' side: posts what is due.
pub struct SlackDeliverer {
    pub outbox: Arc<dyn SlackOutbox>,
    pub slack: Arc<dyn SlackApi>,
    pub secrets: Arc<dyn leadzone_ports::security::SecretBox>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
}

impl SlackDeliverer {
    /// One round: the next message of each tenant that may post now, posted concurrently (one
    /// per tenant, so never two at once to one webhook); how many were attempted.
    ///
    /// # Errors
    /// Storage errors of the claim.
    pub async fn deliver_due(&self) -> Result<usize, AppError> {
        use futures::StreamExt;
        let due = self.outbox.claim_due(self.clock.now(), Duration::from_secs(60), CLAIM).await?;
        let n = due.len();
        let results: Vec<Result<(), AppError>> =
            futures::stream::iter(due).map(|d| self.deliver(d)).buffer_unordered(8).collect().await;
        for r in results {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a Slack message's outcome could not be recorded; it is claimed again later");
            }
        }
        Ok(n)
    }

    /// Forgets messages older than 30 days.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn purge(&self) -> Result<u64, AppError> {
        Ok(self.outbox.purge(self.clock.now() - KEEP).await?)
    }

    async fn deliver(&self, due: DueSlack) -> Result<(), AppError> {
        let Some(sealed) = &due.sealed_credentials else {
            self.outbox.failed(due.id, "Slack is not connected").await?;
            return Ok(());
        };
        // Credentials that cannot be opened (a master key taken out too early) fail the message
        // rather than block the tenant's queue behind it forever.
        let opened = self.secrets.open(sealed).ok().and_then(|plain| serde_json::from_slice::<Value>(&plain).ok());
        let Some(url) = opened.as_ref().and_then(|c| c.get("webhookUrl")).and_then(Value::as_str).map(ApiKey::new)
        else {
            tracing::warn!(tenant = %due.tenant_id, "the Slack connection's credentials could not be opened");
            self.outbox.failed(due.id, "the connection's credentials could not be opened").await?;
            return Ok(());
        };
        let outcome = self.slack.post(&url, &due.text, None).await;
        let now = self.clock.now();
        match outcome {
            Ok(()) => self.outbox.sent(due.id, now).await?,
            Err(SlackError::RateLimited { retry_after }) => {
                let wait = retry_after.unwrap_or(Duration::from_secs(1)).max(Duration::from_secs(1));
                tracing::info!(tenant = %due.tenant_id, wait_s = wait.as_secs(), "Slack rate limited a webhook; its queue waits");
                self.outbox.hold(due.tenant_id, now + wait).await?;
            }
            Err(SlackError::Gone(why)) => {
                tracing::info!(tenant = %due.tenant_id, %why, "the Slack webhook is gone; connection ERROR");
                self.outbox.webhook_gone(due.tenant_id, &why, now).await?;
            }
            Err(SlackError::Rejected(why)) => self.outbox.failed(due.id, &why).await?,
            Err(SlackError::Unavailable(why)) if due.attempts < MAX_ATTEMPTS => {
                // 10 s, 20 s, 40 s… about ten minutes in all.
                let wait = time::Duration::seconds(10 * (1_i64 << (due.attempts.clamp(1, 6) - 1)));
                self.outbox.retry_at(due.id, now + wait, &why).await?;
            }
            Err(SlackError::Unavailable(why)) => self.outbox.failed(due.id, &why).await?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_from_what_happened() {
        let assigned = json!({"assignedTo": "0191aaaa-0000-7000-8000-000000000001"});
        assert_eq!(SlackEvent::of(WebhookEvent::LeadAssigned, &assigned), Some(SlackEvent::LeadAssigned));
        assert_eq!(SlackEvent::of(WebhookEvent::LeadAssigned, &json!({"assignedTo": null})), None, "unassigned");
        assert_eq!(SlackEvent::of(WebhookEvent::LeadStatusChanged, &json!({"status": "CONTACTED"})), None);
        assert_eq!(
            SlackEvent::of(WebhookEvent::LeadStatusChanged, &json!({"status": "QUALIFIED"})),
            Some(SlackEvent::LeadQualified)
        );
        assert_eq!(
            SlackEvent::of(WebhookEvent::JobCompleted, &json!({"type": "WHATSAPP_BULK"})),
            Some(SlackEvent::WhatsAppBulkCompleted)
        );
        assert_eq!(
            SlackEvent::of(WebhookEvent::JobCompleted, &json!({"type": "IMPORT"})),
            Some(SlackEvent::JobCompleted)
        );
        assert_eq!(SlackEvent::of(WebhookEvent::LeadUpdated, &json!({})), None);
    }

    #[test]
    fn messages_are_in_the_tenants_language_escaped_and_link_the_lead() {
        let data = json!({"companyName": "Al <Noor> & Sons"});
        let en = render(SlackEvent::LeadQualified, &data, Language::En, "https://app/leads/1", None);
        assert_eq!(en, "Lead <https://app/leads/1|Al &lt;Noor&gt; &amp; Sons> is now qualified.");
        let ar = render(SlackEvent::LeadAssigned, &data, Language::Ar, "https://app/leads/1", Some("سارة"));
        assert!(ar.starts_with("أُسند العميل المحتمل <https://app/leads/1|") && ar.contains("سارة"), "{ar}");
        let bulk = json!({"type": "WHATSAPP_BULK", "result": {"sent": 480, "failed": 20}});
        assert_eq!(
            render(SlackEvent::WhatsAppBulkCompleted, &bulk, Language::En, "", None),
            "Bulk WhatsApp finished: 480 sent, 20 failed."
        );
        let failed = json!({"type": "IMPORT", "error": {"message": "the file is not UTF-8"}});
        assert_eq!(
            render(SlackEvent::JobFailed, &failed, Language::Ar, "", None),
            "فشل الاستيراد: the file is not UTF-8"
        );
    }

    #[test]
    fn chosen_events_are_known_and_not_empty() {
        assert_eq!(chosen_events(&json!({})).unwrap().len(), 5, "all when not said");
        assert_eq!(
            chosen_events(&json!({"events": ["lead.qualified", "lead.qualified"]})).unwrap(),
            vec![SlackEvent::LeadQualified]
        );
        assert!(chosen_events(&json!({"events": []})).is_err());
        assert!(chosen_events(&json!({"events": ["lead.created"]})).is_err());
    }
}
