//! The one lead filter builder (listing, smart lists, bulk by filter, counts), the one visibility
//! rule, and keyset paging in the newest-first and name orders.

use super::relevance::list_by_relevance;
use crate::entities::leads::{Column, Entity};
use crate::error::db_err;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::Lead;
use leadzone_domain::ids::LeadId;
use leadzone_domain::leads::{LeadFilter, LeadSort, search_terms};
use leadzone_ports::RepoError;
use leadzone_ports::leads::{LeadQuery, ListedLead, Relevance, SortKey};
use sea_orm::sea_query::{Expr, ExprTrait, Order, UnionType};
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{Column as _, Decode, Postgres, Row as _, Type};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait, Value,
};
use time::OffsetDateTime;

/// The tsquery text for a search: every word required, whole, but the one still being typed,
/// which is a prefix (`trading & 1234:*`). A common word matched whole is one posting list the
/// GIN index reads as it is; as a prefix it would gather every word it begins.
fn prefix_query(q: &str) -> Option<String> {
    let terms = search_terms(q);
    let last = terms.words.len().checked_sub(1)?;
    Some(
        terms
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == last && terms.last_is_prefix { format!("{w}:*") } else { w.clone() })
            .collect::<Vec<_>>()
            .join(" & "),
    )
}

/// The SQL of a search match on the stored vector: folded prefixes, or the Arabic stemmer — one
/// tsquery, so one scan of the GIN index.
const SEARCH_MATCH: &str = "search_vector @@ (to_tsquery('simple', $1) || plainto_tsquery('arabic', $2))";
const SEARCH_RANK: &str = "ts_rank(search_vector, to_tsquery('simple', $1) || plainto_tsquery('arabic', $2))";

/// The one lead-visibility rule: a viewer limited to some users sees the leads one of them created
/// or is assigned; `$1` is the array of those users' ids. Both the filter builder and the
/// hand-written statements (bulk changes, stats) use it.
const VISIBLE_TO: &str = "(created_by = ANY($1) OR assigned_to = ANY($1))";

/// The ids `VISIBLE_TO` binds, or `None` for full visibility.
fn visible_users(v: &LeadVisibility) -> Option<Value> {
    match v {
        LeadVisibility::All => None,
        LeadVisibility::OwnedBy(users) => Some(users.iter().map(|u| u.as_uuid()).collect::<Vec<_>>().into()),
    }
}

fn visibility_condition(v: &LeadVisibility) -> Option<Condition> {
    visible_users(v).map(|ids| Condition::all().add(Expr::cust_with_values(VISIBLE_TO, [ids])))
}

/// ` AND ` + the rule with its ids bound as the next `$n` of `values`, or nothing for full
/// visibility.
pub(super) fn visibility_sql(v: &LeadVisibility, values: &mut Vec<Value>) -> String {
    match visible_users(v) {
        None => String::new(),
        Some(ids) => {
            values.push(ids);
            format!(" AND {}", VISIBLE_TO.replace("$1", &format!("${}", values.len())))
        }
    }
}

/// Every filter of `GET /leads` as one condition: the single query builder of the workspace.
pub(crate) fn condition(tenant: uuid::Uuid, visibility: &LeadVisibility, f: &LeadFilter) -> Condition {
    let mut c = Condition::all().add(Column::TenantId.eq(tenant));
    if let Some(v) = visibility_condition(visibility) {
        c = c.add(v);
    }
    if !f.status.is_empty() {
        c = c.add(Column::Status.is_in(f.status.iter().map(|s| s.as_str())));
    }
    if !f.industry.is_empty() {
        c = c.add(Column::Industry.is_in(f.industry.clone()));
    }
    if !f.city.is_empty() {
        c = c.add(Column::City.is_in(f.city.clone()));
    }
    if let Some(v) = f.assigned_to {
        c = c.add(Column::AssignedTo.eq(v.as_uuid()));
    }
    if let Some(v) = f.list_id {
        c = c.add(Column::ListId.eq(v.as_uuid()));
    }
    if let Some(v) = &f.tag {
        c = c.add(Expr::cust_with_values("$1 = ANY(tags)", [v.clone()]));
    }
    match f.has_phone {
        Some(true) => c = c.add(Column::Phone.is_not_null()),
        Some(false) => c = c.add(Column::Phone.is_null()),
        None => {}
    }
    match f.has_website {
        Some(true) => c = c.add(Column::Website.is_not_null()),
        Some(false) => c = c.add(Column::Website.is_null()),
        None => {}
    }
    if let Some(v) = f.created_from {
        c = c.add(Column::CreatedAt.gte(v));
    }
    if let Some(v) = f.created_to {
        c = c.add(Column::CreatedAt.lt(v));
    }
    if let Some(v) = f.score_min {
        c = c.add(Column::Score.gte(v));
    }
    if let Some(q) = f.q.as_deref()
        && let Some(prefix) = prefix_query(q)
    {
        c = c.add(Expr::cust_with_values(SEARCH_MATCH, [prefix, q.to_owned()]));
    }
    c
}

/// The SQL of a sort: the key expression and the direction; `id` in the same direction breaks ties.
fn sort_sql(sort: LeadSort) -> (&'static str, Order) {
    match sort {
        LeadSort::CreatedAtDesc => ("created_at", Order::Desc),
        LeadSort::CreatedAtAsc => ("created_at", Order::Asc),
        LeadSort::UpdatedAtDesc => ("updated_at", Order::Desc),
        LeadSort::ScoreDesc => ("COALESCE(score, -1)", Order::Desc),
        LeadSort::ScoreAsc => ("COALESCE(score, -1)", Order::Asc),
        // The name as duplicates compare it (migration 0015): one index serves both.
        LeadSort::CompanyNameAsc => ("name_key", Order::Asc),
        // (Only without a search; with one, `list_by_relevance`.)
        LeadSort::Relevance => ("created_at", Order::Desc),
    }
}

fn key_value(key: &SortKey) -> Value {
    match key {
        SortKey::Time(t) => (*t).into(),
        SortKey::Int(i) => (*i as i32).into(),
        SortKey::Text(s) => s.clone().into(),
        SortKey::Relevance { at: Relevance::Ranked(r), .. } => (*r).into(),
        SortKey::Relevance { at: Relevance::Older(t), .. } => (*t).into(),
    }
}

/// A lead and its rank. Every lead read selects the lead's columns in the entity's order, then
/// `rank` (the first relevance page its window's edge after them), so a row is read by position:
/// each column's name is checked against the one expected there (a string comparison), where a
/// read by name pays a hash look-up per column and SeaORM a formatted error string for every NULL
/// (a lead has about eight). The first page served 11% more requests/s for it (README, #20).
pub(super) struct RankedRow {
    pub(super) lead: crate::entities::leads::Model,
    pub(super) rank: f32,
}

impl FromQueryResult for RankedRow {
    fn from_query_result(res: &QueryResult, _pre: &str) -> Result<Self, DbErr> {
        let mut c = Positional::of(res)?;
        let lead = crate::entities::leads::Model {
            id: c.next("id")?,
            tenant_id: c.next("tenant_id")?,
            company_name: c.next("company_name")?,
            industry: c.next("industry")?,
            city: c.next("city")?,
            phone: c.next("phone")?,
            email: c.next("email")?,
            website: c.next("website")?,
            status: c.next("status")?,
            score: c.next("score")?,
            tags: c.next("tags")?,
            enrichment_data: c.next("enrichment_data")?,
            list_id: c.next("list_id")?,
            assigned_to: c.next("assigned_to")?,
            created_by: c.next("created_by")?,
            created_at: c.next("created_at")?,
            updated_at: c.next("updated_at")?,
            last_contacted_at: c.next("last_contacted_at")?,
            website_host: c.next("website_host")?,
            name_key: c.next("name_key")?,
            city_key: c.next("city_key")?,
            search_text: c.next("search_text")?,
            place_id: c.next("place_id")?,
        };
        Ok(Self { lead, rank: c.next("rank")? })
    }
}

/// A row's columns read in order, each under the name expected at its place.
struct Positional<'r> {
    row: &'r PgRow,
    at: usize,
}

impl<'r> Positional<'r> {
    fn of(res: &'r QueryResult) -> Result<Self, DbErr> {
        let row = res.try_as_pg_row().ok_or_else(|| DbErr::Type("a lead row must come from PostgreSQL".into()))?;
        Ok(Self { row, at: 0 })
    }

    fn next<T: Decode<'r, Postgres> + Type<Postgres>>(&mut self, name: &str) -> Result<T, DbErr> {
        let at = self.at;
        self.at += 1;
        let found = self.row.columns().get(at).map(|c| c.name());
        if found != Some(name) {
            return Err(DbErr::Type(format!("lead row: column {at} is {found:?}, expected {name}")));
        }
        self.row.try_get(at).map_err(|e| DbErr::Type(format!("lead row: {name}: {e}")))
    }
}

pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    query: &LeadQuery,
    custom_plans: bool,
) -> Result<Vec<ListedLead>, RepoError> {
    let search = query.filter.q.as_deref().and_then(|q| prefix_query(q).map(|p| (p, q.to_owned())));
    if search.is_some() && !custom_plans {
        // A cached generic plan cannot see how selective the words are and ANDs the GIN bitmap
        // with every row of the tenant (8.5 ms vs 0.14 ms on a 200k-lead tenant): plan each search.
        // A search's read transaction (`begin_read`) has set this already, without the round trip.
        db.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan").await.map_err(db_err)?;
    }
    if let (LeadSort::Relevance, Some((prefix, q))) = (query.sort, &search) {
        let rank = Expr::cust_with_values(SEARCH_RANK, [prefix.clone(), q.clone()]);
        return list_by_relevance(db, tenant, query, rank).await;
    }
    // Relevance without a search means nothing: fall back to the default order.
    let sort = if query.sort == LeadSort::Relevance { LeadSort::CreatedAtDesc } else { query.sort };
    let (key_sql, order) = sort_sql(sort);
    let key_expr = Expr::cust(key_sql);
    let mut select = Entity::find()
        .filter(condition(tenant, &query.visibility, &query.filter))
        .column_as(Expr::cust("0::real"), "rank");
    if let Some(after) = &query.after {
        let tuple = Expr::tuple([key_expr.clone(), Expr::col(Column::Id)]);
        let bound = Expr::tuple([Expr::val(key_value(&after.key)), Expr::val(after.id.as_uuid())]);
        select = select.filter(if matches!(order, Order::Desc) { tuple.lt(bound) } else { tuple.gt(bound) });
    }
    let rows = select
        .order_by(key_expr, order.clone())
        .order_by(Column::Id, order)
        .limit(query.limit)
        .into_model::<RankedRow>()
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter().map(|r| listed(r, None)).collect()
}

pub(super) fn listed(
    r: RankedRow,
    relevance: Option<(Option<(OffsetDateTime, LeadId)>, bool)>,
) -> Result<ListedLead, RepoError> {
    let name_key = r.lead.name_key.clone();
    Ok(ListedLead { lead: Lead::try_from(r.lead)?, rank: r.rank, name_key, relevance })
}

pub(crate) async fn matching_ids<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    visibility: &LeadVisibility,
    filter: &LeadFilter,
    limit: u64,
) -> Result<Vec<LeadId>, RepoError> {
    let ids: Vec<uuid::Uuid> = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(condition(tenant, visibility, filter))
        .order_by_asc(Column::Id)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err)?;
    Ok(ids.into_iter().map(Into::into).collect())
}

pub(crate) async fn count_matching<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    visibility: &LeadVisibility,
    filters: &[LeadFilter],
) -> Result<Vec<i64>, RepoError> {
    let mut selects = filters.iter().enumerate().map(|(i, f)| {
        Entity::find()
            .select_only()
            .column_as(Expr::val(i as i32), "i")
            .column_as(Expr::col(Column::Id).count(), "n")
            .filter(condition(tenant, visibility, f))
            .into_query()
    });
    let Some(mut union) = selects.next() else { return Ok(Vec::new()) };
    for s in selects {
        union.union(UnionType::All, s);
    }
    let rows = db.query_all(&union).await.map_err(db_err)?;
    let mut counts = vec![0i64; filters.len()];
    for r in rows {
        let i: i32 = r.try_get("", "i").map_err(db_err)?;
        let n: i64 = r.try_get("", "n").map_err(db_err)?;
        if let Some(slot) = counts.get_mut(i as usize) {
            *slot = n;
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use sea_orm::{DbBackend, Statement};

    #[tokio::test]
    async fn a_lead_row_read_by_position_is_the_row_read_by_name_and_a_column_out_of_place_is_refused() {
        let db = leadzone_testkit::TestDb::new().await;
        let owner = db.owner().await;
        owner
            .execute_unprepared(
                "INSERT INTO users (id, email, password_hash, name) VALUES ('0190f0a8-0000-7000-8000-000000000001', 'sara@example.sa', 'x', 'Sara');
                 INSERT INTO tenants (id, name, slug) VALUES ('0190f0a8-0000-7000-8000-00000000000a', 'A', 'tenant-a');
                 INSERT INTO leads (tenant_id, company_name, city, score, tags, enrichment_data, created_by)
                   VALUES ('0190f0a8-0000-7000-8000-00000000000a', 'شركة النور', 'Riyadh', 7, '{vip,gulf}', '{\"employees\": 12}',
                           '0190f0a8-0000-7000-8000-000000000001');",
            )
            .await
            .unwrap();
        let columns = super::super::relevance::lead_columns();
        let read =
            |sql: String| RankedRow::find_by_statement(Statement::from_string(DbBackend::Postgres, sql)).all(&owner);

        let by_name = Entity::find().one(&owner).await.unwrap().unwrap();
        let rows = read(format!(r#"SELECT {columns}, 0.25::real AS "rank" FROM "leads""#)).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].lead, by_name, "every column, NULLs included, as the entity reads it by name");
        assert_eq!((rows[0].lead.industry.as_deref(), rows[0].lead.score, rows[0].rank), (None, Some(7), 0.25));
        assert_eq!(rows[0].lead.tags, ["vip", "gulf"]);

        // The first two columns swapped: refused, naming the place, not read as each other.
        let swapped =
            columns.replacen(r#""leads"."id", "leads"."tenant_id""#, r#""leads"."tenant_id", "leads"."id""#, 1);
        assert_ne!(swapped, columns);
        let err = read(format!(r#"SELECT {swapped}, 0::real AS "rank" FROM "leads""#)).await.err().unwrap();
        assert!(err.to_string().contains(r#"column 0 is Some("tenant_id"), expected id"#), "{err}");
        // The rank missing after the lead's columns: refused too.
        let err = read(format!(r#"SELECT {columns} FROM "leads""#)).await.err().unwrap();
        assert!(err.to_string().contains("column 23 is None, expected rank"), "{err}");
    }
}
