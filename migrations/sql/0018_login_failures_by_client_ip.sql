-- Login throttling by email *and* client IP (api.md, Auth: login): 5 failures for one email from
-- one client within 15 minutes stop that client, 50 from all clients stop the email everywhere.
-- Rows written before this migration have no IP; they count towards the email's ceiling only,
-- and age out of the window like any other. NULL is also "a client of unknown address".
SET LOCAL lock_timeout = '30s';

ALTER TABLE login_failures ADD COLUMN ip INET;
-- A success clears the failures of its own client: (email, ip). The count per email reads
-- idx_login_failures_email (email, failed_at) as before.
CREATE INDEX idx_login_failures_email_ip ON login_failures(email, ip, failed_at);
