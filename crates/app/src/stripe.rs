//! Stripe webhooks: `Stripe-Signature` (`t=…,v1=…`, HMAC-SHA256 of `t.payload`, 5-minute
//! tolerance, constant-time comparison), each event id applied once (recorded in the same
//! transaction as its change), out-of-order delivery resolved by the event's `created` time.

use crate::admin::{constant_time_eq, hex_decode};
use crate::{AppError, audit};
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

impl crate::billing::Billing {
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

#[cfg(test)]
mod tests {
    //! Stripe's delivery order is not the order of its events: these prove, without a database,
    //! that a replay changes nothing, a stale event is audited but never applied, a newer one is,
    //! and an event type we do not handle reaches no store at all.
    use super::*;
    use crate::testing::{FakeTx, now, plan, ports_with_txs, subscription};
    use leadzone_domain::ids::TenantId;
    use std::sync::Arc;

    const SECRET: &str = "whsec_test";
    /// What the mocked `Tokens::hmac_sha256` answers for any input; the header below carries it.
    const MAC: [u8; 4] = [0xAB, 0xCD, 0x01, 0x23];

    fn tenant() -> TenantId {
        uuid::Uuid::from_u128(0xA).into()
    }

    /// An app with the Stripe secret set, a signing mock, and the lookup of `sub_1` to the tenant
    /// (expected `lookups` times).
    fn stripe_app(txs: Vec<FakeTx>, lookups: usize) -> crate::App {
        let mut ports = ports_with_txs(txs);
        std::sync::Arc::make_mut(&mut ports.config).stripe_webhook_secret = Some(secrecy::SecretString::from(SECRET));
        let mut tokens = leadzone_ports::security::MockTokens::new();
        tokens.expect_hmac_sha256().withf(|key, _| key == SECRET.as_bytes()).returning(|_, _| MAC.to_vec());
        ports.tokens = Arc::new(tokens);
        let mut found = leadzone_ports::lookups::MockLookups::new();
        found
            .expect_tenant_by_stripe_subscription()
            .withf(|id| id == "sub_1")
            .times(lookups)
            .returning(|_| Ok(Some(tenant())));
        ports.lookups = Arc::new(found);
        crate::App::new(ports)
    }

    fn header() -> String {
        format!("t={},v1=abcd0123", now().unix_timestamp())
    }

    fn event(kind: &str, created: OffsetDateTime) -> Vec<u8> {
        json!({
            "id": "evt_1", "type": kind, "created": created.unix_timestamp(),
            "data": {"object": {"subscription": "sub_1", "id": "sub_1", "period_end": (now() + Duration::days(31)).unix_timestamp()}}
        })
        .to_string()
        .into_bytes()
    }

    /// A transaction in which the event is new and the subscription is `status`, last changed by
    /// an event created at `last`.
    fn fresh_event_tx(status: SubscriptionStatus, last: Option<OffsetDateTime>) -> FakeTx {
        let mut tx = FakeTx::default();
        tx.subscriptions
            .expect_record_webhook_event()
            .withf(|provider, id, _| provider == "stripe" && id == "evt_1")
            .times(1)
            .returning(|_, _, _| Ok(true));
        tx.subscriptions.expect_current_with_plan().returning(move || {
            let mut s = subscription(status);
            s.stripe_event_at = last;
            Ok((s, plan(1000)))
        });
        tx
    }

    fn expect_audit(tx: &mut FakeTx, stale: bool, after: SubscriptionStatus) {
        tx.audit
            .expect_append()
            .withf(move |e| {
                let meta = e.details.metadata.as_ref();
                meta.and_then(|m| m["stale"].as_bool()) == Some(stale)
                    && e.details.after == Some(json!({"status": after}))
            })
            .times(1)
            .returning(|_| Ok(()));
    }

    #[tokio::test]
    async fn an_event_older_than_the_last_applied_is_audited_as_stale_and_changes_nothing() {
        // The subscription went PAST_DUE by an event at now; a `paid` created a minute earlier
        // arrives after it. `update` has no expectation: calling it fails the test.
        let mut tx = fresh_event_tx(SubscriptionStatus::PastDue, Some(now()));
        expect_audit(&mut tx, true, SubscriptionStatus::PastDue);
        let commits = tx.commits.clone();
        let app = stripe_app(vec![tx], 1);
        let outcome = app
            .billing
            .stripe_webhook(Some(&header()), &event("invoice.paid", now() - Duration::minutes(1)))
            .await
            .unwrap();
        assert_eq!(outcome, WebhookOutcome::Applied);
        // The event id and the audit row are kept.
        assert_eq!(commits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_newer_event_is_applied_and_remembered_as_the_last() {
        let created = now() - Duration::minutes(1);
        let mut tx = fresh_event_tx(SubscriptionStatus::PastDue, Some(now() - Duration::hours(1)));
        tx.subscriptions
            .expect_update()
            .withf(move |s| {
                s.status == SubscriptionStatus::Active
                    && s.stripe_event_at == Some(created)
                    // The event's period end, not the 30-day fallback.
                    && s.current_period_end == now() + Duration::days(31)
            })
            .times(1)
            .returning(|_| Ok(()));
        expect_audit(&mut tx, false, SubscriptionStatus::Active);
        let commits = tx.commits.clone();
        let app = stripe_app(vec![tx], 1);
        assert_eq!(
            app.billing.stripe_webhook(Some(&header()), &event("invoice.paid", created)).await.unwrap(),
            WebhookOutcome::Applied
        );
        assert_eq!(commits.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_replayed_event_reads_and_writes_nothing_else() {
        let mut tx = FakeTx::default();
        tx.subscriptions.expect_record_webhook_event().times(1).returning(|_, _, _| Ok(false));
        // No `current_with_plan`, `update` or audit expectation: any of them fails the test.
        let app = stripe_app(vec![tx], 1);
        assert_eq!(
            app.billing.stripe_webhook(Some(&header()), &event("invoice.payment_failed", now())).await.unwrap(),
            WebhookOutcome::Replayed
        );
    }

    #[tokio::test]
    async fn an_event_type_we_do_not_handle_is_ignored_before_any_lookup() {
        // No transaction prepared and the lookup expected zero times.
        let app = stripe_app(vec![], 0);
        assert_eq!(
            app.billing.stripe_webhook(Some(&header()), &event("customer.subscription.updated", now())).await.unwrap(),
            WebhookOutcome::Ignored
        );
    }

    #[tokio::test]
    async fn a_bad_signature_is_refused_before_the_body_is_read() {
        let app = stripe_app(vec![], 0);
        let forged = format!("t={},v1=00000000", now().unix_timestamp());
        let err = app.billing.stripe_webhook(Some(&forged), &event("invoice.paid", now())).await.unwrap_err();
        assert_eq!(err, AppError::BadRequest("Stripe-Signature: no valid v1 signature".into()));
        let late = format!("t={},v1=abcd0123", (now() - Duration::minutes(6)).unix_timestamp());
        let err = app.billing.stripe_webhook(Some(&late), &event("invoice.paid", now())).await.unwrap_err();
        assert_eq!(err, AppError::BadRequest("Stripe-Signature: timestamp outside the tolerance".into()));
    }
}
