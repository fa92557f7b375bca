//! Leads: create (validated, normalised, deduplicated, metered, audited), read, and list with
//! visibility, filters, sorts and keyset pagination.

use crate::{AppError, Ctx, audit, cursor, policy, usage};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{Activity, AuditDetails, Lead};
use leadzone_domain::enums::{ActivityType, AuditEventType, LeadStatus, MembershipStatus, UsageMetric};
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{LeadId, ListId, UserId};
use leadzone_domain::leads::{LeadFilter, LeadInput, LeadSort, NewLead};
use leadzone_domain::webhooks::WebhookEvent;
use leadzone_ports::RepoError;
use leadzone_ports::leads::{LeadPosition, LeadQuery, ListedLead, Relevance, SortKey};
use leadzone_ports::tx::TenantTx;
use std::str::FromStr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 200;

/// One page of a listing and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows fetched in order: the extra row, when there is one, only
    /// tells that a next page exists, and the cursor points after the page's last row.
    pub(crate) fn of_overfetched(mut rows: Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> String) -> Self {
        let next_cursor = if rows.len() as u64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page { data: rows, next_cursor }
    }
}

/// The query string of `GET /leads`, raw; the use case validates every parameter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    pub status: Vec<String>,
    pub industry: Vec<String>,
    pub city: Vec<String>,
    pub assigned_to: Option<String>,
    pub list_id: Option<String>,
    pub tag: Option<String>,
    pub has_phone: Option<String>,
    pub has_website: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub score_min: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Query pairs (`?status=NEW&status=LOST&city=…`) as listing parameters; unknown keys are ignored.
/// The filters of `GET /leads`, which bulk actions and exports take as a JSON object too.
pub const LEAD_FILTER_KEYS: &[&str] = &[
    "status",
    "industry",
    "city",
    "assignedTo",
    "listId",
    "tag",
    "hasPhone",
    "hasWebsite",
    "createdFrom",
    "createdTo",
    "scoreMin",
    "q",
];

pub fn list_params_from_pairs(pairs: Vec<(String, String)>) -> ListParams {
    let mut p = ListParams::default();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "status" => {
                p.status.push(v);
                continue;
            }
            "industry" => {
                p.industry.push(v);
                continue;
            }
            "city" => {
                p.city.push(v);
                continue;
            }
            "assignedTo" => &mut p.assigned_to,
            "listId" => &mut p.list_id,
            "tag" => &mut p.tag,
            "hasPhone" => &mut p.has_phone,
            "hasWebsite" => &mut p.has_website,
            "createdFrom" => &mut p.created_from,
            "createdTo" => &mut p.created_to,
            "scoreMin" => &mut p.score_min,
            "q" => &mut p.q,
            "sort" => &mut p.sort,
            "limit" => &mut p.limit,
            "cursor" => &mut p.cursor,
            _ => continue,
        };
        *slot = Some(v);
    }
    p
}

crate::service! {
    /// The leads workspace: create, read, search, change, bulk actions, timeline.
    Leads { ports: [uow, clock, ids], uses: [webhooks: crate::webhooks::Webhooks] }
}

impl Leads {
    pub async fn create_lead(&self, ctx: &Ctx, input: LeadInput, allow_duplicate: bool) -> Result<Lead, AppError> {
        policy::require(ctx, Permission::LeadsWrite)?;
        let new = NewLead::parse(input)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        check_references(&*tx, new.list_id, new.assigned_to).await?;

        let keys = new.dedup_keys();
        if !allow_duplicate && let Some(found) = tx.leads().find_duplicate(&keys, None).await? {
            return Err(AppError::DuplicateLead { existing: found.lead_id() });
        }
        let now = self.clock.now();
        usage::charge(&*tx, now, UsageMetric::Leads, 1).await?;

        let lead = self.lead_row(self.ids.new_id().into(), ctx, new, now);
        tx.leads().insert(&lead, &keys).await?;
        tx.activities()
            .insert(&Activity {
                id: self.ids.new_id().into(),
                tenant_id: ctx.tenant_id,
                lead_id: lead.id,
                kind: ActivityType::Created,
                description: format!("Lead {} created", lead.company_name),
                metadata: None,
                user_id: ctx.user_id,
                created_at: now,
            })
            .await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::LeadCreated,
                Some((leadzone_domain::enums::AuditEntityType::Lead, lead.id.as_uuid())),
                "lead created",
                AuditDetails { after: Some(lead_snapshot(&lead)), ..Default::default() },
            ))
            .await?;
        self.webhooks.emit(&*tx, WebhookEvent::LeadCreated, lead_event(&lead)).await?;
        tx.commit().await?;
        Ok(lead)
    }

    /// A new lead's row, created by the actor now (import keeps the assignee empty).
    pub(crate) fn lead_row(&self, id: LeadId, ctx: &Ctx, new: NewLead, now: time::OffsetDateTime) -> Lead {
        Lead {
            id,
            tenant_id: ctx.tenant_id,
            company_name: new.company_name,
            industry: new.industry,
            city: new.city,
            phone: new.phone.map(|p| p.as_str().to_owned()),
            email: new.email.map(|e| e.as_str().to_owned()),
            website: new.website.map(|w| w.as_str().to_owned()),
            status: new.status,
            score: new.score,
            tags: new.tags,
            enrichment_data: new.enrichment_data,
            list_id: new.list_id,
            assigned_to: new.assigned_to,
            created_by: ctx.user_id,
            created_at: now,
            updated_at: now,
            last_contacted_at: None,
        }
    }

    pub async fn get_lead(&self, ctx: &Ctx, id: LeadId) -> Result<Lead, AppError> {
        policy::require(ctx, Permission::LeadsRead)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let lead = tx.leads().get(id).await?;
        policy::require_on_lead(ctx, &*tx, Permission::LeadsRead, &lead).await?;
        Ok(lead)
    }

    /// Validates listing parameters into a filter (bulk actions by filter use the same rules).
    pub fn parse_lead_filter(&self, ctx: &Ctx, params: ListParams) -> Result<ParsedList, AppError> {
        parse_list_params(ctx, params)
    }

    pub async fn list_leads(&self, ctx: &Ctx, params: ListParams) -> Result<Page<Lead>, AppError> {
        policy::require(ctx, Permission::LeadsRead)?;
        let (filter, sort, sort_name, limit, after) = parse_list_params(ctx, params)?;
        let tx = self.uow.begin_read(ctx.tenant_id, filter.q.is_some()).await?;
        let visibility = policy::lead_visibility(ctx, &*tx).await?;
        self.page_of_leads(&*tx, LeadQuery { visibility, filter, sort, after, limit }, &sort_name).await
    }

    /// One page of a lead query, with the cursor of the next.
    pub(crate) async fn page_of_leads(
        &self,
        tx: &dyn TenantTx,
        mut query: LeadQuery,
        sort_name: &str,
    ) -> Result<Page<Lead>, AppError> {
        let limit = query.limit;
        query.limit = limit + 1;
        let rows = tx.leads().list(&query).await?;
        let page = Page::of_overfetched(rows, limit, |last| cursor::encode(sort_name, &position_of(query.sort, last)));
        Ok(Page { data: page.data.into_iter().map(|r| r.lead).collect(), next_cursor: page.next_cursor })
    }
}

/// A referenced list must exist in the tenant; an assignee must be an active member (422).
pub(crate) async fn check_references(
    tx: &dyn TenantTx,
    list: Option<ListId>,
    assignee: Option<UserId>,
) -> Result<(), AppError> {
    if let Some(list) = list {
        match tx.lists().get(list).await {
            Err(RepoError::NotFound) => return Err(AppError::field("listId", "no such list")),
            other => {
                other?;
            }
        }
    }
    if let Some(user) = assignee {
        match tx.memberships().get_by_user(user).await {
            Ok(m) if m.status == MembershipStatus::Active => {}
            Ok(_) | Err(RepoError::NotFound) => {
                return Err(AppError::field("assignedTo", "must be an active member of this organization"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The keyset position of a row under a sort.
pub fn position_of(sort: LeadSort, row: &ListedLead) -> LeadPosition {
    let lead = &row.lead;
    let key = match sort {
        // A search with no word to match (only punctuation) is listed newest first.
        LeadSort::Relevance => match row.relevance {
            Some((window, true)) => SortKey::Relevance { window, at: Relevance::Ranked(row.rank) },
            Some((window, false)) => SortKey::Relevance { window, at: Relevance::Older(lead.created_at) },
            None => SortKey::Relevance { window: None, at: Relevance::Older(lead.created_at) },
        },
        LeadSort::CreatedAtDesc | LeadSort::CreatedAtAsc => SortKey::Time(lead.created_at),
        LeadSort::UpdatedAtDesc => SortKey::Time(lead.updated_at),
        LeadSort::ScoreDesc | LeadSort::ScoreAsc => SortKey::Int(i64::from(lead.score.unwrap_or(-1))),
        LeadSort::CompanyNameAsc => SortKey::Text(row.name_key.clone()),
    };
    LeadPosition { key, id: lead.id }
}

pub type ParsedList = (LeadFilter, LeadSort, String, u64, Option<LeadPosition>);

pub(crate) fn parse_list_params(ctx: &Ctx, p: ListParams) -> Result<ParsedList, AppError> {
    let mut v = Validator::new();
    let mut filter = LeadFilter::default();
    for s in &p.status {
        for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            match LeadStatus::from_str(part) {
                Ok(st) => filter.status.push(st),
                Err(_) => v.push("status", format!("unknown status {part:?}")),
            }
        }
    }
    filter.industry = p.industry.into_iter().filter_map(|v| non_blank(Some(v))).collect();
    filter.city = p.city.into_iter().filter_map(|v| non_blank(Some(v))).collect();
    filter.tag = non_blank(p.tag);
    filter.q = search_text_param(p.q);
    filter.assigned_to = match non_blank(p.assigned_to).as_deref() {
        None => None,
        Some("me") => Some(ctx.user_id),
        Some(raw) => parse_or(&mut v, "assignedTo", raw, UserId::from_str),
    };
    filter.list_id = non_blank(p.list_id).and_then(|raw| parse_or(&mut v, "listId", &raw, ListId::from_str));
    filter.has_phone = non_blank(p.has_phone).and_then(|raw| parse_bool(&mut v, "hasPhone", &raw));
    filter.has_website = non_blank(p.has_website).and_then(|raw| parse_bool(&mut v, "hasWebsite", &raw));
    filter.created_from = non_blank(p.created_from).and_then(|raw| parse_time(&mut v, "createdFrom", &raw));
    filter.created_to = non_blank(p.created_to).and_then(|raw| parse_time(&mut v, "createdTo", &raw));
    filter.score_min = non_blank(p.score_min).and_then(|raw| parse_or(&mut v, "scoreMin", &raw, i32::from_str));
    // With a search and no explicit sort, the best matches come first.
    let default_sort = if filter.q.is_some() { "relevance" } else { "-createdAt" };
    let sort_name = non_blank(p.sort).unwrap_or_else(|| default_sort.to_owned());
    let sort = if sort_name == "relevance" && filter.q.is_some() {
        LeadSort::Relevance
    } else {
        v.check(LeadSort::parse(&sort_name)).unwrap_or_default()
    };
    let limit = crate::cursor::parse_limit(p.limit.as_deref(), &mut v);
    v.finish()?;
    let after = match non_blank(p.cursor) {
        None => None,
        Some(c) => Some(cursor::decode_for(&sort_name, sort, &c)?),
    };
    // A relevance cursor of a search with words (ranked, or with a window) does not fit a `q`
    // with none (listed newest first), nor the reverse: a cursor kept while the search changed.
    if let Some(LeadPosition { key: SortKey::Relevance { window, at }, .. }) = &after {
        let searching = filter.q.as_deref().is_some_and(|q| !leadzone_domain::leads::search_terms(q).words.is_empty());
        let of_a_search = window.is_some() || matches!(at, Relevance::Ranked(_));
        if searching != of_a_search {
            return Err(AppError::field("cursor", "is not a valid cursor for this query"));
        }
    }
    Ok((filter, sort, sort_name, limit, after))
}

/// `q` as typed, but for spaces: none at the start, at most one at the end — a space after the
/// last word says that word is finished (it then matches whole, not as a prefix).
fn search_text_param(q: Option<String>) -> Option<String> {
    let q = q?;
    let words = q.trim();
    if words.is_empty() {
        return None;
    }
    Some(if q.ends_with(char::is_whitespace) { format!("{words} ") } else { words.to_owned() })
}

fn non_blank(s: Option<String>) -> Option<String> {
    s.map(|x| x.trim().to_owned()).filter(|x| !x.is_empty())
}

fn parse_or<T, E>(v: &mut Validator, field: &str, raw: &str, parse: impl Fn(&str) -> Result<T, E>) -> Option<T> {
    match parse(raw) {
        Ok(x) => Some(x),
        Err(_) => {
            v.push(field, format!("{raw:?} is not valid here"));
            None
        }
    }
}

fn parse_bool(v: &mut Validator, field: &str, raw: &str) -> Option<bool> {
    match raw {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => {
            v.push(field, "must be true or false");
            None
        }
    }
}

fn parse_time(v: &mut Validator, field: &str, raw: &str) -> Option<OffsetDateTime> {
    parse_or(v, field, raw, |s| OffsetDateTime::parse(s, &Rfc3339))
}

/// The audited view of a lead.
/// A lead as an outbound webhook carries it: its id and the snapshot of its fields.
pub(crate) fn lead_event(lead: &Lead) -> serde_json::Value {
    let mut data = lead_snapshot(lead);
    if let Some(o) = data.as_object_mut() {
        o.insert("id".into(), serde_json::json!(lead.id));
        o.insert("updatedAt".into(), serde_json::json!(lead.updated_at.unix_timestamp()));
    }
    data
}

pub(crate) fn lead_snapshot(lead: &Lead) -> serde_json::Value {
    serde_json::json!({
        "companyName": lead.company_name,
        "industry": lead.industry,
        "city": lead.city,
        "phone": lead.phone,
        "email": lead.email,
        "website": lead.website,
        "status": lead.status,
        "score": lead.score,
        "tags": lead.tags,
        "listId": lead.list_id,
        "assignedTo": lead.assigned_to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, app_with, ctx, plan, subscription};

    #[test]
    fn an_overfetched_row_only_says_that_a_next_page_exists() {
        let page = Page::of_overfetched(vec![1, 2, 3], 2, |n| format!("after-{n}"));
        assert_eq!(page, Page { data: vec![1, 2], next_cursor: Some("after-2".into()) });
        let last = Page::of_overfetched(vec![1, 2], 2, |n| format!("after-{n}"));
        assert_eq!(last, Page { data: vec![1, 2], next_cursor: None });
        assert_eq!(Page::of_overfetched(Vec::<i32>::new(), 2, |n| n.to_string()).next_cursor, None);
    }
    use leadzone_domain::entities::Limit;
    use leadzone_domain::enums::{Role, SubscriptionStatus};
    use leadzone_ports::billing::Increment;
    use leadzone_ports::leads::DuplicateMatch;

    fn billing(tx: &mut FakeTx, leads: i64) {
        tx.subscriptions
            .expect_current_with_plan()
            .returning(move || Ok((subscription(SubscriptionStatus::Active), plan(leads))));
        tx.tenants.expect_current().returning(|| Ok(crate::testing::tenant()));
    }

    fn input() -> LeadInput {
        LeadInput { company_name: "Techno Solutions".into(), phone: Some("0501234567".into()), ..Default::default() }
    }

    #[tokio::test]
    async fn a_lead_is_counted_written_with_an_activity_and_audited() {
        let mut tx = FakeTx::default();
        billing(&mut tx, 100);
        tx.leads.expect_find_duplicate().returning(|_, _| Ok(None));
        tx.usage
            .expect_try_increment()
            .withf(|m, period, n, limit| {
                *m == UsageMetric::Leads && period == "2026-11" && *n == 1 && *limit == Limit::AtMost(100)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(Increment::Counted { value: 1 }));
        tx.leads
            .expect_insert()
            .withf(|lead, keys| lead.phone.as_deref() == Some("+966501234567") && keys.name_key == "techno solutions")
            .times(1)
            .returning(|_, _| Ok(()));
        tx.activities.expect_insert().withf(|a| a.kind == ActivityType::Created).times(1).returning(|_| Ok(()));
        tx.audit.expect_append().withf(|e| e.event_type == AuditEventType::LeadCreated).times(1).returning(|_| Ok(()));
        // The lead.created event goes into the outbox in the same transaction.
        tx.webhooks
            .expect_enqueue()
            .withf(|_, event, payload, ids, _| {
                event == "lead.created" && payload["data"]["companyName"] == "Techno Solutions" && ids.len() == 10
            })
            .times(1)
            .returning(|_, _, _, _, _| Ok(1));
        let lead = app_with(tx).leads.create_lead(&ctx(Role::Sales, 1), input(), false).await.unwrap();
        assert_eq!(lead.created_by, UserId::from_uuid(uuid::Uuid::from_u128(1)));
        assert_eq!(lead.status, LeadStatus::New);
    }

    #[tokio::test]
    async fn at_the_quota_nothing_is_written() {
        let mut tx = FakeTx::default();
        billing(&mut tx, 100);
        tx.leads.expect_find_duplicate().returning(|_, _| Ok(None));
        tx.usage.expect_try_increment().returning(|_, _, _, _| Ok(Increment::Refused { used: 100, limit: 100 }));
        // No expectation on leads.insert / activities / audit: calling them fails the test.
        let err = app_with(tx).leads.create_lead(&ctx(Role::Owner, 1), input(), false).await.unwrap_err();
        assert_eq!(err, AppError::QuotaExceeded { metric: UsageMetric::Leads, limit: 100, used: 100 });
    }

    #[tokio::test]
    async fn a_duplicate_is_refused_before_counting_unless_allowed() {
        let existing: LeadId = uuid::Uuid::from_u128(5).into();
        let mut tx = FakeTx::default();
        tx.leads.expect_find_duplicate().returning(move |_, _| Ok(Some(DuplicateMatch::Phone(existing))));
        let err = app_with(tx).leads.create_lead(&ctx(Role::Owner, 1), input(), false).await.unwrap_err();
        assert_eq!(err, AppError::DuplicateLead { existing });

        let mut tx = FakeTx::default();
        billing(&mut tx, -1);
        tx.usage.expect_try_increment().returning(|_, _, _, _| Ok(Increment::Counted { value: 7 }));
        tx.leads.expect_insert().times(1).returning(|_, _| Ok(()));
        tx.activities.expect_insert().returning(|_| Ok(()));
        tx.audit.expect_append().returning(|_| Ok(()));
        tx.webhooks.expect_enqueue().returning(|_, _, _, _, _| Ok(0));
        // find_duplicate has no expectation: with allowDuplicate it must not even be asked.
        assert!(app_with(tx).leads.create_lead(&ctx(Role::Owner, 1), input(), true).await.is_ok());
    }

    #[tokio::test]
    async fn bad_input_never_opens_a_transaction() {
        let app = app_with(FakeTx::default());
        let err = app
            .leads
            .create_lead(&ctx(Role::Owner, 1), LeadInput { company_name: "".into(), ..Default::default() }, false)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Validation(ref e) if e[0].field == "companyName"));
    }

    #[tokio::test]
    async fn an_assignee_must_be_an_active_member() {
        let mut tx = FakeTx::default();
        tx.memberships.expect_get_by_user().returning(|_| Err(RepoError::NotFound));
        let err = app_with(tx)
            .leads
            .create_lead(
                &ctx(Role::Owner, 1),
                LeadInput { assigned_to: Some(uuid::Uuid::from_u128(9).into()), ..input() },
                false,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Validation(ref e) if e[0].field == "assignedTo"));
    }

    #[test]
    fn list_params_are_validated_together() {
        let err = parse_list_params(
            &ctx(Role::Owner, 1),
            ListParams {
                status: vec!["NEW,BOGUS".into()],
                limit: Some("500".into()),
                sort: Some("name".into()),
                has_phone: Some("yes".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        let AppError::Validation(errors) = err else { panic!("expected validation") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["status", "hasPhone", "sort", "limit"]);
    }

    #[test]
    fn assigned_to_me_is_the_actor() {
        let (filter, ..) = parse_list_params(
            &ctx(Role::Sales, 4),
            ListParams { assigned_to: Some("me".into()), ..Default::default() },
        )
        .unwrap();
        assert_eq!(filter.assigned_to, Some(uuid::Uuid::from_u128(4).into()));
    }
}
