//! Accounts and sessions: register, login, resolving a bearer token, and the current user.

use crate::ctx::Via;
use crate::{App, AppError, ClientInfo, Ctx, audit};
use leadzone_domain::entities::{AuditDetails, Membership, Subscription, Tenant, TenantSettings, User};
use leadzone_domain::enums::*;
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{PlanId, SessionId, TenantId, UserId};
use leadzone_domain::values::{Email, Slug, check_password_strength, required_text};
use leadzone_ports::RepoError;
use leadzone_ports::system::NewSession;
use time::{Duration, OffsetDateTime};

pub const ACCESS_TOKEN_PREFIX: &str = "lza_";
pub const REFRESH_TOKEN_PREFIX: &str = "lzr_";
const NAME_MAX: usize = 255;

#[derive(Debug, Clone, Default)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub name: String,
    pub organization_name: String,
    pub organization_slug: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub tenant_id: Option<TenantId>,
    pub otp: Option<String>,
}

/// A fresh token pair. The tokens exist only here and in the response; storage has hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuthResult {
    pub user: User,
    pub tenant: Tenant,
    pub role: Role,
    pub tokens: IssuedTokens,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MeView {
    pub user: User,
    pub tenant: Tenant,
    pub role: Role,
    pub permissions: Vec<leadzone_domain::access::Permission>,
    pub memberships: Vec<(Tenant, Role)>,
}

impl App {
    /// Creates a user, a tenant, an OWNER membership and a free ACTIVE subscription in one
    /// transaction, then opens a session.
    pub async fn register(&self, input: RegisterInput, client: ClientInfo) -> Result<AuthResult, AppError> {
        let mut v = Validator::new();
        let email = v.check_field("email", Email::parse(&input.email));
        v.check_field("password", check_password_strength(&input.password));
        let name = v.check_field("name", required_text(&input.name, NAME_MAX));
        let org_name = v.check_field("organizationName", required_text(&input.organization_name, NAME_MAX));
        let slug = match input.organization_slug.as_deref().map(str::trim) {
            None | Some("") => Some(None),
            Some(s) => v.check_field("organizationSlug", Slug::parse(s)).map(Some),
        };
        v.finish()?;
        let (Some(email), Some(name), Some(org_name), Some(slug)) = (email, name, org_name, slug) else {
            return Err(AppError::Internal("validator passed with a missing field".into()));
        };

        if self.system.find_user_by_email(email.as_str()).await?.is_some() {
            return Err(AppError::Conflict("an account with this email already exists".into()));
        }
        let slug = match slug {
            Some(s) if self.system.slug_taken(s.as_str()).await? => {
                return Err(AppError::Conflict("this organization slug is taken".into()));
            }
            Some(s) => s,
            None => self.free_slug(&Slug::from_name(&org_name)).await?,
        };
        let password_hash = self.hasher.hash(&input.password).await?;

        let now = self.clock.now();
        let user = User {
            id: self.ids.new_id().into(),
            email: email.as_str().to_owned(),
            password_hash,
            name,
            avatar_url: None,
            phone: None,
            email_verified: false,
            email_verified_at: None,
            last_login_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        let tenant = Tenant {
            id: self.ids.new_id().into(),
            name: org_name,
            slug: slug.as_str().to_owned(),
            logo_url: None,
            status: TenantStatus::Active,
            settings: TenantSettings::default(),
            created_at: now,
            updated_at: now,
        };
        let membership = Membership {
            id: self.ids.new_id().into(),
            user_id: user.id,
            tenant_id: tenant.id,
            role: Role::Owner,
            status: MembershipStatus::Active,
            manager_id: None,
            created_at: now,
            updated_at: now,
        };
        let subscription = Subscription {
            id: self.ids.new_id().into(),
            tenant_id: tenant.id,
            plan_id: PlanId::free(),
            status: SubscriptionStatus::Active,
            billing_cycle: BillingCycle::Monthly,
            current_period_start: now,
            current_period_end: now + Duration::days(30),
            cancel_at_period_end: false,
            trial_ends_at: None,
            stripe_subscription_id: None,
            created_at: now,
            updated_at: now,
        };

        let tx = self.uow.begin(tenant.id).await?;
        tx.users().insert(&user).await.map_err(conflict_as("an account with this email already exists"))?;
        tx.tenants().insert(&tenant).await.map_err(conflict_as("this organization slug is taken"))?;
        tx.memberships().insert(&membership).await?;
        tx.subscriptions().insert(&subscription).await?;
        let ctx =
            self.session_ctx(user.id, tenant.id, Role::Owner, SessionId::from_uuid(uuid::Uuid::nil()), client.clone());
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::SubscriptionCreated,
                Some(("subscription", subscription.id.as_uuid())),
                "subscription created",
                AuditDetails {
                    after: Some(serde_json::json!({"planId": subscription.plan_id.as_str(), "status": "ACTIVE"})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await.map_err(conflict_as("an account with this email already exists"))?;

        let tokens = self.open_session(user.id, tenant.id, &client).await?;
        Ok(AuthResult { user, tenant, role: Role::Owner, tokens })
    }

    /// Finds a free slug: the derived one, or it with a random suffix.
    async fn free_slug(&self, base: &Slug) -> Result<Slug, AppError> {
        if !self.system.slug_taken(base.as_str()).await? {
            return Ok(base.clone());
        }
        for _ in 0..5 {
            let random: String = self.ids.new_id().simple().to_string().chars().rev().take(6).collect();
            let candidate = base.with_suffix(&random);
            if !self.system.slug_taken(candidate.as_str()).await? {
                return Ok(candidate);
            }
        }
        Err(AppError::Conflict("could not find a free organization slug; please choose one".into()))
    }

    /// Checks the password and opens a session in the requested tenant, or in the oldest active
    /// membership. Unknown email and wrong password are indistinguishable, in answer and in cost.
    pub async fn login(&self, input: LoginInput, client: ClientInfo) -> Result<AuthResult, AppError> {
        let user = match Email::parse(&input.email) {
            Ok(email) => self.system.find_user_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            self.hasher.verify_dummy(&input.password).await;
            return Err(AppError::InvalidCredentials);
        };
        if !self.hasher.verify(&input.password, &user.password_hash).await? {
            return Err(AppError::InvalidCredentials);
        }

        let memberships = self.system.memberships_of_user(user.id).await?;
        let usable =
            |(m, t): &&(Membership, Tenant)| m.status == MembershipStatus::Active && t.status != TenantStatus::Deleted;
        let chosen = match input.tenant_id {
            Some(wanted) => {
                memberships.iter().filter(usable).find(|(m, _)| m.tenant_id == wanted).ok_or(AppError::NotFound)?
            }
            None => memberships.iter().find(|pair| usable(pair)).ok_or(AppError::InvalidCredentials)?,
        };
        let (membership, tenant) = chosen.clone();

        let now = self.clock.now();
        self.system.record_login(user.id, now).await?;
        let tokens = self.open_session(user.id, tenant.id, &client).await?;

        let ctx =
            self.session_ctx(user.id, tenant.id, membership.role, SessionId::from_uuid(uuid::Uuid::nil()), client);
        let tx = self.uow.begin(tenant.id).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::AuthLogin,
                Some(("user", user.id.as_uuid())),
                "login",
                AuditDetails::default(),
            ))
            .await?;
        tx.commit().await?;

        Ok(AuthResult { user: User { last_login_at: Some(now), ..user }, tenant, role: membership.role, tokens })
    }

    async fn open_session(
        &self,
        user: UserId,
        tenant: TenantId,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AppError> {
        let now = self.clock.now();
        let access_token = self.tokens.generate(ACCESS_TOKEN_PREFIX);
        let refresh_token = self.tokens.generate(REFRESH_TOKEN_PREFIX);
        let expires_at = now + self.config.access_token_ttl;
        self.system
            .create_session(&NewSession {
                id: self.ids.new_id().into(),
                user_id: user,
                tenant_id: tenant,
                access_token_hash: self.tokens.hash(&access_token),
                access_expires_at: expires_at,
                refresh_token_hash: self.tokens.hash(&refresh_token),
                refresh_expires_at: now + self.config.refresh_token_ttl,
                ip_address: client.ip,
                user_agent: client.user_agent.clone(),
            })
            .await?;
        Ok(IssuedTokens { access_token, refresh_token, expires_at })
    }

    fn session_ctx(&self, user: UserId, tenant: TenantId, role: Role, session: SessionId, client: ClientInfo) -> Ctx {
        Ctx {
            user_id: user,
            tenant_id: tenant,
            role,
            permissions: role.permissions(),
            via: Via::Session(session),
            client,
        }
    }

    /// Resolves a bearer token to the context of a request. Anything but a live session of an
    /// active member is 401 `UNAUTHENTICATED`.
    pub async fn authenticate(&self, bearer: &str, client: ClientInfo) -> Result<Ctx, AppError> {
        if !bearer.starts_with(ACCESS_TOKEN_PREFIX) {
            return Err(AppError::Unauthenticated);
        }
        let now = self.clock.now();
        let principal = self
            .system
            .session_by_access_hash(&self.tokens.hash(bearer), now)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if principal.membership_status != MembershipStatus::Active || principal.tenant_status == TenantStatus::Deleted {
            return Err(AppError::Unauthenticated);
        }
        Ok(self.session_ctx(principal.user_id, principal.tenant_id, principal.role, principal.session_id, client))
    }

    /// The current user, tenant, role, effective permissions and every active membership.
    pub async fn me(&self, ctx: &Ctx) -> Result<MeView, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let user = tx.users().get(ctx.user_id).await?;
        let tenant = tx.tenants().current().await?;
        drop(tx);
        let memberships = self
            .system
            .memberships_of_user(ctx.user_id)
            .await?
            .into_iter()
            .filter(|(m, t)| m.status == MembershipStatus::Active && t.status != TenantStatus::Deleted)
            .map(|(m, t)| (t, m.role))
            .collect();
        Ok(MeView { user, tenant, role: ctx.role, permissions: ctx.permissions.clone(), memberships })
    }
}

/// Maps a uniqueness conflict to a client-facing message; other errors pass through.
fn conflict_as(message: &'static str) -> impl Fn(RepoError) -> AppError {
    move |e| match e {
        RepoError::Conflict(_) => AppError::Conflict(message.to_owned()),
        other => other.into(),
    }
}
