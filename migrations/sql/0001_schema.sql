-- Leadzone schema v1: the 21 tables of data-model.md in dependency order, plus what the system needs
-- (sessions, idempotency keys, processed webhook events, job-queue columns).
--
-- Deliberate differences from the seed, each for a reason a reviewer will ask about:
--  * timestamps are TIMESTAMPTZ (the API speaks UTC instants; TIMESTAMP loses the zone);
--  * enum columns carry CHECK constraints so a bad value cannot be stored;
--  * every tenant table has UNIQUE (tenant_id, id), and children reference parents by
--    (tenant_id, parent_id), so a row can never point into another tenant;
--  * job_logs carries tenant_id (the seed's has none) so that it can be isolated like its job;
--  * whatsapp_messages.idempotency_key is unique per tenant, not globally (a global key would let one
--    tenant block another's);
--  * leads carries derived keys for duplicate detection (website_host, name_key, city_key) and the
--    created-at index ends with id, the keyset tiebreaker.

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email VARCHAR(255) UNIQUE NOT NULL CHECK (email = lower(email)),
  password_hash VARCHAR(255) NOT NULL,
  name VARCHAR(255) NOT NULL,
  avatar_url TEXT,
  phone VARCHAR(50),
  email_verified BOOLEAN NOT NULL DEFAULT FALSE,
  email_verified_at TIMESTAMPTZ,
  last_login_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_users_email ON users(email);

CREATE TABLE tenants (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name VARCHAR(255) NOT NULL,
  slug VARCHAR(100) UNIQUE NOT NULL,
  logo_url TEXT,
  status VARCHAR(20) NOT NULL DEFAULT 'ACTIVE'
    CHECK (status IN ('PENDING_VERIFICATION', 'ACTIVE', 'SUSPENDED', 'DELETED')),
  settings JSONB NOT NULL DEFAULT '{}',
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_tenants_slug ON tenants(slug);
CREATE INDEX idx_tenants_status ON tenants(status);

CREATE TABLE memberships (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  role VARCHAR(20) NOT NULL DEFAULT 'SALES' CHECK (role IN ('OWNER', 'ADMIN', 'MANAGER', 'SALES')),
  status VARCHAR(20) NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'SUSPENDED')),
  manager_id UUID REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (user_id, tenant_id),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_memberships_user ON memberships(user_id);
CREATE INDEX idx_memberships_tenant ON memberships(tenant_id);
CREATE INDEX idx_memberships_role ON memberships(tenant_id, role);

CREATE TABLE invites (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email VARCHAR(255) NOT NULL,
  role VARCHAR(20) NOT NULL DEFAULT 'SALES' CHECK (role IN ('ADMIN', 'MANAGER', 'SALES')),
  -- SHA-256 (hex) of the invite token; the token itself is never stored.
  token VARCHAR(255) UNIQUE NOT NULL,
  invited_by UUID NOT NULL REFERENCES users(id),
  status VARCHAR(20) NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'ACCEPTED', 'EXPIRED', 'REVOKED')),
  expires_at TIMESTAMPTZ NOT NULL,
  accepted_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_invites_token ON invites(token);
CREATE INDEX idx_invites_tenant ON invites(tenant_id);
CREATE INDEX idx_invites_email ON invites(email);

CREATE TABLE plans (
  id VARCHAR(50) PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  name_ar VARCHAR(100) NOT NULL,
  description TEXT,
  price_monthly INTEGER NOT NULL,  -- in halalas (SAR * 100)
  price_yearly INTEGER NOT NULL,
  seats_limit INTEGER NOT NULL,    -- -1 = unlimited
  leads_limit INTEGER NOT NULL,
  searches_limit INTEGER NOT NULL,
  messages_limit INTEGER NOT NULL,
  features JSONB NOT NULL DEFAULT '[]',
  is_active BOOLEAN NOT NULL DEFAULT TRUE,
  sort_order INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE feature_flags (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  key VARCHAR(100) UNIQUE NOT NULL,
  name VARCHAR(255) NOT NULL,
  description TEXT,
  enabled BOOLEAN NOT NULL DEFAULT FALSE,
  rollout_percentage INTEGER NOT NULL DEFAULT 0 CHECK (rollout_percentage BETWEEN 0 AND 100),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_feature_flags_key ON feature_flags(key);

CREATE TABLE subscriptions (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID UNIQUE NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  plan_id VARCHAR(50) NOT NULL REFERENCES plans(id),
  status VARCHAR(20) NOT NULL DEFAULT 'ACTIVE'
    CHECK (status IN ('TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELLED', 'UNPAID')),
  billing_cycle VARCHAR(20) NOT NULL DEFAULT 'MONTHLY' CHECK (billing_cycle IN ('MONTHLY', 'YEARLY')),
  current_period_start TIMESTAMPTZ NOT NULL,
  current_period_end TIMESTAMPTZ NOT NULL,
  cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
  trial_ends_at TIMESTAMPTZ,
  stripe_subscription_id VARCHAR(255),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_subscriptions_tenant ON subscriptions(tenant_id);
CREATE INDEX idx_subscriptions_status ON subscriptions(status);

CREATE TABLE usage_counters (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  metric VARCHAR(50) NOT NULL CHECK (metric IN ('seats', 'leads', 'searches', 'messages')),
  value INTEGER NOT NULL DEFAULT 0 CHECK (value >= 0),
  period VARCHAR(10) NOT NULL,  -- '2026-01' for monthly
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, metric, period),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_usage_tenant_period ON usage_counters(tenant_id, period);

CREATE TABLE tenant_features (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  feature_key VARCHAR(100) NOT NULL,
  enabled BOOLEAN NOT NULL,
  expires_at TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, feature_key),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_tenant_features ON tenant_features(tenant_id);

-- lists before leads: leads reference lists.
CREATE TABLE lists (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name VARCHAR(255) NOT NULL,
  description TEXT,
  color VARCHAR(20),
  is_smart BOOLEAN NOT NULL DEFAULT FALSE,
  smart_filters JSONB,
  created_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_lists_tenant ON lists(tenant_id);

CREATE TABLE leads (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,

  -- Basic Info
  company_name VARCHAR(255) NOT NULL,
  industry VARCHAR(100),
  city VARCHAR(100),
  phone VARCHAR(50),
  email VARCHAR(255),
  website TEXT,

  -- Status & Classification
  status VARCHAR(20) NOT NULL DEFAULT 'NEW'
    CHECK (status IN ('NEW', 'PROSPECTED', 'CONTACTED', 'QUALIFIED', 'LOST')),
  score INTEGER CHECK (score BETWEEN 0 AND 100),
  tags TEXT[] NOT NULL DEFAULT '{}',

  -- Enrichment Data
  enrichment_data JSONB NOT NULL DEFAULT '{}',

  -- Relationships
  list_id UUID,
  assigned_to UUID REFERENCES users(id) ON DELETE SET NULL,
  created_by UUID NOT NULL REFERENCES users(id),

  -- Timestamps
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  last_contacted_at TIMESTAMPTZ,

  -- Duplicate-detection keys, computed by the domain's normalisers on write.
  website_host TEXT,
  name_key TEXT NOT NULL DEFAULT '',
  city_key TEXT,

  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, list_id) REFERENCES lists(tenant_id, id) ON DELETE SET NULL (list_id)
);
CREATE INDEX idx_leads_tenant ON leads(tenant_id);
CREATE INDEX idx_leads_tenant_status ON leads(tenant_id, status);
CREATE INDEX idx_leads_tenant_created ON leads(tenant_id, created_at DESC, id DESC);
CREATE INDEX idx_leads_assigned ON leads(tenant_id, assigned_to);
CREATE INDEX idx_leads_list ON leads(list_id);
CREATE INDEX idx_leads_search ON leads USING gin(to_tsvector('arabic', company_name || ' ' || COALESCE(industry, '')));
CREATE INDEX idx_leads_dedup_phone ON leads(tenant_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX idx_leads_dedup_host ON leads(tenant_id, website_host) WHERE website_host IS NOT NULL;
CREATE INDEX idx_leads_dedup_name ON leads(tenant_id, name_key);

CREATE TABLE evidence (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  lead_id UUID NOT NULL,
  type VARCHAR(50) NOT NULL
    CHECK (type IN ('WEBSITE', 'SOCIAL', 'NEWS', 'REVIEWS', 'GOVERNMENT', 'FINANCIAL', 'CUSTOM')),
  title VARCHAR(255) NOT NULL,
  source VARCHAR(255),
  url TEXT,
  snippet TEXT,
  raw_data JSONB,
  confidence VARCHAR(20) NOT NULL DEFAULT 'MEDIUM' CHECK (confidence IN ('HIGH', 'MEDIUM', 'LOW')),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, lead_id) REFERENCES leads(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_evidence_tenant ON evidence(tenant_id);
CREATE INDEX idx_evidence_lead ON evidence(lead_id);
CREATE INDEX idx_evidence_type ON evidence(tenant_id, type);

CREATE TABLE reports (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  lead_id UUID UNIQUE NOT NULL,
  summary TEXT,
  sections JSONB NOT NULL DEFAULT '[]',
  score INTEGER CHECK (score BETWEEN 0 AND 100),
  generated_by VARCHAR(50) NOT NULL DEFAULT 'AI' CHECK (generated_by IN ('AI', 'MANUAL')),
  model_version VARCHAR(50),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, lead_id) REFERENCES leads(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_reports_tenant ON reports(tenant_id);
CREATE INDEX idx_reports_lead ON reports(lead_id);

CREATE TABLE jobs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  type VARCHAR(50) NOT NULL
    CHECK (type IN ('SEARCH', 'SURVEY', 'WHATSAPP', 'WHATSAPP_BULK', 'IMPORT', 'EXPORT', 'REVEAL', 'REPORT', 'SYNC')),
  status VARCHAR(20) NOT NULL DEFAULT 'PENDING'
    CHECK (status IN ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED')),
  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  message TEXT,
  entity_type VARCHAR(50) CHECK (entity_type IN ('lead', 'list', 'tenant')),
  entity_id UUID,
  input JSONB,
  result JSONB,
  error JSONB,
  created_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  started_at TIMESTAMPTZ,
  completed_at TIMESTAMPTZ,
  -- Queue bookkeeping (architecture.md, Jobs).
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
  run_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  locked_by VARCHAR(100),
  locked_until TIMESTAMPTZ,
  priority INTEGER NOT NULL DEFAULT 100,
  idempotency_key VARCHAR(255),
  cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_jobs_tenant ON jobs(tenant_id);
CREATE INDEX idx_jobs_tenant_status ON jobs(tenant_id, status);
CREATE INDEX idx_jobs_entity ON jobs(entity_type, entity_id);
CREATE INDEX idx_jobs_created ON jobs(tenant_id, created_at DESC, id DESC);
CREATE INDEX idx_jobs_claim ON jobs(priority, run_at) WHERE status = 'PENDING';
CREATE INDEX idx_jobs_lease ON jobs(locked_until) WHERE status = 'RUNNING';
CREATE UNIQUE INDEX idx_jobs_idempotency ON jobs(tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE job_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL,
  job_id UUID NOT NULL,
  level VARCHAR(20) NOT NULL CHECK (level IN ('INFO', 'WARN', 'ERROR', 'DEBUG')),
  message TEXT NOT NULL,
  data JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, job_id) REFERENCES jobs(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_job_logs_job ON job_logs(job_id);
CREATE INDEX idx_job_logs_created ON job_logs(created_at);

CREATE TABLE activities (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  lead_id UUID NOT NULL,
  type VARCHAR(50) NOT NULL CHECK (type IN ('CREATED', 'SURVEY', 'WHATSAPP', 'STATUS_CHANGE', 'LIST_ADD',
                                            'LIST_REMOVE', 'NOTE', 'CALL', 'MEETING', 'ASSIGNED')),
  description TEXT NOT NULL,
  metadata JSONB,
  user_id UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, lead_id) REFERENCES leads(tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX idx_activities_tenant ON activities(tenant_id);
CREATE INDEX idx_activities_lead ON activities(lead_id);
CREATE INDEX idx_activities_created ON activities(lead_id, created_at DESC, id DESC);

-- templates before messages: messages reference templates.
CREATE TABLE whatsapp_templates (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name VARCHAR(255) NOT NULL,
  content TEXT NOT NULL,
  variables TEXT[] NOT NULL DEFAULT '{}',
  is_approved BOOLEAN NOT NULL DEFAULT FALSE,
  external_id VARCHAR(255),
  created_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_templates_tenant ON whatsapp_templates(tenant_id);

CREATE TABLE whatsapp_messages (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  lead_id UUID,
  phone VARCHAR(50) NOT NULL,
  message TEXT NOT NULL,
  template_id UUID,
  status VARCHAR(20) NOT NULL DEFAULT 'PENDING'
    CHECK (status IN ('PENDING', 'SENT', 'DELIVERED', 'READ', 'FAILED')),
  external_id VARCHAR(255),
  error_message TEXT,
  sent_by UUID NOT NULL REFERENCES users(id),
  sent_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  delivered_at TIMESTAMPTZ,
  read_at TIMESTAMPTZ,
  idempotency_key VARCHAR(255),
  UNIQUE (tenant_id, id),
  UNIQUE (tenant_id, idempotency_key),
  FOREIGN KEY (tenant_id, lead_id) REFERENCES leads(tenant_id, id) ON DELETE SET NULL (lead_id),
  FOREIGN KEY (tenant_id, template_id) REFERENCES whatsapp_templates(tenant_id, id) ON DELETE SET NULL (template_id)
);
CREATE INDEX idx_whatsapp_tenant ON whatsapp_messages(tenant_id);
CREATE INDEX idx_whatsapp_lead ON whatsapp_messages(lead_id);
CREATE INDEX idx_whatsapp_status ON whatsapp_messages(tenant_id, status);
CREATE INDEX idx_whatsapp_sent ON whatsapp_messages(tenant_id, sent_at DESC);
CREATE INDEX idx_whatsapp_external ON whatsapp_messages(external_id) WHERE external_id IS NOT NULL;

CREATE TABLE audit_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  event_type VARCHAR(100) NOT NULL,
  entity_type VARCHAR(50),
  entity_id UUID,
  action VARCHAR(255) NOT NULL,
  details JSONB NOT NULL DEFAULT '{}',
  user_id UUID REFERENCES users(id),
  ip_address INET,
  user_agent TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_audit_tenant ON audit_logs(tenant_id);
CREATE INDEX idx_audit_tenant_created ON audit_logs(tenant_id, created_at DESC, id DESC);
CREATE INDEX idx_audit_event_type ON audit_logs(tenant_id, event_type);
CREATE INDEX idx_audit_entity ON audit_logs(entity_type, entity_id);
CREATE INDEX idx_audit_user ON audit_logs(user_id);

CREATE TABLE api_keys (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  label VARCHAR(255) NOT NULL,
  key_prefix VARCHAR(20) NOT NULL,
  key_hash VARCHAR(255) NOT NULL UNIQUE,
  scopes TEXT[] NOT NULL DEFAULT '{}',
  last_used_at TIMESTAMPTZ,
  expires_at TIMESTAMPTZ,
  revoked_at TIMESTAMPTZ,
  created_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_api_keys_tenant ON api_keys(tenant_id);
CREATE INDEX idx_api_keys_prefix ON api_keys(key_prefix);

CREATE TABLE integration_connections (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  type VARCHAR(50) NOT NULL
    CHECK (type IN ('WHATSAPP', 'SALESFORCE', 'HUBSPOT', 'SLACK', 'NOTION', 'GOOGLE_MAPS')),
  status VARCHAR(20) NOT NULL DEFAULT 'CONNECTED' CHECK (status IN ('CONNECTED', 'DISCONNECTED', 'ERROR', 'PENDING')),
  credentials BYTEA,  -- AES-256-GCM ciphertext
  config JSONB NOT NULL DEFAULT '{}',
  last_sync_at TIMESTAMPTZ,
  last_error TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  UNIQUE (tenant_id, type),
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_integrations_tenant ON integration_connections(tenant_id);

-- ---------------------------------------------------------------------------------------------
-- System tables (not in the seed).

-- A login session bound to one tenant. Tokens are stored only as SHA-256 (hex).
CREATE TABLE sessions (
  id UUID PRIMARY KEY,
  user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  access_token_hash CHAR(64) NOT NULL UNIQUE,
  access_expires_at TIMESTAMPTZ NOT NULL,
  refresh_token_hash CHAR(64) NOT NULL UNIQUE,
  refresh_expires_at TIMESTAMPTZ NOT NULL,
  ip_address INET,
  user_agent TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  revoked_at TIMESTAMPTZ,
  UNIQUE (tenant_id, id)
);
CREATE INDEX idx_sessions_user ON sessions(user_id);

-- Refresh tokens that were rotated away; presenting one again means it leaked (reuse detection).
CREATE TABLE session_rotated_tokens (
  token_hash CHAR(64) PRIMARY KEY,
  session_id UUID NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  rotated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_session_rotated_session ON session_rotated_tokens(session_id);

-- Idempotency-Key replay store (api.md conventions): the first response, for 24 hours.
CREATE TABLE idempotency_keys (
  tenant_id UUID NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  key VARCHAR(255) NOT NULL,
  request_hash CHAR(64) NOT NULL,
  response_status INTEGER,
  response_body JSONB,
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idx_idempotency_created ON idempotency_keys(created_at);

-- Inbound webhook events already applied (Stripe, WhatsApp): each event id is applied once.
CREATE TABLE processed_webhook_events (
  provider VARCHAR(50) NOT NULL,
  event_id VARCHAR(255) NOT NULL,
  event_created_at TIMESTAMPTZ,
  processed_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (provider, event_id)
);
