//! Lists: static lists (a lead's `listId`) and smart lists (saved filters evaluated at read time
//! by the same query builder as `GET /leads`). Every list carries `leadsCount`, computed for all
//! lists in one statement.

use crate::leads::{ListParams, Page, parse_list_params};
use crate::{AppError, Ctx, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{Lead, List, SmartFilters};
use leadzone_domain::enums::ActivityType;
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{LeadId, ListId};
use leadzone_domain::leads::LeadFilter;
use leadzone_domain::values::{optional_text, required_text};
use leadzone_ports::leads::LeadQuery;
use leadzone_ports::{leads::BulkChange, tx::TenantTx};

/// A list with its count of visible leads.
#[derive(Debug, Clone, PartialEq)]
pub struct ListView {
    pub list: List,
    pub leads_count: i64,
}

/// Create or replace a list's fields; `None` leaves a field as is on update.
#[derive(Debug, Clone, Default)]
pub struct ListInput {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub color: Option<Option<String>>,
    pub is_smart: Option<bool>,
    pub smart_filters: Option<Option<serde_json::Value>>,
}

pub(crate) fn filter_of(list: &List) -> LeadFilter {
    match (&list.is_smart, &list.smart_filters) {
        (true, Some(f)) => LeadFilter::from_smart(f),
        (true, None) => LeadFilter::default(),
        (false, _) => LeadFilter { list_id: Some(list.id), ..Default::default() },
    }
}

crate::service! {
    /// Lists and smart lists.
    Lists { ports: [uow, clock, ids], uses: [leads: crate::leads::Leads] }
}

impl Lists {
    async fn views(&self, ctx: &Ctx, tx: &dyn TenantTx, lists: Vec<List>) -> Result<Vec<ListView>, AppError> {
        let visibility = policy::lead_visibility(ctx, tx).await?;
        let filters: Vec<LeadFilter> = lists.iter().map(filter_of).collect();
        let counts = tx.leads().count_matching(&visibility, &filters).await?;
        Ok(lists.into_iter().zip(counts).map(|(list, leads_count)| ListView { list, leads_count }).collect())
    }

    async fn one_view(&self, ctx: &Ctx, tx: &dyn TenantTx, list: List) -> Result<ListView, AppError> {
        self.views(ctx, tx, vec![list]).await?.pop().ok_or_else(|| AppError::Internal("no count".into()))
    }

    /// A page of the tenant's lists, oldest first (`limit` 1–200, default 50; `cursor` the
    /// previous page's `nextCursor`). Counts are computed for the page's lists only.
    pub async fn list_lists(
        &self,
        ctx: &Ctx,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<Page<ListView>, AppError> {
        policy::require(ctx, Permission::ListsRead)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let lists = tx.lists().all().await?;
        let page = crate::cursor::page_by_id(lists, |l| l.id.as_uuid(), limit, cursor)?;
        let data = self.views(ctx, &*tx, page.data).await?;
        Ok(Page { data, next_cursor: page.next_cursor })
    }

    pub async fn get_list(&self, ctx: &Ctx, id: ListId) -> Result<ListView, AppError> {
        policy::require(ctx, Permission::ListsRead)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let list = tx.lists().get(id).await?;
        self.one_view(ctx, &*tx, list).await
    }

    pub async fn create_list(&self, ctx: &Ctx, input: ListInput) -> Result<ListView, AppError> {
        policy::require(ctx, Permission::ListsWrite)?;
        let now = self.clock.now();
        let blank = List {
            id: self.ids.new_id().into(),
            tenant_id: ctx.tenant_id,
            name: String::new(),
            description: None,
            color: None,
            is_smart: false,
            smart_filters: None,
            created_by: ctx.user_id,
            created_at: now,
            updated_at: now,
        };
        let list = apply(blank, input, true)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.lists().insert(&list).await?;
        let view = self.one_view(ctx, &*tx, list).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn update_list(&self, ctx: &Ctx, id: ListId, input: ListInput) -> Result<ListView, AppError> {
        policy::require(ctx, Permission::ListsWrite)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let before = tx.lists().get(id).await?;
        if input.is_smart.is_some_and(|s| s != before.is_smart) {
            return Err(AppError::field("isSmart", "cannot change after creation"));
        }
        let mut list = apply(before, input, false)?;
        list.updated_at = self.clock.now();
        tx.lists().update(&list).await?;
        let view = self.one_view(ctx, &*tx, list).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Deletes a list; its leads stay, without a list.
    pub async fn delete_list(&self, ctx: &Ctx, id: ListId) -> Result<(), AppError> {
        policy::require(ctx, Permission::ListsWrite)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.lists().delete(id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The list's leads: for a smart list, those matching its filters now. Paged like `GET /leads`.
    pub async fn list_leads_of(&self, ctx: &Ctx, id: ListId, params: ListParams) -> Result<Page<Lead>, AppError> {
        policy::require(ctx, Permission::ListsRead)?;
        policy::require(ctx, Permission::LeadsRead)?;
        let (_, sort, sort_name, limit, after) = parse_list_params(ctx, ListParams { q: None, ..params })?;
        let tx = self.uow.begin_read(ctx.tenant_id, false).await?;
        let list = tx.lists().get(id).await?;
        let visibility = policy::lead_visibility(ctx, &*tx).await?;
        self.leads
            .page_of_leads(&*tx, LeadQuery { visibility, filter: filter_of(&list), sort, after, limit }, &sort_name)
            .await
    }

    /// Adds (or removes) visible leads to a static list, with LIST_ADD / LIST_REMOVE activities.
    /// Returns how many leads changed. A smart list is 409.
    pub async fn change_list_membership(
        &self,
        ctx: &Ctx,
        id: ListId,
        lead_ids: Vec<LeadId>,
        add: bool,
    ) -> Result<u64, AppError> {
        policy::require(ctx, Permission::ListsWrite)?;
        policy::require(ctx, Permission::LeadsWrite)?;
        if lead_ids.is_empty() {
            return Err(AppError::field("leadIds", "at least one lead id is required"));
        }
        if lead_ids.len() > crate::lead_actions::MAX_BULK_IDS {
            return Err(AppError::field("leadIds", "at most 10000 lead ids"));
        }
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let list = tx.lists().get(id).await?;
        if list.is_smart {
            return Err(AppError::Conflict(crate::error::ConflictKind::SmartListMembership));
        }
        let visibility = policy::lead_visibility(ctx, &*tx).await?;
        let change = if add { BulkChange::AddToList(id) } else { BulkChange::RemoveFromList(id) };
        let now = self.clock.now();
        let changed = tx.leads().bulk(&change, &lead_ids, &visibility, now).await?;
        let (kind, description) = if add {
            (ActivityType::ListAdd, format!("Added to list {}", list.name))
        } else {
            (ActivityType::ListRemove, format!("Removed from list {}", list.name))
        };
        let rows: Vec<_> = changed
            .iter()
            .map(|lead| leadzone_domain::entities::Activity {
                id: self.ids.new_id().into(),
                tenant_id: ctx.tenant_id,
                lead_id: *lead,
                kind,
                description: description.clone(),
                metadata: Some(serde_json::json!({"listId": id})),
                user_id: ctx.user_id,
                created_at: now,
            })
            .collect();
        tx.activities().insert_many(&rows).await?;
        tx.commit().await?;
        Ok(changed.len() as u64)
    }
}

/// Validates and applies list fields. `creating` requires a name.
fn apply(mut list: List, input: ListInput, creating: bool) -> Result<List, AppError> {
    let mut v = Validator::new();
    match (&input.name, creating) {
        (Some(n), _) => {
            if let Some(n) = v.check_field("name", required_text(n, 255)) {
                list.name = n;
            }
        }
        (None, true) => v.push("name", "is required"),
        (None, false) => {}
    }
    if let Some(d) = &input.description
        && let Some(d) = v.check_field("description", optional_text(d.as_deref(), 10_000))
    {
        list.description = d;
    }
    if let Some(c) = &input.color {
        match c.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => list.color = None,
            Some(c) if c.len() <= 20 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '#') => {
                list.color = Some(c.to_owned())
            }
            Some(_) => v.push("color", "must be a colour name or #hex of at most 20 characters"),
        }
    }
    if creating {
        list.is_smart = input.is_smart.unwrap_or(false);
    }
    match (&input.smart_filters, list.is_smart) {
        // A list is not filters (serde would read `[null, null]` as `{}`: every lead).
        (Some(Some(json)), true) if !json.is_object() => v.push("smartFilters", "must be an object"),
        (Some(Some(json)), true) => match serde_json::from_value::<SmartFilters>(json.clone()) {
            Ok(f) => list.smart_filters = Some(f),
            Err(e) => v.push("smartFilters", format!("does not match the smart filter shape: {e}")),
        },
        (Some(None), true) | (None, true) if creating => v.push("smartFilters", "is required for a smart list"),
        (Some(Some(_)), false) => v.push("smartFilters", "only a smart list has filters"),
        _ => {}
    }
    v.finish()?;
    Ok(list)
}
