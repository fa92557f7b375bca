//! Bulk changes to chosen leads, within what the caller may see.

use super::query::visibility_sql;
use crate::error::db_err;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::enums::LeadStatus;
use leadzone_domain::ids::LeadId;
use leadzone_ports::RepoError;
use leadzone_ports::leads::BulkChange;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use time::OffsetDateTime;

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
