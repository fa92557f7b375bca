//! A real S3-compatible server for tests: `moto_server` (PyPI `moto`), started on a free port and
//! stopped when dropped. It comes from `LEADZONE_MOTO_SERVER` when set, else from a virtualenv made
//! from `ci/moto-requirements.txt` on first use (under `LEADZONE_CI_CACHE`, by default
//! `~/.cache/leadzone-ci/moto-venv`; made anew when that file changes), so `cargo nextest run` works
//! on a machine with nothing but python3. Test processes that start at once take turns making it.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REQUIREMENTS: &str = include_str!("../../../ci/moto-requirements.txt");

/// The access key the tests sign with (moto accepts any).
pub const S3_ACCESS_KEY_ID: &str = "AKIALEADZONETEST";
/// The secret the tests sign with: it must never appear in a log line or an error.
pub const S3_SECRET_ACCESS_KEY: &str = "leadzone-test-secret-c2VjcmV0LWtleQ";

pub struct MotoServer {
    child: Child,
    pub endpoint: String,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `moto_server` executable, installing it first if needed.
pub fn moto_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LEADZONE_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    crate::pytools::tool("moto", REQUIREMENTS, "bin/moto_server")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

impl MotoServer {
    /// Starts a fresh, empty server and waits until it answers.
    pub async fn start() -> Self {
        let binary = moto_server_binary();
        let port = free_port();
        let child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let server = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start within a minute");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// Creates a bucket (moto routes a request to S3 by the service in its signature's scope; it
    /// does not check the signature itself).
    pub async fn create_bucket(&self, name: &str) {
        let status = raw_put(&self.endpoint, name).await;
        assert!(status == 200, "creating bucket {name}: HTTP {status}");
    }
}

/// A bare HTTP/1.1 PUT (the testkit has no HTTP client): returns the status code.
async fn raw_put(endpoint: &str, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("moto_server reachable");
    let request = format!(
        "PUT /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential={S3_ACCESS_KEY_ID}/20260101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer read");
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}
