//! `leadzone serve | migrate | worker | copy-files | reseal`.

use clap::{Parser, Subcommand};
use leadzone_api::config::Settings;
use leadzone_api::startup::{Application, migrate};
use std::process::ExitCode;

/// jemalloc, with a background thread that returns freed pages to the system a few seconds after
/// they fall idle: with glibc's allocator a server that had run a 1,000,000-row import kept most
/// of its working set (README, `just bench-files`).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "leadzone", version, about = "Leadzone: lead generation for sales teams in Saudi Arabia and the Gulf")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, migrate, and serve HTTP (the default).
    Serve {
        /// Skip migrations (another process runs them).
        #[arg(long)]
        no_migrate: bool,
    },
    /// Create the database if missing and apply migrations, then exit.
    Migrate,
    /// Run job workers only (`LEADZONE_WORKERS`, at least one), no HTTP.
    Worker,
    /// Copy the files under a local folder (before `LEADZONE_BLOB_URL`: `$LEADZONE_DATA_DIR/blobs`)
    /// into the blob store `LEADZONE_BLOB_URL` names, under the same keys, then exit.
    CopyFiles {
        /// The folder to copy from.
        from: std::path::PathBuf,
    },
    /// Re-seal every stored secret (credentials, webhook secrets, 2FA secrets, queued mail) with
    /// the first key of `LEADZONE_MASTER_KEY` (`new,old`), then exit; the old key may then go.
    Reseal,
}

fn main() -> ExitCode {
    leadzone_api::init_tracing();
    #[cfg(not(target_env = "msvc"))]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc's background purging is off: freed memory returns to the system only as it is reused");
    }
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("leadzone: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("leadzone: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
            Command::Migrate => migrate(&settings).await.map_err(|e| e.to_string()),
            Command::Worker => leadzone_api::startup::run_worker(&settings).await.map_err(|e| e.to_string()),
            Command::CopyFiles { from } => {
                let copied = leadzone_api::startup::copy_files(&settings, &from).await.map_err(|e| e.to_string())?;
                println!("copied {copied} files from {}", from.display());
                Ok(())
            }
            Command::Reseal => {
                let report = leadzone_api::startup::reseal(&settings).await.map_err(|e| e.to_string())?;
                println!(
                    "re-sealed {} values with the first master key (users {}, integration connections {}, webhook endpoints {}, mail {})",
                    report.total(),
                    report.users,
                    report.integration_connections,
                    report.webhook_endpoints,
                    report.mail_outbox
                );
                Ok(())
            }
            Command::Serve { no_migrate } => {
                let app = Application::build(&settings, !no_migrate).await.map_err(|e| e.to_string())?;
                app.run_until_stopped().await.map_err(|e| e.to_string())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "leadzone stopped");
            eprintln!("leadzone: {e}");
            ExitCode::FAILURE
        }
    }
}
