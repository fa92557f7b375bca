//! WhatsApp on the tenant's own number: templates (submitted to Meta, their review status synced),
//! single sends through the WHATSAPP job, and the list of messages. Status and inbound webhooks
//! live in `whatsapp_webhooks.rs`; connecting the number in `integrations.rs`.
//!
//! Which number sends: the tenant's `WHATSAPP` connection; without one, development uses the
//! double (it accepts every send, and the server plays the statuses such a message would get),
//! and production refuses with 409 `CONFLICT` / `WHATSAPP_NOT_CONNECTED`.
//!
//! A send never goes twice: the message row is stored with its Idempotency-Key, the WHATSAPP job
//! records the attempt (`attempted_at`) in its own commit before calling Meta, and a job that finds
//! an attempt already recorded (its worker died while Meta was answering) does not call again —
//! the status webhook, which carries the message's id as `biz_opaque_callback_data`, fills in
//! Meta's id later.

use crate::error::{ConflictKind, ProblemCode};
use crate::jobs::{JobControl, JobFailure, job_error};
use crate::leads::Page;
use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::access::{LeadScope, Permission};
use leadzone_domain::entities::{Activity, AuditDetails, Job, Lead, WhatsAppMessage, WhatsAppTemplate};
use leadzone_domain::enums::{
    ActivityType, AuditEntityType, AuditEventType, IntegrationStatus, IntegrationType, JobEntityType, JobType,
    Language, TemplateCategory, TemplateStatus, UsageMetric, WhatsAppStatus,
};
use leadzone_domain::error::Validator;
use leadzone_domain::ids::{LeadId, WhatsAppMessageId, WhatsAppTemplateId};
use leadzone_domain::values::{PhoneE164, optional_text, required_text};
use leadzone_domain::whatsapp as rules;
use leadzone_ports::RepoError;
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::jobs::NewJob;
use leadzone_ports::tx::TenantTx;
use leadzone_ports::whatsapp::{
    MessageQuery, Outgoing, OutgoingMessage, StatusUpdate, TemplateSubmission, WhatsAppApi, WhatsAppError,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

/// The free-text window: a recipient who wrote within this may get text, not only templates.
pub const SERVICE_WINDOW: time::Duration = time::Duration::hours(24);
const MAX_TEMPLATE_NAME: usize = 255;

/// Where a tenant's messages go.
#[derive(Clone)]
pub(crate) struct Channel {
    pub api: Arc<dyn WhatsAppApi>,
    pub token: ApiKey,
    pub phone_number_id: String,
    pub waba_id: String,
    /// The development double (no real number).
    pub double: bool,
    /// Unique recipients the number may reach in 24 hours (its tier); `None` = no limit known.
    pub messaging_limit: Option<i64>,
}

/// `POST /whatsapp/templates`, as sent.
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub name: Option<String>,
    pub content: Option<String>,
    pub language: Option<String>,
    pub category: Option<String>,
}

/// `POST /whatsapp/messages`, as sent.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    pub lead_id: Option<LeadId>,
    pub phone: Option<String>,
    pub template_id: Option<WhatsAppTemplateId>,
    pub message: Option<String>,
    pub variables: BTreeMap<String, String>,
}

/// `GET /whatsapp/messages` parameters, as sent.
#[derive(Debug, Clone, Default)]
pub struct MessageListParams {
    pub lead_id: Option<String>,
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// What a WHATSAPP job sends (its input, with the message's id).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "type")]
pub(crate) enum Content {
    Template { name: String, language: String, parameters: Vec<(String, String)> },
    Text { body: String },
}

impl Content {
    pub(crate) fn outgoing(&self) -> Outgoing {
        match self.clone() {
            Self::Template { name, language, parameters } => Outgoing::Template { name, language, parameters },
            Self::Text { body } => Outgoing::Text { body },
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendInput {
    message_id: WhatsAppMessageId,
    content: Content,
}

/// The WHATSAPP job's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SendResult {
    pub message_id: WhatsAppMessageId,
    pub status: WhatsAppStatus,
    pub external_id: Option<String>,
    /// The send was handed to WhatsApp by an earlier attempt whose answer was lost: it is not
    /// sent again, and its status arrives by webhook.
    #[serde(default)]
    pub unconfirmed: bool,
}

/// The lead's fields a template may use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LeadFields<'a> {
    pub company_name: &'a str,
    pub city: Option<&'a str>,
    pub industry: Option<&'a str>,
}

impl<'a> From<&'a Lead> for LeadFields<'a> {
    fn from(lead: &'a Lead) -> Self {
        Self { company_name: &lead.company_name, city: lead.city.as_deref(), industry: lead.industry.as_deref() }
    }
}

/// What a template's variables are filled with when the request does not say: the lead's fields
/// and the sender's name, under the names a template is likely to use.
pub(crate) fn lead_values(lead: Option<LeadFields<'_>>, sender: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let mut put = |names: &[&str], value: Option<&str>| {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            for n in names {
                values.insert((*n).to_owned(), v.to_owned());
            }
        }
    };
    if let Some(lead) = lead {
        put(&["name", "companyName", "company_name", "company"], Some(lead.company_name));
        put(&["city"], lead.city);
        put(&["industry"], lead.industry);
    }
    put(&["senderName", "sender_name", "sender"], Some(sender));
    values
}

/// Fills a template: the request's own values win, then the lead's fields.
///
/// # Errors
/// 422 naming each variable left without a value (`variables.<name>`).
pub(crate) fn fill(
    template: &WhatsAppTemplate,
    given: &BTreeMap<String, String>,
    defaults: &BTreeMap<String, String>,
) -> Result<(String, Content), AppError> {
    let mut values = defaults.clone();
    for (k, v) in given {
        if !v.trim().is_empty() {
            values.insert(k.clone(), v.trim().to_owned());
        }
    }
    let missing = rules::missing_variables(&template.variables, &values);
    if !missing.is_empty() {
        return Err(AppError::Validation(
            missing
                .iter()
                .map(|m| {
                    leadzone_domain::FieldError::new(
                        format!("variables.{m}"),
                        "is required: the template uses it and the lead has no value for it",
                    )
                })
                .collect(),
        ));
    }
    let parameters = template
        .variables
        .iter()
        .map(|v| (rules::meta_parameter_name(v), values.get(v).cloned().unwrap_or_default()))
        .collect();
    let content = Content::Template {
        name: template.external_name.clone().unwrap_or_else(|| template.name.clone()),
        language: template.language.as_str().to_owned(),
        parameters,
    };
    Ok((rules::render(&template.content, &values), content))
}

/// Example values Meta's review needs for each variable.
fn example_for(variable: &str) -> String {
    match variable {
        "name" | "companyName" | "company_name" | "company" => "Al Noor Trading".into(),
        "city" => "Riyadh".into(),
        "industry" => "Retail".into(),
        "senderName" | "sender_name" | "sender" => "Sara".into(),
        other => other.replace('_', " "),
    }
}

fn parse_language(raw: Option<&str>, v: &mut Validator) -> Option<Language> {
    match raw.map(str::trim) {
        None | Some("") => Some(Language::Ar),
        Some(s) => Language::from_str(s).map_err(|_| v.push("language", "must be ar or en")).ok(),
    }
}

fn parse_category(raw: Option<&str>, v: &mut Validator) -> Option<TemplateCategory> {
    match raw.map(str::trim) {
        None | Some("") => Some(TemplateCategory::Marketing),
        Some(s) => TemplateCategory::from_str(s).map_err(|_| v.push("category", "must be MARKETING or UTILITY")).ok(),
    }
}

/// A template's status as Meta names it, or `None` for a word this server does not know.
fn template_status(raw: &str) -> Option<TemplateStatus> {
    match raw {
        "APPROVED" => Some(TemplateStatus::Approved),
        "PENDING" | "IN_APPEAL" | "PENDING_DELETION" => Some(TemplateStatus::Pending),
        "REJECTED" => Some(TemplateStatus::Rejected),
        "PAUSED" => Some(TemplateStatus::Paused),
        "DISABLED" | "DELETED" | "ARCHIVED" | "LIMIT_EXCEEDED" => Some(TemplateStatus::Disabled),
        _ => None,
    }
}

/// A WhatsApp error met while connecting or managing templates, for the person who asked.
pub(crate) fn refused(field: &str, e: WhatsAppError) -> AppError {
    match e {
        WhatsAppError::Unauthorized { message, .. } => AppError::field("credentials.accessToken", &message),
        WhatsAppError::Throttled { message, .. } | WhatsAppError::Unavailable(message) => {
            AppError::Unavailable(format!("asking WhatsApp: {message}"))
        }
        WhatsAppError::Undeliverable { message, .. }
        | WhatsAppError::OptedOut { message, .. }
        | WhatsAppError::TemplateUnavailable { message, .. }
        | WhatsAppError::Rejected { message, .. } => AppError::field(field, &message),
    }
}

crate::service! {
    /// WhatsApp on each tenant's own number: templates, single and bulk sends, webhooks.
    WhatsApp {
        ports: [uow, lookups, sweeps, tokens, clock, ids, config, providers],
        uses: [
            flags: crate::flags::Flags,
            integrations: crate::integrations::Integrations,
            jobs: crate::jobs::Jobs,
            leads: crate::leads::Leads,
            usage: crate::usage::Usage,
            webhooks: crate::webhooks::Webhooks,
        ],
    }
}

impl WhatsApp {
    /// The tenant's number, the development double, or 409 `WHATSAPP_NOT_CONNECTED`.
    pub(crate) async fn whatsapp_channel(&self, tx: &dyn TenantTx) -> Result<Channel, AppError> {
        if let Some(connection) = tx.integrations().get(IntegrationType::WhatsApp).await? {
            if connection.status != IntegrationStatus::Connected {
                return Err(AppError::Conflict(ConflictKind::WhatsAppNotConnected));
            }
            let credentials = self.integrations.open_credentials(&connection)?;
            let token = credentials.get("accessToken").and_then(|v| v.as_str()).unwrap_or_default();
            let config = |k: &str| connection.config.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            return Ok(Channel {
                api: self.providers.whatsapp.clone(),
                token: ApiKey::new(token),
                phone_number_id: config("phoneNumberId"),
                waba_id: config("wabaId"),
                double: false,
                messaging_limit: crate::whatsapp_bulk::messaging_limit(Some(&config("messagingLimitTier"))),
            });
        }
        match &self.providers.doubles {
            Some(doubles) => Ok(Channel {
                api: doubles.whatsapp.clone(),
                token: ApiKey::new("development"),
                phone_number_id: "100000000000001".into(),
                waba_id: "200000000000001".into(),
                double: true,
                messaging_limit: None,
            }),
            None => Err(AppError::Conflict(ConflictKind::WhatsAppNotConnected)),
        }
    }

    /// `GET /whatsapp/templates`.
    pub async fn list_templates(&self, ctx: &Ctx) -> Result<Vec<WhatsAppTemplate>, AppError> {
        policy::require(ctx, Permission::WhatsAppSend)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        Ok(tx.whatsapp().templates().await?)
    }

    /// `GET /whatsapp/templates/{id}`.
    pub async fn get_template(&self, ctx: &Ctx, id: WhatsAppTemplateId) -> Result<WhatsAppTemplate, AppError> {
        policy::require(ctx, Permission::WhatsAppSend)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        Ok(tx.whatsapp().template(id).await?)
    }

    /// `POST /whatsapp/templates`: validated, submitted to Meta for review, stored PENDING with
    /// Meta's id.
    pub async fn create_template(&self, ctx: &Ctx, input: TemplateInput) -> Result<WhatsAppTemplate, AppError> {
        policy::require(ctx, Permission::TemplatesManage)?;
        let mut v = Validator::new();
        let name = v.check_field("name", required_text(input.name.as_deref().unwrap_or_default(), MAX_TEMPLATE_NAME));
        let content = input.content.as_deref().map(str::trim).unwrap_or_default().to_owned();
        if content.is_empty() {
            v.push("content", "is required");
        } else if content.chars().count() > rules::MAX_TEMPLATE_CHARS {
            v.push("content", format!("must be at most {} characters", rules::MAX_TEMPLATE_CHARS));
        }
        let variables = v.check(rules::template_variables(&content));
        let language = parse_language(input.language.as_deref(), &mut v);
        let category = parse_category(input.category.as_deref(), &mut v);
        v.finish()?;
        let (Some(name), Some(variables), Some(language), Some(category)) = (name, variables, language, category)
        else {
            return Err(AppError::Internal("template validation let a field through".into()));
        };
        let now = self.clock.now();
        let id: WhatsAppTemplateId = self.ids.new_id().into();
        let mut template = WhatsAppTemplate {
            id,
            tenant_id: ctx.tenant_id,
            name,
            content,
            variables,
            is_approved: false,
            external_id: None,
            language,
            category,
            status: TemplateStatus::Pending,
            external_name: None,
            status_reason: None,
            created_by: ctx.user_id,
            created_at: now,
            updated_at: now,
        };
        let channel = {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            self.whatsapp_channel(&*tx).await?
        };
        self.submit(&channel, &mut template).await?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.whatsapp().insert_template(&template).await?;
        tx.commit().await?;
        Ok(template)
    }

    /// Submits `template` to Meta under a fresh name and records Meta's id and first status.
    async fn submit(&self, channel: &Channel, template: &mut WhatsAppTemplate) -> Result<(), AppError> {
        let meta_name = rules::meta_template_name(&template.name, self.ids.new_id());
        let submission = TemplateSubmission {
            name: meta_name.clone(),
            language: template.language.as_str().to_owned(),
            category: template.category.as_str().to_owned(),
            body: rules::meta_body(&template.content),
            examples: template.variables.iter().map(|v| (rules::meta_parameter_name(v), example_for(v))).collect(),
        };
        let submitted = channel
            .api
            .submit_template(&channel.token, &channel.waba_id, &submission)
            .await
            .map_err(|e| refused("content", e))?;
        let status = submitted.status.as_deref().and_then(template_status).unwrap_or(TemplateStatus::Pending);
        template.external_id = Some(submitted.id);
        template.external_name = Some(meta_name);
        template.status = status;
        template.is_approved = status == TemplateStatus::Approved;
        template.status_reason = None;
        Ok(())
    }

    /// `PATCH /whatsapp/templates/{id}`: a new name is local; new content, language or category
    /// is a new template for Meta (submitted again, PENDING until approved).
    pub async fn update_template(
        &self,
        ctx: &Ctx,
        id: WhatsAppTemplateId,
        input: TemplateInput,
    ) -> Result<WhatsAppTemplate, AppError> {
        policy::require(ctx, Permission::TemplatesManage)?;
        let before = {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            tx.whatsapp().template(id).await?
        };
        let mut v = Validator::new();
        let mut after = before.clone();
        if let Some(name) = &input.name
            && let Some(n) = v.check_field("name", required_text(name, MAX_TEMPLATE_NAME))
        {
            after.name = n;
        }
        if let Some(content) = &input.content {
            let content = content.trim();
            if content.is_empty() {
                v.push("content", "is required");
            } else if content.chars().count() > rules::MAX_TEMPLATE_CHARS {
                v.push("content", format!("must be at most {} characters", rules::MAX_TEMPLATE_CHARS));
            }
            if let Some(vars) = v.check(rules::template_variables(content)) {
                after.variables = vars;
            }
            after.content = content.to_owned();
        }
        if input.language.is_some()
            && let Some(l) = parse_language(input.language.as_deref(), &mut v)
        {
            after.language = l;
        }
        if input.category.is_some()
            && let Some(c) = parse_category(input.category.as_deref(), &mut v)
        {
            after.category = c;
        }
        v.finish()?;
        let resubmit =
            after.content != before.content || after.language != before.language || after.category != before.category;
        if resubmit {
            let channel = {
                let tx = self.uow.begin(ctx.tenant_id).await?;
                self.whatsapp_channel(&*tx).await?
            };
            self.submit(&channel, &mut after).await?;
        }
        after.updated_at = self.clock.now();
        let tx = self.uow.begin(ctx.tenant_id).await?;
        tx.whatsapp().update_template(&after).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// `DELETE /whatsapp/templates/{id}`: messages sent with it keep their text.
    pub async fn delete_template(&self, ctx: &Ctx, id: WhatsAppTemplateId) -> Result<(), AppError> {
        policy::require(ctx, Permission::TemplatesManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        if !tx.whatsapp().delete_template(id).await? {
            return Err(AppError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// `POST /whatsapp/templates/sync`: reads every template's review status from Meta.
    pub async fn sync_templates(&self, ctx: &Ctx) -> Result<Vec<WhatsAppTemplate>, AppError> {
        policy::require(ctx, Permission::TemplatesManage)?;
        self.sync_tenant_templates(ctx.tenant_id).await
    }

    /// The worker's periodic sync: every tenant with a connected number; one tenant's failure
    /// (a revoked token, Meta down) is logged and the others go on. Returns how many synced.
    pub async fn sync_all_templates(&self) -> Result<usize, AppError> {
        let mut synced = 0;
        for tenant in self.sweeps.whatsapp_tenants().await? {
            match self.sync_tenant_templates(tenant).await {
                Ok(_) => synced += 1,
                Err(e) => tracing::warn!(tenant = %tenant, error = %e, "WhatsApp template sync failed for a tenant"),
            }
        }
        Ok(synced)
    }

    /// The sync of one tenant (on demand, and from the worker's schedule).
    pub async fn sync_tenant_templates(
        &self,
        tenant: leadzone_domain::ids::TenantId,
    ) -> Result<Vec<WhatsAppTemplate>, AppError> {
        let (channel, local) = {
            let tx = self.uow.begin(tenant).await?;
            (self.whatsapp_channel(&*tx).await?, tx.whatsapp().templates().await?)
        };
        let remote = if channel.double {
            // The double approves what it was given: nothing to ask.
            Vec::new()
        } else {
            channel.api.templates(&channel.token, &channel.waba_id).await.map_err(|e| refused("templates", e))?
        };
        let now = self.clock.now();
        let tx = self.uow.begin(tenant).await?;
        let mut out = Vec::with_capacity(local.len());
        for mut t in local {
            let found = remote.iter().find(|r| Some(&r.id) == t.external_id.as_ref());
            let status = match found {
                Some(r) => template_status(&r.status).map(|s| (s, r.rejected_reason.clone())),
                None if channel.double && t.external_id.is_some() => Some((TemplateStatus::Approved, None)),
                None => None,
            };
            if let Some((status, reason)) = status
                && (status != t.status || reason != t.status_reason)
            {
                t.status = status;
                t.is_approved = status == TemplateStatus::Approved;
                t.status_reason = reason;
                t.updated_at = now;
                tx.whatsapp().update_template(&t).await?;
            }
            out.push(t);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// `POST /whatsapp/messages`: checks everything a send needs, counts one `messages` unit and
    /// enqueues the WHATSAPP job with the message, in one transaction. The same Idempotency-Key
    /// answers with the first message and job and sends nothing again.
    pub async fn send_whatsapp(
        &self,
        ctx: &Ctx,
        request: SendRequest,
        idempotency_key: Option<String>,
    ) -> Result<(WhatsAppMessage, Job), AppError> {
        policy::require(ctx, Permission::WhatsAppSend)?;
        if let Some(key) = &idempotency_key
            && (key.is_empty() || key.len() > 255)
        {
            return Err(AppError::field("Idempotency-Key", "must be 1–255 characters"));
        }
        let hash = self.tokens.hash(&format!("{request:?}"));
        if let Some(key) = &idempotency_key
            && let Some(replayed) = self.replay_send(ctx, key, &hash).await?
        {
            return Ok(replayed);
        }
        let mut v = Validator::new();
        match (&request.lead_id, &request.phone) {
            (Some(_), Some(_)) => v.push("phone", "give leadId or phone, not both"),
            (None, None) => v.push("leadId", "is required (or phone)"),
            _ => {}
        }
        match (&request.template_id, &request.message) {
            (Some(_), Some(_)) => v.push("message", "give templateId or message, not both"),
            (None, None) => v.push("templateId", "is required (or message)"),
            _ => {}
        }
        for (k, value) in &request.variables {
            if value.chars().count() > rules::MAX_VARIABLE_VALUE {
                v.push(format!("variables.{k}"), format!("must be at most {} characters", rules::MAX_VARIABLE_VALUE));
            }
        }
        let raw_phone = request.phone.as_deref().and_then(|p| v.check_field("phone", PhoneE164::parse(p)));
        let text = match &request.message {
            Some(m) => v.check_field("message", optional_text(Some(m), rules::MAX_TEXT_CHARS)).flatten(),
            None => None,
        };
        if request.message.is_some() && text.is_none() {
            v.push("message", "is required");
        }
        v.finish()?;

        let now = self.clock.now();
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let lead = match request.lead_id {
            Some(id) => Some(self.leads.visible_lead(ctx, &*tx, id, Permission::WhatsAppSend).await?),
            None => None,
        };
        let phone = match (&lead, raw_phone) {
            (_, Some(p)) => p.as_str().to_owned(),
            (Some(lead), None) => match lead.phone.as_deref().map(PhoneE164::parse) {
                Some(Ok(p)) => p.as_str().to_owned(),
                _ => return Err(AppError::field("leadId", "the lead has no WhatsApp-able phone number")),
            },
            (None, None) => return Err(AppError::field("leadId", "is required (or phone)")),
        };
        let contact = tx.whatsapp().contact(&phone).await?;
        if contact.as_ref().is_some_and(|c| c.opted_out_at.is_some()) {
            return Err(AppError::RecipientOptedOut);
        }
        let (body, content, template_id) = match (request.template_id, text) {
            (Some(template_id), _) => {
                let template = match tx.whatsapp().template(template_id).await {
                    Ok(t) => t,
                    Err(RepoError::NotFound) => {
                        return Err(AppError::field("templateId", "is not a template of yours"));
                    }
                    Err(e) => return Err(e.into()),
                };
                if template.status != TemplateStatus::Approved {
                    return Err(AppError::field(
                        "templateId",
                        &format!(
                            "is not approved by WhatsApp ({}): only approved templates may be sent",
                            template.status
                        ),
                    ));
                }
                let sender = tx.users().get(ctx.user_id).await?.name;
                let (body, content) =
                    fill(&template, &request.variables, &lead_values(lead.as_ref().map(LeadFields::from), &sender))?;
                (body, content, Some(template_id))
            }
            (None, Some(text)) => {
                let open = contact.as_ref().and_then(|c| c.last_inbound_at).is_some_and(|at| now - at < SERVICE_WINDOW);
                if !open {
                    return Err(AppError::field(
                        "message",
                        "free text can only be sent within 24 hours of the recipient's last message; send an approved template",
                    ));
                }
                (text.clone(), Content::Text { body: text }, None)
            }
            (None, None) => return Err(AppError::field("templateId", "is required (or message)")),
        };
        // Production without a number refuses before anything is counted.
        self.whatsapp_channel(&*tx).await?;
        crate::usage::charge(&*tx, now, UsageMetric::Messages, 1).await?;
        let message_id: WhatsAppMessageId = self.ids.new_id().into();
        let job_id = self.ids.new_id().into();
        let message = WhatsAppMessage {
            id: message_id,
            tenant_id: ctx.tenant_id,
            lead_id: lead.as_ref().map(|l| l.id),
            phone,
            message: body,
            template_id,
            status: WhatsAppStatus::Pending,
            external_id: None,
            error_message: None,
            sent_by: ctx.user_id,
            sent_at: now,
            delivered_at: None,
            read_at: None,
            idempotency_key: idempotency_key.clone(),
            attempted_at: None,
            error_code: None,
            job_id: Some(job_id),
            payload: None,
        };
        let mut input = serde_json::to_value(SendInput { message_id, content })
            .map_err(|e| AppError::Internal(format!("job input: {e}")))?;
        if let Some(obj) = input.as_object_mut() {
            obj.insert("requestHash".into(), json!(hash));
        }
        let new_job = NewJob {
            id: job_id,
            kind: JobType::WhatsApp,
            entity_type: Some(if lead.is_some() { JobEntityType::Lead } else { JobEntityType::Tenant }),
            entity_id: Some(lead.as_ref().map_or(ctx.tenant_id.as_uuid(), |l| l.id.as_uuid())),
            input,
            created_by: ctx.user_id,
            max_attempts: 5,
            priority: 50,
            idempotency_key: idempotency_key.clone(),
        };
        match tx.whatsapp().insert_message(&message).await {
            Ok(()) => {}
            Err(RepoError::Conflict(_)) if idempotency_key.is_some() => {
                drop(tx);
                let key = idempotency_key.unwrap_or_default();
                return self
                    .replay_send(ctx, &key, &hash)
                    .await?
                    .ok_or(AppError::Conflict(ConflictKind::AlreadyExists));
            }
            Err(e) => return Err(e.into()),
        }
        let job = tx.jobs().insert(&new_job, now).await?;
        tx.commit().await?;
        Ok((message, job))
    }

    /// The first answer of a send with this key, or 422 when the key was used for another request.
    async fn replay_send(&self, ctx: &Ctx, key: &str, hash: &str) -> Result<Option<(WhatsAppMessage, Job)>, AppError> {
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let Some(message) = tx.whatsapp().message_by_idempotency_key(key).await? else { return Ok(None) };
        let job = match tx.jobs().by_idempotency_key(key).await? {
            Some(job) if job.kind == JobType::WhatsApp => job,
            _ => return Err(AppError::field("Idempotency-Key", "was already used with a different request")),
        };
        let (job, _) = crate::jobs::replay(job, hash)?;
        Ok(Some((message, job)))
    }

    /// The WHATSAPP job: one message, at most once.
    pub(crate) async fn run_whatsapp(
        &self,
        job: &Job,
        _control: &dyn JobControl,
    ) -> Result<serde_json::Value, JobFailure> {
        let input: SendInput =
            job.input.as_ref().and_then(|i| serde_json::from_value(i.clone()).ok()).ok_or_else(|| {
                JobFailure::Permanent(job_error(ProblemCode::ValidationFailed, "the job names no message"))
            })?;
        let ctx = self.jobs.creator_ctx(job).await?;
        let tx = self.uow.begin(job.tenant_id).await?;
        let message = tx.whatsapp().lock_message(input.message_id).await?;
        if message.external_id.is_some() || message.status != WhatsAppStatus::Pending {
            return Ok(result_of(&message, false));
        }
        if message.attempted_at.is_some() {
            tracing::warn!(
                job = %job.id,
                message = %message.id,
                "an earlier attempt handed this message to WhatsApp and its answer was lost; not sending it again"
            );
            return Ok(result_of(&message, true));
        }
        if tx.whatsapp().contact(&message.phone).await?.is_some_and(|c| c.opted_out_at.is_some()) {
            let update = failed_update(&message, None, "The recipient opted out before the message went.");
            tx.whatsapp().update_status(message.id, &update).await?;
            tx.commit().await?;
            return Err(JobFailure::Permanent(job_error(ProblemCode::RecipientOptedOut, "The recipient opted out.")));
        }
        let channel = self.whatsapp_channel(&*tx).await?;
        tx.whatsapp().mark_attempted(message.id, self.clock.now()).await?;
        tx.commit().await?;

        let outgoing = OutgoingMessage {
            to: message.phone.trim_start_matches('+').to_owned(),
            content: input.content.outgoing(),
            callback_data: message.id.to_string(),
        };
        match channel.api.send(&channel.token, &channel.phone_number_id, &outgoing).await {
            Ok(external_id) => {
                self.record_sent(&ctx, job, &message, &external_id).await?;
                if channel.double {
                    self.play_dev_statuses(job.tenant_id, external_id.clone());
                }
                Ok(json!(SendResult {
                    message_id: message.id,
                    status: WhatsAppStatus::Sent,
                    external_id: Some(external_id),
                    unconfirmed: false
                }))
            }
            Err(e) => Err(self.send_failed(job, &message, e).await),
        }
    }

    /// SENT with Meta's id, the lead's timeline, its last contact and the audit row, together.
    pub(crate) async fn record_sent(
        &self,
        ctx: &Ctx,
        job: &Job,
        message: &WhatsAppMessage,
        external_id: &str,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        let tx = self.uow.begin(job.tenant_id).await?;
        tx.whatsapp().mark_sent(message.id, external_id).await?;
        if let Some(lead) = message.lead_id {
            tx.activities().insert(&sent_activity(&*self.ids, message, lead, now)).await?;
            tx.leads().touch_contacted(lead, now).await?;
        }
        if job.kind == JobType::WhatsApp {
            tx.audit()
                .append(&audit::entry(
                    &*self.ids,
                    ctx,
                    AuditEventType::WhatsAppMessageSent,
                    Some((AuditEntityType::WhatsAppMessage, message.id.as_uuid())),
                    format!("WhatsApp message sent to {}", message.phone),
                    AuditDetails {
                        metadata: Some(
                            json!({"leadId": message.lead_id, "templateId": message.template_id, "jobId": job.id}),
                        ),
                        ..Default::default()
                    },
                ))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What a refused send leaves behind, and how its job ends.
    pub(crate) async fn send_failed(&self, job: &Job, message: &WhatsAppMessage, e: WhatsAppError) -> JobFailure {
        match self.record_send_failure(job, message, &e).await {
            Ok(failure) => failure,
            Err(store) => store.into(),
        }
    }

    async fn record_send_failure(
        &self,
        job: &Job,
        message: &WhatsAppMessage,
        e: &WhatsAppError,
    ) -> Result<JobFailure, AppError> {
        let tx = self.uow.begin(job.tenant_id).await?;
        let failure = match e {
            WhatsAppError::Throttled { message: why, .. } => {
                // Nothing went: the next attempt may send it.
                tx.whatsapp().clear_attempt(message.id).await?;
                JobFailure::Retryable(job_error(ProblemCode::ProviderUnavailable, why.clone()))
            }
            WhatsAppError::Unavailable(why) => {
                // The outcome is unknown: the attempt stays, and the webhook settles it.
                tracing::warn!(job = %job.id, message = %message.id, error = %why, "WhatsApp send outcome unknown");
                JobFailure::Permanent(job_error(
                    ProblemCode::ProviderUnavailable,
                    "WhatsApp did not answer; the message may have gone and is not sent again. Its status follows from WhatsApp.",
                ))
            }
            WhatsAppError::OptedOut { code, message: why } => {
                tx.whatsapp().update_status(message.id, &failed_update(message, Some(*code), why)).await?;
                tx.whatsapp().set_opt_out(&message.phone, Some(self.clock.now())).await?;
                self.audit_opt_change(
                    &*tx,
                    &message.phone,
                    true,
                    "WhatsApp reported the recipient stopped marketing messages (131050)",
                )
                .await?;
                JobFailure::Permanent(job_error(ProblemCode::RecipientOptedOut, why.clone()))
            }
            WhatsAppError::Unauthorized { code, message: why } => {
                tx.whatsapp().update_status(message.id, &failed_update(message, *code, why)).await?;
                crate::sync::flag_error(self.clock.as_ref(), &*tx, IntegrationType::WhatsApp, why).await?;
                JobFailure::Permanent(job_error(ProblemCode::ProviderUnauthorized, why.clone()))
            }
            WhatsAppError::Undeliverable { code, message: why } | WhatsAppError::Rejected { code, message: why } => {
                tx.whatsapp().update_status(message.id, &failed_update(message, *code, why)).await?;
                JobFailure::Permanent(job_error(ProblemCode::ProviderRejected, why.clone()))
            }
            WhatsAppError::TemplateUnavailable { code, message: why } => {
                tx.whatsapp().update_status(message.id, &failed_update(message, Some(*code), why)).await?;
                JobFailure::Permanent(job_error(ProblemCode::ProviderRejected, why.clone()))
            }
        };
        tx.commit().await?;
        Ok(failure)
    }

    /// The audit row of an opt-out or an opt-in (no actor: the recipient asked).
    pub(crate) async fn audit_opt_change(
        &self,
        tx: &dyn TenantTx,
        phone: &str,
        opted_out: bool,
        why: &str,
    ) -> Result<(), AppError> {
        let (event, action) = if opted_out {
            (AuditEventType::WhatsAppOptedOut, format!("{phone} opted out of WhatsApp messages"))
        } else {
            (AuditEventType::WhatsAppOptedIn, format!("{phone} opted back in to WhatsApp messages"))
        };
        tx.audit()
            .append(&audit::system_entry(
                &*self.ids,
                event,
                None,
                action,
                AuditDetails { metadata: Some(json!({"phone": phone, "reason": why})), ..Default::default() },
            ))
            .await?;
        Ok(())
    }

    /// In development the double's messages move on as real ones would: delivered, then read.
    fn play_dev_statuses(&self, tenant: leadzone_domain::ids::TenantId, external_id: String) {
        let app = self.clone();
        tokio::spawn(async move {
            for status in [WhatsAppStatus::Delivered, WhatsAppStatus::Read] {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                let report = crate::whatsapp_webhooks::StatusReport {
                    external_id: external_id.clone(),
                    status,
                    at: app.clock.now(),
                    callback_data: None,
                    error_code: None,
                    error_title: None,
                    recipient: None,
                };
                if let Err(e) = app.apply_statuses(tenant, &[report]).await {
                    tracing::warn!(error = %e, "the development double's status could not be applied");
                }
            }
        });
    }

    /// `GET /whatsapp/messages`: newest first; OWNER and ADMIN see every message, a MANAGER
    /// their team's, SALES their own; a lead they cannot see is 404.
    pub async fn list_messages(&self, ctx: &Ctx, p: MessageListParams) -> Result<Page<WhatsAppMessage>, AppError> {
        policy::require(ctx, Permission::WhatsAppSend)?;
        let mut v = Validator::new();
        let lead = p
            .lead_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| uuid::Uuid::parse_str(s).map_err(|_| v.push("leadId", "is not a lead id")).ok());
        let status =
            p.status.as_deref().map(str::trim).filter(|s| !s.is_empty()).and_then(|s| {
                WhatsAppStatus::from_str(s).map_err(|_| v.push("status", "is not a message status")).ok()
            });
        v.finish()?;
        let (limit, after) = crate::lead_actions::parse_time_page(p.limit, p.cursor)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        if let Some(lead) = lead {
            self.leads.visible_lead(ctx, &*tx, lead.into(), Permission::WhatsAppSend).await?;
        }
        let sent_by = match ctx.role.lead_scope() {
            LeadScope::All => None,
            LeadScope::Team => {
                let mut team = tx.memberships().team_of(ctx.user_id).await?;
                team.push(ctx.user_id);
                Some(team)
            }
            LeadScope::Own => Some(vec![ctx.user_id]),
        };
        // A lead the actor may see shows all of its messages.
        let sent_by = if lead.is_some() { None } else { sent_by };
        let rows = tx
            .whatsapp()
            .list_messages(&MessageQuery {
                lead: lead.map(Into::into),
                status,
                sent_by,
                after: after.map(|(t, i)| (t, i.into())),
                limit: limit + 1,
            })
            .await?;
        Ok(Page::of_overfetched(rows, limit, |m| crate::lead_actions::encode_time_cursor(m.sent_at, m.id.as_uuid())))
    }
}

/// The lead's timeline entry of a sent message.
pub(crate) fn sent_activity(
    ids: &dyn leadzone_ports::Ids,
    message: &WhatsAppMessage,
    lead: LeadId,
    now: time::OffsetDateTime,
) -> Activity {
    Activity {
        id: ids.new_id().into(),
        tenant_id: message.tenant_id,
        lead_id: lead,
        kind: ActivityType::WhatsApp,
        description: format!("WhatsApp message sent to {}", message.phone),
        metadata: Some(json!({
            "messageId": message.id,
            "templateId": message.template_id,
            "direction": "outbound",
            "text": message.message,
        })),
        user_id: message.sent_by,
        created_at: now,
    }
}

fn result_of(message: &WhatsAppMessage, unconfirmed: bool) -> serde_json::Value {
    json!(SendResult {
        message_id: message.id,
        status: message.status,
        external_id: message.external_id.clone(),
        unconfirmed,
    })
}

/// FAILED with Meta's code and words, unless a status already moved it past what a failure may
/// change.
pub(crate) fn failed_update(message: &WhatsAppMessage, code: Option<i64>, why: &str) -> StatusUpdate {
    StatusUpdate {
        status: WhatsAppStatus::Failed,
        delivered_at: message.delivered_at,
        read_at: message.read_at,
        error_code: code,
        error_message: Some(why.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadzone_domain::ids::{TenantId, UserId};

    fn template(content: &str) -> WhatsAppTemplate {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        WhatsAppTemplate {
            id: uuid::Uuid::nil().into(),
            tenant_id: TenantId::from(uuid::Uuid::nil()),
            name: "welcome".into(),
            content: content.into(),
            variables: rules::template_variables(content).unwrap(),
            is_approved: true,
            external_id: Some("1".into()),
            language: Language::Ar,
            category: TemplateCategory::Marketing,
            status: TemplateStatus::Approved,
            external_name: Some("welcome_x".into()),
            status_reason: None,
            created_by: UserId::from(uuid::Uuid::nil()),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn variables_come_from_the_request_then_the_lead_and_a_gap_is_named() {
        let t = template("مرحبا {{name}} في {{city}} من {{senderName}} بخصوص {{offer}}");
        let defaults: BTreeMap<String, String> = [
            ("name".to_owned(), "النور".to_owned()),
            ("city".to_owned(), "الرياض".to_owned()),
            ("senderName".to_owned(), "سارة".to_owned()),
        ]
        .into();
        let err = fill(&t, &BTreeMap::new(), &defaults).unwrap_err();
        let AppError::Validation(errors) = err else { panic!("{err:?}") };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "variables.offer");
        let given: BTreeMap<String, String> =
            [("offer".to_owned(), "خصم ٢٠٪".to_owned()), ("city".to_owned(), "جدة".to_owned())].into();
        let (text, content) = fill(&t, &given, &defaults).unwrap();
        assert_eq!(text, "مرحبا النور في جدة من سارة بخصوص خصم ٢٠٪");
        let Content::Template { name, language, parameters } = content else { panic!() };
        assert_eq!((name.as_str(), language.as_str()), ("welcome_x", "ar"));
        assert_eq!(parameters[0], ("name".to_owned(), "النور".to_owned()));
        assert_eq!(parameters[2], ("sender_name".to_owned(), "سارة".to_owned()));
    }

    #[test]
    fn metas_statuses_map_and_unknown_words_change_nothing() {
        assert_eq!(template_status("APPROVED"), Some(TemplateStatus::Approved));
        assert_eq!(template_status("REJECTED"), Some(TemplateStatus::Rejected));
        assert_eq!(template_status("PAUSED"), Some(TemplateStatus::Paused));
        assert_eq!(template_status("DISABLED"), Some(TemplateStatus::Disabled));
        assert_eq!(template_status("SOMETHING_NEW"), None);
    }
}
