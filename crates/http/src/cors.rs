//! Browsers on another origin: the web app (`app.…`) calls this API (`api.…`). Only the origins in
//! `LEADZONE_CORS_ORIGINS` (exact matches) may; with none, no cross-origin page can read an answer.
//!
//! Clients authenticate with a bearer header, never cookies, so credentials are not allowed and no
//! wildcard is ever sent. The headers a client needs to read are exposed: `Location` of a new
//! resource or job, the rate-limit headers, `Retry-After` and the request id.

use actix_cors::Cors;
use actix_web::http::{Method, header};

/// The headers a cross-origin script may read.
pub const EXPOSED: &[&str] =
    &["location", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "retry-after", "x-request-id"];

/// How long a browser may cache a preflight answer (seconds).
const PREFLIGHT_MAX_AGE: usize = 600;

/// The CORS middleware for `origins` (exact `scheme://host[:port]` strings).
pub fn layer(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers(EXPOSED.iter().map(|h| header::HeaderName::from_static(h)))
        .max_age(PREFLIGHT_MAX_AGE)
        // A page from another origin gets its answer without the allow header, which the browser
        // then withholds from the script; same-origin clients and servers are not affected.
        .block_on_origin_mismatch(false);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Parses `LEADZONE_CORS_ORIGINS`: comma-separated exact origins (`https://app.example.sa`).
///
/// # Errors
/// An entry that is not `http(s)://host[:port]` with nothing after it, or `*`.
pub fn parse_origins(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let url = url::Url::parse(entry).map_err(|_| format!("{entry:?} is not an origin (https://host[:port])"))?;
        let bare = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.path() == "/"
            && !entry.ends_with('/')
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty();
        if !bare {
            return Err(format!("{entry:?} is not an origin (https://host[:port], no path)"));
        }
        out.push(url.origin().ascii_serialization());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact_and_never_a_wildcard() {
        assert_eq!(
            parse_origins(" https://app.leadzone.sa, http://localhost:5173 ").unwrap(),
            ["https://app.leadzone.sa", "http://localhost:5173"]
        );
        assert_eq!(parse_origins("").unwrap(), Vec::<String>::new());
        for bad in ["*", "app.leadzone.sa", "https://app.leadzone.sa/", "https://app.leadzone.sa/x", "ftp://x.sa"] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }
}
