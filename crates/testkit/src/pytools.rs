//! Python tools the tests run (moto_server, the Standard Webhooks reference verifier), each in a
//! virtualenv of its own made from a pinned requirements file under `ci/` on first use (under
//! `LEADZONE_CI_CACHE`, by default `~/.cache/leadzone-ci/<name>-venv`; made anew when that file
//! changes), so `cargo nextest run` works on a machine with nothing but python3. Test processes
//! that start at once take turns making it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cache_dir() -> PathBuf {
    std::env::var_os("LEADZONE_CI_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache/leadzone-ci")
    })
}

/// `executable` (a path inside the virtualenv, `bin/moto_server`) of the tool `name`, whose
/// virtualenv holds exactly `requirements`; installed first if needed.
pub fn tool(name: &str, requirements: &str, executable: &str) -> PathBuf {
    let venv = cache_dir().join(format!("{name}-venv"));
    let stamp = venv.join("requirements.sha256");
    let binary = venv.join(executable);
    let want = hex::encode(ring::digest::digest(&ring::digest::SHA256, requirements.as_bytes()));
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) && binary.exists() {
        return binary;
    }
    std::fs::create_dir_all(cache_dir()).expect("cache folder");
    let lock = cache_dir().join(format!("{name}-venv.lock"));
    let started = Instant::now();
    // One process installs; the others wait for its stamp (a lock older than 10 minutes is stale).
    loop {
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) && binary.exists() {
            return binary;
        }
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(_) => {
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m.elapsed().unwrap_or_default() > Duration::from_secs(600));
                if stale {
                    let _ = std::fs::remove_dir(&lock);
                }
                assert!(started.elapsed() < Duration::from_secs(900), "waited 15 minutes for {name}'s install");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    let installed = install(&venv, requirements, &want);
    let _ = std::fs::remove_dir(&lock);
    installed.unwrap_or_else(|e| panic!("cannot install {name} (python3 with venv and pip from PyPI): {e}"));
    binary
}

fn install(venv: &Path, requirements: &str, want: &str) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(venv);
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    let file = venv.join("requirements.txt");
    std::fs::write(&file, requirements).map_err(|e| e.to_string())?;
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&file))?;
    std::fs::write(venv.join("requirements.sha256"), want).map_err(|e| e.to_string())
}

const STANDARD_WEBHOOKS: &str = include_str!("../../../ci/standardwebhooks-requirements.txt");

/// Verifies a delivery with the Standard Webhooks reference library (PyPI `standardwebhooks`):
/// `Ok(())` when it accepts `body` with these headers under `secret` (`whsec_…`), else its
/// words.
pub fn verify_standard_webhook(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<(), String> {
    let python = tool("standardwebhooks", STANDARD_WEBHOOKS, "bin/python");
    let script = "import sys\n\
from standardwebhooks.webhooks import Webhook\n\
secret, wid, ts, sig = sys.argv[1:5]\n\
body = sys.stdin.buffer.read()\n\
Webhook(secret).verify(body, {'webhook-id': wid, 'webhook-timestamp': ts, 'webhook-signature': sig})\n\
print('verified')\n";
    let mut child = Command::new(python)
        .args(["-c", script, secret, id, timestamp, signature])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin.write_all(body).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() && out.stdout.starts_with(b"verified") {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
