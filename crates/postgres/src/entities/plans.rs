//! The `plans` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub name_ar: String,
    pub description: Option<String>,
    pub price_monthly: i32,
    pub price_yearly: i32,
    pub seats_limit: i32,
    pub leads_limit: i32,
    pub searches_limit: i32,
    pub messages_limit: i32,
    #[sea_orm(column_type = "JsonBinary")]
    pub features: Json,
    pub is_active: bool,
    pub sort_order: i32,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
