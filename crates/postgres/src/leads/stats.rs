//! The leads dashboard's counts, in one statement.

use super::query::visibility_sql;
use crate::error::db_err;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::enums::LeadStatus;
use leadzone_ports::RepoError;
use leadzone_ports::leads::LeadStats;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use time::OffsetDateTime;

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
