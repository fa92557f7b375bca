//! Identity repositories inside a tenant transaction: users and the tenant itself (members and
//! invitations are `team`, API keys `api_keys`, plans and flags `flags`).

use crate::entities::{tenants, users};
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::identity::*;
use sea_orm::sea_query::LockType;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

#[async_trait::async_trait]
impl UserRepo for PgTenantTx {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        users::ActiveModel::from(user).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        users::Entity::find_by_id(id.as_uuid()).found(&self.txn).await
    }

    async fn update(&self, user: &User) -> Result<(), RepoError> {
        users::ActiveModel::from(user).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl TenantRepo for PgTenantTx {
    async fn insert(&self, tenant: &Tenant) -> Result<(), RepoError> {
        tenants::ActiveModel::from(tenant).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn current(&self) -> Result<Tenant, RepoError> {
        tenants::Entity::find_by_id(self.tid()).found(&self.txn).await
    }

    async fn lock_current(&self) -> Result<Tenant, RepoError> {
        tenants::Entity::find_by_id(self.tid()).lock(LockType::Update).found(&self.txn).await
    }

    async fn update(&self, tenant: &Tenant) -> Result<(), RepoError> {
        tenants::ActiveModel::from(tenant).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }
}

/// The plans on sale, in display order (tenant and system paths alike).
pub(crate) async fn active_plans<C: ConnectionTrait>(db: &C) -> Result<Vec<Plan>, RepoError> {
    crate::entities::plans::Entity::find()
        .filter(crate::entities::plans::Column::IsActive.eq(true))
        .order_by_asc(crate::entities::plans::Column::SortOrder)
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Plan::try_from)
        .collect()
}

/// Every feature flag, by key (tenant and system paths alike).
pub(crate) async fn all_flags<C: ConnectionTrait>(db: &C) -> Result<Vec<FeatureFlag>, RepoError> {
    Ok(crate::entities::feature_flags::Entity::find()
        .order_by_asc(crate::entities::feature_flags::Column::Key)
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(FeatureFlag::from)
        .collect())
}
