-- Outbound webhooks (#19): a tenant's endpoints and the deliveries of its events, written in the
-- transaction of the change that caused them (an outbox) and sent by the workers, signed per
-- Standard Webhooks.

CREATE TABLE webhook_endpoints (
  id UUID PRIMARY KEY,
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  url TEXT NOT NULL,
  description TEXT,
  events TEXT[] NOT NULL,
  -- The signing secret (`whsec_…`), sealed with AES-256-GCM under the master key.
  secret BYTEA NOT NULL,
  enabled BOOLEAN NOT NULL DEFAULT TRUE,
  disabled_reason TEXT,
  -- Since when every delivery failed (cleared by a success); three days of it disables the endpoint.
  failing_since TIMESTAMPTZ,
  created_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_webhook_endpoints_tenant ON webhook_endpoints(tenant_id);

CREATE TABLE webhook_deliveries (
  id UUID PRIMARY KEY,
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  endpoint_id UUID NOT NULL,
  -- `webhook-id`: the same on every attempt of one event to one endpoint.
  event_id UUID NOT NULL,
  event_type VARCHAR(60) NOT NULL,
  payload JSONB NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ,
  locked_until TIMESTAMPTZ,
  -- Every attempt: `{at, status, latencyMs, error}`.
  history JSONB NOT NULL DEFAULT '[]',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  delivered_at TIMESTAMPTZ,
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_webhook_deliveries_endpoint ON webhook_deliveries(tenant_id, endpoint_id, created_at);
CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'PENDING';

GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries TO leadzone_app;
-- The workers claim due deliveries across tenants and record their attempts.
GRANT SELECT, UPDATE ON webhook_deliveries TO leadzone_system;
GRANT SELECT, UPDATE (enabled, disabled_reason, failing_since, updated_at) ON webhook_endpoints TO leadzone_system;

DO $$
DECLARE
  t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I FOR ALL TO PUBLIC '
      'USING (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')::uuid) '
      'WITH CHECK (tenant_id = NULLIF(current_setting(''app.current_tenant_id'', true), '''')::uuid)', t);
    EXECUTE format('CREATE POLICY system_access ON %I FOR ALL TO leadzone_system USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;

-- CRM sync (#19): what each lead is called in each service, and which version of it was sent
-- (its `updated_at` then): a second sync sends only what changed since, and a retried batch
-- finds the ids it stored.
CREATE TABLE lead_sync_refs (
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  lead_id UUID NOT NULL,
  service VARCHAR(50) NOT NULL,
  external_id VARCHAR(255) NOT NULL,
  synced_version TIMESTAMPTZ NOT NULL,
  synced_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (tenant_id, service, lead_id),
  FOREIGN KEY (tenant_id, lead_id) REFERENCES leads(tenant_id, id) ON DELETE CASCADE
);
GRANT SELECT, INSERT, UPDATE, DELETE ON lead_sync_refs TO leadzone_app;
ALTER TABLE lead_sync_refs ENABLE ROW LEVEL SECURITY;
ALTER TABLE lead_sync_refs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON lead_sync_refs FOR ALL TO PUBLIC
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY system_access ON lead_sync_refs FOR ALL TO leadzone_system USING (true) WITH CHECK (true);
-- (Leads changed since a sync's cursor are walked by the existing (tenant_id, updated_at, id) index.)
