//! API keys (the tenant side: create, list, revoke).

use crate::entities::api_keys;
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::api_keys::*;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl ApiKeyRepo for PgTenantTx {
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError> {
        api_keys::ActiveModel::from(key).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ApiKey>, RepoError> {
        api_keys::Entity::find()
            .filter(api_keys::Column::TenantId.eq(self.tid()))
            .order_by_desc(api_keys::Column::CreatedAt)
            .order_by_desc(api_keys::Column::Id)
            .rows(&self.txn)
            .await
    }

    async fn get(&self, id: ApiKeyId) -> Result<ApiKey, RepoError> {
        api_keys::Entity::find_by_id(id.as_uuid())
            .filter(api_keys::Column::TenantId.eq(self.tid()))
            .found(&self.txn)
            .await
    }

    async fn revoke_created_by(&self, user: UserId, at: OffsetDateTime) -> Result<u64, RepoError> {
        let res = self
            .txn
            .execute_raw(crate::stmt(
                "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND created_by = $2 AND revoked_at IS NULL",
                vec![self.tid().into(), user.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected())
    }

    async fn revoke(&self, id: ApiKeyId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.txn
            .execute_raw(crate::stmt(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2",
                vec![self.tid().into(), id.as_uuid().into(), at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
