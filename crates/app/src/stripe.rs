//! Stripe webhooks: `Stripe-Signature` (`t=…,v1=…`, HMAC-SHA256 of `t.payload`, 5-minute
//! tolerance, constant-time comparison), each event id applied once (recorded in the same
//! transaction as its change), out-of-order delivery resolved by the event's `created` time.

use crate::admin::{constant_time_eq, hex_decode};
use crate::{App, AppError, audit};
use leadzone_domain::entities::AuditDetails;
use leadzone_domain::enums::{AuditEventType, SubscriptionStatus};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

pub const TOLERANCE_SECS: i64 = 300;

/// What happened to a delivered event (all are answered 200: Stripe must not retry them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Applied,
    /// Seen before (same event id): nothing done.
    Replayed,
    /// Not about a subscription we know, or a type we do not handle.
    Ignored,
}

/// The Stripe event types the webhook acts on; every other type is logged and ignored, never
/// mapped to a subscription state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StripeEvent {
    InvoicePaid,
    InvoicePaymentFailed,
    SubscriptionDeleted,
}

impl StripeEvent {
    fn as_str(self) -> &'static str {
        match self {
            Self::InvoicePaid => "invoice.paid",
            Self::InvoicePaymentFailed => "invoice.payment_failed",
            Self::SubscriptionDeleted => "customer.subscription.deleted",
        }
    }

    fn parse(kind: &str) -> Option<Self> {
        match kind {
            "invoice.paid" => Some(Self::InvoicePaid),
            "invoice.payment_failed" => Some(Self::InvoicePaymentFailed),
            "customer.subscription.deleted" => Some(Self::SubscriptionDeleted),
            _ => None,
        }
    }
}

impl App {
    /// Verifies the signature header against the raw body.
    fn verify_stripe(&self, secret: &str, header: Option<&str>, body: &[u8]) -> Result<(), AppError> {
        let bad = |why: &str| AppError::BadRequest(format!("Stripe-Signature: {why}"));
        let header = header.ok_or_else(|| bad("missing"))?;
        let mut t: Option<i64> = None;
        let mut signatures: Vec<Vec<u8>> = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse().ok(),
                Some(("v1", v)) => signatures.extend(hex_decode(v)),
                _ => {}
            }
        }
        let t = t.ok_or_else(|| bad("no timestamp"))?;
        if (self.clock.now().unix_timestamp() - t).abs() > TOLERANCE_SECS {
            return Err(bad("timestamp outside the tolerance"));
        }
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(body);
        let expected = self.tokens.hmac_sha256(secret.as_bytes(), &signed);
        if signatures.iter().any(|s| constant_time_eq(s, &expected)) {
            Ok(())
        } else {
            Err(bad("no valid v1 signature"))
        }
    }

    /// `POST /webhooks/stripe`.
    pub async fn stripe_webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<WebhookOutcome, AppError> {
        use secrecy::ExposeSecret;
        let secret = self.config.stripe_webhook_secret.as_ref().ok_or(AppError::NotFound)?;
        self.verify_stripe(secret.expose_secret(), signature, body)?;
        let event: Value =
            serde_json::from_slice(body).map_err(|_| AppError::BadRequest("the event is not JSON".into()))?;
        let (Some(id), Some(kind), Some(created)) =
            (at(&event, "/id").as_str(), at(&event, "/type").as_str(), at(&event, "/created").as_i64())
        else {
            return Err(AppError::BadRequest("the event lacks id, type or created".into()));
        };
        let created =
            OffsetDateTime::from_unix_timestamp(created).map_err(|_| AppError::BadRequest("bad created".into()))?;
        let object = at(&event, "/data/object");
        let Some(kind) = StripeEvent::parse(kind) else {
            tracing::info!(event = id, kind, "Stripe event type not handled; ignored");
            return Ok(WebhookOutcome::Ignored);
        };
        let stripe_sub = match kind {
            StripeEvent::InvoicePaid | StripeEvent::InvoicePaymentFailed => at(object, "/subscription").as_str(),
            StripeEvent::SubscriptionDeleted => at(object, "/id").as_str(),
        };
        let Some(stripe_sub) = stripe_sub else { return Ok(WebhookOutcome::Ignored) };
        let Some(tenant) = self.lookups.tenant_by_stripe_subscription(stripe_sub).await? else {
            return Ok(WebhookOutcome::Ignored);
        };

        let tx = self.uow.begin(tenant).await?;
        if !tx.subscriptions().record_webhook_event("stripe", id, created).await? {
            return Ok(WebhookOutcome::Replayed);
        }
        let (before, _) = tx.subscriptions().current_with_plan().await?;
        let (target, event_type) = match kind {
            StripeEvent::InvoicePaid => (SubscriptionStatus::Active, AuditEventType::PaymentSucceeded),
            StripeEvent::InvoicePaymentFailed => (SubscriptionStatus::PastDue, AuditEventType::PaymentFailed),
            StripeEvent::SubscriptionDeleted => (SubscriptionStatus::Cancelled, AuditEventType::SubscriptionCancelled),
        };
        // An event older than the last one applied is recorded (audit) but changes nothing.
        let stale = before.stripe_event_at.is_some_and(|last| created < last);
        let mut after = before.clone();
        if !stale && before.status.can_transition_to(target) {
            after.status = target;
            after.stripe_event_at = Some(created);
            if kind == StripeEvent::InvoicePaid {
                let end = at(object, "/period_end")
                    .as_i64()
                    .or_else(|| at(object, "/lines/data/0/period/end").as_i64())
                    .and_then(|e| OffsetDateTime::from_unix_timestamp(e).ok())
                    .unwrap_or(self.clock.now() + Duration::days(30));
                after.current_period_start = self.clock.now();
                after.current_period_end = end;
            }
            after.updated_at = self.clock.now();
            tx.subscriptions().update(&after).await?;
        } else if !stale {
            after.stripe_event_at = Some(created);
            tx.subscriptions().update(&after).await?;
        }
        let row = audit::system_entry(
            &*self.ids,
            event_type,
            Some((leadzone_domain::enums::AuditEntityType::Subscription, before.id.as_uuid())),
            format!("stripe {}", kind.as_str()),
            AuditDetails {
                before: Some(json!({"status": before.status})),
                after: Some(json!({"status": after.status})),
                metadata: Some(json!({"eventId": id, "created": created.unix_timestamp(), "stale": stale})),
            },
        );
        tx.audit().append(&row).await?;
        tx.commit().await?;
        Ok(WebhookOutcome::Applied)
    }
}

/// A JSON pointer lookup that reads missing parts as null.
fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}
