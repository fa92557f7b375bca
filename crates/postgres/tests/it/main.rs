//! Integration tests of the Postgres adapter against a real PostgreSQL: one fresh database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod blobs;
mod jobs;
mod mail;
mod repos;
mod schema;
mod tenancy;
mod webhooks;

use leadzone_testkit::TestDb;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

pub const TENANT_A: &str = "0190f0a8-0000-7000-8000-00000000000a";
pub const TENANT_B: &str = "0190f0a8-0000-7000-8000-00000000000b";
pub const USER: &str = "0190f0a8-0000-7000-8000-000000000001";

/// Two tenants, one user who belongs to both, a free subscription and one lead and audit row each.
pub async fn seed_two_tenants(db: &TestDb) {
    let owner = db.owner().await;
    owner
        .execute_unprepared(&format!(
            "INSERT INTO users (id, email, password_hash, name) VALUES ('{USER}', 'sara@example.sa', 'x', 'Sara');
             INSERT INTO tenants (id, name, slug) VALUES ('{TENANT_A}', 'A', 'tenant-a'), ('{TENANT_B}', 'B', 'tenant-b');
             INSERT INTO memberships (user_id, tenant_id, role) VALUES ('{USER}', '{TENANT_A}', 'OWNER'), ('{USER}', '{TENANT_B}', 'OWNER');
             INSERT INTO subscriptions (tenant_id, plan_id, current_period_start, current_period_end)
               VALUES ('{TENANT_A}', 'free', now(), now() + interval '30 days'),
                      ('{TENANT_B}', 'free', now(), now() + interval '30 days');
             INSERT INTO leads (tenant_id, company_name, created_by) VALUES ('{TENANT_A}', 'Lead of A', '{USER}'), ('{TENANT_B}', 'Lead of B', '{USER}');
             INSERT INTO audit_logs (tenant_id, event_type, action) VALUES ('{TENANT_A}', 'AUTH_LOGIN', 'a'), ('{TENANT_B}', 'AUTH_LOGIN', 'b');"
        ))
        .await
        .unwrap();
    owner.close().await.unwrap();
}

/// A fresh database with [`seed_two_tenants`]' rows.
pub async fn seeded_db() -> TestDb {
    let db = TestDb::new().await;
    seed_two_tenants(&db).await;
    db
}

pub async fn scalar_i64(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned())).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

pub async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}
