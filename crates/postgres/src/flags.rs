//! Feature flags as a tenant sees them: plans, global flags, the tenant's overrides.

use crate::fetch::Fetch;
use crate::identity::{active_plans, all_flags};
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_ports::RepoError;
use leadzone_ports::flags::*;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[async_trait::async_trait]
impl FeatureRepo for PgTenantTx {
    async fn plans(&self) -> Result<Vec<Plan>, RepoError> {
        active_plans(&self.txn).await
    }

    async fn flags(&self) -> Result<Vec<FeatureFlag>, RepoError> {
        all_flags(&self.txn).await
    }

    async fn overrides(&self) -> Result<Vec<TenantFeature>, RepoError> {
        crate::entities::tenant_features::Entity::find()
            .filter(crate::entities::tenant_features::Column::TenantId.eq(self.tid()))
            .rows(&self.txn)
            .await
    }
}
