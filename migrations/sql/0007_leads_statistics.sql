-- Measured on 1.2 million leads (200,000 in one tenant): filtered listings walked the wrong index
-- because the planner assumed tenant, status, city and phone were independent — they are not (each
-- tenant has its own mix). Extended statistics give it the real distributions, and a status index
-- in created-at order lets "status = X, newest first" stop after one page.
CREATE INDEX idx_leads_tenant_status_created ON leads(tenant_id, status, created_at DESC, id DESC);
CREATE STATISTICS leads_tenant_status (mcv, dependencies) ON tenant_id, status FROM leads;
CREATE STATISTICS leads_tenant_city (mcv, dependencies) ON tenant_id, city FROM leads;
CREATE STATISTICS leads_tenant_status_city (mcv) ON tenant_id, status, city FROM leads;
CREATE STATISTICS leads_tenant_has_phone (mcv) ON tenant_id, (phone IS NOT NULL) FROM leads;
ANALYZE leads;
