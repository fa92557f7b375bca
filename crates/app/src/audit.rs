//! Building audit rows from a use case's context, written in the same transaction as the change.

use crate::Ctx;
use leadzone_domain::entities::AuditDetails;
use leadzone_domain::enums::AuditEventType;
use leadzone_ports::Ids;
use leadzone_ports::audit::NewAuditLog;

/// An audit row for `event` on an entity, attributed to the context's actor and client.
pub fn entry(
    ids: &dyn Ids,
    ctx: &Ctx,
    event: AuditEventType,
    entity: Option<(leadzone_domain::enums::AuditEntityType, uuid::Uuid)>,
    action: impl Into<String>,
    details: AuditDetails,
) -> NewAuditLog {
    NewAuditLog {
        user_id: Some(ctx.user_id),
        ip_address: ctx.client.ip,
        user_agent: ctx.client.user_agent.clone(),
        ..system_entry(ids, event, entity, action, details)
    }
}

/// An audit row for what the system did on its own (a billing period ending, a payment provider's
/// webhook): no actor, no client.
pub fn system_entry(
    ids: &dyn Ids,
    event: AuditEventType,
    entity: Option<(leadzone_domain::enums::AuditEntityType, uuid::Uuid)>,
    action: impl Into<String>,
    details: AuditDetails,
) -> NewAuditLog {
    NewAuditLog {
        id: ids.new_id().into(),
        event_type: event,
        entity_type: entity.map(|(t, _)| t),
        entity_id: entity.map(|(_, id)| id),
        action: action.into(),
        details,
        user_id: None,
        ip_address: None,
        user_agent: None,
    }
}

/// `GET /audit-logs`: filters, newest first, keyset cursor on (createdAt, id).
#[derive(Debug, Clone, Default)]
pub struct AuditParams {
    pub event_type: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub user_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

crate::service! {
    /// Reading the audit log.
    Audit { ports: [uow] }
}

impl Audit {
    pub async fn list_audit_logs(
        &self,
        ctx: &Ctx,
        p: AuditParams,
    ) -> Result<crate::leads::Page<leadzone_domain::entities::AuditLog>, crate::AppError> {
        use leadzone_domain::error::Validator;
        use std::str::FromStr;
        use time::format_description::well_known::Rfc3339;

        crate::policy::require(ctx, leadzone_domain::access::Permission::AuditRead)?;
        let mut v = Validator::new();
        let blank = |s: Option<String>| s.map(|x| x.trim().to_owned()).filter(|x| !x.is_empty());
        let mut q = leadzone_ports::audit::AuditQuery::default();
        if let Some(e) = blank(p.event_type) {
            q.event_type = v.check_field(
                "eventType",
                AuditEventType::from_str(&e)
                    .map_err(|_| leadzone_domain::DomainError::field("", "is not an audit event type")),
            );
        }
        q.entity_type = blank(p.entity_type);
        if let Some(e) = blank(p.entity_id) {
            q.entity_id = v.check_field(
                "entityId",
                uuid::Uuid::parse_str(&e).map_err(|_| leadzone_domain::DomainError::field("", "must be a UUID")),
            );
        }
        if let Some(u) = blank(p.user_id) {
            q.user_id = v.check_field(
                "userId",
                uuid::Uuid::parse_str(&u)
                    .map(Into::into)
                    .map_err(|_| leadzone_domain::DomainError::field("", "must be a UUID")),
            );
        }
        for (field, raw, slot) in [("from", blank(p.from), &mut q.from), ("to", blank(p.to), &mut q.to)] {
            if let Some(r) = raw {
                *slot = v.check_field(
                    field,
                    time::OffsetDateTime::parse(&r, &Rfc3339)
                        .map_err(|_| leadzone_domain::DomainError::field("", "must be an RFC 3339 time")),
                );
            }
        }
        v.finish()?;
        let (limit, after) = crate::lead_actions::parse_time_page(p.limit, p.cursor)?;
        q.after = after.map(|(t, id)| (t, id.into()));
        q.limit = limit + 1;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let rows = tx.audit().list(&q).await?;
        Ok(crate::leads::Page::of_overfetched(rows, limit, |last| {
            crate::lead_actions::encode_time_cursor(last.created_at, last.id.as_uuid())
        }))
    }
}
