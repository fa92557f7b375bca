//! Leadzone's schema migrations. Each migration runs one reviewed SQL file from `sql/`; this crate
//! never imports the entity code, so an old migration never changes when the code does.
//! Migrations are forward-only: `down` refuses rather than guess at destroying data.

use sea_orm_migration::prelude::*;

pub use sea_orm_migration::MigratorTrait;

macro_rules! sql_migration {
    ($name:ident, $file:literal) => {
        pub struct $name;

        impl MigrationName for $name {
            fn name(&self) -> &str {
                $file
            }
        }

        #[async_trait::async_trait]
        impl MigrationTrait for $name {
            async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
                manager.get_connection().execute_unprepared(include_str!(concat!("../sql/", $file))).await?;
                Ok(())
            }

            async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
                Err(DbErr::Migration(format!("{} is forward-only; restore from a backup instead", $file)))
            }
        }
    };
}

sql_migration!(Schema, "0001_schema.sql");
sql_migration!(Security, "0002_security.sql");
sql_migration!(SeedPlans, "0003_seed_plans.sql");
sql_migration!(Identity, "0004_identity.sql");
sql_migration!(LeadsWorkspace, "0005_leads_workspace.sql");
sql_migration!(SystemLeastPrivilege, "0006_system_role_least_privilege.sql");
sql_migration!(LeadsStatistics, "0007_leads_statistics.sql");
sql_migration!(Jobs, "0008_jobs.sql");
sql_migration!(Retention, "0009_retention.sql");
sql_migration!(FeatureFlags, "0010_feature_flags.sql");
sql_migration!(Stripe, "0011_stripe.sql");
sql_migration!(SearchUnderRls, "0012_search_under_rls.sql");
sql_migration!(TotpReplay, "0013_totp_replay.sql");
sql_migration!(LeanLeadIndexes, "0014_lean_lead_indexes.sql");
sql_migration!(NameOrder, "0015_name_order_on_the_name_key.sql");
sql_migration!(IndexesInInsertionOrder, "0016_lead_indexes_in_insertion_order.sql");
sql_migration!(NewestFirstInInsertionOrder, "0017_newest_first_indexes_in_insertion_order.sql");
sql_migration!(LoginFailuresByClientIp, "0018_login_failures_by_client_ip.sql");
sql_migration!(SealedMailOutbox, "0019_sealed_mail_outbox.sql");
sql_migration!(Discovery, "0020_discovery.sql");
sql_migration!(Blobs, "0021_blobs.sql");
sql_migration!(WhatsApp, "0022_whatsapp.sql");
sql_migration!(OutboundWebhooks, "0023_outbound_webhooks_and_crm_sync.sql");
sql_migration!(SlackNotifications, "0024_slack_notifications.sql");

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(Schema),
            Box::new(Security),
            Box::new(SeedPlans),
            Box::new(Identity),
            Box::new(LeadsWorkspace),
            Box::new(SystemLeastPrivilege),
            Box::new(LeadsStatistics),
            Box::new(Jobs),
            Box::new(Retention),
            Box::new(FeatureFlags),
            Box::new(Stripe),
            Box::new(SearchUnderRls),
            Box::new(TotpReplay),
            Box::new(LeanLeadIndexes),
            Box::new(NameOrder),
            Box::new(IndexesInInsertionOrder),
            Box::new(NewestFirstInInsertionOrder),
            Box::new(LoginFailuresByClientIp),
            Box::new(SealedMailOutbox),
            Box::new(Discovery),
            Box::new(Blobs),
            Box::new(WhatsApp),
            Box::new(OutboundWebhooks),
            Box::new(SlackNotifications),
        ]
    }
}

/// Creates the database named in `owner_url` if it does not exist (connecting to the server's
/// `postgres` database to do so), applies every pending migration, and sets the given passwords of
/// the restricted roles (`leadzone_app`, `leadzone_system`).
///
/// # Errors
/// Any database error but a concurrent creation of the same database.
pub async fn migrate(owner_url: &str, role_passwords: &[(&str, &str)]) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    let name = database_name(owner_url)?;
    let admin = Database::connect(admin_url(owner_url)?).await?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        tracing::info!(database = %name, "creating database");
        let quoted = name.replace('"', "\"\"");
        if let Err(e) = admin.execute_unprepared(&format!("CREATE DATABASE \"{quoted}\"")).await {
            // Another process may have created it at the same moment; that is fine.
            if !is_duplicate_database(&e) {
                return Err(e);
            }
        }
    }
    admin.close().await?;

    let owner = Database::connect(owner_url).await?;
    Migrator::up(&owner, None).await?;
    for (role, password) in role_passwords {
        if !matches!(*role, "leadzone_app" | "leadzone_system") {
            return Err(DbErr::Custom(format!("{role} is not a Leadzone role")));
        }
        // ALTER ROLE takes no parameters; quote the literal (standard_conforming_strings is on).
        let literal = password.replace('\'', "''");
        owner.execute_unprepared(&format!("ALTER ROLE {role} PASSWORD '{literal}'")).await?;
    }
    owner.close().await?;
    Ok(())
}

/// The database a URL names, as the driver will connect to it (percent-decoded: `lead%20zone` is
/// the database `lead zone`).
pub fn database_name(url: &str) -> Result<String, DbErr> {
    use sea_orm_migration::sea_orm::sqlx::postgres::PgConnectOptions;
    let options: PgConnectOptions = url.parse().map_err(|e| DbErr::Custom(format!("database url: {e}")))?;
    options.get_database().map(str::to_owned).ok_or_else(|| DbErr::Custom("the database url names no database".into()))
}

/// The same server and credentials, on the `postgres` database (a `dbname` parameter, which
/// would name the database again, is dropped; the others — `sslmode` and the like — are kept).
pub fn admin_url(owner_url: &str) -> Result<String, DbErr> {
    let mut url = url::Url::parse(owner_url).map_err(|e| DbErr::Custom(format!("database url: {e}")))?;
    let kept: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != "dbname").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.set_path("/postgres");
    url.set_query(None);
    if !kept.is_empty() {
        url.query_pairs_mut().extend_pairs(kept);
    }
    Ok(url.into())
}

/// A concurrent `CREATE DATABASE` of the same name: `duplicate_database` (42P04), or, when both
/// commands ran at once, a unique violation on `pg_database`'s name index (23505).
fn is_duplicate_database(e: &DbErr) -> bool {
    use sea_orm_migration::sea_orm::RuntimeErr;
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(err)) | DbErr::Query(RuntimeErr::SqlxError(err)) => {
            matches!(err.as_database_error().and_then(|d| d.code()).as_deref(), Some("42P04" | "23505"))
        }
        _ => false,
    }
}

/// The SQL text of every migration in order: tests hash it to name their template database.
pub fn migration_sources() -> &'static [&'static str] {
    &[
        include_str!("../sql/0001_schema.sql"),
        include_str!("../sql/0002_security.sql"),
        include_str!("../sql/0003_seed_plans.sql"),
        include_str!("../sql/0004_identity.sql"),
        include_str!("../sql/0005_leads_workspace.sql"),
        include_str!("../sql/0006_system_role_least_privilege.sql"),
        include_str!("../sql/0007_leads_statistics.sql"),
        include_str!("../sql/0008_jobs.sql"),
        include_str!("../sql/0009_retention.sql"),
        include_str!("../sql/0010_feature_flags.sql"),
        include_str!("../sql/0011_stripe.sql"),
        include_str!("../sql/0012_search_under_rls.sql"),
        include_str!("../sql/0013_totp_replay.sql"),
        include_str!("../sql/0014_lean_lead_indexes.sql"),
        include_str!("../sql/0015_name_order_on_the_name_key.sql"),
        include_str!("../sql/0016_lead_indexes_in_insertion_order.sql"),
        include_str!("../sql/0017_newest_first_indexes_in_insertion_order.sql"),
        include_str!("../sql/0018_login_failures_by_client_ip.sql"),
        include_str!("../sql/0019_sealed_mail_outbox.sql"),
        include_str!("../sql/0020_discovery.sql"),
        include_str!("../sql/0021_blobs.sql"),
        include_str!("../sql/0022_whatsapp.sql"),
        include_str!("../sql/0023_outbound_webhooks_and_crm_sync.sql"),
        include_str!("../sql/0024_slack_notifications.sql"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sql_file_is_a_migration_in_order() {
        // The checkout the test runs in (cargo and nextest set it): the one it was compiled in may be
        // gone when another checkout shares the build cache and its artifacts were reused.
        let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
        let dir = std::path::Path::new(&root).join("sql");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        assert_eq!(names, files);
        assert_eq!(migration_sources().len(), files.len());
    }

    #[test]
    fn the_database_name_is_read_percent_decoded() {
        let name = |url: &str| database_name(url).map_err(|e| e.to_string());
        assert_eq!(name("postgres://u@h:5432/leadzone").unwrap(), "leadzone");
        assert_eq!(name("postgres://u@h/lead%20zone").unwrap(), "lead zone");
        assert_eq!(name("postgres://u@h/%D9%84%D9%8A%D8%AF").unwrap(), "ليد");
        assert!(name("not a url").is_err());
        assert_eq!(name("postgres://u@h/?dbname=lead%20zone").unwrap(), "lead zone");
    }

    #[test]
    fn the_admin_connection_goes_to_the_postgres_database_with_the_same_options() {
        assert_eq!(admin_url("postgres://u:p@h:5432/leadzone").unwrap(), "postgres://u:p@h:5432/postgres");
        assert_eq!(
            admin_url("postgres://u@h/x?dbname=leadzone&sslmode=require").unwrap(),
            "postgres://u@h/postgres?sslmode=require"
        );
        assert_eq!(database_name(&admin_url("postgres://u@h/?dbname=leadzone").unwrap()).unwrap(), "postgres");
    }
}
