//! The schema matches the seed (data-model.md) and is isolated as the issue requires.

use crate::*;

const SEED: &[(&str, &[&str])] = &[
    (
        "users",
        &[
            "id",
            "email",
            "password_hash",
            "name",
            "avatar_url",
            "phone",
            "email_verified",
            "email_verified_at",
            "last_login_at",
            "created_at",
            "updated_at",
        ],
    ),
    ("tenants", &["id", "name", "slug", "logo_url", "status", "settings", "created_at", "updated_at"]),
    ("memberships", &["id", "user_id", "tenant_id", "role", "status", "manager_id", "created_at", "updated_at"]),
    (
        "invites",
        &[
            "id",
            "tenant_id",
            "email",
            "role",
            "token",
            "invited_by",
            "status",
            "expires_at",
            "accepted_at",
            "created_at",
        ],
    ),
    (
        "plans",
        &[
            "id",
            "name",
            "name_ar",
            "description",
            "price_monthly",
            "price_yearly",
            "seats_limit",
            "leads_limit",
            "searches_limit",
            "messages_limit",
            "features",
            "is_active",
            "sort_order",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "feature_flags",
        &["id", "key", "name", "description", "enabled", "rollout_percentage", "created_at", "updated_at"],
    ),
    (
        "subscriptions",
        &[
            "id",
            "tenant_id",
            "plan_id",
            "status",
            "billing_cycle",
            "current_period_start",
            "current_period_end",
            "cancel_at_period_end",
            "trial_ends_at",
            "stripe_subscription_id",
            "created_at",
            "updated_at",
        ],
    ),
    ("usage_counters", &["id", "tenant_id", "metric", "value", "period", "updated_at"]),
    ("tenant_features", &["id", "tenant_id", "feature_key", "enabled", "expires_at", "created_at"]),
    (
        "leads",
        &[
            "id",
            "tenant_id",
            "company_name",
            "industry",
            "city",
            "phone",
            "email",
            "website",
            "status",
            "score",
            "tags",
            "enrichment_data",
            "list_id",
            "assigned_to",
            "created_by",
            "created_at",
            "updated_at",
            "last_contacted_at",
        ],
    ),
    (
        "lists",
        &[
            "id",
            "tenant_id",
            "name",
            "description",
            "color",
            "is_smart",
            "smart_filters",
            "created_by",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "evidence",
        &[
            "id",
            "tenant_id",
            "lead_id",
            "type",
            "title",
            "source",
            "url",
            "snippet",
            "raw_data",
            "confidence",
            "created_at",
        ],
    ),
    (
        "reports",
        &[
            "id",
            "tenant_id",
            "lead_id",
            "summary",
            "sections",
            "score",
            "generated_by",
            "model_version",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "jobs",
        &[
            "id",
            "tenant_id",
            "type",
            "status",
            "progress",
            "message",
            "entity_type",
            "entity_id",
            "input",
            "result",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "completed_at",
        ],
    ),
    ("job_logs", &["id", "job_id", "level", "message", "data", "created_at"]),
    ("activities", &["id", "tenant_id", "lead_id", "type", "description", "metadata", "user_id", "created_at"]),
    (
        "whatsapp_messages",
        &[
            "id",
            "tenant_id",
            "lead_id",
            "phone",
            "message",
            "template_id",
            "status",
            "external_id",
            "error_message",
            "sent_by",
            "sent_at",
            "delivered_at",
            "read_at",
            "idempotency_key",
        ],
    ),
    (
        "whatsapp_templates",
        &[
            "id",
            "tenant_id",
            "name",
            "content",
            "variables",
            "is_approved",
            "external_id",
            "created_by",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "audit_logs",
        &[
            "id",
            "tenant_id",
            "event_type",
            "entity_type",
            "entity_id",
            "action",
            "details",
            "user_id",
            "ip_address",
            "user_agent",
            "created_at",
        ],
    ),
    (
        "api_keys",
        &[
            "id",
            "tenant_id",
            "label",
            "key_prefix",
            "key_hash",
            "scopes",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "created_by",
            "created_at",
        ],
    ),
    (
        "integration_connections",
        &[
            "id",
            "tenant_id",
            "type",
            "status",
            "credentials",
            "config",
            "last_sync_at",
            "last_error",
            "created_at",
            "updated_at",
        ],
    ),
];

const SEED_INDEXES: &[&str] = &[
    "idx_users_email",
    "idx_tenants_slug",
    "idx_tenants_status",
    "idx_memberships_user",
    "idx_memberships_tenant",
    "idx_memberships_role",
    "idx_invites_token",
    "idx_invites_tenant",
    "idx_invites_email",
    "idx_feature_flags_key",
    "idx_subscriptions_tenant",
    "idx_subscriptions_status",
    "idx_usage_tenant_period",
    "idx_tenant_features",
    "idx_leads_tenant",
    "idx_leads_tenant_status",
    "idx_leads_tenant_created",
    "idx_leads_assigned",
    "idx_leads_list",
    "idx_leads_search",
    "idx_lists_tenant",
    "idx_evidence_tenant",
    "idx_evidence_lead",
    "idx_evidence_type",
    "idx_reports_tenant",
    "idx_reports_lead",
    "idx_jobs_tenant",
    "idx_jobs_tenant_status",
    "idx_jobs_entity",
    "idx_jobs_created",
    "idx_job_logs_job",
    "idx_activities_tenant",
    "idx_activities_lead",
    "idx_activities_created",
    "idx_whatsapp_tenant",
    "idx_whatsapp_lead",
    "idx_whatsapp_status",
    "idx_whatsapp_sent",
    "idx_templates_tenant",
    "idx_audit_tenant",
    "idx_audit_tenant_created",
    "idx_audit_event_type",
    "idx_audit_entity",
    "idx_audit_user",
    "idx_api_keys_tenant",
    "idx_api_keys_prefix",
    "idx_integrations_tenant",
];

#[tokio::test]
async fn every_seed_table_has_every_seed_column_and_index() {
    let db = TestDb::new().await;
    let owner = db.owner().await;
    assert_eq!(SEED.len(), 21);
    for (table, columns) in SEED {
        let have = strings(
            &owner,
            &format!("SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}'"),
        )
        .await;
        for c in *columns {
            assert!(have.iter().any(|h| h == c), "{table}.{c} is missing");
        }
    }
    let indexes = strings(&owner, "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'").await;
    for idx in SEED_INDEXES {
        assert!(indexes.iter().any(|i| i == idx), "index {idx} is missing");
    }
    // The seed's Arabic full-text index indexes the stored search vector, which holds the seed's
    // Arabic vector of name and industry (migration 0014).
    let gin = strings(&owner, "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_leads_search'").await;
    assert!(gin[0].contains("gin") && gin[0].contains("search_vector"), "{gin:?}");
    let vector = strings(
        &owner,
        "SELECT generation_expression::text FROM information_schema.columns
          WHERE table_name = 'leads' AND column_name = 'search_vector'",
    )
    .await;
    assert!(vector[0].contains("'arabic'") && vector[0].contains("company_name"), "{vector:?}");
}

#[tokio::test]
async fn every_tenant_table_has_row_level_security_enabled_and_forced() {
    let db = TestDb::new().await;
    let owner = db.owner().await;
    let tenant_tables = strings(
        &owner,
        "SELECT c.table_name::text FROM information_schema.columns c
          WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
         UNION SELECT 'tenants' ORDER BY 1",
    )
    .await;
    assert!(tenant_tables.len() >= 19, "{tenant_tables:?}");
    for t in ["users", "plans", "feature_flags"] {
        assert!(!tenant_tables.contains(&t.to_owned()));
    }
    for table in &tenant_tables {
        let flags = strings(
            &owner,
            &format!(
                "SELECT relrowsecurity::text || ',' || relforcerowsecurity::text FROM pg_class
                  WHERE relname = '{table}' AND relnamespace = 'public'::regnamespace"
            ),
        )
        .await;
        assert_eq!(flags, vec!["true,true"], "{table}");
        let policy = strings(
            &owner,
            &format!("SELECT qual FROM pg_policies WHERE tablename = '{table}' AND policyname = 'tenant_isolation'"),
        )
        .await;
        assert_eq!(policy.len(), 1, "{table} has a tenant_isolation policy");
        assert!(
            policy[0].contains("NULLIF(current_setting('app.current_tenant_id'::text, true), ''::text)"),
            "{table}: {}",
            policy[0]
        );
    }
}

#[tokio::test]
async fn the_four_plans_are_seeded() {
    let db = TestDb::new().await;
    let owner = db.owner().await;
    let plans = strings(
        &owner,
        "SELECT concat_ws('|', id, name, name_ar, price_monthly, price_yearly, seats_limit, leads_limit,
                          searches_limit, messages_limit, features::text)
           FROM plans WHERE is_active ORDER BY sort_order",
    )
    .await;
    assert_eq!(
        plans,
        vec![
            r#"free|Free|مجاني|0|0|3|100|10|50|["export"]"#,
            r#"starter|Starter|المبتدئ|19900|199000|5|2000|200|1000|["export", "whatsapp_bulk"]"#,
            r#"pro|Pro|الاحترافي|49900|499000|15|10000|1000|10000|["export", "whatsapp_bulk", "ai_reports", "integrations", "outbound_webhooks"]"#,
            r#"enterprise|Enterprise|المؤسسات|199900|1999000|-1|-1|-1|-1|["export", "whatsapp_bulk", "ai_reports", "integrations", "outbound_webhooks", "priority_support"]"#,
        ]
    );
}

/// Every sort of `GET /leads` (either direction, with a status filter) and the other newest-first
/// listings read an index in their order, forwards or backwards (migrations 0016 and 0017): with
/// sorting disabled, no plan sorts.
#[tokio::test]
async fn every_listing_order_reads_an_index_stored_in_insertion_order() {
    use sea_orm::TransactionTrait;
    let db = TestDb::new().await;
    let owner = db.owner().await;
    let tx = owner.begin().await.unwrap();
    tx.execute_unprepared("SET LOCAL enable_sort = off").await.unwrap();
    let mut queries = Vec::new();
    for order in [
        "created_at DESC, id DESC",
        "created_at, id",
        "updated_at DESC, id DESC",
        "COALESCE(score, -1) DESC, id DESC",
        "COALESCE(score, -1), id",
        "name_key, id",
    ] {
        for filter in ["", "AND status = 'NEW'"] {
            queries.push(format!(
                "SELECT id FROM leads WHERE tenant_id = '{TENANT_A}' {filter} ORDER BY {order} LIMIT 51"
            ));
        }
    }
    // The other newest-first listings: the audit log, jobs, a lead's timeline.
    for (table, key) in [("audit_logs", "tenant_id"), ("jobs", "tenant_id"), ("activities", "lead_id")] {
        queries.push(format!(
            "SELECT id FROM {table} WHERE {key} = '{TENANT_A}' ORDER BY created_at DESC, id DESC LIMIT 51"
        ));
    }
    for sql in queries {
        let plan: Vec<String> = tx
            .query_all_raw(Statement::from_string(DbBackend::Postgres, format!("EXPLAIN {sql}")))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(!plan.contains("Sort") && plan.contains("Index"), "{sql}:\n{plan}");
        // Newest first is an index read backwards (the indexes are in insertion order).
        assert_eq!(sql.contains(" DESC"), plan.contains("Backward"), "{sql}:\n{plan}");
    }
    tx.rollback().await.unwrap();
    // Newest-first orders are indexes read backwards: every index is stored in insertion order,
    // so that a new row's entry goes to the end of its group (migrations 0016 and 0017).
    let defs = strings(&owner, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'").await;
    assert!(defs.len() > 40, "{defs:?}");
    for d in defs {
        assert!(!d.contains(" DESC"), "{d}");
    }
}
