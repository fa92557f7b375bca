//! The SSRF guard: the one place that decides whether Leadzone may fetch a URL a tenant controls
//! (a lead's website today, an outbound webhook later).
//!
//! Three checks, all needed:
//! - [`check_url`] before every request and every redirect hop (see [`next_hop`]): `http`/`https`
//!   only, ports 80 and 443 only, and no IP-literal host in a forbidden range ([`is_forbidden`]).
//!   The `url` crate has already folded the odd IPv4 spellings (`0x7f000001`, `2130706433`,
//!   `0177.0.0.1`) into `127.0.0.1` by then.
//! - [`GuardedResolver`], the DNS resolver of the client that fetches: it drops every forbidden
//!   address a name resolves to and fails with a [`Refusal`] when none remain. The addresses the
//!   client connects to are the ones checked here, so a name that resolves to a public address at
//!   check time and to `127.0.0.1` at connect time (DNS rebinding) gains nothing.
//! - A client built with [`guarded_client_builder`]: no proxy from the environment (a proxy would
//!   resolve the name itself) and no automatic redirects (the caller follows them through
//!   [`next_hop`]).
//!
//! [`FetchPolicy::allow_private`] (`LEADZONE_ALLOW_PRIVATE_FETCH=true`, for tests and local
//! development only) lifts the port and address checks; the scheme check stays.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use url::{Host, Url};

/// Redirect hops a guarded fetch follows at most.
pub const MAX_REDIRECT_HOPS: usize = 5;

/// What the guard lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchPolicy {
    /// Private, loopback and other internal addresses, and ports other than 80/443, are allowed.
    /// Only for tests and local development (`LEADZONE_ALLOW_PRIVATE_FETCH=true`).
    pub allow_private: bool,
    /// For tests of the strict policy only: one host NAME treated as public (any address it
    /// resolves to, any port), so that a test can serve an "allowed" site on the loopback address
    /// and show that what it redirects to is still checked. Nothing in the server sets it.
    pub exempt_host: Option<&'static str>,
}

impl FetchPolicy {
    /// The production policy: public addresses on ports 80/443 only.
    pub const fn strict() -> Self {
        Self { allow_private: false, exempt_host: None }
    }

    /// Private fetches allowed or not (`LEADZONE_ALLOW_PRIVATE_FETCH`), nothing exempt.
    pub const fn new(allow_private: bool) -> Self {
        Self { allow_private, exempt_host: None }
    }

    fn exempts(&self, host: &str) -> bool {
        self.exempt_host.is_some_and(|h| h.eq_ignore_ascii_case(host.trim_end_matches('.')))
    }
}

/// Why the guard refused a URL or a name. `Display` is the reason in plain words, fit for a
/// tenant (`refused: 127.0.0.1 is a loopback address`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("refused: {0:?} is not a valid URL")]
    Invalid(String),
    #[error("refused: only http and https URLs are fetched, not {0}:")]
    Scheme(String),
    #[error("refused: the URL has no host")]
    NoHost,
    #[error("refused: only ports 80 and 443 are fetched, not {0}")]
    Port(u16),
    /// An IP-literal host in a forbidden range; `range` says which (`a loopback address`).
    #[error("refused: {ip} is {range}")]
    Address { ip: IpAddr, range: &'static str },
    /// Every address a name resolved to is forbidden; `ip` is the first of them.
    #[error("refused: {host} resolves to {ip}, {range}")]
    Resolved { host: String, ip: IpAddr, range: &'static str },
    #[error("refused: more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("refused: a redirect without a usable Location ({0})")]
    BadRedirect(String),
}

/// The forbidden range `ip` falls in, in words (`a loopback address`), or `None` for an address
/// the guard lets through.
pub fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// Whether `ip` is an address Leadzone never fetches from: loopback, private, link-local (cloud
/// metadata), shared (CGNAT), multicast, unspecified, broadcast, documentation and reserved
/// ranges, IPv6 unique-local and link-local, and IPv6 forms embedding a forbidden IPv4 address
/// (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`).
pub fn is_forbidden(ip: IpAddr) -> bool {
    forbidden_range(ip).is_some()
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = if ip.is_broadcast() {
        "the broadcast address"
    } else if ip.is_unspecified() {
        "the unspecified address"
    } else if a == 0 {
        "in 0.0.0.0/8 (this network)"
    } else if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address (cloud metadata lives there)"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if a >= 240 {
        "a reserved address"
    } else if (a == 192 && b == 0 && c == 2) || (a == 198 && b == 51 && c == 100) || (a == 203 && b == 0 && c == 113) {
        "a documentation address"
    } else if a == 198 && (b == 18 || b == 19) {
        "a benchmarking address"
    } else if a == 192 && b == 0 && c == 0 {
        "an IETF protocol address"
    } else if a == 192 && b == 88 && c == 99 {
        "a 6to4 relay address"
    } else {
        return None;
    };
    Some(range)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    let [s0, s1, s2, s3, s4, s5, s6, s7] = segments;
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // ::ffff:a.b.c.d (IPv4-mapped) and ::a.b.c.d (IPv4-compatible, deprecated).
    if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0 && (s5 == 0xffff || s5 == 0) {
        return forbidden_v4(embedded(s6, s7)).map(|_| "an IPv6 form of a forbidden IPv4 address");
    }
    // NAT64's well-known prefix 64:ff9b::/96 reaches the IPv4 address it embeds.
    if s0 == 0x64 && s1 == 0xff9b && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        return forbidden_v4(embedded(s6, s7)).map(|_| "a NAT64 form of a forbidden IPv4 address");
    }
    // 6to4 2002:AABB:CCDD::/48 reaches AA.BB.CC.DD.
    if s0 == 0x2002 {
        return forbidden_v4(embedded(s1, s2)).map(|_| "a 6to4 form of a forbidden IPv4 address");
    }
    let range = if (s0 & 0xfe00) == 0xfc00 {
        "a unique-local address"
    } else if (s0 & 0xffc0) == 0xfe80 {
        "a link-local address"
    } else if (s0 & 0xffc0) == 0xfec0 {
        "a site-local address"
    } else if (s0 & 0xff00) == 0xff00 {
        "a multicast address"
    } else if s0 == 0x2001 && s1 == 0x0db8 {
        "a documentation address"
    } else if s0 == 0x0100 && s1 == 0 && s2 == 0 && s3 == 0 {
        "a discard-only address"
    } else {
        return None;
    };
    Some(range)
}

/// Checks a URL before it is requested: `http`/`https` only; unless `policy.allow_private`,
/// ports 80/443 only and no IP-literal host in a forbidden range. A host name is checked when it
/// is resolved, by [`GuardedResolver`].
///
/// # Errors
/// The [`Refusal`] saying why.
pub fn check_url(url: &Url, policy: &FetchPolicy) -> Result<(), Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Scheme(url.scheme().to_owned()));
    }
    let host = url.host().ok_or(Refusal::NoHost)?;
    if policy.allow_private || url.host_str().is_some_and(|h| policy.exempts(h)) {
        return Ok(());
    }
    let port = url.port_or_known_default().ok_or(Refusal::NoHost)?;
    if port != 80 && port != 443 {
        return Err(Refusal::Port(port));
    }
    let ip = match host {
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
        Host::Domain(name) => match name.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return Ok(()),
        },
    };
    match forbidden_range(ip) {
        Some(range) => Err(Refusal::Address { ip, range }),
        None => Ok(()),
    }
}

/// The URL a redirect from `current` to `location` (the `Location` header) leads to, checked
/// with [`check_url`]: what a guarded fetch does at every hop.
///
/// # Errors
/// [`Refusal::BadRedirect`] when `location` is not a URL; else as [`check_url`].
pub fn next_hop(current: &Url, location: &str, policy: &FetchPolicy) -> Result<Url, Refusal> {
    let mut next = current.join(location.trim()).map_err(|e| Refusal::BadRedirect(e.to_string()))?;
    next.set_fragment(None);
    check_url(&next, policy)?;
    Ok(next)
}

/// A future that resolves a name.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Something that resolves host names: the system's resolver in production
/// ([`SystemResolver`]), a fixed table in tests.
pub trait HostResolver: Send + Sync {
    /// The addresses `host` resolves to (a name, never an IP literal).
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl HostResolver for SystemResolver {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            // RFC 6761: `localhost` and every name under it are the loopback address, whatever a
            // resolver would say (the guard refuses them unless private fetches are allowed).
            if host == "localhost" || host.ends_with(".localhost") {
                return Ok(vec![IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)]);
            }
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// Keeps the addresses of `addrs` the policy allows.
///
/// # Errors
/// [`Refusal::Resolved`] naming the first address when every one of them is forbidden.
pub fn allowed_addresses(host: &str, addrs: Vec<IpAddr>, policy: &FetchPolicy) -> Result<Vec<IpAddr>, Refusal> {
    if policy.allow_private || policy.exempts(host) {
        return Ok(addrs);
    }
    let first_forbidden = addrs.iter().find_map(|ip| forbidden_range(*ip).map(|range| (*ip, range)));
    let allowed: Vec<IpAddr> = addrs.into_iter().filter(|ip| !is_forbidden(*ip)).collect();
    match (allowed.is_empty(), first_forbidden) {
        (true, Some((ip, range))) => Err(Refusal::Resolved { host: host.to_owned(), ip, range }),
        _ => Ok(allowed),
    }
}

/// The DNS resolver of a guarded client: asks a [`HostResolver`], drops forbidden addresses and
/// fails with a [`Refusal`] (in the error's source chain; see [`refusal_in`]) when none remain.
#[derive(Clone)]
pub struct GuardedResolver {
    inner: Arc<dyn HostResolver>,
    policy: FetchPolicy,
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl GuardedResolver {
    pub fn new(inner: Arc<dyn HostResolver>, policy: FetchPolicy) -> Self {
        Self { inner, policy }
    }

    /// Resolves `host` and keeps the allowed addresses.
    ///
    /// # Errors
    /// A [`Refusal`] (boxed) when every address is forbidden; the lookup's own error, or "no
    /// address" when the name has none.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let addrs = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => self.inner.lookup(host).await?,
        };
        if addrs.is_empty() {
            return Err(Box::new(io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"))));
        }
        Ok(allowed_addresses(host, addrs, &self.policy)?)
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = this.resolve_host(&host).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// A reqwest client builder with the guard in place: resolution through [`GuardedResolver`]
/// (over `resolver`, the system's when `None`), no proxy, no automatic redirects, rustls. The
/// caller adds its own timeouts and `User-Agent`, and must still [`check_url`] every URL (and
/// [`next_hop`] every redirect) itself: IP-literal hosts never reach a resolver.
pub fn guarded_client_builder(policy: FetchPolicy, resolver: Option<Arc<dyn HostResolver>>) -> reqwest::ClientBuilder {
    let inner = resolver.unwrap_or_else(|| Arc::new(SystemResolver));
    reqwest::Client::builder()
        .tls_backend_rustls()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(GuardedResolver::new(inner, policy))
}

/// The guard's [`Refusal`] behind a client error, if that is why the request failed.
pub fn refusal_in(err: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_forbidden_ipv4_range_is_forbidden() {
        for (addr, words) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.255", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.0.8", "IETF"),
        ] {
            let range = forbidden_range(ip(addr));
            assert!(range.is_some_and(|r| r.contains(words)), "{addr}: {range:?}");
            assert!(is_forbidden(ip(addr)), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "192.169.0.1",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(!is_forbidden(ip(addr)), "{addr} should be allowed: {:?}", forbidden_range(ip(addr)));
        }
    }

    #[test]
    fn every_forbidden_ipv6_range_is_forbidden() {
        for (addr, words) in [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "unique-local"),
            ("fd12:3456:789a::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("100::1", "discard"),
            ("::ffff:127.0.0.1", "IPv6 form"),
            ("::ffff:7f00:1", "IPv6 form"),
            ("::ffff:169.254.169.254", "IPv6 form"),
            ("::ffff:10.0.0.1", "IPv6 form"),
            ("::ffff:192.168.0.1", "IPv6 form"),
            ("::127.0.0.1", "IPv6 form"),
            ("::10.1.2.3", "IPv6 form"),
            ("64:ff9b::7f00:1", "NAT64"),
            ("64:ff9b::a9fe:a9fe", "NAT64"),
            ("2002:7f00:1::1", "6to4"),
            ("2002:c0a8:101::", "6to4"),
        ] {
            let range = forbidden_range(ip(addr));
            assert!(range.is_some_and(|r| r.contains(words)), "{addr}: {range:?}");
        }
    }

    #[test]
    fn the_default_policy_is_the_strict_one() {
        assert_eq!(FetchPolicy::default(), FetchPolicy::strict());
    }

    #[test]
    fn resolved_addresses_are_filtered() {
        let strict = FetchPolicy::strict();
        assert_eq!(
            allowed_addresses("a.example", vec![ip("127.0.0.1"), ip("93.184.216.34")], &strict),
            Ok(vec![ip("93.184.216.34")])
        );
        let err = allowed_addresses("a.example", vec![ip("10.1.1.1"), ip("::1")], &strict).unwrap_err();
        assert_eq!(err.to_string(), "refused: a.example resolves to 10.1.1.1, a private address");
        assert_eq!(
            allowed_addresses("a.example", vec![ip("127.0.0.1")], &FetchPolicy::new(true)),
            Ok(vec![ip("127.0.0.1")])
        );
    }

    #[test]
    fn refusals_read_as_plain_words() {
        let url = Url::parse("http://127.0.0.1/").unwrap();
        assert_eq!(
            check_url(&url, &FetchPolicy::strict()).unwrap_err().to_string(),
            "refused: 127.0.0.1 is a loopback address"
        );
        let url = Url::parse("https://example.sa:8443/").unwrap();
        assert_eq!(
            check_url(&url, &FetchPolicy::strict()).unwrap_err().to_string(),
            "refused: only ports 80 and 443 are fetched, not 8443"
        );
        let url = Url::parse("file:///etc/passwd").unwrap();
        assert_eq!(
            check_url(&url, &FetchPolicy::new(true)).unwrap_err().to_string(),
            "refused: only http and https URLs are fetched, not file:"
        );
    }

    #[tokio::test]
    async fn names_under_localhost_are_the_loopback_address_and_refused_without_the_switch() {
        let addrs = SystemResolver.lookup("Shop.LOCALHOST.").await.unwrap_or_default();
        assert!(addrs.iter().all(|ip| ip.is_loopback()) && !addrs.is_empty(), "{addrs:?}");
        let refused = allowed_addresses("shop.localhost", addrs.clone(), &FetchPolicy::new(false));
        assert!(refused.is_err());
        assert_eq!(allowed_addresses("shop.localhost", addrs.clone(), &FetchPolicy::new(true)).ok(), Some(addrs));
    }
}
