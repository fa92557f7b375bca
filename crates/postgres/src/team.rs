//! Members and invitations of a tenant.

use crate::entities::{invites, memberships, users};
use crate::error::db_err;
use crate::fetch::Fetch;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::enums::{InviteStatus, MembershipStatus, Role};
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::team::*;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl MembershipRepo for PgTenantTx {
    async fn insert(&self, membership: &Membership) -> Result<(), RepoError> {
        memberships::ActiveModel::from(membership).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn get_by_user(&self, user: UserId) -> Result<Membership, RepoError> {
        memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .filter(memberships::Column::UserId.eq(user.as_uuid()))
            .found(&self.txn)
            .await
    }

    async fn team_of(&self, manager: UserId) -> Result<Vec<UserId>, RepoError> {
        let rows = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .filter(memberships::Column::ManagerId.eq(manager.as_uuid()))
            .all(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(|m| m.user_id.into()).collect())
    }

    async fn get(&self, id: MembershipId) -> Result<Membership, RepoError> {
        memberships::Entity::find_by_id(id.as_uuid())
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .found(&self.txn)
            .await
    }

    async fn list(&self) -> Result<Vec<MemberView>, RepoError> {
        let rows = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .order_by_asc(memberships::Column::CreatedAt)
            .order_by_asc(memberships::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_err)?;
        let ids: Vec<uuid::Uuid> = rows.iter().map(|m| m.user_id).collect();
        let people: std::collections::HashMap<uuid::Uuid, users::Model> = users::Entity::find()
            .filter(users::Column::Id.is_in(ids))
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        rows.into_iter()
            .map(|m| {
                let (email, name) =
                    people.get(&m.user_id).map(|u| (u.email.clone(), u.name.clone())).unwrap_or_default();
                Ok(MemberView { membership: Membership::try_from(m)?, email, name })
            })
            .collect()
    }

    async fn update(&self, membership: &Membership) -> Result<(), RepoError> {
        memberships::ActiveModel::from(membership).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn delete(&self, id: MembershipId) -> Result<(), RepoError> {
        memberships::Entity::delete_many()
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .filter(memberships::Column::Id.eq(id.as_uuid()))
            .exec(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn lock_active_owners(&self) -> Result<Vec<MembershipId>, RepoError> {
        let rows = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .filter(memberships::Column::Role.eq(Role::Owner.as_str()))
            .filter(memberships::Column::Status.eq(MembershipStatus::Active.as_str()))
            .order_by_asc(memberships::Column::Id)
            .lock(LockType::Update)
            .all(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(|m| m.id.into()).collect())
    }

    async fn count_active(&self) -> Result<i64, RepoError> {
        let n = memberships::Entity::find()
            .filter(memberships::Column::TenantId.eq(self.tid()))
            .filter(memberships::Column::Status.eq(MembershipStatus::Active.as_str()))
            .count(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(n as i64)
    }

    async fn clear_manager(&self, user: UserId) -> Result<(), RepoError> {
        self.txn
            .execute_raw(crate::stmt(
                "UPDATE memberships SET manager_id = NULL, updated_at = now() WHERE tenant_id = $1 AND manager_id = $2",
                vec![self.tid().into(), user.as_uuid().into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn email_is_member(&self, email: &str) -> Result<bool, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                "SELECT 1 AS one FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND u.email = $2",
                vec![self.tid().into(), email.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    }
}

#[async_trait::async_trait]
impl InviteRepo for PgTenantTx {
    async fn insert(&self, invite: &Invite) -> Result<(), RepoError> {
        invites::ActiveModel::from(invite).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<Invite>, RepoError> {
        invites::Entity::find()
            .filter(invites::Column::TenantId.eq(self.tid()))
            .order_by_desc(invites::Column::CreatedAt)
            .order_by_desc(invites::Column::Id)
            .rows(&self.txn)
            .await
    }

    async fn get(&self, id: InviteId) -> Result<Invite, RepoError> {
        invites::Entity::find_by_id(id.as_uuid())
            .filter(invites::Column::TenantId.eq(self.tid()))
            .found(&self.txn)
            .await
    }

    async fn finish(&self, id: InviteId, status: InviteStatus, at: OffsetDateTime) -> Result<bool, RepoError> {
        let accepted_at = (status == InviteStatus::Accepted).then_some(at);
        let res = self
            .txn
            .execute_raw(crate::stmt(
                "UPDATE invites SET status = $3, accepted_at = COALESCE($4, accepted_at)
                  WHERE tenant_id = $1 AND id = $2 AND status = 'PENDING'",
                vec![self.tid().into(), id.as_uuid().into(), status.as_str().into(), accepted_at.into()],
            ))
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected() == 1)
    }

    async fn count_pending(&self, now: OffsetDateTime) -> Result<i64, RepoError> {
        let n = invites::Entity::find()
            .filter(invites::Column::TenantId.eq(self.tid()))
            .filter(invites::Column::Status.eq(InviteStatus::Pending.as_str()))
            .filter(invites::Column::ExpiresAt.gt(now))
            .count(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(n as i64)
    }

    async fn pending_for_email(&self, email: &str, now: OffsetDateTime) -> Result<bool, RepoError> {
        let n = invites::Entity::find()
            .filter(invites::Column::TenantId.eq(self.tid()))
            .filter(invites::Column::Email.eq(email))
            .filter(invites::Column::Status.eq(InviteStatus::Pending.as_str()))
            .filter(invites::Column::ExpiresAt.gt(now))
            .count(&self.txn)
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }
}
