//! Test-only: a fresh, migrated PostgreSQL database for each test, cloned from a template.
//!
//! Where the server comes from: `DATABASE_URL` when set (any database on the server; the name is
//! ignored), else a throwaway container via testcontainers when Docker answers, else a panic that
//! says what to do — never a silent skip. The template is named by a hash of the migration SQL,
//! built once per server under an advisory lock (test processes run in parallel), and each test's
//! database is dropped when its `TestDb` goes out of scope.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

pub mod pytools;
pub mod s3;

use leadzone_migrations::{Migrator, MigratorTrait, migration_sources};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use tokio::sync::OnceCell;

/// The password given to the restricted roles in a throwaway container (a local trust-auth
/// server needs none, and a developer's server keeps whatever it has).
const CONTAINER_ROLE_PASSWORD: &str = "leadzone_test";
const TEMPLATE_LOCK: i64 = 0x1EAD_2017;

struct Server {
    /// URL of the server's maintenance database (`postgres`), as the owner/superuser.
    admin_url: url::Url,
    role_password: Option<&'static str>,
    _container: Option<Box<dyn std::any::Any + Send + Sync>>,
}

static SERVER: OnceCell<Server> = OnceCell::const_new();
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

async fn server() -> &'static Server {
    SERVER
        .get_or_init(|| async {
            if let Ok(raw) = std::env::var("DATABASE_URL") {
                let admin = leadzone_migrations::admin_url(&raw).expect("DATABASE_URL is not a valid URL");
                let admin_url = url::Url::parse(&admin).expect("DATABASE_URL is not a valid URL");
                return Server { admin_url, role_password: None, _container: None };
            }
            start_container().await
        })
        .await
}

async fn start_container() -> Server {
    use testcontainers_modules::postgres::Postgres;
    use testcontainers_modules::testcontainers::ImageExt;
    use testcontainers_modules::testcontainers::runners::AsyncRunner;
    let container = Postgres::default().with_tag("15-alpine").start().await.unwrap_or_else(|e| {
        panic!(
            "No database for the tests: DATABASE_URL is not set and Docker could not start PostgreSQL ({e}).\n\
             Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (a local server), \
             or run `docker compose -f deploy/compose.yaml up -d postgres`."
        )
    });
    let host = container.get_host().await.expect("container host");
    let port = container.get_host_port_ipv4(5432).await.expect("container port");
    let admin_url = url::Url::parse(&format!("postgres://postgres:postgres@{host}:{port}/postgres")).expect("url");
    Server { admin_url, role_password: Some(CONTAINER_ROLE_PASSWORD), _container: Some(Box::new(container)) }
}

async fn connect_one(url: &str) -> DatabaseConnection {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1).min_connections(1).sqlx_logging(false);
    Database::connect(opts).await.unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

fn with_db(base: &url::Url, db: &str) -> url::Url {
    let mut u = base.clone();
    u.set_path(&format!("/{db}"));
    u
}

fn template_name() -> String {
    let mut all = String::new();
    for s in migration_sources() {
        all.push_str(s);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, all.as_bytes());
    format!("leadzone_tmpl_{}", &hex::encode(digest)[..12])
}

async fn database_exists(admin: &DatabaseConnection, name: &str) -> bool {
    let row = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await
        .expect("query pg_database");
    row.is_some()
}

async fn template(server: &Server) -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let admin = connect_one(server.admin_url.as_str()).await;
            admin.execute_unprepared(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})")).await.expect("lock");
            if !database_exists(&admin, &name).await {
                let building = format!("{name}_building");
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"))
                    .await
                    .expect("drop");
                admin.execute_unprepared(&format!("CREATE DATABASE \"{building}\"")).await.expect("create template");
                {
                    let db = connect_one(with_db(&server.admin_url, &building).as_str()).await;
                    Migrator::up(&db, None).await.expect("migrations apply to the template");
                    if let Some(pw) = server.role_password {
                        for role in ["leadzone_app", "leadzone_system"] {
                            db.execute_unprepared(&format!("ALTER ROLE {role} PASSWORD '{pw}'"))
                                .await
                                .expect("role password");
                        }
                    }
                    db.close().await.expect("close template connection");
                }
                admin
                    .execute_unprepared(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""))
                    .await
                    .expect("rename");
            }
            admin.execute_unprepared(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})")).await.expect("unlock");
            admin.close().await.ok();
            name
        })
        .await
}

/// One test's own database, dropped (with its connections) when this value is dropped.
pub struct TestDb {
    pub name: String,
    admin_url: url::Url,
    role_password: Option<&'static str>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let server = server().await;
        let template = template(server).await;
        let name = format!("lz_test_{}", uuid::Uuid::now_v7().simple());
        let admin = connect_one(server.admin_url.as_str()).await;
        let mut attempt = 0;
        loop {
            match admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")).await {
                Ok(_) => break,
                // Two clones of one template at the same instant can collide; try again.
                Err(e) if attempt < 20 && e.to_string().contains("being accessed by other users") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                }
                Err(e) => panic!("cannot create test database: {e}"),
            }
        }
        admin.close().await.ok();
        TestDb { name, admin_url: server.admin_url.clone(), role_password: server.role_password }
    }

    /// URL of this database as the owner (superuser): for migrations and test set-up only.
    pub fn owner_url(&self) -> String {
        with_db(&self.admin_url, &self.name).to_string()
    }

    /// URL of this database as another role (`leadzone_app`, `leadzone_system`).
    pub fn url_as(&self, role: &str) -> String {
        let mut u = with_db(&self.admin_url, &self.name);
        u.set_username(role).expect("username");
        u.set_password(self.role_password).expect("password");
        u.to_string()
    }

    pub fn app_url(&self) -> String {
        self.url_as("leadzone_app")
    }

    pub fn system_url(&self) -> String {
        self.url_as("leadzone_system")
    }

    /// A single-connection owner connection, for set-up and inspection.
    pub async fn owner(&self) -> DatabaseConnection {
        connect_one(&self.owner_url()).await
    }

    /// A single-connection pool as `role`.
    pub async fn connect_as(&self, role: &str) -> DatabaseConnection {
        connect_one(&self.url_as(role)).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin_url.to_string();
        let name = self.name.clone();
        // Drop cannot be async; a short-lived thread with its own runtime does the work.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                if let Ok(db) = Database::connect(ConnectOptions::new(admin).sqlx_logging(false).to_owned()).await {
                    let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                    let _ = db.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}
