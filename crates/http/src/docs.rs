//! The API reference for people: `GET /docs` renders the OpenAPI document
//! (`GET /api/v1/openapi.json`) with Redoc.
//!
//! Redoc's standalone bundle is vendored from the npm registry (`crates/http/vendor/redoc`, see its
//! README) and compiled into the binary, so the page works offline and behind any firewall: it
//! loads nothing but this page, the bundle and the document from this server (no CDN, no web
//! fonts), and its Content-Security-Policy forbids anything else.
//!
//! A small inline script records every failed load, script error and CSP violation in the
//! `<html data-failures="[…]">` attribute, and Redoc's outcome in `data-redoc="ready|failed"`, so a
//! headless browser can tell a page that rendered from one that broke
//! (`apps/api/tests/it/docs_page.rs`).

use actix_web::http::header;
use actix_web::{HttpResponse, get};
use std::sync::LazyLock;

/// The vendored Redoc release (`crates/http/vendor/redoc/README.md` records the same).
pub const REDOC_VERSION: &str = "2.5.2";

/// Where the page loads the bundle from.
pub const REDOC_JS_PATH: &str = "/docs/redoc.standalone.js";

/// Redoc's standalone bundle, patched only so it requests nothing off this server.
const REDOC_JS: &str = include_str!("../vendor/redoc/redoc.standalone.js");

/// The document the page renders.
const SPEC_URL: &str = "/api/v1/openapi.json";

/// Only this server; inline `<script>`/`<style>` because Redoc injects its styles (styled-components)
/// and the page starts it with a few inline lines. `blob:` workers: Redoc's search index.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self' blob:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Fonts the machine already has (Redoc's defaults would name Google's web fonts): system UI
/// fonts, with Arabic-capable ones before the generic fallback.
const FONTS: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', \
     'DejaVu Sans', Tahoma, Arial, sans-serif";
const MONO_FONTS: &str = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace";

const PAGE_TEMPLATE: &str = r#"<!doctype html>
<html lang="en" data-failures="[]" data-redoc="loading">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Leadzone API reference</title>
<link rel="icon" href="data:,">
<script>
(function () {
  // Every failed load, script error and CSP violation, for people (the console) and for the
  // headless test (the data-failures attribute).
  var root = document.documentElement, failures = [];
  function record(kind, what) {
    var entry = kind + ": " + String(what).slice(0, 500);
    failures.push(entry);
    root.setAttribute("data-failures", JSON.stringify(failures));
    if (window.console) console.error("docs: " + entry);
  }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && t.tagName) record("load", t.currentSrc || t.src || t.href || t.tagName);
    else record("error", (e.error && e.error.stack) || e.message || "unknown error");
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    record("rejection", (r && (r.stack || r.message)) || r);
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    record("csp", e.violatedDirective + " " + e.blockedURI);
  });
})();
</script>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<noscript>This page needs JavaScript. The OpenAPI document itself is at <a href="{{SPEC_URL}}">{{SPEC_URL}}</a>.</noscript>
<div id="redoc"></div>
<script src="{{REDOC_JS}}"></script>
<script>
(function () {
  var root = document.documentElement;
  if (typeof Redoc === "undefined") { root.setAttribute("data-redoc", "failed"); return; }
  Redoc.init("{{SPEC_URL}}", {
    untrustedSpec: true,
    expandResponses: "200,201,202",
    requiredPropsFirst: true,
    jsonSampleExpandLevel: 3,
    theme: {
      typography: {
        fontFamily: "{{FONTS}}",
        headings: { fontFamily: "{{FONTS}}" },
        code: { fontFamily: "{{MONO_FONTS}}" }
      }
    }
  }, document.getElementById("redoc"), function (err) {
    root.setAttribute("data-redoc", err ? "failed" : "ready");
    if (err) {
      var list = JSON.parse(root.getAttribute("data-failures") || "[]");
      list.push("redoc: " + String((err && err.message) || err).slice(0, 500));
      root.setAttribute("data-failures", JSON.stringify(list));
    }
  });
})();
</script>
</body>
</html>
"#;

static PAGE: LazyLock<String> = LazyLock::new(|| {
    PAGE_TEMPLATE
        .replace("{{SPEC_URL}}", SPEC_URL)
        .replace("{{REDOC_JS}}", &format!("{REDOC_JS_PATH}?v={REDOC_VERSION}"))
        .replace("{{FONTS}}", FONTS)
        .replace("{{MONO_FONTS}}", MONO_FONTS)
});

#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "The interactive API reference (Redoc)", content_type = "text/html", body = String))
)]
#[get("/docs")]
async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(PAGE.as_str())
}

/// `/docs/` is the same page at its canonical address.
#[utoipa::path(tag = "meta", responses((status = 308, description = "Redirect to `/docs`")))]
#[get("/docs/")]
async fn page_with_slash() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/docs")).finish()
}

/// The bundle never changes under one version (the page asks for `?v=<version>`): cached for a year.
#[utoipa::path(
    tag = "meta",
    responses((status = 200, description = "Redoc's standalone bundle", content_type = "text/javascript", body = String))
)]
#[get("/docs/redoc.standalone.js")]
async fn redoc_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(REDOC_JS)
}

/// `GET /docs`, `GET /docs/` (redirect) and `GET /docs/redoc.standalone.js`; no authentication.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(page).service(page_with_slash).service(redoc_js);
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::{TestRequest, call_service, init_service};
    use actix_web::{App, body::to_bytes};
    use utoipa_actix_web::AppExt;

    #[test]
    fn the_bundle_requests_nothing_off_this_server() {
        for banned in ["cdn.redoc.ly", "fonts.googleapis", "fonts.gstatic", "sourceMappingURL=redoc.standalone.js.map"]
        {
            assert!(!REDOC_JS.contains(banned), "the vendored bundle mentions {banned}: re-run vendor-redoc.sh");
        }
        // Redoc prints its version in its error boundary.
        assert!(REDOC_JS.contains(&format!(r#"Version: ","{REDOC_VERSION}""#)), "bundle is not Redoc {REDOC_VERSION}");
        let readme = include_str!("../vendor/redoc/README.md");
        assert!(readme.contains(&format!("redoc@{REDOC_VERSION}")), "vendor/redoc/README.md names another version");
    }

    #[test]
    fn the_page_has_no_placeholder_left_and_no_external_url() {
        assert!(!PAGE.contains("{{"), "{}", PAGE.as_str());
        assert!(PAGE.contains(r#"<script src="/docs/redoc.standalone.js?v=2.5.2">"#));
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://"), "the page names an external URL");
    }

    #[actix_web::test]
    async fn serves_the_page_and_the_bundle_with_their_types_and_caching() {
        let app = init_service(App::new().into_utoipa_app().configure(configure).into_app()).await;

        let res = call_service(&app, TestRequest::get().uri("/docs").to_request()).await;
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "text/html; charset=utf-8");
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-cache");
        assert!(h.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().starts_with("default-src 'none'"));
        let body = to_bytes(res.into_body()).await.unwrap();
        assert!(std::str::from_utf8(&body).unwrap().contains(r#"Redoc.init("/api/v1/openapi.json""#));

        let res = call_service(&app, TestRequest::get().uri("/docs/").to_request()).await;
        assert_eq!(res.status(), 308);
        assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/docs");

        let uri = format!("{REDOC_JS_PATH}?v={REDOC_VERSION}");
        let res = call_service(&app, TestRequest::get().uri(&uri).to_request()).await;
        assert_eq!(res.status(), 200);
        let h = res.headers();
        assert_eq!(h.get(header::CONTENT_TYPE).unwrap(), "text/javascript; charset=utf-8");
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "public, max-age=31536000, immutable");
        assert_eq!(to_bytes(res.into_body()).await.unwrap().len(), REDOC_JS.len());
    }
}
