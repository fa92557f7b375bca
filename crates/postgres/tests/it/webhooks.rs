//! The outbound webhook outbox: deliveries are written in the transaction of the change (a
//! rolled-back change leaves none), only for the tenant's own subscribed and enabled endpoints,
//! and claimed by the workers without overlap.

use crate::{TENANT_A, TENANT_B, USER, scalar_i64, seeded_db};
use leadzone_ports::tx::TenantTx;
use leadzone_ports::webhooks::{AttemptRecord, WebhookEndpoint, WebhookOutbox};
use leadzone_postgres::{PgUnitOfWork, PgWebhookOutbox};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

fn tenant(id: &str) -> leadzone_domain::ids::TenantId {
    Uuid::parse_str(id).unwrap().into()
}

fn endpoint(n: u128, tenant_id: &str, events: &[&str], enabled: bool) -> WebhookEndpoint {
    let now = OffsetDateTime::now_utc();
    WebhookEndpoint {
        id: Uuid::from_u128(0xe000 + n),
        tenant_id: tenant(tenant_id),
        url: format!("https://hooks{n}.example.sa/in"),
        description: None,
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: vec![9, 9, 9],
        enabled,
        disabled_reason: None,
        failing_since: None,
        created_by: Uuid::parse_str(USER).unwrap().into(),
        created_at: now,
        updated_at: now,
    }
}

fn ids(base: u128) -> Vec<Uuid> {
    (0..10).map(|i| Uuid::from_u128(base + i)).collect()
}

#[tokio::test]
async fn deliveries_are_written_with_the_change_for_the_tenants_own_subscribed_endpoints() {
    // Setup: A has two endpoints for lead.created (one disabled) and one for job.failed; B has one.
    let db = seeded_db().await;
    let uow = PgUnitOfWork::new(db.connect_as("leadzone_app").await);
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    tx.webhooks().insert_endpoint(&endpoint(1, TENANT_A, &["lead.created", "lead.updated"], true)).await.unwrap();
    tx.webhooks().insert_endpoint(&endpoint(2, TENANT_A, &["lead.created"], false)).await.unwrap();
    tx.webhooks().insert_endpoint(&endpoint(3, TENANT_A, &["job.failed"], true)).await.unwrap();
    Box::new(tx).commit().await.unwrap();
    let tx = uow.begin_tenant(tenant(TENANT_B)).await.unwrap();
    tx.webhooks().insert_endpoint(&endpoint(4, TENANT_B, &["lead.created"], true)).await.unwrap();
    Box::new(tx).commit().await.unwrap();
    let now = OffsetDateTime::now_utc();

    // Exec: one event committed, one rolled back.
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    let n =
        tx.webhooks().enqueue(Uuid::from_u128(1), "lead.created", &json!({"a": 1}), &ids(0x1000), now).await.unwrap();
    Box::new(tx).commit().await.unwrap();
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    tx.webhooks().enqueue(Uuid::from_u128(2), "lead.created", &json!({"a": 2}), &ids(0x2000), now).await.unwrap();
    drop(tx);

    // Check: one delivery, to A's enabled subscribed endpoint; nothing of the rollback; B untouched.
    assert_eq!(n, 1);
    let owner = db.owner().await;
    assert_eq!(scalar_i64(&owner, "SELECT count(*) FROM webhook_deliveries").await, 1);
    assert_eq!(
        scalar_i64(
            &owner,
            &format!(
                "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '{}'",
                endpoint(1, TENANT_A, &[], true).id
            )
        )
        .await,
        1
    );

    // The workers claim it once; a second claim in the lease finds nothing.
    let outbox = PgWebhookOutbox::new(db.connect_as("leadzone_system").await);
    let lease = std::time::Duration::from_secs(60);
    let claimed = outbox.claim_due(OffsetDateTime::now_utc(), lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].url, "https://hooks1.example.sa/in");
    assert_eq!(claimed[0].sealed_secret, vec![9, 9, 9]);
    assert!(outbox.claim_due(OffsetDateTime::now_utc(), lease, 10).await.unwrap().is_empty());

    // A failure keeps it pending for later and starts the endpoint's failing streak; a success
    // delivers it and ends the streak.
    let at = OffsetDateTime::now_utc();
    let d = &claimed[0].delivery;
    let failed = AttemptRecord {
        at,
        status: Some(500),
        latency_ms: 3,
        error: Some("HTTP 500".into()),
        delivered: false,
        next_attempt_at: Some(at),
    };
    outbox.record(d, &failed).await.unwrap();
    assert_eq!(scalar_i64(&owner, "SELECT count(*) FROM webhook_endpoints WHERE failing_since IS NOT NULL").await, 1);
    let again = outbox.claim_due(OffsetDateTime::now_utc(), lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.attempts, 1);
    assert_eq!(again[0].delivery.event_id, Uuid::from_u128(1), "the same webhook-id on every attempt");
    let ok = AttemptRecord { status: Some(204), error: None, delivered: true, next_attempt_at: None, ..failed };
    outbox.record(&again[0].delivery, &ok).await.unwrap();
    assert_eq!(
        scalar_i64(&owner, "SELECT count(*) FROM webhook_deliveries WHERE status = 'DELIVERED' AND attempts = 2").await,
        1
    );
    assert_eq!(scalar_i64(&owner, "SELECT jsonb_array_length(history)::bigint FROM webhook_deliveries").await, 2);
    assert_eq!(scalar_i64(&owner, "SELECT count(*) FROM webhook_endpoints WHERE failing_since IS NOT NULL").await, 0);
}
