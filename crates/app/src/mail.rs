//! Mail: the templates (Arabic or English, by the tenant's language), queuing with the change that
//! sends it (the body sealed under the master key), and delivery by a worker with retries and
//! exponential back-off. The outbox never holds a usable link in plain text: a body is stored
//! sealed, and erased once delivered, once given up, and after 7 days in any case.

use leadzone_domain::enums::{Language, Role};
use leadzone_ports::mail::{Mail, MailError, MailOutbox, MailTransport, QueuedMail};
use leadzone_ports::security::SecretBox;
use leadzone_ports::tx::TenantTx;
use leadzone_ports::{Clock, RepoError};
use std::sync::Arc;
use time::Duration;

/// How long a sealed body may stay in the outbox, delivered or not.
pub const KEEP_BODY: Duration = Duration::days(7);
/// How long a claimed mail is left to one worker before another may try it.
pub const LEASE: Duration = Duration::minutes(5);
/// Mails claimed per round.
pub const BATCH: u32 = 10;
const FIRST_RETRY: Duration = Duration::seconds(5);
const MAX_RETRY: Duration = Duration::minutes(30);

/// The wait before the next attempt after `attempts` failed ones: 5 s, doubling, capped at 30 min.
pub fn retry_delay(attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 20) as u32;
    let delay = FIRST_RETRY.checked_mul(2_i32.pow(doublings)).unwrap_or(MAX_RETRY);
    delay.min(MAX_RETRY)
}

/// What an invitation mail says.
#[derive(Debug, Clone)]
pub struct InvitationMail<'a> {
    pub language: Language,
    pub organization: &'a str,
    pub role: Role,
    pub accept_url: &'a str,
    pub expires_on: time::Date,
}

fn role_ar(role: Role) -> &'static str {
    match role {
        Role::Owner => "مالك",
        Role::Admin => "مسؤول",
        Role::Manager => "مدير",
        Role::Sales => "مندوب مبيعات",
    }
}

fn role_en(role: Role) -> &'static str {
    match role {
        Role::Owner => "an owner",
        Role::Admin => "an admin",
        Role::Manager => "a manager",
        Role::Sales => "a sales member",
    }
}

/// The invitation's subject and body in the tenant's language.
pub fn invitation(to: &str, m: &InvitationMail<'_>) -> Mail {
    let (subject, body) = match m.language {
        Language::Ar => (
            format!("دعوة للانضمام إلى {} على Leadzone", m.organization),
            format!(
                "مرحبًا،\n\n\
                 تمت دعوتك للانضمام إلى {org} على Leadzone بصفة {role}.\n\n\
                 لقبول الدعوة افتح الرابط التالي:\n{url}\n\n\
                 تنتهي صلاحية الدعوة في {expires}. إن لم تكن تتوقع هذه الدعوة فتجاهل هذه الرسالة.\n\n\
                 فريق Leadzone\n",
                org = m.organization,
                role = role_ar(m.role),
                url = m.accept_url,
                expires = m.expires_on,
            ),
        ),
        Language::En => (
            format!("You are invited to join {} on Leadzone", m.organization),
            format!(
                "Hello,\n\n\
                 You have been invited to join {org} on Leadzone as {role}.\n\n\
                 To accept the invitation, open this link:\n{url}\n\n\
                 The invitation expires on {expires}. If you did not expect it, ignore this email.\n\n\
                 The Leadzone team\n",
                org = m.organization,
                role = role_en(m.role),
                url = m.accept_url,
                expires = m.expires_on,
            ),
        ),
    };
    Mail { to: to.to_owned(), subject, body }
}

/// Queues `mail` in `tx`: it is sent exactly when `tx` commits. The body is sealed first.
///
/// # Errors
/// When sealing or storage fails.
pub async fn queue(tx: &dyn TenantTx, secrets: &dyn SecretBox, id: uuid::Uuid, mail: &Mail) -> Result<(), RepoError> {
    let sealed_body = secrets.seal(mail.body.as_bytes())?;
    tx.outbox().queue(&QueuedMail { id, to: mail.to.clone(), subject: mail.subject.clone(), sealed_body }).await
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: u32,
    pub retrying: u32,
    pub given_up: u32,
}

impl DeliveryReport {
    pub fn claimed(&self) -> u32 {
        self.delivered + self.retrying + self.given_up
    }
}

/// The delivering side: the outbox, the transport and the key that opens the bodies.
#[derive(Clone)]
pub struct MailDelivery {
    pub outbox: Arc<dyn MailOutbox>,
    pub transport: Arc<dyn MailTransport>,
    pub secrets: Arc<dyn SecretBox>,
    pub clock: Arc<dyn Clock>,
}

impl MailDelivery {
    /// Claims up to `BATCH` due mails and tries each once: delivered mail loses its body; a
    /// temporary failure waits `retry_delay`; a refusal (or a body that cannot be opened) is given up.
    ///
    /// # Errors
    /// Storage errors only; a transport's failure is recorded on the mail.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, RepoError> {
        let now = self.clock.now();
        let claimed = self.outbox.claim(BATCH, now, now + LEASE).await?;
        let mut report = DeliveryReport::default();
        for mail in claimed {
            let body = match self.secrets.open(&mail.sealed_body).map(String::from_utf8) {
                Ok(Ok(body)) => body,
                Ok(Err(_)) | Err(_) => {
                    tracing::error!(mail = %mail.id, "a queued mail's body cannot be opened; given up");
                    self.outbox
                        .failed(mail.id, "the sealed body cannot be opened with the current keys", None, now)
                        .await?;
                    report.given_up += 1;
                    continue;
                }
            };
            let outgoing = Mail { to: mail.to, subject: mail.subject, body };
            let result = self.transport.deliver(&outgoing).await;
            let at = self.clock.now();
            match result {
                Ok(()) => {
                    self.outbox.delivered(mail.id, at).await?;
                    tracing::info!(mail = %mail.id, attempts = mail.attempts, "mail delivered");
                    report.delivered += 1;
                }
                Err(MailError::Transient(e)) => {
                    let retry_at = at + retry_delay(mail.attempts);
                    tracing::warn!(mail = %mail.id, attempts = mail.attempts, %retry_at, error = %e, "mail not delivered; retrying later");
                    self.outbox.failed(mail.id, &e, Some(retry_at), at).await?;
                    report.retrying += 1;
                }
                Err(MailError::Rejected(e)) => {
                    tracing::warn!(mail = %mail.id, error = %e, "mail refused by the server; given up");
                    self.outbox.failed(mail.id, &e, None, at).await?;
                    report.given_up += 1;
                }
            }
        }
        Ok(report)
    }

    /// Erases every body older than `KEEP_BODY` (pending mail among them is given up).
    ///
    /// # Errors
    /// Storage errors only.
    pub async fn erase_expired(&self) -> Result<u64, RepoError> {
        let now = self.clock.now();
        self.outbox.erase_older_than(now - KEEP_BODY, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FixedClock, now};
    use leadzone_ports::mail::{ClaimedMail, MockMailOutbox, MockMailTransport};
    use leadzone_ports::security::{CryptoError, MockSecretBox};

    fn claimed(attempts: i32) -> ClaimedMail {
        ClaimedMail {
            id: uuid::Uuid::from_u128(1),
            to: "x@y.sa".into(),
            subject: "s".into(),
            sealed_body: b"sealed".to_vec(),
            attempts,
        }
    }

    fn delivery(outbox: MockMailOutbox, transport: MockMailTransport) -> MailDelivery {
        let mut secrets = MockSecretBox::new();
        secrets
            .expect_open()
            .returning(|s| if s == b"sealed" { Ok(b"body".to_vec()) } else { Err(CryptoError("bad".into())) });
        MailDelivery {
            outbox: Arc::new(outbox),
            transport: Arc::new(transport),
            secrets: Arc::new(secrets),
            clock: Arc::new(FixedClock(now())),
        }
    }

    #[test]
    fn back_off_doubles_from_five_seconds_and_is_capped() {
        let secs: Vec<i64> = (1..=12).map(|a| retry_delay(a).whole_seconds()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 1800, 1800, 1800]);
        assert_eq!(retry_delay(0).whole_seconds(), 5);
        assert_eq!(retry_delay(i32::MAX), MAX_RETRY);
    }

    #[test]
    fn the_invitation_speaks_the_tenant_language() {
        let m = |language| InvitationMail {
            language,
            organization: "شركة الرياض",
            role: Role::Sales,
            accept_url: "https://app.example/invites/accept?token=lzi_abc",
            expires_on: time::macros::date!(2026 - 12 - 03),
        };
        let ar = invitation("x@y.sa", &m(Language::Ar));
        assert!(ar.subject.starts_with("دعوة للانضمام إلى شركة الرياض"), "{}", ar.subject);
        assert!(ar.body.contains("تمت دعوتك") && ar.body.contains("مندوب مبيعات"));
        assert!(ar.body.contains("https://app.example/invites/accept?token=lzi_abc\n"));
        assert!(ar.body.contains("2026-12-03"));
        let en = invitation("x@y.sa", &m(Language::En));
        assert!(en.subject.starts_with("You are invited to join"));
        assert!(en.body.contains("as a sales member") && en.body.contains("token=lzi_abc\n"));
        assert!(!en.body.contains("تمت"));
        assert!(!format!("{en:?}").contains("lzi_abc"), "Debug never prints the body");
    }

    #[tokio::test]
    async fn a_delivered_mail_is_marked_and_its_body_erased() {
        let mut outbox = MockMailOutbox::new();
        outbox.expect_claim().returning(|_, _, _| Ok(vec![claimed(1)]));
        outbox.expect_delivered().times(1).returning(|_, _| Ok(()));
        let mut transport = MockMailTransport::new();
        transport.expect_deliver().withf(|m| m.body == "body" && m.to == "x@y.sa").times(1).returning(|_| Ok(()));
        let report = delivery(outbox, transport).deliver_due().await.unwrap();
        assert_eq!(report, DeliveryReport { delivered: 1, ..Default::default() });
    }

    #[tokio::test]
    async fn a_server_that_is_down_means_a_retry_with_back_off() {
        let mut outbox = MockMailOutbox::new();
        outbox.expect_claim().returning(|_, _, _| Ok(vec![claimed(3)]));
        outbox
            .expect_failed()
            .withf(|_, e, retry, _| e.contains("refused") && *retry == Some(now() + Duration::seconds(20)))
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        let mut transport = MockMailTransport::new();
        transport.expect_deliver().returning(|_| Err(MailError::Transient("connection refused".into())));
        let report = delivery(outbox, transport).deliver_due().await.unwrap();
        assert_eq!(report, DeliveryReport { retrying: 1, ..Default::default() });
    }

    #[tokio::test]
    async fn a_refused_or_unreadable_mail_is_given_up() {
        let mut outbox = MockMailOutbox::new();
        outbox
            .expect_claim()
            .returning(|_, _, _| Ok(vec![claimed(1), ClaimedMail { sealed_body: b"tampered".to_vec(), ..claimed(1) }]));
        outbox.expect_failed().withf(|_, _, retry, _| retry.is_none()).times(2).returning(|_, _, _, _| Ok(()));
        let mut transport = MockMailTransport::new();
        transport.expect_deliver().times(1).returning(|_| Err(MailError::Rejected("550 no such user".into())));
        let report = delivery(outbox, transport).deliver_due().await.unwrap();
        assert_eq!(report, DeliveryReport { given_up: 2, ..Default::default() });
    }
}
