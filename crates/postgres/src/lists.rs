//! Lists (static and smart).

use crate::entities::*;
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::lists::*;
use sea_orm::QueryOrder;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};

#[async_trait::async_trait]
impl ListRepo for PgTenantTx {
    async fn get(&self, id: ListId) -> Result<List, RepoError> {
        lists::Entity::find_by_id(id.as_uuid()).filter(lists::Column::TenantId.eq(self.tid())).found(&self.txn).await
    }

    async fn insert(&self, list: &List) -> Result<(), RepoError> {
        lists::ActiveModel::from(list).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn update(&self, list: &List) -> Result<(), RepoError> {
        lists::ActiveModel::from(list).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn delete(&self, id: ListId) -> Result<(), RepoError> {
        let res = lists::Entity::delete_many()
            .filter(lists::Column::TenantId.eq(self.tid()))
            .filter(lists::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn all(&self) -> Result<Vec<List>, RepoError> {
        lists::Entity::find()
            .filter(lists::Column::TenantId.eq(self.tid()))
            .order_by_asc(lists::Column::CreatedAt)
            .order_by_asc(lists::Column::Id)
            .rows(&self.txn)
            .await
    }
}
