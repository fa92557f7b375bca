//! A browser on another origin: a page served from a second local port whose script logs in and
//! lists leads through the API. Chromium lets the script read the answers when the page's origin
//! is in `LEADZONE_CORS_ORIGINS` and withholds them when it is not.

use crate::docs_page::{html_attribute, rendered_dom};
use crate::helpers::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves `html` to every request on `listener` until the test ends.
fn serve_page(listener: tokio::net::TcpListener, html: String) {
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    html.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(html.as_bytes()).await;
            });
        }
    });
}

fn page(api: &str, email: &str, password: &str) -> String {
    format!(
        r#"<!doctype html><html data-result="pending"><head><meta charset="utf-8"></head><body><script>
(async () => {{
  const root = document.documentElement;
  try {{
    const login = await fetch("{api}/api/v1/auth/login", {{
      method: "POST", headers: {{"content-type": "application/json"}},
      body: JSON.stringify({{email: "{email}", password: "{password}"}})
    }});
    const session = await login.json();
    const leads = await fetch("{api}/api/v1/leads?limit=5", {{headers: {{authorization: "Bearer " + session.accessToken}}}});
    const page = await leads.json();
    root.setAttribute("data-result", "ok:" + page.data.length + ":" + (leads.headers.get("x-request-id") ? "id" : "no-id"));
  }} catch (e) {{
    root.setAttribute("data-result", "blocked:" + e.name);
  }}
}})();
</script></body></html>"#
    )
}

async fn run(allow: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let allowed = if allow { origin.clone() } else { "https://app.example.sa".to_owned() };
    let app = spawn_app_with(&[("LEADZONE_CORS_ORIGINS", allowed.as_str())]).await;
    let a = app.register().await;
    for name in ["Cors One", "Cors Two"] {
        assert_eq!(app.create_lead(&a, json!({"companyName": name})).await.status(), 201);
    }
    serve_page(listener, page(&app.base, &a.email, &a.password));
    let dom = rendered_dom(&format!("{origin}/"), 15_000).await;
    html_attribute(&dom, "data-result").unwrap_or_default()
}

#[tokio::test]
async fn a_page_on_an_allowed_origin_logs_in_and_lists_leads() {
    assert_eq!(run(true).await, "ok:2:id", "the allowed origin reads the answers and the exposed request id");
}

#[tokio::test]
async fn the_browser_blocks_a_page_on_any_other_origin() {
    assert_eq!(run(false).await, "blocked:TypeError");
}

/// The preflight itself: allowed methods and headers for the listed origin, nothing for another.
#[tokio::test]
async fn preflights_answer_only_listed_origins() {
    let app = spawn_app_with(&[("LEADZONE_CORS_ORIGINS", "https://app.leadzone.sa")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/leads"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let ok = preflight("https://app.leadzone.sa").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers().get("access-control-allow-origin").unwrap(), "https://app.leadzone.sa");
    assert!(ok.headers().get("access-control-allow-credentials").is_none());
    assert_eq!(ok.headers().get("x-content-type-options").unwrap(), "nosniff");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A simple request from the listed origin exposes the headers a client needs.
    let res = app.client.get(app.url("/healthz")).header("origin", "https://app.leadzone.sa").send().await.unwrap();
    let exposed = res.headers().get("access-control-expose-headers").unwrap().to_str().unwrap().to_ascii_lowercase();
    for h in ["location", "retry-after", "x-request-id", "ratelimit-remaining"] {
        assert!(exposed.contains(h), "{exposed}");
    }
}
