//! Identity repositories inside a tenant transaction: users, the tenant itself, memberships,
//! invites and API keys.

use crate::entities::{api_keys, invites, memberships, tenants, users};
use crate::error::db_err;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::*;
use leadzone_domain::enums::{InviteStatus, MembershipStatus, Role};
use leadzone_domain::ids::*;
use leadzone_ports::RepoError;
use leadzone_ports::store::*;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use time::OffsetDateTime;

#[async_trait::async_trait]
impl UserRepo for PgTenantTx {
    async fn insert(&self, user: &User) -> Result<(), RepoError> {
        users::ActiveModel::from(user).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn get(&self, id: UserId) -> Result<User, RepoError> {
        users::Entity::find_by_id(id.as_uuid())
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .map(User::from)
            .ok_or(RepoError::NotFound)
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
        tenants::Entity::find_by_id(self.tid())
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
    }

    async fn lock_current(&self) -> Result<Tenant, RepoError> {
        tenants::Entity::find_by_id(self.tid())
            .lock(LockType::Update)
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
    }

    async fn update(&self, tenant: &Tenant) -> Result<(), RepoError> {
        tenants::ActiveModel::from(tenant).reset_all().update(&self.txn).await.map_err(db_err)?;
        Ok(())
    }
}

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
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
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
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
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
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(Invite::try_from)
            .collect()
    }

    async fn get(&self, id: InviteId) -> Result<Invite, RepoError> {
        invites::Entity::find_by_id(id.as_uuid())
            .filter(invites::Column::TenantId.eq(self.tid()))
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?
            .try_into()
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

#[async_trait::async_trait]
impl ApiKeyRepo for PgTenantTx {
    async fn insert(&self, key: &ApiKey) -> Result<(), RepoError> {
        api_keys::ActiveModel::from(key).insert(&self.txn).await.map_err(db_err)?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<ApiKey>, RepoError> {
        Ok(api_keys::Entity::find()
            .filter(api_keys::Column::TenantId.eq(self.tid()))
            .order_by_desc(api_keys::Column::CreatedAt)
            .order_by_desc(api_keys::Column::Id)
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(ApiKey::from)
            .collect())
    }

    async fn get(&self, id: ApiKeyId) -> Result<ApiKey, RepoError> {
        api_keys::Entity::find_by_id(id.as_uuid())
            .filter(api_keys::Column::TenantId.eq(self.tid()))
            .one(&self.txn)
            .await
            .map_err(db_err)?
            .map(ApiKey::from)
            .ok_or(RepoError::NotFound)
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

#[async_trait::async_trait]
impl FeatureRepo for PgTenantTx {
    async fn plans(&self) -> Result<Vec<Plan>, RepoError> {
        active_plans(&self.txn).await
    }

    async fn flags(&self) -> Result<Vec<FeatureFlag>, RepoError> {
        all_flags(&self.txn).await
    }

    async fn overrides(&self) -> Result<Vec<TenantFeature>, RepoError> {
        Ok(crate::entities::tenant_features::Entity::find()
            .filter(crate::entities::tenant_features::Column::TenantId.eq(self.tid()))
            .all(&self.txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(TenantFeature::from)
            .collect())
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
