//! The lead score (0–100): how reachable and how well known a company is, from what Leadzone
//! knows about it. A pure function of the facts, recomputed after a survey, a reveal and a report.
//!
//! Weights (they add up to 100):
//!
//! | what is known | points |
//! | --- | --- |
//! | a phone number to call (the lead's, or found on its site) | 20 |
//! | an e-mail address | 15 |
//! | the website answered a survey | 15 |
//! | social profiles: 5 each, at most 2 counted | 10 |
//! | a Commercial Registration number found | 10 |
//! | a VAT number found | 10 |
//! | decision makers: 10 for one, 15 for three or more | 15 |
//! | reviews on Google Maps: 2 for any, 5 for 50 or more | 5 |

/// What the score is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScoreFacts {
    pub has_phone: bool,
    pub has_email: bool,
    pub website_answered: bool,
    /// Distinct social networks with a profile.
    pub social_profiles: usize,
    pub commercial_registration: bool,
    pub vat_number: bool,
    pub decision_makers: usize,
    /// The largest review count of any reviews evidence (`None`: no reviews known).
    pub review_count: Option<u32>,
}

/// The score, 0–100.
pub fn lead_score(f: &ScoreFacts) -> i32 {
    let mut score = 0;
    if f.has_phone {
        score += 20;
    }
    if f.has_email {
        score += 15;
    }
    if f.website_answered {
        score += 15;
    }
    score += 5 * f.social_profiles.min(2) as i32;
    if f.commercial_registration {
        score += 10;
    }
    if f.vat_number {
        score += 10;
    }
    score += match f.decision_makers {
        0 => 0,
        1 | 2 => 10,
        _ => 15,
    };
    score += match f.review_count {
        None => 0,
        Some(n) if n >= 50 => 5,
        Some(_) => 2,
    };
    score.clamp(0, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_known_is_zero_and_everything_known_is_a_hundred() {
        assert_eq!(lead_score(&ScoreFacts::default()), 0);
        let all = ScoreFacts {
            has_phone: true,
            has_email: true,
            website_answered: true,
            social_profiles: 6,
            commercial_registration: true,
            vat_number: true,
            decision_makers: 4,
            review_count: Some(812),
        };
        assert_eq!(lead_score(&all), 100);
    }

    #[test]
    fn each_fact_carries_its_documented_weight() {
        let one = |f: ScoreFacts| lead_score(&f);
        assert_eq!(one(ScoreFacts { has_phone: true, ..Default::default() }), 20);
        assert_eq!(one(ScoreFacts { has_email: true, ..Default::default() }), 15);
        assert_eq!(one(ScoreFacts { website_answered: true, ..Default::default() }), 15);
        assert_eq!(one(ScoreFacts { social_profiles: 1, ..Default::default() }), 5);
        assert_eq!(one(ScoreFacts { social_profiles: 5, ..Default::default() }), 10);
        assert_eq!(one(ScoreFacts { commercial_registration: true, ..Default::default() }), 10);
        assert_eq!(one(ScoreFacts { vat_number: true, ..Default::default() }), 10);
        assert_eq!(one(ScoreFacts { decision_makers: 2, ..Default::default() }), 10);
        assert_eq!(one(ScoreFacts { decision_makers: 3, ..Default::default() }), 15);
        assert_eq!(one(ScoreFacts { review_count: Some(0), ..Default::default() }), 2);
        assert_eq!(one(ScoreFacts { review_count: Some(49), ..Default::default() }), 2);
        assert_eq!(one(ScoreFacts { review_count: Some(50), ..Default::default() }), 5);
    }

    #[test]
    fn a_reachable_company_outranks_a_merely_visible_one() {
        let reachable = ScoreFacts { has_phone: true, has_email: true, ..Default::default() };
        let visible = ScoreFacts { social_profiles: 3, review_count: Some(500), ..Default::default() };
        assert!(lead_score(&reachable) > lead_score(&visible));
    }
}
