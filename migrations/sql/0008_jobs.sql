-- The job system: wake workers on enqueue, let the worker side run the queue, and a table that
-- makes each scheduled task run once per period across any number of worker processes.

CREATE FUNCTION notify_job_enqueued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('leadzone_jobs', NEW.id::text);
  RETURN NEW;
END $$;

-- NOTIFY is delivered when the enqueuing transaction commits, never before.
CREATE TRIGGER jobs_notify_enqueued AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION notify_job_enqueued();

CREATE TABLE scheduler_state (
  name VARCHAR(100) PRIMARY KEY,
  next_run_at TIMESTAMPTZ NOT NULL
);

GRANT SELECT, UPDATE ON jobs TO leadzone_system;
GRANT INSERT ON job_logs TO leadzone_system;
GRANT SELECT, INSERT, UPDATE ON scheduler_state TO leadzone_system;
