-- Fewer, wider indexes on leads. Measured with `\copy` of 1,000,000 rows on this project's machine
-- kind: every index costs on every insert (an import pays them all), and several seed indexes were
-- plain prefixes of indexes the workspace added. The seed's names are kept, on the wider
-- definitions that serve the same queries:
--   idx_leads_tenant        (tenant_id)            -> the unique (tenant_id, id) the composite keys need
--   idx_leads_tenant_status (tenant_id, status)    -> (tenant_id, status, created_at DESC, id DESC)
--   idx_leads_list          (list_id)              -> (tenant_id, list_id) WHERE list_id IS NOT NULL
--   idx_leads_assigned      (tenant_id, assigned_to) -> the same, WHERE assigned_to IS NOT NULL
--   idx_leads_search        GIN over to_tsvector('arabic', name || industry), computed on every
--                           write a second time -> GIN over the stored search vector, which holds
--                           that same Arabic vector plus the normalised words (prefix search)
DROP INDEX idx_leads_tenant;
ALTER INDEX leads_tenant_id_id_key RENAME TO idx_leads_tenant;

DROP INDEX idx_leads_tenant_status;
ALTER INDEX idx_leads_tenant_status_created RENAME TO idx_leads_tenant_status;

DROP INDEX idx_leads_list;
ALTER INDEX idx_leads_tenant_list RENAME TO idx_leads_list;

DROP INDEX idx_leads_search;
ALTER INDEX idx_leads_search_vector RENAME TO idx_leads_search;

-- Leads without an assignee (every imported one) need no entry: `assigned_to = $1` implies NOT NULL.
DROP INDEX idx_leads_assigned;
CREATE INDEX idx_leads_assigned ON leads(tenant_id, assigned_to) WHERE assigned_to IS NOT NULL;

-- The duplicate keys and the status are machine values compared byte for byte: the "C"
-- collation compares them without the locale's string comparison (in a C.UTF-8 or en_US
-- database every comparison copied both strings and called strcoll). Company names keep the
-- database's collation: they are sorted for people.
ALTER TABLE leads
  ALTER COLUMN phone TYPE VARCHAR(50) COLLATE "C",
  ALTER COLUMN status TYPE VARCHAR(20) COLLATE "C",
  ALTER COLUMN website_host TYPE TEXT COLLATE "C",
  ALTER COLUMN name_key TYPE TEXT COLLATE "C",
  ALTER COLUMN city_key TYPE TEXT COLLATE "C";

-- The collation change rebuilt the indexes on these columns and dropped their statistics.
ANALYZE leads;
