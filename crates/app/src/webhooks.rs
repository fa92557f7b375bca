//! Outbound webhooks (plan feature `outbound_webhooks`): a tenant's endpoints, the events its
//! changes write into the outbox in their own transaction (`Webhooks::emit`), and the delivery of that
//! outbox by the workers, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`), retried on the schedule
//! Svix publishes; an endpoint failing for three days is disabled and the tenant audited.

use crate::leads::Page;
use crate::{AppError, Ctx, audit, policy};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use leadzone_domain::access::Permission;
use leadzone_domain::entities::AuditDetails;
use leadzone_domain::enums::AuditEventType;
use leadzone_domain::error::Validator;
use leadzone_domain::webhooks::{self as rules, WebhookEvent};
use leadzone_ports::tx::TenantTx;
use leadzone_ports::webhooks::{
    AttemptRecord, DueDelivery, WebhookDelivery, WebhookEndpoint, WebhookOutbox, WebhookSender,
};
use leadzone_ports::{Clock, Ids, RepoError};
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

/// Endpoints one tenant may have.
pub const MAX_ENDPOINTS: usize = 10;
const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;
/// Deliveries a worker round claims.
const CLAIM: u64 = 50;
/// Deliveries sent at once by one worker.
const IN_FLIGHT: usize = 8;

/// `POST/PATCH /webhooks`, as sent (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// An endpoint as the API shows it: never its secret after creation.
pub fn without_secret(e: WebhookEndpoint) -> WebhookEndpoint {
    WebhookEndpoint { secret: Vec::new(), ..e }
}

crate::service! {
    /// Signed outbound webhooks: endpoints, events and deliveries.
    Webhooks {
        ports: [uow, tokens, secrets, clock, ids, config, providers],
        uses: [flags: crate::flags::Flags],
    }
}

impl Webhooks {
    /// Writes `event` for every subscribed endpoint of the tenant, and its Slack message when the
    /// tenant's Slack connection chose it, in `tx` (the transaction of the change): rolled back
    /// with it, sent only once it commits.
    pub(crate) async fn emit(&self, tx: &dyn TenantTx, event: WebhookEvent, data: Value) -> Result<(), AppError> {
        let now = self.clock.now();
        let payload = json!({
            "type": event.as_str(),
            "timestamp": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "data": data,
        });
        let ids: Vec<Uuid> = (0..MAX_ENDPOINTS).map(|_| self.ids.new_id()).collect();
        tx.webhooks().enqueue(self.ids.new_id(), event.as_str(), &payload, &ids, now).await?;
        let data = payload.get("data").unwrap_or(&Value::Null);
        crate::slack::notify_slack(tx, event, data, &self.config.public_url, &*self.ids, &*self.clock).await
    }

    /// `job.completed` / `job.failed` once the worker recorded a job's end (in a transaction of
    /// its own, right after: a crash between the two loses that one event, logged).
    pub async fn emit_job_end(&self, job: &leadzone_domain::entities::Job, outcome: Result<&Value, (&str, &str)>) {
        let (event, data) = match outcome {
            Ok(result) => (
                WebhookEvent::JobCompleted,
                json!({"id": job.id, "type": job.kind, "status": "SUCCESS", "result": result}),
            ),
            Err((code, message)) => (
                WebhookEvent::JobFailed,
                json!({"id": job.id, "type": job.kind, "status": "FAILED", "error": {"code": code, "message": message}}),
            ),
        };
        let written = async {
            let tx = self.uow.begin(job.tenant_id).await?;
            self.emit(&*tx, event, data).await?;
            tx.commit().await.map_err(AppError::from)
        };
        if let Err(e) = written.await {
            tracing::warn!(job = %job.id, error = %e, "the job's webhook event could not be written");
        }
    }

    async fn check_webhook(&self, v: &mut Validator, input: &WebhookInput, creating: bool) -> Option<Vec<String>> {
        if let Some(url) = &input.url {
            if url.trim().is_empty() || url.len() > MAX_URL {
                v.push("url", format!("must be 1–{MAX_URL} characters"));
            } else if let Err(why) = self.providers.webhooks.check(url.trim()).await {
                v.push("url", why);
            }
        } else if creating {
            v.push("url", "is required");
        }
        if let Some(Some(d)) = &input.description
            && d.chars().count() > MAX_DESCRIPTION
        {
            v.push("description", format!("must be at most {MAX_DESCRIPTION} characters"));
        }
        match &input.events {
            Some(events) if events.is_empty() => {
                v.push("events", "must name at least one event");
                None
            }
            Some(events) => {
                let mut out: Vec<String> = Vec::new();
                for (i, e) in events.iter().enumerate() {
                    match WebhookEvent::from_str(e.trim()) {
                        Ok(event) if !out.iter().any(|o| o == event.as_str()) => out.push(event.as_str().to_owned()),
                        Ok(_) => {}
                        Err(_) => v.push(
                            format!("events[{i}]"),
                            format!(
                                "must be one of {}",
                                WebhookEvent::ALL.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                    }
                }
                Some(out)
            }
            None if creating => {
                v.push("events", "is required");
                None
            }
            None => None,
        }
    }

    /// `POST /webhooks`: the endpoint and its signing secret (`whsec_…`), shown this once.
    pub async fn create_webhook(&self, ctx: &Ctx, input: WebhookInput) -> Result<(WebhookEndpoint, String), AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        self.flags.require_feature(ctx, "outbound_webhooks").await?;
        let mut v = Validator::new();
        let events = self.check_webhook(&mut v, &input, true).await;
        v.finish()?;
        // 32 random bytes: the SHA-256 of a fresh random token.
        let key = crate::admin::hex_decode(&self.tokens.hash(&self.tokens.generate("whsec")))
            .ok_or_else(|| AppError::Internal("a token hash is not hex".into()))?;
        let secret = format!("whsec_{}", B64.encode(&key));
        let sealed = self.secrets.seal(secret.as_bytes()).map_err(|e| AppError::Internal(format!("sealing: {e}")))?;
        let now = self.clock.now();
        let endpoint = WebhookEndpoint {
            id: self.ids.new_id(),
            tenant_id: ctx.tenant_id,
            url: input.url.unwrap_or_default().trim().to_owned(),
            description: input.description.flatten().map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()),
            events: events.unwrap_or_default(),
            secret: sealed,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_by: ctx.user_id,
            created_at: now,
            updated_at: now,
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        if tx.webhooks().endpoints().await?.len() >= MAX_ENDPOINTS {
            return Err(AppError::field("url", &format!("an organization has at most {MAX_ENDPOINTS} webhooks")));
        }
        tx.webhooks().insert_endpoint(&endpoint).await?;
        tx.commit().await?;
        Ok((without_secret(endpoint), secret))
    }

    pub async fn list_webhooks(&self, ctx: &Ctx) -> Result<Vec<WebhookEndpoint>, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        Ok(tx.webhooks().endpoints().await?.into_iter().map(without_secret).collect())
    }

    pub async fn get_webhook(&self, ctx: &Ctx, id: Uuid) -> Result<WebhookEndpoint, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        Ok(without_secret(tx.webhooks().endpoint(id).await?))
    }

    /// `PATCH /webhooks/{id}`: enabling a disabled endpoint again clears its failing streak.
    pub async fn update_webhook(&self, ctx: &Ctx, id: Uuid, input: WebhookInput) -> Result<WebhookEndpoint, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let mut v = Validator::new();
        let events = self.check_webhook(&mut v, &input, false).await;
        v.finish()?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let mut e = tx.webhooks().endpoint(id).await?;
        if let Some(url) = input.url {
            e.url = url.trim().to_owned();
        }
        if let Some(events) = events {
            e.events = events;
        }
        if let Some(description) = input.description {
            e.description = description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        }
        if let Some(enabled) = input.enabled {
            if enabled && !e.enabled {
                e.disabled_reason = None;
                e.failing_since = None;
            }
            e.enabled = enabled;
        }
        e.updated_at = self.clock.now();
        tx.webhooks().update_endpoint(&e).await?;
        tx.commit().await?;
        Ok(without_secret(e))
    }

    pub async fn delete_webhook(&self, ctx: &Ctx, id: Uuid) -> Result<(), AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        if !tx.webhooks().delete_endpoint(id).await? {
            return Err(AppError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// `GET /webhooks/{id}/deliveries`: newest first, each with its attempts.
    pub async fn webhook_deliveries(
        &self,
        ctx: &Ctx,
        id: Uuid,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page<WebhookDelivery>, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let (limit, before) = crate::lead_actions::parse_time_page(limit, cursor)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.webhooks().endpoint(id).await?;
        let rows = tx.webhooks().deliveries(id, before, limit + 1).await?;
        Ok(Page::of_overfetched(rows, limit, |d| crate::lead_actions::encode_time_cursor(d.created_at, d.id)))
    }

    /// `POST /webhooks/{id}/deliveries/{deliveryId}/retry`: sent again at once, same `webhook-id`.
    pub async fn retry_webhook_delivery(
        &self,
        ctx: &Ctx,
        id: Uuid,
        delivery: Uuid,
    ) -> Result<WebhookDelivery, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let d = tx.webhooks().retry_delivery(id, delivery, self.clock.now()).await?;
        tx.commit().await?;
        Ok(d)
    }
}

/// The workers' delivery of the outbox.
pub struct WebhookDeliverer {
    pub outbox: Arc<dyn WebhookOutbox>,
    pub sender: Arc<dyn WebhookSender>,
    pub secrets: Arc<dyn leadzone_ports::security::SecretBox>,
    pub uow: Arc<dyn leadzone_ports::tx::UnitOfWork>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn Ids>,
    pub tokens: Arc<dyn leadzone_ports::security::Tokens>,
    /// The retry schedule times this (1 in production; tests shrink it).
    pub retry_scale: f64,
}

/// The `webhook-signature` of `body` for `id` at `timestamp` under `secret` (`whsec_<base64>`).
/// `hmac` is HMAC-SHA256 (the `Tokens` port's).
pub fn signature(
    hmac: impl Fn(&[u8], &[u8]) -> Vec<u8>,
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let key = B64.decode(secret.strip_prefix("whsec_")?).ok()?;
    Some(format!("v1,{}", B64.encode(hmac(&key, &rules::signed_content(id, timestamp, body)))))
}

impl WebhookDeliverer {
    /// One round: claims what is due and sends it (a few at once); how many were attempted.
    ///
    /// # Errors
    /// Storage errors of the claim.
    pub async fn deliver_due(&self) -> Result<usize, AppError> {
        use futures::StreamExt;
        let due = self.outbox.claim_due(self.clock.now(), std::time::Duration::from_secs(60), CLAIM).await?;
        let n = due.len();
        let results: Vec<Result<(), AppError>> =
            futures::stream::iter(due).map(|d| self.deliver(d)).buffer_unordered(IN_FLIGHT).collect().await;
        for r in results {
            if let Err(e) = r {
                tracing::warn!(error = %e, "a webhook delivery could not be recorded; it is claimed again later");
            }
        }
        Ok(n)
    }

    async fn deliver(&self, due: DueDelivery) -> Result<(), AppError> {
        let d = &due.delivery;
        let secret = self.secrets.open(&due.sealed_secret).map_err(|e| AppError::Internal(format!("opening: {e}")))?;
        let secret =
            String::from_utf8(secret).map_err(|_| AppError::Internal("a webhook secret is not text".into()))?;
        let body = serde_json::to_vec(&d.payload).map_err(|e| AppError::Internal(e.to_string()))?;
        let now = self.clock.now();
        let id = d.event_id.to_string();
        let timestamp = now.unix_timestamp();
        let signature = signature(|k, d| self.tokens.hmac_sha256(k, d), &secret, &id, timestamp, &body)
            .ok_or_else(|| AppError::Internal("a webhook secret is not whsec_<base64>".into()))?;
        let headers = vec![
            ("webhook-id".to_owned(), id),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            ("webhook-signature".to_owned(), signature),
        ];
        let sent = self.sender.send(&due.url, headers, body).await;
        let at = self.clock.now();
        let attempts = u32::try_from(d.attempts).unwrap_or(0) + 1;
        let jitter = f64::from(u16::try_from(self.ids.new_id().as_u128() & 0xffff).unwrap_or(0)) / 65_536.0;
        let (status, latency_ms, error, delivered) = match &sent {
            Ok(s) => (
                Some(s.status),
                u64::try_from(s.latency.as_millis()).unwrap_or(u64::MAX),
                (!(200..300).contains(&s.status)).then(|| format!("HTTP {}", s.status)),
                (200..300).contains(&s.status),
            ),
            Err(why) => (None, u64::try_from((at - now).whole_milliseconds()).unwrap_or(0), Some(why.clone()), false),
        };
        let next_attempt_at =
            if delivered { None } else { rules::next_wait(attempts, jitter).map(|w| at + w * self.retry_scale) };
        self.outbox
            .record(d, &AttemptRecord { at, status, latency_ms, error: error.clone(), delivered, next_attempt_at })
            .await?;
        if !delivered
            && let Some(since) = due.failing_since
            && at - since >= rules::DISABLE_AFTER
        {
            self.disable(d, &due.url, error.as_deref().unwrap_or("failing")).await?;
        }
        Ok(())
    }

    async fn disable(&self, d: &WebhookDelivery, url: &str, last: &str) -> Result<(), AppError> {
        let at = self.clock.now();
        let reason =
            format!("Every delivery failed for 3 days (last: {last}); enable it again once the endpoint answers.");
        self.outbox.disable(d.tenant_id, d.endpoint_id, &reason, at).await?;
        let tx = self.uow.begin(d.tenant_id).await?;
        tx.audit()
            .append(&audit::system_entry(
                &*self.ids,
                AuditEventType::WebhookDisabled,
                None,
                format!("webhook {url} disabled after failing for 3 days"),
                AuditDetails {
                    metadata: Some(json!({"endpointId": d.endpoint_id, "url": url, "reason": reason})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await.map_err(|e: RepoError| e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not an HMAC: enough to see what is signed with which key.
    fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
        [key, b"|", data].concat()
    }

    #[test]
    fn the_signature_covers_id_timestamp_and_body_under_the_decoded_key() {
        let secret = format!("whsec_{}", B64.encode(b"key"));
        let sig = signature(hmac, &secret, "msg_1", 1_700_000_000, b"{\"a\":1}").unwrap();
        assert_eq!(sig, format!("v1,{}", B64.encode(b"key|msg_1.1700000000.{\"a\":1}")));
        assert_eq!(signature(hmac, "nope", "m", 1, b""), None);
    }
}
