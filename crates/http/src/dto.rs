//! Response bodies: exactly the TypeScript interfaces of data-model.md, in camelCase. Secrets
//! (`passwordHash`, token hashes) have no field here, so they cannot leak by accident.

use leadzone_domain::entities::{Lead, Tenant, TenantSettings, User};
use leadzone_domain::enums::{LeadStatus, Role, TenantStatus};
use leadzone_domain::leads::EnrichmentData;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Serialize)]
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantDto {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub logo_url: Option<String>,
    pub status: TenantStatus,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    pub user: UserDto,
    pub tenant: TenantDto,
    pub role: Role,
    pub access_token: String,
    pub refresh_token: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipSummary {
    pub tenant: TenantDto,
    pub role: Role,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    pub user: UserDto,
    pub tenant: TenantDto,
    pub role: Role,
    pub permissions: Vec<&'static str>,
    pub memberships: Vec<MembershipSummary>,
}

#[derive(Serialize)]
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
    pub status: LeadStatus,
    pub score: Option<i32>,
    pub tags: Vec<String>,
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
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageDto<T: Serialize> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}
