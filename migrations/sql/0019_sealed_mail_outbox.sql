-- Real mail without secrets at rest. The outbox becomes a delivery queue: a mail is queued in the
-- transaction of the change that sends it (an invitation), its body sealed with AES-256-GCM under
-- the master key (key id + nonce + ciphertext, like users.totp_secret), and a worker delivers it
-- with retries and back-off. The sealed body is erased (NULL) once the mail is delivered or given
-- up, and after 7 days in any case, so the outbox never holds a usable invitation link.

-- The development mailer kept bodies in plain text; they carried live invitation links and were
-- never meant to be delivered. They go, and the rows stay only as a record that mail was written.
ALTER TABLE mail_outbox DROP COLUMN body;

ALTER TABLE mail_outbox
  ADD COLUMN tenant_id UUID REFERENCES tenants(id) ON DELETE CASCADE,
  ADD COLUMN body_sealed BYTEA,
  ADD COLUMN attempts INT NOT NULL DEFAULT 0,
  ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  ADD COLUMN last_error TEXT,
  ADD COLUMN delivered_at TIMESTAMPTZ,
  ADD COLUMN failed_at TIMESTAMPTZ;

-- Rows written before this migration have no body to send.
UPDATE mail_outbox SET failed_at = NOW(), last_error = 'written by the development mailer; never delivered';

-- What the worker claims: undelivered, not given up, still holding a body, due.
CREATE INDEX idx_mail_outbox_due ON mail_outbox(next_attempt_at)
  WHERE body_sealed IS NOT NULL AND delivered_at IS NULL AND failed_at IS NULL;
-- What the 7-day erasure looks at.
CREATE INDEX idx_mail_outbox_sealed ON mail_outbox(created_at) WHERE body_sealed IS NOT NULL;

-- Tenant transactions queue mail (insert only: the app role never reads the outbox back), and
-- row-level security keeps each tenant's mail its own, as on every tenant-scoped table.
ALTER TABLE mail_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE mail_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mail_outbox FOR ALL TO PUBLIC
  USING (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant_id', true), '')::uuid);
CREATE POLICY system_access ON mail_outbox FOR ALL TO leadzone_system USING (true) WITH CHECK (true);
GRANT INSERT ON mail_outbox TO leadzone_app;

-- The delivering worker runs on the system path: it claims (SELECT … FOR UPDATE SKIP LOCKED),
-- marks attempts and deliveries, and erases bodies.
GRANT SELECT, UPDATE ON mail_outbox TO leadzone_system;
