//! Lead queries that need more than an entity lookup: the filtered, visible, keyset-paginated
//! listing and duplicate detection.

use crate::entities::leads::{Column, Entity};
use crate::error::db_err;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::Lead;
use leadzone_domain::leads::{DedupKeys, LeadSort};
use leadzone_ports::RepoError;
use leadzone_ports::leads::{DuplicateMatch, LeadQuery, SortKey};
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    Value,
};

/// The SQL of a sort: the key expression and the direction; `id` in the same direction breaks ties.
fn sort_sql(sort: LeadSort) -> (&'static str, Order) {
    match sort {
        LeadSort::CreatedAtDesc => ("created_at", Order::Desc),
        LeadSort::CreatedAtAsc => ("created_at", Order::Asc),
        LeadSort::UpdatedAtDesc => ("updated_at", Order::Desc),
        LeadSort::ScoreDesc => ("COALESCE(score, -1)", Order::Desc),
        LeadSort::ScoreAsc => ("COALESCE(score, -1)", Order::Asc),
        LeadSort::CompanyNameAsc => ("company_name", Order::Asc),
    }
}

fn key_value(key: &SortKey) -> Value {
    match key {
        SortKey::Time(t) => (*t).into(),
        SortKey::Int(i) => (*i as i32).into(),
        SortKey::Text(s) => s.clone().into(),
    }
}

/// `%`, `_` and `\` are literal in a user's search text.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub(crate) async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    query: &LeadQuery,
) -> Result<Vec<Lead>, RepoError> {
    let f = &query.filter;
    let mut select = Entity::find().filter(Column::TenantId.eq(tenant));

    if let LeadVisibility::OwnedBy(users) = &query.visibility {
        let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.as_uuid()).collect();
        select = select
            .filter(Condition::any().add(Column::CreatedBy.is_in(ids.clone())).add(Column::AssignedTo.is_in(ids)));
    }
    if !f.status.is_empty() {
        select = select.filter(Column::Status.is_in(f.status.iter().map(|s| s.as_str())));
    }
    if let Some(v) = &f.industry {
        select = select.filter(Column::Industry.eq(v.as_str()));
    }
    if let Some(v) = &f.city {
        select = select.filter(Column::City.eq(v.as_str()));
    }
    if let Some(v) = f.assigned_to {
        select = select.filter(Column::AssignedTo.eq(v.as_uuid()));
    }
    if let Some(v) = f.list_id {
        select = select.filter(Column::ListId.eq(v.as_uuid()));
    }
    if let Some(v) = &f.tag {
        select = select.filter(Expr::cust_with_values("$1 = ANY(tags)", [v.clone()]));
    }
    match f.has_phone {
        Some(true) => select = select.filter(Column::Phone.is_not_null()),
        Some(false) => select = select.filter(Column::Phone.is_null()),
        None => {}
    }
    match f.has_website {
        Some(true) => select = select.filter(Column::Website.is_not_null()),
        Some(false) => select = select.filter(Column::Website.is_null()),
        None => {}
    }
    if let Some(v) = f.created_from {
        select = select.filter(Column::CreatedAt.gte(v));
    }
    if let Some(v) = f.created_to {
        select = select.filter(Column::CreatedAt.lt(v));
    }
    if let Some(v) = f.score_min {
        select = select.filter(Column::Score.gte(v));
    }
    if let Some(q) = &f.q {
        select = select.filter(Expr::cust_with_values(
            "(to_tsvector('arabic', company_name || ' ' || COALESCE(industry, '')) @@ plainto_tsquery('arabic', $1)
              OR company_name ILIKE $2)",
            [q.clone(), format!("%{}%", like_escape(q))],
        ));
    }

    let (key_sql, order) = sort_sql(query.sort);
    if let Some(after) = &query.after {
        let op = if matches!(order, Order::Desc) { "<" } else { ">" };
        select = select.filter(Expr::cust_with_values(
            format!("({key_sql}, id) {op} ($1, $2)"),
            [key_value(&after.key), after.id.as_uuid().into()],
        ));
    }
    let rows = select
        .order_by(Expr::cust(key_sql), order.clone())
        .order_by(Column::Id, order)
        .limit(query.limit)
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter().map(Lead::try_from).collect()
}

pub(crate) async fn find_duplicate<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    keys: &DedupKeys,
) -> Result<Option<DuplicateMatch>, RepoError> {
    // Serialise creators of the same company within the tenant: lock every key this lead has,
    // in a fixed order, until the transaction ends.
    let mut lock_keys: Vec<String> = Vec::new();
    if let Some(p) = &keys.phone {
        lock_keys.push(format!("{tenant}:phone:{p}"));
    }
    if let Some(h) = &keys.website_host {
        lock_keys.push(format!("{tenant}:host:{h}"));
    }
    if !keys.name_key.is_empty() {
        lock_keys.push(format!("{tenant}:name:{}:{}", keys.name_key, keys.city_key.as_deref().unwrap_or("")));
    }
    lock_keys.sort();
    for k in &lock_keys {
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [k.clone().into()],
        ))
        .await
        .map_err(db_err)?;
    }

    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, CASE WHEN phone = $2 THEN 1 WHEN website_host = $3 THEN 2 ELSE 3 END AS kind
               FROM leads
              WHERE tenant_id = $1
                AND (phone = $2
                     OR website_host = $3
                     OR ($4 <> '' AND name_key = $4 AND city_key IS NOT DISTINCT FROM $5))
              ORDER BY kind, created_at
              LIMIT 1",
            [
                tenant.into(),
                keys.phone.clone().into(),
                keys.website_host.clone().into(),
                keys.name_key.clone().into(),
                keys.city_key.clone().into(),
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
