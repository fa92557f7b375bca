//! Rate limits (api.md, "Conventions: rate limits"): `LEADZONE_RATE_LIMIT_PER_MIN` requests per
//! minute per API key, per session, and per client IP for unauthenticated requests; `0` turns
//! them off. Over the limit → 429 `RATE_LIMITED` with `Retry-After`; every limited response
//! carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
//!
//! GCRA (`governor`), in memory, per process: N processes behind a balancer let a client through
//! up to N times the limit (`deploy/SCALING.md`). A credential is keyed by a hash of its bearer
//! token — sessions and API keys each get their own bucket without a database lookup, and no
//! token is kept; unauthenticated requests are keyed by the client IP (`X-Forwarded-For` only
//! from `LEADZONE_TRUSTED_PROXIES`), an IPv6 client by its /64. Keys whose bucket has refilled
//! are dropped every [`SWEEP_EVERY`] requests, so memory stays bounded under a flood of keys.
//!
//! Two layers, because the problem middleware (`middleware::observe`) re-renders a problem
//! response from scratch in the request's language: [`account`] wraps it, charges the bucket
//! and stamps the headers on whatever answer comes back; [`enforce`] sits inside it and turns a
//! refused request into the `RATE_LIMITED` problem, which `observe` then renders.
//!
//! `/healthz`, `/readyz`, `/metrics` and `/webhooks/*` are never limited (probes, scrapers and
//! providers' deliveries must not be refused for the traffic of others).

use crate::HttpState;
use crate::auth::{Cidr, bearer, client_info};
use crate::problem::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::{NoOpMiddleware, StateInformationMiddleware};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Gcra};
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Idle keys are swept out once per this many checks.
pub const SWEEP_EVERY: u64 = 4096;

/// Whose bucket a request draws from. Never a raw token: a keyed hash of it (the hasher's keys
/// are random per process).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Token(u64),
    Ip(IpAddr),
}

/// The verdict on one request, kept in the request's extensions between the two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the bucket is full again (when refused: until the next request may pass).
    pub reset_secs: u64,
    /// Set when the request is refused.
    pub retry_after_secs: Option<u64>,
}

impl Outcome {
    fn stamp(&self, headers: &mut HeaderMap) {
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(self.reset_secs));
    }
}

/// A keyed GCRA limiter with its sweeping; generic over the clock so tests can move time.
pub struct Limiter<C: Clock = DefaultClock> {
    gcra: Gcra<Key, DefaultKeyedStateStore<Key>, C, StateInformationMiddleware>,
    limit: u32,
    interval: Duration,
    hasher: RandomState,
    checks: AtomicU64,
}

impl Limiter<DefaultClock> {
    /// `per_minute` requests per minute per key, all of them available at once (burst = limit).
    pub fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_clock(per_minute, DefaultClock::default())
    }
}

impl<C: Clock> Limiter<C> {
    pub fn with_clock(per_minute: NonZeroU32, clock: C) -> Self {
        let quota = Quota::per_minute(per_minute);
        let gcra = Gcra::<Key, _, C, NoOpMiddleware<C::Instant>>::new(quota, DefaultKeyedStateStore::default(), clock)
            .with_middleware::<StateInformationMiddleware>();
        Self {
            gcra,
            limit: per_minute.get(),
            interval: quota.replenish_interval(),
            hasher: RandomState::new(),
            checks: AtomicU64::new(0),
        }
    }

    /// The key of a bearer token (a hash: the token itself is never stored).
    pub fn token_key(&self, token: &str) -> Key {
        Key::Token(self.hasher.hash_one(token))
    }

    /// Charges one request to `key`.
    pub fn check(&self, key: &Key) -> Outcome {
        let outcome = match self.gcra.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(self.limit);
                let used = self.limit - remaining;
                Outcome {
                    limit: self.limit,
                    remaining,
                    reset_secs: ceil_secs(self.interval.saturating_mul(used)),
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = ceil_secs(not_until.wait_time_from(self.gcra.clock().now())).max(1);
                Outcome { limit: self.limit, remaining: 0, reset_secs: wait, retry_after_secs: Some(wait) }
            }
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        outcome
    }

    /// Drops every key whose bucket has refilled (it is indistinguishable from a new one) and
    /// returns the memory.
    pub fn sweep(&self) {
        self.gcra.retain_recent();
        self.gcra.shrink_to_fit();
    }

    /// Keys currently held.
    pub fn len(&self) -> usize {
        self.gcra.len()
    }

    pub fn is_empty(&self) -> bool {
        self.gcra.is_empty()
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The limiter of a server: off (`LEADZONE_RATE_LIMIT_PER_MIN=0`) or on.
#[derive(Default)]
pub struct RateLimit(Option<Limiter>);

impl RateLimit {
    /// `0` turns limiting off.
    pub fn per_minute(per_minute: u32) -> Self {
        Self(NonZeroU32::new(per_minute).map(Limiter::per_minute))
    }

    pub fn off() -> Self {
        Self(None)
    }

    pub fn limiter(&self) -> Option<&Limiter> {
        self.0.as_ref()
    }
}

/// Paths that are never limited: probes, the metrics scrape and providers' webhooks.
pub fn exempt(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/webhooks") || path.starts_with("/webhooks/")
}

/// The bucket of an address: an IPv6 client controls a whole /64, so that is what it gets.
fn ip_key(ip: Option<IpAddr>) -> Key {
    let ip = match ip {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    };
    Key::Ip(ip)
}

/// Whose bucket: the bearer token's (session or API key), else the client's address.
pub fn key_of<C: Clock>(req: &actix_web::HttpRequest, limiter: &Limiter<C>, trusted: &[Cidr]) -> Key {
    match bearer(req).filter(|t| !t.is_empty()) {
        Some(token) => limiter.token_key(&token),
        None => ip_key(client_info(req, trusted).ip),
    }
}

/// The outer layer (around `observe`): charges the request and stamps `RateLimit-*` on its
/// answer, problem or not.
pub async fn account(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let outcome = match req.app_data::<web::Data<HttpState>>() {
        Some(state) if !exempt(req.path()) => {
            state.rate_limit.limiter().map(|l| l.check(&key_of(req.request(), l, &state.trusted_proxies)))
        }
        _ => None,
    };
    if let Some(outcome) = outcome {
        req.extensions_mut().insert(outcome);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(outcome) = outcome {
        outcome.stamp(res.headers_mut());
    }
    Ok(res)
}

/// The inner layer (inside `observe`): a refused request never reaches a handler; it is the
/// `RATE_LIMITED` problem (with `Retry-After`), rendered by `observe` in the request's language.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let refused = req.extensions().get::<Outcome>().and_then(|o| o.retry_after_secs);
    if let Some(retry_after_secs) = refused {
        let err = ApiError::App(leadzone_app::AppError::RateLimited { retry_after_secs });
        return Ok(req.error_response(err));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn limiter(per_minute: u32) -> (Limiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (Limiter::with_clock(NonZeroU32::new(per_minute).unwrap(), clock.clone()), clock)
    }

    #[test]
    fn a_bucket_runs_dry_and_refills() {
        let (l, clock) = limiter(60);
        let key = l.token_key("lz_live_secret");
        let first = l.check(&key);
        assert_eq!((first.limit, first.remaining, first.reset_secs, first.retry_after_secs), (60, 59, 1, None));
        for _ in 1..60 {
            assert_eq!(l.check(&key).retry_after_secs, None);
        }
        let refused = l.check(&key);
        assert_eq!((refused.remaining, refused.retry_after_secs, refused.reset_secs), (0, Some(1), 1));
        // Another key is untouched.
        assert_eq!(l.check(&l.token_key("another")).remaining, 59);
        // One cell comes back per second (60/min).
        clock.advance(Duration::from_secs(1));
        let again = l.check(&key);
        assert_eq!((again.retry_after_secs, again.remaining), (None, 0));
        clock.advance(Duration::from_secs(60));
        assert_eq!(l.check(&key).remaining, 59);
    }

    #[test]
    fn tokens_are_hashed_not_kept() {
        let (l, _) = limiter(60);
        assert_eq!(l.token_key("abc"), l.token_key("abc"));
        assert_ne!(l.token_key("abc"), l.token_key("abd"));
        assert!(!format!("{:?}", l.token_key("abc")).contains("abc"));
    }

    #[test]
    fn many_distinct_keys_are_dropped_once_idle() {
        let (l, clock) = limiter(1200);
        for i in 0..20_000u32 {
            l.check(&Key::Ip(IpAddr::from(i.to_be_bytes())));
        }
        // The automatic sweeps ran, but every key was still in use.
        assert_eq!(l.len(), 20_000);
        clock.advance(Duration::from_secs(1));
        // A key still draining survives: it has spent most of its minute.
        let busy = l.token_key("busy");
        for _ in 0..1000 {
            l.check(&busy);
        }
        l.sweep();
        assert_eq!(l.len(), 1, "idle keys are gone, the busy one stays");
        assert_eq!(l.check(&busy).remaining, 199);
        // Once it has refilled it goes too — and sweeping happens on its own every SWEEP_EVERY.
        clock.advance(Duration::from_secs(61));
        for _ in 0..SWEEP_EVERY {
            l.check(&Key::Ip(IpAddr::from([10, 0, 0, 1])));
            clock.advance(Duration::from_millis(60));
        }
        assert!(l.len() <= 1, "{} keys left", l.len());
    }

    #[test]
    fn ipv6_clients_share_their_64_and_mapped_v4_is_v4() {
        let a = ip_key(Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = ip_key(Some("2001:db8:1:2:bbbb::9".parse().unwrap()));
        let c = ip_key(Some("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(ip_key(Some("::ffff:10.0.0.1".parse().unwrap())), ip_key(Some("10.0.0.1".parse().unwrap())));
    }

    #[test]
    fn exempt_paths() {
        for p in ["/healthz", "/readyz", "/metrics", "/webhooks/stripe", "/webhooks/whatsapp"] {
            assert!(exempt(p), "{p}");
        }
        for p in ["/api/v1/leads", "/healthzz", "/api/v1/webhooks", "/admin/v1/tenants"] {
            assert!(!exempt(p), "{p}");
        }
    }

    #[test]
    fn off_is_off() {
        assert!(RateLimit::per_minute(0).limiter().is_none());
        assert!(RateLimit::per_minute(1).limiter().is_some());
    }
}
