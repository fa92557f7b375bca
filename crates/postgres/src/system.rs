//! The system path: cross-tenant lookups on a `leadzone_system` connection. Kept narrow on
//! purpose — each method is one question a flow cannot ask inside a tenant.

use crate::entities::{memberships, tenants, users};
use crate::error::db_err;
use leadzone_domain::entities::{Membership, Tenant, User};
use leadzone_domain::ids::UserId;
use leadzone_ports::RepoError;
use leadzone_ports::system::{NewSession, SessionPrincipal, SystemStore};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    Statement,
};
use std::collections::HashMap;
use std::str::FromStr;
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgSystemStore {
    db: DatabaseConnection,
}

impl PgSystemStore {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    fn stmt(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }
}

fn parse<T: FromStr>(value: &str) -> Result<T, RepoError> {
    T::from_str(value).map_err(|_| RepoError::Other(format!("stored value {value:?} is not valid")))
}

#[async_trait::async_trait]
impl SystemStore for PgSystemStore {
    async fn ping(&self) -> Result<(), RepoError> {
        match self.db.execute_unprepared("SELECT 1").await {
            Ok(_) => Ok(()),
            Err(e) => Err(RepoError::Unavailable(e.to_string())),
        }
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, RepoError> {
        Ok(users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&self.db)
            .await
            .map_err(db_err)?
            .map(User::from))
    }

    async fn slug_taken(&self, slug: &str) -> Result<bool, RepoError> {
        let n = tenants::Entity::find().filter(tenants::Column::Slug.eq(slug)).count(&self.db).await.map_err(db_err)?;
        Ok(n > 0)
    }

    async fn memberships_of_user(&self, user: UserId) -> Result<Vec<(Membership, Tenant)>, RepoError> {
        let rows = memberships::Entity::find()
            .filter(memberships::Column::UserId.eq(user.as_uuid()))
            .order_by_asc(memberships::Column::CreatedAt)
            .order_by_asc(memberships::Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err)?;
        let tenant_ids: Vec<uuid::Uuid> = rows.iter().map(|m| m.tenant_id).collect();
        let mut tenants: HashMap<uuid::Uuid, tenants::Model> = tenants::Entity::find()
            .filter(tenants::Column::Id.is_in(tenant_ids))
            .all(&self.db)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        rows.into_iter()
            .filter_map(|m| tenants.remove(&m.tenant_id).map(|t| (m, t)))
            .map(|(m, t)| Ok((Membership::try_from(m)?, Tenant::try_from(t)?)))
            .collect()
    }

    async fn create_session(&self, s: &NewSession) -> Result<(), RepoError> {
        self.db
            .execute_raw(Self::stmt(
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
            .query_one_raw(Self::stmt(
                "SELECT s.id, s.user_id, s.tenant_id, s.access_expires_at,
                        m.role, m.status AS membership_status, t.status AS tenant_status
                   FROM sessions s
                   JOIN memberships m ON m.user_id = s.user_id AND m.tenant_id = s.tenant_id
                   JOIN tenants t ON t.id = s.tenant_id
                  WHERE s.access_token_hash = $1 AND s.revoked_at IS NULL AND s.access_expires_at > $2",
                vec![access_token_hash.into(), now.into()],
            ))
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let get_uuid = |col: &str| row.try_get::<uuid::Uuid>("", col).map_err(db_err);
        let get_str = |col: &str| row.try_get::<String>("", col).map_err(db_err);
        Ok(Some(SessionPrincipal {
            session_id: get_uuid("id")?.into(),
            user_id: get_uuid("user_id")?.into(),
            tenant_id: get_uuid("tenant_id")?.into(),
            role: parse(&get_str("role")?)?,
            membership_status: parse(&get_str("membership_status")?)?,
            tenant_status: parse(&get_str("tenant_status")?)?,
            access_expires_at: row.try_get("", "access_expires_at").map_err(db_err)?,
        }))
    }

    async fn record_login(&self, user: UserId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.db
            .execute_raw(Self::stmt(
                "UPDATE users SET last_login_at = $2 WHERE id = $1",
                vec![user.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
