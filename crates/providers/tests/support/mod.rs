//! Shared helpers of the adapter tests: quick adapter limits, an exact header matcher and a log
//! capture.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use leadzone_providers::{OutboundConfig, RetryPolicy};
use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use wiremock::{Match, Request};

/// Limits for tests: short timeouts, quick back-off, waits capped at 50 ms.
pub fn quick_config() -> OutboundConfig {
    OutboundConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        max_body_bytes: 64 * 1024,
        retry: RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(10),
            max_wait: Duration::from_millis(50),
        },
    }
}

/// Matches a header that appears once with exactly this value (wiremock's own `header` splits
/// values on commas, which a field mask is full of).
pub struct ExactHeader(pub &'static str, pub String);

impl Match for ExactHeader {
    fn matches(&self, request: &Request) -> bool {
        let values: Vec<_> = request.headers.get_all(self.0).iter().collect();
        values.len() == 1 && values.first().is_some_and(|v| v.as_bytes() == self.1.as_bytes())
    }
}

/// What one test logged. Tracing's per-thread `set_default` is racy when tests run in parallel
/// (a callsite first hit on another thread can cache "not interested" and drop this thread's
/// events), so one global subscriber captures everything and routes each event to the buffer of
/// the thread that emitted it: use current-thread runtimes.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

thread_local! {
    static CAPTURE: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
}

/// Writes into the current thread's buffer, if it has one; else nowhere.
pub struct ThreadWriter(Option<Arc<Mutex<Vec<u8>>>>);

impl std::io::Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(target) = &self.0 {
            target.lock().unwrap().extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct ThreadRouter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ThreadRouter {
    type Writer = ThreadWriter;
    fn make_writer(&'a self) -> Self::Writer {
        ThreadWriter(CAPTURE.with(|c| c.borrow().clone()))
    }
}

/// Stops the capture on this thread when dropped.
pub struct CaptureGuard(());

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

/// Captures, on this thread, this crate's logs and the HTTP stack's, at every level, as long as
/// the guard lives.
pub fn capture_logs() -> (LogBuffer, CaptureGuard) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "leadzone_providers=trace,object_store=trace,reqwest=trace,hyper=trace,hyper_util=trace,rustls=trace",
            ))
            .with_ansi(false)
            .with_writer(ThreadRouter)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in the adapter tests");
    });
    let buffer = LogBuffer::default();
    CAPTURE.with(|c| *c.borrow_mut() = Some(Arc::clone(&buffer.0)));
    (buffer, CaptureGuard(()))
}

/// A fake that answers every `verb` request with `answer`.
pub async fn answering(verb: &str, answer: wiremock::ResponseTemplate) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method(verb)).respond_with(answer).mount(&server).await;
    server
}

/// How many requests `server` received.
pub async fn requests(server: &wiremock::MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// Lead ids for the CRM tests: `n` after a fixed v7-shaped UUID.
pub fn lead(n: u128) -> leadzone_domain::ids::LeadId {
    uuid::Uuid::from_u128(0x0191_0000_0000_7000_8000_0000_0000_0000 + n).into()
}

/// Matches `Authorization: Bearer <token>`, exactly.
pub fn bearer(token: &str) -> ExactHeader {
    ExactHeader("authorization", format!("Bearer {token}"))
}
