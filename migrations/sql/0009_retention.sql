-- Retention (data-model.md): the system role purges job history and deletes rows once they are
-- archived. The application role still cannot delete audit rows (no grant), and the audit
-- trigger lets a DELETE through only for leadzone_system inside a transaction that set
-- leadzone.audit_retention.
GRANT DELETE ON job_logs, jobs TO leadzone_system;
GRANT SELECT ON job_logs TO leadzone_system;
GRANT SELECT, DELETE ON whatsapp_messages, audit_logs TO leadzone_system;
CREATE INDEX idx_jobs_completed ON jobs(completed_at) WHERE status IN ('SUCCESS', 'FAILED', 'CANCELLED');
CREATE INDEX idx_audit_created ON audit_logs(created_at);
CREATE INDEX idx_whatsapp_sent_all ON whatsapp_messages(sent_at);
