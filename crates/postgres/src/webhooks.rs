//! `webhook_endpoints` and `webhook_deliveries`: the tenant's side (`WebhookRepo`) and the
//! workers' side of the outbox (`PgWebhookOutbox`, the system role).

use crate::error::db_err;
use crate::stmt;
use crate::tx::PgTenantTx;
use leadzone_domain::ids::TenantId;
use leadzone_ports::RepoError;
use leadzone_ports::webhooks::{
    AttemptRecord, DueDelivery, WebhookDelivery, WebhookEndpoint, WebhookOutbox, WebhookRepo,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, description, events, secret, enabled, disabled_reason, \
     failing_since, created_by, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "id, tenant_id, endpoint_id, event_id, event_type, payload, status, attempts, \
     next_attempt_at, history, created_at, delivered_at";

fn endpoint_from(r: &QueryResult) -> Result<WebhookEndpoint, RepoError> {
    Ok(WebhookEndpoint {
        id: r.try_get("", "id").map_err(db_err)?,
        tenant_id: r.try_get::<Uuid>("", "tenant_id").map_err(db_err)?.into(),
        url: r.try_get("", "url").map_err(db_err)?,
        description: r.try_get("", "description").map_err(db_err)?,
        events: r.try_get("", "events").map_err(db_err)?,
        secret: r.try_get("", "secret").map_err(db_err)?,
        enabled: r.try_get("", "enabled").map_err(db_err)?,
        disabled_reason: r.try_get("", "disabled_reason").map_err(db_err)?,
        failing_since: r.try_get("", "failing_since").map_err(db_err)?,
        created_by: r.try_get::<Uuid>("", "created_by").map_err(db_err)?.into(),
        created_at: r.try_get("", "created_at").map_err(db_err)?,
        updated_at: r.try_get("", "updated_at").map_err(db_err)?,
    })
}

fn delivery_from(r: &QueryResult) -> Result<WebhookDelivery, RepoError> {
    Ok(WebhookDelivery {
        id: r.try_get("", "id").map_err(db_err)?,
        tenant_id: r.try_get::<Uuid>("", "tenant_id").map_err(db_err)?.into(),
        endpoint_id: r.try_get("", "endpoint_id").map_err(db_err)?,
        event_id: r.try_get("", "event_id").map_err(db_err)?,
        event_type: r.try_get("", "event_type").map_err(db_err)?,
        payload: r.try_get("", "payload").map_err(db_err)?,
        status: r.try_get("", "status").map_err(db_err)?,
        attempts: r.try_get("", "attempts").map_err(db_err)?,
        next_attempt_at: r.try_get("", "next_attempt_at").map_err(db_err)?,
        history: r.try_get("", "history").map_err(db_err)?,
        created_at: r.try_get("", "created_at").map_err(db_err)?,
        delivered_at: r.try_get("", "delivered_at").map_err(db_err)?,
    })
}

#[async_trait::async_trait]
impl WebhookRepo for PgTenantTx {
    async fn endpoints(&self) -> Result<Vec<WebhookEndpoint>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(stmt(
                &format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id"
                ),
                vec![self.tid().into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(endpoint_from).collect()
    }

    async fn endpoint(&self, id: Uuid) -> Result<WebhookEndpoint, RepoError> {
        let row = self
            .txn
            .query_one_raw(stmt(
                &format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2"),
                vec![self.tid().into(), id.into()],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        endpoint_from(&row)
    }

    async fn insert_endpoint(&self, e: &WebhookEndpoint) -> Result<(), RepoError> {
        self.txn
            .execute_raw(stmt(
                "INSERT INTO webhook_endpoints (id, tenant_id, url, description, events, secret, enabled, disabled_reason,
                   failing_since, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                vec![
                    e.id.into(),
                    self.tid().into(),
                    e.url.clone().into(),
                    e.description.clone().into(),
                    e.events.clone().into(),
                    e.secret.clone().into(),
                    e.enabled.into(),
                    e.disabled_reason.clone().into(),
                    e.failing_since.into(),
                    e.created_by.as_uuid().into(),
                    e.created_at.into(),
                    e.updated_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn update_endpoint(&self, e: &WebhookEndpoint) -> Result<(), RepoError> {
        let done = self
            .txn
            .execute_raw(stmt(
                "UPDATE webhook_endpoints SET url = $3, description = $4, events = $5, enabled = $6,
                   disabled_reason = $7, failing_since = $8, updated_at = $9
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    self.tid().into(),
                    e.id.into(),
                    e.url.clone().into(),
                    e.description.clone().into(),
                    e.events.clone().into(),
                    e.enabled.into(),
                    e.disabled_reason.clone().into(),
                    e.failing_since.into(),
                    e.updated_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, RepoError> {
        let done = self
            .txn
            .execute_raw(stmt(
                "DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2",
                vec![self.tid().into(), id.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn enqueue(
        &self,
        event_id: Uuid,
        event_type: &str,
        payload: &serde_json::Value,
        ids: &[Uuid],
        at: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        // One delivery per subscribed endpoint, each with one of the ids the caller made (UUIDv7,
        // as every id): endpoints are numbered in a stable order and take the id of their rank.
        let done = self
            .txn
            .execute_raw(stmt(
                "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, event_type, payload, status,
                   next_attempt_at, created_at)
                 SELECT ($6::uuid[])[e.n], $1, e.id, $2, $3, $4, 'PENDING', $5, $5
                 FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM webhook_endpoints
                       WHERE tenant_id = $1 AND enabled AND $3 = ANY(events)) AS e
                 WHERE e.n <= cardinality($6::uuid[])",
                vec![
                    self.tid().into(),
                    event_id.into(),
                    event_type.into(),
                    payload.clone().into(),
                    at.into(),
                    ids.to_vec().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn deliveries(
        &self,
        endpoint: Uuid,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u64,
    ) -> Result<Vec<WebhookDelivery>, RepoError> {
        let (condition, mut values): (&str, Vec<sea_orm::Value>) = match before {
            Some((at, id)) => ("AND (created_at, id) < ($3, $4)", vec![at.into(), id.into()]),
            None => ("", vec![]),
        };
        let mut all: Vec<sea_orm::Value> = vec![self.tid().into(), endpoint.into()];
        all.append(&mut values);
        let rows = self
            .txn
            .query_all_raw(stmt(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 {condition}
                     ORDER BY created_at DESC, id DESC LIMIT {limit}"
                ),
                all,
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(delivery_from).collect()
    }

    async fn retry_delivery(
        &self,
        endpoint: Uuid,
        delivery: Uuid,
        at: OffsetDateTime,
    ) -> Result<WebhookDelivery, RepoError> {
        let row = self
            .txn
            .query_one_raw(stmt(
                &format!(
                    "UPDATE webhook_deliveries SET status = 'PENDING', next_attempt_at = $4, locked_until = NULL
                     WHERE tenant_id = $1 AND endpoint_id = $2 AND id = $3
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                vec![self.tid().into(), endpoint.into(), delivery.into(), at.into()],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        delivery_from(&row)
    }
}

/// The outbox as the delivering workers see it (the system role, across tenants).
#[derive(Clone)]
pub struct PgWebhookOutbox {
    db: DatabaseConnection,
}

impl PgWebhookOutbox {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl WebhookOutbox for PgWebhookOutbox {
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: std::time::Duration,
        limit: u64,
    ) -> Result<Vec<DueDelivery>, RepoError> {
        let until = now + time::Duration::try_from(lease).unwrap_or(time::Duration::MINUTE);
        let rows = self
            .db
            .query_all_raw(stmt(
                &format!(
                    "WITH due AS (
                       SELECT d.id FROM webhook_deliveries d
                       JOIN webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id
                       WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1
                         AND (d.locked_until IS NULL OR d.locked_until < $1) AND e.enabled
                       ORDER BY d.next_attempt_at
                       LIMIT {limit}
                       FOR UPDATE OF d SKIP LOCKED)
                     UPDATE webhook_deliveries w SET locked_until = $2
                     FROM due, webhook_endpoints e
                     WHERE w.id = due.id AND e.tenant_id = w.tenant_id AND e.id = w.endpoint_id
                     RETURNING {}, e.url, e.secret, e.failing_since",
                    DELIVERY_COLUMNS.split(", ").map(|c| format!("w.{c}")).collect::<Vec<_>>().join(", ")
                ),
                vec![now.into(), until.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    delivery: delivery_from(r)?,
                    url: r.try_get("", "url").map_err(db_err)?,
                    sealed_secret: r.try_get("", "secret").map_err(db_err)?,
                    failing_since: r.try_get("", "failing_since").map_err(db_err)?,
                })
            })
            .collect()
    }

    async fn record(&self, d: &WebhookDelivery, a: &AttemptRecord) -> Result<(), RepoError> {
        let entry = json!([{
            "at": a.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "status": a.status,
            "latencyMs": a.latency_ms,
            "error": a.error,
        }]);
        let status = if a.delivered {
            "DELIVERED"
        } else if a.next_attempt_at.is_some() {
            "PENDING"
        } else {
            "FAILED"
        };
        self.db
            .execute_raw(stmt(
                "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, next_attempt_at = $4,
                   locked_until = NULL, history = history || $5::jsonb,
                   delivered_at = CASE WHEN $3 = 'DELIVERED' THEN $6 ELSE delivered_at END
                 WHERE tenant_id = $1 AND id = $2",
                vec![
                    d.tenant_id.as_uuid().into(),
                    d.id.into(),
                    status.into(),
                    a.next_attempt_at.into(),
                    entry.into(),
                    a.at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        let streak = if a.delivered {
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE tenant_id = $1 AND id = $2 AND failing_since IS NOT NULL"
        } else {
            "UPDATE webhook_endpoints SET failing_since = $3 WHERE tenant_id = $1 AND id = $2 AND failing_since IS NULL"
        };
        let mut values: Vec<sea_orm::Value> = vec![d.tenant_id.as_uuid().into(), d.endpoint_id.into()];
        if !a.delivered {
            values.push(a.at.into());
        }
        self.db.execute_raw(stmt(streak, values)).await.map_err(db_err)?;
        Ok(())
    }

    async fn disable(
        &self,
        tenant: TenantId,
        endpoint: Uuid,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        self.db
            .execute_raw(stmt(
                "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $3, updated_at = $4
                 WHERE tenant_id = $1 AND id = $2",
                vec![tenant.as_uuid().into(), endpoint.into(), reason.into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
