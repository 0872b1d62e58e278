//! Residents' e-mail: the outbox's sender. The ledger writes each message's row with the
//! change it announces (`store::mail`); this claims due rows with a lease, renders them
//! from the booking, sends them through SMTP (`lettre`) and marks them. Failures are
//! retried with back-off; a crash between the server's acceptance and the mark sends the
//! message again after the lease, with the same Message-ID. Without SMTP configured
//! nothing is sent: the messages stay in the outbox, shown on the staff outbox page.

pub mod render;

use crate::domain::office::Municipality;
use crate::domain::time::Clock;
use crate::service::keys::Keys;
use crate::store::mail::{MailKind, MailLedger, MailOutcome, OutboxEntry};
use crate::store::{Ledger, ReservationStatus, StoreError};
use chrono::{DateTime, Duration, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use render::{RenderedMail, render};
use std::sync::Arc;
use tokio::sync::watch;

/// Messages one pass claims.
const BATCH: i64 = 20;
/// How long a claimed message is this sender's (then another sender may take it).
const LEASE: Duration = Duration::minutes(5);
/// The first retry waits this long, each next one twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::seconds(30);
const MAX_BACKOFF: Duration = Duration::hours(1);
/// After this many tries a message is given up (about eight hours of trying).
const MAX_ATTEMPTS: u32 = 14;

/// How the sender reaches the residents.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://host:port` (a local relay), `smtp://host?tls=required` (STARTTLS),
    /// `smtps://user:password@host` (TLS); `None`: keep messages in the outbox.
    pub smtp_url: Option<String>,
    pub from: String,
    /// The site's public address, for the management link.
    pub public_url: String,
    /// When a booking's reminder is due; written when its confirmation is settled.
    pub reminder: crate::service::booking::Reminder,
}

pub struct Mailer {
    outbox: Arc<dyn MailLedger>,
    ledger: Arc<dyn Ledger>,
    municipality: Arc<Municipality>,
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    public_url: String,
    reminder: crate::service::booking::Reminder,
}

/// Why a message was not sent (a label of `madoguchi_mail_dropped_total`).
fn dropped(reason: &'static str) -> MailOutcome {
    metrics::counter!("madoguchi_mail_dropped_total", "reason" => reason).increment(1);
    MailOutcome::Dropped {
        reason: reason.to_owned(),
    }
}

fn backoff(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2_i32.pow(doublings)).min(MAX_BACKOFF)
}

impl Mailer {
    pub fn new(
        config: &MailConfig,
        outbox: Arc<dyn MailLedger>,
        ledger: Arc<dyn Ledger>,
        municipality: Arc<Municipality>,
        keys: Arc<Keys>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let transport = match &config.smtp_url {
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| anyhow::anyhow!("mail.smtp_url: {e}"))?
                    .timeout(Some(std::time::Duration::from_secs(15)))
                    .build(),
            ),
            None => None,
        };
        let from: Mailbox = config.from.parse().map_err(|e| {
            anyhow::anyhow!(
                "mail.from must be an address like 窓口 <madoguchi@city.example.jp>: {e}"
            )
        })?;
        Ok(Self {
            outbox,
            ledger,
            municipality,
            keys,
            clock,
            transport,
            from,
            public_url: config.public_url.trim_end_matches('/').to_owned(),
            reminder: config.reminder,
        })
    }

    /// The outbox itself (for its page).
    pub fn outbox(&self) -> &Arc<dyn MailLedger> {
        &self.outbox
    }

    /// Whether messages are sent (SMTP configured) or only kept.
    pub fn sends(&self) -> bool {
        self.transport.is_some()
    }

    /// The message an outbox row stands for, as it would be sent now; `None` when it
    /// would not be sent (the booking is gone, has no address, or moved). `mask` hides the
    /// management link (staff see the message, not the key to the booking).
    pub async fn preview(
        &self,
        entry: &OutboxEntry,
        mask: bool,
    ) -> Result<Option<(String, RenderedMail)>, StoreError> {
        let Some(r) = self.ledger.reservation_by_id(entry.reservation_id).await? else {
            return Ok(None);
        };
        let Some(to) = r.contact_email.clone() else {
            return Ok(None);
        };
        if entry.kind == MailKind::Reminder
            && (r.status != ReservationStatus::Confirmed || r.slot_start != entry.slot_start)
        {
            return Ok(None);
        }
        let secret = if mask {
            "…".to_owned()
        } else {
            self.keys.reservation_secret(r.id)
        };
        let mail = render(
            entry.kind,
            &r,
            &self.municipality,
            &self.public_url,
            secret,
            self.clock.now(),
        );
        Ok(Some((to, mail)))
    }

    fn message(
        &self,
        entry: &OutboxEntry,
        to: &str,
        mail: RenderedMail,
        now: DateTime<Utc>,
    ) -> Result<Message, String> {
        let to: Mailbox = to.parse().map_err(|e| format!("address: {e}"))?;
        let domain = self.from.email.domain().to_owned();
        let builder = Message::builder()
            .message_id(Some(format!(
                "<{}.{}@{domain}>",
                entry.id, entry.reservation_id
            )))
            .date(now.into())
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject);
        let text = SinglePart::plain(mail.text);
        let built = match mail.ics {
            Some(ics) => {
                let calendar = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                    .map_err(|e| e.to_string())?;
                builder.multipart(
                    MultiPart::mixed().singlepart(text).singlepart(
                        Attachment::new("madoguchi.ics".to_owned()).body(ics, calendar),
                    ),
                )
            }
            None => builder.singlepart(text),
        };
        built.map_err(|e| e.to_string())
    }

    async fn send_one(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        entry: &OutboxEntry,
    ) -> Result<MailOutcome, StoreError> {
        let now = self.clock.now();
        let Some((to, mail)) = self.preview(entry, false).await? else {
            return Ok(dropped("obsolete"));
        };
        let message = match self.message(entry, &to, mail, now) {
            Ok(m) => m,
            Err(_) => return Ok(dropped("unsendable")),
        };
        Ok(match transport.send(message).await {
            Ok(_) => {
                metrics::counter!("madoguchi_mail_sent_total", "kind" => entry.kind.as_str())
                    .increment(1);
                MailOutcome::Sent
            }
            Err(e) if e.is_permanent() => dropped("rejected"),
            Err(_) if entry.attempts >= MAX_ATTEMPTS => dropped("gave_up"),
            Err(e) => {
                metrics::counter!("madoguchi_mail_failures_total").increment(1);
                tracing::warn!(error = %e, attempts = entry.attempts, "sending a message failed; it is retried");
                MailOutcome::Failed {
                    error: e.to_string(),
                    retry_at: now + backoff(entry.attempts),
                }
            }
        })
    }

    /// One pass: sends what is due (when SMTP is configured) and updates the backlog
    /// gauges. Returns how many messages were settled.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let mut settled = 0;
        if let Some(transport) = &self.transport {
            let now = self.clock.now();
            for entry in self.outbox.claim_mail(now, now + LEASE, BATCH).await? {
                let outcome = self.send_one(transport, &entry).await?;
                let now = self.clock.now();
                let reminder_at = self.reminder.due(entry.slot_start, now);
                self.outbox
                    .settle_mail(&entry, &outcome, reminder_at, now)
                    .await?;
                settled += 1;
            }
        }
        let now = self.clock.now();
        let backlog = self.outbox.outbox_backlog(now).await?;
        let pending = usize::try_from(backlog.pending).unwrap_or(usize::MAX);
        metrics::gauge!("madoguchi_outbox_pending").set(crate::num::f64_of(pending));
        let oldest = backlog.oldest_due.map_or(0.0, |due| {
            crate::num::f64_of_millis((now - due).num_milliseconds().max(0)) / 1000.0
        });
        metrics::gauge!("madoguchi_outbox_oldest_due_seconds").set(oldest);
        Ok(settled)
    }

    /// The sender's loop, until `stop` turns true.
    pub async fn run(self: Arc<Self>, every: std::time::Duration, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            // A full batch means more is due: go on at once.
            loop {
                match self.run_once().await {
                    Ok(n) if n == usize::try_from(BATCH).unwrap_or(0) => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "the outbox could not be read now");
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(5), Duration::minutes(8));
        assert_eq!(backoff(9), Duration::hours(1));
        assert_eq!(backoff(40), Duration::hours(1));
    }
}
