//! The mail outbox: queued inside a tenant transaction (insert only, under row-level security),
//! claimed by workers without overlap, and emptied of its bodies.

use crate::{TENANT_A, TENANT_B, scalar_i64, seeded_db};
use leadzone_ports::mail::{MailOutbox, QueuedMail};
use leadzone_ports::tx::TenantTx;
use leadzone_postgres::{PgMailOutbox, PgUnitOfWork, PoolConfig, connect};
use sea_orm::ConnectionTrait;
use time::{Duration, OffsetDateTime};

fn mail(n: u128) -> QueuedMail {
    QueuedMail {
        id: uuid::Uuid::from_u128(0x4d41_0000 + n),
        to: format!("m{n}@example.sa"),
        subject: "s".into(),
        sealed_body: vec![1, 2, 3],
    }
}

fn tenant(id: &str) -> leadzone_domain::ids::TenantId {
    uuid::Uuid::parse_str(id).unwrap().into()
}

#[tokio::test]
async fn mail_is_queued_with_its_transaction_and_the_app_role_cannot_read_it_back() {
    // Setup
    let db = seeded_db().await;
    let uow = PgUnitOfWork::new(db.connect_as("leadzone_app").await);

    // Exec: one queued and committed, one queued and rolled back.
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    tx.outbox().queue(&mail(1)).await.unwrap();
    Box::new(tx).commit().await.unwrap();
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    tx.outbox().queue(&mail(2)).await.unwrap();
    drop(tx);

    // Check
    let owner = db.owner().await;
    assert_eq!(scalar_i64(&owner, "SELECT count(*) FROM mail_outbox").await, 1, "the rolled-back mail is gone");
    assert_eq!(
        scalar_i64(&owner, &format!("SELECT count(*) FROM mail_outbox WHERE tenant_id = '{TENANT_A}'")).await,
        1
    );
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    let err = tx.connection().execute_unprepared("SELECT * FROM mail_outbox").await.unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    drop(tx);
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    let err = tx
        .connection()
        .execute_unprepared(&format!(
            "INSERT INTO mail_outbox (id, tenant_id, to_email, subject) VALUES (gen_random_uuid(), '{TENANT_B}', 'x', 'y')"
        ))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn workers_never_claim_the_same_mail_and_bodies_are_erased() {
    // Setup: ten queued mails.
    let db = seeded_db().await;
    let uow = PgUnitOfWork::new(db.connect_as("leadzone_app").await);
    let tx = uow.begin_tenant(tenant(TENANT_A)).await.unwrap();
    for n in 0..10 {
        tx.outbox().queue(&mail(n)).await.unwrap();
    }
    Box::new(tx).commit().await.unwrap();
    let system = connect(&db.system_url(), &PoolConfig { max_connections: 4, ..Default::default() }).await.unwrap();
    let outbox = PgMailOutbox::new(system);
    let now = OffsetDateTime::now_utc();

    // Exec: two workers claim at once.
    let lease = now + Duration::minutes(5);
    let (a, b) = tokio::join!(outbox.claim(6, now, lease), outbox.claim(6, now, lease));
    let (a, b) = (a.unwrap(), b.unwrap());

    // Check: ten distinct mails between them, none claimable again while leased.
    let mut ids: Vec<_> = a.iter().chain(&b).map(|m| m.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert_eq!(a.len() + b.len(), 10);
    assert!(a.iter().chain(&b).all(|m| m.attempts == 1 && m.sealed_body == [1, 2, 3]));
    assert!(outbox.claim(10, now, lease).await.unwrap().is_empty(), "leased mail is not claimed twice");

    // Exec: one delivered, one to retry, one refused.
    let owner = db.owner().await;
    let [delivered, retry, refused] = [ids[0], ids[1], ids[2]];
    outbox.delivered(delivered, now).await.unwrap();
    outbox.failed(retry, "connection refused", Some(now + Duration::seconds(5)), now).await.unwrap();
    outbox.failed(refused, "550 no such user", None, now).await.unwrap();

    // Check
    let count = |sql: String| {
        let owner = &owner;
        async move { scalar_i64(owner, &sql).await }
    };
    let body_of =
        |id: uuid::Uuid| format!("SELECT count(*) FROM mail_outbox WHERE id = '{id}' AND body_sealed IS NULL");
    assert_eq!(count(body_of(delivered)).await, 1, "delivered mail loses its body");
    assert_eq!(count(body_of(refused)).await, 1, "refused mail loses its body");
    assert_eq!(count(body_of(retry)).await, 0, "mail to retry keeps its body");
    assert_eq!(outbox.claim(10, now + Duration::seconds(6), lease).await.unwrap().len(), 1, "only the retry is due");

    // Exec: everything older than a week loses its body.
    owner.execute_unprepared("UPDATE mail_outbox SET created_at = now() - interval '8 days'").await.unwrap();
    let erased = outbox.erase_older_than(now - Duration::days(7), now).await.unwrap();

    // Check
    assert_eq!(erased, 8);
    assert_eq!(count("SELECT count(*) FROM mail_outbox WHERE body_sealed IS NOT NULL".into()).await, 0);
    assert_eq!(count("SELECT count(*) FROM mail_outbox WHERE failed_at IS NOT NULL".into()).await, 9);
}
