//! The outbox of residents' messages, on SQLite (rows are written by the booking
//! transactions in `lib.rs`; this is the sender's side).

use crate::{SqliteLedger, ms, store_error, time, uuid};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use madoguchi_core::store::StoreError;
use madoguchi_core::store::mail::{MailKind, MailLedger, MailOutcome, OutboxBacklog, OutboxEntry};

struct Row {
    id: i64,
    reservation_id: String,
    kind: String,
    slot_start: i64,
    due_at: i64,
    attempts: i64,
    last_error: Option<String>,
    sent_at: Option<i64>,
    dropped_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<Row> for OutboxEntry {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(OutboxEntry {
            id: r.id,
            reservation_id: uuid(&r.reservation_id)?,
            kind: MailKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Unexpected(anyhow!("unknown mail kind {}", r.kind)))?,
            slot_start: time(r.slot_start)?,
            due_at: time(r.due_at)?,
            attempts: u32::try_from(r.attempts).unwrap_or(0),
            last_error: r.last_error,
            sent_at: r.sent_at.map(time).transpose()?,
            dropped_at: r.dropped_at.map(time).transpose()?,
            created_at: time(r.created_at)?,
        })
    }
}

#[async_trait]
impl MailLedger for SqliteLedger {
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let (now, lease) = (ms(now), ms(lease_until));
        let rows = sqlx::query_as!(
            Row,
            r#"UPDATE outbox SET due_at = ?2, attempts = attempts + 1
               WHERE id IN (SELECT id FROM outbox
                            WHERE sent_at IS NULL AND dropped_at IS NULL AND due_at <= ?1
                            ORDER BY due_at LIMIT ?3)
               RETURNING id AS "id!", reservation_id AS "reservation_id!", kind AS "kind!",
                         slot_start AS "slot_start!", due_at AS "due_at!",
                         attempts AS "attempts!", last_error AS "last_error?",
                         sent_at AS "sent_at?", dropped_at AS "dropped_at?",
                         created_at AS "created_at!""#,
            now,
            lease,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    async fn settle_mail(
        &self,
        entry: &OutboxEntry,
        outcome: &MailOutcome,
        reminder_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (id, reservation) = (entry.id, entry.reservation_id.to_string());
        // A settled confirmation writes its booking's reminder in the same transaction.
        let reminder = reminder_at
            .filter(|_| {
                entry.kind == MailKind::Confirmation
                    && !matches!(outcome, MailOutcome::Failed { .. })
            })
            .map(ms);
        let now = ms(now);
        let (sent, dropped, error, retry_at) = match outcome {
            MailOutcome::Sent => (Some(now), None, None, None),
            MailOutcome::Dropped { reason } => (None, Some(now), Some(reason.clone()), None),
            MailOutcome::Failed { error, retry_at } => {
                (None, None, Some(error.clone()), Some(ms(*retry_at)))
            }
        };
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        sqlx::query!(
            "UPDATE outbox SET sent_at = ?2, dropped_at = ?3,
                 last_error = COALESCE(?4, last_error), due_at = COALESCE(?5, due_at)
             WHERE id = ?1",
            id,
            sent,
            dropped,
            error,
            retry_at
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        if let Some(due) = reminder {
            let slot_start = ms(entry.slot_start);
            sqlx::query!(
                "INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
                 SELECT r.id, 'reminder', r.slot_start, ?3, ?4 FROM reservations r
                 WHERE r.id = ?1 AND r.status = 'confirmed' AND r.slot_start = ?2
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.reservation_id = ?1
                                   AND o.kind = 'reminder' AND o.slot_start = ?2)",
                reservation,
                slot_start,
                due,
                now
            )
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn outbox_of(&self, office: &str, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query_as!(
            Row,
            r#"SELECT o.id AS "id!", o.reservation_id AS "reservation_id!", o.kind AS "kind!",
                      o.slot_start AS "slot_start!", o.due_at AS "due_at!",
                      o.attempts AS "attempts!", o.last_error AS "last_error?",
                      o.sent_at AS "sent_at?", o.dropped_at AS "dropped_at?",
                      o.created_at AS "created_at!"
               FROM outbox o JOIN reservations r ON r.id = o.reservation_id
               WHERE r.office_id = ?1
               ORDER BY o.id DESC
               LIMIT ?2"#,
            office,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(OutboxEntry::try_from).collect()
    }

    async fn outbox_backlog(&self, now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError> {
        let now = ms(now);
        let row = sqlx::query!(
            r#"SELECT count(*) AS "pending!: i64",
                      min(CASE WHEN due_at <= ?1 THEN due_at END) AS "oldest_due?: i64"
               FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL"#,
            now
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(OutboxBacklog {
            pending: u64::try_from(row.pending).unwrap_or(0),
            oldest_due: row.oldest_due.map(time).transpose()?,
        })
    }
}
