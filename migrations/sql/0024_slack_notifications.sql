-- Slack notifications (#19): the messages a tenant's Slack connection gets for the events it chose
-- (`config.events`), written in the transaction of the change that caused them (an outbox, like
-- webhook_deliveries), rendered in the tenant's language, and posted by the workers one at a time
-- per tenant, at most one a second (Slack's pace for an incoming webhook).

CREATE TABLE slack_notifications (
  id UUID PRIMARY KEY,
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  event VARCHAR(60) NOT NULL,
  text TEXT NOT NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  locked_until TIMESTAMPTZ,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  sent_at TIMESTAMPTZ
);
-- The head of each tenant's queue, in order.
CREATE INDEX idx_slack_notifications_pending ON slack_notifications(tenant_id, created_at, id) WHERE status = 'PENDING';
-- "Sent within the last second" per tenant.
CREATE INDEX idx_slack_notifications_sent ON slack_notifications(tenant_id, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX idx_slack_notifications_created ON slack_notifications(created_at);

GRANT SELECT, INSERT ON slack_notifications TO leadzone_app;
GRANT SELECT, UPDATE, DELETE ON slack_notifications TO leadzone_system;
ALTER TABLE slack_notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE slack_notifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON slack_notifications FOR ALL TO PUBLIC
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY system_access ON slack_notifications FOR ALL TO leadzone_system USING (true) WITH CHECK (true);

-- The workers open a SLACK connection's webhook URL to post, and turn the connection to ERROR
-- when Slack says the webhook is gone.
GRANT SELECT (credentials) ON integration_connections TO leadzone_system;
GRANT UPDATE (status, last_error, updated_at) ON integration_connections TO leadzone_system;
