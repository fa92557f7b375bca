//! The team: members (roles, the manager hierarchy, suspension, removal) and invitations.

use crate::cursor::page_by_id;
use crate::leads::Page;
use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{AuditDetails, Invite, Membership, User};
use leadzone_domain::enums::{AuditEventType, InviteStatus, Language, MembershipStatus, Role, UsageMetric};
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{InviteId, MembershipId, UserId};
use leadzone_domain::values::{Email, check_password_strength, required_text};
use leadzone_ports::RepoError;
use leadzone_ports::{team::MemberView, tx::TenantTx};
use serde_json::json;

pub const INVITE_TOKEN_PREFIX: &str = "lzi_";

/// `PATCH /members/{id}`: each field optional; `manager_id: Some(None)` clears the manager.
#[derive(Debug, Clone, Default)]
pub struct MemberPatch {
    pub role: Option<Role>,
    pub manager_id: Option<Option<UserId>>,
    pub status: Option<MembershipStatus>,
}

#[derive(Debug, Clone, Default)]
pub struct AcceptInput {
    pub token: String,
    pub name: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub membership: Membership,
    pub tokens: crate::identity::IssuedTokens,
}

fn member_json(m: &Membership) -> serde_json::Value {
    json!({"role": m.role, "status": m.status, "managerId": m.manager_id})
}

crate::service! {
    /// Members, roles, the manager hierarchy and invitations.
    Team {
        ports: [uow, sessions, lookups, hasher, tokens, secrets, clock, ids, config],
        uses: [
            identity: crate::identity::Identity,
        ],
    }
}

impl Team {
    /// A page of the tenant's members, oldest first (`limit` 1–200, default 50; `cursor` the
    /// previous page's `nextCursor`).
    pub async fn list_members(
        &self,
        ctx: &Ctx,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page<MemberView>, AppError> {
        policy::require_active_tenant(ctx)?;
        // People see their team; a script needs the team:manage scope to read emails.
        if matches!(ctx.via, crate::ctx::Via::ApiKey(_)) {
            policy::require(ctx, Permission::TeamManage)?;
        }
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let rows = tx.memberships().list().await?;
        page_by_id(rows, |m| m.membership.id.as_uuid(), limit, cursor)
    }

    pub async fn update_member(&self, ctx: &Ctx, id: MembershipId, patch: MemberPatch) -> Result<Membership, AppError> {
        policy::require(ctx, Permission::TeamManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let before = tx.memberships().get(id).await?;
        policy::may_touch_role(ctx, before.role)?;
        if let Some(role) = patch.role {
            policy::may_touch_role(ctx, role)?;
        }
        let mut after = before.clone();
        if let Some(role) = patch.role {
            after.role = role;
        }
        if let Some(status) = patch.status {
            after.status = status;
        }
        if let Some(manager) = patch.manager_id {
            if let Some(m) = manager {
                check_manager(&*tx, after.user_id, m).await?;
            }
            after.manager_id = manager;
        }
        if before.status != MembershipStatus::Active && after.status == MembershipStatus::Active {
            // Reactivating takes a seat again: the plan's limit applies as for an invitation.
            tx.tenants().lock_current().await?;
            let (_, plan) = tx.subscriptions().current_with_plan().await?;
            let used = tx.memberships().count_active().await? + tx.invites().count_pending(self.clock.now()).await?;
            let limit = plan.limit(UsageMetric::Seats);
            if !limit.allows(used, 1) {
                return Err(AppError::QuotaExceeded { metric: UsageMetric::Seats, limit: limit.to_stored(), used });
            }
        }
        let loses_owner = before.role == Role::Owner
            && before.status == MembershipStatus::Active
            && (after.role != Role::Owner || after.status != MembershipStatus::Active);
        if loses_owner {
            ensure_another_owner(&*tx).await?;
        }
        after.updated_at = self.clock.now();
        tx.memberships().update(&after).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::TeamRoleChanged,
                Some((leadzone_domain::enums::AuditEntityType::Membership, id.as_uuid())),
                "member updated",
                AuditDetails { before: Some(member_json(&before)), after: Some(member_json(&after)), metadata: None },
            ))
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes a membership; the user's leads in this tenant become unassigned.
    pub async fn remove_member(&self, ctx: &Ctx, id: MembershipId) -> Result<(), AppError> {
        policy::require(ctx, Permission::TeamManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let member = tx.memberships().get(id).await?;
        policy::may_touch_role(ctx, member.role)?;
        if member.role == Role::Owner && member.status == MembershipStatus::Active {
            ensure_another_owner(&*tx).await?;
        }
        let unassigned = tx.leads().unassign_user(member.user_id).await?;
        tx.memberships().clear_manager(member.user_id).await?;
        tx.memberships().delete(id).await?;
        // A removed member's keys and sessions must not come back if they are invited again.
        tx.api_keys().revoke_created_by(member.user_id, self.clock.now()).await?;
        self.sessions.revoke_tenant_sessions(member.user_id, ctx.tenant_id, self.clock.now()).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::TeamMemberRemoved,
                Some((leadzone_domain::enums::AuditEntityType::Membership, id.as_uuid())),
                "member removed",
                AuditDetails {
                    before: Some(member_json(&member)),
                    metadata: Some(json!({"userId": member.user_id, "leadsUnassigned": unassigned})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Invites someone by email. Seats: active members + pending invites may not exceed the plan.
    /// The token is returned once (and mailed); only its hash is stored.
    pub async fn create_invite(&self, ctx: &Ctx, email: &str, role: Role) -> Result<(Invite, String), AppError> {
        policy::require(ctx, Permission::TeamManage)?;
        let mut v = Validator::new();
        let email = v.check_field("email", Email::parse(email));
        if role == Role::Owner {
            v.push("role", "must be ADMIN, MANAGER or SALES");
        }
        v.finish()?;
        let Some(email) = email else { return Err(AppError::Internal("validated email missing".into())) };
        let now = self.clock.now();
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let tenant = tx.tenants().lock_current().await?;
        if tx.memberships().email_is_member(email.as_str()).await? {
            return Err(AppError::Conflict(crate::error::ConflictKind::AlreadyMember));
        }
        if tx.invites().pending_for_email(email.as_str(), now).await? {
            return Err(AppError::Conflict(crate::error::ConflictKind::InvitePending));
        }
        let (_, plan) = tx.subscriptions().current_with_plan().await?;
        let used = tx.memberships().count_active().await? + tx.invites().count_pending(now).await?;
        let limit = plan.limit(UsageMetric::Seats);
        if !limit.allows(used, 1) {
            return Err(AppError::QuotaExceeded { metric: UsageMetric::Seats, limit: limit.to_stored(), used });
        }
        let token = self.tokens.generate(INVITE_TOKEN_PREFIX);
        let invite = Invite {
            id: self.ids.new_id().into(),
            tenant_id: ctx.tenant_id,
            email: email.as_str().to_owned(),
            role,
            token_hash: self.tokens.hash(&token),
            invited_by: ctx.user_id,
            status: InviteStatus::Pending,
            expires_at: now + self.config.invite_ttl,
            accepted_at: None,
            created_at: now,
        };
        tx.invites().insert(&invite).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::TeamInviteSent,
                Some((leadzone_domain::enums::AuditEntityType::Invite, invite.id.as_uuid())),
                "invitation sent",
                AuditDetails { after: Some(json!({"email": invite.email, "role": invite.role})), ..Default::default() },
            ))
            .await?;
        // Queued in the same transaction: the mail exists exactly when the invitation does. Its body
        // (the link is a live credential) is stored sealed and delivered by a worker.
        let accept_url = format!("{}/invites/accept?token={token}", self.config.public_url.trim_end_matches('/'));
        let mail = crate::mail::invitation(
            &invite.email,
            &crate::mail::InvitationMail {
                language: tenant.settings.language.unwrap_or(Language::En),
                organization: &tenant.name,
                role,
                accept_url: &accept_url,
                expires_on: invite.expires_at.date(),
            },
        );
        crate::mail::queue(&*tx, &*self.secrets, self.ids.new_id(), &mail).await?;
        tx.commit().await?;
        Ok((invite, token))
    }

    /// A page of the tenant's invitations, oldest first, each with its effective status
    /// (`limit` 1–200, default 50; `cursor` the previous page's `nextCursor`).
    pub async fn list_invites(
        &self,
        ctx: &Ctx,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page<Invite>, AppError> {
        policy::require(ctx, Permission::TeamManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let now = self.clock.now();
        let rows: Vec<Invite> =
            tx.invites().list().await?.into_iter().map(|i| Invite { status: i.effective_status(now), ..i }).collect();
        page_by_id(rows, |i| i.id.as_uuid(), limit, cursor)
    }

    pub async fn revoke_invite(&self, ctx: &Ctx, id: InviteId) -> Result<Invite, AppError> {
        policy::require(ctx, Permission::TeamManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let invite = tx.invites().get(id).await?;
        let now = self.clock.now();
        if !tx.invites().finish(id, InviteStatus::Revoked, now).await? {
            return Err(AppError::Conflict(crate::error::ConflictKind::InviteNotPending(
                invite.effective_status(now).to_string(),
            )));
        }
        tx.commit().await?;
        Ok(Invite { status: InviteStatus::Revoked, ..invite })
    }

    /// Accepts an invitation: a new user gives name and password; an existing user must be signed
    /// in as the invited email (`actor`). Expired → 410; revoked, used or unknown → 404.
    pub async fn accept_invite(
        &self,
        actor: Option<&Ctx>,
        input: AcceptInput,
        client: crate::ClientInfo,
    ) -> Result<Accepted, AppError> {
        if input.token.trim().is_empty() {
            return Err(AppError::field("token", "is required"));
        }
        let invite = self
            .lookups
            .invite_by_token_hash(&self.tokens.hash(input.token.trim()))
            .await?
            .ok_or(AppError::NotFound)?;
        let now = self.clock.now();
        match invite.effective_status(now) {
            InviteStatus::Pending => {}
            InviteStatus::Expired => return Err(AppError::InviteExpired),
            InviteStatus::Accepted | InviteStatus::Revoked => return Err(AppError::NotFound),
        }
        let existing = self.lookups.find_user_by_email(&invite.email).await?;
        let new_password_hash = match (&existing, &input.password) {
            (None, Some(p)) if check_password_strength(p).is_ok() => Some(self.hasher.hash(p).await?),
            _ => None,
        };
        let tx = self.uow.begin(invite.tenant_id).await?;
        match tx.tenants().current().await?.status {
            leadzone_domain::enums::TenantStatus::Suspended => return Err(AppError::TenantSuspended),
            leadzone_domain::enums::TenantStatus::Deleted => return Err(AppError::NotFound),
            _ => {}
        }
        let user_id = match (existing, actor) {
            (Some(user), Some(ctx)) if ctx.user_id == user.id => user.id,
            (Some(_), Some(_)) => return Err(AppError::Forbidden),
            (Some(_), None) => return Err(AppError::Unauthenticated),
            (None, _) => {
                let mut v = Validator::new();
                let name = v.check_field("name", required_text(input.name.as_deref().unwrap_or(""), 255));
                let password = input.password.clone().unwrap_or_default();
                v.check_field("password", check_password_strength(&password));
                v.finish()?;
                let user = User {
                    id: self.ids.new_id().into(),
                    email: invite.email.clone(),
                    password_hash: new_password_hash
                        .ok_or_else(|| AppError::Internal("password hash missing".into()))?,
                    name: name.unwrap_or_default(),
                    avatar_url: None,
                    phone: None,
                    email_verified: true,
                    email_verified_at: Some(now),
                    last_login_at: Some(now),
                    created_at: now,
                    updated_at: now,
                    totp_secret: None,
                    totp_enabled: false,
                };
                tx.users().insert(&user).await.map_err(|e| match e {
                    RepoError::Conflict(_) => AppError::Conflict(crate::error::ConflictKind::EmailTaken),
                    other => other.into(),
                })?;
                user.id
            }
        };
        if !tx.invites().finish(invite.id, InviteStatus::Accepted, now).await? {
            return Err(AppError::NotFound);
        }
        let membership = Membership {
            id: self.ids.new_id().into(),
            user_id,
            tenant_id: invite.tenant_id,
            role: invite.role,
            status: MembershipStatus::Active,
            manager_id: None,
            created_at: now,
            updated_at: now,
        };
        tx.memberships().insert(&membership).await.map_err(|e| match e {
            RepoError::Conflict(_) => AppError::Conflict(crate::error::ConflictKind::AlreadyMember),
            other => other.into(),
        })?;
        let ctx = Ctx::on_behalf_of(
            user_id,
            invite.tenant_id,
            invite.role,
            client.clone(),
            leadzone_domain::enums::TenantStatus::Active,
            None,
        );
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::TeamInviteAccepted,
                Some((leadzone_domain::enums::AuditEntityType::Invite, invite.id.as_uuid())),
                "invitation accepted",
                AuditDetails { after: Some(member_json(&membership)), ..Default::default() },
            ))
            .await?;
        tx.commit().await?;
        let tokens = self.identity.open_session(user_id, invite.tenant_id, &client).await?;
        Ok(Accepted { membership, tokens })
    }
}

/// A manager must be an active MANAGER, ADMIN or OWNER of the tenant, and not the member itself.
async fn check_manager(tx: &dyn TenantTx, member: UserId, manager: UserId) -> Result<(), AppError> {
    let bad = || AppError::field("managerId", "must be an active MANAGER, ADMIN or OWNER of this organization");
    if manager == member {
        return Err(AppError::field("managerId", "a member cannot manage themself"));
    }
    match tx.memberships().get_by_user(manager).await {
        Ok(m) if m.status == MembershipStatus::Active && m.role != Role::Sales => Ok(()),
        Ok(_) | Err(RepoError::NotFound) => Err(bad()),
        Err(e) => Err(e.into()),
    }
}

/// The last active OWNER is protected: 409 unless another active OWNER remains.
async fn ensure_another_owner(tx: &dyn TenantTx) -> Result<(), AppError> {
    if tx.memberships().lock_active_owners().await?.len() <= 1 {
        return Err(AppError::Conflict(crate::error::ConflictKind::LastOwner));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, app_with, ctx};

    fn membership(role: Role, user: u128) -> Membership {
        crate::testing::member(user, role)
    }

    #[tokio::test]
    async fn an_admin_cannot_touch_an_owner() {
        let mut tx = FakeTx::default();
        tx.memberships.expect_get().returning(|_| Ok(membership(Role::Owner, 2)));
        let err = app_with(tx)
            .team
            .update_member(
                &ctx(Role::Admin, 1),
                uuid::Uuid::from_u128(102).into(),
                MemberPatch { role: Some(Role::Sales), ..Default::default() },
            )
            .await
            .unwrap_err();
        assert_eq!(err, AppError::Forbidden);
    }

    #[tokio::test]
    async fn an_admin_cannot_make_an_owner() {
        let mut tx = FakeTx::default();
        tx.memberships.expect_get().returning(|_| Ok(membership(Role::Sales, 2)));
        let err = app_with(tx)
            .team
            .update_member(
                &ctx(Role::Admin, 1),
                uuid::Uuid::from_u128(102).into(),
                MemberPatch { role: Some(Role::Owner), ..Default::default() },
            )
            .await
            .unwrap_err();
        assert_eq!(err, AppError::Forbidden);
    }

    #[tokio::test]
    async fn the_last_owner_cannot_be_demoted_or_removed() {
        for remove in [false, true] {
            let mut tx = FakeTx::default();
            tx.memberships.expect_get().returning(|_| Ok(membership(Role::Owner, 1)));
            tx.memberships.expect_lock_active_owners().returning(|| Ok(vec![uuid::Uuid::from_u128(101).into()]));
            let app = app_with(tx);
            let id: MembershipId = uuid::Uuid::from_u128(101).into();
            let err = if remove {
                app.team.remove_member(&ctx(Role::Owner, 1), id).await.unwrap_err()
            } else {
                app.team
                    .update_member(
                        &ctx(Role::Owner, 1),
                        id,
                        MemberPatch { role: Some(Role::Admin), ..Default::default() },
                    )
                    .await
                    .unwrap_err()
            };
            assert!(matches!(err, AppError::Conflict(_)), "remove={remove}: {err:?}");
        }
    }

    #[tokio::test]
    async fn managers_and_sales_cannot_manage_the_team() {
        for role in [Role::Manager, Role::Sales] {
            let app = app_with(FakeTx::default());
            let err = app.team.remove_member(&ctx(role, 1), uuid::Uuid::from_u128(5).into()).await.unwrap_err();
            assert_eq!(err, AppError::Forbidden, "{role}");
            let err = app.team.create_invite(&ctx(role, 1), "x@y.sa", Role::Sales).await.unwrap_err();
            assert_eq!(err, AppError::Forbidden, "{role}");
        }
    }

    #[tokio::test]
    async fn a_sales_member_cannot_be_a_manager() {
        let mut tx = FakeTx::default();
        tx.memberships.expect_get().returning(|_| Ok(membership(Role::Sales, 2)));
        tx.memberships.expect_get_by_user().returning(|_| Ok(membership(Role::Sales, 3)));
        let err = app_with(tx)
            .team
            .update_member(
                &ctx(Role::Admin, 1),
                uuid::Uuid::from_u128(102).into(),
                MemberPatch { manager_id: Some(Some(uuid::Uuid::from_u128(3).into())), ..Default::default() },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Validation(ref e) if e[0].field == "managerId"));
    }

    #[tokio::test]
    async fn inviting_an_owner_is_refused() {
        let err = app_with(FakeTx::default())
            .team
            .create_invite(&ctx(Role::Owner, 1), "x@y.sa", Role::Owner)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Validation(ref e) if e[0].field == "role"));
    }
}
