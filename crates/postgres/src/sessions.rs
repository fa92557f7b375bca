//! Login sessions, failed-login counts and spent TOTP steps, on a `leadzone_system` connection.

use crate::error::db_err;
use crate::mapping::stored as parse;
use leadzone_domain::ids::{SessionId, TenantId, UserId};
use leadzone_ports::RepoError;
use leadzone_ports::sessions::{
    LoginFailures, NewSession, RefreshOutcome, RotatedTokens, SessionPrincipal, SessionStore,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, TransactionTrait};
use std::net::IpAddr;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgSessions {
    db: DatabaseConnection,
}

impl PgSessions {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A session with its user's membership and tenant state.
const PRINCIPAL_SQL: &str = "SELECT s.id, s.user_id, s.tenant_id, s.access_expires_at,
        m.role, m.status AS membership_status, t.status AS tenant_status,
        (SELECT b.status FROM subscriptions b WHERE b.tenant_id = s.tenant_id) AS subscription_status
   FROM sessions s
   JOIN memberships m ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id
   JOIN tenants t ON t.id = s.tenant_id";

fn principal(row: &QueryResult) -> Result<SessionPrincipal, RepoError> {
    let get_uuid = |col: &str| row.try_get::<uuid::Uuid>("", col).map_err(db_err);
    let get_str = |col: &str| row.try_get::<String>("", col).map_err(db_err);
    let subscription_status: Option<String> = row.try_get("", "subscription_status").map_err(db_err)?;
    Ok(SessionPrincipal {
        subscription_status: subscription_status.as_deref().map(parse).transpose()?,
        session_id: get_uuid("id")?.into(),
        user_id: get_uuid("user_id")?.into(),
        tenant_id: get_uuid("tenant_id")?.into(),
        role: parse(&get_str("role")?)?,
        membership_status: parse(&get_str("membership_status")?)?,
        tenant_status: parse(&get_str("tenant_status")?)?,
        access_expires_at: row.try_get("", "access_expires_at").map_err(db_err)?,
    })
}

#[async_trait::async_trait]
impl SessionStore for PgSessions {
    async fn create_session(&self, s: &NewSession) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "INSERT INTO sessions (id, user_id, tenant_id, access_token_hash, access_expires_at,
                                       refresh_token_hash, refresh_expires_at, ip_address, user_agent)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::inet, $9)",
                vec![
                    s.id.as_uuid().into(),
                    s.user_id.as_uuid().into(),
                    s.tenant_id.as_uuid().into(),
                    s.access_token_hash.clone().into(),
                    s.access_expires_at.into(),
                    s.refresh_token_hash.clone().into(),
                    s.refresh_expires_at.into(),
                    s.ip_address.map(|ip| ip.to_string()).into(),
                    s.user_agent.clone().into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn session_by_access_hash(
        &self,
        access_token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SessionPrincipal>, RepoError> {
        let row = self
            .db
            .query_one_raw(crate::stmt(
                &format!("{PRINCIPAL_SQL} WHERE s.access_token_hash = $1 AND s.revoked_at IS NULL AND s.access_expires_at > $2"),
                vec![access_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        row.map(|r| principal(&r)).transpose()
    }

    async fn record_login(&self, user: UserId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "UPDATE users SET last_login_at = $2 WHERE id = $1",
                vec![user.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn claim_totp_step(&self, user: UserId, step: i64) -> Result<bool, RepoError> {
        let done = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE users SET totp_last_step = $2
                  WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
                vec![user.as_uuid().into(), step.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rotate_refresh(
        &self,
        refresh_token_hash: &str,
        new: &RotatedTokens,
        now: OffsetDateTime,
    ) -> Result<RefreshOutcome, RepoError> {
        let txn = self.db.begin().await.map_err(db_err)?;
        let live = txn
            .query_one_raw(crate::stmt(
                "SELECT id FROM sessions
                  WHERE refresh_token_hash = $1 AND revoked_at IS NULL AND refresh_expires_at > $2
                  FOR UPDATE",
                vec![refresh_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        if let Some(row) = live {
            let id: uuid::Uuid = row.try_get("", "id").map_err(db_err)?;
            txn.execute_raw(crate::stmt(
                "INSERT INTO session_rotated_tokens (token_hash, session_id, rotated_at) VALUES ($1, $2, $3)",
                vec![refresh_token_hash.into(), id.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
            txn.execute_raw(crate::stmt(
                "UPDATE sessions SET access_token_hash = $2, access_expires_at = $3,
                                     refresh_token_hash = $4, refresh_expires_at = $5
                  WHERE id = $1",
                vec![
                    id.into(),
                    new.access_token_hash.clone().into(),
                    new.access_expires_at.into(),
                    new.refresh_token_hash.clone().into(),
                    new.refresh_expires_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
            let row = txn
                .query_one_raw(crate::stmt(&format!("{PRINCIPAL_SQL} WHERE s.id = $1"), vec![id.into()]))
                .await
                .map_err(db_err)?;
            txn.commit().await.map_err(db_err)?;
            return match row {
                Some(r) => Ok(RefreshOutcome::Rotated(principal(&r)?)),
                // The user is no longer a member of the session's tenant.
                None => Ok(RefreshOutcome::Invalid),
            };
        }
        // Not live: a rotated-away token presented again means it leaked; end the whole session.
        let reused = txn
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2)
                  WHERE id = (SELECT session_id FROM session_rotated_tokens WHERE token_hash = $1)",
                vec![refresh_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        Ok(if reused.rows_affected() > 0 { RefreshOutcome::Reused } else { RefreshOutcome::Invalid })
    }

    async fn revoke_session(&self, session: SessionId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                vec![session.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_tenant_sessions(
        &self,
        user: UserId,
        tenant: TenantId,
        at: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND tenant_id = $2 AND revoked_at IS NULL",
                vec![user.as_uuid().into(), tenant.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        at: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE sessions SET revoked_at = $3
                  WHERE user_id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR id <> $2)",
                vec![user.as_uuid().into(), keep.map(|k| k.as_uuid()).into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn login_failures(
        &self,
        email: &str,
        ip: Option<IpAddr>,
        since: OffsetDateTime,
    ) -> Result<LoginFailures, RepoError> {
        // One pass over the email's rows in the window (idx_login_failures_email): the ceiling
        // across clients needs them all, and this client's are among them.
        let row = self
            .db
            .query_one_raw(crate::stmt(
                "SELECT count(*) FILTER (WHERE ip IS NOT DISTINCT FROM $2::inet) AS ip_n,
                        min(failed_at) FILTER (WHERE ip IS NOT DISTINCT FROM $2::inet) AS ip_oldest,
                        count(*) AS n, min(failed_at) AS oldest
                   FROM login_failures WHERE email = $1 AND failed_at > $3",
                vec![email.into(), ip.map(|ip| ip.to_string()).into(), since.into()],
            ))
            .await
            .map_err(db_err)?;
        let Some(r) = row else { return Ok(LoginFailures::default()) };
        Ok(LoginFailures {
            from_ip: r.try_get("", "ip_n").map_err(db_err)?,
            from_ip_oldest: r.try_get("", "ip_oldest").map_err(db_err)?,
            total: r.try_get("", "n").map_err(db_err)?,
            total_oldest: r.try_get("", "oldest").map_err(db_err)?,
        })
    }

    async fn record_login_failure(&self, email: &str, ip: Option<IpAddr>, at: OffsetDateTime) -> Result<(), RepoError> {
        // Old rows for this email are of no further use; prune them on the way.
        self.db
            .execute_raw(crate::stmt(
                "WITH pruned AS (DELETE FROM login_failures WHERE email = $1 AND failed_at < $3 - interval '1 day')
                 INSERT INTO login_failures (email, ip, failed_at) VALUES ($1, $2::inet, $3)",
                vec![email.into(), ip.map(|ip| ip.to_string()).into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn clear_login_failures(&self, email: &str, ip: Option<IpAddr>) -> Result<(), RepoError> {
        // Two spellings so that both can use idx_login_failures_email_ip (`IS NOT DISTINCT FROM`
        // cannot).
        let statement = match ip {
            Some(ip) => crate::stmt(
                "DELETE FROM login_failures WHERE email = $1 AND ip = $2::inet",
                vec![email.into(), ip.to_string().into()],
            ),
            None => crate::stmt("DELETE FROM login_failures WHERE email = $1 AND ip IS NULL", vec![email.into()]),
        };
        self.db.execute_raw(statement).await.map_err(db_err)?;
        Ok(())
    }
}
