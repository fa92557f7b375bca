-- Feature flags are run by platform operators through the system path.
GRANT SELECT, INSERT, UPDATE ON feature_flags TO leadzone_system;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_features TO leadzone_system;
