//! `just bench-survey`: 100 leads surveyed by 2 job workers against a local test site of 11
//! pages (a home page linking 10 pages: contact, about, team, careers and their Arabic versions),
//! served by a separate process (`python3 -m http.server`), so that the CPU this process spends is
//! the server's and the workers' own. Reported: pages per second, and the CPU per page and per lead
//! (user + system time of this process, divided), beside the target of under 50 ms of CPU per lead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use serde_json::json;
use std::time::{Duration, Instant};

const LEADS: usize = 100;

const PAGES: [(&str, &str); 10] = [
    ("contact", "اتصل بنا"),
    ("about", "من نحن"),
    ("team", "فريقنا"),
    ("careers", "وظائف"),
    ("services", "خدماتنا"),
    ("ar/contact", "اتصل بنا"),
    ("ar/about", "من نحن"),
    ("ar/team", "الفريق"),
    ("ar/careers", "الوظائف"),
    ("branches", "الفروع"),
];

/// The site's files: a home page linking the ten pages, each with contacts and identifiers.
fn write_site(dir: &std::path::Path) {
    let links: String = PAGES.iter().map(|(p, t)| format!(r#"<a href="/{p}.html">{t}</a> "#)).collect();
    let body = |title: &str| {
        format!(
            r#"<!doctype html><html lang="ar"><head><meta charset="utf-8"><title>{title}</title>
<meta name="generator" content="WordPress 6.5"><script src="https://www.googletagmanager.com/gtm.js?id=GTM-X"></script></head>
<body><nav>{links}</nav><main><h1>{title}</h1>
<p>شركة القياس للتجارة تأسست عام 2011 وتخدم عملاءها في الرياض وجدة والدمام.</p>
<p>الجوال: 0501234567 — الهاتف: 011 234 5678 — <a href="mailto:sales@bench.sa">sales@bench.sa</a></p>
<p>سجل تجاري: 1010123456 — الرقم الضريبي: 300123456700003</p>
<p>{filler}</p>
<a href="https://www.linkedin.com/company/bench-trading">LinkedIn</a> <a href="https://wa.me/966501234567">واتساب</a>
</main></body></html>"#,
            filler = "نقدم حلولاً متكاملة لقطاع التجزئة والمطاعم. ".repeat(60)
        )
    };
    std::fs::create_dir_all(dir.join("ar")).unwrap();
    std::fs::write(dir.join("index.html"), body("شركة القياس للتجارة")).unwrap();
    std::fs::write(dir.join("robots.txt"), "User-agent: *\nAllow: /\n").unwrap();
    for (p, t) in PAGES {
        std::fs::write(dir.join(format!("{p}.html")), body(t)).unwrap();
    }
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join("leadzone-bench-site");
    let _ = std::fs::remove_dir_all(&dir);
    write_site(&dir);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut site = std::process::Command::new("python3")
        .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 serves the test site");
    let b = common::start_with(
        "leadzone_bench_survey",
        "2",
        "10",
        &[("LEADZONE_ALLOW_PRIVATE_FETCH", "true"), ("LEADZONE_RATE_LIMIT_PER_MIN", "0")],
    )
    .await;
    let (token, _, _) = common::owner(&b).await;
    let client = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut leads = Vec::new();
    for i in 0..LEADS {
        let lead = common::json(client.post(format!("{}/api/v1/leads", b.base)).bearer_auth(&token).json(&json!({
            "companyName": format!("Bench Trading {i}"),
            "website": format!("http://site{i}.localhost:{port}/index.html"),
        })))
        .await;
        leads.push(lead["id"].as_str().unwrap().to_owned());
    }
    let cpu_before = common::cpu();
    let started = Instant::now();
    let mut jobs = Vec::new();
    for id in &leads {
        let res = common::json(client.post(format!("{}/api/v1/leads/{id}/survey", b.base)).bearer_auth(&token)).await;
        jobs.push(res["job"]["id"].as_str().unwrap().to_owned());
    }
    let mut pages = 0;
    for id in &jobs {
        let job = loop {
            let job = common::json(client.get(format!("{}/api/v1/jobs/{id}", b.base)).bearer_auth(&token)).await;
            if matches!(job["status"].as_str(), Some("SUCCESS" | "FAILED")) {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(job["status"], "SUCCESS", "{job}");
        assert!(job["result"]["blocked"].is_null(), "{job}");
        pages += job["result"]["pagesFetched"].as_u64().unwrap();
    }
    let wall = started.elapsed();
    let cpu_used = common::cpu() - cpu_before;
    let _ = site.kill();
    let _ = site.wait();
    println!(
        "SURVEY of {LEADS} leads × 11 pages by 2 workers: {pages} pages in {:.1} s = {:.0} pages/s; CPU {:.1} ms per page, {:.1} ms per lead (target < 50 ms per lead)",
        wall.as_secs_f64(),
        pages as f64 / wall.as_secs_f64(),
        cpu_used.as_secs_f64() * 1000.0 / pages as f64,
        cpu_used.as_secs_f64() * 1000.0 / LEADS as f64,
    );
}
