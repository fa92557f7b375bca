//! The `leads` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub company_name: String,
    pub industry: Option<String>,
    pub city: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub status: String,
    pub score: Option<i32>,
    pub tags: Vec<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub enrichment_data: Json,
    pub list_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub created_by: Uuid,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub last_contacted_at: Option<TimeDateTimeWithTimeZone>,
    pub website_host: Option<String>,
    pub name_key: String,
    pub city_key: Option<String>,
    pub search_text: String,
    pub place_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
