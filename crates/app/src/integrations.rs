//! The tenant's connections to outside services: connect (the credentials checked with the
//! service, then sealed under the master key), list (never the credentials), disconnect — and the
//! one place that opens a connection's credentials again, for the adapter that needs them.
//!
//! Every type of the contract connects: `GOOGLE_MAPS` (the tenant's own Places key), `WHATSAPP`
//! (its own number, the token checked with `GET /{phoneNumberId}`), the CRMs (`crm.rs`) and
//! `SLACK` (an incoming webhook, `slack.rs`). `POST …/test` checks the stored credentials again
//! and shows the answer in the connection's `status` and `lastError`.

use crate::{AppError, Ctx, audit, policy};
use leadzone_domain::access::Permission;
use leadzone_domain::entities::{AuditDetails, IntegrationConnection};
use leadzone_domain::enums::{AuditEventType, IntegrationStatus, IntegrationType};
use leadzone_ports::discovery::{ApiKey, ProviderError};
use leadzone_ports::slack::SlackError;
use leadzone_ports::sync::CrmError;
use serde_json::{Value, json};

/// Longest credential value accepted (a key, a token).
const MAX_CREDENTIAL_LEN: usize = 2048;

crate::service! {
    /// Connections to outside services (Places, Hunter, HubSpot, Salesforce, Notion, Slack) and CRM sync.
    Integrations {
        ports: [uow, sweeps, tokens, secrets, clock, ids, providers],
        uses: [
            flags: crate::flags::Flags,
            jobs: crate::jobs::Jobs,
        ],
    }
}

impl Integrations {
    /// `GET /integrations`: the tenant's connections, without credentials.
    pub async fn list_integrations(
        &self,
        ctx: &Ctx,
        limit: Option<String>,
        cursor: Option<String>,
    ) -> Result<crate::leads::Page<IntegrationConnection>, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let rows: Vec<IntegrationConnection> =
            tx.integrations().list().await?.into_iter().map(without_credentials).collect();
        crate::cursor::page_by_id(rows, |c| c.id.as_uuid(), limit, cursor)
    }

    /// `PUT /integrations/{type}`: checks the credentials with the service, seals them and stores
    /// the connection (replacing one of the same type). A refusal is 422 with the service's words.
    pub async fn connect_integration(
        &self,
        ctx: &Ctx,
        kind: IntegrationType,
        credentials: &Value,
        config: Option<Value>,
    ) -> Result<IntegrationConnection, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let config = config.unwrap_or_else(|| json!({}));
        let (sealed_plain, config) = match kind {
            IntegrationType::GoogleMaps => {
                let key = credential(credentials, "apiKey")?;
                self.check_places_key(&ApiKey::new(key.clone())).await?;
                (json!({ "apiKey": key }), config)
            }
            IntegrationType::HubSpot | IntegrationType::Salesforce | IntegrationType::Notion => {
                let crm =
                    crate::crm::Crm::of(kind).ok_or_else(|| AppError::Internal(format!("{kind} is not a CRM")))?;
                let token = credential(credentials, crm.credential())?;
                self.connect_crm(ctx, crm, token, &config).await?
            }
            IntegrationType::Slack => {
                let url = credential(credentials, "webhookUrl")?;
                self.connect_slack(ctx, url, &config).await?
            }
            IntegrationType::WhatsApp => {
                let token = credential(credentials, "accessToken")?;
                let (phone_number_id, waba_id) = whatsapp_ids(&config)?;
                let number = self
                    .providers
                    .whatsapp
                    .check_number(&ApiKey::new(token.clone()), &phone_number_id)
                    .await
                    .map_err(|e| crate::whatsapp::refused("config.phoneNumberId", e))?;
                let config = json!({
                    "phoneNumberId": phone_number_id,
                    "wabaId": waba_id,
                    "displayPhoneNumber": number.display_phone_number,
                    "verifiedName": number.verified_name,
                    "qualityRating": number.quality_rating,
                    "messagingLimitTier": number.messaging_limit_tier,
                });
                (json!({ "accessToken": token }), config)
            }
        };
        let sealed = self
            .secrets
            .seal(sealed_plain.to_string().as_bytes())
            .map_err(|e| AppError::Internal(format!("sealing credentials: {e}")))?;
        let now = self.clock.now();
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let upserted = tx
            .integrations()
            .upsert(&IntegrationConnection {
                id: self.ids.new_id().into(),
                tenant_id: ctx.tenant_id,
                kind,
                status: IntegrationStatus::Connected,
                credentials: Some(sealed),
                config: config.clone(),
                last_sync_at: None,
                last_error: None,
                created_at: now,
                updated_at: now,
            })
            .await;
        let stored = match upserted {
            Ok(stored) => stored,
            // The unique index on a WhatsApp number: another tenant has it.
            Err(leadzone_ports::RepoError::Conflict(_)) if kind == IntegrationType::WhatsApp => {
                return Err(AppError::Conflict(crate::error::ConflictKind::WhatsAppNumberTaken));
            }
            Err(e) => return Err(e.into()),
        };
        if kind == IntegrationType::WhatsApp {
            let mut tenant = tx.tenants().current().await?;
            tenant.settings.whatsapp_phone_id =
                stored.config.get("phoneNumberId").and_then(Value::as_str).map(str::to_owned);
            tx.tenants().update(&tenant).await?;
        }
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::IntegrationConnected,
                Some((leadzone_domain::enums::AuditEntityType::Integration, stored.id.as_uuid())),
                format!("{kind} connected"),
                AuditDetails { metadata: Some(json!({"type": kind.as_str(), "config": config})), ..Default::default() },
            ))
            .await?;
        tx.commit().await?;
        Ok(without_credentials(stored))
    }

    /// `DELETE /integrations/{type}`: 404 when the tenant has no such connection.
    pub async fn disconnect_integration(&self, ctx: &Ctx, kind: IntegrationType) -> Result<(), AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let existing = tx.integrations().get(kind).await?.ok_or(AppError::NotFound)?;
        tx.integrations().delete(kind).await?;
        tx.audit()
            .append(&audit::entry(
                &*self.ids,
                ctx,
                AuditEventType::IntegrationDisconnected,
                Some((leadzone_domain::enums::AuditEntityType::Integration, existing.id.as_uuid())),
                format!("{kind} disconnected"),
                AuditDetails { metadata: Some(json!({"type": kind.as_str()})), ..Default::default() },
            ))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `POST /integrations/{type}/test`: the stored credentials checked with the service again.
    /// Accepted → `CONNECTED` (any `lastError` cleared); refused → `ERROR` with the service's
    /// words in `lastError`. The service being unreachable is a 503 and changes nothing.
    pub async fn test_integration(&self, ctx: &Ctx, kind: IntegrationType) -> Result<IntegrationConnection, AppError> {
        policy::require(ctx, Permission::IntegrationsManage)?;
        let connection = {
            let tx = self.uow.begin(ctx.tenant_id).await?;
            tx.integrations().get(kind).await?.ok_or(AppError::NotFound)?
        };
        let credentials = self.open_credentials(&connection)?;
        let refusal = match self.recheck(ctx, kind, &credentials, &connection.config).await {
            Ok(()) => None,
            Err(Recheck::Refused(why)) => Some(why),
            Err(Recheck::Unavailable(why)) => return Err(AppError::Unavailable(why)),
        };
        let tx = self.uow.begin(ctx.tenant_id).await?;
        let current = tx.integrations().get(kind).await?.ok_or(AppError::NotFound)?;
        let updated = IntegrationConnection {
            status: if refusal.is_some() { IntegrationStatus::Error } else { IntegrationStatus::Connected },
            last_error: refusal,
            updated_at: self.clock.now(),
            ..current
        };
        let stored = tx.integrations().upsert(&updated).await?;
        tx.commit().await?;
        Ok(without_credentials(stored))
    }

    /// One cheap call with a connection's stored credentials (Slack's is a test message).
    async fn recheck(
        &self,
        ctx: &Ctx,
        kind: IntegrationType,
        credentials: &Value,
        config: &Value,
    ) -> Result<(), Recheck> {
        let secret = |name: &str| ApiKey::new(credentials.get(name).and_then(Value::as_str).unwrap_or_default());
        let setting = |name: &str| config.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        let p = &self.providers;
        match kind {
            IntegrationType::GoogleMaps => p.places.check_key(&secret("apiKey")).await.map_err(|e| match e {
                ProviderError::Unauthorized(why) | ProviderError::Rejected(why) => Recheck::Refused(why),
                e => Recheck::Unavailable(e.to_string()),
            }),
            IntegrationType::WhatsApp => p
                .whatsapp
                .check_number(&secret("accessToken"), &setting("phoneNumberId"))
                .await
                .map(|_| ())
                .map_err(|e| match e {
                    e @ (leadzone_ports::whatsapp::WhatsAppError::Unavailable(_)
                    | leadzone_ports::whatsapp::WhatsAppError::Throttled { .. }) => Recheck::Unavailable(e.to_string()),
                    e => Recheck::Refused(e.to_string()),
                }),
            IntegrationType::HubSpot => p.hubspot.prepare(&secret("accessToken")).await.map_err(Recheck::from),
            IntegrationType::Salesforce => {
                p.salesforce.prepare(&setting("instanceUrl"), &secret("accessToken")).await.map_err(Recheck::from)
            }
            IntegrationType::Notion => p
                .notion
                .data_source(&secret("token"), &setting("dataSourceId"))
                .await
                .map(|_| ())
                .map_err(Recheck::from),
            IntegrationType::Slack => {
                let text = crate::slack::connected_text(self.tenant_language(ctx.tenant_id).await);
                p.slack.post(&secret("webhookUrl"), &text, None).await.map_err(|e| match e {
                    SlackError::Gone(why) | SlackError::Rejected(why) => Recheck::Refused(why),
                    e => Recheck::Unavailable(e.to_string()),
                })
            }
        }
    }

    /// The key of the tenant's own connection of `kind` (its `credentials.apiKey`), when it has a
    /// working one.
    pub(crate) async fn tenant_api_key(
        &self,
        tx: &dyn leadzone_ports::tx::TenantTx,
        kind: IntegrationType,
    ) -> Result<Option<ApiKey>, AppError> {
        let Some(connection) = tx.integrations().get(kind).await? else { return Ok(None) };
        if connection.status != IntegrationStatus::Connected {
            return Ok(None);
        }
        if connection.credentials.is_none() {
            return Ok(None);
        }
        let value = self.open_credentials(&connection)?;
        Ok(value.get("apiKey").and_then(Value::as_str).map(ApiKey::new))
    }

    /// A connection's credentials, opened (for the adapter that needs them, never for a client).
    pub(crate) fn open_credentials(&self, connection: &IntegrationConnection) -> Result<Value, AppError> {
        let sealed = connection.credentials.as_deref().ok_or_else(|| AppError::Internal("no credentials".into()))?;
        let plain = self.secrets.open(sealed).map_err(|e| AppError::Internal(format!("opening credentials: {e}")))?;
        serde_json::from_slice(&plain).map_err(|e| AppError::Internal(format!("stored credentials are not JSON: {e}")))
    }

    /// Connecting `GOOGLE_MAPS` asks the places service once (its free ids-only search).
    async fn check_places_key(&self, key: &ApiKey) -> Result<(), AppError> {
        match self.providers.places.check_key(key).await {
            Ok(()) => Ok(()),
            Err(ProviderError::Unauthorized(why) | ProviderError::Rejected(why)) => {
                Err(AppError::field("credentials.apiKey", &why))
            }
            Err(e @ (ProviderError::RateLimited { .. } | ProviderError::Unavailable(_))) => {
                Err(AppError::Unavailable(format!("checking a Google Maps key: {e}")))
            }
        }
    }
}

/// What checking a connection again found.
enum Recheck {
    /// The service refused the credentials (its words).
    Refused(String),
    /// The service could not be asked.
    Unavailable(String),
}

impl From<CrmError> for Recheck {
    fn from(e: CrmError) -> Self {
        match e {
            CrmError::Unauthorized(why) | CrmError::Rejected(why) | CrmError::NotFound(why) => Self::Refused(why),
            e => Self::Unavailable(e.to_string()),
        }
    }
}

/// A connection as the API shows it: the credentials never leave.
fn without_credentials(c: IntegrationConnection) -> IntegrationConnection {
    IntegrationConnection { credentials: None, ..c }
}

/// `config.phoneNumberId` and `config.wabaId`: Graph ids (digits).
fn whatsapp_ids(config: &Value) -> Result<(String, String), AppError> {
    let mut v = leadzone_domain::error::Validator::new();
    let mut id = |name: &str| match config.get(name) {
        Some(Value::String(s))
            if !s.trim().is_empty() && s.trim().len() <= 40 && s.trim().bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(s.trim().to_owned())
        }
        Some(Value::String(s)) if !s.trim().is_empty() => {
            v.push(format!("config.{name}"), "must be the id WhatsApp Manager shows (digits)");
            None
        }
        _ => {
            v.push(format!("config.{name}"), "is required");
            None
        }
    };
    let phone = id("phoneNumberId");
    let waba = id("wabaId");
    v.finish()?;
    Ok((phone.unwrap_or_default(), waba.unwrap_or_default()))
}

/// One credential: a non-empty string of bounded length.
fn credential(credentials: &Value, name: &str) -> Result<String, AppError> {
    let field = format!("credentials.{name}");
    match credentials.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= MAX_CREDENTIAL_LEN => Ok(s.trim().to_owned()),
        Some(Value::String(s)) if s.len() > MAX_CREDENTIAL_LEN => Err(AppError::field(&field, "is too long")),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(AppError::field(&field, "is required")),
        Some(_) => Err(AppError::field(&field, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeTx, app_with, ctx};
    use leadzone_domain::enums::Role;
    use std::sync::Arc;

    /// A key Google refuses is a 422 on `credentials.apiKey` with Google's words, and nothing is
    /// sealed or stored (the strict mocks would fail on a seal, a transaction or an upsert).
    #[tokio::test]
    async fn a_refused_key_is_422_with_the_services_words_and_nothing_is_stored() {
        let mut places = leadzone_ports::discovery::MockPlacesProvider::new();
        places
            .expect_check_key()
            .withf(|k| k.expose() == "bad-key")
            .times(1)
            .returning(|_| Err(ProviderError::Unauthorized("API key not valid. Please pass a valid API key.".into())));
        let mut ports = crate::testing::ports_with_txs(vec![FakeTx::default()]);
        ports.providers.places = Arc::new(places);
        let app = crate::App::new(ports);
        let err = app
            .integrations
            .connect_integration(&ctx(Role::Admin, 1), IntegrationType::GoogleMaps, &json!({"apiKey": "bad-key"}), None)
            .await
            .unwrap_err();
        let AppError::Validation(errors) = err else { panic!("{err:?}") };
        assert_eq!(errors[0].field, "credentials.apiKey");
        assert!(errors[0].message.contains("API key not valid"));
    }

    #[tokio::test]
    async fn only_owners_and_admins_connect_and_a_key_must_be_a_string() {
        let app = app_with(FakeTx::default());
        for role in [Role::Manager, Role::Sales] {
            let err = app
                .integrations
                .connect_integration(&ctx(role, 1), IntegrationType::GoogleMaps, &json!({"apiKey": "k"}), None)
                .await
                .unwrap_err();
            assert!(matches!(err, AppError::Forbidden), "{role:?}: {err:?}");
        }
        for (credentials, message) in [
            (json!({}), "is required"),
            (json!({"apiKey": 7}), "must be a string"),
            (json!({"apiKey": "  "}), "is required"),
        ] {
            let err = app
                .integrations
                .connect_integration(&ctx(Role::Owner, 1), IntegrationType::GoogleMaps, &credentials, None)
                .await
                .unwrap_err();
            let AppError::Validation(errors) = err else { panic!("{err:?}") };
            assert_eq!((errors[0].field.as_str(), errors[0].message.as_str()), ("credentials.apiKey", message));
        }
    }
}
