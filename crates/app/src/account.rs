//! The signed-in user's account: profile, password, and two-factor authentication.

use crate::identity::NAME_MAX;
use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::entities::{AuditDetails, User};
use leadzone_domain::enums::*;
use leadzone_domain::error::Validator;
use leadzone_domain::values::{check_password_strength, optional_text, required_text};

#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub name: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub phone: Option<Option<String>>,
}

/// What 2FA setup hands the user once: the secret (base32) and a URL for authenticator apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
}

crate::service! {
    /// A member's own account: profile, password, two-factor.
    Account {
        ports: [uow, sessions, hasher, secrets, totp, clock, ids],
        uses: [
            identity: crate::identity::Identity,
        ],
    }
}

impl Account {
    /// `PATCH /me`: name, avatar, phone.
    pub async fn update_me(&self, ctx: &Ctx, patch: ProfilePatch) -> Result<User, AppError> {
        policy::require_active_tenant(ctx)?;
        policy::require_session(ctx)?;
        let mut v = Validator::new();
        let name = patch.name.as_deref().map(|n| v.check_field("name", required_text(n, NAME_MAX)));
        let avatar = patch.avatar_url.as_ref().map(|a| v.check_field("avatarUrl", optional_text(a.as_deref(), 2048)));
        let phone = patch.phone.as_ref().map(|p| {
            v.check_field(
                "phone",
                match p.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(raw) => leadzone_domain::values::PhoneE164::parse(raw).map(|p| Some(p.as_str().to_owned())),
                },
            )
        });
        v.finish()?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let mut user = tx.users().get(ctx.user_id).await?;
        if let Some(Some(name)) = name {
            user.name = name;
        }
        if let Some(Some(avatar)) = avatar {
            user.avatar_url = avatar;
        }
        if let Some(Some(phone)) = phone {
            user.phone = phone;
        }
        user.updated_at = self.clock.now();
        tx.users().update(&user).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Changes the password after checking the current one; every other session of the user ends.
    pub async fn change_password(&self, ctx: &Ctx, current: &str, new: &str) -> Result<(), AppError> {
        policy::require_active_tenant(ctx)?;
        let session = policy::require_session(ctx)?;
        let mut v = Validator::new();
        v.check_field("newPassword", check_password_strength(new));
        v.finish()?;
        let new_hash = self.hasher.hash(new).await?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let mut user = tx.users().get(ctx.user_id).await?;
        if !self.hasher.verify(current, &user.password_hash).await? {
            return Err(AppError::field("currentPassword", "is not your current password"));
        }
        user.password_hash = new_hash;
        user.updated_at = self.clock.now();
        tx.users().update(&user).await?;
        // Revoked before the commit: if the commit fails the user is merely signed out elsewhere;
        // the reverse order could leave a stolen session alive after a password change.
        self.sessions.revoke_user_sessions(ctx.user_id, Some(session), self.clock.now()).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::AuthPasswordChange,
                Some((leadzone_domain::enums::AuditEntityType::User, user.id.as_uuid())),
                "password changed",
                AuditDetails::default(),
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts 2FA setup: a fresh secret, stored sealed, not yet enforced until `enable_2fa`.
    pub async fn setup_2fa(&self, ctx: &Ctx) -> Result<TotpSetup, AppError> {
        policy::require_active_tenant(ctx)?;
        policy::require_session(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let mut user = tx.users().get(ctx.user_id).await?;
        if user.totp_enabled {
            return Err(AppError::Conflict(crate::error::ConflictKind::TwoFactorAlreadyOn));
        }
        let secret = self.totp.new_secret();
        user.totp_secret = Some(self.secrets.seal(&secret)?);
        user.updated_at = self.clock.now();
        tx.users().update(&user).await?;
        tx.commit().await?;
        Ok(TotpSetup {
            secret: self.totp.encode_secret(&secret),
            otpauth_url: self.totp.otpauth_url(&secret, &user.email),
        })
    }

    pub async fn enable_2fa(&self, ctx: &Ctx, code: &str) -> Result<(), AppError> {
        self.toggle_2fa(ctx, code, true).await
    }

    pub async fn disable_2fa(&self, ctx: &Ctx, code: &str) -> Result<(), AppError> {
        self.toggle_2fa(ctx, code, false).await
    }

    async fn toggle_2fa(&self, ctx: &Ctx, code: &str, enable: bool) -> Result<(), AppError> {
        policy::require_active_tenant(ctx)?;
        policy::require_session(ctx)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let mut user = tx.users().get(ctx.user_id).await?;
        if user.totp_secret.is_none() {
            return Err(AppError::Conflict(crate::error::ConflictKind::TwoFactorNotSetUp));
        }
        if user.totp_enabled == enable {
            return Err(AppError::Conflict(if enable {
                crate::error::ConflictKind::TwoFactorAlreadyOn
            } else {
                crate::error::ConflictKind::TwoFactorAlreadyOff
            }));
        }
        if !self.identity.verify_totp(&user, code).await? {
            return Err(AppError::field("code", "is not a valid one-time code"));
        }
        user.totp_enabled = enable;
        if !enable {
            user.totp_secret = None;
        }
        user.updated_at = self.clock.now();
        tx.users().update(&user).await?;
        let (event, action) = if enable {
            (AuditEventType::Auth2faEnable, "2FA enabled")
        } else {
            (AuditEventType::Auth2faDisable, "2FA disabled")
        };
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                event,
                Some((leadzone_domain::enums::AuditEntityType::User, user.id.as_uuid())),
                action,
                AuditDetails::default(),
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
