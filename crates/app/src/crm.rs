//! The CRMs a SYNC job pushes leads to — HubSpot companies, Salesforce Leads, Notion pages — and
//! what differs between them: how a connection is checked, the names a field map may use, the
//! default map, how a lead's status reads there, the batch size and the pace. The job itself
//! (`sync.rs`) walks the leads the same way for all three.

use crate::AppError;
use leadzone_domain::enums::{IntegrationType, LeadStatus};
use leadzone_ports::discovery::ApiKey;
use leadzone_ports::sync::{CrmBatch, CrmError, CrmFailure, CrmRecord, CrmResult, NotionSchema, SyncLead};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The lead fields a field map may name.
pub const LEAD_FIELDS: [&str; 9] =
    ["companyName", "contactName", "phone", "email", "website", "domain", "city", "industry", "status"];

/// What Salesforce's `LastName` gets when the lead has no decision maker yet.
pub const NO_CONTACT: &str = "—";

/// Salesforce's external-id field, which the adapter fills: no field map may write it.
const SALESFORCE_KEY: &str = "Leadzone_Id__c";

/// A service a SYNC job pushes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crm {
    HubSpot,
    Salesforce,
    Notion,
}

impl Crm {
    /// The CRM of a connection type, when it is one.
    pub fn of(kind: IntegrationType) -> Option<Self> {
        match kind {
            IntegrationType::HubSpot => Some(Self::HubSpot),
            IntegrationType::Salesforce => Some(Self::Salesforce),
            IntegrationType::Notion => Some(Self::Notion),
            _ => None,
        }
    }

    pub fn kind(self) -> IntegrationType {
        match self {
            Self::HubSpot => IntegrationType::HubSpot,
            Self::Salesforce => IntegrationType::Salesforce,
            Self::Notion => IntegrationType::Notion,
        }
    }

    /// The name lead refs are kept under (the connection type).
    pub fn service(self) -> &'static str {
        self.kind().as_str()
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::HubSpot => "HubSpot",
            Self::Salesforce => "Salesforce",
            Self::Notion => "Notion",
        }
    }

    /// Leads per batch: HubSpot's and Salesforce's largest call; for Notion (one call per lead,
    /// three a second) about eight seconds of work between checkpoints.
    pub fn batch(self) -> u64 {
        match self {
            Self::HubSpot => 100,
            Self::Salesforce => 200,
            Self::Notion => 25,
        }
    }

    /// Calls per second at most: under HubSpot's 100 per ten seconds, Notion's documented 3
    /// average; Salesforce counts calls per day, not per second.
    pub fn per_second(self) -> u32 {
        match self {
            Self::HubSpot => 9,
            Self::Salesforce => 5,
            Self::Notion => 3,
        }
    }

    /// The least a 429 waits: HubSpot's window is ten seconds; the others say `Retry-After`.
    pub fn min_backoff(self) -> Duration {
        match self {
            Self::HubSpot => Duration::from_secs(10),
            Self::Salesforce | Self::Notion => Duration::from_secs(1),
        }
    }

    /// The credential field connecting takes.
    pub fn credential(self) -> &'static str {
        match self {
            Self::HubSpot | Self::Salesforce => "accessToken",
            Self::Notion => "token",
        }
    }

    /// Whether `property` may be a target of this service's field map.
    fn property_ok(self, property: &str) -> Result<(), &'static str> {
        let bytes = property.as_bytes();
        let ok = match self {
            Self::HubSpot => {
                !property.is_empty()
                    && property.len() <= 100
                    && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
            }
            Self::Salesforce => {
                bytes.first().is_some_and(u8::is_ascii_alphabetic)
                    && property.len() <= 80
                    && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    && property != SALESFORCE_KEY
            }
            Self::Notion => !property.trim().is_empty() && property.chars().count() <= 100,
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Self::HubSpot => "must be a HubSpot property name (lowercase, digits, _)",
            Self::Salesforce => "must be a Lead field API name (letters, digits, _), not Leadzone_Id__c",
            Self::Notion => "must be a property name of 1–100 characters",
        })
    }

    /// The map connecting shows when none is given. Notion's depends on the data source: its
    /// title property gets the company name, and a property named like a lead field (`Phone`,
    /// `City`…, any case) gets that field.
    pub fn default_field_map(self, schema: Option<&NotionSchema>) -> BTreeMap<String, String> {
        let pairs: &[(&str, &str)] = match self {
            Self::HubSpot => &[
                ("name", "companyName"),
                ("phone", "phone"),
                ("domain", "domain"),
                ("city", "city"),
                ("industry", "industry"),
                ("lifecyclestage", "status"),
            ],
            Self::Salesforce => &[
                ("Company", "companyName"),
                ("Phone", "phone"),
                ("Email", "email"),
                ("Website", "website"),
                ("City", "city"),
                ("Industry", "industry"),
            ],
            Self::Notion => {
                let mut map = BTreeMap::new();
                for (name, kind) in schema.into_iter().flatten() {
                    let field = if *kind == leadzone_ports::sync::NotionKind::Title {
                        Some("companyName")
                    } else {
                        LEAD_FIELDS.iter().copied().find(|f| f.eq_ignore_ascii_case(name.trim()))
                    };
                    if let Some(field) = field {
                        map.insert(name.clone(), field.to_owned());
                    }
                }
                return map;
            }
        };
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// A lead's status as this service reads it: HubSpot's lifecycle stage, Salesforce's
    /// standard Lead Status values, Notion the Leadzone status itself.
    pub fn status(self, status: LeadStatus) -> &'static str {
        match (self, status) {
            (Self::HubSpot, LeadStatus::New) => "lead",
            (Self::HubSpot, LeadStatus::Prospected) => "marketingqualifiedlead",
            (Self::HubSpot, LeadStatus::Contacted) => "salesqualifiedlead",
            (Self::HubSpot, LeadStatus::Qualified) => "opportunity",
            (Self::HubSpot, LeadStatus::Lost) => "other",
            (Self::Salesforce, LeadStatus::New | LeadStatus::Prospected) => "Open - Not Contacted",
            (Self::Salesforce, LeadStatus::Contacted | LeadStatus::Qualified) => "Working - Contacted",
            (Self::Salesforce, LeadStatus::Lost) => "Closed - Not Converted",
            (Self::Notion, s) => s.as_str(),
        }
    }

    /// A `config.fieldMap` as given (the default when absent): the service's names to lead
    /// fields; for Notion, only properties the data source has.
    ///
    /// # Errors
    /// 422 on `config.fieldMap.<property>` for an unknown lead field or a bad property name.
    pub fn field_map(
        self,
        config: &Value,
        schema: Option<&NotionSchema>,
    ) -> Result<BTreeMap<String, String>, AppError> {
        let Some(given) = config.get("fieldMap") else { return Ok(self.default_field_map(schema)) };
        let Some(given) = given.as_object() else {
            return Err(AppError::field("config.fieldMap", "must be an object"));
        };
        let mut v = leadzone_domain::error::Validator::new();
        let mut map = BTreeMap::new();
        for (property, field) in given {
            let field = field.as_str().unwrap_or_default();
            if let Err(why) = self.property_ok(property) {
                v.push(format!("config.fieldMap.{property}"), why);
            } else if !LEAD_FIELDS.contains(&field) {
                v.push(format!("config.fieldMap.{property}"), format!("must be one of {}", LEAD_FIELDS.join(", ")));
            } else if schema.is_some_and(|s| !s.contains_key(property)) {
                v.push(format!("config.fieldMap.{property}"), "is not a property of the data source");
            } else {
                map.insert(property.clone(), field.to_owned());
            }
        }
        v.finish()?;
        if map.is_empty() {
            return Err(AppError::field("config.fieldMap", "must map at least one property"));
        }
        Ok(map)
    }

    /// A lead's record under `map` (fields it has no value for are left out). Salesforce's
    /// required `Company` and `LastName` are always there: the company's name, and the first
    /// decision maker or "—".
    pub fn record(self, lead: &SyncLead, map: &BTreeMap<String, String>) -> CrmRecord {
        // Websites are stored normalised (`https://host/…`): the host, without `www.`.
        let domain = lead.website.as_deref().and_then(|w| w.split("://").nth(1)).and_then(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            (!host.is_empty()).then(|| host.trim_start_matches("www.").to_owned())
        });
        let mut properties = BTreeMap::new();
        for (property, field) in map {
            let value = match field.as_str() {
                "companyName" => Some(lead.company_name.clone()),
                "contactName" => lead.contact_name.clone(),
                "phone" => lead.phone.clone(),
                "email" => lead.email.clone(),
                "website" => lead.website.clone(),
                "domain" => domain.clone(),
                "city" => lead.city.clone(),
                "industry" => lead.industry.clone(),
                "status" => Some(self.status(lead.status).to_owned()),
                _ => None,
            };
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                properties.insert(property.clone(), value);
            }
        }
        if self == Self::Salesforce {
            properties.insert("Company".into(), lead.company_name.clone());
            let contact = lead.contact_name.clone().filter(|n| !n.trim().is_empty());
            properties.insert("LastName".into(), contact.unwrap_or_else(|| NO_CONTACT.to_owned()));
        }
        CrmRecord { lead_id: lead.id, properties }
    }
}

/// A connection opened for a sync: the service, its credentials and what it needs to write.
pub(crate) struct Target {
    pub crm: Crm,
    pub token: ApiKey,
    /// Salesforce's instance URL, Notion's data source id.
    pub place: String,
    pub map: BTreeMap<String, String>,
    /// Notion's data source properties, read when the sync starts.
    pub schema: NotionSchema,
}

impl crate::integrations::Integrations {
    /// Connecting a CRM: the credential checked with the service (HubSpot also gets its
    /// `leadzone_id` property), the field map checked; returns the sealed part and the config
    /// to store. A refusal is 422 with the service's words.
    pub(crate) async fn connect_crm(
        &self,
        ctx: &crate::Ctx,
        crm: Crm,
        token: String,
        config: &Value,
    ) -> Result<(Value, Value), AppError> {
        self.flags.require_feature(ctx, "integrations").await?;
        crate::sync::check_schedule(config)?;
        let key = ApiKey::new(token.clone());
        let mut out = config.as_object().cloned().unwrap_or_default();
        let credential_field = format!("credentials.{}", crm.credential());
        let refused = |e: CrmError| match e {
            CrmError::Unauthorized(why) | CrmError::Rejected(why) | CrmError::NotFound(why) => {
                AppError::field(&credential_field, &why)
            }
            e => AppError::Unavailable(format!("checking a {} connection: {e}", crm.name())),
        };
        let map = match crm {
            Crm::HubSpot => {
                let map = crm.field_map(config, None)?;
                self.providers.hubspot.prepare(&key).await.map_err(refused)?;
                map
            }
            Crm::Salesforce => {
                let instance = instance_url(config)?;
                let map = crm.field_map(config, None)?;
                self.providers.salesforce.prepare(&instance, &key).await.map_err(refused)?;
                out.insert("instanceUrl".into(), json!(instance));
                map
            }
            Crm::Notion => {
                let data_source = data_source_id(config)?;
                let schema = self.providers.notion.data_source(&key, &data_source).await.map_err(refused)?;
                if !schema.values().any(|k| *k == leadzone_ports::sync::NotionKind::Title) {
                    return Err(AppError::field("config.dataSourceId", "the data source has no title property"));
                }
                out.insert("dataSourceId".into(), json!(data_source));
                crm.field_map(config, Some(&schema))?
            }
        };
        out.insert("fieldMap".into(), json!(map));
        Ok((json!({ crm.credential(): token }), Value::Object(out)))
    }

    /// One batch of changed leads sent to the target: HubSpot and Salesforce in one call,
    /// Notion a page each (created, or updated when the lead has one; a page deleted in Notion
    /// is created again). `pages` holds the lead's page ids; each new page's ref is saved as soon
    /// as Notion answered, so a worker killed mid-batch does not create it again.
    pub(crate) async fn push(
        &self,
        tenant: leadzone_domain::ids::TenantId,
        target: &Target,
        pacer: &mut crate::whatsapp_bulk::Pacer,
        leads: &[&SyncLead],
        pages: &std::collections::HashMap<leadzone_domain::ids::LeadId, String>,
    ) -> Result<CrmBatch, CrmError> {
        let records: Vec<CrmRecord> = leads.iter().map(|l| target.crm.record(l, &target.map)).collect();
        let p = &self.providers;
        match target.crm {
            Crm::HubSpot => {
                retrying(target.crm, pacer, || p.hubspot.upsert_companies(&target.token, records.clone())).await
            }
            Crm::Salesforce => {
                retrying(target.crm, pacer, || p.salesforce.upsert_leads(&target.place, &target.token, records.clone()))
                    .await
            }
            Crm::Notion => {
                let mut batch = CrmBatch::default();
                for (record, lead) in records.iter().zip(leads) {
                    let existing = pages.get(&record.lead_id);
                    let updated = match existing {
                        Some(page) => {
                            let call = || p.notion.update_page(&target.token, page, &target.schema, record);
                            match retrying(target.crm, pacer, call).await {
                                Ok(()) => Ok(Some(page.clone())),
                                Err(CrmError::NotFound(_)) => Ok(None),
                                Err(e) => Err(e),
                            }
                        }
                        None => Ok(None),
                    };
                    let outcome = match updated {
                        Ok(Some(page)) => Ok((page, false)),
                        Ok(None) => {
                            let call = || p.notion.create_page(&target.token, &target.place, &target.schema, record);
                            retrying(target.crm, pacer, call).await.map(|page| (page, true))
                        }
                        Err(e) => Err(e),
                    };
                    match outcome {
                        Ok((page, created)) => {
                            if created {
                                self.save_ref_now(tenant, lead, &page).await;
                            }
                            batch.results.push(CrmResult { lead_id: record.lead_id, external_id: page, created });
                        }
                        Err(CrmError::Rejected(message) | CrmError::NotFound(message)) => {
                            batch.failures.push(CrmFailure { lead_id: Some(record.lead_id), message });
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(batch)
            }
        }
    }

    /// A Notion page's ref, stored in a transaction of its own right away (a failure is logged:
    /// the batch's end stores it again).
    async fn save_ref_now(&self, tenant: leadzone_domain::ids::TenantId, lead: &SyncLead, page: &str) {
        let saved = async {
            let tx = self.uow.begin(tenant).await?;
            let r = leadzone_ports::sync::SyncRef {
                lead_id: lead.id,
                external_id: page.to_owned(),
                synced_version: lead.updated_at,
            };
            tx.sync().save_refs(Crm::Notion.service(), vec![r], self.clock.now()).await?;
            tx.commit().await.map_err(AppError::from)
        };
        if let Err(e) = saved.await {
            tracing::warn!(lead = %lead.id, error = %e, "a new Notion page's ref could not be saved yet");
        }
    }
}

/// One call at the service's pace: a 429 within the short window waits (`Retry-After`, at least
/// the service's least backoff) and a locked record 2 s, then the call goes again (at most 6
/// times); anything else is the caller's.
async fn retrying<T, F, Fut>(crm: Crm, pacer: &mut crate::whatsapp_bulk::Pacer, mut call: F) -> Result<T, CrmError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CrmError>>,
{
    let mut tries = 0;
    loop {
        pacer.wait().await;
        match call().await {
            Err(CrmError::RateLimited { daily: false, retry_after, message }) if tries < 6 => {
                tries += 1;
                let wait = retry_after.unwrap_or(crm.min_backoff()).max(crm.min_backoff());
                tracing::info!(service = crm.name(), wait_ms = wait.as_millis() as u64, %message, "rate limited; waiting");
                tokio::time::sleep(wait).await;
            }
            Err(CrmError::Locked(message)) if tries < 6 => {
                tries += 1;
                tracing::info!(service = crm.name(), %message, "a record is locked; retrying in 2 s");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            other => return other,
        }
    }
}

/// `config.instanceUrl`: the Salesforce org's `https://…my.salesforce.com` (no path), without
/// its trailing slash. Whether the address may be fetched is the adapter's SSRF guard's call.
fn instance_url(config: &Value) -> Result<String, AppError> {
    let Some(raw) = config.get("instanceUrl").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(AppError::field("config.instanceUrl", "is required"));
    };
    let bad =
        || AppError::field("config.instanceUrl", "must be the org's instance URL, like https://acme.my.salesforce.com");
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host_str().is_none()
        || !matches!(url.path(), "" | "/")
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || raw.len() > 300
    {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `config.dataSourceId`: a Notion id (a UUID, with or without dashes).
fn data_source_id(config: &Value) -> Result<String, AppError> {
    let Some(raw) = config.get("dataSourceId").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(AppError::field("config.dataSourceId", "is required"));
    };
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::field("config.dataSourceId", "must be the data source's id (32 hex digits)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadzone_ports::sync::NotionKind;

    fn lead() -> SyncLead {
        SyncLead {
            id: uuid::Uuid::nil().into(),
            company_name: "مؤسسة النور".into(),
            industry: Some("تجزئة".into()),
            city: None,
            phone: Some("+966501234567".into()),
            email: None,
            website: Some("https://www.alnoor.sa/about".into()),
            status: LeadStatus::Qualified,
            contact_name: None,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_default_hubspot_map_gives_its_properties_and_leaves_out_the_empty() {
        let p = Crm::HubSpot.record(&lead(), &Crm::HubSpot.default_field_map(None)).properties;
        assert_eq!(p.get("name").map(String::as_str), Some("مؤسسة النور"));
        assert_eq!(p.get("domain").map(String::as_str), Some("alnoor.sa"));
        assert_eq!(p.get("lifecyclestage").map(String::as_str), Some("opportunity"));
        assert!(!p.contains_key("city"), "no value, no property");
    }

    #[test]
    fn salesforce_always_gets_company_and_last_name() {
        let only_phone: BTreeMap<String, String> = [("Phone".to_owned(), "phone".to_owned())].into();
        let p = Crm::Salesforce.record(&lead(), &only_phone).properties;
        assert_eq!(p.get("Company").map(String::as_str), Some("مؤسسة النور"));
        assert_eq!(p.get("LastName").map(String::as_str), Some(NO_CONTACT));
        let with_contact = SyncLead { contact_name: Some("Sara Al-Harbi".into()), ..lead() };
        let p = Crm::Salesforce.record(&with_contact, &only_phone).properties;
        assert_eq!(p.get("LastName").map(String::as_str), Some("Sara Al-Harbi"));
        assert!(Crm::Salesforce.field_map(&json!({"fieldMap": {"Leadzone_Id__c": "phone"}}), None).is_err());
    }

    #[test]
    fn a_field_map_names_known_fields_and_property_names_of_the_service() {
        assert_eq!(Crm::HubSpot.field_map(&json!({}), None).unwrap(), Crm::HubSpot.default_field_map(None));
        let custom = Crm::HubSpot
            .field_map(&json!({"fieldMap": {"name": "companyName", "riyadh_branch": "city"}}), None)
            .unwrap();
        assert_eq!(custom.len(), 2);
        let err =
            Crm::HubSpot.field_map(&json!({"fieldMap": {"Name": "companyName", "x": "owner"}}), None).unwrap_err();
        let AppError::Validation(errors) = err else { panic!("{err:?}") };
        assert_eq!(errors.len(), 2);
        // Salesforce's API names are mixed case.
        assert!(Crm::Salesforce.field_map(&json!({"fieldMap": {"Industry": "industry"}}), None).is_ok());
    }

    #[test]
    fn notions_default_map_follows_the_data_source() {
        let schema: NotionSchema = [
            ("Company".to_owned(), NotionKind::Title),
            ("phone".to_owned(), NotionKind::PhoneNumber),
            ("City".to_owned(), NotionKind::Select),
            ("Notes".to_owned(), NotionKind::RichText),
        ]
        .into();
        let map = Crm::Notion.default_field_map(Some(&schema));
        let expected: BTreeMap<String, String> = [("Company", "companyName"), ("phone", "phone"), ("City", "city")]
            .into_iter()
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        assert_eq!(map, expected);
        let err = Crm::Notion.field_map(&json!({"fieldMap": {"Missing": "city"}}), Some(&schema)).unwrap_err();
        assert!(format!("{err:?}").contains("config.fieldMap.Missing"));
        assert_eq!(
            Crm::Notion.record(&lead(), &map).properties.get("Company").map(String::as_str),
            Some("مؤسسة النور")
        );
    }

    /// A 429 within the short window waits what the service says, but HubSpot at least its ten
    /// seconds; a locked record two; after six waits the error is the caller's. (Paused time:
    /// the waits are virtual.)
    #[tokio::test(start_paused = true)]
    async fn throttled_calls_wait_the_services_time_then_go_again() {
        let throttled = |secs| CrmError::RateLimited {
            daily: false,
            retry_after: Some(Duration::from_secs(secs)),
            message: "slow down".into(),
        };
        for (crm, answers, least) in [
            (Crm::HubSpot, vec![throttled(1)], 10),
            (Crm::Notion, vec![throttled(3), throttled(1)], 4),
            (Crm::Salesforce, vec![CrmError::Locked("locked".into())], 2),
        ] {
            let errors = u32::try_from(answers.len()).unwrap_or(0);
            let mut answers = std::collections::VecDeque::from(answers);
            let calls = std::sync::atomic::AtomicU32::new(0);
            let mut pacer = crate::whatsapp_bulk::Pacer::new(0);
            let started = tokio::time::Instant::now();
            let out = retrying(crm, &mut pacer, || {
                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let answer = answers.pop_front();
                async move { answer.map_or(Ok(()), Err) }
            })
            .await;
            assert_eq!(out, Ok(()), "{crm:?}");
            assert!(started.elapsed() >= Duration::from_secs(least), "{crm:?} waited {:?}", started.elapsed());
            assert!(started.elapsed() < Duration::from_secs(least + 1), "{crm:?} waited {:?}", started.elapsed());
            assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), errors + 1, "{crm:?}");
        }
        // The daily limit is never waited for, and a seventh 429 is the caller's.
        let mut pacer = crate::whatsapp_bulk::Pacer::new(0);
        let daily = retrying(Crm::HubSpot, &mut pacer, || async {
            Err::<(), _>(CrmError::RateLimited { daily: true, retry_after: None, message: "DAILY".into() })
        })
        .await;
        assert!(matches!(daily, Err(CrmError::RateLimited { daily: true, .. })));
        let calls = std::sync::atomic::AtomicU32::new(0);
        let always = retrying(Crm::Notion, &mut pacer, || {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async { Err::<(), _>(throttled(1)) }
        })
        .await;
        assert!(always.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 7);
    }

    #[test]
    fn instance_urls_and_data_source_ids_are_checked() {
        assert_eq!(
            instance_url(&json!({"instanceUrl": "https://acme.my.salesforce.com/"})).unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert!(instance_url(&json!({"instanceUrl": "https://acme.my.salesforce.com/services"})).is_err());
        assert!(instance_url(&json!({"instanceUrl": "ftp://acme"})).is_err());
        assert!(instance_url(&json!({})).is_err());
        assert_eq!(
            data_source_id(&json!({"dataSourceId": "248104cd477e80afbc30000bd28de8f9"})).unwrap(),
            "248104cd-477e-80af-bc30-000bd28de8f9"
        );
        assert!(data_source_id(&json!({"dataSourceId": "not-an-id"})).is_err());
    }
}
