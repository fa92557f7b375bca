//! The one authorisation decision: may this actor do permission P (on this lead)? Every use case
//! asks here before touching data; adapters never decide permissions.

use crate::{AppError, Ctx};
use leadzone_domain::access::{LeadScope, LeadVisibility, Permission};
use leadzone_domain::entities::Lead;
use leadzone_domain::enums::{Role, TenantStatus};
use leadzone_ports::tx::TenantTx;

/// Refuses with 403 `TENANT_SUSPENDED` when the tenant is suspended: every use case but
/// `GET /me` and billing calls this (through `require`, or directly when no permission applies).
pub fn require_active_tenant(ctx: &Ctx) -> Result<(), AppError> {
    if ctx.tenant_status == TenantStatus::Suspended { Err(AppError::TenantSuspended) } else { Ok(()) }
}

/// Permissions that only read: an UNPAID tenant keeps them.
fn reads_only(p: Permission) -> bool {
    matches!(
        p,
        Permission::LeadsRead
            | Permission::ListsRead
            | Permission::AuditRead
            | Permission::BillingRead
            | Permission::LeadsExport
    )
}

/// Refuses with 403 `FORBIDDEN` unless the actor holds `p`; with 403 `TENANT_SUSPENDED` for a
/// suspended tenant; with 402 `SUBSCRIPTION_UNPAID` for a write while the subscription is unpaid.
pub fn require(ctx: &Ctx, p: Permission) -> Result<(), AppError> {
    require_active_tenant(ctx)?;
    if !ctx.has(p) {
        return Err(AppError::Forbidden);
    }
    if ctx.subscription_status.is_some_and(|s| !s.allows_writes()) && !reads_only(p) {
        return Err(AppError::SubscriptionUnpaid);
    }
    Ok(())
}

/// Only a session may do this (not an API key): account-level actions such as password changes.
pub fn require_session(ctx: &Ctx) -> Result<leadzone_domain::ids::SessionId, AppError> {
    match ctx.via {
        crate::ctx::Via::Session(id) => Ok(id),
        crate::ctx::Via::ApiKey(_) => Err(AppError::Forbidden),
    }
}

/// May the actor grant, change or remove a membership holding `role`? Only an OWNER touches OWNER.
pub fn may_touch_role(ctx: &Ctx, role: Role) -> Result<(), AppError> {
    if role == Role::Owner && ctx.role != Role::Owner { Err(AppError::Forbidden) } else { Ok(()) }
}

/// The leads this actor may see. A MANAGER's team is read from the tenant's memberships.
pub async fn lead_visibility(ctx: &Ctx, tx: &dyn TenantTx) -> Result<LeadVisibility, AppError> {
    let team = match ctx.role.lead_scope() {
        LeadScope::Team => tx.memberships().team_of(ctx.user_id).await?,
        LeadScope::All | LeadScope::Own => Vec::new(),
    };
    Ok(LeadVisibility::for_actor(ctx.role, ctx.user_id, &team))
}

/// Checks `p` and that the lead is visible; an invisible lead is 404, never 403 (its existence
/// is not revealed).
pub async fn require_on_lead(ctx: &Ctx, tx: &dyn TenantTx, p: Permission, lead: &Lead) -> Result<(), AppError> {
    require(ctx, p)?;
    if lead_visibility(ctx, tx).await?.allows(lead.created_by, lead.assigned_to) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, ctx};
    use leadzone_domain::ids::UserId;

    fn lead(created_by: u128, assigned_to: Option<u128>) -> Lead {
        Lead {
            assigned_to: assigned_to.map(|u| uuid::Uuid::from_u128(u).into()),
            created_by: uuid::Uuid::from_u128(created_by).into(),
            ..crate::testing::lead(77)
        }
    }

    #[test]
    fn a_suspended_tenant_is_refused_before_permissions() {
        let mut c = ctx(Role::Owner, 1);
        c.tenant_status = TenantStatus::Suspended;
        assert_eq!(require(&c, Permission::LeadsRead), Err(AppError::TenantSuspended));
        assert_eq!(require_active_tenant(&c), Err(AppError::TenantSuspended));
    }

    #[test]
    fn only_owners_touch_owners_and_api_keys_have_no_session() {
        assert!(may_touch_role(&ctx(Role::Owner, 1), Role::Owner).is_ok());
        assert_eq!(may_touch_role(&ctx(Role::Admin, 1), Role::Owner), Err(AppError::Forbidden));
        assert!(may_touch_role(&ctx(Role::Admin, 1), Role::Sales).is_ok());
        let mut key = ctx(Role::Admin, 1);
        key.via = crate::ctx::Via::ApiKey(uuid::Uuid::nil().into());
        assert_eq!(require_session(&key), Err(AppError::Forbidden));
        assert!(require_session(&ctx(Role::Sales, 1)).is_ok());
    }

    #[test]
    fn require_follows_the_context_permissions() {
        assert!(require(&ctx(Role::Sales, 1), Permission::LeadsWrite).is_ok());
        assert_eq!(require(&ctx(Role::Sales, 1), Permission::LeadsDelete), Err(AppError::Forbidden));
        let mut api_key = ctx(Role::Admin, 1);
        api_key.permissions = vec![Permission::LeadsRead];
        assert_eq!(require(&api_key, Permission::LeadsWrite), Err(AppError::Forbidden));
    }

    #[tokio::test]
    async fn a_manager_sees_team_leads_and_nothing_else() {
        let mut tx = FakeTx::default();
        tx.memberships
            .expect_team_of()
            .withf(|m| *m == UserId::from_uuid(uuid::Uuid::from_u128(1)))
            .returning(|_| Ok(vec![uuid::Uuid::from_u128(2).into()]));
        let manager = ctx(Role::Manager, 1);
        assert!(require_on_lead(&manager, &tx, Permission::LeadsRead, &lead(2, None)).await.is_ok());
        assert!(require_on_lead(&manager, &tx, Permission::LeadsRead, &lead(9, Some(1))).await.is_ok());
        assert_eq!(
            require_on_lead(&manager, &tx, Permission::LeadsRead, &lead(3, None)).await,
            Err(AppError::NotFound),
            "an invisible lead is 404, not 403"
        );
    }

    #[tokio::test]
    async fn sales_never_ask_for_a_team_and_owners_see_all() {
        // No expectation on team_of: the mock panics if SALES or OWNER reads it.
        let tx = FakeTx::default();
        assert_eq!(
            require_on_lead(&ctx(Role::Sales, 1), &tx, Permission::LeadsRead, &lead(2, None)).await,
            Err(AppError::NotFound)
        );
        assert!(require_on_lead(&ctx(Role::Sales, 1), &tx, Permission::LeadsRead, &lead(2, Some(1))).await.is_ok());
        assert!(require_on_lead(&ctx(Role::Owner, 1), &tx, Permission::LeadsRead, &lead(2, None)).await.is_ok());
        assert_eq!(
            require_on_lead(&ctx(Role::Sales, 1), &tx, Permission::LeadsDelete, &lead(1, None)).await,
            Err(AppError::Forbidden)
        );
    }
}
