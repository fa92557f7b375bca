//! `leadzone` processes for the tests that need more than one (files shared between processes,
//! a worker killed mid-send).

use crate::helpers::*;
use leadzone_testkit::TestDb;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

/// A `leadzone` process, killed when dropped; its output goes to a file the test reads.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn start(db: &TestDb, args: &[&str], name: &str, env: &[(String, String)]) -> Process {
    let dir = std::env::temp_dir().join(unique(&format!("leadzone-{name}-")));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("process.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadzone"));
    cmd.args(args)
        .env("DATABASE_URL", db.owner_url())
        .env("DATABASE_APP_URL", db.app_url())
        .env("DATABASE_SYSTEM_URL", db.system_url())
        .env("LEADZONE_MASTER_KEY", TEST_MASTER_KEY)
        .env("LEADZONE_DATA_DIR", dir.join("data"))
        .env("LEADZONE_HTTP_WORKERS", "1")
        .env("RUST_LOG", "debug")
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Process { child: cmd.spawn().unwrap(), log }
}

pub async fn ready(client: &reqwest::Client, base: &str) {
    for _ in 0..240 {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await
            && res.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{base} never became ready");
}
