//! The embedded ledger: SQLite, for a single machine with nothing installed. The same
//! records and the same guards as the PostgreSQL ledger (partial unique seat key and
//! `seat < capacity`), so overbooking stays impossible whatever the hot state says.
//!
//! Durability: WAL journal with `synchronous = FULL`, so an acknowledged booking survives
//! a process crash and a power cut. SQLite has one writer at a time; writes that touch
//! two tables run in `BEGIN IMMEDIATE` transactions so they queue instead of failing.

// Toward the workspace's lints, crate by crate (see madoguchi-core).
#![deny(clippy::as_conversions, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::as_conversions, clippy::indexing_slicing))]

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use madoguchi_core::domain::OfficeId;
use madoguchi_core::domain::procedure::ProcedureId;
use madoguchi_core::domain::slots::SlotRef;
use madoguchi_core::domain::time::tokyo_naive;
use madoguchi_core::store::mail::MailKind;
use madoguchi_core::store::{
    ActiveSeat, Actor, Digest, IdempotencyRecord, Ledger, NewReservation, Placement, Reservation,
    ReservationStatus, ResidentRecord, StoreError, WriteError,
};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use uuid::Uuid;

mod mail;
mod queue;
mod room;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

#[derive(Clone)]
pub struct SqliteLedger {
    pool: SqlitePool,
}

impl SqliteLedger {
    /// Opens (creating if needed) the database file and applies the migrations.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        Self::connect_with(options).await
    }

    /// Opens a database given as a `sqlite:` URL.
    pub async fn open_url(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .context("not a valid sqlite: URL")?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        Self::connect_with(options).await
    }

    async fn connect_with(options: SqliteConnectOptions) -> anyhow::Result<Self> {
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("opening the SQLite database")?;
        MIGRATOR
            .run(&pool)
            .await
            .context("applying the SQLite migrations")?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) if db.message().contains("database is locked") => {
            StoreError::Unavailable(db.message().to_owned())
        }
        other => StoreError::Unexpected(anyhow!(other)),
    }
}

/// SQLite names the columns of a violated unique index, not the index.
fn write_error(e: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(db) = &e
        && db.kind() == sqlx::error::ErrorKind::UniqueViolation
    {
        let message = db.message();
        if message.contains("reservations.seat") {
            return WriteError::SeatTaken;
        }
        if message.contains("reservations.resident_hash") {
            return WriteError::ResidentHasBooking;
        }
        if message.contains("reservations.idempotency_key_hash") {
            return WriteError::IdempotencyKeyUsed;
        }
        if message.contains("reservations.reference") {
            return WriteError::ReferenceTaken;
        }
    }
    WriteError::Store(store_error(e))
}

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Unexpected(anyhow!("bad stored time {ms}")))
}

pub(crate) fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Unexpected(anyhow!(e)))
}

fn digest(raw: Option<Vec<u8>>) -> Result<Option<Digest>, StoreError> {
    raw.map(|v| {
        Digest::try_from(v.as_slice())
            .map_err(|_| StoreError::Unexpected(anyhow!("a stored hash is not 32 bytes")))
    })
    .transpose()
}

fn small(n: i64, what: &str) -> Result<u16, StoreError> {
    u16::try_from(n).map_err(|_| StoreError::Unexpected(anyhow!("{what} {n} out of range")))
}

fn slot_ref(office: &str, procedure: &str, start: DateTime<Utc>) -> Result<SlotRef, StoreError> {
    let local = tokyo_naive(start);
    Ok(SlotRef {
        office: OfficeId::parse(office).map_err(|e| StoreError::Unexpected(anyhow!(e)))?,
        procedure: procedure
            .parse::<ProcedureId>()
            .map_err(|e| StoreError::Unexpected(anyhow!(e)))?,
        date: local.date(),
        start: local.time(),
    })
}

pub(crate) fn ids_json(ids: &[Uuid]) -> String {
    serde_json::to_string(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

struct Row {
    id: String,
    reference: String,
    office_id: String,
    procedure: String,
    slot_start: i64,
    slot_end: i64,
    seat: i64,
    capacity: i64,
    status: String,
    resident_name: Option<String>,
    resident_hash: Option<Vec<u8>>,
    resident_proofs: Option<Vec<u8>>,
    contact_email: Option<String>,
    contact_lang: Option<String>,
    certificate_expiry: Option<String>,
    proxy: i64,
    idempotency_key_hash: Option<Vec<u8>>,
    request_fingerprint: Option<Vec<u8>>,
    hold_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Reservation {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let slot_start = time(r.slot_start)?;
        let slot = slot_ref(&r.office_id, &r.procedure, slot_start)?;
        Ok(Reservation {
            id: uuid(&r.id)?,
            reference: r.reference,
            office_id: slot.office,
            procedure: slot.procedure,
            slot_start,
            slot_end: time(r.slot_end)?,
            seat: small(r.seat, "seat")?,
            capacity: small(r.capacity, "capacity")?,
            status: ReservationStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Unexpected(anyhow!("unknown status {}", r.status)))?,
            resident_name: r.resident_name,
            resident_hash: digest(r.resident_hash)?,
            resident_proofs: r.resident_proofs,
            contact_email: r.contact_email,
            contact_lang: r.contact_lang,
            certificate_expiry: r
                .certificate_expiry
                .as_deref()
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map_err(|e| StoreError::Unexpected(anyhow!("certificate_expiry {d}: {e}")))
                })
                .transpose()?,
            proxy: r.proxy != 0,
            idempotency_key_hash: digest(r.idempotency_key_hash)?,
            request_fingerprint: digest(r.request_fingerprint)?,
            hold_expires_at: r.hold_expires_at.map(time).transpose()?,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

fn one(row: Option<Row>) -> Result<Option<Reservation>, StoreError> {
    row.map(Reservation::try_from).transpose()
}

async fn event(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    kind: &str,
    actor: &str,
    at: i64,
    detail: Option<String>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO reservation_events (reservation_id, kind, actor, at, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        id,
        kind,
        actor,
        at,
        detail
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// Writes a message to the outbox, in the caller's transaction.
async fn enqueue(
    tx: &mut sqlx::SqliteConnection,
    reservation: &str,
    kind: MailKind,
    slot_start: i64,
    due_at: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    let kind = kind.as_str();
    sqlx::query!(
        "INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        reservation,
        kind,
        slot_start,
        due_at,
        now
    )
    .execute(tx)
    .await
    .map(|_| ())
}

/// The notice of a change (`kind`) and the reminder of the slot it leaves the booking
/// in, for a booking with a contact, in the caller's transaction; pending reminders of
/// the old slot are dropped first.
async fn announce(
    tx: &mut sqlx::SqliteConnection,
    row: &Row,
    kind: MailKind,
    reminder_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    if row.contact_email.is_none() {
        return Ok(());
    }
    sqlx::query!(
        "UPDATE outbox SET dropped_at = ?2
         WHERE reservation_id = ?1 AND kind = 'reminder' AND sent_at IS NULL AND dropped_at IS NULL",
        row.id,
        now
    )
    .execute(&mut *tx)
    .await?;
    enqueue(tx, &row.id, kind, row.slot_start, now, now).await?;
    if let Some(at) = reminder_at {
        enqueue(tx, &row.id, MailKind::Reminder, row.slot_start, at, now).await?;
    }
    Ok(())
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!("SELECT 1 AS \"one!: i64\"")
            .fetch_one(&self.pool)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn secret(&self, name: &str, generated: &[u8]) -> Result<Vec<u8>, StoreError> {
        let now = ms(Utc::now());
        sqlx::query!(
            "INSERT OR IGNORE INTO app_secrets (name, value, created_at) VALUES (?1, ?2, ?3)",
            name,
            generated,
            now
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        sqlx::query_scalar!("SELECT value FROM app_secrets WHERE name = ?1", name)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn insert_reservation(&self, new: &NewReservation) -> Result<(), WriteError> {
        let p = &new.placement;
        let status = if new.resident.is_some() {
            ReservationStatus::Confirmed
        } else {
            ReservationStatus::Held
        };
        let id = new.id.to_string();
        let (start, end, now) = (ms(p.start), ms(p.end), ms(new.now));
        let (seat, capacity) = (i64::from(p.seat), i64::from(p.capacity));
        let name = new.resident.as_ref().map(|r| r.name.clone());
        let identity = new.resident.as_ref().map(|r| r.identity_hash.to_vec());
        let proofs = new.resident.as_ref().map(|r| r.proofs.clone());
        let contact = new.resident.as_ref().and_then(|r| r.contact.clone());
        let (email, lang) = (
            contact.as_ref().map(|c| c.email.clone()),
            contact.as_ref().map(|c| c.lang.clone()),
        );
        let expiry = new
            .resident
            .as_ref()
            .and_then(|r| r.certificate_expiry)
            .map(|d| d.to_string());
        let proxy = i64::from(new.resident.as_ref().is_some_and(|r| r.proxy));
        let key = new.idempotency_key_hash.map(|h| h.to_vec());
        let fingerprint = new.request_fingerprint.map(|h| h.to_vec());
        let hold = new.hold_expires_at.map(ms);
        let is_hold = status == ReservationStatus::Held;
        let (office, procedure, status) = (
            p.slot.office.as_str(),
            p.slot.procedure.as_str(),
            status.as_str(),
        );
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(write_error)?;
        sqlx::query!(
            "INSERT INTO reservations (
                 id, reference, office_id, procedure, slot_start, slot_end, seat, capacity, status,
                 resident_name, resident_hash, proxy, idempotency_key_hash, request_fingerprint,
                 hold_expires_at, created_at, updated_at, resident_proofs, contact_email, contact_lang,
                 certificate_expiry)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?16, ?17,
                     ?18, ?19, ?20)",
            id,
            new.reference,
            office,
            procedure,
            start,
            end,
            seat,
            capacity,
            status,
            name,
            identity,
            proxy,
            key,
            fingerprint,
            hold,
            now,
            proofs,
            email,
            lang,
            expiry,
        )
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        // The confirmation only: its reminder is written when it is settled.
        if contact.is_some() {
            enqueue(&mut tx, &id, MailKind::Confirmation, start, now, now)
                .await
                .map_err(write_error)?;
        }
        // A booking's "booked" entry of the audit trail is its row (`reservation_trail`),
        // unless staff booked it for a caller: then it is an event naming them.
        if is_hold {
            event(&mut tx, &id, "held", "resident", now, None)
                .await
                .map_err(write_error)?;
        } else if let Some(by) = new.resident.as_ref().and_then(|r| r.on_behalf.as_ref()) {
            let actor = Actor::Staff(by.staff).name();
            event(
                &mut tx,
                &id,
                "booked",
                &actor,
                now,
                Some(by.detail.to_string()),
            )
            .await
            .map_err(write_error)?;
        }
        tx.commit().await.map_err(write_error)
    }

    async fn reservation_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let row = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations WHERE reference = ?1",
            reference
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        one(row)
    }

    async fn reservation_by_id(&self, id: Uuid) -> Result<Option<Reservation>, StoreError> {
        let id = id.to_string();
        let row = sqlx::query_as!(Row, "SELECT * FROM reservations WHERE id = ?1", id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        one(row)
    }

    async fn reservation_by_idempotency_key(
        &self,
        key_hash: &Digest,
    ) -> Result<Option<Reservation>, StoreError> {
        let key = key_hash.to_vec();
        let row = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations WHERE idempotency_key_hash = ?1",
            key
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        one(row)
    }

    async fn seat_holder(
        &self,
        slot: &SlotRef,
        start: DateTime<Utc>,
        seat: u16,
    ) -> Result<Option<Uuid>, StoreError> {
        let (office, procedure, start, seat) = (
            slot.office.as_str(),
            slot.procedure.as_str(),
            ms(start),
            i64::from(seat),
        );
        let id = sqlx::query_scalar!(
            "SELECT id FROM reservations
             WHERE office_id = ?1 AND procedure = ?2 AND slot_start = ?3 AND seat = ?4
               AND status IN ('held', 'confirmed')",
            office,
            procedure,
            start,
            seat
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        id.as_deref().map(uuid).transpose()
    }

    async fn confirm_hold(
        &self,
        id: Uuid,
        resident: &ResidentRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, WriteError> {
        let id = id.to_string();
        let (identity, proxy, now) = (
            resident.identity_hash.to_vec(),
            i64::from(resident.proxy),
            ms(now),
        );
        let (email, lang) = (
            resident.contact.as_ref().map(|c| c.email.clone()),
            resident.contact.as_ref().map(|c| c.lang.clone()),
        );
        let expiry = resident.certificate_expiry.map(|d| d.to_string());
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(write_error)?;
        let row = sqlx::query_as!(
            Row,
            r#"UPDATE reservations
               SET status = 'confirmed', resident_name = ?2, resident_hash = ?3, proxy = ?4,
                   resident_proofs = ?6, contact_email = ?7, contact_lang = ?8,
                   certificate_expiry = ?9, hold_expires_at = NULL, updated_at = ?5
               WHERE id = ?1 AND status = 'held' AND hold_expires_at > ?5
               RETURNING id AS "id!", reference AS "reference!", office_id AS "office_id!",
                         procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                         seat AS "seat!", capacity AS "capacity!", status AS "status!",
                         resident_name AS "resident_name?", resident_hash AS "resident_hash?",
                         resident_proofs AS "resident_proofs?", contact_email AS "contact_email?",
                         contact_lang AS "contact_lang?",
                         certificate_expiry AS "certificate_expiry?",
                         proxy AS "proxy!", idempotency_key_hash AS "idempotency_key_hash?",
                         request_fingerprint AS "request_fingerprint?",
                         hold_expires_at AS "hold_expires_at?", created_at AS "created_at!",
                         updated_at AS "updated_at!""#,
            id,
            resident.name,
            identity,
            proxy,
            now,
            resident.proofs,
            email,
            lang,
            expiry
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(write_error)?;
        if let Some(row) = &row {
            event(&mut tx, &id, "confirmed", "resident", now, None)
                .await
                .map_err(write_error)?;
            announce(&mut tx, row, MailKind::Confirmation, None, now)
                .await
                .map_err(write_error)?;
        }
        tx.commit().await.map_err(write_error)?;
        Ok(one(row)?)
    }

    async fn cancel(
        &self,
        id: Uuid,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, StoreError> {
        let (id, now) = (id.to_string(), ms(now));
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let row = sqlx::query_as!(
            Row,
            r#"UPDATE reservations SET status = 'cancelled', updated_at = ?2
               WHERE id = ?1 AND status IN ('held', 'confirmed')
               RETURNING id AS "id!", reference AS "reference!", office_id AS "office_id!",
                         procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                         seat AS "seat!", capacity AS "capacity!", status AS "status!",
                         resident_name AS "resident_name?", resident_hash AS "resident_hash?",
                         resident_proofs AS "resident_proofs?", contact_email AS "contact_email?",
                         contact_lang AS "contact_lang?",
                         certificate_expiry AS "certificate_expiry?",
                         proxy AS "proxy!", idempotency_key_hash AS "idempotency_key_hash?",
                         request_fingerprint AS "request_fingerprint?",
                         hold_expires_at AS "hold_expires_at?", created_at AS "created_at!",
                         updated_at AS "updated_at!""#,
            id,
            now
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        if let Some(row) = &row {
            event(&mut tx, &id, "cancelled", &actor.name(), now, None)
                .await
                .map_err(store_error)?;
            announce(&mut tx, row, MailKind::Cancelled, None, now)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        one(row)
    }

    async fn reschedule(
        &self,
        id: Uuid,
        to: &Placement,
        reminder_at: Option<DateTime<Utc>>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, WriteError> {
        let detail = serde_json::json!({
            "office_id": to.slot.office.as_str(),
            "slot_start": to.start,
            "seat": to.seat,
        })
        .to_string();
        let (id, now) = (id.to_string(), ms(now));
        let (office, start, end) = (to.slot.office.as_str(), ms(to.start), ms(to.end));
        let (seat, capacity) = (i64::from(to.seat), i64::from(to.capacity));
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(write_error)?;
        let row = sqlx::query_as!(
            Row,
            r#"UPDATE reservations
               SET office_id = ?2, slot_start = ?3, slot_end = ?4, seat = ?5, capacity = ?6, updated_at = ?7
               WHERE id = ?1 AND status = 'confirmed'
               RETURNING id AS "id!", reference AS "reference!", office_id AS "office_id!",
                         procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                         seat AS "seat!", capacity AS "capacity!", status AS "status!",
                         resident_name AS "resident_name?", resident_hash AS "resident_hash?",
                         resident_proofs AS "resident_proofs?", contact_email AS "contact_email?",
                         contact_lang AS "contact_lang?",
                         certificate_expiry AS "certificate_expiry?",
                         proxy AS "proxy!", idempotency_key_hash AS "idempotency_key_hash?",
                         request_fingerprint AS "request_fingerprint?",
                         hold_expires_at AS "hold_expires_at?", created_at AS "created_at!",
                         updated_at AS "updated_at!""#,
            id,
            office,
            start,
            end,
            seat,
            capacity,
            now
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(write_error)?;
        if let Some(row) = &row {
            event(
                &mut tx,
                &id,
                "rescheduled",
                &actor.name(),
                now,
                Some(detail),
            )
            .await
            .map_err(write_error)?;
            announce(&mut tx, row, MailKind::Changed, reminder_at.map(ms), now)
                .await
                .map_err(write_error)?;
        }
        tx.commit().await.map_err(write_error)?;
        Ok(one(row)?)
    }

    async fn record_event(
        &self,
        id: Uuid,
        kind: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        event(
            &mut conn,
            &id.to_string(),
            kind,
            &actor.name(),
            ms(now),
            None,
        )
        .await
        .map_err(store_error)
    }

    async fn active_placements(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (SlotRef, u16)>, StoreError> {
        let ids = ids_json(ids);
        let rows = sqlx::query!(
            "SELECT id, office_id, procedure, slot_start, seat FROM reservations
             WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('held', 'confirmed')",
            ids
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                let slot = slot_ref(&r.office_id, &r.procedure, time(r.slot_start)?)?;
                Ok((uuid(&r.id)?, (slot, small(r.seat, "seat")?)))
            })
            .collect()
    }

    async fn expire_holds(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Reservation>, StoreError> {
        let now = ms(now);
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let rows = sqlx::query_as!(
            Row,
            r#"UPDATE reservations SET status = 'expired', updated_at = ?1
               WHERE id IN (SELECT id FROM reservations
                            WHERE status = 'held' AND hold_expires_at <= ?1
                            ORDER BY hold_expires_at LIMIT ?2)
               RETURNING id AS "id!", reference AS "reference!", office_id AS "office_id!",
                         procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                         seat AS "seat!", capacity AS "capacity!", status AS "status!",
                         resident_name AS "resident_name?", resident_hash AS "resident_hash?",
                         resident_proofs AS "resident_proofs?", contact_email AS "contact_email?",
                         contact_lang AS "contact_lang?",
                         certificate_expiry AS "certificate_expiry?",
                         proxy AS "proxy!", idempotency_key_hash AS "idempotency_key_hash?",
                         request_fingerprint AS "request_fingerprint?",
                         hold_expires_at AS "hold_expires_at?", created_at AS "created_at!",
                         updated_at AS "updated_at!""#,
            now,
            limit
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
        for row in &rows {
            event(&mut tx, &row.id, "expired", "system", now, None)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        rows.into_iter().map(Reservation::try_from).collect()
    }

    async fn lapse_past(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (before, now) = (ms(before), ms(now));
        sqlx::query!(
            "UPDATE reservations SET status = 'lapsed', updated_at = ?2 WHERE status = 'confirmed' AND slot_end < ?1",
            before,
            now
        )
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(store_error)
    }

    async fn purge_names(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = ms(before);
        sqlx::query!(
            "UPDATE reservations
             SET resident_name = NULL, resident_proofs = NULL, contact_email = NULL,
                 contact_lang = NULL, certificate_expiry = NULL
             WHERE (resident_name IS NOT NULL OR resident_proofs IS NOT NULL
                    OR contact_email IS NOT NULL OR certificate_expiry IS NOT NULL)
               AND slot_end < ?1",
            before
        )
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected())
        .map_err(store_error)
    }

    async fn active_seats(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
    ) -> Result<Vec<ActiveSeat>, StoreError> {
        let (office, from) = (office.as_str(), ms(from));
        let rows = sqlx::query!(
            r#"SELECT id, office_id, procedure, slot_start, slot_end, seat,
                      resident_hash AS "resident_hash?", status
             FROM reservations
             WHERE office_id = ?1 AND status IN ('held', 'confirmed') AND slot_start >= ?2"#,
            office,
            from
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(ActiveSeat {
                    id: uuid(&r.id)?,
                    slot: slot_ref(&r.office_id, &r.procedure, time(r.slot_start)?)?,
                    seat: small(r.seat, "seat")?,
                    slot_end: time(r.slot_end)?,
                    resident_hash: digest(r.resident_hash)?,
                    status: ReservationStatus::parse(&r.status).ok_or_else(|| {
                        StoreError::Unexpected(anyhow!("unknown status {}", r.status))
                    })?,
                })
            })
            .collect()
    }

    async fn recent_idempotency(
        &self,
        office: &OfficeId,
        since: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRecord>, StoreError> {
        let (office, since) = (office.as_str(), ms(since));
        let rows = sqlx::query!(
            r#"SELECT idempotency_key_hash AS "key_hash!: Vec<u8>", id, request_fingerprint AS "fingerprint!: Vec<u8>", created_at
               FROM reservations
               WHERE office_id = ?1 AND idempotency_key_hash IS NOT NULL
                 AND request_fingerprint IS NOT NULL AND created_at >= ?2"#,
            office,
            since
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                let bad = || StoreError::Unexpected(anyhow!("a stored hash is not 32 bytes"));
                Ok(IdempotencyRecord {
                    key_hash: digest(Some(r.key_hash))?.ok_or_else(bad)?,
                    id: uuid(&r.id)?,
                    fingerprint: digest(Some(r.fingerprint))?.ok_or_else(bad)?,
                    created_at: time(r.created_at)?,
                })
            })
            .collect()
    }

    async fn inactive_among(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        let ids = ids_json(ids);
        let rows = sqlx::query_scalar!(
            "SELECT id FROM reservations
             WHERE id IN (SELECT value FROM json_each(?1)) AND status NOT IN ('held', 'confirmed')",
            ids
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.iter().map(|id| uuid(id)).collect()
    }

    async fn confirmed_of_resident(
        &self,
        identity_hash: &Digest,
    ) -> Result<Vec<Reservation>, StoreError> {
        let hash = identity_hash.to_vec();
        let rows = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations WHERE resident_hash = ?1 AND status = 'confirmed'
             ORDER BY slot_start, reference",
            hash
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(Reservation::try_from).collect()
    }

    async fn confirmed_between(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Reservation>, StoreError> {
        let (office, from, to) = (office.as_str(), ms(from), ms(to));
        let rows = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations
             WHERE office_id = ?1 AND status = 'confirmed' AND slot_start >= ?2 AND slot_start < ?3
             ORDER BY slot_start, reference",
            office,
            from,
            to
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(Reservation::try_from).collect()
    }
}
