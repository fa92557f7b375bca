//! What the links of a page say: WhatsApp numbers, social profiles, and which same-site pages are
//! worth a request (contact, about, team, careers — and their Arabic versions).

use super::text::phone;
use url::Url;

/// A link of a page: where it goes (absolute, without fragment) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub url: Url,
    pub text: String,
}

/// `percent`-decodes `text` (invalid escapes kept as written; bytes read as UTF-8, lossily).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|h| char::from(*h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The host without a leading `www.`, lowercased.
fn bare_host(url: &Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    Some(host.strip_prefix("www.").map(str::to_owned).unwrap_or(host))
}

/// Whether `url` is on the same site as `home`: the same host give or take `www.`, and the same
/// port (the default ports of http and https count as the same).
pub(crate) fn same_site(home: &Url, url: &Url) -> bool {
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let default_port = |u: &Url| u.port().is_none();
    let same_port =
        (default_port(home) && default_port(url)) || home.port_or_known_default() == url.port_or_known_default();
    same_port && bare_host(home).is_some() && bare_host(home) == bare_host(url)
}

/// The number a WhatsApp link (`wa.me/9665…`, `api.whatsapp.com/send?phone=…`,
/// `whatsapp://send?phone=…`) opens a chat with, in E.164.
pub(crate) fn whatsapp_number(url: &Url) -> Option<String> {
    let host = bare_host(url).unwrap_or_default();
    let raw = match (url.scheme(), host.as_str()) {
        ("http" | "https", "wa.me") => url.path_segments()?.next()?.to_owned(),
        ("http" | "https", "api.whatsapp.com" | "whatsapp.com" | "web.whatsapp.com") | ("whatsapp", _) => {
            url.query_pairs().find(|(k, _)| k == "phone").map(|(_, v)| v.into_owned())?
        }
        _ => return None,
    };
    let digits: String = percent_decode(&raw).chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    // wa.me wants the international number without `+`; a local `05…` is a common mistake.
    if digits.starts_with('0') { phone(&digits) } else { phone(&format!("+{digits}")) }
}

/// Paths of a social network that are not profiles (`x.com/intent/tweet`, `instagram.com/p/…`).
const NOT_A_PROFILE: &[&str] = &[
    "intent",
    "share",
    "sharer",
    "home",
    "i",
    "search",
    "hashtag",
    "explore",
    "settings",
    "login",
    "signup",
    "tos",
    "privacy",
    "messages",
    "notifications",
    "p",
    "reel",
    "reels",
    "accounts",
    "stories",
    "tv",
    "direct",
    "watch",
    "embed",
    "results",
    "shorts",
    "feed",
    "legal",
];

/// The social profile a link points to: `(network, profile URL)`. Networks: `linkedin` (company,
/// school and showcase pages), `twitter` (twitter.com and x.com), `instagram`, `snapchat`,
/// `tiktok`, `youtube`. The URL is rebuilt from the profile path alone (no query, no tracking).
pub(crate) fn social_profile(url: &Url) -> Option<(&'static str, String)> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = bare_host(url)?;
    let host = host.strip_prefix("m.").or_else(|| host.strip_prefix("mobile.")).unwrap_or(&host).to_owned();
    let segments: Vec<String> =
        url.path_segments()?.filter(|s| !s.is_empty()).map(|s| percent_decode(s).trim().to_owned()).collect();
    let first = segments.first()?.to_lowercase();
    let second = segments.get(1).map(|s| s.to_lowercase());
    let handle_ok = |h: &str| !h.is_empty() && h.chars().all(|c| c.is_alphanumeric() || "._-@".contains(c));
    if NOT_A_PROFILE.contains(&first.as_str()) {
        return None;
    }
    let linkedin = host == "linkedin.com" || host.ends_with(".linkedin.com");
    if linkedin {
        let slug = second?;
        return (matches!(first.as_str(), "company" | "school" | "showcase") && handle_ok(&slug))
            .then(|| ("linkedin", format!("https://www.linkedin.com/{first}/{slug}")));
    }
    match host.as_str() {
        "twitter.com" | "x.com" => {
            let handle = first.trim_start_matches('@');
            (handle_ok(handle) && !handle.contains('.')).then(|| ("twitter", format!("https://{host}/{handle}")))
        }
        "instagram.com" => {
            let handle = first.trim_start_matches('@');
            handle_ok(handle).then(|| ("instagram", format!("https://www.instagram.com/{handle}")))
        }
        "snapchat.com" => match (first.as_str(), second) {
            ("add", Some(user)) if handle_ok(&user) => {
                Some(("snapchat", format!("https://www.snapchat.com/add/{user}")))
            }
            (at, _) if at.starts_with('@') && handle_ok(at) => {
                Some(("snapchat", format!("https://www.snapchat.com/add/{}", at.trim_start_matches('@'))))
            }
            _ => None,
        },
        "tiktok.com" => {
            (first.starts_with('@') && handle_ok(&first)).then(|| ("tiktok", format!("https://www.tiktok.com/{first}")))
        }
        "youtube.com" => {
            if first.starts_with('@') && handle_ok(&first) {
                Some(("youtube", format!("https://www.youtube.com/{first}")))
            } else if matches!(first.as_str(), "channel" | "c" | "user") {
                // Channel ids are case-sensitive: keep the segment as written.
                let id = segments.get(1)?;
                handle_ok(id).then(|| ("youtube", format!("https://www.youtube.com/{first}/{id}")))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// What a page is about, by its path or link text; higher is more worth a request.
fn topic_score(path: &str, text: &str) -> u8 {
    const TOPICS: &[(u8, &[&str])] = &[
        (4, &["contact", "اتصل", "تواصل", "اتصال"]),
        (
            3,
            &[
                "about",
                "who-we-are",
                "who_we_are",
                "من-نحن",
                "من نحن",
                "من_نحن",
                "عن الشركة",
                "عن-الشركة",
                "نبذة",
                "company-profile",
            ],
        ),
        (2, &["team", "فريق", "leadership"]),
        (1, &["career", "jobs", "join-us", "وظائف", "الوظائف", "توظيف"]),
    ];
    let path = percent_decode(path).to_lowercase();
    let text = text.to_lowercase();
    TOPICS
        .iter()
        .find(|(_, words)| words.iter().any(|w| path.contains(w) || text.contains(w)))
        .map_or(0, |(score, _)| *score)
}

/// Files that are not pages.
const NOT_A_PAGE: &[&str] = &[
    ".pdf", ".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".zip", ".rar", ".doc", ".docx", ".xls", ".xlsx", ".ppt",
    ".pptx", ".mp4", ".mp3", ".css", ".js", ".xml", ".json", ".ico",
];

fn is_page(url: &Url) -> bool {
    let path = url.path().to_ascii_lowercase();
    !NOT_A_PAGE.iter().any(|ext| path.ends_with(ext))
}

/// Whether the home page's links show an Arabic section (`/ar`, `/ar/…`).
pub(crate) fn has_arabic_section(home: &Url, links: &[Link]) -> bool {
    links.iter().any(|l| same_site(home, &l.url) && is_arabic_path(l.url.path()))
}

fn is_arabic_path(path: &str) -> bool {
    path == "/ar" || path.starts_with("/ar/") || path.starts_with("/ar-")
}

/// The pages to fetch after `home`, at most `max_extra`: same-site links whose path or text
/// suggests contact, about, team or careers (best first, then in page order); then the Arabic
/// versions (`/ar/…`) of those when the site has an Arabic section; then, only when the home
/// page links to none of them, `/contact` and `/about` (two cheap guesses, not a spray of 404s).
pub(crate) fn plan_pages(home: &Url, links: &[Link], arabic_section: bool, max_extra: usize) -> Vec<Url> {
    let key = |u: &Url| format!("{}?{}", u.path().trim_end_matches('/'), u.query().unwrap_or_default());
    let mut seen = vec![key(home)];
    let mut scored: Vec<(u8, usize, Url)> = Vec::new();
    for (i, link) in links.iter().enumerate() {
        if !same_site(home, &link.url) || !is_page(&link.url) {
            continue;
        }
        let score = topic_score(link.url.path(), &link.text);
        if score == 0 || seen.contains(&key(&link.url)) {
            continue;
        }
        seen.push(key(&link.url));
        scored.push((score, i, link.url.clone()));
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let linked: Vec<Url> = scored.into_iter().map(|(_, _, url)| url).collect();

    let mut plan: Vec<Url> = linked.clone();
    if arabic_section {
        for url in &linked {
            let path = url.path();
            if is_arabic_path(path) {
                continue;
            }
            let rest = path.strip_prefix("/en/").map_or(path, |r| r.strip_prefix('/').unwrap_or(r));
            let rest = rest.trim_start_matches('/');
            let mut arabic = url.clone();
            arabic.set_path(&format!("/ar/{rest}"));
            if !seen.contains(&key(&arabic)) {
                seen.push(key(&arabic));
                plan.push(arabic);
            }
        }
    }
    if linked.is_empty() {
        let prefix = if is_arabic_path(home.path()) { "/ar" } else { "" };
        for guess in ["contact", "about"] {
            if let Ok(url) = home.join(&format!("{prefix}/{guess}"))
                && !seen.contains(&key(&url))
            {
                seen.push(key(&url));
                plan.push(url);
            }
        }
    }
    plan.truncate(max_extra);
    plan
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn link(url: &str, text: &str) -> Link {
        Link { url: u(url), text: text.to_owned() }
    }

    #[test]
    fn whatsapp_links_give_e164_numbers() {
        assert_eq!(whatsapp_number(&u("https://wa.me/966501234567")), Some("+966501234567".into()));
        assert_eq!(whatsapp_number(&u("https://wa.me/966501234567?text=hi")), Some("+966501234567".into()));
        assert_eq!(
            whatsapp_number(&u("https://api.whatsapp.com/send?phone=%2B966%2050%20123%204567")),
            Some("+966501234567".into())
        );
        assert_eq!(whatsapp_number(&u("whatsapp://send?phone=0501234567")), Some("+966501234567".into()));
        assert_eq!(whatsapp_number(&u("https://wa.me/")), None);
        assert_eq!(whatsapp_number(&u("https://example.sa/966501234567")), None);
    }

    #[test]
    fn social_profiles_are_recognised_and_cleaned() {
        let cases = [
            (
                "https://www.linkedin.com/company/acme-sa/?trk=x",
                Some(("linkedin", "https://www.linkedin.com/company/acme-sa")),
            ),
            ("https://sa.linkedin.com/company/Acme", Some(("linkedin", "https://www.linkedin.com/company/acme"))),
            ("https://www.linkedin.com/in/someone", None),
            ("https://twitter.com/AcmeSA", Some(("twitter", "https://twitter.com/acmesa"))),
            ("https://x.com/acme_sa?s=20", Some(("twitter", "https://x.com/acme_sa"))),
            ("https://twitter.com/intent/tweet?text=hi", None),
            ("https://www.instagram.com/acme.sa/", Some(("instagram", "https://www.instagram.com/acme.sa"))),
            ("https://instagram.com/p/Cxyz", None),
            ("https://www.snapchat.com/add/acmesa", Some(("snapchat", "https://www.snapchat.com/add/acmesa"))),
            ("https://www.tiktok.com/@acme.sa", Some(("tiktok", "https://www.tiktok.com/@acme.sa"))),
            ("https://www.youtube.com/@AcmeSA", Some(("youtube", "https://www.youtube.com/@acmesa"))),
            ("https://www.youtube.com/channel/UCabcDEF", Some(("youtube", "https://www.youtube.com/channel/UCabcDEF"))),
            ("https://www.youtube.com/watch?v=1", None),
            ("https://www.facebook.com/acme", None),
        ];
        for (url, want) in cases {
            let got = social_profile(&u(url));
            assert_eq!(got.as_ref().map(|(n, p)| (*n, p.as_str())), want, "{url}");
        }
    }

    #[test]
    fn same_site_ignores_www_and_scheme() {
        let home = u("https://acme.sa/");
        assert!(same_site(&home, &u("http://www.acme.sa/contact")));
        assert!(!same_site(&home, &u("https://shop.acme.sa/")));
        assert!(!same_site(&home, &u("https://acme.sa:8443/")));
        let local = u("http://127.0.0.1:4000/");
        assert!(same_site(&local, &u("http://127.0.0.1:4000/about")));
        assert!(!same_site(&local, &u("http://127.0.0.1:4001/about")));
    }

    #[test]
    fn the_plan_prefers_linked_pages_that_matter() {
        let home = u("https://acme.sa/");
        let links = [
            link("https://acme.sa/products", "Products"),
            link("https://acme.sa/careers", "Careers"),
            link("https://acme.sa/about-us", "About"),
            link("https://acme.sa/page?id=7", "اتصل بنا"),
            link("https://acme.sa/team.pdf", "Team"),
            link("https://other.sa/contact", "Contact"),
            link("https://acme.sa/about-us#story", "Our story"),
            link("https://acme.sa/ar/", "العربية"),
        ];
        let arabic = has_arabic_section(&home, &links);
        assert!(arabic);
        let plan: Vec<String> = plan_pages(&home, &links, arabic, 10).iter().map(Url::to_string).collect();
        assert_eq!(
            plan,
            [
                "https://acme.sa/page?id=7",
                "https://acme.sa/about-us",
                "https://acme.sa/careers",
                "https://acme.sa/ar/page?id=7",
                "https://acme.sa/ar/about-us",
                "https://acme.sa/ar/careers",
            ]
        );
        assert_eq!(plan_pages(&home, &links, arabic, 2).len(), 2);
    }

    #[test]
    fn without_relevant_links_two_guesses_are_made() {
        let home = u("https://acme.sa/");
        let plan: Vec<String> =
            plan_pages(&home, &[link("https://acme.sa/shop", "Shop")], false, 10).iter().map(Url::to_string).collect();
        assert_eq!(plan, ["https://acme.sa/contact", "https://acme.sa/about"]);
    }
}
