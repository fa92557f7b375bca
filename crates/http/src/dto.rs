//! Response bodies: exactly the TypeScript interfaces of data-model.md, in camelCase. Secrets
//! (`passwordHash`, token hashes) have no field here, so they cannot leak by accident.

use crate::openapi::enums;
use leadzone_domain::entities::{
    Activity, ApiKey, AuditDetails, AuditLog, Evidence, Invite, Lead, List, Membership, Tenant, TenantSettings, User,
};
use leadzone_domain::enums::{
    ActivityType, AuditEventType, Confidence, EvidenceType, InviteStatus, LeadStatus, MembershipStatus, Role,
    TenantStatus,
};
use leadzone_domain::leads::EnrichmentData;
use leadzone_ports::team::MemberView;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub avatar_url: Option<String>,
    pub phone: Option<String>,
    pub email_verified: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub email_verified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.as_uuid(),
            email: u.email.clone(),
            name: u.name.clone(),
            avatar_url: u.avatar_url.clone(),
            phone: u.phone.clone(),
            email_verified: u.email_verified,
            email_verified_at: u.email_verified_at,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub logo_url: Option<String>,
    #[schema(value_type = enums::TenantStatus)]
    pub status: TenantStatus,
    #[schema(value_type = Object)]
    pub settings: TenantSettings,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Tenant> for TenantDto {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.as_uuid(),
            name: t.name.clone(),
            slug: t.slug.clone(),
            logo_url: t.logo_url.clone(),
            status: t.status,
            settings: t.settings.clone(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: UserDto,
    pub tenant: TenantDto,
    #[schema(value_type = enums::Role)]
    pub role: Role,
    pub access_token: String,
    pub refresh_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipSummary {
    pub tenant: TenantDto,
    #[schema(value_type = enums::Role)]
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    pub user: UserDto,
    pub tenant: TenantDto,
    #[schema(value_type = enums::Role)]
    pub role: Role,
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<&'static str>,
    pub memberships: Vec<MembershipSummary>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeadDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    #[schema(value_type = enums::LeadStatus)]
    pub status: LeadStatus,
    pub score: Option<i32>,
    pub tags: Vec<String>,
    #[schema(value_type = Object)]
    pub enrichment_data: EnrichmentData,
    pub list_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_contacted_at: Option<OffsetDateTime>,
}

impl From<&Lead> for LeadDto {
    fn from(l: &Lead) -> Self {
        Self {
            id: l.id.as_uuid(),
            tenant_id: l.tenant_id.as_uuid(),
            company_name: l.company_name.clone(),
            industry: l.industry.clone(),
            city: l.city.clone(),
            phone: l.phone.clone(),
            email: l.email.clone(),
            website: l.website.clone(),
            status: l.status,
            score: l.score,
            tags: l.tags.clone(),
            enrichment_data: l.enrichment_data.clone(),
            list_id: l.list_id.map(|x| x.as_uuid()),
            assigned_to: l.assigned_to.map(|x| x.as_uuid()),
            created_by: l.created_by.as_uuid(),
            created_at: l.created_at,
            updated_at: l.updated_at,
            last_contacted_at: l.last_contacted_at,
        }
    }
}

/// `{"data": […], "nextCursor": …}`
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageDto<T: Serialize + ToSchema> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: Serialize + ToSchema> PageDto<T> {
    /// A page of the use case's rows, each as its DTO.
    pub fn of<U>(page: &leadzone_app::leads::Page<U>) -> Self
    where
        T: for<'a> From<&'a U>,
    {
        Self { data: page.data.iter().map(T::from).collect(), next_cursor: page.next_cursor.clone() }
    }

    /// A whole collection in one page (no cursor).
    pub fn all<U>(rows: &[U]) -> Self
    where
        T: for<'a> From<&'a U>,
    {
        Self { data: rows.iter().map(T::from).collect(), next_cursor: None }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensDto {
    pub access_token: String,
    pub refresh_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipDto {
    pub id: Uuid,
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    #[schema(value_type = enums::Role)]
    pub role: Role,
    #[schema(value_type = enums::MembershipStatus)]
    pub status: MembershipStatus,
    pub manager_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&Membership> for MembershipDto {
    fn from(m: &Membership) -> Self {
        Self {
            id: m.id.as_uuid(),
            user_id: m.user_id.as_uuid(),
            tenant_id: m.tenant_id.as_uuid(),
            role: m.role,
            status: m.status,
            manager_id: m.manager_id.map(|u| u.as_uuid()),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberUserDto {
    pub id: Uuid,
    pub email: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberDto {
    #[serde(flatten)]
    pub membership: MembershipDto,
    pub user: MemberUserDto,
}

impl From<&MemberView> for MemberDto {
    fn from(v: &MemberView) -> Self {
        Self {
            membership: MembershipDto::from(&v.membership),
            user: MemberUserDto { id: v.membership.user_id.as_uuid(), email: v.email.clone(), name: v.name.clone() },
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    #[schema(value_type = enums::Role)]
    pub role: Role,
    pub invited_by: Uuid,
    #[schema(value_type = enums::InviteStatus)]
    pub status: InviteStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Invite> for InviteDto {
    fn from(i: &Invite) -> Self {
        Self {
            id: i.id.as_uuid(),
            tenant_id: i.tenant_id.as_uuid(),
            email: i.email.clone(),
            role: i.role,
            invited_by: i.invited_by.as_uuid(),
            status: i.status,
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            created_at: i.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub label: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&ApiKey> for ApiKeyDto {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.as_uuid(),
            tenant_id: k.tenant_id.as_uuid(),
            label: k.label.clone(),
            key_prefix: k.key_prefix.clone(),
            scopes: k.scopes.clone(),
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            created_by: k.created_by.as_uuid(),
            created_at: k.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[schema(value_type = enums::AuditEventType)]
    pub event_type: AuditEventType,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub action: String,
    #[schema(value_type = Object)]
    pub details: AuditDetails,
    pub user_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&AuditLog> for AuditLogDto {
    fn from(a: &AuditLog) -> Self {
        Self {
            id: a.id.as_uuid(),
            tenant_id: a.tenant_id.as_uuid(),
            event_type: a.event_type,
            entity_type: a.entity_type.clone(),
            entity_id: a.entity_id,
            action: a.action.clone(),
            details: a.details.clone(),
            user_id: a.user_id.map(|u| u.as_uuid()),
            ip_address: a.ip_address.map(|ip| ip.to_string()),
            user_agent: a.user_agent.clone(),
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = enums::ActivityType)]
    pub kind: ActivityType,
    pub description: String,
    #[schema(value_type = Option<Value>)]
    pub metadata: Option<serde_json::Value>,
    pub user_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Activity> for ActivityDto {
    fn from(a: &Activity) -> Self {
        Self {
            id: a.id.as_uuid(),
            tenant_id: a.tenant_id.as_uuid(),
            lead_id: a.lead_id.as_uuid(),
            kind: a.kind,
            description: a.description.clone(),
            metadata: a.metadata.clone(),
            user_id: a.user_id.as_uuid(),
            created_at: a.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = enums::EvidenceType)]
    pub kind: EvidenceType,
    pub title: String,
    pub source: Option<String>,
    pub url: Option<String>,
    pub snippet: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub raw_data: Option<serde_json::Value>,
    #[schema(value_type = enums::Confidence)]
    pub confidence: Confidence,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Evidence> for EvidenceDto {
    fn from(e: &Evidence) -> Self {
        Self {
            id: e.id.as_uuid(),
            tenant_id: e.tenant_id.as_uuid(),
            lead_id: e.lead_id.as_uuid(),
            kind: e.kind,
            title: e.title.clone(),
            source: e.source.clone(),
            url: e.url.clone(),
            snippet: e.snippet.clone(),
            raw_data: e.raw_data.clone(),
            confidence: e.confidence,
            created_at: e.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub is_smart: bool,
    #[schema(value_type = Option<Object>)]
    pub smart_filters: Option<leadzone_domain::entities::SmartFilters>,
    pub created_by: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub leads_count: i64,
}

impl ListDto {
    pub fn new(l: &List, leads_count: i64) -> Self {
        Self {
            id: l.id.as_uuid(),
            tenant_id: l.tenant_id.as_uuid(),
            name: l.name.clone(),
            description: l.description.clone(),
            color: l.color.clone(),
            is_smart: l.is_smart,
            smart_filters: l.smart_filters.clone(),
            created_by: l.created_by.as_uuid(),
            created_at: l.created_at,
            updated_at: l.updated_at,
            leads_count,
        }
    }
}
