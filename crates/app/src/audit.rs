//! Building audit rows from a use case's context, written in the same transaction as the change.

use crate::Ctx;
use leadzone_domain::entities::AuditDetails;
use leadzone_domain::enums::AuditEventType;
use leadzone_ports::Ids;
use leadzone_ports::store::NewAuditLog;

/// An audit row for `event` on an entity, attributed to the context's actor and client.
pub fn entry(
    ids: &dyn Ids,
    ctx: &Ctx,
    event: AuditEventType,
    entity: Option<(&str, uuid::Uuid)>,
    action: impl Into<String>,
    details: AuditDetails,
) -> NewAuditLog {
    NewAuditLog {
        id: ids.new_id().into(),
        event_type: event,
        entity_type: entity.map(|(t, _)| t.to_owned()),
        entity_id: entity.map(|(_, id)| id),
        action: action.into(),
        details,
        user_id: Some(ctx.user_id),
        ip_address: ctx.client.ip,
        user_agent: ctx.client.user_agent.clone(),
    }
}
