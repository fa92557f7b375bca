//! The entities of the data model (data-model.md), as the core sees them. Values here were
//! validated on the way in (see `values` and `leads`), so strings such as `Lead::phone` are already
//! normalised. Secrets never appear as plain text: only their hashes or ciphertexts.

use crate::enums::*;
use crate::ids::*;
use crate::leads::EnrichmentData;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub phone: Option<String>,
    pub email_verified: bool,
    pub email_verified_at: Option<OffsetDateTime>,
    pub last_login_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Sealed (AES-256-GCM) TOTP secret; present from 2FA setup on.
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
}

/// Tenant settings as stored in `tenants.settings` (JSONB).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp_phone_id: Option<String>,
}

impl TenantSettings {
    pub const DEFAULT_TIMEZONE: &'static str = "Asia/Riyadh";

    pub fn timezone(&self) -> &str {
        self.timezone.as_deref().unwrap_or(Self::DEFAULT_TIMEZONE)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    pub logo_url: Option<String>,
    pub status: TenantStatus,
    pub settings: TenantSettings,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub id: MembershipId,
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub status: MembershipStatus,
    pub manager_id: Option<UserId>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Invite {
    /// A pending invite past its expiry reads as EXPIRED.
    pub fn effective_status(&self, now: OffsetDateTime) -> InviteStatus {
        if self.status == InviteStatus::Pending && self.expires_at <= now { InviteStatus::Expired } else { self.status }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub id: InviteId,
    pub tenant_id: TenantId,
    pub email: String,
    pub role: Role,
    /// SHA-256 of the invite token; the token itself is shown once and never stored.
    pub token_hash: String,
    pub invited_by: UserId,
    pub status: InviteStatus,
    pub expires_at: OffsetDateTime,
    pub accepted_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// A plan limit; `-1` in storage means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    AtMost(i64),
}

impl Limit {
    pub fn from_stored(v: i64) -> Self {
        if v < 0 { Self::Unlimited } else { Self::AtMost(v) }
    }

    pub fn to_stored(self) -> i64 {
        match self {
            Self::Unlimited => -1,
            Self::AtMost(v) => v,
        }
    }

    /// Whether `used + n` stays within the limit.
    pub fn allows(self, used: i64, n: i64) -> bool {
        match self {
            Self::Unlimited => true,
            Self::AtMost(max) => used.saturating_add(n) <= max,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub id: PlanId,
    pub name: String,
    pub name_ar: String,
    pub description: Option<String>,
    pub price_monthly: i64,
    pub price_yearly: i64,
    pub seats_limit: Limit,
    pub leads_limit: Limit,
    pub searches_limit: Limit,
    pub messages_limit: Limit,
    pub features: Vec<String>,
    pub is_active: bool,
    pub sort_order: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Plan {
    pub fn limit(&self, metric: UsageMetric) -> Limit {
        match metric {
            UsageMetric::Seats => self.seats_limit,
            UsageMetric::Leads => self.leads_limit,
            UsageMetric::Searches => self.searches_limit,
            UsageMetric::Messages => self.messages_limit,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFlag {
    pub id: FeatureFlagId,
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub rollout_percentage: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub tenant_id: TenantId,
    pub plan_id: PlanId,
    pub status: SubscriptionStatus,
    pub billing_cycle: BillingCycle,
    pub current_period_start: OffsetDateTime,
    pub current_period_end: OffsetDateTime,
    pub cancel_at_period_end: bool,
    pub trial_ends_at: Option<OffsetDateTime>,
    pub stripe_subscription_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// Created time of the last Stripe event applied (events may arrive out of order).
    pub stripe_event_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UsageCounter {
    pub id: UsageCounterId,
    pub tenant_id: TenantId,
    pub metric: UsageMetric,
    pub value: i64,
    /// Calendar month in the tenant's timezone, `YYYY-MM`.
    pub period: String,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantFeature {
    pub id: TenantFeatureId,
    pub tenant_id: TenantId,
    pub feature_key: String,
    pub enabled: bool,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub id: LeadId,
    pub tenant_id: TenantId,
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// Lowercase.
    pub email: Option<String>,
    /// Normalised `https://` URL.
    pub website: Option<String>,
    pub status: LeadStatus,
    pub score: Option<i32>,
    pub tags: Vec<String>,
    pub enrichment_data: EnrichmentData,
    pub list_id: Option<ListId>,
    pub assigned_to: Option<UserId>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_contacted_at: Option<OffsetDateTime>,
}

/// The filters of a smart list (data-model.md, List.smartFilters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmartFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<LeadStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_phone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_website: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub id: ListId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub is_smart: bool,
    pub smart_filters: Option<SmartFilters>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub id: EvidenceId,
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    pub kind: EvidenceType,
    pub title: String,
    pub source: Option<String>,
    pub url: Option<String>,
    pub snippet: Option<String>,
    pub raw_data: Option<serde_json::Value>,
    pub confidence: Confidence,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSection {
    pub title: String,
    pub content: String,
    pub confidence: Confidence,
    pub evidence_ids: Vec<EvidenceId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: ReportId,
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    pub summary: Option<String>,
    pub sections: Vec<ReportSection>,
    pub score: Option<i32>,
    pub generated_by: ReportGeneratedBy,
    pub model_version: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub kind: JobType,
    pub status: JobStatus,
    pub progress: i32,
    pub message: Option<String>,
    pub entity_type: Option<JobEntityType>,
    pub entity_id: Option<uuid::Uuid>,
    pub input: Option<serde_json::Value>,
    pub result: Option<serde_json::Value>,
    pub error: Option<JobError>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub completed_at: Option<OffsetDateTime>,
    // Queue bookkeeping (architecture.md, Jobs).
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: OffsetDateTime,
    pub priority: i32,
    pub cancel_requested: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobLog {
    pub id: JobLogId,
    pub job_id: JobId,
    pub level: LogLevel,
    pub message: String,
    pub data: Option<serde_json::Value>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: ActivityId,
    pub tenant_id: TenantId,
    pub lead_id: LeadId,
    pub kind: ActivityType,
    pub description: String,
    pub metadata: Option<serde_json::Value>,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WhatsAppMessage {
    pub id: WhatsAppMessageId,
    pub tenant_id: TenantId,
    pub lead_id: Option<LeadId>,
    pub phone: String,
    pub message: String,
    pub template_id: Option<WhatsAppTemplateId>,
    pub status: WhatsAppStatus,
    pub external_id: Option<String>,
    pub error_message: Option<String>,
    pub sent_by: UserId,
    pub sent_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub read_at: Option<OffsetDateTime>,
    pub idempotency_key: Option<String>,
    /// When the send was handed to Meta (recorded before the call: never sent twice).
    pub attempted_at: Option<OffsetDateTime>,
    /// Meta's error code when FAILED.
    pub error_code: Option<i64>,
    /// The WHATSAPP or WHATSAPP_BULK job that sends it.
    pub job_id: Option<crate::ids::JobId>,
    /// What is sent: the template's name, language and parameters, or the text.
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WhatsAppTemplate {
    pub id: WhatsAppTemplateId,
    pub tenant_id: TenantId,
    pub name: String,
    pub content: String,
    pub variables: Vec<String>,
    pub is_approved: bool,
    pub external_id: Option<String>,
    pub language: crate::enums::Language,
    pub category: crate::enums::TemplateCategory,
    pub status: crate::enums::TemplateStatus,
    /// The name Meta knows it by (lowercase, underscores).
    pub external_name: Option<String>,
    /// Why Meta rejected, paused or disabled it, when it said.
    pub status_reason: Option<String>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// `details` of an audit row: before/after for updates, anything else under `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditLog {
    pub id: AuditLogId,
    pub tenant_id: TenantId,
    pub event_type: AuditEventType,
    pub entity_type: Option<String>,
    pub entity_id: Option<uuid::Uuid>,
    pub action: String,
    pub details: AuditDetails,
    pub user_id: Option<UserId>,
    pub ip_address: Option<std::net::IpAddr>,
    pub user_agent: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub label: String,
    pub key_prefix: String,
    /// SHA-256 of the whole key; the key itself is shown once and never stored.
    pub key_hash: String,
    pub scopes: Vec<String>,
    pub last_used_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: UserId,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationConnection {
    pub id: IntegrationConnectionId,
    pub tenant_id: TenantId,
    pub kind: IntegrationType,
    pub status: IntegrationStatus,
    /// AES-256-GCM ciphertext of the credentials JSON.
    pub credentials: Option<Vec<u8>>,
    pub config: serde_json::Value,
    pub last_sync_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(Limit::from_stored(-1), Limit::Unlimited);
        assert!(Limit::Unlimited.allows(i64::MAX, 1));
        let ten = Limit::from_stored(10);
        assert!(ten.allows(9, 1));
        assert!(!ten.allows(10, 1));
        assert!(!ten.allows(5, 6));
        assert_eq!(ten.to_stored(), 10);
    }

    #[test]
    fn tenant_settings_default_timezone_and_strict_shape() {
        assert_eq!(TenantSettings::default().timezone(), "Asia/Riyadh");
        let s: TenantSettings = serde_json::from_str(r#"{"timezone":"Asia/Dubai","language":"ar"}"#).unwrap();
        assert_eq!(s.timezone(), "Asia/Dubai");
        assert_eq!(s.language, Some(Language::Ar));
        assert!(serde_json::from_str::<TenantSettings>(r#"{"language":"fr"}"#).is_err());
        assert!(serde_json::from_str::<TenantSettings>(r#"{"colour":"red"}"#).is_err());
    }

    #[test]
    fn smart_filters_round_trip() {
        let f: SmartFilters = serde_json::from_str(r#"{"status":["NEW","LOST"],"hasPhone":true}"#).unwrap();
        assert_eq!(f.status, Some(vec![LeadStatus::New, LeadStatus::Lost]));
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"status":["NEW","LOST"],"hasPhone":true}"#);
    }
}
