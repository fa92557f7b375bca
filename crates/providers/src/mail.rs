//! Mail transports: SMTP (lettre over rustls, tokio) from `LEADZONE_SMTP_URL`, and the development
//! transport that writes each mail to the log instead.
//!
//! `LEADZONE_SMTP_URL` forms (lettre's connection URLs):
//! - `smtps://user:pass@host:465`: implicit TLS (port 465 by default);
//! - `smtp://user:pass@host:587?tls=required`: STARTTLS, refused if the server does not offer it;
//! - `smtp://host:port`: no TLS, for a local test server only (credentials are refused on it).
//!
//! The password never leaves the transport: `Debug` and every log line show a redacted URL.

use leadzone_ports::mail::{Mail, MailError, MailTransport};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one SMTP conversation may take before the attempt counts as failed.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The URL with its password replaced, for logs and `Debug`.
pub fn redacted_smtp_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) => "[unparsable SMTP URL]".to_owned(),
    }
}

/// Checks `LEADZONE_SMTP_URL` without connecting: scheme, host, TLS mode, and no credentials over
/// an unencrypted connection. The message never repeats the URL (it may hold a password).
///
/// # Errors
/// What is wrong with the URL.
pub fn check_smtp_url(url: &str) -> Result<(), String> {
    let u = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if u.host_str().is_none_or(str::is_empty) {
        return Err("names no host".into());
    }
    let tls = u.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
    let encrypted = match (u.scheme(), tls.as_deref()) {
        ("smtps", None) => true,
        ("smtp", Some("required" | "opportunistic")) => true,
        ("smtp", None) => false,
        ("smtp" | "smtps", Some(other)) => {
            return Err(format!("tls={other:?} is not supported (use tls=required, or smtps://)"));
        }
        (scheme, _) => return Err(format!("scheme {scheme:?} is not smtp:// or smtps://")),
    };
    if !encrypted && (!u.username().is_empty() || u.password().is_some()) {
        return Err("credentials need an encrypted connection (smtps:// or ?tls=required)".into());
    }
    AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| format!("{e}"))?;
    Ok(())
}

/// Checks `LEADZONE_MAIL_FROM` (`Name <address>` or a bare address).
///
/// # Errors
/// When it is not a mailbox.
pub fn check_mail_from(from: &str) -> Result<(), String> {
    from.parse::<Mailbox>().map(|_| ()).map_err(|e| format!("{e} (expected \"Name <address@host>\")"))
}

/// Delivers mail to an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    target: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.target).field("from", &self.from.to_string()).finish()
    }
}

impl SmtpMailer {
    /// # Errors
    /// When the URL or the sender address is not valid (the message never holds the password).
    pub fn new(url: &SecretString, from: &str) -> Result<Self, String> {
        check_smtp_url(url.expose_secret())?;
        let from = from.parse::<Mailbox>().map_err(|e| format!("LEADZONE_MAIL_FROM: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|e| format!("{e}"))?
            .timeout(Some(TIMEOUT))
            .build();
        Ok(Self { transport, from, target: redacted_smtp_url(url.expose_secret()) })
    }

    /// The server as logs may show it (password redacted).
    pub fn server(&self) -> &str {
        &self.target
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        let to = mail.to.parse::<Mailbox>().map_err(|e| MailError::Rejected(format!("bad recipient: {e}")))?;
        // Base64 keeps Arabic text intact through any relay and lines short.
        let body = Body::new_with_encoding(mail.body.clone(), ContentTransferEncoding::Base64)
            .map_err(|_| MailError::Rejected("the body cannot be encoded".into()))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Rejected(format!("the message cannot be built: {e}")))
    }
}

/// Authentication failures are the configuration's fault, not the mail's: they wait for a fix.
const AUTH_CODES: [&str; 4] = ["530", "534", "535", "538"];

fn classify(e: &lettre::transport::smtp::Error) -> MailError {
    let code = e.status().map(|c| c.to_string());
    if e.is_permanent() && !code.as_deref().is_some_and(|c| AUTH_CODES.contains(&c)) {
        MailError::Rejected(e.to_string())
    } else {
        MailError::Transient(e.to_string())
    }
}

#[async_trait::async_trait]
impl MailTransport for SmtpMailer {
    async fn deliver(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| classify(&e))
    }
}

/// Development without `LEADZONE_SMTP_URL`: each mail goes to the log at INFO (links included, so a
/// developer can follow them); the outbox still holds it only sealed until then.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

#[async_trait::async_trait]
impl MailTransport for LogMailer {
    async fn deliver(&self, mail: &Mail) -> Result<(), MailError> {
        tracing::info!(
            to = %mail.to,
            subject = %mail.subject,
            body = %mail.body,
            "mail logged, not sent (development: LEADZONE_SMTP_URL is not set)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_urls_are_accepted() {
        for url in ["smtps://user:pass@smtp.example.com:465", "smtp://user:pass@smtp.example.com:587?tls=required"] {
            assert_eq!(check_smtp_url(url), Ok(()), "{url}");
        }
        assert_eq!(check_smtp_url("smtp://127.0.0.1:2525"), Ok(()));
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_the_password() {
        for url in [
            "http://user:hunter2@smtp.example.com",
            "smtp://user:hunter2@smtp.example.com:25",
            "smtp://user:hunter2@smtp.example.com:587?tls=maybe",
            "smtps://",
        ] {
            let err = check_smtp_url(url).unwrap_err();
            assert!(!err.contains("hunter2"), "{url}: {err}");
        }
    }

    #[test]
    fn the_password_never_prints() {
        let url = SecretString::from("smtps://mailer:hunter2@smtp.example.com:465");
        let mailer = SmtpMailer::new(&url, "Leadzone <no-reply@example.com>").unwrap();
        let shown = format!("{mailer:?} {}", mailer.server());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("smtp.example.com") && shown.contains("REDACTED"), "{shown}");
        assert!(!format!("{url:?}").contains("hunter2"));
    }

    #[test]
    fn the_sender_must_be_a_mailbox() {
        assert_eq!(check_mail_from("Leadzone <no-reply@example.com>"), Ok(()));
        assert_eq!(check_mail_from("no-reply@example.com"), Ok(()));
        assert!(check_mail_from("not an address").is_err());
    }
}
