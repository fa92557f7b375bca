-- Tenant isolation in the database (architecture.md, "Tenancy, enforced twice"), the restricted
-- roles, and immutable audit rows.
--
-- leadzone_app     the role the server and workers use for tenant data: not superuser, no BYPASSRLS,
--                  owns nothing, and holds only the privileges below (never UPDATE/DELETE on audit_logs).
-- leadzone_system  the narrow cross-tenant path (login by email, token lookup, webhooks, job dequeue,
--                  retention, platform admin). It passes row-level security through its own policies.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leadzone_app') THEN
    CREATE ROLE leadzone_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'leadzone_system') THEN
    CREATE ROLE leadzone_system LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

GRANT USAGE ON SCHEMA public TO leadzone_app, leadzone_system;

-- Platform tables.
GRANT SELECT, INSERT, UPDATE ON users TO leadzone_app;
GRANT SELECT ON plans, feature_flags TO leadzone_app;
GRANT SELECT, INSERT, UPDATE ON tenants TO leadzone_app;

-- Tenant tables: full data access for the app role, under row-level security.
GRANT SELECT, INSERT, UPDATE, DELETE ON
  memberships, invites, subscriptions, usage_counters, tenant_features, lists, leads, evidence, reports,
  jobs, job_logs, activities, whatsapp_templates, whatsapp_messages, api_keys, integration_connections,
  idempotency_keys
TO leadzone_app;
-- Audit rows: the application may write and read them, never change or remove them.
GRANT SELECT, INSERT ON audit_logs TO leadzone_app;

-- The system path reaches every table; row-level security still applies to it through the
-- system_access policies below, so the grant is what limits it.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO leadzone_system;

-- Row-level security on every tenant-scoped table. A missing or empty setting matches no row.
DO $$
DECLARE
  t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'memberships', 'invites', 'subscriptions', 'usage_counters', 'tenant_features', 'lists', 'leads',
    'evidence', 'reports', 'jobs', 'job_logs', 'activities', 'whatsapp_templates', 'whatsapp_messages',
    'audit_logs', 'api_keys', 'integration_connections', 'sessions', 'idempotency_keys'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I FOR ALL TO PUBLIC '
      'USING (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')::uuid) '
      'WITH CHECK (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')::uuid)', t);
    EXECUTE format('CREATE POLICY system_access ON %I FOR ALL TO leadzone_system USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;

-- The tenants table is isolated by its own id.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants FOR ALL TO PUBLIC
  USING (id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY system_access ON tenants FOR ALL TO leadzone_system USING (true) WITH CHECK (true);

-- Audit rows are immutable: any UPDATE, DELETE or TRUNCATE raises, whoever runs it. The one
-- exception is the retention job, which archives rows older than two years before deleting them:
-- it runs as leadzone_system and says so with a transaction-local setting.
CREATE FUNCTION audit_logs_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE'
     AND current_user = 'leadzone_system'
     AND current_setting('leadzone.audit_retention', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_logs rows are immutable: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_logs_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_logs
  FOR EACH ROW EXECUTE FUNCTION audit_logs_immutable();

CREATE TRIGGER audit_logs_no_truncate
  BEFORE TRUNCATE ON audit_logs
  FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_immutable();
