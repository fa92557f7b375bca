-- Identity and access: TOTP secrets, login throttling, the dev mail outbox.

-- TOTP (RFC 6238): the secret is AES-256-GCM ciphertext (key id + nonce + data), never plain.
ALTER TABLE users ADD COLUMN totp_secret BYTEA;
ALTER TABLE users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;

-- Failed logins per email for throttling (5 in 15 minutes). Keyed by the email as typed
-- (lowercased), so unknown emails are throttled too. System path only.
CREATE TABLE login_failures (
  id BIGSERIAL PRIMARY KEY,
  email VARCHAR(255) NOT NULL,
  failed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_login_failures_email ON login_failures(email, failed_at DESC);

-- Mails the development mailer "sent": written instead of delivering, so that a developer (and
-- the tests) can read invitation links. System path only.
CREATE TABLE mail_outbox (
  id UUID PRIMARY KEY,
  to_email VARCHAR(255) NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_mail_outbox_to ON mail_outbox(to_email, created_at DESC);

GRANT SELECT, INSERT, UPDATE, DELETE ON login_failures, mail_outbox TO leadzone_system;
GRANT USAGE ON SEQUENCE login_failures_id_seq TO leadzone_system;

-- A member's manager must be a member of the same tenant (checked again in the app, with a 422).
CREATE INDEX idx_memberships_manager ON memberships(tenant_id, manager_id);
