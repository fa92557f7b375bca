//! `whatsapp_templates`, `whatsapp_messages` and `whatsapp_contacts` of the tenant.

use crate::error::db_err;
use crate::tx::PgTenantTx;
use leadzone_domain::entities::{WhatsAppMessage, WhatsAppTemplate};
use leadzone_domain::enums::{Language, TemplateCategory, TemplateStatus, WhatsAppStatus};
use leadzone_domain::ids::{JobId, LeadId, UserId, WhatsAppMessageId, WhatsAppTemplateId};
use leadzone_ports::RepoError;
use leadzone_ports::whatsapp::{
    BulkMessage, JobTally, MessageQuery, RecipientLead, StatusUpdate, WhatsAppContact, WhatsAppRepo,
};
use sea_orm::{ConnectionTrait, QueryResult};
use std::str::FromStr;
use time::OffsetDateTime;

const TEMPLATE_COLUMNS: &str = "id, tenant_id, name, content, variables, is_approved, external_id, language, category, \
     status, external_name, status_reason, created_by, created_at, updated_at";

const MESSAGE_COLUMNS: &str = "id, tenant_id, lead_id, phone, message, template_id, status, external_id, error_message, \
     sent_by, sent_at, delivered_at, read_at, idempotency_key, attempted_at, error_code, job_id, payload";

fn parse<T: FromStr>(r: &QueryResult, column: &str) -> Result<T, RepoError> {
    let raw: String = r.try_get("", column).map_err(db_err)?;
    T::from_str(&raw).map_err(|_| RepoError::Other(format!("{column} {raw}")))
}

fn template_from(r: &QueryResult) -> Result<WhatsAppTemplate, RepoError> {
    Ok(WhatsAppTemplate {
        id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
        tenant_id: r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
        name: r.try_get("", "name").map_err(db_err)?,
        content: r.try_get("", "content").map_err(db_err)?,
        variables: r.try_get("", "variables").map_err(db_err)?,
        is_approved: r.try_get("", "is_approved").map_err(db_err)?,
        external_id: r.try_get("", "external_id").map_err(db_err)?,
        language: parse::<Language>(r, "language")?,
        category: parse::<TemplateCategory>(r, "category")?,
        status: parse::<TemplateStatus>(r, "status")?,
        external_name: r.try_get("", "external_name").map_err(db_err)?,
        status_reason: r.try_get("", "status_reason").map_err(db_err)?,
        created_by: r.try_get::<uuid::Uuid>("", "created_by").map_err(db_err)?.into(),
        created_at: r.try_get("", "created_at").map_err(db_err)?,
        updated_at: r.try_get("", "updated_at").map_err(db_err)?,
    })
}

/// A template's columns from `name` to `status_reason`, in `TEMPLATE_COLUMNS` order.
fn template_fields(t: &WhatsAppTemplate) -> Vec<sea_orm::Value> {
    vec![
        t.name.clone().into(),
        t.content.clone().into(),
        t.variables.clone().into(),
        t.is_approved.into(),
        t.external_id.clone().into(),
        t.language.as_str().into(),
        t.category.as_str().into(),
        t.status.as_str().into(),
        t.external_name.clone().into(),
        t.status_reason.clone().into(),
    ]
}

fn message_from(r: &QueryResult) -> Result<WhatsAppMessage, RepoError> {
    let uuid = |c: &str| r.try_get::<Option<uuid::Uuid>>("", c).map_err(db_err);
    Ok(WhatsAppMessage {
        id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
        tenant_id: r.try_get::<uuid::Uuid>("", "tenant_id").map_err(db_err)?.into(),
        lead_id: uuid("lead_id")?.map(Into::into),
        phone: r.try_get("", "phone").map_err(db_err)?,
        message: r.try_get("", "message").map_err(db_err)?,
        template_id: uuid("template_id")?.map(Into::into),
        status: parse::<WhatsAppStatus>(r, "status")?,
        external_id: r.try_get("", "external_id").map_err(db_err)?,
        error_message: r.try_get("", "error_message").map_err(db_err)?,
        sent_by: r.try_get::<uuid::Uuid>("", "sent_by").map_err(db_err)?.into(),
        sent_at: r.try_get("", "sent_at").map_err(db_err)?,
        delivered_at: r.try_get("", "delivered_at").map_err(db_err)?,
        read_at: r.try_get("", "read_at").map_err(db_err)?,
        idempotency_key: r.try_get("", "idempotency_key").map_err(db_err)?,
        attempted_at: r.try_get("", "attempted_at").map_err(db_err)?,
        error_code: r.try_get::<Option<i32>>("", "error_code").map_err(db_err)?.map(i64::from),
        job_id: uuid("job_id")?.map(Into::into),
        payload: r.try_get("", "payload").map_err(db_err)?,
    })
}

impl PgTenantTx {
    async fn messages_where(
        &self,
        condition: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Vec<WhatsAppMessage>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                &format!("SELECT {MESSAGE_COLUMNS} FROM whatsapp_messages WHERE tenant_id = $1 AND {condition}"),
                std::iter::once(self.tid().into()).chain(values).collect(),
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(message_from).collect()
    }

    async fn one_message(
        &self,
        condition: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Option<WhatsAppMessage>, RepoError> {
        Ok(self.messages_where(condition, values).await?.into_iter().next())
    }

    async fn execute(&self, sql: &str, values: Vec<sea_orm::Value>) -> Result<u64, RepoError> {
        let done = self
            .txn
            .execute_raw(crate::stmt(sql, std::iter::once(self.tid().into()).chain(values).collect()))
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[async_trait::async_trait]
impl WhatsAppRepo for PgTenantTx {
    async fn templates(&self) -> Result<Vec<WhatsAppTemplate>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                &format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM whatsapp_templates WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC"
                ),
                vec![self.tid().into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(template_from).collect()
    }

    async fn template(&self, id: WhatsAppTemplateId) -> Result<WhatsAppTemplate, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                &format!("SELECT {TEMPLATE_COLUMNS} FROM whatsapp_templates WHERE tenant_id = $1 AND id = $2"),
                vec![self.tid().into(), id.as_uuid().into()],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        template_from(&row)
    }

    async fn insert_template(&self, t: &WhatsAppTemplate) -> Result<(), RepoError> {
        self.execute(
            "INSERT INTO whatsapp_templates (tenant_id, id, name, content, variables, is_approved, external_id, language,
               category, status, external_name, status_reason, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
            [vec![t.id.as_uuid().into()], template_fields(t), vec![
                t.created_by.as_uuid().into(),
                t.created_at.into(),
                t.updated_at.into(),
            ]]
            .concat(),
        )
        .await
        .map(|_| ())
    }

    async fn update_template(&self, t: &WhatsAppTemplate) -> Result<(), RepoError> {
        let n = self
            .execute(
                "UPDATE whatsapp_templates SET name = $3, content = $4, variables = $5, is_approved = $6,
                   external_id = $7, language = $8, category = $9, status = $10, external_name = $11,
                   status_reason = $12, updated_at = $13
                 WHERE tenant_id = $1 AND id = $2",
                [vec![t.id.as_uuid().into()], template_fields(t), vec![t.updated_at.into()]].concat(),
            )
            .await?;
        if n == 0 { Err(RepoError::NotFound) } else { Ok(()) }
    }

    async fn delete_template(&self, id: WhatsAppTemplateId) -> Result<bool, RepoError> {
        Ok(self
            .execute("DELETE FROM whatsapp_templates WHERE tenant_id = $1 AND id = $2", vec![id.as_uuid().into()])
            .await?
            > 0)
    }

    async fn insert_message(&self, m: &WhatsAppMessage) -> Result<(), RepoError> {
        self.execute(
            "INSERT INTO whatsapp_messages (tenant_id, id, lead_id, phone, message, template_id, status, external_id,
               error_message, sent_by, sent_at, delivered_at, read_at, idempotency_key, attempted_at, error_code, job_id,
               payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            vec![
                m.id.as_uuid().into(),
                m.lead_id.map(|l| l.as_uuid()).into(),
                m.phone.clone().into(),
                m.message.clone().into(),
                m.template_id.map(|t| t.as_uuid()).into(),
                m.status.as_str().into(),
                m.external_id.clone().into(),
                m.error_message.clone().into(),
                m.sent_by.as_uuid().into(),
                m.sent_at.into(),
                m.delivered_at.into(),
                m.read_at.into(),
                m.idempotency_key.clone().into(),
                m.attempted_at.into(),
                m.error_code.and_then(|c| i32::try_from(c).ok()).into(),
                m.job_id.map(|j| j.as_uuid()).into(),
                m.payload.clone().into(),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn lock_message(&self, id: WhatsAppMessageId) -> Result<WhatsAppMessage, RepoError> {
        self.one_message("id = $2 FOR UPDATE", vec![id.as_uuid().into()]).await?.ok_or(RepoError::NotFound)
    }

    async fn message(&self, id: WhatsAppMessageId) -> Result<WhatsAppMessage, RepoError> {
        self.one_message("id = $2", vec![id.as_uuid().into()]).await?.ok_or(RepoError::NotFound)
    }

    async fn message_by_idempotency_key(&self, key: &str) -> Result<Option<WhatsAppMessage>, RepoError> {
        self.one_message("idempotency_key = $2", vec![key.into()]).await
    }

    async fn lock_message_by_external_id(&self, external_id: &str) -> Result<Option<WhatsAppMessage>, RepoError> {
        self.one_message("external_id = $2 FOR UPDATE", vec![external_id.into()]).await
    }

    async fn list_messages(&self, q: &MessageQuery) -> Result<Vec<WhatsAppMessage>, RepoError> {
        let mut values: Vec<sea_orm::Value> = Vec::new();
        let mut conditions: Vec<String> = vec!["TRUE".into()];
        let mut push = |condition: &dyn Fn(usize) -> String, value: sea_orm::Value| {
            values.push(value);
            // $1 is the tenant.
            conditions.push(condition(values.len() + 1));
        };
        if let Some(lead) = q.lead {
            push(&|n| format!("lead_id = ${n}"), lead.as_uuid().into());
        }
        if let Some(status) = q.status {
            push(&|n| format!("status = ${n}"), status.as_str().into());
        }
        if let Some(users) = &q.sent_by {
            let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.as_uuid()).collect();
            push(&|n| format!("sent_by = ANY(${n})"), ids.into());
        }
        if let Some((at, id)) = q.after {
            push(&|n| format!("(sent_at, id) < (${n}, ${})", n + 1), at.into());
            values.push(id.as_uuid().into());
        }
        let condition = format!("{} ORDER BY sent_at DESC, id DESC LIMIT {}", conditions.join(" AND "), q.limit);
        self.messages_where(&condition, values).await
    }

    async fn job_messages(&self, job: JobId) -> Result<Vec<WhatsAppMessage>, RepoError> {
        self.messages_where("job_id = $2 ORDER BY id", vec![job.as_uuid().into()]).await
    }

    async fn mark_attempted(&self, id: WhatsAppMessageId, at: OffsetDateTime) -> Result<(), RepoError> {
        self.execute(
            "UPDATE whatsapp_messages SET attempted_at = $3 WHERE tenant_id = $1 AND id = $2",
            vec![id.as_uuid().into(), at.into()],
        )
        .await
        .map(|_| ())
    }

    async fn clear_attempt(&self, id: WhatsAppMessageId) -> Result<(), RepoError> {
        self.execute(
            "UPDATE whatsapp_messages SET attempted_at = NULL WHERE tenant_id = $1 AND id = $2 AND external_id IS NULL",
            vec![id.as_uuid().into()],
        )
        .await
        .map(|_| ())
    }

    async fn mark_sent(&self, id: WhatsAppMessageId, external_id: &str) -> Result<(), RepoError> {
        // A status webhook may have come first (it carries our id): keep its later status.
        self.execute(
            "UPDATE whatsapp_messages SET external_id = $3,
               status = CASE WHEN status = 'PENDING' THEN 'SENT' ELSE status END
             WHERE tenant_id = $1 AND id = $2",
            vec![id.as_uuid().into(), external_id.into()],
        )
        .await
        .map(|_| ())
    }

    async fn update_status(&self, id: WhatsAppMessageId, u: &StatusUpdate) -> Result<(), RepoError> {
        self.execute(
            "UPDATE whatsapp_messages SET status = $3, delivered_at = $4, read_at = $5,
               error_code = COALESCE($6, error_code), error_message = COALESCE($7, error_message)
             WHERE tenant_id = $1 AND id = $2",
            vec![
                id.as_uuid().into(),
                u.status.as_str().into(),
                u.delivered_at.into(),
                u.read_at.into(),
                u.error_code.and_then(|c| i32::try_from(c).ok()).into(),
                u.error_message.clone().into(),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn contact(&self, phone: &str) -> Result<Option<WhatsAppContact>, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                "SELECT phone, opted_out_at, last_inbound_at FROM whatsapp_contacts WHERE tenant_id = $1 AND phone = $2",
                vec![self.tid().into(), phone.into()],
            ))
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(WhatsAppContact {
                phone: r.try_get("", "phone").map_err(db_err)?,
                opted_out_at: r.try_get("", "opted_out_at").map_err(db_err)?,
                last_inbound_at: r.try_get("", "last_inbound_at").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn opted_out_among(&self, phones: &[String]) -> Result<Vec<String>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                "SELECT phone FROM whatsapp_contacts
                 WHERE tenant_id = $1 AND phone = ANY($2) AND opted_out_at IS NOT NULL",
                vec![self.tid().into(), phones.to_vec().into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| r.try_get::<String>("", "phone").map_err(db_err)).collect()
    }

    async fn set_opt_out(&self, phone: &str, at: Option<OffsetDateTime>) -> Result<(), RepoError> {
        self.execute(
            "INSERT INTO whatsapp_contacts (tenant_id, phone, opted_out_at, updated_at) VALUES ($1, $2, $3, NOW())
             ON CONFLICT (tenant_id, phone) DO UPDATE SET opted_out_at = EXCLUDED.opted_out_at, updated_at = NOW()",
            vec![phone.into(), at.into()],
        )
        .await
        .map(|_| ())
    }

    async fn leads_with_phone(&self, phone: &str) -> Result<Vec<(LeadId, UserId)>, RepoError> {
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                "SELECT id, COALESCE(assigned_to, created_by) AS owner FROM leads
                 WHERE tenant_id = $1 AND phone = $2 ORDER BY created_at LIMIT 5",
                vec![self.tid().into(), phone.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
                    r.try_get::<uuid::Uuid>("", "owner").map_err(db_err)?.into(),
                ))
            })
            .collect()
    }

    async fn record_inbound(&self, phone: &str, at: OffsetDateTime) -> Result<(), RepoError> {
        self.execute(
            "INSERT INTO whatsapp_contacts (tenant_id, phone, last_inbound_at, updated_at) VALUES ($1, $2, $3, NOW())
             ON CONFLICT (tenant_id, phone) DO UPDATE SET
               last_inbound_at = GREATEST(whatsapp_contacts.last_inbound_at, EXCLUDED.last_inbound_at),
               updated_at = NOW()",
            vec![phone.into(), at.into()],
        )
        .await
        .map(|_| ())
    }

    async fn recipients(&self, ids: &[LeadId]) -> Result<Vec<RecipientLead>, RepoError> {
        let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
        let rows = self
            .txn
            .query_all_raw(crate::stmt(
                "SELECT id, company_name, city, industry, phone, created_by, assigned_to FROM leads
                 WHERE tenant_id = $1 AND id = ANY($2)",
                vec![self.tid().into(), ids.into()],
            ))
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(RecipientLead {
                    id: r.try_get::<uuid::Uuid>("", "id").map_err(db_err)?.into(),
                    company_name: r.try_get("", "company_name").map_err(db_err)?,
                    city: r.try_get("", "city").map_err(db_err)?,
                    industry: r.try_get("", "industry").map_err(db_err)?,
                    phone: r.try_get("", "phone").map_err(db_err)?,
                    created_by: r.try_get::<uuid::Uuid>("", "created_by").map_err(db_err)?.into(),
                    assigned_to: r.try_get::<Option<uuid::Uuid>>("", "assigned_to").map_err(db_err)?.map(Into::into),
                })
            })
            .collect()
    }

    async fn insert_bulk(
        &self,
        job: JobId,
        template: WhatsAppTemplateId,
        sent_by: UserId,
        at: OffsetDateTime,
        messages: &[BulkMessage],
    ) -> Result<(), RepoError> {
        let ids: Vec<uuid::Uuid> = messages.iter().map(|m| m.id.as_uuid()).collect();
        let leads: Vec<uuid::Uuid> = messages.iter().map(|m| m.lead.as_uuid()).collect();
        let phones: Vec<String> = messages.iter().map(|m| m.phone.clone()).collect();
        let texts: Vec<String> = messages.iter().map(|m| m.message.clone()).collect();
        let payloads: Vec<String> = messages.iter().map(|m| m.payload.to_string()).collect();
        self.execute(
            "INSERT INTO whatsapp_messages
               (tenant_id, id, lead_id, phone, message, template_id, status, sent_by, sent_at, job_id, payload)
             SELECT $1, u.id, u.lead, u.phone, u.message, $2, 'PENDING', $3, $4, $5, u.payload::jsonb
             FROM UNNEST($6::uuid[], $7::uuid[], $8::text[], $9::text[], $10::text[]) AS u(id, lead, phone, message, payload)",
            vec![
                template.as_uuid().into(),
                sent_by.as_uuid().into(),
                at.into(),
                job.as_uuid().into(),
                ids.into(),
                leads.into(),
                phones.into(),
                texts.into(),
                payloads.into(),
            ],
        )
        .await
        .map(|_| ())
    }

    async fn untried_job_messages(&self, job: JobId, limit: u64) -> Result<Vec<WhatsAppMessage>, RepoError> {
        self.messages_where(
            &format!("job_id = $2 AND status = 'PENDING' AND attempted_at IS NULL ORDER BY id LIMIT {limit}"),
            vec![job.as_uuid().into()],
        )
        .await
    }

    async fn job_tally(&self, job: JobId) -> Result<JobTally, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                "SELECT
                   COUNT(*) FILTER (WHERE status IN ('SENT', 'DELIVERED', 'READ')) AS sent,
                   COUNT(*) FILTER (WHERE status = 'FAILED') AS failed,
                   COUNT(*) FILTER (WHERE status = 'PENDING' AND attempted_at IS NOT NULL) AS unconfirmed,
                   COUNT(*) FILTER (WHERE status = 'PENDING' AND attempted_at IS NULL) AS pending
                 FROM whatsapp_messages WHERE tenant_id = $1 AND job_id = $2",
                vec![self.tid().into(), job.as_uuid().into()],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        let n = |c: &str| r_i64(&row, c);
        Ok(JobTally { sent: n("sent")?, failed: n("failed")?, unconfirmed: n("unconfirmed")?, pending: n("pending")? })
    }

    async fn fail_untried(&self, job: JobId, why: &str) -> Result<u64, RepoError> {
        self.execute(
            "UPDATE whatsapp_messages SET status = 'FAILED', error_message = $3
             WHERE tenant_id = $1 AND job_id = $2 AND status = 'PENDING' AND attempted_at IS NULL",
            vec![job.as_uuid().into(), why.into()],
        )
        .await
    }

    async fn unique_recipients_since(&self, since: OffsetDateTime) -> Result<i64, RepoError> {
        let row = self
            .txn
            .query_one_raw(crate::stmt(
                "SELECT COUNT(DISTINCT phone) AS n FROM whatsapp_messages WHERE tenant_id = $1 AND attempted_at >= $2",
                vec![self.tid().into(), since.into()],
            ))
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        r_i64(&row, "n")
    }
}

fn r_i64(r: &QueryResult, column: &str) -> Result<i64, RepoError> {
    r.try_get::<i64>("", column).map_err(db_err)
}
