//! Authentication and sessions: register, login (with throttling and 2FA), refresh, logout,
//! switching tenant, resolving a bearer token, and the current user. The account's own settings
//! (profile, password, 2FA) are `account`.

use crate::ctx::Via;
use crate::{AppError, ClientInfo, Ctx, audit, policy};
use leadzone_domain::access::{Permission, api_key_permissions};
use leadzone_domain::entities::{AuditDetails, Membership, Subscription, Tenant, TenantSettings, User};
use leadzone_domain::enums::*;
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{PlanId, TenantId, UserId};
use leadzone_domain::values::{Email, Slug, check_password_strength, required_text};
use leadzone_ports::RepoError;
use leadzone_ports::sessions::{LoginFailures, NewSession, RefreshOutcome, RotatedTokens};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use time::{Duration, OffsetDateTime};

pub const ACCESS_TOKEN_PREFIX: &str = "lza_";
pub const REFRESH_TOKEN_PREFIX: &str = "lzr_";
pub const API_KEY_LIVE_PREFIX: &str = "lz_live_";
pub const API_KEY_TEST_PREFIX: &str = "lz_test_";
pub(crate) const NAME_MAX: usize = 255;
/// Login throttling: this many failures for one email from one client IP within the window →
/// 429 for that email from that client.
pub const MAX_LOGIN_FAILURES: i64 = 5;
/// …and this many from all clients → 429 for that email from everywhere (distributed guessing).
pub const MAX_LOGIN_FAILURES_PER_EMAIL: i64 = 50;
pub const LOGIN_FAILURE_WINDOW: Duration = Duration::minutes(15);

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

crate::service! {
    /// Sign-up, sign-in (with its throttle), tokens and sessions.
    Identity { ports: [uow, sessions, lookups, hasher, tokens, secrets, totp, clock, ids, config] }
}

impl Identity {
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

        if self.lookups.find_user_by_email(email.as_str()).await?.is_some() {
            return Err(AppError::Conflict(crate::error::ConflictKind::EmailTaken));
        }
        let slug = match slug {
            Some(s) if self.lookups.slug_taken(s.as_str()).await? => {
                return Err(AppError::Conflict(crate::error::ConflictKind::SlugTaken));
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
            totp_secret: None,
            totp_enabled: false,
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
            stripe_event_at: None,
        };

        let tx = self.uow.begin(tenant.id).await?;
        tx.users().insert(&user).await.map_err(conflict_as(crate::error::ConflictKind::EmailTaken))?;
        tx.tenants().insert(&tenant).await.map_err(conflict_as(crate::error::ConflictKind::SlugTaken))?;
        tx.memberships().insert(&membership).await?;
        tx.subscriptions().insert(&subscription).await?;
        let ctx = self.actor_ctx(user.id, tenant.id, Role::Owner, client.clone());
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::SubscriptionCreated,
                Some((leadzone_domain::enums::AuditEntityType::Subscription, subscription.id.as_uuid())),
                "subscription created",
                AuditDetails {
                    after: Some(serde_json::json!({"planId": subscription.plan_id.as_str(), "status": "ACTIVE"})),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await.map_err(conflict_as(crate::error::ConflictKind::EmailTaken))?;

        let tokens = self.open_session(user.id, tenant.id, &client).await?;
        Ok(AuthResult { user, tenant, role: Role::Owner, tokens })
    }

    /// Finds a free slug: the derived one, or it with a random suffix.
    async fn free_slug(&self, base: &Slug) -> Result<Slug, AppError> {
        if !self.lookups.slug_taken(base.as_str()).await? {
            return Ok(base.clone());
        }
        for _ in 0..5 {
            let random: String = self.ids.new_id().simple().to_string().chars().rev().take(6).collect();
            let candidate = base.with_suffix(&random);
            if !self.lookups.slug_taken(candidate.as_str()).await? {
                return Ok(candidate);
            }
        }
        Err(AppError::Conflict(crate::error::ConflictKind::NoFreeSlug))
    }

    /// Checks the password (and the one-time code when 2FA is on) and opens a session in the
    /// requested tenant, or in the oldest active membership. Unknown email and wrong password are
    /// indistinguishable, in answer and in cost. 5 failures for one email from one client IP in
    /// 15 minutes → 429 for that email from that client; 50 from all clients → 429 for that email
    /// everywhere. Only failures count: correct logins, however many at once, never do.
    pub async fn login(&self, input: LoginInput, client: ClientInfo) -> Result<AuthResult, AppError> {
        // Throttled by a hash of the email as typed: any length fits, nothing readable is kept,
        // and unknown emails are throttled like known ones.
        let throttle_key = self.tokens.hash(&input.email.trim().to_lowercase());
        let ip = client.ip;
        // Attempts for one (email, client) take turns in this process: each reads the failures,
        // checks the password and records the outcome before the next one reads, so parallel
        // guesses get no more password checks than sequential ones. Nothing holds a database
        // connection meanwhile; every store call below is a statement of its own.
        let ip_text = ip.map(|ip| ip.to_string()).unwrap_or_default();
        let turn = LOGIN_TURNS.take(self.tokens.hash(&format!("{throttle_key}\n{ip_text}"))).await;

        let now = self.clock.now();
        let failures = self.sessions.login_failures(&throttle_key, ip, now - LOGIN_FAILURE_WINDOW).await?;
        if let Some(until) = throttled_until(&failures, now) {
            return Err(AppError::RateLimited { retry_after_secs: (until - now).whole_seconds().max(1) as u64 });
        }
        let user = match Email::parse(&input.email) {
            Ok(email) => self.lookups.find_user_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        let Some(user) = user else {
            self.hasher.verify_dummy(&input.password).await;
            self.sessions.record_login_failure(&throttle_key, ip, now).await?;
            return Err(AppError::InvalidCredentials);
        };
        let memberships = self.lookups.memberships_of_user(user.id).await?;
        if !self.hasher.verify(&input.password, &user.password_hash).await? {
            self.sessions.record_login_failure(&throttle_key, ip, now).await?;
            self.audit_failed_login(&user, &memberships, "wrong password", &client).await?;
            return Err(AppError::InvalidCredentials);
        }
        if user.totp_enabled {
            // The right password without a code is the first half of a login, not a failure (and
            // not a success: it clears nothing, or it would reset the count of wrong codes).
            let Some(code) = input.otp.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(AppError::OtpRequired);
            };
            if !self.verify_totp(&user, code).await? {
                self.sessions.record_login_failure(&throttle_key, ip, now).await?;
                self.audit_failed_login(&user, &memberships, "wrong one-time code", &client).await?;
                return Err(AppError::InvalidCredentials);
            }
        }
        // The credentials are right: this client's failures are forgiven (other clients' stay,
        // and so does the email's ceiling), and the next attempt may go.
        self.sessions.clear_login_failures(&throttle_key, ip).await?;
        drop(turn);

        let usable =
            |(m, t): &&(Membership, Tenant)| m.status == MembershipStatus::Active && t.status != TenantStatus::Deleted;
        let chosen = match input.tenant_id {
            Some(wanted) => {
                memberships.iter().filter(usable).find(|(m, _)| m.tenant_id == wanted).ok_or(AppError::NotFound)?
            }
            None => memberships.iter().find(|pair| usable(pair)).ok_or(AppError::InvalidCredentials)?,
        };
        let (membership, tenant) = chosen.clone();

        // Audited before anything changes: the session lives in another store (the system role's),
        // so the two cannot commit together, and a login the audit log cannot record opens no
        // session. (The other way round, an audit row whose session then failed to open, records
        // a login that only was not completed.)
        let ctx = self.actor_ctx(user.id, tenant.id, membership.role, client.clone());
        let tx = self.uow.begin(tenant.id).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::AuthLogin,
                Some((leadzone_domain::enums::AuditEntityType::User, user.id.as_uuid())),
                "login",
                AuditDetails::default(),
            ))
            .await?;
        tx.commit().await?;

        self.sessions.record_login(user.id, now).await?;
        let tokens = self.open_session(user.id, tenant.id, &client).await?;

        Ok(AuthResult { user: User { last_login_at: Some(now), ..user }, tenant, role: membership.role, tokens })
    }

    /// AUTH_FAILED_LOGIN lands in the user's oldest tenant (an audit row needs one).
    async fn audit_failed_login(
        &self,
        user: &User,
        memberships: &[(Membership, Tenant)],
        why: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        let Some((m, _)) = memberships.first() else { return Ok(()) };
        let ctx = self.actor_ctx(user.id, m.tenant_id, m.role, client.clone());
        let tx = self.uow.begin(m.tenant_id).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                &ctx,
                AuditEventType::AuthFailedLogin,
                Some((leadzone_domain::enums::AuditEntityType::User, user.id.as_uuid())),
                why,
                AuditDetails::default(),
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A valid code whose time step was not spent before; spending it makes a replay fail.
    pub(crate) async fn verify_totp(&self, user: &User, code: &str) -> Result<bool, AppError> {
        let Some(sealed) = &user.totp_secret else { return Ok(false) };
        let secret = self.secrets.open(sealed)?;
        match self.totp.verify(&secret, code, self.clock.now().unix_timestamp()) {
            Some(step) => Ok(self.sessions.claim_totp_step(user.id, step).await?),
            None => Ok(false),
        }
    }

    /// Rotates a refresh token: the old one stops working, and presenting it again revokes the
    /// whole session.
    pub async fn refresh(&self, refresh_token: &str) -> Result<IssuedTokens, AppError> {
        if !refresh_token.starts_with(REFRESH_TOKEN_PREFIX) {
            return Err(AppError::Unauthenticated);
        }
        let now = self.clock.now();
        let access_token = self.tokens.generate(ACCESS_TOKEN_PREFIX);
        let new_refresh = self.tokens.generate(REFRESH_TOKEN_PREFIX);
        let rotated = RotatedTokens {
            access_token_hash: self.tokens.hash(&access_token),
            access_expires_at: now + self.config.access_token_ttl,
            refresh_token_hash: self.tokens.hash(&new_refresh),
            refresh_expires_at: now + self.config.refresh_token_ttl,
        };
        match self.sessions.rotate_refresh(&self.tokens.hash(refresh_token), &rotated, now).await? {
            RefreshOutcome::Rotated(p) if p.membership_status == MembershipStatus::Active => {
                Ok(IssuedTokens { access_token, refresh_token: new_refresh, expires_at: rotated.access_expires_at })
            }
            RefreshOutcome::Rotated(p) => {
                self.sessions.revoke_session(p.session_id, now).await?;
                Err(AppError::Unauthenticated)
            }
            RefreshOutcome::Reused => {
                tracing::warn!("a rotated refresh token was presented again; its session is revoked");
                Err(AppError::Unauthenticated)
            }
            RefreshOutcome::Invalid => Err(AppError::Unauthenticated),
        }
    }

    /// Ends the current session: its access and refresh tokens stop working at once.
    pub async fn logout(&self, ctx: &Ctx) -> Result<(), AppError> {
        let session = policy::require_session(ctx)?;
        self.sessions.revoke_session(session, self.clock.now()).await?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::AuthLogout,
                Some((leadzone_domain::enums::AuditEntityType::User, ctx.user_id.as_uuid())),
                "logout",
                AuditDetails::default(),
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new token pair bound to another tenant the user is an active member of (else 404).
    pub async fn switch_tenant(&self, ctx: &Ctx, tenant: TenantId) -> Result<AuthResult, AppError> {
        policy::require_session(ctx)?;
        let (membership, tenant) = self
            .lookups
            .memberships_of_user(ctx.user_id)
            .await?
            .into_iter()
            .find(|(m, t)| {
                m.tenant_id == tenant && m.status == MembershipStatus::Active && t.status != TenantStatus::Deleted
            })
            .ok_or(AppError::NotFound)?;
        let tokens = self.open_session(ctx.user_id, tenant.id, &ctx.client).await?;
        let tx = self.uow.begin(tenant.id).await?;
        let user = tx.users().get(ctx.user_id).await?;
        drop(tx);
        Ok(AuthResult { user, tenant, role: membership.role, tokens })
    }

    pub(crate) async fn open_session(
        &self,
        user: UserId,
        tenant: TenantId,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AppError> {
        let now = self.clock.now();
        let access_token = self.tokens.generate(ACCESS_TOKEN_PREFIX);
        let refresh_token = self.tokens.generate(REFRESH_TOKEN_PREFIX);
        let expires_at = now + self.config.access_token_ttl;
        self.sessions
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

    /// A context for audit rows written on behalf of a user outside a request's own context.
    fn actor_ctx(&self, user: UserId, tenant: TenantId, role: Role, client: ClientInfo) -> Ctx {
        Ctx::on_behalf_of(user, tenant, role, client, TenantStatus::Active, None)
    }

    /// Resolves a bearer token — a session access token or an API key — to the context of a
    /// request. Anything but a live credential of an active member is 401 `UNAUTHENTICATED`.
    pub async fn authenticate(&self, bearer: &str, client: ClientInfo) -> Result<Ctx, AppError> {
        let now = self.clock.now();
        if bearer.starts_with(API_KEY_LIVE_PREFIX) || bearer.starts_with(API_KEY_TEST_PREFIX) {
            if !self.tokens.checksum_valid(bearer) {
                return Err(AppError::Unauthenticated);
            }
            let p =
                self.lookups.api_key_by_hash(&self.tokens.hash(bearer), now).await?.ok_or(AppError::Unauthenticated)?;
            let Some(creator_role) = p.creator_role else { return Err(AppError::Unauthenticated) };
            if p.tenant_status == TenantStatus::Deleted {
                return Err(AppError::Unauthenticated);
            }
            self.lookups.touch_api_key(p.key.id, now).await?;
            // A key never exceeds its creator as they are now: a demoted creator's keys shrink.
            let scopes: Vec<Permission> =
                p.key.scopes.iter().filter_map(|s| Permission::parse(s)).filter(|p| creator_role.has(*p)).collect();
            return Ok(Ctx {
                user_id: p.key.created_by,
                tenant_id: p.key.tenant_id,
                role: Role::Admin,
                permissions: api_key_permissions(&scopes),
                via: Via::ApiKey(p.key.id),
                client,
                tenant_status: p.tenant_status,
                subscription_status: p.subscription_status,
            });
        }
        if !bearer.starts_with(ACCESS_TOKEN_PREFIX) {
            return Err(AppError::Unauthenticated);
        }
        let principal = self
            .sessions
            .session_by_access_hash(&self.tokens.hash(bearer), now)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if principal.membership_status != MembershipStatus::Active || principal.tenant_status == TenantStatus::Deleted {
            return Err(AppError::Unauthenticated);
        }
        Ok(Ctx {
            user_id: principal.user_id,
            tenant_id: principal.tenant_id,
            role: principal.role,
            permissions: principal.role.permissions(),
            via: Via::Session(principal.session_id),
            client,
            tenant_status: principal.tenant_status,
            subscription_status: principal.subscription_status,
        })
    }

    /// The current user, tenant, role, effective permissions and every active membership.
    pub async fn me(&self, ctx: &Ctx) -> Result<MeView, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let user = tx.users().get(ctx.user_id).await?;
        let tenant = tx.tenants().current().await?;
        drop(tx);
        let memberships = self
            .lookups
            .memberships_of_user(ctx.user_id)
            .await?
            .into_iter()
            .filter(|(m, t)| m.status == MembershipStatus::Active && t.status != TenantStatus::Deleted)
            .map(|(m, t)| (t, m.role))
            .collect();
        Ok(MeView { user, tenant, role: ctx.role, permissions: ctx.permissions.clone(), memberships })
    }
}

/// Maps a uniqueness conflict to the rule it breaks; other errors pass through.
fn conflict_as(kind: crate::error::ConflictKind) -> impl Fn(RepoError) -> AppError {
    move |e| match e {
        RepoError::Conflict(_) => AppError::Conflict(kind.clone()),
        other => other.into(),
    }
}

/// When the throttle lifts for a client with these failures, if it is throttled: 5 from the client
/// (for this email) or 50 from all clients; the later of the two when both.
fn throttled_until(failures: &LoginFailures, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let lifts = |oldest: Option<OffsetDateTime>| oldest.unwrap_or(now) + LOGIN_FAILURE_WINDOW;
    let from_ip = (failures.from_ip >= MAX_LOGIN_FAILURES).then(|| lifts(failures.from_ip_oldest));
    let total = (failures.total >= MAX_LOGIN_FAILURES_PER_EMAIL).then(|| lifts(failures.total_oldest));
    from_ip.max(total)
}

/// Login attempts take turns per key (a hash of email and client IP) within this process. Each
/// key has an async mutex while someone holds or awaits it; the last one out removes it, so the
/// map holds only keys in use (plus, briefly, those whose waiter was cancelled: swept when the
/// map has doubled since the last sweep). Across processes the turns are not shared: with N
/// processes one client gets at most N × 5 password checks per window (deploy/SCALING.md). The
/// map is one per process (a static), shared by every `App` in it: turns are about this process's
/// concurrency, and keys of different databases only ever wait for each other, never mix counts.
struct LoginTurns {
    keys: std::sync::Mutex<TurnMap>,
}

struct TurnMap {
    locks: HashMap<String, Arc<futures::lock::Mutex<()>>>,
    sweep_at: usize,
}

/// Idle keys are swept once the map reaches this many (or twice the live ones at the last sweep).
const TURNS_SWEEP_AT: usize = 1024;

static LOGIN_TURNS: LazyLock<LoginTurns> = LazyLock::new(LoginTurns::new);

impl LoginTurns {
    fn new() -> Self {
        Self { keys: std::sync::Mutex::new(TurnMap { locks: HashMap::new(), sweep_at: TURNS_SWEEP_AT }) }
    }

    fn keys(&self) -> std::sync::MutexGuard<'_, TurnMap> {
        // The map stays consistent whatever panicked while holding it (each step is one call).
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the key's turn; the turn ends when the returned value is dropped.
    async fn take(&self, key: String) -> Turn<'_> {
        let lock = {
            let mut keys = self.keys();
            if keys.locks.len() >= keys.sweep_at {
                keys.locks.retain(|_, lock| Arc::strong_count(lock) > 1);
                keys.sweep_at = (keys.locks.len() * 2).max(TURNS_SWEEP_AT);
            }
            Arc::clone(keys.locks.entry(key.clone()).or_default())
        };
        let guard = Arc::clone(&lock).lock_owned().await;
        Turn { turns: self, key, lock, guard: Some(guard) }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys().locks.len()
    }
}

/// One attempt's turn for its key.
struct Turn<'a> {
    turns: &'a LoginTurns,
    key: String,
    lock: Arc<futures::lock::Mutex<()>>,
    guard: Option<futures::lock::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut keys = self.turns.keys();
        // Only the map and this turn know the lock: nobody holds or awaits it, so it goes. (Under
        // the map's mutex no one can pick it up meanwhile; a later attempt makes a new one.)
        if Arc::strong_count(&self.lock) == 2 && keys.locks.get(&self.key).is_some_and(|l| Arc::ptr_eq(l, &self.lock)) {
            keys.locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod login_turn_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn failures(from_ip: i64, total: i64, from_ip_oldest: i64, total_oldest: i64) -> LoginFailures {
        let at = |mins_ago: i64| Some(crate::testing::now() - Duration::minutes(mins_ago));
        LoginFailures { from_ip, from_ip_oldest: at(from_ip_oldest), total, total_oldest: at(total_oldest) }
    }

    #[test]
    fn five_from_one_client_or_fifty_from_all_throttle_until_the_oldest_leaves_the_window() {
        let now = crate::testing::now();
        assert_eq!(throttled_until(&LoginFailures::default(), now), None);
        assert_eq!(throttled_until(&failures(4, 49, 10, 14), now), None);
        assert_eq!(throttled_until(&failures(5, 5, 10, 10), now), Some(now + Duration::minutes(5)));
        assert_eq!(throttled_until(&failures(0, 50, 0, 14), now), Some(now + Duration::minutes(1)));
        // Both: the later.
        assert_eq!(throttled_until(&failures(5, 50, 3, 14), now), Some(now + Duration::minutes(12)));
        assert_eq!(throttled_until(&failures(5, 50, 14, 3), now), Some(now + Duration::minutes(12)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn attempts_for_one_key_take_turns_and_idle_keys_are_dropped() {
        let turns: &'static LoginTurns = Box::leak(Box::new(LoginTurns::new()));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (inside, most) = (inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _turn = turns.take("a".into()).await;
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Another key does not wait for them.
        let other = turns.take("b".into()).await;
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(turns.len(), 1, "only the key still held is kept");
        drop(other);
        assert_eq!(turns.len(), 0);
    }

    #[tokio::test]
    async fn a_waiter_cancelled_after_its_wake_up_leaves_a_key_that_a_sweep_removes() {
        let turns: &'static LoginTurns = Box::leak(Box::new(LoginTurns::new()));
        let held = turns.take("k".into()).await;
        let mut waiter = Box::pin(turns.take("k".into()));
        assert!(futures::FutureExt::now_or_never(&mut waiter).is_none());
        // The holder leaves while someone waits, so it keeps the key; then the waiter gives up
        // (its client went away) without ever taking its turn.
        drop(held);
        drop(waiter);
        assert_eq!(turns.len(), 1);
        // Once the map reaches the sweep mark, idle keys go.
        let mut many = Vec::new();
        for i in 0..TURNS_SWEEP_AT {
            many.push(turns.take(format!("k{i}")).await);
        }
        assert!(!turns.keys().locks.contains_key("k"));
        assert_eq!(turns.len(), TURNS_SWEEP_AT);
        drop(many);
        assert_eq!(turns.len(), 0);
        // And "k" works as before.
        drop(turns.take("k".into()).await);
        assert_eq!(turns.len(), 0);
    }
}

#[cfg(test)]
mod login_tests {
    //! The login's throttle and its order of writes, without a database: a throttled client gets
    //! no password check, a failure is counted before the answer, a success forgives only this
    //! client and is audited before its session opens.
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::testing::{FakeTx, now, ports_with_txs};
    use leadzone_ports::lookups::MockLookups;
    use leadzone_ports::security::{MockPasswordHasher, MockTokens};
    use leadzone_ports::sessions::MockSessionStore;
    use mockall::Sequence;

    const IP: &str = "203.0.113.7";

    fn user() -> User {
        User {
            id: uuid::Uuid::from_u128(1).into(),
            email: "sara@example.sa".into(),
            password_hash: "$argon2id$stored".into(),
            name: "Sara".into(),
            avatar_url: None,
            phone: None,
            email_verified: true,
            email_verified_at: None,
            last_login_at: None,
            created_at: now(),
            updated_at: now(),
            totp_secret: None,
            totp_enabled: false,
        }
    }

    fn membership() -> (Membership, Tenant) {
        (crate::testing::member(1, Role::Sales), crate::testing::tenant())
    }

    fn input(password: &str) -> LoginInput {
        LoginInput { email: " Sara@Example.sa ".into(), password: password.into(), tenant_id: None, otp: None }
    }

    fn client() -> ClientInfo {
        ClientInfo { ip: Some(IP.parse().unwrap()), user_agent: None }
    }

    /// Tokens hash to `h(…)`, so a test can say which key a store call was given.
    fn tokens() -> MockTokens {
        let mut tokens = MockTokens::new();
        tokens.expect_hash().returning(|t| format!("h({t})"));
        tokens.expect_generate().returning(|prefix| format!("{prefix}token"));
        tokens
    }

    /// The throttle key of `input()`: the email trimmed and lower-cased, hashed.
    fn key() -> String {
        "h(sara@example.sa)".into()
    }

    fn app(
        txs: Vec<FakeTx>,
        sessions: MockSessionStore,
        lookups: MockLookups,
        hasher: MockPasswordHasher,
    ) -> crate::App {
        let mut ports = ports_with_txs(txs);
        ports.sessions = Arc::new(sessions);
        ports.lookups = Arc::new(lookups);
        ports.hasher = Arc::new(hasher);
        ports.tokens = Arc::new(tokens());
        crate::App::new(ports)
    }

    /// Sara's account found by her email, and her password checked: right or not.
    fn sara(password: &'static str, password_ok: bool) -> (MockLookups, MockPasswordHasher) {
        let mut lookups = MockLookups::new();
        lookups.expect_find_user_by_email().withf(|e| e == "sara@example.sa").returning(|_| Ok(Some(user())));
        lookups.expect_memberships_of_user().returning(|_| Ok(vec![membership()]));
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_verify()
            .withf(move |p, phc| p == password && phc == "$argon2id$stored")
            .returning(move |_, _| Ok(password_ok));
        (lookups, hasher)
    }

    fn failures_so_far(sessions: &mut MockSessionStore, from_ip: i64, total: i64) {
        sessions
            .expect_login_failures()
            .withf(|k, ip, since| {
                *k == key() && *ip == Some(IP.parse().unwrap()) && *since == now() - LOGIN_FAILURE_WINDOW
            })
            .times(1)
            .returning(move |_, _, _| {
                let oldest = Some(now() - Duration::minutes(10));
                Ok(LoginFailures { from_ip, from_ip_oldest: oldest, total, total_oldest: oldest })
            });
    }

    #[tokio::test]
    async fn a_throttled_client_is_refused_without_a_password_check() {
        let mut sessions = MockSessionStore::new();
        failures_so_far(&mut sessions, MAX_LOGIN_FAILURES, MAX_LOGIN_FAILURES);
        // Lookups and hasher have no expectations: reaching either fails the test.
        let app = app(vec![], sessions, MockLookups::new(), MockPasswordHasher::new());
        let err = app.identity.login(input("right"), client()).await.unwrap_err();
        // The oldest failure is 10 minutes old: it leaves the 15-minute window in 5.
        assert_eq!(err, AppError::RateLimited { retry_after_secs: 300 });
    }

    #[tokio::test]
    async fn the_email_ceiling_throttles_a_client_that_never_failed() {
        let mut sessions = MockSessionStore::new();
        failures_so_far(&mut sessions, 0, MAX_LOGIN_FAILURES_PER_EMAIL);
        let app = app(vec![], sessions, MockLookups::new(), MockPasswordHasher::new());
        assert!(matches!(app.identity.login(input("right"), client()).await, Err(AppError::RateLimited { .. })));
    }

    #[tokio::test]
    async fn an_unknown_email_costs_a_hash_and_counts_as_a_failure() {
        let mut sessions = MockSessionStore::new();
        failures_so_far(&mut sessions, 4, 4);
        sessions
            .expect_record_login_failure()
            .withf(|k, ip, at| *k == key() && ip.is_some() && *at == now())
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut lookups = MockLookups::new();
        lookups.expect_find_user_by_email().times(1).returning(|_| Ok(None));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_verify_dummy().times(1).returning(|_| false);
        let app = app(vec![], sessions, lookups, hasher);
        assert_eq!(app.identity.login(input("guess"), client()).await.unwrap_err(), AppError::InvalidCredentials);
    }

    #[tokio::test]
    async fn a_wrong_password_is_counted_and_audited_in_the_member_s_tenant() {
        let mut sessions = MockSessionStore::new();
        failures_so_far(&mut sessions, 0, 0);
        sessions.expect_record_login_failure().withf(|k, _, _| *k == key()).times(1).returning(|_, _, _| Ok(()));
        let (_, hasher) = sara("wrong", false);
        // Sara belongs to tenant 0xB only: the failure is audited there (the transaction is
        // refused when begun for any other tenant).
        let b: TenantId = uuid::Uuid::from_u128(0xB).into();
        let mut lookups = MockLookups::new();
        lookups.expect_find_user_by_email().returning(|_| Ok(Some(user())));
        lookups.expect_memberships_of_user().returning(move |_| {
            let (m, t) = membership();
            Ok(vec![(Membership { tenant_id: b, ..m }, Tenant { id: b, ..t })])
        });
        let mut audit = FakeTx { tenant: Some(b), ..FakeTx::default() };
        audit
            .audit
            .expect_append()
            .withf(|e| e.event_type == AuditEventType::AuthFailedLogin && e.action == "wrong password")
            .times(1)
            .returning(|_| Ok(()));
        // No `clear_login_failures`, `record_login` or `create_session` expectation.
        let app = app(vec![audit], sessions, lookups, hasher);
        assert_eq!(app.identity.login(input("wrong"), client()).await.unwrap_err(), AppError::InvalidCredentials);
    }

    #[tokio::test]
    async fn a_success_forgives_this_client_then_audits_then_opens_the_session() {
        let mut seq = Sequence::new();
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_login_failures()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(LoginFailures { from_ip: 4, total: 30, ..Default::default() }));
        sessions
            .expect_clear_login_failures()
            .withf(|k, ip| *k == key() && *ip == Some(IP.parse().unwrap()))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let mut audit = FakeTx::default();
        audit
            .audit
            .expect_append()
            .withf(|e| e.event_type == AuditEventType::AuthLogin)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let commits = audit.commits.clone();
        sessions
            .expect_record_login()
            .withf(|u, at| *u == user().id && *at == now())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        sessions
            .expect_create_session()
            .withf(|s| s.user_id == user().id && s.access_token_hash == "h(lza_token)")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let (lookups, hasher) = sara("right", true);
        let app = app(vec![audit], sessions, lookups, hasher);
        let done = app.identity.login(input("right"), client()).await.unwrap();
        assert_eq!((done.role, done.user.last_login_at), (Role::Sales, Some(now())));
        assert_eq!(commits.load(std::sync::atomic::Ordering::SeqCst), 1, "the audit row is committed");
    }

    #[tokio::test]
    async fn a_login_the_audit_log_cannot_record_opens_no_session() {
        let mut sessions = MockSessionStore::new();
        failures_so_far(&mut sessions, 0, 0);
        sessions.expect_clear_login_failures().returning(|_, _| Ok(()));
        // No `record_login` or `create_session` expectation.
        let (lookups, hasher) = sara("right", true);
        let mut audit = FakeTx::default();
        audit.audit.expect_append().returning(|_| Err(RepoError::Unavailable("down".into())));
        let app = app(vec![audit], sessions, lookups, hasher);
        assert!(matches!(app.identity.login(input("right"), client()).await, Err(AppError::Unavailable(_))));
    }
}
