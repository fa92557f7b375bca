-- Lead discovery (SEARCH on the places provider). Google's terms let a place id be kept
-- indefinitely, and it is the one durable key of a place: a lead found by a search keeps it, and a
-- tenant never holds the same place twice (docs/providers/google-places.md). The column is written
-- only by the SEARCH job — no API field sets or changes it.
ALTER TABLE leads ADD COLUMN place_id TEXT;
CREATE UNIQUE INDEX idx_leads_place ON leads(tenant_id, place_id) WHERE place_id IS NOT NULL;
