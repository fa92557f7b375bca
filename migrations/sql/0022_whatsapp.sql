-- WhatsApp on each tenant's own number (#18).

-- A template as Meta knows it: the name Meta was given (lowercase, underscores), its language and
-- category, and the review status the last sync read. `is_approved` stays the seed's column and
-- is true exactly when `status` is APPROVED.
ALTER TABLE whatsapp_templates
  ADD COLUMN language VARCHAR(8) NOT NULL DEFAULT 'ar' CHECK (language IN ('ar', 'en')),
  ADD COLUMN category VARCHAR(20) NOT NULL DEFAULT 'MARKETING' CHECK (category IN ('MARKETING', 'UTILITY')),
  ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'PENDING'
    CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'PAUSED', 'DISABLED')),
  ADD COLUMN external_name VARCHAR(512),
  ADD COLUMN status_reason TEXT;

-- A message's send attempt is recorded before Meta is called (`attempted_at`): a worker killed
-- after Meta accepted a message and before its answer was stored never sends it again; the
-- status webhook (which carries the message's own id as `biz_opaque_callback_data`) reconciles
-- the external id. `job_id` names the WHATSAPP or WHATSAPP_BULK job that sends it: a bulk
-- messages one phone once.
-- `payload` is what is sent (the template's name, language and parameters, or the text): a bulk
-- stores its recipients' messages when it is enqueued and its job sends them.
ALTER TABLE whatsapp_messages
  ADD COLUMN attempted_at TIMESTAMPTZ,
  ADD COLUMN error_code INTEGER,
  ADD COLUMN job_id UUID,
  ADD COLUMN payload JSONB;
CREATE UNIQUE INDEX idx_whatsapp_job_phone ON whatsapp_messages(tenant_id, job_id, phone) WHERE job_id IS NOT NULL;
CREATE INDEX idx_whatsapp_lead_sent ON whatsapp_messages(tenant_id, lead_id, sent_at);
-- A number's unique recipients of the last 24 hours (its messaging limit).
CREATE INDEX idx_whatsapp_attempted ON whatsapp_messages(tenant_id, attempted_at) WHERE attempted_at IS NOT NULL;

-- What a tenant knows of a phone on WhatsApp: its opt-out (PDPL) and when it last wrote (the
-- 24-hour window in which free text may be sent).
CREATE TABLE whatsapp_contacts (
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  phone VARCHAR(50) NOT NULL,
  opted_out_at TIMESTAMPTZ,
  last_inbound_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (tenant_id, phone)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON whatsapp_contacts TO leadzone_app;
ALTER TABLE whatsapp_contacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE whatsapp_contacts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON whatsapp_contacts FOR ALL TO PUBLIC
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY system_access ON whatsapp_contacts FOR ALL TO leadzone_system USING (true) WITH CHECK (true);

-- A WhatsApp number routes its webhooks to one tenant: it is connected to one tenant at most.
CREATE UNIQUE INDEX idx_integrations_whatsapp_number
  ON integration_connections ((config->>'phoneNumberId')) WHERE type = 'WHATSAPP';
-- The webhook finds the tenant of a number, and the worker the tenants whose templates it syncs
-- (never the credentials).
GRANT SELECT (tenant_id, type, status, config, last_sync_at) ON integration_connections TO leadzone_system;
