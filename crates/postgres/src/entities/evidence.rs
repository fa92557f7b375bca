//! The `evidence` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub lead_id: Uuid,
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub title: String,
    pub source: Option<String>,
    pub url: Option<String>,
    pub snippet: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub raw_data: Option<Json>,
    pub confidence: String,
    pub created_at: TimeDateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
