//! `GET /docs` in a real browser: headless Chromium renders the API reference from the server's
//! own OpenAPI document, and nothing on the page fails to load or throws.
//!
//! Needs Chromium (Debian's `chromium`; `.ci/run` installs it). `LEADZONE_CHROMIUM` names another
//! binary. The browser may reach only this machine: every other host name resolves to nothing.

use crate::helpers::*;
use serde_json::Value;
use std::time::Duration;

/// The browser binary, or a failure that says how to get one.
pub(crate) fn chromium() -> String {
    let from_env = std::env::var("LEADZONE_CHROMIUM").ok().filter(|s| !s.is_empty());
    let candidates: Vec<String> = from_env
        .clone()
        .into_iter()
        .chain(["chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"].map(String::from))
        .collect();
    for candidate in &candidates {
        let ok = std::process::Command::new(candidate)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return candidate.clone();
        }
    }
    panic!(
        "the /docs browser test needs headless Chromium and found none of {candidates:?}: install it with \
         `apt-get install -y --no-install-recommends chromium` (.ci/run does), or set LEADZONE_CHROMIUM"
    );
}

/// The DOM after the page's scripts ran, as Chromium serialises it.
pub(crate) async fn rendered_dom(url: &str, budget_ms: u32) -> String {
    let profile = std::env::temp_dir().join(unique("leadzone-chromium-"));
    let child = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox", // CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--no-pings",
            // Only this machine: an external request fails at once (and the page records it).
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--virtual-time-budget={budget_ms}"),
            "--dump-dom",
            url,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("chromium finished within 120 s")
        .expect("chromium ran");
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed ({}):\n{stderr}", out.status);
    let dom = String::from_utf8(out.stdout).expect("utf-8 DOM");
    assert!(dom.contains("<html"), "chromium printed no DOM; its stderr:\n{stderr}");
    dom
}

/// An attribute of the `<html>` element, unescaped.
pub(crate) fn html_attribute(dom: &str, name: &str) -> Option<String> {
    let start = dom.find("<html")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let raw = &tag[from..from + tag[from..].find('"')?];
    Some(
        raw.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

/// The name Redoc 2 gives an operation (`OperationModel.name`): its summary, else its operationId,
/// else the first 50 UTF-16 units of its description.
fn redoc_name(op: &Value) -> Option<String> {
    let text = |key: &str| op.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
    text("summary").or_else(|| text("operationId")).map(str::to_owned).or_else(|| {
        text("description").map(|d| String::from_utf16_lossy(&d.encode_utf16().take(50).collect::<Vec<u16>>()))
    })
}

/// What Redoc's error boundary shows.
const REDOC_ERROR: &str = "Something went wrong...";

/// The text of some HTML, tags dropped.
fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text as it appears in serialised HTML.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\u{a0}', "&nbsp;")
}

#[tokio::test]
async fn the_api_reference_renders_the_servers_document_in_a_browser() {
    let app = spawn_app().await;

    // The page and the document need no credentials.
    let res = app.get("/docs", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let res = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(res.status(), 200, "the OpenAPI document");
    let doc: Value = res.json().await.unwrap();
    let paths = doc["paths"].as_object().expect("the document has paths");
    assert!(paths.contains_key("/api/v1/leads"), "the document has no /api/v1/leads");

    // What the page must show: the title, every path, and every operation by the name Redoc gives it.
    let mut expected: Vec<String> = vec![doc["info"]["title"].as_str().expect("info.title").to_owned()];
    expected.extend(paths.keys().cloned());
    for item in paths.values() {
        for (method, op) in item.as_object().expect("a path item") {
            if ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()) {
                expected.extend(redoc_name(op));
            }
        }
    }
    let leads = &paths["/api/v1/leads"];
    assert!(redoc_name(&leads["get"]).is_some() && redoc_name(&leads["post"]).is_some(), "GET/POST /api/v1/leads");

    // A slow machine may need more (virtual) time: the page says when Redoc has finished.
    let url = app.url("/docs");
    let mut dom = rendered_dom(&url, 30_000).await;
    if html_attribute(&dom, "data-redoc").as_deref() == Some("loading") && !dom.contains(REDOC_ERROR) {
        dom = rendered_dom(&url, 90_000).await;
    }
    let failures = html_attribute(&dom, "data-failures").expect("the page's failure recorder ran");
    let failures: Vec<String> = serde_json::from_str(&failures).expect("data-failures is a JSON list");
    assert!(failures.is_empty(), "the page recorded failures: {failures:#?}");
    // Redoc's error boundary (e.g. a $ref to nothing) shows the error instead of the reference.
    if let Some(at) = dom.find(REDOC_ERROR) {
        panic!("Redoc shows an error: {}", text_of(&dom[at..]).chars().take(1_500).collect::<String>());
    }
    assert_eq!(html_attribute(&dom, "data-redoc").as_deref(), Some("ready"), "Redoc did not finish");

    let missing: Vec<&String> = expected.iter().filter(|text| !dom.contains(&escaped(text))).collect();
    assert!(missing.is_empty(), "not on the rendered page: {missing:#?}");
}
