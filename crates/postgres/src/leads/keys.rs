//! Duplicate detection: the lock slots of duplicate keys, a single lead's duplicate, and which of
//! a batch's keys exist already.

use crate::error::db_err;
use leadzone_domain::ids::LeadId;
use leadzone_domain::leads::DedupKeys;
use leadzone_ports::RepoError;
use leadzone_ports::leads::DuplicateMatch;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

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

pub(crate) async fn existing_keys<C: ConnectionTrait>(
    db: &C,
    tenant: uuid::Uuid,
    keys: &[DedupKeys],
    except: &[LeadId],
) -> Result<leadzone_ports::leads::ExistingKeys, RepoError> {
    use leadzone_ports::leads::ExistingKeys;
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
