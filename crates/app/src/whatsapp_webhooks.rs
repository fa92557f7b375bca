//! `GET/POST /webhooks/whatsapp`: Meta's verification handshake, and the signed callbacks that
//! move messages (SENT → DELIVERED → READ, FAILED) and bring inbound messages — kept on the lead's
//! timeline, and an opt-out word (or Meta's 131050) records the phone's opt-out.
//!
//! A callback is applied only with a valid `X-Hub-Signature-256` over the raw body; it reaches
//! the tenant whose connection has `metadata.phone_number_id`, and inside that tenant's
//! transaction (row-level security) a message id of another tenant matches nothing.

use crate::AppError;
use crate::admin::{constant_time_eq, hex_decode};
use crate::whatsapp::failed_update;
use leadzone_domain::entities::Activity;
use leadzone_domain::enums::{ActivityType, WhatsAppStatus};
use leadzone_domain::ids::TenantId;
use leadzone_domain::values::PhoneE164;
use leadzone_domain::whatsapp as rules;
use leadzone_ports::whatsapp::StatusUpdate;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

/// One status callback of one message.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub external_id: String,
    pub status: WhatsAppStatus,
    pub at: OffsetDateTime,
    /// `biz_opaque_callback_data`: the message's own id, as the send gave it.
    pub callback_data: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    /// `recipient_id`: the phone's digits.
    pub recipient: Option<String>,
}

/// One inbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub from: String,
    pub id: String,
    pub at: OffsetDateTime,
    pub text: Option<String>,
}

/// What a callback did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookReceipt {
    pub statuses: usize,
    pub messages: usize,
    /// Changes for numbers no tenant has connected.
    pub unrouted: usize,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    value: Option<ChangeValue>,
}

#[derive(Deserialize)]
struct ChangeValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    statuses: Vec<RawStatus>,
    #[serde(default)]
    messages: Vec<RawMessage>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<String>,
}

#[derive(Deserialize)]
struct RawStatus {
    id: Option<String>,
    status: Option<String>,
    timestamp: Option<String>,
    recipient_id: Option<String>,
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    errors: Vec<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    code: Option<i64>,
    title: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct RawMessage {
    from: Option<String>,
    id: Option<String>,
    timestamp: Option<String>,
    text: Option<RawText>,
    button: Option<RawText>,
}

#[derive(Deserialize)]
struct RawText {
    body: Option<String>,
    text: Option<String>,
}

fn unix(raw: Option<&str>, fallback: OffsetDateTime) -> OffsetDateTime {
    raw.and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .unwrap_or(fallback)
}

/// The HMAC-SHA256 in `X-Hub-Signature-256: sha256=<64 hex digits>`.
fn signature_of(header: Option<&str>) -> Option<Vec<u8>> {
    header?.trim().strip_prefix("sha256=").and_then(hex_decode).filter(|mac| mac.len() == 32)
}

impl crate::whatsapp::WhatsApp {
    /// `GET /webhooks/whatsapp`: echoes `hub.challenge` when `hub.mode` is `subscribe` and the
    /// verify token matches; 403 otherwise, 404 when the platform has no verify token.
    pub fn whatsapp_webhook_handshake(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Result<String, AppError> {
        use secrecy::ExposeSecret;
        let expected = self.config.whatsapp_verify_token.as_ref().ok_or(AppError::NotFound)?;
        let token_ok = token.is_some_and(|t| constant_time_eq(t.as_bytes(), expected.expose_secret().as_bytes()));
        match (mode, challenge) {
            (Some("subscribe"), Some(challenge)) if token_ok => Ok(challenge.to_owned()),
            _ => Err(AppError::Forbidden),
        }
    }

    /// `POST /webhooks/whatsapp`: verifies the signature over the raw body, then applies every
    /// change to the tenant of its number.
    pub async fn whatsapp_webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<WebhookReceipt, AppError> {
        use secrecy::ExposeSecret;
        let secret = self.config.whatsapp_app_secret.as_ref().ok_or(AppError::NotFound)?;
        let given = signature_of(signature).ok_or(AppError::Unauthenticated)?;
        let expected = self.tokens.hmac_sha256(secret.expose_secret().as_bytes(), body);
        if !constant_time_eq(&given, &expected) {
            return Err(AppError::Unauthenticated);
        }
        let payload: Payload = serde_json::from_slice(body)
            .map_err(|_| AppError::BadRequest("the callback is not WhatsApp's JSON".into()))?;
        let now = self.clock.now();
        let mut receipt = WebhookReceipt::default();
        for value in payload.entry.into_iter().flat_map(|e| e.changes).filter_map(|c| c.value) {
            let Some(number) = value.metadata.and_then(|m| m.phone_number_id) else { continue };
            let statuses: Vec<StatusReport> = value
                .statuses
                .into_iter()
                .filter_map(|s| {
                    let status = match s.status.as_deref()? {
                        "sent" => WhatsAppStatus::Sent,
                        "delivered" => WhatsAppStatus::Delivered,
                        "read" => WhatsAppStatus::Read,
                        "failed" => WhatsAppStatus::Failed,
                        _ => return None,
                    };
                    let error = s.errors.into_iter().next();
                    Some(StatusReport {
                        external_id: s.id?,
                        status,
                        at: unix(s.timestamp.as_deref(), now),
                        callback_data: s.biz_opaque_callback_data,
                        error_code: error.as_ref().and_then(|e| e.code),
                        error_title: error.and_then(|e| e.title.or(e.message)),
                        recipient: s.recipient_id,
                    })
                })
                .collect();
            let messages: Vec<InboundMessage> = value
                .messages
                .into_iter()
                .filter_map(|m| {
                    Some(InboundMessage {
                        from: m.from?,
                        id: m.id.unwrap_or_default(),
                        at: unix(m.timestamp.as_deref(), now),
                        text: m.text.and_then(|t| t.body).or_else(|| m.button.and_then(|b| b.text)),
                    })
                })
                .collect();
            let Some(tenant) = self.lookups.tenant_by_whatsapp_number(&number).await? else {
                tracing::info!(phone_number_id = %number, "WhatsApp callback for a number no tenant has connected; ignored");
                receipt.unrouted += statuses.len() + messages.len();
                continue;
            };
            receipt.statuses += self.apply_statuses(tenant, &statuses).await?;
            receipt.messages += self.apply_inbound(tenant, &messages).await?;
        }
        Ok(receipt)
    }

    /// Applies status callbacks in one transaction of the tenant; how many changed a message.
    pub(crate) async fn apply_statuses(&self, tenant: TenantId, reports: &[StatusReport]) -> Result<usize, AppError> {
        if reports.is_empty() {
            return Ok(0);
        }
        let tx = self.uow.begin(tenant).await?;
        let mut changed = 0;
        for r in reports {
            let mut message = tx.whatsapp().lock_message_by_external_id(&r.external_id).await?;
            if message.is_none() {
                // A send whose answer was lost: the callback carries our id.
                if let Some(id) = r.callback_data.as_deref().and_then(|d| uuid::Uuid::parse_str(d).ok()) {
                    match tx.whatsapp().lock_message(id.into()).await {
                        Ok(m) if m.external_id.is_none() => {
                            tx.whatsapp().mark_sent(m.id, &r.external_id).await?;
                            tracing::info!(message = %m.id, "WhatsApp status reconciled a send whose answer was lost");
                            message = Some(tx.whatsapp().lock_message(m.id).await?);
                        }
                        Ok(_) | Err(leadzone_ports::RepoError::NotFound) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            let Some(message) = message else {
                tracing::info!(external_id = %r.external_id, "WhatsApp status for a message this tenant does not have; ignored");
                continue;
            };
            let Some(change) = rules::advance(message.status, message.delivered_at, message.read_at, r.status, r.at)
            else {
                continue;
            };
            let update = if change.status == WhatsAppStatus::Failed {
                let why = r.error_title.clone().unwrap_or_else(|| "WhatsApp could not deliver the message".into());
                if r.error_code == Some(131_050) {
                    tx.whatsapp().set_opt_out(&message.phone, Some(r.at)).await?;
                    self.audit_opt_change(
                        &*tx,
                        &message.phone,
                        true,
                        "WhatsApp reported the recipient stopped marketing messages (131050)",
                    )
                    .await?;
                }
                failed_update(&message, r.error_code, &why)
            } else {
                StatusUpdate {
                    status: change.status,
                    delivered_at: change.delivered_at,
                    read_at: change.read_at,
                    error_code: None,
                    error_message: None,
                }
            };
            tx.whatsapp().update_status(message.id, &update).await?;
            self.webhooks
                .emit(
                    &*tx,
                    leadzone_domain::webhooks::WebhookEvent::WhatsAppMessageStatus,
                    json!({
                        "messageId": message.id,
                        "leadId": message.lead_id,
                        "phone": message.phone,
                        "status": update.status,
                        "externalId": r.external_id,
                        "errorCode": update.error_code,
                    }),
                )
                .await?;
            changed += 1;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Inbound messages: the phone's window opens, an opt-out word opts it out (any other
    /// message from an opted-out phone opts it back in), and the text lands on the timeline of
    /// the tenant's leads with that phone.
    async fn apply_inbound(&self, tenant: TenantId, messages: &[InboundMessage]) -> Result<usize, AppError> {
        if messages.is_empty() {
            return Ok(0);
        }
        let tx = self.uow.begin(tenant).await?;
        for m in messages {
            let Ok(phone) = PhoneE164::parse(&format!("+{}", m.from.trim_start_matches('+'))) else {
                tracing::info!("WhatsApp inbound message from an unreadable number; ignored");
                continue;
            };
            let phone = phone.as_str().to_owned();
            let contact = tx.whatsapp().contact(&phone).await?;
            tx.whatsapp().record_inbound(&phone, m.at).await?;
            let text = m.text.clone().unwrap_or_default();
            let was_out = contact.is_some_and(|c| c.opted_out_at.is_some());
            if rules::is_opt_out(&text) {
                if !was_out {
                    tx.whatsapp().set_opt_out(&phone, Some(m.at)).await?;
                    self.audit_opt_change(&*tx, &phone, true, &format!("the recipient wrote {text:?}")).await?;
                }
            } else if was_out {
                tx.whatsapp().set_opt_out(&phone, None).await?;
                self.audit_opt_change(&*tx, &phone, false, "the recipient wrote again").await?;
            }
            for (lead, owner) in tx.whatsapp().leads_with_phone(&phone).await? {
                tx.activities()
                    .insert(&Activity {
                        id: self.ids.new_id().into(),
                        tenant_id: tenant,
                        lead_id: lead,
                        kind: ActivityType::WhatsApp,
                        description: format!("WhatsApp message from {phone}"),
                        metadata: Some(json!({"direction": "inbound", "externalId": m.id, "text": text})),
                        user_id: owner,
                        created_at: m.at,
                    })
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(messages.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_64_hex_digits_or_nothing() {
        let header = |digits: String| Some(format!("sha256={digits}"));
        assert_eq!(signature_of(header("ab".repeat(32)).as_deref()).map(|v| v.len()), Some(32));
        assert_eq!(signature_of(Some("sha256=")), None);
        assert_eq!(signature_of(None), None);
        assert_eq!(signature_of(header("ab".repeat(31)).as_deref()), None);
        assert_eq!(signature_of(header("abc".repeat(21)).as_deref()), None);
        assert_eq!(signature_of(header("zz".repeat(32)).as_deref()), None);
        assert_eq!(signature_of(Some(&"ab".repeat(32))), None, "the sha256= prefix is required");
    }
}
