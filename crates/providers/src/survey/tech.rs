//! Technology fingerprints: what a site is built on and which trackers it loads, from the hosts
//! and paths of its scripts, styles and frames, its inline scripts and its `generator` meta tag.

use url::Url;

/// A fingerprint of a URL: the technology, hosts it is served from (a host or any subdomain of
/// it), and paths that betray it on any host.
struct UrlPrint {
    name: &'static str,
    hosts: &'static [&'static str],
    paths: &'static [&'static str],
}

const URL_PRINTS: &[UrlPrint] = &[
    UrlPrint { name: "Shopify", hosts: &["cdn.shopify.com", "myshopify.com", "shopifycdn.net"], paths: &[] },
    UrlPrint { name: "Salla", hosts: &["salla.sa", "salla.network", "salla.group"], paths: &[] },
    UrlPrint { name: "Zid", hosts: &["zid.store", "zid.sa", "zidcdn.com"], paths: &[] },
    UrlPrint { name: "WordPress", hosts: &[], paths: &["/wp-content/", "/wp-includes/"] },
    UrlPrint { name: "WooCommerce", hosts: &[], paths: &["/plugins/woocommerce/", "/woocommerce/"] },
    UrlPrint { name: "Google Analytics", hosts: &["google-analytics.com"], paths: &[] },
    UrlPrint {
        name: "HubSpot",
        hosts: &["hs-scripts.com", "hsforms.net", "hs-analytics.net", "hscollectedforms.net"],
        paths: &[],
    },
    UrlPrint {
        name: "Zoho",
        hosts: &["zoho.com", "zoho.sa", "zoho.eu", "zohocdn.com", "zohostatic.com", "zohopublic.com"],
        paths: &[],
    },
    UrlPrint { name: "Wix", hosts: &["wixstatic.com", "parastorage.com", "wix.com"], paths: &[] },
    UrlPrint { name: "Squarespace", hosts: &["squarespace.com", "squarespace-cdn.com"], paths: &[] },
];

/// Substrings of an inline script (or `<noscript>` text) that betray a technology.
const SCRIPT_PRINTS: &[(&str, &str)] = &[
    ("googletagmanager.com/gtm.js", "Google Tag Manager"),
    ("googletagmanager.com/ns.html", "Google Tag Manager"),
    ("googletagmanager.com/gtag/js", "Google Analytics"),
    ("google-analytics.com/analytics.js", "Google Analytics"),
    ("connect.facebook.net", "Meta Pixel"),
    ("fbevents.js", "Meta Pixel"),
    ("facebook.com/tr?id=", "Meta Pixel"),
    ("js.hs-scripts.com", "HubSpot"),
    ("cdn.shopify.com", "Shopify"),
    ("cdn.salla", "Salla"),
    ("salesiq.zoho", "Zoho"),
    ("woocommerce_params", "WooCommerce"),
    ("/wp-content/", "WordPress"),
    ("static.parastorage.com", "Wix"),
];

/// Words of a `generator` meta tag.
const GENERATOR_PRINTS: &[(&str, &str)] = &[
    ("wordpress", "WordPress"),
    ("woocommerce", "WooCommerce"),
    ("wix.com", "Wix"),
    ("squarespace", "Squarespace"),
    ("shopify", "Shopify"),
    ("salla", "Salla"),
    ("zid", "Zid"),
    ("joomla", "Joomla"),
    ("drupal", "Drupal"),
];

fn host_matches(host: &str, suffix: &str) -> bool {
    host == suffix || host.strip_suffix(suffix).is_some_and(|rest| rest.ends_with('.'))
}

/// Technologies a script, style, frame or image URL betrays.
pub(crate) fn in_url(url: &Url) -> Vec<&'static str> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let path = url.path().to_ascii_lowercase();
    let mut found: Vec<&'static str> = URL_PRINTS
        .iter()
        .filter(|p| p.hosts.iter().any(|h| host_matches(&host, h)) || p.paths.iter().any(|s| path.contains(s)))
        .map(|p| p.name)
        .collect();
    if host_matches(&host, "googletagmanager.com") {
        if path.starts_with("/gtm.js") || path.starts_with("/ns.html") {
            found.push("Google Tag Manager");
        } else if path.starts_with("/gtag/js") {
            found.push("Google Analytics");
        }
    }
    if host_matches(&host, "connect.facebook.net") && path.ends_with("fbevents.js") {
        found.push("Meta Pixel");
    }
    found
}

/// Technologies an inline script betrays.
pub(crate) fn in_script(script: &str) -> Vec<&'static str> {
    let lower = script.to_ascii_lowercase();
    let mut found: Vec<&'static str> = Vec::new();
    for (needle, name) in SCRIPT_PRINTS {
        if lower.contains(needle) && !found.contains(name) {
            found.push(name);
        }
    }
    found
}

/// Technologies a `generator` meta tag names.
pub(crate) fn in_generator(content: &str) -> Vec<&'static str> {
    let lower = content.to_ascii_lowercase();
    GENERATOR_PRINTS.iter().filter(|(word, _)| lower.contains(word)).map(|(_, name)| *name).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn url(s: &str) -> Vec<&'static str> {
        in_url(&Url::parse(s).unwrap())
    }

    #[test]
    fn urls_betray_their_platform() {
        assert_eq!(url("https://cdn.shopify.com/s/files/1/theme.js"), ["Shopify"]);
        assert_eq!(url("https://cdn.salla.network/js/app.js"), ["Salla"]);
        assert_eq!(url("https://media.zid.store/theme.css"), ["Zid"]);
        assert_eq!(url("https://acme.sa/wp-content/themes/x/style.css"), ["WordPress"]);
        assert_eq!(
            url("https://acme.sa/wp-content/plugins/woocommerce/assets/js/cart.js"),
            ["WordPress", "WooCommerce"]
        );
        assert_eq!(url("https://www.googletagmanager.com/gtm.js?id=GTM-ABC"), ["Google Tag Manager"]);
        assert_eq!(url("https://www.googletagmanager.com/gtag/js?id=G-1"), ["Google Analytics"]);
        assert_eq!(url("https://www.google-analytics.com/analytics.js"), ["Google Analytics"]);
        assert_eq!(url("https://connect.facebook.net/en_US/fbevents.js"), ["Meta Pixel"]);
        assert_eq!(url("https://js.hs-scripts.com/123.js"), ["HubSpot"]);
        assert_eq!(url("https://salesiq.zoho.sa/widget"), ["Zoho"]);
        assert_eq!(url("https://static.wixstatic.com/media/a.png"), ["Wix"]);
        assert_eq!(url("https://static1.squarespace.com/static/a.css"), ["Squarespace"]);
        // Look-alike hosts do not count.
        assert!(url("https://notsalla.sa/app.js").is_empty());
        assert!(url("https://example.sa/zid.sa.js").is_empty());
    }

    #[test]
    fn inline_scripts_and_generators_count() {
        let gtm = "(function(w,d,s,l,i){j.src='https://www.googletagmanager.com/gtm.js?id='+i+dl;})(window,document,'script','dataLayer','GTM-XYZ');";
        assert_eq!(in_script(gtm), ["Google Tag Manager"]);
        let pixel = "!function(f,b,e,v,n,t,s){t.src=v}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');";
        assert_eq!(in_script(pixel), ["Meta Pixel"]);
        assert_eq!(in_generator("WordPress 6.4.2"), ["WordPress"]);
        assert_eq!(in_generator("WooCommerce 8.1"), ["WooCommerce"]);
        assert_eq!(in_generator("Wix.com Website Builder"), ["Wix"]);
        assert!(in_generator("Hugo 0.120").is_empty());
    }
}
