//! The relevance order of a search: the newest `RANKED_WINDOW` matches ranked, then older ones
//! newest first (`leadzone_ports::leads::Relevance`).

use super::query::{RankedRow, condition, listed};
use crate::entities::leads::{Column, Entity};
use crate::error::db_err;
use leadzone_domain::ids::LeadId;
use leadzone_ports::RepoError;
use leadzone_ports::leads::{LeadPosition, LeadQuery, ListedLead, RANKED_WINDOW, Relevance, SortKey};
use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{
    Condition, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Statement,
};
use time::OffsetDateTime;

/// The relevance order (`leadzone_ports::leads::Relevance`): the newest `RANKED_WINDOW` matches by
/// rank, then the older ones newest first. Each half is one bounded query — the ranked half reads
/// the window's rows through the newest-first index, the older half walks that index from the
/// window down — so a word in every name costs what a rare one does.
pub(super) async fn list_by_relevance<C: ConnectionTrait>(
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
            let (window, rows) = first_relevance_page(db, tenant, matching.clone(), rank.clone(), query.limit).await?;
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
        let rows = match window {
            // A common word: the window's rows are read through the newest-first index, oldest
            // first (so the cap drops only leads added after the window, never one of it), and
            // ranked in a subquery — written so because as one query the planner ranks through
            // the tenant's whole bitmap (180 ms for 200,000 names) instead (4 ms).
            Some(w) => {
                let inner = narrow(Entity::find().filter(matching.clone()), rank.clone())
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
                values.push(tenant.into());
                let sql = format!(
                    "WITH w AS (SELECT * FROM ({}) AS w {keyset} ORDER BY w.rank DESC, w.id DESC LIMIT {})
                     SELECT {}, w.rank FROM w JOIN \"leads\" ON \"leads\".\"id\" = w.id AND \"leads\".\"tenant_id\" = ${}
                     ORDER BY w.rank DESC, w.id DESC",
                    inner.sql,
                    query.limit,
                    lead_columns(),
                    values.len()
                );
                RankedRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
                    .all(db)
                    .await
                    .map_err(db_err)?
            }
            // Fewer matches than the window when the search began: rank them all.
            None => {
                let mut ranked = Entity::find().filter(matching.clone()).column_as(rank.clone(), "rank");
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

/// How many of the tenant's newest leads a first page first looks through for its matches; what it
/// finds there tells how common the word is, and so whether a longer walk or the search index
/// finds the window for less. PostgreSQL cannot tell a rare word from a common one (it estimates
/// every word it has no statistics for at 0.5% of the rows), so it walked the newest-first index
/// for both; for a word in one lead of 1,000,000 that walk read the whole tenant (600 ms).
const FIRST_WALK: u64 = RANKED_WINDOW;
/// The longest walk: for a word in one lead of 24 among the newest.
const LONGEST_WALK: u64 = 36 * RANKED_WINDOW;

/// Where a first page looks for its window.
#[derive(Clone, Copy)]
enum Reach {
    /// Among the tenant's newest this many leads, newest first: stops at the window's last row,
    /// so a common word reads about `RANKED_WINDOW` rows and any word at most this many.
    Recent(u64),
    /// Every match, gathered through the search index and sorted: a word that is rare among the
    /// newest leads has few.
    Everywhere,
}

/// A search's first page: the newest `RANKED_WINDOW` matches, ranked; the window is the oldest of
/// them when there are that many (`None` when fewer: then they are all the matches, and all are
/// ranked). Bounded tries: the newest `FIRST_WALK` leads; for a word that matched at least one in
/// 24 of them, a walk long enough to reach its window; else (or when that falls short) every
/// match through the search index. Each finds the same window.
async fn first_relevance_page<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    matching: Condition,
    rank: Expr,
    limit: u64,
) -> Result<(Option<(OffsetDateTime, LeadId)>, Vec<RankedRow>), RepoError> {
    let (window, rows, found) =
        ranked_window(db, tenant, matching.clone(), rank.clone(), limit, Reach::Recent(FIRST_WALK)).await?;
    if window.is_some() {
        return Ok((window, rows));
    }
    if found * 24 >= FIRST_WALK {
        // Half again the rows the word's share among the newest leads says its window needs.
        let walk = std::cmp::min(RANKED_WINDOW * FIRST_WALK * 3 / (2 * found), LONGEST_WALK);
        let (window, rows, _) =
            ranked_window(db, tenant, matching.clone(), rank.clone(), limit, Reach::Recent(walk)).await?;
        if window.is_some() {
            return Ok((window, rows));
        }
    }
    let (window, rows, _) = ranked_window(db, tenant, matching, rank, limit, Reach::Everywhere).await?;
    Ok((window, rows))
}

/// The newest `RANKED_WINDOW` rows of `matching` within `reach`, ranked, in one statement, and
/// how many matched (at most `RANKED_WINDOW`).
async fn ranked_window<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    matching: Condition,
    rank: Expr,
    limit: u64,
    reach: Reach,
) -> Result<(Option<(OffsetDateTime, LeadId)>, Vec<RankedRow>, u64), RepoError> {
    let all = narrow(Entity::find().filter(matching), rank).build(DbBackend::Postgres);
    let newest = match reach {
        // The matches among a subquery of the newest leads (the search's condition applied to its
        // rows as they come, newest first), so the walk ends at `walk` rows whatever the planner
        // thinks of the word.
        Reach::Recent(walk) => {
            let mut values = all.values.map(|v| v.0).unwrap_or_default();
            values.push(tenant.into());
            let t = values.len();
            // The walk's bound stands in for the table; without it the walk is the planner's again.
            debug_assert!(all.sql.contains(r#"FROM "leads""#), "{}", all.sql);
            let sql = all.sql.replacen(
                r#"FROM "leads""#,
                &format!(
                    r#"FROM (SELECT * FROM "leads" WHERE "tenant_id" = ${t}
                              ORDER BY "created_at" DESC, "id" DESC LIMIT {walk}) AS "leads""#
                ),
                1,
            );
            Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(r#"{sql} ORDER BY "created_at" DESC, "id" DESC LIMIT {RANKED_WINDOW}"#),
                values,
            )
        }
        // Gathered first (a subquery the planner cannot order through the newest-first index,
        // so it asks the search index) and sorted after.
        Reach::Everywhere => {
            let sql = format!(
                "SELECT * FROM ({} OFFSET 0) m ORDER BY m.created_at DESC, m.id DESC LIMIT {RANKED_WINDOW}",
                all.sql
            );
            Statement { sql, ..all }
        }
    };
    // The window is ranked on its keys alone; only the page's rows are read whole.
    let mut values = newest.values.map(|v| v.0).unwrap_or_default();
    values.push(tenant.into());
    let sql = format!(
        "WITH newest AS MATERIALIZED ({}),
         edge AS (SELECT created_at AS window_at, id AS window_id, (SELECT count(*) FROM newest) AS window_n
                  FROM newest ORDER BY created_at, id LIMIT 1),
         top AS (SELECT id, rank FROM newest ORDER BY rank DESC, id DESC LIMIT {limit})
         SELECT {}, top.rank, edge.* FROM top
           JOIN \"leads\" ON \"leads\".\"id\" = top.id AND \"leads\".\"tenant_id\" = ${}
           CROSS JOIN edge ORDER BY top.rank DESC, top.id DESC",
        newest.sql,
        lead_columns(),
        values.len()
    );
    let rows = FirstRankedRow::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .all(db)
        .await
        .map_err(db_err)?;
    let found = rows.first().map_or(0, |r| u64::try_from(r.window_n).unwrap_or(0));
    let window = rows.first().filter(|_| found >= RANKED_WINDOW).map(|r| (r.window_at, LeadId::from(r.window_id)));
    Ok((window, rows.into_iter().map(|r| r.row).collect(), found))
}

/// A search's matches as keys only (id, creation time, rank): a window of them is sorted and
/// ranked without carrying whole rows (1,000 rows of about 900 bytes each) through the sort; the
/// page's rows are joined back by id. Measured on a 200,000-lead tenant, `q` of a word in every
/// name: 974 statements/s whole, 1,628 on keys (pgbench, 16 clients, each planned).
fn narrow(find: sea_orm::Select<Entity>, rank: Expr) -> sea_orm::Select<Entity> {
    find.select_only().column(Column::Id).column(Column::CreatedAt).column_as(rank, "rank")
}

/// Every column of a lead, qualified (`"leads"."id", …`): what a `RankedRow` reads.
pub(super) fn lead_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        use sea_orm::{IdenStatic, Iterable};
        Column::iter().map(|c| format!(r#""leads"."{}""#, c.as_str())).collect::<Vec<_>>().join(", ")
    })
}
