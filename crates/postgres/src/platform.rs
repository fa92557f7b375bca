//! Platform administration (health, tenants, plans, flags) on a `leadzone_system` connection.

use crate::entities::tenants;
use crate::error::db_err;
use crate::fetch::Fetch;
use leadzone_domain::entities::Tenant;
use leadzone_domain::enums::TenantStatus;
use leadzone_domain::ids::TenantId;
use leadzone_ports::RepoError;
use leadzone_ports::platform::PlatformStore;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgPlatform {
    db: DatabaseConnection,
}

impl PgPlatform {
    /// `db` must be a pool of the `leadzone_system` role.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait::async_trait]
impl PlatformStore for PgPlatform {
    async fn ping(&self) -> Result<(), RepoError> {
        match self.db.execute_unprepared("SELECT 1").await {
            Ok(_) => Ok(()),
            Err(e) => Err(RepoError::Unavailable(e.to_string())),
        }
    }

    async fn list_tenants(&self, after: Option<TenantId>, limit: u64) -> Result<Vec<Tenant>, RepoError> {
        let mut q = tenants::Entity::find().order_by_asc(tenants::Column::Id).limit(limit);
        if let Some(after) = after {
            q = q.filter(tenants::Column::Id.gt(after.as_uuid()));
        }
        q.rows(&self.db).await
    }

    async fn set_tenant_status(
        &self,
        tenant: TenantId,
        status: TenantStatus,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1",
                vec![tenant.as_uuid().into(), status.as_str().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        if res.rows_affected() == 0 {
            return Err(RepoError::NotFound);
        }
        tenants::Entity::find_by_id(tenant.as_uuid()).found(&self.db).await
    }

    async fn active_plans(&self) -> Result<Vec<leadzone_domain::entities::Plan>, RepoError> {
        crate::identity::active_plans(&self.db).await
    }

    async fn list_flags(&self) -> Result<Vec<leadzone_domain::entities::FeatureFlag>, RepoError> {
        crate::identity::all_flags(&self.db).await
    }

    async fn insert_flag(&self, flag: &leadzone_domain::entities::FeatureFlag) -> Result<(), RepoError> {
        use sea_orm::ActiveModelTrait;
        crate::entities::feature_flags::ActiveModel::from(flag).insert(&self.db).await.map_err(db_err)?;
        Ok(())
    }

    async fn update_flag(&self, flag: &leadzone_domain::entities::FeatureFlag) -> Result<(), RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "UPDATE feature_flags SET name = $2, description = $3, enabled = $4, rollout_percentage = $5, updated_at = $6
                  WHERE key = $1",
                vec![
                    flag.key.clone().into(),
                    flag.name.clone().into(),
                    flag.description.clone().into(),
                    flag.enabled.into(),
                    flag.rollout_percentage.into(),
                    flag.updated_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        if res.rows_affected() == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn flag(&self, key: &str) -> Result<Option<leadzone_domain::entities::FeatureFlag>, RepoError> {
        use crate::entities::feature_flags;
        feature_flags::Entity::find().filter(feature_flags::Column::Key.eq(key)).maybe(&self.db).await
    }

    async fn set_override(&self, o: &leadzone_domain::entities::TenantFeature) -> Result<(), RepoError> {
        self.db
            .execute_raw(crate::stmt(
                "INSERT INTO tenant_features (id, tenant_id, feature_key, enabled, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (tenant_id, feature_key) DO UPDATE SET enabled = EXCLUDED.enabled, expires_at = EXCLUDED.expires_at",
                vec![
                    o.id.as_uuid().into(),
                    o.tenant_id.as_uuid().into(),
                    o.feature_key.clone().into(),
                    o.enabled.into(),
                    o.expires_at.into(),
                    o.created_at.into(),
                ],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_override(&self, tenant: TenantId, key: &str) -> Result<bool, RepoError> {
        let res = self
            .db
            .execute_raw(crate::stmt(
                "DELETE FROM tenant_features WHERE tenant_id = $1 AND feature_key = $2",
                vec![tenant.as_uuid().into(), key.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected() > 0)
    }
}
