-- The leads workspace: a stored search vector and an index per keyset sort.

-- Search: the application stores `search_text` (name and industry folded by the domain's Arabic-aware
-- normaliser: no diacritics or tatweel, unified hamza/ta marbuta/alef maqsura, no leading ال).
-- The vector indexes those words as they are ('simple': exact and prefix matches) and the raw
-- text through the Arabic stemmer. Stored, so a search never recomputes a vector per row, and
-- with statistics the planner can use.
ALTER TABLE leads ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
ALTER TABLE leads ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
  to_tsvector('simple', search_text) || to_tsvector('arabic', company_name || ' ' || COALESCE(industry, ''))
) STORED;
CREATE INDEX idx_leads_search_vector ON leads USING gin(search_vector);

-- Every keyset sort ends with id, its unique tiebreaker, inside the index.
CREATE INDEX idx_leads_tenant_updated ON leads(tenant_id, updated_at DESC, id DESC);
CREATE INDEX idx_leads_tenant_score ON leads(tenant_id, (COALESCE(score, -1)) DESC, id DESC);
CREATE INDEX idx_leads_tenant_name ON leads(tenant_id, company_name, id);
CREATE INDEX idx_leads_tenant_list ON leads(tenant_id, list_id) WHERE list_id IS NOT NULL;
CREATE INDEX idx_leads_created_by ON leads(tenant_id, created_by);
