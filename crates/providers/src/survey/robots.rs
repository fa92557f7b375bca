//! robots.txt as the surveyor reads it (RFC 9309), through `texting_robots`: the group for
//! `Leadzone` (the product token of [`USER_AGENT`]) when there is one, else `*`.

use crate::outbound::USER_AGENT;
use url::Url;

/// The largest robots.txt read; the rest is ignored (RFC 9309 asks for at least 500 KiB).
pub(crate) const MAX_ROBOTS_BYTES: usize = 512 * 1024;

/// The product token robots.txt groups are matched against: `Leadzone`.
pub fn robots_agent() -> &'static str {
    USER_AGENT.split('/').next().unwrap_or(USER_AGENT)
}

/// The rules of one origin.
pub(crate) enum RobotsRules {
    /// No robots.txt (4xx), an unparsable one, or one behind too many redirects.
    AllowAll,
    /// The server failed (5xx) or could not be reached: RFC 9309 says assume complete disallow.
    DisallowAll,
    Rules(Box<texting_robots::Robot>),
}

impl std::fmt::Debug for RobotsRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AllowAll => f.write_str("AllowAll"),
            Self::DisallowAll => f.write_str("DisallowAll"),
            Self::Rules(_) => f.write_str("Rules(..)"),
        }
    }
}

impl RobotsRules {
    /// The rules a robots.txt answer gives: `status` and the body read.
    pub(crate) fn from_answer(status: u16, body: &[u8]) -> Self {
        match status {
            200..=299 => match texting_robots::Robot::new(robots_agent(), body) {
                Ok(robot) => Self::Rules(Box::new(robot)),
                Err(_) => Self::AllowAll,
            },
            500..=599 => Self::DisallowAll,
            _ => Self::AllowAll,
        }
    }

    /// Whether Leadzone may fetch `url`.
    pub(crate) fn allows(&self, url: &Url) -> bool {
        match self {
            Self::AllowAll => true,
            Self::DisallowAll => false,
            Self::Rules(robot) => robot.allowed(url.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn url(path: &str) -> Url {
        Url::parse("https://shop.example.sa").unwrap().join(path).unwrap()
    }

    #[test]
    fn the_agent_is_the_product_token() {
        assert_eq!(robots_agent(), "Leadzone");
    }

    #[test]
    fn our_group_wins_over_the_wildcard() {
        let txt = b"User-agent: *\nDisallow: /\n\nUser-agent: leadzone\nDisallow: /team\n";
        let rules = RobotsRules::from_answer(200, txt);
        assert!(rules.allows(&url("/contact")));
        assert!(!rules.allows(&url("/team")));
        assert!(!rules.allows(&url("/team/ahmed")));
    }

    #[test]
    fn the_wildcard_applies_without_our_group() {
        let rules = RobotsRules::from_answer(200, b"User-agent: *\nDisallow: /private\n");
        assert!(!rules.allows(&url("/private/x")));
        assert!(rules.allows(&url("/")));
    }

    #[test]
    fn status_codes_follow_rfc_9309() {
        assert!(RobotsRules::from_answer(404, b"").allows(&url("/x")));
        assert!(RobotsRules::from_answer(403, b"").allows(&url("/x")));
        assert!(!RobotsRules::from_answer(503, b"").allows(&url("/x")));
        assert!(RobotsRules::from_answer(200, b"\x00\xff garbage <html>").allows(&url("/x")));
    }
}
