//! Lead queries beyond an entity lookup: the one filter builder (listing, smart lists, bulk by
//! filter, counts), keyset paging with search relevance, duplicate detection, bulk changes, stats.

use crate::entities::leads::{Column, Entity};
use crate::error::db_err;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::Lead;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::LeadId;
use leadzone_domain::leads::{DedupKeys, LeadFilter, LeadSort, search_terms};
use leadzone_ports::RepoError;
use leadzone_ports::leads::{DuplicateMatch, LeadPosition, LeadQuery, ListedLead, RANKED_WINDOW, Relevance, SortKey};
use leadzone_ports::store::{BulkChange, LeadStats};
use sea_orm::sea_query::{Expr, ExprTrait, Order, UnionType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement, Value,
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

fn visibility_condition(v: &LeadVisibility) -> Option<Condition> {
    match v {
        LeadVisibility::All => None,
        LeadVisibility::OwnedBy(users) => {
            let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.as_uuid()).collect();
            Some(Condition::any().add(Column::CreatedBy.is_in(ids.clone())).add(Column::AssignedTo.is_in(ids)))
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

#[derive(FromQueryResult)]
struct RankedRow {
    #[sea_orm(nested)]
    lead: crate::entities::leads::Model,
    rank: f32,
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

fn listed(r: RankedRow, relevance: Option<(Option<(OffsetDateTime, LeadId)>, bool)>) -> Result<ListedLead, RepoError> {
    let name_key = r.lead.name_key.clone();
    Ok(ListedLead { lead: Lead::try_from(r.lead)?, rank: r.rank, name_key, relevance })
}

/// The relevance order (`leadzone_ports::leads::Relevance`): the newest `RANKED_WINDOW` matches by
/// rank, then the older ones newest first. Each half is one bounded query — the ranked half reads
/// the window's rows through the newest-first index, the older half walks that index from the
/// window down — so a word in every name costs what a rare one does.
async fn list_by_relevance<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    query: &LeadQuery,
    rank: Expr,
) -> Result<Vec<ListedLead>, RepoError> {
    let matching = condition(tenant, &query.visibility, &query.filter);
    let (window, after, first) = match &query.after {
        Some(LeadPosition { key: SortKey::Relevance { window, at }, id }) => (*window, Some((*at, *id)), None),
        Some(_) => return Err(RepoError::Other("a relevance page needs a relevance position".into())),
        None => {
            let (window, rows) = first_relevance_page(db, matching.clone(), rank.clone(), query.limit).await?;
            (window, None, Some(rows))
        }
    };
    let tuple = || Expr::tuple([Expr::col(Column::CreatedAt), Expr::col(Column::Id)]);
    let at = |w: (OffsetDateTime, LeadId)| Expr::tuple([Expr::val(w.0), Expr::val(w.1.as_uuid())]);
    let mut out = Vec::new();
    if let Some(rows) = first {
        for r in rows {
            out.push(listed(r, Some((window, true)))?);
        }
    } else if !matches!(after, Some((Relevance::Older(_), _))) {
        let ranked = Entity::find().filter(matching.clone()).column_as(rank.clone(), "rank");
        let rows = match window {
            // A common word: the window's rows are read through the newest-first index, oldest
            // first (so the cap drops only leads added after the window, never one of it), and
            // ranked in a subquery — written so because as one query the planner ranks through
            // the tenant's whole bitmap (180 ms for 200,000 names) instead (4 ms).
            Some(w) => {
                let inner = ranked
                    .filter(tuple().gte(at(w)))
                    .order_by(Column::CreatedAt, Order::Asc)
                    .order_by(Column::Id, Order::Asc)
                    .limit(RANKED_WINDOW * 4)
                    .build(DbBackend::Postgres);
                let mut values = inner.values.map(|v| v.0).unwrap_or_default();
                let keyset = match after {
                    Some((Relevance::Ranked(r), id)) => {
                        values.push(r.into());
                        values.push(id.as_uuid().into());
                        format!("WHERE (w.rank, w.id) < (${}, ${})", values.len() - 1, values.len())
                    }
                    _ => String::new(),
                };
                let sql = format!(
                    "SELECT * FROM ({}) AS w {keyset} ORDER BY w.rank DESC, w.id DESC LIMIT {}",
                    inner.sql, query.limit
                );
                RankedRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
                    .all(db)
                    .await
                    .map_err(db_err)?
            }
            // Fewer matches than the window when the search began: rank them all.
            None => {
                let mut ranked = ranked;
                if let Some((Relevance::Ranked(r), id)) = after {
                    let key = Expr::tuple([rank.clone(), Expr::col(Column::Id)]);
                    ranked = ranked.filter(key.lt(Expr::tuple([Expr::val(r), Expr::val(id.as_uuid())])));
                }
                ranked
                    .order_by(rank, Order::Desc)
                    .order_by(Column::Id, Order::Desc)
                    .limit(query.limit)
                    .into_model::<RankedRow>()
                    .all(db)
                    .await
                    .map_err(db_err)?
            }
        };
        for r in rows {
            out.push(listed(r, Some((window, true)))?);
        }
    }
    let left = query.limit.saturating_sub(out.len() as u64);
    if let (Some(w), true) = (window, left > 0) {
        // Below the window, or below the last older row shown.
        let below = match after {
            Some((Relevance::Older(t), id)) => (t, id),
            _ => w,
        };
        let older = Entity::find()
            .filter(matching)
            .column_as(Expr::cust("0::real"), "rank")
            .filter(tuple().lt(at(w)))
            .filter(tuple().lt(at(below)));
        let rows = older
            .order_by(Column::CreatedAt, Order::Desc)
            .order_by(Column::Id, Order::Desc)
            .limit(left)
            .into_model::<RankedRow>()
            .all(db)
            .await
            .map_err(db_err)?;
        for r in rows {
            out.push(listed(r, Some((window, false)))?);
        }
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct FirstRankedRow {
    #[sea_orm(nested)]
    row: RankedRow,
    window_at: OffsetDateTime,
    window_id: uuid::Uuid,
    window_n: i64,
}

/// A search's first page in one statement: the newest `RANKED_WINDOW` matches, ranked; the window
/// is the oldest of them when there are that many (`None` when fewer: then they are all the
/// matches, and all are ranked). Through the newest-first index for a common word, through the
/// GIN index and a small sort for a rare one.
async fn first_relevance_page<C: ConnectionTrait>(
    db: &C,
    matching: Condition,
    rank: Expr,
    limit: u64,
) -> Result<(Option<(OffsetDateTime, LeadId)>, Vec<RankedRow>), RepoError> {
    let newest = Entity::find()
        .filter(matching)
        .column_as(rank, "rank")
        .order_by(Column::CreatedAt, Order::Desc)
        .order_by(Column::Id, Order::Desc)
        .limit(RANKED_WINDOW)
        .build(DbBackend::Postgres);
    let sql = format!(
        "WITH newest AS MATERIALIZED ({}),
         edge AS (SELECT created_at AS window_at, id AS window_id, (SELECT count(*) FROM newest) AS window_n
                  FROM newest ORDER BY created_at, id LIMIT 1)
         SELECT newest.*, edge.* FROM newest CROSS JOIN edge ORDER BY newest.rank DESC, newest.id DESC LIMIT {limit}",
        newest.sql
    );
    let values = newest.values.map(|v| v.0).unwrap_or_default();
    let rows = FirstRankedRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .all(db)
        .await
        .map_err(db_err)?;
    let window = rows
        .first()
        .filter(|r| u64::try_from(r.window_n).is_ok_and(|n| n >= RANKED_WINDOW))
        .map(|r| (r.window_at, LeadId::from(r.window_id)));
    Ok((window, rows.into_iter().map(|r| r.row).collect()))
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

/// How a transaction holds the duplicate keys it checks: a single-lead write alone; import
/// batches together (their rows were deduplicated against each other already) but never
/// alongside a single-lead write of a key in the same slot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DedupLock {
    Exclusive,
    Shared,
}

/// Lock slots per tenant for duplicate keys; both ways of taking them below must agree.
const DEDUP_SLOTS: u32 = 64;
/// From this many leads' keys on, a shared fence takes every slot.
const ALL_SLOTS_FROM: usize = 256;

/// Duplicate keys map to 64 lock slots per tenant (an import batch takes at most 64 locks, a
/// single lead at most three), taken in slot order so that no two writers can deadlock. The slot
/// is `hashtextextended`, which Postgres keeps stable across versions (it partitions by it).
async fn lock_dedup_keys<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    keys: &[DedupKeys],
    mode: DedupLock,
) -> Result<(), RepoError> {
    let function = match mode {
        DedupLock::Exclusive => "pg_advisory_xact_lock",
        DedupLock::Shared => "pg_advisory_xact_lock_shared",
    };
    if mode == DedupLock::Shared && keys.len() >= ALL_SLOTS_FROM {
        // A batch this large has a key in nearly every slot (2,000 keys miss a given slot with
        // odds of 1 in 10^13): take all 64 shared, without sending or hashing the keys. A slot
        // taken needlessly only makes a single-lead write of it wait for this batch's commit.
        db.execute_unprepared(&format!(
            "SELECT {function}(hashtextextended('{tenant}:dedup:' || s.slot, 0))
               FROM (SELECT slot FROM generate_series(0, {last}) AS slot ORDER BY slot) s",
            last = DEDUP_SLOTS - 1
        ))
        .await
        .map_err(db_err)?;
        return Ok(());
    }
    let mut names: Vec<String> = Vec::with_capacity(keys.len() * 2);
    for k in keys {
        if let Some(p) = &k.phone {
            names.push(format!("phone:{p}"));
        }
        if let Some(h) = &k.website_host {
            names.push(format!("host:{h}"));
        }
        if !k.name_key.is_empty() {
            names.push(format!("name:{}:{}", k.name_key, k.city_key.as_deref().unwrap_or("")));
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    // One round trip: the slots come out of the subquery in order and are locked in that order.
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT {function}(hashtextextended($1 || ':dedup:' || s.slot, 0))::text
               FROM (SELECT DISTINCT hashtextextended(k, 0) & {mask} AS slot FROM unnest($2::text[]) AS k
                      ORDER BY slot) s",
            mask = DEDUP_SLOTS - 1
        ),
        [tenant.to_string().into(), names.into()],
    ))
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn find_duplicate<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    keys: &DedupKeys,
    exclude: Option<LeadId>,
) -> Result<Option<DuplicateMatch>, RepoError> {
    // Serialise writers of the same company within the tenant (and fence off import batches
    // holding its keys) until the transaction ends.
    lock_dedup_keys(db, tenant, std::slice::from_ref(keys), DedupLock::Exclusive).await?;

    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, CASE WHEN phone = $2 THEN 1 WHEN website_host = $3 THEN 2 ELSE 3 END AS kind
               FROM leads
              WHERE tenant_id = $1
                AND ($6::uuid IS NULL OR id <> $6)
                AND (phone = $2
                     OR website_host = $3
                     OR ($4 <> '' AND name_key = $4 AND COALESCE(city_key, '') = COALESCE($5, '')))
              ORDER BY kind, created_at
              LIMIT 1",
            [
                tenant.into(),
                keys.phone.clone().into(),
                keys.website_host.clone().into(),
                keys.name_key.clone().into(),
                keys.city_key.clone().into(),
                exclude.map(|e| e.as_uuid()).into(),
            ],
        ))
        .await
        .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let id: uuid::Uuid = row.try_get("", "id").map_err(db_err)?;
    let kind: i32 = row.try_get("", "kind").map_err(db_err)?;
    Ok(Some(match kind {
        1 => DuplicateMatch::Phone(id.into()),
        2 => DuplicateMatch::WebsiteHost(id.into()),
        _ => DuplicateMatch::NameAndCity(id.into()),
    }))
}

/// `(created_by = ANY($n) OR assigned_to = ANY($n))`, or nothing for full visibility.
fn visibility_sql(v: &LeadVisibility, values: &mut Vec<Value>) -> String {
    match v {
        LeadVisibility::All => String::new(),
        LeadVisibility::OwnedBy(users) => {
            values.push(users.iter().map(|u| u.as_uuid()).collect::<Vec<_>>().into());
            let n = values.len();
            format!(" AND (created_by = ANY(${n}) OR assigned_to = ANY(${n}))")
        }
    }
}

pub(crate) async fn bulk<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    change: &BulkChange,
    ids: &[LeadId],
    visibility: &LeadVisibility,
    at: OffsetDateTime,
) -> Result<Vec<LeadId>, RepoError> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
    let mut values: Vec<Value> = vec![tenant.into(), ids.into(), at.into()];
    let vis = visibility_sql(visibility, &mut values);
    let scope = format!("tenant_id = $1 AND id = ANY($2){vis}");
    let arg = |v: Value, values: &mut Vec<Value>| {
        values.push(v);
        format!("${}", values.len())
    };
    let sql = match change {
        BulkChange::Delete => format!("DELETE FROM leads WHERE {scope} RETURNING id"),
        BulkChange::Assign(user) => {
            let u = arg(user.map(|u| u.as_uuid()).into(), &mut values);
            format!(
                "UPDATE leads SET assigned_to = {u}, updated_at = $3
                  WHERE {scope} AND assigned_to IS DISTINCT FROM {u}::uuid RETURNING id"
            )
        }
        BulkChange::SetStatus(to) => {
            let sources: Vec<String> = LeadStatus::sources_of(*to).iter().map(|s| s.as_str().to_owned()).collect();
            let t = arg(to.as_str().into(), &mut values);
            let from = arg(sources.into(), &mut values);
            format!(
                "UPDATE leads SET status = {t}, updated_at = $3 WHERE {scope} AND status = ANY({from}) RETURNING id"
            )
        }
        BulkChange::AddToList(list) => {
            let l = arg(list.as_uuid().into(), &mut values);
            format!(
                "UPDATE leads SET list_id = {l}, updated_at = $3
                  WHERE {scope} AND list_id IS DISTINCT FROM {l}::uuid RETURNING id"
            )
        }
        BulkChange::RemoveFromList(list) => {
            let l = arg(list.as_uuid().into(), &mut values);
            format!("UPDATE leads SET list_id = NULL, updated_at = $3 WHERE {scope} AND list_id = {l} RETURNING id")
        }
        BulkChange::AddTags(tags) => {
            let t = arg(tags.clone().into(), &mut values);
            // Appends the tags a lead lacks, keeping order; never past 50 tags.
            format!(
                "UPDATE leads l SET tags = n.tags, updated_at = $3
                   FROM (SELECT id, tags || ARRAY(SELECT x FROM unnest({t}::text[]) x WHERE NOT (x = ANY(leads.tags))) AS tags
                           FROM leads WHERE {scope}) n
                  WHERE l.id = n.id AND l.tenant_id = $1 AND cardinality(n.tags) <= 50 AND n.tags <> l.tags
                  RETURNING l.id"
            )
        }
        BulkChange::RemoveTags(tags) => {
            let t = arg(tags.clone().into(), &mut values);
            format!(
                "UPDATE leads SET tags = ARRAY(SELECT x FROM unnest(tags) x WHERE NOT (x = ANY({t}::text[]))), updated_at = $3
                  WHERE {scope} AND tags && {t}::text[] RETURNING id"
            )
        }
    };
    let rows =
        db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await.map_err(db_err)?;
    rows.iter().map(|r| r.try_get::<uuid::Uuid>("", "id").map(Into::into).map_err(db_err)).collect()
}

pub(crate) async fn stats<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    visibility: &LeadVisibility,
    since: OffsetDateTime,
) -> Result<LeadStats, RepoError> {
    let mut values: Vec<Value> = vec![tenant.into()];
    let vis = visibility_sql(visibility, &mut values);
    values.push(since.into());
    let since_arg = values.len();
    let scope = format!("tenant_id = $1{vis}");
    // One statement, so one snapshot: the counts agree with each other while leads are written.
    let top = |column: &str, tag: &str| {
        format!(
            "(SELECT '{tag}' AS g, {column}::text AS k, count(*) AS n FROM leads WHERE {scope} AND {column} IS NOT NULL
               GROUP BY {column} ORDER BY n DESC, k LIMIT 20)"
        )
    };
    let sql = format!(
        "(SELECT 's' AS g, status::text AS k, count(*) AS n FROM leads WHERE {scope} GROUP BY status)
         UNION ALL {}
         UNION ALL {}
         UNION ALL
         (SELECT 'd', to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), count(*)
            FROM leads WHERE {scope} AND created_at >= ${since_arg} GROUP BY 2)",
        top("city", "c"),
        top("industry", "i"),
    );
    let rows =
        db.query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await.map_err(db_err)?;
    let (mut by_status, mut by_city, mut by_industry, mut created_per_day) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let format = time::macros::format_description!("[year]-[month]-[day]");
    for r in &rows {
        let (g, k, n): (String, String, i64) = (
            r.try_get("", "g").map_err(db_err)?,
            r.try_get("", "k").map_err(db_err)?,
            r.try_get("", "n").map_err(db_err)?,
        );
        match g.as_str() {
            "s" => by_status.extend(k.parse::<LeadStatus>().ok().map(|s| (s, n))),
            "c" => by_city.push((k, n)),
            "i" => by_industry.push((k, n)),
            _ => created_per_day.extend(time::Date::parse(&k, &format).ok().map(|d| (d, n))),
        }
    }
    // UNION ALL keeps no order: most first (ties by name), days oldest first.
    by_status.sort_by(|a: &(LeadStatus, i64), b| b.1.cmp(&a.1).then_with(|| a.0.as_str().cmp(b.0.as_str())));
    for pairs in [&mut by_city, &mut by_industry] {
        pairs.sort_by(|a: &(String, i64), b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    created_per_day.sort();
    let total = by_status.iter().map(|(_, n)| n).sum();
    Ok(LeadStats { total, by_status, by_city, by_industry, created_per_day })
}

/// Many leads in one INSERT … SELECT (COPY is refused on tables with row-level security). Each
/// column travels as one typed array expanded by `unnest`: binary, no per-row JSON to build or
/// parse (measured against `jsonb_to_recordset`) — except the columns every row of the batch has
/// the same value in (an import's creator, time, status, list, the columns its file leaves
/// empty…), bound once: 1,000,000 rows by one
/// `INSERT … SELECT` took 18.6 s with all 19 arrays and 15.5 s with those eight bound once. With
/// `may_exist`, a lead whose id exists already is skipped — a resumed import re-sends rows an
/// earlier attempt may have written. Returns the ids written now.
pub(crate) async fn insert_many<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    rows: Vec<(Lead, DedupKeys)>,
    may_exist: bool,
) -> Result<Vec<LeadId>, RepoError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // An import batch need not wait for its commit to reach the disk: if the server crashes
    // before it does, the batch is lost whole (rows, quota charge and checkpoint together) and
    // the resumed import stores it again.
    db.execute_unprepared("SET LOCAL synchronous_commit = off").await.map_err(db_err)?;
    // One vector per column, the rows' texts moved into them. The driver binds arrays without
    // NULL elements, so in an array a NULL travels as a value no valid lead has — an empty text,
    // the nil UUID, a score of -1 — and NULLIF turns it back.
    let n = rows.len();
    let mut ids = Vec::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    let mut industries = Vec::with_capacity(n);
    let mut cities = Vec::with_capacity(n);
    let mut phones = Vec::with_capacity(n);
    let mut emails = Vec::with_capacity(n);
    let mut websites = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    let mut tags = Vec::with_capacity(n);
    let mut enrichment = Vec::with_capacity(n);
    let mut list_ids = Vec::with_capacity(n);
    let mut assignees = Vec::with_capacity(n);
    let mut creators = Vec::with_capacity(n);
    let mut created = Vec::with_capacity(n);
    let mut hosts = Vec::with_capacity(n);
    let mut name_keys = Vec::with_capacity(n);
    let mut city_keys = Vec::with_capacity(n);
    let mut search_texts = Vec::with_capacity(n);
    let mut place_ids = Vec::with_capacity(n);
    for (l, k) in rows {
        ids.push(l.id.as_uuid());
        search_texts.push(leadzone_domain::leads::search_text(&l.company_name, l.industry.as_deref()));
        names.push(l.company_name);
        industries.push(l.industry);
        cities.push(l.city);
        phones.push(l.phone);
        emails.push(l.email);
        websites.push(l.website);
        statuses.push(l.status.as_str().to_owned());
        scores.push(l.score);
        tags.push(l.tags);
        enrichment.push(serde_json::to_string(&l.enrichment_data).unwrap_or_else(|_| "{}".into()));
        list_ids.push(l.list_id.map(|x| x.as_uuid()));
        assignees.push(l.assigned_to.map(|x| x.as_uuid()));
        creators.push(l.created_by.as_uuid());
        created.push(l.created_at);
        hosts.push(k.website_host);
        name_keys.push(k.name_key);
        city_keys.push(k.city_key);
        place_ids.push(k.place_id);
    }
    let written: Vec<LeadId> = ids.iter().map(|&id| LeadId::from(id)).collect();

    let mut b = BatchColumns::new(tenant);
    b.per_row(ids, "uuid", "id", "r.id");
    b.per_row(names, "text", "company_name", "r.company_name");
    b.optional(industries, "text", "industry");
    b.optional(cities, "text", "city");
    b.optional(phones, "text", "phone");
    b.optional(emails, "text", "email");
    b.optional(websites, "text", "website");
    b.column(statuses, "text", "status", "r.status");
    match same(scores) {
        Ok(one) => b.once(one, "int"),
        Err(each) => {
            let each: Vec<i32> = each.into_iter().map(|s| s.unwrap_or(-1)).collect();
            b.per_row(each, "int", "score", "NULLIF(r.score, -1)");
        }
    }
    match same(tags) {
        Ok(one) => b.once(one, "text[]"),
        // Nested: each row's as JSON text.
        Err(each) => {
            let each: Vec<String> =
                each.iter().map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into())).collect();
            b.per_row(each, "text", "tags", "ARRAY(SELECT jsonb_array_elements_text(r.tags::jsonb))");
        }
    }
    match same(enrichment) {
        Ok(one) => b.once(one, "text::jsonb"),
        Err(each) => b.per_row(each, "text", "enrichment_data", "r.enrichment_data::jsonb"),
    }
    b.optional(list_ids, "uuid", "list_id");
    b.optional(assignees, "uuid", "assigned_to");
    b.column(creators, "uuid", "created_by", "r.created_by");
    match same(created) {
        Ok(one) => {
            b.once(one, "timestamptz");
            b.again(); // updated_at = created_at
        }
        Err(each) => {
            b.per_row(each, "timestamptz", "created_at", "r.created_at");
            b.expr("r.created_at");
        }
    }
    b.optional(hosts, "text", "website_host");
    b.per_row(name_keys, "text", "name_key", "r.name_key");
    b.optional(city_keys, "text", "city_key");
    b.per_row(search_texts, "text", "search_text", "r.search_text");
    b.optional(place_ids, "text", "place_id");
    let (sql, values) = b.insert();
    // Speculative insertion (ON CONFLICT) costs about 15% of the statement: only a batch
    // that may have been stored before pays it.
    if !may_exist {
        db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await.map_err(db_err)?;
        return Ok(written);
    }
    let inserted = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("{sql} ON CONFLICT (id) DO NOTHING RETURNING id"),
            values,
        ))
        .await
        .map_err(db_err)?;
    inserted.iter().map(|r| r.try_get::<uuid::Uuid>("", "id").map(LeadId::from).map_err(db_err)).collect()
}

/// The one value every element has, or all of them (in order).
fn same<T: PartialEq>(mut values: Vec<T>) -> Result<T, Vec<T>> {
    let uniform = values.iter().all(|v| values.first() == Some(v));
    if uniform && let Some(one) = values.pop() { Ok(one) } else { Err(values) }
}

/// The SELECT of a batch insert into `leads`, column by column in the INSERT's order: `$1` is the
/// tenant; a column is either bound once or one array (element per row) expanded by `unnest`.
struct BatchColumns {
    values: Vec<Value>,
    select: Vec<String>,
    arrays: Vec<String>,
    aliases: Vec<&'static str>,
}

impl BatchColumns {
    fn new(tenant: uuid::Uuid) -> Self {
        Self { values: vec![tenant.into()], select: vec!["$1".into()], arrays: Vec::new(), aliases: Vec::new() }
    }

    /// One value per row, read in the SELECT as `expr` (over `r.{alias}`).
    fn per_row<T: Into<Value>>(&mut self, each: T, element: &str, alias: &'static str, expr: &str) {
        self.values.push(each.into());
        self.arrays.push(format!("${}::{element}[]", self.values.len()));
        self.aliases.push(alias);
        self.select.push(expr.to_owned());
    }

    /// A column bound once when every row has the same value, else one array element per row.
    fn column<T>(&mut self, values: Vec<T>, element: &str, alias: &'static str, expr: &str)
    where
        T: PartialEq + Into<Value>,
        Vec<T>: Into<Value>,
    {
        match same(values) {
            Ok(one) => self.once(one, element),
            Err(each) => self.per_row(each, element, alias, expr),
        }
    }

    /// An optional column: NULL or one value for the whole batch (a column the file leaves empty,
    /// one city for all), else per row with NULL as the type's default — an empty text, the nil
    /// UUID — which no valid lead has.
    fn optional<T>(&mut self, values: Vec<Option<T>>, element: &str, alias: &'static str)
    where
        T: PartialEq + Default + std::fmt::Display,
        Option<T>: Into<Value>,
        Vec<T>: Into<Value>,
    {
        match same(values) {
            Ok(one) => self.once(one, element),
            Err(each) => {
                let each: Vec<T> = each.into_iter().map(Option::unwrap_or_default).collect();
                self.per_row(each, element, alias, &format!("NULLIF(r.{alias}, '{}')", T::default()));
            }
        }
    }

    /// One value for every row.
    fn once<T: Into<Value>>(&mut self, one: T, cast: &str) {
        self.values.push(one.into());
        self.select.push(format!("${}::{cast}", self.values.len()));
    }

    /// The value of the column before, again.
    fn again(&mut self) {
        let last = self.select.last().cloned().unwrap_or_default();
        self.select.push(last);
    }

    /// Any other expression.
    fn expr(&mut self, expr: &str) {
        self.select.push(expr.to_owned());
    }

    fn insert(self) -> (String, Vec<Value>) {
        let sql = format!(
            "INSERT INTO leads (tenant_id, id, company_name, industry, city, phone, email, website, status, score,
                                tags, enrichment_data, list_id, assigned_to, created_by, created_at, updated_at,
                                website_host, name_key, city_key, search_text, place_id)
             SELECT {} FROM unnest({}) AS r({})",
            self.select.join(", "),
            self.arrays.join(", "),
            self.aliases.join(", ")
        );
        (sql, self.values)
    }
}

pub(crate) async fn existing_keys<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    keys: &[DedupKeys],
    except: &[LeadId],
) -> Result<leadzone_ports::store::ExistingKeys, RepoError> {
    use leadzone_ports::store::ExistingKeys;
    let phones: Vec<String> = keys.iter().filter_map(|k| k.phone.clone()).collect();
    let hosts: Vec<String> = keys.iter().filter_map(|k| k.website_host.clone()).collect();
    let named: Vec<&DedupKeys> = keys.iter().filter(|k| !k.name_key.is_empty()).collect();
    let names: Vec<String> = named.iter().map(|k| k.name_key.clone()).collect();
    let cities: Vec<String> = named.iter().map(|k| k.city_key.clone().unwrap_or_default()).collect();
    let places: Vec<String> = keys.iter().filter_map(|k| k.place_id.clone()).collect();
    let except: Vec<uuid::Uuid> = except.iter().map(|i| i.as_uuid()).collect();
    // One index probe per key, whatever the statistics say: a LATERAL … LIMIT 1 is never turned
    // into a join, and `= ANY(keys)` was — measured during a 1,000,000-row import, before any
    // ANALYZE had seen the new rows, the planner took the tenant for 400 rows and walked all of
    // them for every batch (8,000 rows/s, falling). A table that was nearly empty when planned
    // also got a sequential scan per key (one batch of an import took 8 s), hence no sequential
    // scans and a plan for this statement's own arguments (a cached generic plan: 11,000 rows/s).
    // Only for this statement: left on, `force_custom_plan` makes Postgres re-plan the
    // foreign-key check of every row the transaction inserts next (40% of an import's time).
    // `except`: the leads a resumed import wrote itself are not duplicates of its rows.
    // A batch waits for nothing for long (`lock_timeout`, kept for the rest of its transaction):
    // past a minute something is stuck, and the batch fails and the import retries rather than
    // hanging forever.
    db.execute_unprepared(
        "SET LOCAL lock_timeout = '60s'; SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL enable_seqscan = off",
    )
    .await
    .map_err(db_err)?;
    // Held until the batch commits: a lead created alone with one of these keys either committed
    // before (and is found below) or waits for this batch (and then finds its rows).
    lock_dedup_keys(db, tenant, keys, DedupLock::Shared).await?;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 'p' AS kind, k.v AS key, '' AS city FROM unnest($2::text[]) AS k(v)
               CROSS JOIN LATERAL (SELECT 1 FROM leads
                                    WHERE tenant_id = $1 AND phone = k.v AND id <> ALL($5) LIMIT 1) m
             UNION ALL
             SELECT 'h', k.v, '' FROM unnest($3::text[]) AS k(v)
               CROSS JOIN LATERAL (SELECT 1 FROM leads
                                    WHERE tenant_id = $1 AND website_host = k.v AND id <> ALL($5) LIMIT 1) m
             UNION ALL
             SELECT 'n', k.n, k.c FROM unnest($4::text[], $6::text[]) AS k(n, c)
               CROSS JOIN LATERAL (SELECT 1 FROM leads
                                    WHERE tenant_id = $1 AND name_key = k.n AND COALESCE(city_key, '') = k.c
                                      AND id <> ALL($5) LIMIT 1) m
             UNION ALL
             SELECT 'g', k.v, '' FROM unnest($7::text[]) AS k(v)
               CROSS JOIN LATERAL (SELECT 1 FROM leads
                                    WHERE tenant_id = $1 AND place_id = k.v AND id <> ALL($5) LIMIT 1) m",
            [tenant.into(), phones.into(), hosts.into(), names.into(), except.into(), cities.into(), places.into()],
        ))
        .await
        .map_err(db_err)?;
    db.execute_unprepared("SET LOCAL plan_cache_mode TO DEFAULT; SET LOCAL enable_seqscan TO DEFAULT")
        .await
        .map_err(db_err)?;
    let mut found = ExistingKeys::default();
    for r in rows {
        let kind: String = r.try_get("", "kind").map_err(db_err)?;
        let key: String = r.try_get("", "key").map_err(db_err)?;
        match kind.as_str() {
            "p" => found.add_phone(&key),
            "h" => found.add_host(&key),
            "g" => found.add_place(&key),
            _ => found.add_name(&key, &r.try_get::<String>("", "city").map_err(db_err)?),
        }
    }
    Ok(found)
}

/// The lead repository of a tenant transaction.
mod repo {
    use crate::entities::*;
    use crate::error::db_err;
    use crate::mapping::lead_active_model;
    use crate::tx::PgTenantTx;
    use leadzone_domain::access::LeadVisibility;
    use leadzone_domain::entities::*;

    use leadzone_domain::ids::*;
    use leadzone_domain::leads::DedupKeys;
    use leadzone_domain::leads::LeadFilter;
    use leadzone_ports::RepoError;
    use leadzone_ports::leads::{DuplicateMatch, LeadQuery, ListedLead};
    use leadzone_ports::store::*;
    use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

    #[async_trait::async_trait]
    impl LeadRepo for PgTenantTx {
        async fn insert(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError> {
            lead_active_model(lead, keys).insert(&self.txn).await.map_err(db_err)?;
            Ok(())
        }

        async fn get(&self, id: LeadId) -> Result<Lead, RepoError> {
            leads::Entity::find_by_id(id.as_uuid())
                .filter(leads::Column::TenantId.eq(self.tid()))
                .one(&self.txn)
                .await
                .map_err(db_err)?
                .ok_or(RepoError::NotFound)?
                .try_into()
        }

        async fn list(&self, query: &LeadQuery) -> Result<Vec<ListedLead>, RepoError> {
            crate::leads::list(&self.txn, self.tid(), query, self.custom_plans).await
        }

        async fn find_duplicate(
            &self,
            keys: &DedupKeys,
            exclude: Option<LeadId>,
        ) -> Result<Option<DuplicateMatch>, RepoError> {
            crate::leads::find_duplicate(&self.txn, self.tid(), keys, exclude).await
        }

        async fn update(&self, lead: &Lead, keys: &DedupKeys) -> Result<(), RepoError> {
            lead_active_model(lead, keys).reset_all().update(&self.txn).await.map_err(db_err)?;
            Ok(())
        }

        async fn delete(&self, id: LeadId) -> Result<(), RepoError> {
            let res = leads::Entity::delete_many()
                .filter(leads::Column::TenantId.eq(self.tid()))
                .filter(leads::Column::Id.eq(id.as_uuid()))
                .exec(&self.txn)
                .await
                .map_err(db_err)?;
            if res.rows_affected == 0 { Err(RepoError::NotFound) } else { Ok(()) }
        }

        async fn matching_ids(
            &self,
            visibility: &LeadVisibility,
            filter: &LeadFilter,
            limit: u64,
        ) -> Result<Vec<LeadId>, RepoError> {
            crate::leads::matching_ids(&self.txn, self.tid(), visibility, filter, limit).await
        }

        async fn bulk(
            &self,
            change: &BulkChange,
            ids: &[LeadId],
            visibility: &LeadVisibility,
            at: time::OffsetDateTime,
        ) -> Result<Vec<LeadId>, RepoError> {
            crate::leads::bulk(&self.txn, self.tid(), change, ids, visibility, at).await
        }

        async fn count_matching(
            &self,
            visibility: &LeadVisibility,
            filters: &[LeadFilter],
        ) -> Result<Vec<i64>, RepoError> {
            crate::leads::count_matching(&self.txn, self.tid(), visibility, filters).await
        }

        async fn stats(
            &self,
            visibility: &LeadVisibility,
            since: time::OffsetDateTime,
        ) -> Result<LeadStats, RepoError> {
            crate::leads::stats(&self.txn, self.tid(), visibility, since).await
        }

        async fn insert_many(&self, leads: Vec<(Lead, DedupKeys)>, may_exist: bool) -> Result<Vec<LeadId>, RepoError> {
            crate::leads::insert_many(&self.txn, self.tid(), leads, may_exist).await
        }

        async fn existing_keys(&self, keys: &[DedupKeys], except: &[LeadId]) -> Result<ExistingKeys, RepoError> {
            crate::leads::existing_keys(&self.txn, self.tid(), keys, except).await
        }

        async fn lock_discovery(&self) -> Result<(), RepoError> {
            self.txn
                .execute_raw(crate::stmt(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':discovery', 0))",
                    vec![self.tid().into()],
                ))
                .await
                .map_err(db_err)?;
            Ok(())
        }

        async fn touch_contacted(&self, id: LeadId, at: time::OffsetDateTime) -> Result<(), RepoError> {
            self.txn
                .execute_raw(crate::stmt(
                    "UPDATE leads SET last_contacted_at = GREATEST(COALESCE(last_contacted_at, $3), $3), updated_at = $3
                      WHERE tenant_id = $1 AND id = $2",
                    vec![self.tid().into(), id.as_uuid().into(), at.into()],
                ))
                .await
                .map_err(db_err)?;
            Ok(())
        }

        async fn unassign_user(&self, user: UserId) -> Result<u64, RepoError> {
            let res = self
                .txn
                .execute_raw(crate::stmt(
                    "UPDATE leads SET assigned_to = NULL, updated_at = now() WHERE tenant_id = $1 AND assigned_to = $2",
                    vec![self.tid().into(), user.as_uuid().into()],
                ))
                .await
                .map_err(db_err)?;
            Ok(res.rows_affected())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn a_column_is_bound_once_only_when_every_row_has_its_value() {
        assert_eq!(same(vec![3, 3, 3]), Ok(3));
        assert_eq!(same(vec![Some(1)]), Ok(Some(1)));
        assert_eq!(same(vec![3, 3, 4]), Err(vec![3, 3, 4]));
        assert_eq!(same(vec![None, Some(1)]), Err(vec![None, Some(1)]));
    }
}
