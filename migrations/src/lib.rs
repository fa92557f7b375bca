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
        ]
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
    ]
}
