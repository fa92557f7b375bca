//! `spawn_app()` and friends (after zero2prod's tests/api/helpers.rs).

use leadzone_api::config::Settings;
use leadzone_api::startup::Application;
use leadzone_testkit::TestDb;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub proxy: Option<DbProxy>,
    pub data_dir: String,
    pub settings: Settings,
    #[allow(dead_code)]
    pub handle: actix_web::dev::ServerHandle,
}

/// A registered owner with a fresh session.
#[derive(Debug, Clone)]
pub struct Account {
    pub token: String,
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
    pub password: String,
}

pub const TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const STRIPE_SECRET: &str = "whsec_test_secret_for_leadzone";
pub const ADMIN_TOKEN: &str = "operator-token-for-tests-0123456789";

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        leadzone_api::init_tracing();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(false).await
}

pub async fn spawn_app_without_admin() -> TestApp {
    spawn_inner(false, false, &[]).await
}

/// A server with extra settings (e.g. `LEADZONE_WORKERS=0`).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_inner(false, true, overrides).await
}

/// The server reaches Postgres through a proxy the test can cut, to simulate an outage.
pub async fn spawn_app_behind_proxy() -> TestApp {
    spawn_with(true).await
}

async fn spawn_with(behind_proxy: bool) -> TestApp {
    spawn_inner(behind_proxy, true, &[]).await
}

async fn spawn_inner(behind_proxy: bool, admin: bool, overrides: &[(&str, &str)]) -> TestApp {
    init_logs();
    let db = TestDb::new().await;
    let proxy = if behind_proxy { Some(DbProxy::start(&db.owner_url()).await) } else { None };
    let route = |url: String| match &proxy {
        Some(p) => p.rewrite(&url),
        None => url,
    };
    let mut env: HashMap<String, String> = [
        ("DATABASE_URL", db.owner_url()),
        ("DATABASE_APP_URL", route(db.app_url())),
        ("DATABASE_SYSTEM_URL", route(db.system_url())),
        ("LEADZONE_BIND", "127.0.0.1:0".to_owned()),
        ("LEADZONE_HTTP_WORKERS", "1".to_owned()),
        ("LEADZONE_DB_POOL_SIZE", "8".to_owned()),
        ("LEADZONE_MASTER_KEY", TEST_MASTER_KEY.to_owned()),
        ("LEADZONE_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_SECRET.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if !admin {
        env.remove("LEADZONE_ADMIN_TOKEN");
    }
    env.insert(
        "LEADZONE_DATA_DIR".into(),
        std::env::temp_dir().join(format!("leadzone-test-{}", db.name)).display().to_string(),
    );
    for (k, v) in overrides {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::from_map(&env).expect("settings");
    let kept_settings = settings.clone();
    // The template database is already migrated.
    let app = Application::build(&settings, false).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let data_dir = env.get("LEADZONE_DATA_DIR").cloned().unwrap_or_default();
    // Idle connections are dropped before the server's 5-second keep-alive closes them, so a reused
    // connection never races its own closing (hyper's IncompleteMessage).
    let client =
        reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_secs(2)).build().expect("client");
    TestApp { base, client, db, proxy, handle, data_dir, settings: kept_settings }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn register(&self) -> Account {
        let email = format!("{}@example.sa", unique("owner"));
        let password = "correct horse 1".to_owned();
        let res = self
            .post(
                "/api/v1/auth/register",
                None,
                &json!({"email": email, "password": password, "name": "Sara", "organizationName": unique("Org ")}),
            )
            .await;
        assert_eq!(res.status(), 201, "register");
        let body: Value = res.json().await.expect("json");
        session_account(&body, "/user/id", "/tenant/id", email, password)
    }

    pub async fn create_lead(&self, account: &Account, body: Value) -> reqwest::Response {
        self.post("/api/v1/leads", Some(&account.token), &body).await
    }

    /// `GET path`'s body as JSON, whatever the status.
    pub async fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        self.get(path, token).await.json().await.expect("json")
    }

    /// Every page of the list at `path` (with its query, without a cursor), following
    /// `nextCursor` to the last page.
    pub async fn pages(&self, path: &str, token: &str) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}&cursor={c}"),
                None => path.to_owned(),
            };
            let page = self.get_json(&url, Some(token)).await;
            cursor = page["nextCursor"].as_str().map(str::to_owned);
            pages.push(page);
            if cursor.is_none() {
                return pages;
            }
        }
    }

    /// The `data` of every page of the list at `path` (see [`pages`](Self::pages)), in order.
    pub async fn all_rows(&self, path: &str, token: &str) -> Vec<Value> {
        let pages = self.pages(path, token).await;
        pages.iter().flat_map(|page| page["data"].as_array().expect("data").iter().cloned()).collect()
    }

    /// `POST path`'s answer body as JSON, whatever the status.
    pub async fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Value {
        self.post(path, token, body).await.json().await.expect("json")
    }

    /// An enterprise owner whose import of 80,000 companies has just been accepted (it runs for a
    /// while): the owner and the import's job id.
    pub async fn long_import(&self) -> (Account, String) {
        let owner = self.owner_on("enterprise").await;
        let body: Value = self.import_csv(&owner.token, companies_csv(80_000), "").await.json().await.expect("json");
        let id = body["job"]["id"].as_str().expect("job id").to_owned();
        (owner, id)
    }

    /// A job's log, as text.
    pub async fn job_logs(&self, token: &str, job_id: &str) -> String {
        self.get(&format!("/api/v1/jobs/{job_id}/logs"), Some(token)).await.text().await.expect("text")
    }

    /// A newly registered owner whose tenant is moved to `plan`.
    pub async fn owner_on(&self, plan: &str) -> Account {
        let owner = self.register().await;
        self.set_plan(&owner, plan).await;
        owner
    }
}

/// The account a session answer opens: its `accessToken`, and the user and tenant ids at these
/// JSON pointers.
fn session_account(body: &Value, user_id: &str, tenant_id: &str, email: String, password: String) -> Account {
    let text = |pointer: &str, what: &str| body.pointer(pointer).and_then(Value::as_str).expect(what).to_owned();
    Account {
        token: text("/accessToken", "token"),
        user_id: text(user_id, "user"),
        tenant_id: text(tenant_id, "tenant"),
        email,
        password,
    }
}

/// A CSV of `rows` distinct companies with distinct Saudi mobile numbers (`Company,Phone`).
pub fn companies_csv(rows: usize) -> Vec<u8> {
    let mut csv = String::from("Company,Phone\n");
    for i in 0..rows {
        csv.push_str(&format!("Company {i},05{i:08}\n"));
    }
    csv.into_bytes()
}

/// Asserts a response's status and returns its JSON body (a success's counterpart of
/// [`problem`]).
pub async fn expect_json(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.expect("json")
}

/// Asserts a problem+json response and returns its body.
pub async fn problem(res: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    assert_eq!(res.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/problem+json"));
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    body
}

/// The fields named in a 422's `errors`.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// A TCP proxy in front of Postgres that a test can switch off (refusing and cutting every
/// connection) and on again.
pub struct DbProxy {
    port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl DbProxy {
    async fn start(target_url: &str) -> Self {
        let target = url::Url::parse(target_url).expect("url");
        let target_addr = format!("{}:{}", target.host_str().expect("host"), target.port().unwrap_or(5432));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let connections: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (up2, conns2) = (up.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target_addr = target_addr.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target_addr).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().expect("lock").push(task);
            }
        });
        DbProxy { port, up, connections }
    }

    fn rewrite(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).expect("url");
        u.set_host(Some("127.0.0.1")).expect("host");
        u.set_port(Some(self.port)).expect("port");
        u.to_string()
    }

    /// Postgres "goes down": new connections are refused and open ones are cut.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().expect("lock").drain(..) {
            task.abort();
        }
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl TestApp {
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.patch(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn put_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client.put(self.url(path)).bearer_auth(token).json(body).send().await.expect("request")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.delete(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    pub async fn sql(&self, statement: &str) {
        use sea_orm::ConnectionTrait;
        self.db.owner().await.execute_unprepared(statement).await.expect("sql");
    }

    pub async fn sql_string(&self, query: &str) -> String {
        self.sql_value(query).await
    }

    pub async fn sql_i64(&self, query: &str) -> i64 {
        self.sql_value(query).await
    }

    pub async fn sql_bytes(&self, query: &str) -> Vec<u8> {
        self.sql_value(query).await
    }

    /// The first column, as text, of every row `query` returns.
    pub async fn sql_strings(&self, query: &str) -> Vec<String> {
        use sea_orm::ConnectionTrait;
        self.db
            .owner()
            .await
            .query_all_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, query.to_owned()))
            .await
            .expect("sql")
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("a text value"))
            .collect()
    }

    /// The first column of the one row `query` returns.
    async fn sql_value<T: sea_orm::TryGetable>(&self, query: &str) -> T {
        use sea_orm::ConnectionTrait;
        let row = self
            .db
            .owner()
            .await
            .query_one_raw(sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, query.to_owned()))
            .await
            .expect("sql")
            .expect("a row");
        row.try_get_by_index::<T>(0).expect("a value of the expected type")
    }

    /// The tenant's counter of `metric` this period (all periods summed).
    pub async fn usage_of(&self, account: &Account, metric: &str) -> i64 {
        self.sql_i64(&format!(
            "SELECT COALESCE(SUM(value), 0)::bigint FROM usage_counters WHERE tenant_id = '{}' AND metric = '{metric}'",
            account.tenant_id
        ))
        .await
    }

    /// How many audit rows of `event` the tenant has.
    pub async fn audit_count(&self, account: &Account, event: &str) -> i64 {
        self.sql_i64(&format!(
            "SELECT COUNT(*) FROM audit_logs WHERE tenant_id = '{}' AND event_type = '{event}'",
            account.tenant_id
        ))
        .await
    }

    /// Sets the tenant's counter of `metric` for this month (Riyadh time) to `value`, as if
    /// that much had been used already.
    pub async fn set_usage(&self, account: &Account, metric: &str, value: i64) {
        self.sql(&format!(
            "INSERT INTO usage_counters (tenant_id, metric, value, period)
         SELECT '{}', '{metric}', {value}, to_char(now() AT TIME ZONE 'Asia/Riyadh', 'YYYY-MM')",
            account.tenant_id
        ))
        .await;
    }

    /// Moves the tenant to another plan directly in the database (billing has its own tests).
    pub async fn set_plan(&self, account: &Account, plan: &str) {
        self.sql(&format!("UPDATE subscriptions SET plan_id = '{plan}' WHERE tenant_id = '{}'", account.tenant_id))
            .await;
    }

    /// Invites a new person with `role` and accepts as them; returns their account.
    pub async fn add_member(&self, owner: &Account, role: &str) -> Account {
        let email = format!("{}@example.sa", unique(&role.to_lowercase()));
        let res = self.post("/api/v1/invites", Some(&owner.token), &json!({"email": email, "role": role})).await;
        assert_eq!(res.status(), 201, "invite {role}");
        let body: Value = res.json().await.expect("json");
        let token = body["token"].as_str().expect("token").to_owned();
        let password = "member password 1".to_owned();
        let res = self
            .post(
                "/api/v1/invites/accept",
                None,
                &json!({"token": token, "name": format!("{role} person"), "password": password}),
            )
            .await;
        assert_eq!(res.status(), 200, "accept {role}");
        let body: Value = res.json().await.expect("json");
        session_account(&body, "/membership/userId", "/membership/tenantId", email, password)
    }

    /// The membership id of a user in the caller's tenant.
    pub async fn membership_id(&self, caller: &Account, user_id: &str) -> String {
        let members: Value = self.get("/api/v1/members", Some(&caller.token)).await.json().await.expect("json");
        members["data"]
            .as_array()
            .expect("list")
            .iter()
            .find(|m| m["userId"] == user_id)
            .and_then(|m| m["id"].as_str())
            .expect("member")
            .to_owned()
    }

    /// A new API key of the owner's tenant with these scopes; returns the secret.
    pub async fn api_key(&self, owner: &Account, scopes: &[&str]) -> (String, String) {
        let res = self
            .post("/api/v1/api-keys", Some(&owner.token), &json!({"label": "script", "scopes": scopes, "mode": "live"}))
            .await;
        assert_eq!(res.status(), 201, "api key");
        let body: Value = res.json().await.expect("json");
        (body["secret"].as_str().expect("secret").to_owned(), body["apiKey"]["id"].as_str().expect("id").to_owned())
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post("/api/v1/auth/login", None, &json!({"email": email, "password": password})).await
    }
}

impl TestApp {
    /// Polls a job until it has finished; panics after `secs` seconds.
    pub async fn wait_job(&self, token: &str, id: &str, secs: u64) -> Value {
        for _ in 0..secs * 10 {
            let job: Value = self.get(&format!("/api/v1/jobs/{id}"), Some(token)).await.json().await.expect("job");
            if matches!(job["status"].as_str(), Some("SUCCESS" | "FAILED" | "CANCELLED")) {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("job {id} did not finish in {secs} s");
    }

    pub async fn import_csv(&self, token: &str, csv: Vec<u8>, query: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/imports{query}")))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("request")
    }
}
