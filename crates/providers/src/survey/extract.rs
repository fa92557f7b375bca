//! One page read with `scraper` (html5ever, so broken markup is repaired the way browsers do):
//! its visible text, its links and the facts both give.

use super::links::{self, Link};
use super::tech;
use super::text::{self, Found, MAX_SNIPPET_CHARS, collapse, cut};
use ego_tree::iter::Edge;
use encoding_rs::{Encoding, UTF_8};
use html5ever::tendril::TendrilSink;
use leadzone_ports::intelligence::FactKind;
use scraper::{Html, HtmlTreeSink, Node, StrTendril};
use serde_json::json;
use std::time::{Duration, Instant};
use url::Url;

/// What a page gave.
#[derive(Debug, Default)]
pub(crate) struct PageScan {
    /// In page order: title and description (home page only), then link facts, text facts and
    /// technologies.
    pub facts: Vec<Found>,
    /// Links to web pages (absolute, without fragment).
    pub links: Vec<Link>,
}

/// Elements whose text is not visible text.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template", "title", "textarea", "svg"];

/// Elements that break the text flow (so `<td>CR</td><td>1010…</td>` does not read `CR1010…`).
const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tfoot",
    "tr",
    "ul",
    "option",
    "button",
    "label",
];

/// CPU time a page's parse may take: html5ever is quadratic in the nesting depth (a hostile
/// megabyte of `<div>` would take minutes), so the parse is fed in chunks and a page still
/// unparsed after this is cut where it got to. Honest pages take milliseconds.
pub(crate) const PARSE_BUDGET: Duration = Duration::from_secs(2);

const PARSE_CHUNK_BYTES: usize = 4 * 1024;

/// The bytes searched for a `<meta charset>` (the HTML standard's prescan reads 1024).
const CHARSET_PRESCAN_BYTES: usize = 4 * 1024;

/// Decodes and parses a page: the charset of the `Content-Type` header, else a BOM, else the
/// page's own `<meta charset>` (Arabic sites still use windows-1256), else UTF-8. Returns the
/// document and whether the parse ran out of time (the rest of the page is then ignored).
pub(crate) fn parse(body: &[u8], header_charset: Option<&str>) -> (Html, bool) {
    let encoding = header_charset
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .or_else(|| Encoding::for_bom(body).map(|(encoding, _)| encoding))
        .or_else(|| {
            let head = Html::parse_document(&UTF_8.decode(body.get(..CHARSET_PRESCAN_BYTES).unwrap_or(body)).0);
            meta_charset(&head).and_then(|label| Encoding::for_label(label.as_bytes())).map(Encoding::output_encoding)
        })
        .unwrap_or(UTF_8);
    let (text, _, _) = encoding.decode(body);
    parse_within(&text, PARSE_BUDGET)
}

/// Parses `text` chunk by chunk, giving up (and keeping what was parsed) after `budget`.
pub(crate) fn parse_within(text: &str, budget: Duration) -> (Html, bool) {
    let started = Instant::now();
    let mut parser = html5ever::driver::parse_document(HtmlTreeSink::new(Html::new_document()), Default::default());
    let mut rest = text;
    while !rest.is_empty() {
        if started.elapsed() > budget {
            return (parser.finish(), true);
        }
        let mut at = rest.len().min(PARSE_CHUNK_BYTES);
        while !rest.is_char_boundary(at) {
            at += 1;
        }
        let (chunk, tail) = rest.split_at(at);
        parser.process(StrTendril::from_slice(chunk));
        rest = tail;
    }
    (parser.finish(), false)
}

fn meta_charset(html: &Html) -> Option<String> {
    html.root_element().descendent_elements().filter(|e| e.value().name() == "meta").find_map(|meta| {
        if let Some(charset) = meta.attr("charset") {
            return Some(charset.trim().to_owned());
        }
        let is_content_type = meta.attr("http-equiv").is_some_and(|h| h.trim().eq_ignore_ascii_case("content-type"));
        let content = meta.attr("content").filter(|_| is_content_type)?.to_ascii_lowercase();
        let (_, charset) = content.split_once("charset=")?;
        Some(charset.split(';').next().unwrap_or_default().trim().trim_matches(['"', '\'']).to_owned())
    })
}

/// A fact found on a link, its snippet taken later from the text around the link.
struct LinkFact {
    kind: FactKind,
    value: String,
    raw: serde_json::Value,
    start: usize,
    end: usize,
    fallback: String,
}

/// Scans a page read from `page_url`. `home`: also its title and meta description.
pub(crate) fn scan(page_url: &Url, body: &[u8], charset: Option<&str>, home: bool, current_year: i32) -> PageScan {
    let (html, out_of_time) = parse(body, charset);
    if out_of_time {
        tracing::warn!(path = page_url.path(), "survey: page too slow to parse; the rest was ignored");
    }
    let mut visible = String::new();
    let mut hidden: Vec<String> = Vec::new();
    let mut scripts = String::new();
    let mut title: Option<String> = None;
    let mut title_buf = String::new();
    let mut description: Option<String> = None;
    let mut og_description: Option<String> = None;
    let mut base = page_url.clone();
    let mut base_seen = false;
    let mut anchors: Vec<usize> = Vec::new();
    let mut link_facts: Vec<LinkFact> = Vec::new();
    let mut links: Vec<Link> = Vec::new();
    let mut techs: Vec<(&'static str, &'static str, String)> = Vec::new();
    let mut add_tech = |names: Vec<&'static str>, source: &'static str, evidence: &str| {
        for name in names {
            if !techs.iter().any(|(n, _, _)| *n == name) {
                techs.push((name, source, cut(evidence, MAX_SNIPPET_CHARS)));
            }
        }
    };

    for edge in html.root_element().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Text(t) => match hidden.last().map(String::as_str) {
                    None => visible.push_str(t),
                    Some("script" | "noscript") => {
                        scripts.push_str(t);
                        scripts.push('\n');
                    }
                    Some("title") if title.is_none() => title_buf.push_str(t),
                    Some(_) => {}
                },
                Node::Element(el) => {
                    let name = el.name();
                    if BLOCK.contains(&name) {
                        visible.push('\n');
                    }
                    let resolve = |attr: &str| el.attr(attr).and_then(|v| base.join(v.trim()).ok());
                    match name {
                        "a" | "area" => anchors.push(visible.len()),
                        "base" if !base_seen => {
                            base_seen = true;
                            if let Some(url) = resolve("href").filter(|u| matches!(u.scheme(), "http" | "https")) {
                                base = url;
                            }
                        }
                        "meta" => {
                            let key = el.attr("name").or_else(|| el.attr("property")).unwrap_or_default();
                            let content = collapse(el.attr("content").unwrap_or_default());
                            match key.to_ascii_lowercase().as_str() {
                                "generator" => add_tech(tech::in_generator(&content), "meta generator", &content),
                                "description" if description.is_none() && !content.is_empty() => {
                                    description = Some(content);
                                }
                                "og:description" if og_description.is_none() && !content.is_empty() => {
                                    og_description = Some(content);
                                }
                                _ => {}
                            }
                        }
                        "script" | "iframe" | "img" | "source" | "embed" => {
                            if let Some(url) = resolve("src") {
                                let source = if name == "script" { "script src" } else { "embedded src" };
                                add_tech(tech::in_url(&url), source, url.as_str());
                            }
                        }
                        "link" => {
                            if let Some(url) = resolve("href") {
                                add_tech(tech::in_url(&url), "link href", url.as_str());
                                let alternate =
                                    el.attr("rel").is_some_and(|r| r.to_ascii_lowercase().contains("alternate"));
                                let arabic =
                                    el.attr("hreflang").is_some_and(|h| h.to_ascii_lowercase().starts_with("ar"));
                                if alternate && arabic {
                                    let mut url = url;
                                    url.set_fragment(None);
                                    links.push(Link { url, text: String::new() });
                                }
                            }
                        }
                        _ => {}
                    }
                    if HIDDEN.contains(&name) {
                        hidden.push(name.to_owned());
                    }
                }
                _ => {}
            },
            Edge::Close(node) => {
                let Node::Element(el) = node.value() else { continue };
                let name = el.name();
                if HIDDEN.contains(&name) {
                    hidden.pop();
                    if name == "title" && title.is_none() {
                        let text = collapse(&title_buf);
                        if !text.is_empty() {
                            title = Some(text);
                        }
                    }
                }
                if BLOCK.contains(&name) {
                    visible.push('\n');
                }
                if matches!(name, "a" | "area") {
                    let start = anchors.pop().unwrap_or(visible.len());
                    let end = visible.len();
                    let link_text = collapse(visible.get(start..end).unwrap_or_default());
                    if let Some(href) = el.attr("href") {
                        link_facts_of(href, &base, start, end, &mut link_facts, &mut links, &link_text);
                    }
                }
            }
        }
    }
    add_tech(tech::in_script(&scripts), "inline script", "");

    let mut facts = Vec::new();
    if home {
        if let Some(title) = title {
            facts.push(Found {
                kind: FactKind::Title,
                snippet: cut(&title, MAX_SNIPPET_CHARS),
                value: title,
                raw: json!({ "source": "title" }),
            });
        }
        if let Some((description, source)) =
            description.map(|d| (d, "meta description")).or(og_description.map(|d| (d, "og:description")))
        {
            facts.push(Found {
                kind: FactKind::Description,
                snippet: cut(&description, MAX_SNIPPET_CHARS),
                value: description,
                raw: json!({ "source": source }),
            });
        }
    }
    for f in link_facts {
        let mut snippet = text::snippet(&visible, f.start, f.end);
        if snippet.is_empty() {
            snippet = cut(&f.fallback, MAX_SNIPPET_CHARS);
        }
        facts.push(Found { kind: f.kind, value: f.value, snippet, raw: f.raw });
    }
    facts.extend(text::emails(&visible));
    facts.extend(text::phones(&visible));
    facts.extend(text::registrations(&visible));
    facts.extend(text::founded_years(&visible, current_year));
    for (name, source, evidence) in techs {
        let snippet = if evidence.is_empty() { format!("{name} ({source})") } else { evidence.clone() };
        facts.push(Found {
            kind: FactKind::Technology,
            value: name.to_owned(),
            snippet,
            raw: if evidence.is_empty() {
                json!({ "source": source })
            } else {
                json!({ "source": source, "evidence": evidence })
            },
        });
    }
    PageScan { facts, links }
}

/// What a link gives: an e-mail (`mailto:`), a phone (`tel:`), a WhatsApp number, a social
/// profile, and, for a web page, a [`Link`].
fn link_facts_of(
    href: &str,
    base: &Url,
    start: usize,
    end: usize,
    facts: &mut Vec<LinkFact>,
    links: &mut Vec<Link>,
    link_text: &str,
) {
    let href = href.trim();
    let mut push =
        |kind, value: String, raw| facts.push(LinkFact { kind, value, raw, start, end, fallback: href.to_owned() });
    let lower = href.to_ascii_lowercase();
    if let Some(rest) = lower.starts_with("mailto:").then(|| href.get(7..)).flatten() {
        let addresses = links::percent_decode(rest.split('?').next().unwrap_or_default());
        for address in addresses.split([',', ';']) {
            if let Some(email) = text::email(address) {
                push(FactKind::Email, email, json!({ "source": "mailto" }));
            }
        }
        return;
    }
    if let Some(rest) = lower.starts_with("tel:").then(|| href.get(4..)).flatten() {
        let number = links::percent_decode(rest.split(';').next().unwrap_or_default());
        if let Some(phone) = text::phone(&number) {
            push(FactKind::Phone, phone, json!({ "source": "tel" }));
        }
        return;
    }
    let Ok(mut url) = base.join(href) else { return };
    url.set_fragment(None);
    if let Some(number) = links::whatsapp_number(&url) {
        push(FactKind::WhatsApp, number, json!({ "link": cut(url.as_str(), MAX_SNIPPET_CHARS) }));
    } else if let Some((network, profile)) = links::social_profile(&url) {
        push(FactKind::Social, profile, json!({ "network": network }));
    } else if matches!(url.scheme(), "http" | "https") {
        links.push(Link { url, text: cut(link_text, MAX_SNIPPET_CHARS) });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn facts(html: &str) -> Vec<(FactKind, String)> {
        let url = Url::parse("https://acme.sa/").unwrap();
        scan(&url, html.as_bytes(), None, true, 2026).facts.into_iter().map(|f| (f.kind, f.value)).collect()
    }

    #[test]
    fn table_cells_do_not_run_together() {
        let got = facts("<table><tr><td>C.R.</td><td>1010123456</td></tr></table>");
        assert_eq!(got, [(FactKind::CommercialRegistration, "1010123456".to_owned())]);
    }

    #[test]
    fn scripts_and_styles_are_not_text() {
        let got = facts("<p>hi</p><script>var e='hidden@acme.sa'; var t='0501234567';</script><style>.a{}</style>");
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn windows_1256_pages_are_decoded() {
        let (bytes, _, _) =
            encoding_rs::WINDOWS_1256.encode("<meta charset=windows-1256><p>السجل التجاري 1010123456</p>");
        let url = Url::parse("https://acme.sa/").unwrap();
        let scan = scan(&url, &bytes, None, false, 2026);
        assert_eq!(scan.facts.len(), 1);
        assert_eq!(scan.facts[0].value, "1010123456");
        assert!(scan.facts[0].snippet.contains("السجل التجاري"));
    }

    #[test]
    fn link_snippets_come_from_the_surrounding_text() {
        let url = Url::parse("https://acme.sa/").unwrap();
        let scan = scan(
            &url,
            "<p>Write to <a href='mailto:Sales@Acme.sa?subject=x'>our team</a> today</p>".as_bytes(),
            None,
            false,
            2026,
        );
        assert_eq!(scan.facts[0].value, "sales@acme.sa");
        assert_eq!(scan.facts[0].snippet, "Write to our team today");
    }

    #[test]
    fn the_base_element_resolves_links() {
        let url = Url::parse("https://acme.sa/x/y").unwrap();
        let scan = scan(&url, b"<base href='https://acme.sa/en/'><a href='contact'>Contact</a>", None, true, 2026);
        assert_eq!(scan.links[0].url.as_str(), "https://acme.sa/en/contact");
        assert_eq!(scan.links[0].text, "Contact");
    }

    #[test]
    fn deeply_nested_markup_is_cut_in_time() {
        let html = format!("<p>0501234567</p>{}<p>0501234568</p>", "<div>".repeat(200_000));
        let started = Instant::now();
        let (_, out_of_time) = parse_within(&html, Duration::from_millis(300));
        assert!(out_of_time);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let got = facts(&"<div>".repeat(2_000));
        assert!(got.is_empty());
        let url = Url::parse("https://acme.sa/").unwrap();
        let found: Vec<String> =
            scan(&url, html.as_bytes(), None, false, 2026).facts.into_iter().map(|f| f.value).collect();
        assert_eq!(found, ["+966501234567"]);
    }

    #[test]
    fn honest_pages_parse_whole() {
        let html = format!("<ul>{}</ul><p>0501234567</p>", "<li><a href='/x'>item</a> text</li>".repeat(20_000));
        let (_, out_of_time) = parse_within(&html, PARSE_BUDGET);
        assert!(!out_of_time);
        assert_eq!(facts(&html), [(FactKind::Phone, "+966501234567".to_owned())]);
    }
}
