-- Files in the database every process already shares (LEADZONE_BLOB_URL=postgres, the default):
-- import uploads, export results, error reports, retention archives. A blob is a header row and
-- its content in 1 MiB chunks. A write inserts the header as incomplete and its chunks as they
-- arrive, each in its own statement (a slow upload holds no connection between pieces), then
-- makes it visible in one short transaction that also removes the object it replaces; readers only
-- see complete blobs. A write whose process died stays incomplete and is purged by retention.
--
-- Chunks are bytea, not large objects: they go with their header by ON DELETE CASCADE (a large
-- object outlives its reference unless unlinked by hand), need no lo_* privileges for the system
-- role, and are dumped and replicated like any row. STORAGE EXTERNAL keeps them uncompressed: CSV
-- would compress, but pglz costs CPU on every write, and uncompressed TOAST lets substring() and a
-- ranged read fetch only the pieces they need.
CREATE TABLE blobs (
  id UUID PRIMARY KEY,
  key TEXT NOT NULL,
  size BIGINT NOT NULL DEFAULT 0,
  complete BOOLEAN NOT NULL DEFAULT FALSE,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE UNIQUE INDEX blobs_key_complete ON blobs (key) WHERE complete;
CREATE INDEX blobs_incomplete_created_at ON blobs (created_at) WHERE NOT complete;

CREATE TABLE blob_chunks (
  blob_id UUID NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
  seq INT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (blob_id, seq)
);
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- Only the system role reaches files; keys carry the tenant and are built by the app.
GRANT SELECT, INSERT, UPDATE, DELETE ON blobs, blob_chunks TO leadzone_system;
