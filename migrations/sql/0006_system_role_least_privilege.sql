-- The system role gets exactly what the cross-tenant path uses (crates/postgres/src/system.rs),
-- instead of every privilege on every table. It runs unauthenticated flows (login, refresh,
-- invitation acceptance): the less it can do, the less a bug there can do.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM leadzone_system;

GRANT SELECT ON users, tenants, memberships, invites, plans TO leadzone_system;
GRANT UPDATE (last_login_at) ON users TO leadzone_system;
GRANT UPDATE (status, updated_at) ON tenants TO leadzone_system;
GRANT SELECT, INSERT, UPDATE ON sessions TO leadzone_system;
GRANT SELECT, INSERT ON session_rotated_tokens TO leadzone_system;
GRANT SELECT, INSERT, DELETE ON login_failures TO leadzone_system;
GRANT INSERT ON mail_outbox TO leadzone_system;
GRANT SELECT, UPDATE (last_used_at) ON api_keys TO leadzone_system;
GRANT SELECT, INSERT ON processed_webhook_events TO leadzone_system;
