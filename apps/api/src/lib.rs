//! The `leadzone` binary's library: configuration and wiring, shared by `main` and the
//! end-to-end tests (which start the real server on a random port).

pub mod config;
pub mod startup;
pub mod worker;

/// Logs to stderr: `RUST_LOG` filters (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,actix_http::h1::dispatcher=off")
    });
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
