//! The repositories through the ports, inside real tenant transactions.

use crate::*;
use leadzone_domain::access::LeadVisibility;
use leadzone_domain::entities::{Lead, Limit};
use leadzone_domain::enums::{LeadStatus, UsageMetric};
use leadzone_domain::ids::{LeadId, TenantId, UserId};
use leadzone_domain::leads::{EnrichmentData, LeadFilter, LeadInput, LeadSort, NewLead};
use leadzone_ports::leads::{DuplicateMatch, LeadPosition, LeadQuery, SortKey};
use leadzone_ports::{billing::Increment, tx::UnitOfWork};
use leadzone_postgres::{PgTenantTx, PgUnitOfWork, PoolConfig, connect};
use std::collections::HashSet;
use time::OffsetDateTime;

async fn uow(db: &TestDb) -> PgUnitOfWork {
    let pool = connect(&db.app_url(), &PoolConfig { max_connections: 20, ..Default::default() }).await.unwrap();
    PgUnitOfWork::new(pool)
}

fn tenant_a() -> TenantId {
    TENANT_A.parse().unwrap()
}

fn new_lead(name: &str, phone: Option<&str>, website: Option<&str>, city: Option<&str>) -> NewLead {
    NewLead::parse(LeadInput {
        company_name: name.into(),
        phone: phone.map(Into::into),
        website: website.map(Into::into),
        city: city.map(Into::into),
        ..Default::default()
    })
    .unwrap()
}

fn lead_from(new: &NewLead, created_at: OffsetDateTime, score: Option<i32>) -> Lead {
    Lead {
        id: LeadId::from_uuid(uuid::Uuid::now_v7()),
        tenant_id: tenant_a(),
        company_name: new.company_name.clone(),
        industry: None,
        city: new.city.clone(),
        phone: new.phone.as_ref().map(|p| p.as_str().to_owned()),
        email: None,
        website: new.website.as_ref().map(|w| w.as_str().to_owned()),
        status: LeadStatus::New,
        score,
        tags: vec![],
        enrichment_data: EnrichmentData::default(),
        list_id: None,
        assigned_to: None,
        created_by: USER.parse::<UserId>().unwrap(),
        created_at,
        updated_at: created_at,
        last_contacted_at: None,
    }
}

#[tokio::test]
async fn with_ten_units_left_exactly_ten_of_fifty_concurrent_increments_count() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let limit = Limit::AtMost(15);
    // Use 5 first, leaving 10.
    let tx = uow.begin(tenant_a()).await.unwrap();
    assert_eq!(
        tx.usage().try_increment(UsageMetric::Leads, "2026-11", 5, limit).await.unwrap(),
        Increment::Counted { value: 5 }
    );
    tx.commit().await.unwrap();

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let uow = uow.clone();
            tokio::spawn(async move {
                let tx = uow.begin(tenant_a()).await.unwrap();
                let r = tx.usage().try_increment(UsageMetric::Leads, "2026-11", 1, limit).await.unwrap();
                tx.commit().await.unwrap();
                r
            })
        })
        .collect();
    let mut counted = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Increment::Counted { .. } => counted += 1,
            Increment::Refused { used, limit } => {
                assert_eq!((used, limit), (15, 15));
                refused += 1;
            }
        }
    }
    assert_eq!((counted, refused), (10, 40));
    let owner = db.owner().await;
    assert_eq!(scalar_i64(&owner, "SELECT value::bigint FROM usage_counters WHERE metric = 'leads'").await, 15);
}

#[tokio::test]
async fn a_rolled_back_increment_gives_its_unit_back_and_unlimited_never_refuses() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let tx = uow.begin(tenant_a()).await.unwrap();
    tx.usage().try_increment(UsageMetric::Searches, "2026-11", 1, Limit::AtMost(1)).await.unwrap();
    drop(tx); // no commit
    let tx = uow.begin(tenant_a()).await.unwrap();
    assert_eq!(
        tx.usage().try_increment(UsageMetric::Searches, "2026-11", 1, Limit::AtMost(1)).await.unwrap(),
        Increment::Counted { value: 1 }
    );
    assert_eq!(
        tx.usage().try_increment(UsageMetric::Searches, "2026-11", 2, Limit::AtMost(1)).await.unwrap(),
        Increment::Refused { used: 1, limit: 1 }
    );
    assert_eq!(
        tx.usage().try_increment(UsageMetric::Messages, "2026-11", 1000, Limit::Unlimited).await.unwrap(),
        Increment::Counted { value: 1000 }
    );
    // A first increment larger than the limit creates nothing.
    assert_eq!(
        tx.usage().try_increment(UsageMetric::Leads, "2026-12", 5, Limit::AtMost(3)).await.unwrap(),
        Increment::Refused { used: 0, limit: 3 }
    );
}

#[tokio::test]
async fn duplicates_are_found_by_phone_host_or_name_and_city_within_the_tenant_only() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let existing = new_lead("مؤسسة النور", Some("0501234567"), Some("www.alnoor.sa"), Some("الرياض"));
    let lead = lead_from(&existing, OffsetDateTime::now_utc(), None);
    let tx = uow.begin(tenant_a()).await.unwrap();
    tx.leads().insert(&lead, &existing.dedup_keys()).await.unwrap();
    tx.commit().await.unwrap();

    let tx = uow.begin(tenant_a()).await.unwrap();
    let by_phone = new_lead("Other", Some("+966 50 123 4567"), None, None);
    assert_eq!(
        tx.leads().find_duplicate(&by_phone.dedup_keys(), None).await.unwrap(),
        Some(DuplicateMatch::Phone(lead.id))
    );
    let by_host = new_lead("Other", None, Some("https://alnoor.sa/contact"), None);
    assert_eq!(
        tx.leads().find_duplicate(&by_host.dedup_keys(), None).await.unwrap(),
        Some(DuplicateMatch::WebsiteHost(lead.id))
    );
    let by_name = new_lead("مؤسّسة نور", None, None, Some("الرياض"));
    assert_eq!(
        tx.leads().find_duplicate(&by_name.dedup_keys(), None).await.unwrap(),
        Some(DuplicateMatch::NameAndCity(lead.id))
    );
    let other_city = new_lead("النور", None, None, Some("جدة"));
    assert_eq!(tx.leads().find_duplicate(&other_city.dedup_keys(), None).await.unwrap(), None);
    drop(tx);

    let tx = uow.begin(TENANT_B.parse().unwrap()).await.unwrap();
    assert_eq!(
        tx.leads().find_duplicate(&by_phone.dedup_keys(), None).await.unwrap(),
        None,
        "tenant B has no such lead"
    );
}

/// A batch insert binds a column once when every row has the same value and sends it per row
/// otherwise: both ways store exactly what was given, NULLs included.
#[tokio::test]
async fn batch_inserts_store_every_column_whether_rows_share_it_or_not() {
    let db = seeded_db().await;
    let list = uuid::Uuid::now_v7();
    db.owner()
        .await
        .execute_unprepared(&format!(
            "INSERT INTO lists (id, tenant_id, name, created_by) VALUES ('{list}', '{TENANT_A}', 'L', '{USER}')"
        ))
        .await
        .unwrap();
    let uow = uow(&db).await;
    let at = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
    let rich = |name: &str| {
        let mut l = lead_from(&new_lead(name, None, None, None), at, Some(70));
        l.status = LeadStatus::Qualified;
        l.tags = vec!["vip".into(), "رياض".into()];
        l.enrichment_data = EnrichmentData { founded_year: Some(1999), ..Default::default() };
        l.list_id = Some(list.into());
        l.assigned_to = Some(USER.parse().unwrap());
        l
    };
    // Every shared column the same, and not the defaults: bound once.
    let same: Vec<Lead> = vec![rich("Alpha"), rich("Beta")];
    // Every shared column different from one row to the next: sent per row.
    let mut mixed =
        vec![rich("Gamma"), lead_from(&new_lead("Delta", None, None, None), at + time::Duration::SECOND, None)];
    mixed[0].tags = vec!["x".into()];
    let batches = [same, mixed];
    for batch in &batches {
        let rows =
            batch.iter().map(|l| (l.clone(), new_lead(&l.company_name, None, None, None).dedup_keys())).collect();
        let tx = uow.begin(tenant_a()).await.unwrap();
        let ids = tx.leads().insert_many(rows, false).await.unwrap();
        assert_eq!(ids, batch.iter().map(|l| l.id).collect::<Vec<_>>());
        for l in batch {
            let stored = tx.leads().get(l.id).await.unwrap();
            assert_eq!(
                (stored.status, stored.score, &stored.tags, &stored.enrichment_data),
                (l.status, l.score, &l.tags, &l.enrichment_data),
                "{}",
                l.company_name
            );
            assert_eq!(
                (stored.list_id, stored.assigned_to, stored.created_by),
                (l.list_id, l.assigned_to, l.created_by)
            );
            assert_eq!((stored.created_at, stored.updated_at), (l.created_at, l.created_at));
        }
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn batch_inserts_skip_known_ids_and_batch_lookups_find_every_kind_of_key() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let noor = new_lead("مؤسسة النور", Some("0501234567"), Some("www.alnoor.sa"), Some("الرياض"));
    let plain = new_lead("Plain Co", None, None, None);
    let first = (lead_from(&noor, OffsetDateTime::now_utc(), Some(40)), noor.dedup_keys());
    let second = (lead_from(&plain, OffsetDateTime::now_utc(), None), plain.dedup_keys());
    let tx = uow.begin(tenant_a()).await.unwrap();
    assert_eq!(tx.leads().insert_many(vec![first.clone()], false).await.unwrap(), vec![first.0.id]);
    tx.commit().await.unwrap();
    // Sent again with a new one by a first run: a conflict, and nothing is written.
    let both = vec![first.clone(), second.clone()];
    let tx = uow.begin(tenant_a()).await.unwrap();
    let err = tx.leads().insert_many(both.clone(), false).await.unwrap_err();
    assert!(matches!(err, leadzone_ports::RepoError::Conflict(_)), "{err:?}");
    drop(tx);
    // By a resumed run: only the new one is written, NULLs stay NULL.
    let tx = uow.begin(tenant_a()).await.unwrap();
    assert_eq!(tx.leads().insert_many(both, true).await.unwrap(), vec![second.0.id]);
    let stored = tx.leads().get(second.0.id).await.unwrap();
    assert_eq!((stored.phone, stored.city, stored.score, stored.website), (None, None, None, None));
    assert_eq!(tx.leads().get(first.0.id).await.unwrap().score, Some(40));
    tx.commit().await.unwrap();

    let tx = uow.begin(tenant_a()).await.unwrap();
    let probes = [
        new_lead("Other", Some("+966 50 123 4567"), None, None).dedup_keys(),
        new_lead("Other", None, Some("https://alnoor.sa/contact"), None).dedup_keys(),
        new_lead("مؤسّسة نور", None, None, Some("الرياض")).dedup_keys(),
        new_lead("النور", None, None, Some("جدة")).dedup_keys(),
        new_lead("Plain Co.", None, None, None).dedup_keys(),
    ];
    let found = tx.leads().existing_keys(&probes, &[]).await.unwrap();
    let hits: Vec<bool> = probes.iter().map(|k| found.matches(k)).collect();
    assert_eq!(hits, [true, true, true, false, true], "{found:?}");
    // A lead the caller wrote itself is not a duplicate of its own row.
    let found = tx.leads().existing_keys(&probes, &[first.0.id]).await.unwrap();
    let hits: Vec<bool> = probes.iter().map(|k| found.matches(k)).collect();
    assert_eq!(hits, [false, false, false, false, true], "{found:?}");
    drop(tx);
    let tx = uow.begin(TENANT_B.parse().unwrap()).await.unwrap();
    assert_eq!(tx.leads().existing_keys(&probes, &[]).await.unwrap(), Default::default(), "tenant B has none");
}

#[tokio::test]
async fn keyset_pages_return_every_lead_once_in_order_even_with_equal_keys() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let tx = uow.begin(tenant_a()).await.unwrap();
    let t0 = OffsetDateTime::now_utc();
    let mut ids = HashSet::new();
    for i in 0..40 {
        // Four leads share each timestamp and scores repeat, so ties must be broken by id.
        let new = new_lead(&format!("Company {:02}", i % 13), None, None, None);
        let lead =
            lead_from(&new, t0 + time::Duration::seconds(i / 4), if i % 3 == 0 { None } else { Some((i % 5) as i32) });
        ids.insert(lead.id);
        tx.leads().insert(&lead, &new.dedup_keys()).await.unwrap();
    }
    tx.commit().await.unwrap();
    // The seeded lead of tenant A makes 41.
    for sort in [
        LeadSort::CreatedAtDesc,
        LeadSort::CreatedAtAsc,
        LeadSort::ScoreDesc,
        LeadSort::ScoreAsc,
        LeadSort::CompanyNameAsc,
        LeadSort::UpdatedAtDesc,
    ] {
        let mut seen: Vec<leadzone_ports::leads::ListedLead> = Vec::new();
        let mut after: Option<LeadPosition> = None;
        loop {
            let tx = uow.begin(tenant_a()).await.unwrap();
            let page = tx
                .leads()
                .list(&LeadQuery {
                    visibility: LeadVisibility::All,
                    filter: LeadFilter::default(),
                    sort,
                    after: after.clone(),
                    limit: 7,
                })
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            let row = page.last().unwrap();
            let last = &row.lead;
            after = Some(LeadPosition {
                key: match sort {
                    LeadSort::CreatedAtDesc | LeadSort::CreatedAtAsc => SortKey::Time(last.created_at),
                    LeadSort::UpdatedAtDesc => SortKey::Time(last.updated_at),
                    LeadSort::ScoreDesc | LeadSort::ScoreAsc => SortKey::Int(i64::from(last.score.unwrap_or(-1))),
                    LeadSort::CompanyNameAsc => SortKey::Text(row.name_key.clone()),
                    LeadSort::Relevance => unreachable!("not a sort of this test"),
                },
                id: last.id,
            });
            seen.extend(page);
        }
        assert_eq!(seen.len(), 41, "{sort:?}");
        let unique: HashSet<LeadId> = seen.iter().map(|l| l.lead.id).collect();
        assert_eq!(unique.len(), 41, "{sort:?}: no lead twice");
        assert!(ids.is_subset(&unique));
        for pair in seen.windows(2) {
            let (a, b) = (&pair[0].lead, &pair[1].lead);
            let ordered = match sort {
                LeadSort::CreatedAtDesc => (a.created_at, a.id) > (b.created_at, b.id),
                LeadSort::CreatedAtAsc => (a.created_at, a.id) < (b.created_at, b.id),
                LeadSort::UpdatedAtDesc => (a.updated_at, a.id) > (b.updated_at, b.id),
                LeadSort::ScoreDesc => (a.score.unwrap_or(-1), a.id) > (b.score.unwrap_or(-1), b.id),
                LeadSort::ScoreAsc => (a.score.unwrap_or(-1), a.id) < (b.score.unwrap_or(-1), b.id),
                // The duplicate key, byte for byte (COLLATE "C"), then the id.
                LeadSort::CompanyNameAsc => (&pair[0].name_key, a.id) < (&pair[1].name_key, b.id),
                LeadSort::Relevance => unreachable!("not a sort of this test"),
            };
            assert!(ordered, "{sort:?}: {} then {}", a.company_name, b.company_name);
        }
    }
}

#[tokio::test]
async fn visibility_and_filters_narrow_the_listing() {
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let tx = uow.begin(tenant_a()).await.unwrap();
    let new = new_lead("شركة الرياض للتقنية", Some("0501111111"), None, Some("Riyadh"));
    let mut lead = lead_from(&new, OffsetDateTime::now_utc(), Some(80));
    lead.tags = vec!["vip".into()];
    tx.leads().insert(&lead, &new.dedup_keys()).await.unwrap();
    let count = |filter: LeadFilter, visibility: LeadVisibility| {
        let tx = &tx;
        async move {
            let q = LeadQuery { visibility, filter, sort: LeadSort::default(), after: None, limit: 50 };
            tx.leads().list(&q).await.unwrap().len()
        }
    };
    let stranger = LeadVisibility::OwnedBy(vec![UserId::from_uuid(uuid::Uuid::now_v7())]);
    assert_eq!(count(LeadFilter::default(), LeadVisibility::All).await, 2);
    assert_eq!(count(LeadFilter::default(), stranger).await, 0);
    let cases: Vec<(LeadFilter, usize)> = vec![
        (LeadFilter { has_phone: Some(true), ..Default::default() }, 1),
        (LeadFilter { tag: Some("vip".into()), ..Default::default() }, 1),
        (LeadFilter { score_min: Some(81), ..Default::default() }, 0),
        (LeadFilter { city: vec!["Riyadh".into()], ..Default::default() }, 1),
        (LeadFilter { q: Some("التقنية".into()), ..Default::default() }, 1),
        (LeadFilter { q: Some("100%".into()), ..Default::default() }, 0),
    ];
    for (filter, expected) in cases {
        let label = format!("{filter:?}");
        assert_eq!(count(filter, LeadVisibility::All).await, expected, "{label}");
    }
}

#[tokio::test]
async fn api_key_last_used_is_written_at_most_once_a_minute() {
    use leadzone_ports::lookups::Lookups;
    let db = seeded_db().await;
    let owner = db.owner().await;
    use sea_orm::ConnectionTrait;
    owner
        .execute_unprepared(&format!(
            "INSERT INTO api_keys (id, tenant_id, label, key_prefix, key_hash, created_by)
             VALUES ('0190f0a8-0000-7000-8000-0000000000cc', '{TENANT_A}', 'k', 'lz_live_', 'h1', '{USER}')"
        ))
        .await
        .unwrap();
    let system = leadzone_postgres::PgLookups::new(connect(&db.system_url(), &PoolConfig::default()).await.unwrap());
    let key = "0190f0a8-0000-7000-8000-0000000000cc".parse().unwrap();
    let t0 = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    system.touch_api_key(key, t0).await.unwrap();
    system.touch_api_key(key, t0 + time::Duration::seconds(30)).await.unwrap();
    let read = || async {
        let row = owner
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT extract(epoch FROM last_used_at)::bigint FROM api_keys".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    assert_eq!(read().await, t0.unix_timestamp(), "a touch within the minute writes nothing");
    system.touch_api_key(key, t0 + time::Duration::seconds(61)).await.unwrap();
    assert_eq!(read().await, t0.unix_timestamp() + 61);
}

#[tokio::test]
async fn read_transactions_see_only_their_tenant_refuse_writes_and_plan_searches_per_query() {
    use leadzone_ports::tx::TenantTx;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let db = seeded_db().await;
    let uow = uow(&db).await;
    let modes = |tx: PgTenantTx| async move {
        let sql = "SELECT current_setting('plan_cache_mode') AS mode, current_setting('transaction_read_only') AS ro";
        let row = tx
            .connection()
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
            .await
            .unwrap()
            .unwrap();
        (row.try_get::<String>("", "mode").unwrap(), row.try_get::<String>("", "ro").unwrap())
    };
    let on = |mode: &str, ro: &str| (mode.to_owned(), ro.to_owned());
    assert_eq!(modes(uow.begin_tenant_read(tenant_a(), true).await.unwrap()).await, on("force_custom_plan", "on"));
    assert_eq!(modes(uow.begin_tenant_read(tenant_a(), false).await.unwrap()).await, on("auto", "on"));
    assert_eq!(modes(uow.begin_tenant(tenant_a()).await.unwrap()).await, on("auto", "off"));

    // Tenant A's rows only, searches included (the search path skips its own SET LOCAL here).
    let tx = uow.begin_tenant_read(tenant_a(), true).await.unwrap();
    let q = LeadQuery {
        visibility: LeadVisibility::All,
        filter: LeadFilter { q: Some("lead".into()), ..Default::default() },
        sort: LeadSort::default(),
        after: None,
        limit: 50,
    };
    let found = tx.leads().list(&q).await.unwrap();
    assert_eq!(found.len(), 1, "\"Lead of A\" only, not \"Lead of B\"");
    assert_eq!(found[0].lead.tenant_id, tenant_a());
    let all = tx.leads().list(&LeadQuery { filter: LeadFilter::default(), ..q }).await.unwrap();
    assert!(!all.is_empty() && all.iter().all(|l| l.lead.tenant_id == tenant_a()));
    // A write through a read transaction is refused by Postgres.
    for search in [true, false] {
        let tx = uow.begin_tenant_read(tenant_a(), search).await.unwrap();
        let new = new_lead("Read Only Trading", None, None, None);
        let err = tx.leads().insert(&lead_from(&new, OffsetDateTime::now_utc(), None), &new.dedup_keys()).await;
        assert!(err.is_err(), "a read transaction (search: {search}) accepted an insert");
    }
}

#[tokio::test]
async fn a_connection_the_server_ended_is_unavailable_once_then_replaced() {
    use leadzone_ports::RepoError;
    use leadzone_ports::tx::TenantTx;
    use sea_orm::ConnectionTrait;
    let db = seeded_db().await;
    let pool = connect(&db.app_url(), &PoolConfig { max_connections: 1, ..Default::default() }).await.unwrap();
    let uow = PgUnitOfWork::new(pool);
    let tx = uow.begin_tenant(tenant_a()).await.unwrap();
    let pid = scalar_i64(tx.connection(), "SELECT pg_backend_pid()::bigint").await;
    drop(tx);
    // A restart or failover, as the pooled connection sees it: its backend is gone.
    let owner = db.owner().await;
    owner.execute_unprepared(&format!("SELECT pg_terminate_backend({pid})")).await.unwrap();
    // The backend exits asynchronously (slowly on a busy machine): wait until it is gone.
    for _ in 0..100 {
        let alive = scalar_i64(&owner, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")).await;
        if alive == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Used again within the idle-ping window, it fails as Unavailable (503), not as an internal error…
    match uow.begin_tenant(tenant_a()).await {
        Err(e) => assert!(matches!(e, RepoError::Unavailable(_)), "{e:?}"),
        Ok(tx) => {
            let q = LeadQuery {
                visibility: LeadVisibility::All,
                filter: LeadFilter::default(),
                sort: LeadSort::default(),
                after: None,
                limit: 1,
            };
            let err = tx.leads().list(&q).await.err();
            assert!(matches!(err, Some(RepoError::Unavailable(_))), "{err:?}");
        }
    }
    // …and the pool replaces it.
    let tx = uow.begin_tenant(tenant_a()).await.unwrap();
    assert_ne!(scalar_i64(tx.connection(), "SELECT pg_backend_pid()::bigint").await, pid);
}

/// Every CRM with `config.syncEveryMinutes` is due once its period has passed (HubSpot, Salesforce
/// and Notion alike); a Slack connection, a connection in ERROR and one synced within its period
/// are not.
#[tokio::test]
async fn scheduled_syncs_are_due_for_every_crm_whose_period_has_passed() {
    use leadzone_domain::enums::IntegrationType;
    use leadzone_ports::sweeps::Sweeps;
    use sea_orm::ConnectionTrait;
    let db = seeded_db().await;
    let owner = db.owner().await;
    let every = r#"{"syncEveryMinutes": 15}"#;
    owner
        .execute_unprepared(&format!(
            "INSERT INTO integration_connections (id, tenant_id, type, status, config, last_sync_at) VALUES
               (gen_random_uuid(), '{TENANT_A}', 'SALESFORCE', 'CONNECTED', '{every}', now() - interval '20 minutes'),
               (gen_random_uuid(), '{TENANT_A}', 'NOTION', 'CONNECTED', '{every}', NULL),
               (gen_random_uuid(), '{TENANT_A}', 'HUBSPOT', 'CONNECTED', '{every}', now() - interval '5 minutes'),
               (gen_random_uuid(), '{TENANT_A}', 'SLACK', 'CONNECTED', '{every}', NULL),
               (gen_random_uuid(), '{TENANT_B}', 'HUBSPOT', 'CONNECTED', '{every}', NULL),
               (gen_random_uuid(), '{TENANT_B}', 'NOTION', 'ERROR', '{every}', NULL)"
        ))
        .await
        .unwrap();
    let system = leadzone_postgres::PgSweeps::new(connect(&db.system_url(), &PoolConfig::default()).await.unwrap());
    let mut due: Vec<(String, IntegrationType)> = system
        .due_syncs(OffsetDateTime::now_utc())
        .await
        .unwrap()
        .into_iter()
        .map(|(tenant, kind, user)| {
            assert_eq!(user.to_string(), USER, "the tenant's owner acts");
            (tenant.to_string(), kind)
        })
        .collect();
    due.sort_by_key(|(t, k)| (t.clone(), k.as_str()));
    assert_eq!(
        due,
        vec![
            (TENANT_A.to_owned(), IntegrationType::Notion),
            (TENANT_A.to_owned(), IntegrationType::Salesforce),
            (TENANT_B.to_owned(), IntegrationType::HubSpot),
        ]
    );
}
