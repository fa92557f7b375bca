-- A one-time code may be used once (RFC 6238 §5.2): the last time step a user spent is kept and
-- a login or 2FA change with a code of that step or an earlier one is refused. Logins run on the
-- system role, which may update only this column and last_login_at.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
GRANT UPDATE (totp_last_step) ON users TO leadzone_system;
