//! A lead's timeline and evidence.

use crate::entities::*;
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::lead_actions::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};
use sea_orm::{QueryOrder, QuerySelect};

#[async_trait::async_trait]
impl ActivityRepo for PgTenantTx {
    async fn insert(&self, activity: &Activity) -> Result<(), RepoError> {
        activities::ActiveModel::from(activity).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn insert_many(&self, items: &[Activity]) -> Result<(), RepoError> {
        for chunk in items.chunks(1000) {
            activities::Entity::insert_many(chunk.iter().map(activities::ActiveModel::from))
                .exec_without_returning(&self.txn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn list(
        &self,
        lead: LeadId,
        after: Option<(time::OffsetDateTime, ActivityId)>,
        limit: u64,
    ) -> Result<Vec<Activity>, RepoError> {
        let mut q = activities::Entity::find()
            .filter(activities::Column::TenantId.eq(self.tid()))
            .filter(activities::Column::LeadId.eq(lead.as_uuid()));
        if let Some((at, id)) = after {
            q = q.filter(
                Expr::tuple([Expr::col(activities::Column::CreatedAt), Expr::col(activities::Column::Id)])
                    .lt(Expr::tuple([Expr::val(at), Expr::val(id.as_uuid())])),
            );
        }
        q.order_by_desc(activities::Column::CreatedAt)
            .order_by_desc(activities::Column::Id)
            .limit(limit)
            .rows(&self.txn)
            .await
    }
}

#[async_trait::async_trait]
impl EvidenceRepo for PgTenantTx {
    async fn insert(&self, e: &Evidence) -> Result<(), RepoError> {
        evidence::ActiveModel::from(e).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn insert_many(&self, items: &[Evidence]) -> Result<(), RepoError> {
        for chunk in items.chunks(1000) {
            evidence::Entity::insert_many(chunk.iter().map(evidence::ActiveModel::from))
                .exec_without_returning(&self.txn)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn list(&self, lead: LeadId) -> Result<Vec<Evidence>, RepoError> {
        evidence::Entity::find()
            .filter(evidence::Column::TenantId.eq(self.tid()))
            .filter(evidence::Column::LeadId.eq(lead.as_uuid()))
            .order_by_desc(evidence::Column::CreatedAt)
            .order_by_desc(evidence::Column::Id)
            .rows(&self.txn)
            .await
    }
}
