//! The outbox of residents' messages, on PostgreSQL (rows are written by the booking
//! statements in `mod.rs`; this is the sender's side).

use crate::store::StoreError;
use crate::store::mail::{MailKind, MailLedger, MailOutcome, OutboxBacklog, OutboxEntry};
use crate::store::postgres::PgLedger;
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

struct Row {
    id: i64,
    reservation_id: Uuid,
    kind: String,
    slot_start: DateTime<Utc>,
    due_at: DateTime<Utc>,
    attempts: i32,
    last_error: Option<String>,
    sent_at: Option<DateTime<Utc>>,
    dropped_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<Row> for OutboxEntry {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(OutboxEntry {
            id: r.id,
            reservation_id: r.reservation_id,
            kind: MailKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Unexpected(anyhow!("unknown mail kind {}", r.kind)))?,
            slot_start: r.slot_start,
            due_at: r.due_at,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            last_error: r.last_error,
            sent_at: r.sent_at,
            dropped_at: r.dropped_at,
            created_at: r.created_at,
        })
    }
}

#[async_trait]
impl MailLedger for PgLedger {
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        // SKIP LOCKED: several instances share the outbox without waiting on each other.
        let rows = sqlx::query_as!(
            Row,
            r#"WITH due AS (
                   SELECT reservation_id, id FROM outbox
                   WHERE sent_at IS NULL AND dropped_at IS NULL AND due_at <= $1
                   ORDER BY due_at
                   LIMIT $3
                   FOR UPDATE SKIP LOCKED
               )
               UPDATE outbox o SET due_at = $2, attempts = o.attempts + 1
               FROM due WHERE o.reservation_id = due.reservation_id AND o.id = due.id
               RETURNING o.id, o.reservation_id, o.kind, o.slot_start, o.due_at, o.attempts,
                         o.last_error, o.sent_at, o.dropped_at, o.created_at"#,
            now,
            lease_until,
            limit
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    async fn settle_mail(
        &self,
        entry: &OutboxEntry,
        outcome: &MailOutcome,
        reminder_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (sent, dropped, error, retry_at) = match outcome {
            MailOutcome::Sent => (Some(now), None, None, None),
            MailOutcome::Dropped { reason } => (None, Some(now), Some(reason.as_str()), None),
            MailOutcome::Failed { error, retry_at } => {
                (None, None, Some(error.as_str()), Some(*retry_at))
            }
        };
        // A settled confirmation writes its booking's reminder in the same statement.
        let reminder = reminder_at.filter(|_| {
            entry.kind == MailKind::Confirmation && !matches!(outcome, MailOutcome::Failed { .. })
        });
        sqlx::query!(
            "WITH settled AS (
                 UPDATE outbox SET sent_at = $3, dropped_at = $4,
                     last_error = COALESCE($5, last_error), due_at = COALESCE($6, due_at)
                 WHERE reservation_id = $1 AND id = $2
                 RETURNING reservation_id, slot_start
             )
             INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
             SELECT s.reservation_id, 'reminder', s.slot_start, $7, $8
             FROM settled s JOIN reservations r ON r.id = s.reservation_id
             WHERE $7::timestamptz IS NOT NULL AND r.status = 'confirmed'
               AND r.slot_start = s.slot_start
               AND NOT EXISTS (SELECT 1 FROM outbox o
                               WHERE o.reservation_id = s.reservation_id AND o.kind = 'reminder'
                                 AND o.slot_start = s.slot_start)",
            entry.reservation_id,
            entry.id,
            sent,
            dropped,
            error,
            retry_at,
            reminder,
            now
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn outbox_of(&self, office: &str, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query_as!(
            Row,
            r#"SELECT o.id, o.reservation_id, o.kind, o.slot_start, o.due_at, o.attempts,
                      o.last_error, o.sent_at, o.dropped_at, o.created_at
               FROM outbox o JOIN reservations r ON r.id = o.reservation_id
               WHERE r.office_id = $1
               ORDER BY o.id DESC
               LIMIT $2"#,
            office,
            limit
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    async fn outbox_backlog(&self, now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError> {
        let row = sqlx::query!(
            r#"SELECT count(*) AS "pending!",
                      min(due_at) FILTER (WHERE due_at <= $1) AS oldest_due
               FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL"#,
            now
        )
        .fetch_one(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(OutboxBacklog {
            pending: u64::try_from(row.pending).unwrap_or(0),
            oldest_due: row.oldest_due,
        })
    }
}
