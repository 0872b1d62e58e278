//! The durable outbox of residents' messages (confirmation, reminder, change and
//! cancellation notices). The ledger writes a row in the same write as the change it
//! announces (a booking's reminder in the write that settles its confirmation) (`Ledger::insert_reservation`, `confirm_hold`, `cancel`, `reschedule`), so a
//! crash never loses a message; the sender claims due rows with a lease, sends, and
//! marks them. A crash between the SMTP server's acceptance and the mark sends the
//! message again after the lease, with the same Message-ID (the row id).

use crate::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// Where a booking's messages go. The booking's write carries its confirmation; the
/// reminder is written when the confirmation is settled (`MailLedger::settle_mail`).
#[derive(Clone, PartialEq, Eq)]
pub struct MailContact {
    pub email: String,
    /// `ja`, `en` or `easy`.
    pub lang: String,
}

impl fmt::Debug for MailContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MailContact(..)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MailKind {
    Confirmation,
    Reminder,
    Changed,
    Cancelled,
}

impl MailKind {
    pub const ALL: [MailKind; 4] = [
        MailKind::Confirmation,
        MailKind::Reminder,
        MailKind::Changed,
        MailKind::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Confirmation => "confirmation",
            MailKind::Reminder => "reminder",
            MailKind::Changed => "changed",
            MailKind::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// One message of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Also the message's Message-ID: a message sent again keeps it.
    pub id: i64,
    pub reservation_id: Uuid,
    pub kind: MailKind,
    /// The slot the message is about (a reminder for another slot is not sent).
    pub slot_start: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// Tries so far, this one included once claimed.
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub dropped_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What became of a claimed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailOutcome {
    Sent,
    /// Not to be sent (the booking moved or is gone), or given up after many tries.
    Dropped {
        reason: String,
    },
    /// Try again at `retry_at`.
    Failed {
        error: String,
        retry_at: DateTime<Utc>,
    },
}

/// The backlog, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxBacklog {
    /// Messages due now or later, not yet sent.
    pub pending: u64,
    /// The due time of the oldest of them that is due now.
    pub oldest_due: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait MailLedger: Send + Sync + 'static {
    /// Claims up to `limit` due messages for this sender until `lease_until` (another
    /// sender, or this one after a crash, takes them after that), counting a try.
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError>;
    /// Records what became of a claimed message. A confirmation sent or given up writes
    /// its booking's reminder, due at `reminder_at`, in the same write, if the booking is
    /// still confirmed for that slot and has none: the booking's own write carries one
    /// outbox row, not two.
    async fn settle_mail(
        &self,
        entry: &OutboxEntry,
        outcome: &MailOutcome,
        reminder_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The newest messages about an office's bookings, for the admin page.
    async fn outbox_of(&self, office: &str, limit: i64) -> Result<Vec<OutboxEntry>, StoreError>;
    async fn outbox_backlog(&self, now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError>;
}
