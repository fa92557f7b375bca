//! Lead queries beyond an entity lookup, one module a concern: the filter builder and keyset
//! paging (`query`), the relevance order (`relevance`), duplicate keys (`keys`), batch insert
//! (`insert`), bulk changes (`bulk`) and the dashboard counts (`stats`).

mod bulk;
mod insert;
mod keys;
mod query;
mod relevance;
mod stats;

pub(crate) use bulk::bulk;
pub(crate) use insert::insert_many;
pub(crate) use keys::{existing_keys, find_duplicate};
pub(crate) use query::{count_matching, list, matching_ids};
pub(crate) use stats::stats;

/// The lead repository of a tenant transaction.
mod repo {
    use crate::entities::*;
    use crate::error::db_err;
    use crate::fetch::Fetch;
    use crate::mapping::lead_active_model;
    use crate::tx::PgTenantTx;
    use leadzone_domain::access::LeadVisibility;
    use leadzone_domain::entities::*;

    use leadzone_domain::ids::*;
    use leadzone_domain::leads::DedupKeys;
    use leadzone_domain::leads::LeadFilter;
    use leadzone_ports::RepoError;
    use leadzone_ports::leads::*;
    use leadzone_ports::leads::{DuplicateMatch, LeadQuery, ListedLead};
    use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

    #[async_trait::async_trait]
    impl LeadRepo for PgTenantTx {
        async fn insert(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError> {
            lead_active_model(lead, keys).insert(&self.txn).await.map_err(db_err)?;
            Ok(())
        }

        async fn get(&self, id: LeadId) -> Result<Lead, RepoError> {
            leads::Entity::find_by_id(id.as_uuid())
                .filter(leads::Column::TenantId.eq(self.tid()))
                .found(&self.txn)
                .await
        }

        async fn list(&self, query: &LeadQuery) -> Result<Vec<ListedLead>, RepoError> {
            crate::leads::list(&self.txn, self.tid(), query, self.custom_plans).await
        }

        async fn find_duplicate(
            &self,
            keys: &DedupKeys,
            exclude: Option<LeadId>,
        ) -> Result<Option<DuplicateMatch>, RepoError> {
            crate::leads::find_duplicate(&self.txn, self.tid(), keys, exclude).await
        }

        async fn update(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError> {
            lead_active_model(lead, keys).reset_all().update(&self.txn).await.map_err(db_err)?;
            Ok(())
        }

        async fn delete(&self, id: LeadId) -> Result<(), RepoError> {
            let res = leads::Entity::delete_many()
                .filter(leads::Column::TenantId.eq(self.tid()))
                .filter(leads::Column::Id.eq(id.as_uuid()))
                .exec(&self.txn)
                .await
                .map_err(db_err)?;
            if res.rows_affected == 0 { Err(RepoError::NotFound) } else { Ok(()) }
        }

        async fn matching_ids(
            &self,
            visibility: &LeadVisibility,
            filter: &LeadFilter,
            limit: u64,
        ) -> Result<Vec<LeadId>, RepoError> {
            crate::leads::matching_ids(&self.txn, self.tid(), visibility, filter, limit).await
        }

        async fn bulk(
            &self,
            change: &BulkChange,
            ids: &[LeadId],
            visibility: &LeadVisibility,
            at: time::OffsetDateTime,
        ) -> Result<Vec<LeadId>, RepoError> {
            crate::leads::bulk(&self.txn, self.tid(), change, ids, visibility, at).await
        }

        async fn count_matching(
            &self,
            visibility: &LeadVisibility,
            filters: &[LeadFilter],
        ) -> Result<Vec<i64>, RepoError> {
            crate::leads::count_matching(&self.txn, self.tid(), visibility, filters).await
        }

        async fn stats(
            &self,
            visibility: &LeadVisibility,
            since: time::OffsetDateTime,
        ) -> Result<LeadStats, RepoError> {
            crate::leads::stats(&self.txn, self.tid(), visibility, since).await
        }

        async fn insert_many(&self, leads: Vec<(Lead, DedupKeys)>, may_exist: bool) -> Result<Vec<LeadId>, RepoError> {
            crate::leads::insert_many(&self.txn, self.tid(), leads, may_exist).await
        }

        async fn existing_keys(&self, keys: &[DedupKeys], except: &[LeadId]) -> Result<ExistingKeys, RepoError> {
            crate::leads::existing_keys(&self.txn, self.tid(), keys, except).await
        }

        async fn lock_discovery(&self) -> Result<(), RepoError> {
            self.txn
                .execute_raw(crate::stmt(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':discovery', 0))",
                    vec![self.tid().into()],
                ))
                .await
                .map_err(db_err)?;
            Ok(())
        }

        async fn touch_contacted(&self, id: LeadId, at: time::OffsetDateTime) -> Result<(), RepoError> {
            self.txn
                .execute_raw(crate::stmt(
                    "UPDATE leads SET last_contacted_at = GREATEST(COALESCE(last_contacted_at, $3), $3), updated_at = $3
                      WHERE tenant_id = $1 AND id = $2",
                    vec![self.tid().into(), id.as_uuid().into(), at.into()],
                ))
                .await
                .map_err(db_err)?;
            Ok(())
        }

        async fn unassign_user(&self, user: UserId) -> Result<u64, RepoError> {
            let res = self
                .txn
                .execute_raw(crate::stmt(
                    "UPDATE leads SET assigned_to = NULL, updated_at = now() WHERE tenant_id = $1 AND assigned_to = $2",
                    vec![self.tid().into(), user.as_uuid().into()],
                ))
                .await
                .map_err(db_err)?;
            Ok(res.rows_affected())
        }
    }
}
