//! Working a lead: edit, delete, status, assignment, the activity timeline, evidence, bulk
//! actions and statistics. Every action checks permission and visibility first (an invisible
//! lead is 404) and writes its activity and audit rows in the same transaction.

use crate::leads::{Page, check_references, lead_snapshot};
use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{Activity, AuditDetails, Evidence, Lead};
use leadzone_domain::enums::{ActivityType, AuditEventType, Confidence, EvidenceType, LeadStatus};
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{ActivityId, LeadId, ListId, UserId};
use leadzone_domain::leads::{LeadFilter, LeadPatchInput, normalize_tags};
use leadzone_domain::values::{WebsiteUrl, optional_text, required_text};
use leadzone_domain::webhooks::WebhookEvent;
use leadzone_ports::RepoError;
use leadzone_ports::{leads::BulkChange, leads::LeadStats, tx::TenantTx};
use serde_json::json;
use time::OffsetDateTime;

/// Most ids one bulk request may name (api.md).
pub const MAX_BULK_IDS: usize = 10_000;
/// Leads changed per transaction in a bulk action.
pub const BULK_BATCH: usize = 1_000;

/// `POST /leads/{id}/evidence` (type CUSTOM), as sent.
#[derive(Debug, Clone, Default)]
pub struct EvidenceInput {
    pub title: String,
    pub url: Option<String>,
    pub snippet: Option<String>,
    pub source: Option<String>,
    pub confidence: Option<String>,
    /// Any JSON object kept with the evidence (the HTTP layer refuses other JSON types).
    pub raw_data: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BulkTarget {
    Ids(Vec<LeadId>),
    Filter(LeadFilter),
}

/// What `POST /leads/bulk` does to its leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Delete,
    Assign,
    SetStatus,
    AddToList,
    RemoveFromList,
    AddTags,
    RemoveTags,
}

impl BulkAction {
    /// The contract's name for it (`action` in the request, and in the audit row).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Assign => "assign",
            Self::SetStatus => "setStatus",
            Self::AddToList => "addToList",
            Self::RemoveFromList => "removeFromList",
            Self::AddTags => "addTags",
            Self::RemoveTags => "removeTags",
        }
    }
}

/// `POST /leads/bulk`, validated by the HTTP layer's field reader and by `bulk_leads`.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkInput {
    pub action: BulkAction,
    pub target: BulkTarget,
    pub status: Option<String>,
    pub user_id: Option<Option<UserId>>,
    pub list_id: Option<ListId>,
    pub tags: Option<Vec<String>>,
}

impl crate::leads::Leads {
    /// Loads a lead the actor may act on with `p`, in `tx`.
    pub(crate) async fn visible_lead(
        &self,
        ctx: &Ctx,
        tx: &dyn TenantTx,
        id: LeadId,
        p: Permission,
    ) -> Result<Lead, AppError> {
        policy::require(ctx, p)?;
        let lead = tx.leads().get(id).await?;
        policy::require_on_lead(ctx, tx, p, &lead).await?;
        Ok(lead)
    }

    pub(crate) fn activity(
        &self,
        ctx: &Ctx,
        lead: LeadId,
        kind: ActivityType,
        description: String,
        metadata: Option<serde_json::Value>,
        at: OffsetDateTime,
    ) -> Activity {
        Activity {
            id: self.ids.new_id().into(),
            tenant_id: ctx.tenant_id,
            lead_id: lead,
            kind,
            description,
            metadata,
            user_id: ctx.user_id,
            created_at: at,
        }
    }

    pub async fn update_lead(
        &self,
        ctx: &Ctx,
        id: LeadId,
        patch: LeadPatchInput,
        allow_duplicate: bool,
    ) -> Result<Lead, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let before = self.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
        let new = patch.apply(&before)?;
        check_references(
            &*tx,
            new.list_id.filter(|l| Some(*l) != before.list_id),
            new.assigned_to.filter(|u| Some(*u) != before.assigned_to),
        )
        .await?;
        let keys = new.dedup_keys();
        if !allow_duplicate && let Some(found) = tx.leads().find_duplicate(&keys, Some(id)).await? {
            return Err(AppError::DuplicateLead { existing: found.lead_id() });
        }
        let now = self.clock.now();
        let after = Lead {
            company_name: new.company_name,
            industry: new.industry,
            city: new.city,
            phone: new.phone.map(|p| p.as_str().to_owned()),
            email: new.email.map(|e| e.as_str().to_owned()),
            website: new.website.map(|w| w.as_str().to_owned()),
            score: new.score,
            tags: new.tags,
            enrichment_data: new.enrichment_data,
            list_id: new.list_id,
            assigned_to: new.assigned_to,
            updated_at: now,
            ..before.clone()
        };
        tx.leads().update(&after, &keys).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::LeadUpdated,
                Some((leadzone_domain::enums::AuditEntityType::Lead, id.as_uuid())),
                "lead updated",
                AuditDetails {
                    before: Some(lead_snapshot(&before)),
                    after: Some(lead_snapshot(&after)),
                    metadata: None,
                },
            ))
            .await?;
        self.webhooks.emit(&*tx, WebhookEvent::LeadUpdated, crate::leads::lead_event(&after)).await?;
        if after.assigned_to != before.assigned_to {
            self.webhooks.emit(&*tx, WebhookEvent::LeadAssigned, crate::leads::lead_event(&after)).await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    pub async fn delete_lead(&self, ctx: &Ctx, id: LeadId) -> Result<(), AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let lead = self.visible_lead(ctx, &*tx, id, Permission::LeadsDelete).await?;
        tx.leads().delete(id).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::LeadDeleted,
                Some((leadzone_domain::enums::AuditEntityType::Lead, id.as_uuid())),
                "lead deleted",
                AuditDetails { before: Some(lead_snapshot(&lead)), ..Default::default() },
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a lead along the status machine (409 `INVALID_STATE_TRANSITION` otherwise).
    pub async fn change_status(
        &self,
        ctx: &Ctx,
        id: LeadId,
        status: &str,
        reason: Option<String>,
    ) -> Result<Lead, AppError> {
        let mut v = Validator::new();
        let to = v.check_field(
            "status",
            status.trim().parse::<LeadStatus>().map_err(|_| {
                leadzone_domain::DomainError::field("", "must be one of NEW, PROSPECTED, CONTACTED, QUALIFIED, LOST")
            }),
        );
        let reason = v.check_field("reason", optional_text(reason.as_deref(), 1000));
        v.finish()?;
        let (Some(to), Some(reason)) = (to, reason) else {
            return Err(AppError::Internal("validated fields missing".into()));
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let lead = self.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
        let to = lead.status.transition_to(to)?;
        let now = self.clock.now();
        let after = Lead { status: to, updated_at: now, ..lead.clone() };
        tx.leads().update(&after, &keys_of(&after)?).await?;
        let description = format!("Status {} → {}", lead.status, to);
        tx.activities()
            .insert(&self.activity(
                ctx,
                id,
                ActivityType::StatusChange,
                description,
                Some(json!({"from": lead.status, "to": to, "reason": reason})),
                now,
            ))
            .await?;
        let mut data = crate::leads::lead_event(&after);
        if let Some(o) = data.as_object_mut() {
            o.insert("previousStatus".into(), json!(lead.status));
        }
        self.webhooks.emit(&*tx, WebhookEvent::LeadStatusChanged, data).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Assigns a lead to an active member, or unassigns it with `None`.
    pub async fn assign_lead(&self, ctx: &Ctx, id: LeadId, user: Option<UserId>) -> Result<Lead, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let lead = self.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
        check_references(&*tx, None, user).await?;
        let now = self.clock.now();
        let after = Lead { assigned_to: user, updated_at: now, ..lead.clone() };
        tx.leads().update(&after, &keys_of(&after)?).await?;
        let description = match user {
            Some(u) => format!("Assigned to {u}"),
            None => "Unassigned".to_owned(),
        };
        tx.activities()
            .insert(&self.activity(
                ctx,
                id,
                ActivityType::Assigned,
                description,
                Some(json!({"from": lead.assigned_to, "to": user})),
                now,
            ))
            .await?;
        self.webhooks.emit(&*tx, WebhookEvent::LeadAssigned, crate::leads::lead_event(&after)).await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn list_activities(
        &self,
        ctx: &Ctx,
        id: LeadId,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page<Activity>, AppError> {
        let (limit, after) = parse_time_page(limit, cursor)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        self.visible_lead(ctx, &*tx, id, Permission::LeadsRead).await?;
        let rows = tx.activities().list(id, after.map(|(t, i)| (t, ActivityId::from_uuid(i))), limit + 1).await?;
        Ok(Page::of_overfetched(rows, limit, |a| encode_time_cursor(a.created_at, a.id.as_uuid())))
    }

    /// Records a NOTE, CALL or MEETING; a CALL or MEETING sets `lastContactedAt`.
    pub async fn add_activity(
        &self,
        ctx: &Ctx,
        id: LeadId,
        kind: &str,
        description: &str,
        metadata: Option<serde_json::Value>,
    ) -> Result<Activity, AppError> {
        let mut v = Validator::new();
        let kind = match kind.trim().parse::<ActivityType>() {
            Ok(k) if k.is_manual() => Some(k),
            _ => {
                v.push("type", "must be NOTE, CALL or MEETING");
                None
            }
        };
        let description = v.check_field("description", required_text(description, 10_000));
        if metadata.as_ref().is_some_and(|m| !m.is_object()) {
            v.push("metadata", "must be an object");
        }
        v.finish()?;
        let (Some(kind), Some(description)) = (kind, description) else {
            return Err(AppError::Internal("validated fields missing".into()));
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        self.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
        let now = self.clock.now();
        let activity = self.activity(ctx, id, kind, description, metadata, now);
        tx.activities().insert(&activity).await?;
        if kind.is_contact() {
            tx.leads().touch_contacted(id, now).await?;
        }
        tx.commit().await?;
        Ok(activity)
    }

    /// A lead's evidence, oldest first, paged by id (a lead has tens of rows, not thousands).
    pub async fn list_evidence(
        &self,
        ctx: &Ctx,
        id: LeadId,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<crate::leads::Page<Evidence>, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        self.visible_lead(ctx, &*tx, id, Permission::LeadsRead).await?;
        let rows = tx.evidence().list(id).await?;
        crate::cursor::page_by_id(rows, |e| e.id.as_uuid(), limit, cursor)
    }

    /// Adds CUSTOM evidence: a title, an optional http(s) URL and snippet.
    pub async fn add_evidence(&self, ctx: &Ctx, id: LeadId, input: EvidenceInput) -> Result<Evidence, AppError> {
        let EvidenceInput { title, url, snippet, source, confidence, raw_data } = input;
        if raw_data.as_ref().is_some_and(|r| !r.is_object()) {
            return Err(AppError::field("rawData", "must be an object"));
        }
        let mut v = Validator::new();
        let title = v.check_field("title", required_text(&title, 255));
        let url = v.check_field(
            "url",
            match url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
                None => Ok(None),
                Some(u) => WebsiteUrl::parse(u).map(|w| Some(w.as_str().to_owned())),
            },
        );
        let snippet = v.check_field("snippet", optional_text(snippet.as_deref(), 10_000));
        let source = v.check_field("source", optional_text(source.as_deref(), 255));
        let confidence = match confidence.as_deref().map(str::trim) {
            None => Some(Confidence::Medium),
            Some(c) => match c.parse::<Confidence>() {
                Ok(c) => Some(c),
                Err(_) => {
                    v.push("confidence", "must be HIGH, MEDIUM or LOW");
                    None
                }
            },
        };
        v.finish()?;
        let (Some(title), Some(url), Some(snippet), Some(source), Some(confidence)) =
            (title, url, snippet, source, confidence)
        else {
            return Err(AppError::Internal("validated fields missing".into()));
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        self.visible_lead(ctx, &*tx, id, Permission::LeadsWrite).await?;
        let evidence = Evidence {
            id: self.ids.new_id().into(),
            tenant_id: ctx.tenant_id,
            lead_id: id,
            kind: EvidenceType::Custom,
            title,
            source,
            url,
            snippet,
            raw_data,
            confidence,
            created_at: self.clock.now(),
        };
        tx.evidence().insert(&evidence).await?;
        tx.commit().await?;
        Ok(evidence)
    }

    /// Statistics over the leads the actor can see (the last 30 days for `createdPerDay`).
    pub async fn lead_stats(&self, ctx: &Ctx) -> Result<LeadStats, AppError> {
        policy::require(ctx, Permission::LeadsRead)?;
        let tx = self.uow.begin_read(ctx.tenant_id, false).await?;
        let visibility = policy::lead_visibility(ctx, &*tx).await?;
        Ok(tx.leads().stats(&visibility, self.clock.now() - time::Duration::days(30)).await?)
    }

    /// One change to many leads, by ids or by filter, in transactions of `BULK_BATCH` leads. Leads
    /// the actor cannot see are never touched. One audit row for the whole action.
    pub async fn bulk_leads(&self, ctx: &Ctx, input: BulkInput) -> Result<u64, AppError> {
        policy::require(ctx, Permission::LeadsBulk)?;
        let mut v = Validator::new();
        let change = match input.action {
            BulkAction::Delete => Some(BulkChange::Delete),
            BulkAction::Assign => match input.user_id {
                Some(u) => Some(BulkChange::Assign(u)),
                None => {
                    v.push("userId", "is required for assign (null unassigns)");
                    None
                }
            },
            BulkAction::SetStatus => match input.status.as_deref().map(|s| s.trim().parse::<LeadStatus>()) {
                Some(Ok(s)) => Some(BulkChange::SetStatus(s)),
                _ => {
                    v.push("status", "must be one of NEW, PROSPECTED, CONTACTED, QUALIFIED, LOST");
                    None
                }
            },
            BulkAction::AddToList | BulkAction::RemoveFromList => match input.list_id {
                Some(l) if input.action == BulkAction::AddToList => Some(BulkChange::AddToList(l)),
                Some(l) => Some(BulkChange::RemoveFromList(l)),
                None => {
                    v.push("listId", "is required");
                    None
                }
            },
            BulkAction::AddTags | BulkAction::RemoveTags => match input.tags.as_deref().map(normalize_tags) {
                Some(Ok(tags)) if !tags.is_empty() => Some(if input.action == BulkAction::AddTags {
                    BulkChange::AddTags(tags)
                } else {
                    BulkChange::RemoveTags(tags)
                }),
                Some(Err(e)) => {
                    v.check_field::<()>("tags", Err(e));
                    None
                }
                _ => {
                    v.push("tags", "at least one tag is required");
                    None
                }
            },
        };
        if let BulkTarget::Ids(ids) = &input.target
            && ids.len() > MAX_BULK_IDS
        {
            v.push("ids", format!("at most {MAX_BULK_IDS} ids"));
        }
        v.finish()?;
        let Some(change) = change else { return Err(AppError::Internal("validated change missing".into())) };
        if change == BulkChange::Delete {
            policy::require(ctx, Permission::LeadsDelete)?;
        }

        // Resolve the targets and check references once, in a first transaction.
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let visibility = policy::lead_visibility(ctx, &*tx).await?;
        match &change {
            BulkChange::Assign(Some(user)) => check_references(&*tx, None, Some(*user)).await?,
            BulkChange::AddToList(list) | BulkChange::RemoveFromList(list) => {
                let l = tx.lists().get(*list).await.map_err(|e| match e {
                    RepoError::NotFound => AppError::field("listId", "no such list"),
                    other => other.into(),
                })?;
                if l.is_smart {
                    return Err(AppError::Conflict(crate::error::ConflictKind::SmartListMembership));
                }
            }
            _ => {}
        }
        let ids = match input.target {
            BulkTarget::Ids(mut ids) => {
                ids.sort();
                ids.dedup();
                ids
            }
            BulkTarget::Filter(filter) => tx.leads().matching_ids(&visibility, &filter, MAX_BULK_IDS as u64).await?,
        };
        drop(tx);

        let mut affected: u64 = 0;
        for batch in ids.chunks(BULK_BATCH) {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            let now = self.clock.now();
            let changed = tx.leads().bulk(&change, batch, &visibility, now).await?;
            let activity = match &change {
                BulkChange::SetStatus(s) => Some((ActivityType::StatusChange, format!("Status → {s} (bulk)"))),
                BulkChange::Assign(u) => Some((
                    ActivityType::Assigned,
                    u.map_or("Unassigned (bulk)".to_owned(), |u| format!("Assigned to {u} (bulk)")),
                )),
                BulkChange::AddToList(l) => Some((ActivityType::ListAdd, format!("Added to list {l} (bulk)"))),
                BulkChange::RemoveFromList(l) => {
                    Some((ActivityType::ListRemove, format!("Removed from list {l} (bulk)")))
                }
                _ => None,
            };
            if let Some((kind, description)) = activity {
                let rows: Vec<Activity> =
                    changed.iter().map(|id| self.activity(ctx, *id, kind, description.clone(), None, now)).collect();
                tx.activities().insert_many(&rows).await?;
            }
            tx.commit().await?;
            affected += changed.len() as u64;
        }

        let tx = self.uow.begin(ctx.tenant_id).await?;
        let event =
            if change == BulkChange::Delete { AuditEventType::LeadBulkDelete } else { AuditEventType::LeadUpdated };
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                event,
                None,
                format!("bulk {}", input.action.as_str()),
                AuditDetails {
                    metadata: Some(
                        json!({"action": input.action.as_str(), "requested": ids.len(), "affected": affected}),
                    ),
                    ..Default::default()
                },
            ))
            .await?;
        tx.commit().await?;
        Ok(affected)
    }
}

/// Dedup keys of a stored lead (for writes that do not change them).
pub(crate) fn keys_of(lead: &Lead) -> Result<leadzone_domain::leads::DedupKeys, AppError> {
    Ok(LeadPatchInput::default().apply(lead)?.dedup_keys())
}

pub(crate) fn encode_time_cursor(at: OffsetDateTime, id: uuid::Uuid) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&(at.unix_timestamp_nanos(), id)).unwrap_or_default())
}

/// `limit` and a (createdAt, id) cursor, as sent.
pub(crate) fn parse_time_page(
    limit: Option<String>,
    cursor: Option<String>,
) -> Result<(u64, Option<(OffsetDateTime, uuid::Uuid)>), AppError> {
    use base64::Engine;
    let mut v = Validator::new();
    let limit = crate::cursor::parse_limit(limit.as_deref(), &mut v);
    let after = match cursor.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c.as_bytes())
                .ok()
                .and_then(|b| serde_json::from_slice::<(i128, uuid::Uuid)>(&b).ok())
                .and_then(|(t, id)| OffsetDateTime::from_unix_timestamp_nanos(t).ok().map(|t| (t, id)))
                .filter(|(t, _)| (1970..=9999).contains(&t.year()));
            if decoded.is_none() {
                v.push("cursor", "is not a valid cursor for this query");
            }
            decoded
        }
    };
    v.finish()?;
    Ok((limit, after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, app_with_txs, ctx};
    use leadzone_domain::access::LeadVisibility;
    use leadzone_domain::enums::Role;

    fn lead(n: u128) -> LeadId {
        uuid::Uuid::from_u128(n).into()
    }

    fn set_status(ids: Vec<LeadId>, status: Option<&str>) -> BulkInput {
        BulkInput {
            action: BulkAction::SetStatus,
            target: BulkTarget::Ids(ids),
            status: status.map(str::to_owned),
            user_id: None,
            list_id: None,
            tags: None,
        }
    }

    #[tokio::test]
    async fn a_bulk_action_missing_its_value_is_refused_before_any_transaction() {
        // No transaction prepared: beginning one would fail the call with another error.
        let app = app_with_txs(vec![]);
        let err = app.leads.bulk_leads(&ctx(Role::Owner, 1), set_status(vec![lead(1)], None)).await.unwrap_err();
        assert_eq!(err, AppError::field("status", "must be one of NEW, PROSPECTED, CONTACTED, QUALIFIED, LOST"));
        let mut input = set_status(vec![lead(1)], None);
        input.action = BulkAction::AddToList;
        let err = app.leads.bulk_leads(&ctx(Role::Owner, 1), input).await.unwrap_err();
        assert_eq!(err, AppError::field("listId", "is required"));
    }

    /// Targets resolved in one transaction, the change in another (with an activity only for the
    /// leads it changed), the audit row in a third, naming the action and both counts.
    #[tokio::test]
    async fn a_bulk_status_change_counts_and_records_only_the_leads_it_changed() {
        let resolve = FakeTx::default();
        let mut change = FakeTx::default();
        change
            .leads
            .expect_bulk()
            .withf(|c, ids, v, _| {
                *c == BulkChange::SetStatus(LeadStatus::Qualified)
                    && ids == [lead(1), lead(2)]
                    && *v == LeadVisibility::All
            })
            .times(1)
            .returning(|_, _, _, _| Ok(vec![lead(2)]));
        change
            .activities
            .expect_insert_many()
            .withf(|rows| rows.len() == 1 && rows[0].lead_id == lead(2) && rows[0].kind == ActivityType::StatusChange)
            .times(1)
            .returning(|_| Ok(()));
        let mut audit = FakeTx::default();
        audit
            .audit
            .expect_append()
            .withf(|e| {
                e.event_type == AuditEventType::LeadUpdated
                    && e.action == "bulk setStatus"
                    && e.details.metadata == Some(json!({"action": "setStatus", "requested": 2, "affected": 1}))
            })
            .times(1)
            .returning(|_| Ok(()));
        let app = app_with_txs(vec![resolve, change, audit]);
        // The same lead twice counts once.
        let input = set_status(vec![lead(2), lead(1), lead(2)], Some("QUALIFIED"));
        assert_eq!(app.leads.bulk_leads(&ctx(Role::Owner, 1), input).await.unwrap(), 1);
    }
}
