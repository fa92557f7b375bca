//! The `jobs` table (the queue).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub status: String,
    pub progress: i32,
    pub message: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    #[sea_orm(column_type = "JsonBinary")]
    pub input: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub result: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub error: Option<Json>,
    pub created_by: Uuid,
    pub created_at: TimeDateTimeWithTimeZone,
    pub started_at: Option<TimeDateTimeWithTimeZone>,
    pub completed_at: Option<TimeDateTimeWithTimeZone>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: TimeDateTimeWithTimeZone,
    pub locked_by: Option<String>,
    pub locked_until: Option<TimeDateTimeWithTimeZone>,
    pub priority: i32,
    pub idempotency_key: Option<String>,
    pub cancel_requested: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
