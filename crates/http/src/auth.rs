//! Who is calling: the client's address (believing `X-Forwarded-For` only from trusted proxies)
//! and the bearer token, resolved by the app into a `Ctx`. Handlers never decide permissions.

use crate::HttpState;
use crate::problem::ApiError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use leadzone_app::{AppError, ClientInfo, Ctx};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

/// An IPv4 or IPv6 network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128` or a bare address (a /32 or /128).
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let (net, width) = bits(self.addr);
        let (addr, addr_width) = bits(ip);
        if width != addr_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        if shift >= 128 {
            return true;
        }
        (net >> shift) == (addr >> shift)
    }
}

/// The client of a request: the peer, or — when the peer is a trusted proxy — the nearest
/// untrusted address in `X-Forwarded-For`.
pub fn client_info(req: &HttpRequest, trusted: &[Cidr]) -> ClientInfo {
    let peer = req.peer_addr().map(|a| a.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let ip = match peer {
        Some(p) if is_trusted(p) => {
            let forwarded: Vec<IpAddr> = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            forwarded.into_iter().rev().find(|ip| !is_trusted(*ip)).or(Some(p))
        }
        other => other,
    };
    let user_agent =
        req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(512).collect());
    ClientInfo { ip, user_agent }
}

/// The authenticated context of a request; 401 `UNAUTHENTICATED` without a live credential.
pub struct Authed(pub Ctx);

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<HttpState>>().cloned();
        let client = state.as_ref().map(|s| client_info(req, &s.trusted_proxies)).unwrap_or_default();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::App(AppError::Internal("state missing".into())))?;
            let token = token.filter(|t| !t.is_empty()).ok_or(AppError::Unauthenticated)?;
            Ok(Authed(state.app.identity.authenticate(&token, client).await?))
        })
    }
}

/// A bearer token when one is sent: `None` without an Authorization header, 401 for a bad one.
pub struct MaybeAuthed(pub Option<Ctx>);

impl FromRequest for MaybeAuthed {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().get(header::AUTHORIZATION).is_none() {
            return Box::pin(async { Ok(MaybeAuthed(None)) });
        }
        let authed = Authed::from_request(req, payload);
        Box::pin(async move { authed.await.map(|Authed(ctx)| MaybeAuthed(Some(ctx))) })
    }
}

/// The raw bearer token, for the platform-admin guard (which the app checks).
pub fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned())
}

/// The client of an unauthenticated request (register, login).
pub struct Client(pub ClientInfo);

impl FromRequest for Client {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let trusted = req.app_data::<web::Data<HttpState>>().map(|s| s.trusted_proxies.clone()).unwrap_or_default();
        std::future::ready(Ok(Client(client_info(req, &trusted))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn cidrs() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nonsense"), None);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.5:1234".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.9, 10.0.0.7"))
            .insert_header(("user-agent", "curl/8"))
            .to_http_request();
        let trusted = [Cidr::parse("10.0.0.0/8").unwrap()];
        let info = client_info(&req, &trusted);
        assert_eq!(info.ip, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(info.user_agent.as_deref(), Some("curl/8"));
        // From an untrusted peer the header is ignored.
        assert_eq!(client_info(&req, &[]).ip, Some("10.0.0.5".parse().unwrap()));
    }
}
