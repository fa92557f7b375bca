//! SeaORM entities: one module per table, shaped exactly like the SQL in `migrations/`. They stay
//! private to this crate; the rest of the system sees domain types (see `mapping`).

pub(crate) mod activities;
pub(crate) mod api_keys;
pub(crate) mod evidence;
pub(crate) mod feature_flags;
pub(crate) mod invites;
pub(crate) mod job_logs;
pub(crate) mod jobs;
pub(crate) mod leads;
pub(crate) mod lists;
pub(crate) mod memberships;
pub(crate) mod plans;
pub(crate) mod subscriptions;
pub(crate) mod tenant_features;
pub(crate) mod tenants;
pub(crate) mod users;
