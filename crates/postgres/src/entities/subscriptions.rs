//! The `subscriptions` table.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub plan_id: String,
    pub status: String,
    pub billing_cycle: String,
    pub current_period_start: TimeDateTimeWithTimeZone,
    pub current_period_end: TimeDateTimeWithTimeZone,
    pub cancel_at_period_end: bool,
    pub trial_ends_at: Option<TimeDateTimeWithTimeZone>,
    pub stripe_subscription_id: Option<String>,
    pub created_at: TimeDateTimeWithTimeZone,
    pub updated_at: TimeDateTimeWithTimeZone,
    pub stripe_event_at: Option<TimeDateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
