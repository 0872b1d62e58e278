//! The PostgreSQL ledger. Writes are single statements (a data-modifying CTE writes the
//! reservation and its audit event together), so no hot row is ever locked across round
//! trips: the hot state serialises seat claims, PostgreSQL only inserts and checks.

pub mod group_commit;
mod mail;
pub mod queue;
mod room;

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::slots::SlotRef;
use crate::domain::time::tokyo_naive;
use crate::store::postgres::group_commit::{BatchWriter, GroupCommit};
use crate::store::queue::{Ticket, TicketWriteError};
use crate::store::{
    ActiveSeat, Actor, Digest, IdempotencyRecord, Ledger, NewReservation, Placement, Reservation,
    ReservationStatus, ResidentRecord, StoreError, WriteError,
};
use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use uuid::Uuid;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

// Constraint and index names the ledger's refusals are recognised by.
const SEAT_KEY: &str = "reservations_active_seat_key";
const RESIDENT_KEY: &str = "reservations_active_resident_key";
const IDEMPOTENCY_KEY: &str = "reservations_idempotency_key";
const REFERENCE_KEY: &str = "reservations_reference_key";

#[derive(Clone)]
pub struct PgLedger {
    pool: PgPool,
    /// Whether the database is known to be unreachable (then every call fails at once).
    health: Arc<Health>,
    /// New reservations and tickets are written in groups (see `group_commit`).
    reservations: Arc<GroupCommit<NewReservation, WriteError>>,
    pub(crate) tickets: Arc<GroupCommit<(Ticket, String), TicketWriteError>>,
}

/// The ledger's view of its database, so that an outage costs callers nothing but a
/// refusal: while PostgreSQL is unreachable, a statement would wait the whole pool
/// timeout (3 s) for a connection that cannot be made, and a booking makes two or three
/// ledger calls (a 503 took ~6 s while it was stopped, and clients piled up on slow
/// failures). After a failure that says "unreachable", a probe connects; if it cannot,
/// every call fails at once with *unavailable* (503, `Retry-After`) while the probe tries
/// again every `PROBE_EVERY`; the first probe that gets through ends the outage.
pub(crate) struct Health {
    down: AtomicBool,
    probing: AtomicBool,
    options: PgConnectOptions,
}

/// How often the outage probe tries to connect, and how long one try may take.
const PROBE_EVERY: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

impl Health {
    fn new(options: PgConnectOptions) -> Self {
        Self {
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            options,
        }
    }

    /// Refuses at once while the database is known to be down.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Acquire) {
            Err(StoreError::Unavailable(
                "the database is unreachable; retrying in the background".into(),
            ))
        } else {
            Ok(())
        }
    }

    /// Notes an error's kind: after "unreachable", a probe connects at once; the outage
    /// starts only if it cannot (a connection the database cut, its server up, is no
    /// outage: the pool reconnects), and ends with the first probe that gets through.
    pub(crate) fn saw(self: &Arc<Self>, e: &StoreError) {
        if !matches!(e, StoreError::Unavailable(_)) || self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.probing.store(false, Ordering::Release);
            return;
        };
        let health = self.clone();
        runtime.spawn(async move {
            loop {
                let probe = tokio::time::timeout(PROBE_TIMEOUT, async {
                    let mut conn = sqlx::PgConnection::connect_with(&health.options).await?;
                    conn.ping().await?;
                    conn.close().await
                })
                .await;
                if let Ok(Ok(())) = probe {
                    if health.down.swap(false, Ordering::AcqRel) {
                        tracing::info!("PostgreSQL is reachable again");
                    }
                    health.probing.store(false, Ordering::Release);
                    return;
                }
                if !health.down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(
                        "PostgreSQL is unreachable; refusing at once until a probe gets through"
                    );
                }
                tokio::time::sleep(PROBE_EVERY).await;
            }
        });
    }
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable("the ledger's writer stopped".into())
}

/// How many writes one group commit takes at most.
const MAX_BATCH: usize = 256;

/// A pooled connection idle this long is pinged before use (see `connect_lazy`).
const CHECK_IDLE_AFTER: Duration = Duration::from_millis(500);

/// How many rows of a refused batch are written on their own at a time (a few of the
/// pool's connections, so that the rest of the service keeps its own).
const ALONE_AT_ONCE: usize = 4;

impl PgLedger {
    /// A lazily connecting pool: the service starts even if the database is slow to.
    /// `writers` tasks per kind of write group concurrent inserts into one commit; they
    /// run on the calling runtime, so call this from the service's main runtime.
    pub fn connect_lazy(
        url: &str,
        max_connections: u32,
        writers: usize,
        acquire_timeout: Duration,
    ) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL is not a valid PostgreSQL URL")?;
        let health = Arc::new(Health::new(options.clone()));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            // sqlx pings every connection it hands out: a round trip, and a wake-up of a
            // PostgreSQL backend, before each statement. A connection used within the
            // last half second is alive (HikariCP's `aliveBypassWindowMs` draws the same
            // line); one that has sat longer may have been cut, and is still checked.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= CHECK_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        let runtime = tokio::runtime::Handle::try_current()
            .context("the PostgreSQL ledger needs a Tokio runtime for its writers")?;
        Ok(Self {
            reservations: Arc::new(GroupCommit::start(
                ReservationWriter(pool.clone()),
                writers,
                MAX_BATCH,
                &runtime,
                || WriteError::Store(writer_stopped()),
            )),
            tickets: Arc::new(GroupCommit::start(
                crate::store::postgres::queue::TicketWriter(pool.clone()),
                writers,
                MAX_BATCH,
                &runtime,
                || TicketWriteError::Store(writer_stopped()),
            )),
            pool,
            health,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// The pool, unless the database is known to be down (see [`Health`]).
    pub(crate) fn db(&self) -> Result<&PgPool, StoreError> {
        self.health.check()?;
        Ok(&self.pool)
    }

    /// Maps a statement's error, noting an outage.
    pub(crate) fn failed(&self, e: sqlx::Error) -> StoreError {
        let e = store_error(e);
        self.health.saw(&e);
        e
    }

    /// Maps a write's error (its constraint refusals are not outages).
    pub(crate) fn write_failed(&self, e: sqlx::Error) -> WriteError {
        let e = write_error(e);
        if let WriteError::Store(store) = &e {
            self.health.saw(store);
        }
        e
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("applying the PostgreSQL migrations")
    }
}

pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(ref db) if database_unavailable(db.code().as_deref()) => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Unexpected(anyhow!(other)),
    }
}

/// Errors the database reports about itself rather than about a statement, by SQLSTATE:
/// the connection is gone (class 08), the server is shutting down, restarting or not
/// yet accepting (57P01-57P03, e.g. a connection cut by `pg_terminate_backend` or a
/// failover), or it ran out of resources (class 53). Retrying later can succeed.
fn database_unavailable(code: Option<&str>) -> bool {
    code.is_some_and(|c| {
        c.starts_with("08") || c.starts_with("53") || matches!(c, "57P01" | "57P02" | "57P03")
    })
}

fn write_error(e: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(db) = &e {
        match db.constraint() {
            Some(SEAT_KEY) => return WriteError::SeatTaken,
            Some(RESIDENT_KEY) => return WriteError::ResidentHasBooking,
            Some(IDEMPOTENCY_KEY) => return WriteError::IdempotencyKeyUsed,
            Some(REFERENCE_KEY) => return WriteError::ReferenceTaken,
            _ => {}
        }
    }
    WriteError::Store(store_error(e))
}

/// Writes new reservations (bookings and holds) with their audit events, many per
/// statement. A row the ledger refuses (a seat, resident or idempotency key taken, or
/// any check) is written again on its own, so that its caller gets the exact refusal.
struct ReservationWriter(PgPool);

/// A new reservation with a resident is a booking; without one, a hold. Only a hold gets
/// an event row at its creation (a booking's "booked" entry is its row,
/// `reservation_trail`).
fn status_of(new: &NewReservation) -> ReservationStatus {
    if new.resident.is_some() {
        ReservationStatus::Confirmed
    } else {
        ReservationStatus::Held
    }
}

#[async_trait]
impl BatchWriter for ReservationWriter {
    type Item = NewReservation;
    type Error = WriteError;

    async fn write_batch(&self, items: Vec<NewReservation>) -> Vec<Result<(), WriteError>> {
        together_then_alone(
            &items,
            || insert_many(&self.0, &items),
            |new| insert_one(&self.0, new),
            WriteError::Store,
        )
        .await
    }
}

/// Writes `items` with one statement (`together`), or, when the database refused it (a
/// unique key or a check failed for some row: the statement wrote nothing), each item on
/// its own (`alone`), so every caller gets exactly the answer a write of its own would
/// have got. A failure to reach the database (or the database unavailable) fails them
/// all. A single item is written alone straight away.
///
/// The lone writes run `ALONE_AT_ONCE` at a time: under load the next batch waits for
/// this one (`group_commit`), and a batch of fifty written one commit after another
/// would hold every new booking for fifty commits. Two lone writes that collide (the
/// same seat twice) are decided by the unique key: one succeeds, the other is refused,
/// as if they had come one after the other.
///
/// The statement is a plain `INSERT`, not `ON CONFLICT DO NOTHING`: conflicts are rare
/// (the hot state hands out free seats and numbers), and skipping conflicting rows made
/// PostgreSQL probe every unique index of every row before inserting it, a large share
/// of its work per booking (docs/perf/journal/2026-11-22-to-12-01.md).
pub(crate) async fn together_then_alone<'a, I, E, Many, One>(
    items: &'a [I],
    together: impl FnOnce() -> Many,
    alone: impl Fn(&'a I) -> One,
    failed: impl Fn(StoreError) -> E,
) -> Vec<Result<(), E>>
where
    Many: std::future::Future<Output = Result<(), sqlx::Error>>,
    One: std::future::Future<Output = Result<(), E>>,
{
    if let [item] = items {
        return vec![alone(item).await];
    }
    match together().await {
        Ok(()) => items.iter().map(|_| Ok(())).collect(),
        Err(sqlx::Error::Database(db)) if !database_unavailable(db.code().as_deref()) => {
            let lone: Vec<One> = items.iter().map(alone).collect();
            stream::iter(lone).buffered(ALONE_AT_ONCE).collect().await
        }
        Err(e) => {
            let e = store_error(e);
            items.iter().map(|_| Err(failed(same_error(&e)))).collect()
        }
    }
}

/// A store error for each caller of a failed batch.
fn same_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        StoreError::Unexpected(e) => StoreError::Unexpected(anyhow!("{e:#}")),
    }
}

/// Every row of a batch, with the "held" event of each hold, or none (one statement). A
/// booking's "booked" entry of the audit trail is its row (`reservation_trail`).
#[allow(
    clippy::as_conversions,
    reason = "sqlx's query! names an array parameter's type with `as` (a type override)"
)]
async fn insert_many(pool: &PgPool, items: &[NewReservation]) -> Result<(), sqlx::Error> {
    let n = items.len();
    let mut ids = Vec::with_capacity(n);
    let mut references = Vec::with_capacity(n);
    let mut offices = Vec::with_capacity(n);
    let mut procedures = Vec::with_capacity(n);
    let mut starts = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    let mut seats = Vec::with_capacity(n);
    let mut capacities = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut names = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    let mut proofs = Vec::with_capacity(n);
    let mut emails = Vec::with_capacity(n);
    let mut langs = Vec::with_capacity(n);
    let mut expiries = Vec::with_capacity(n);
    let mut proxies = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut fingerprints = Vec::with_capacity(n);
    let mut hold_expiries = Vec::with_capacity(n);
    let mut nows = Vec::with_capacity(n);
    let mut bookers = Vec::with_capacity(n);
    let mut notes = Vec::with_capacity(n);
    for new in items {
        let p = &new.placement;
        let status = status_of(new);
        ids.push(new.id);
        references.push(new.reference.clone());
        offices.push(p.slot.office.as_str().to_owned());
        procedures.push(p.slot.procedure.as_str());
        starts.push(p.start);
        ends.push(p.end);
        seats.push(i32::from(p.seat));
        capacities.push(i32::from(p.capacity));
        statuses.push(status.as_str());
        names.push(new.resident.as_ref().map(|r| r.name.clone()));
        hashes.push(new.resident.as_ref().map(|r| r.identity_hash.to_vec()));
        proofs.push(new.resident.as_ref().map(|r| r.proofs.clone()));
        let contact = new.resident.as_ref().and_then(|r| r.contact.as_ref());
        emails.push(contact.map(|c| c.email.clone()));
        langs.push(contact.map(|c| c.lang.clone()));
        expiries.push(new.resident.as_ref().and_then(|r| r.certificate_expiry));
        proxies.push(new.resident.as_ref().is_some_and(|r| r.proxy));
        keys.push(new.idempotency_key_hash.map(|h| h.to_vec()));
        fingerprints.push(new.request_fingerprint.map(|h| h.to_vec()));
        hold_expiries.push(new.hold_expires_at);
        nows.push(new.now);
        let on_behalf = new.resident.as_ref().and_then(|r| r.on_behalf.as_ref());
        bookers.push(on_behalf.map(|b| Actor::Staff(b.staff).name().into_owned()));
        notes.push(on_behalf.map(|b| b.detail.to_string()));
    }
    sqlx::query!(
        r#"
        WITH inserted AS (
            INSERT INTO reservations (
                id, reference, office_id, procedure, slot_start, slot_end, seat, capacity,
                status, resident_name, resident_hash, proxy, idempotency_key_hash,
                request_fingerprint, hold_expires_at, created_at, updated_at, resident_proofs,
                contact_email, contact_lang, certificate_expiry)
            SELECT id, reference, office_id, procedure, slot_start, slot_end, seat, capacity,
                   status, resident_name, resident_hash, proxy, idempotency_key_hash,
                   request_fingerprint, hold_expires_at, created_at, created_at, resident_proofs,
                   contact_email, contact_lang, certificate_expiry
            FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                        $6::timestamptz[], $7::int[], $8::int[], $9::text[], $10::text[],
                        $11::bytea[], $12::bool[], $13::bytea[], $14::bytea[],
                        $15::timestamptz[], $16::timestamptz[], $17::bytea[], $18::text[],
                        $19::text[], $20::date[])
                 AS r(id, reference, office_id, procedure, slot_start, slot_end, seat, capacity,
                      status, resident_name, resident_hash, proxy, idempotency_key_hash,
                      request_fingerprint, hold_expires_at, created_at, resident_proofs,
                      contact_email, contact_lang, certificate_expiry)
        ), mail AS (
            -- The confirmation only: its reminder is written when it is settled.
            INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
            SELECT m.id, 'confirmation', m.slot_start, m.created_at, m.created_at
            FROM UNNEST($1::uuid[], $5::timestamptz[], $16::timestamptz[], $18::text[])
                AS m(id, slot_start, created_at, email)
            WHERE m.email IS NOT NULL
        )
        INSERT INTO reservation_events (reservation_id, kind, actor, at, detail)
        SELECT id, CASE WHEN status = 'held' THEN 'held' ELSE 'booked' END,
               COALESCE(booker, 'resident'), at, note::jsonb
        FROM UNNEST($1::uuid[], $9::text[], $16::timestamptz[], $21::text[], $22::text[])
            AS k(id, status, at, booker, note)
        WHERE status = 'held' OR booker IS NOT NULL
        "#,
        &ids,
        &references,
        &offices,
        &procedures as &[&str],
        &starts,
        &ends,
        &seats,
        &capacities,
        &statuses as &[&str],
        &names as &[Option<String>],
        &hashes as &[Option<Vec<u8>>],
        &proxies,
        &keys as &[Option<Vec<u8>>],
        &fingerprints as &[Option<Vec<u8>>],
        &hold_expiries as &[Option<DateTime<Utc>>],
        &nows,
        &proofs as &[Option<Vec<u8>>],
        &emails as &[Option<String>],
        &langs as &[Option<String>],
        &expiries as &[Option<chrono::NaiveDate>],
        &bookers as &[Option<String>],
        &notes as &[Option<String>],
    )
    .execute(pool)
    .await
    .map(|_| ())
}

async fn insert_one(pool: &PgPool, new: &NewReservation) -> Result<(), WriteError> {
    let p = &new.placement;
    let on_behalf = new.resident.as_ref().and_then(|r| r.on_behalf.as_ref());
    let contact = new.resident.as_ref().and_then(|r| r.contact.as_ref());
    let status = status_of(new);
    sqlx::query!(
        r#"
        WITH inserted AS (
            INSERT INTO reservations (
                id, reference, office_id, procedure, slot_start, slot_end, seat, capacity,
                status, resident_name, resident_hash, proxy, idempotency_key_hash,
                request_fingerprint, hold_expires_at, created_at, updated_at, resident_proofs,
                contact_email, contact_lang, certificate_expiry)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16,
                    $17, $18, $19, $20)
            RETURNING id, status, slot_start, created_at, contact_email
        ), mail AS (
            INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
            SELECT i.id, 'confirmation', i.slot_start, i.created_at, i.created_at
            FROM inserted i
            WHERE i.contact_email IS NOT NULL
        )
        INSERT INTO reservation_events (reservation_id, kind, actor, at, detail)
        SELECT id, CASE WHEN status = 'held' THEN 'held' ELSE 'booked' END,
               COALESCE($21, 'resident'), created_at, $22::text::jsonb
        FROM inserted WHERE status = 'held' OR $21::text IS NOT NULL
        "#,
        new.id,
        new.reference,
        p.slot.office.as_str(),
        p.slot.procedure.as_str(),
        p.start,
        p.end,
        i32::from(p.seat),
        i32::from(p.capacity),
        status.as_str(),
        new.resident.as_ref().map(|r| r.name.as_str()),
        new.resident.as_ref().map(|r| r.identity_hash.as_slice()),
        new.resident.as_ref().is_some_and(|r| r.proxy),
        new.idempotency_key_hash.as_ref().map(|h| h.as_slice()),
        new.request_fingerprint.as_ref().map(|h| h.as_slice()),
        new.hold_expires_at,
        new.now,
        new.resident.as_ref().map(|r| r.proofs.as_slice()),
        contact.map(|c| c.email.as_str()),
        contact.map(|c| c.lang.as_str()),
        new.resident.as_ref().and_then(|r| r.certificate_expiry),
        on_behalf.map(|b| Actor::Staff(b.staff).name().into_owned()),
        on_behalf.map(|b| b.detail.to_string()),
    )
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(write_error)
}

fn digest(raw: Option<Vec<u8>>) -> Result<Option<Digest>, StoreError> {
    raw.map(|v| {
        Digest::try_from(v.as_slice())
            .map_err(|_| StoreError::Unexpected(anyhow!("a stored hash is not 32 bytes")))
    })
    .transpose()
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

fn small(n: i32, what: &str) -> Result<u16, StoreError> {
    u16::try_from(n).map_err(|_| StoreError::Unexpected(anyhow!("{what} {n} out of range")))
}

struct Row {
    id: Uuid,
    reference: String,
    office_id: String,
    procedure: String,
    slot_start: DateTime<Utc>,
    slot_end: DateTime<Utc>,
    seat: i32,
    capacity: i32,
    status: String,
    resident_name: Option<String>,
    resident_hash: Option<Vec<u8>>,
    resident_proofs: Option<Vec<u8>>,
    contact_email: Option<String>,
    contact_lang: Option<String>,
    certificate_expiry: Option<chrono::NaiveDate>,
    proxy: bool,
    idempotency_key_hash: Option<Vec<u8>>,
    request_fingerprint: Option<Vec<u8>>,
    hold_expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Reservation {
    type Error = StoreError;

    fn try_from(r: Row) -> Result<Self, StoreError> {
        let slot = slot_ref(&r.office_id, &r.procedure, r.slot_start)?;
        Ok(Reservation {
            id: r.id,
            reference: r.reference,
            office_id: slot.office,
            procedure: slot.procedure,
            slot_start: r.slot_start,
            slot_end: r.slot_end,
            seat: small(r.seat, "seat")?,
            capacity: small(r.capacity, "capacity")?,
            status: ReservationStatus::parse(&r.status)
                .ok_or_else(|| StoreError::Unexpected(anyhow!("unknown status {}", r.status)))?,
            resident_name: r.resident_name,
            resident_hash: digest(r.resident_hash)?,
            resident_proofs: r.resident_proofs,
            contact_email: r.contact_email,
            contact_lang: r.contact_lang,
            certificate_expiry: r.certificate_expiry,
            proxy: r.proxy,
            idempotency_key_hash: digest(r.idempotency_key_hash)?,
            request_fingerprint: digest(r.request_fingerprint)?,
            hold_expires_at: r.hold_expires_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn one(row: Option<Row>) -> Result<Option<Reservation>, StoreError> {
    row.map(Reservation::try_from).transpose()
}

#[async_trait]
impl Ledger for PgLedger {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!("SELECT 1 AS \"one!\"")
            .fetch_one(self.db()?)
            .await
            .map(|_| ())
            .map_err(|e| self.failed(e))
    }

    async fn secret(&self, name: &str, generated: &[u8]) -> Result<Vec<u8>, StoreError> {
        sqlx::query!(
            "INSERT INTO app_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            name,
            generated
        )
        .execute(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        sqlx::query_scalar!("SELECT value FROM app_secrets WHERE name = $1", name)
            .fetch_one(self.db()?)
            .await
            .map_err(|e| self.failed(e))
    }

    async fn insert_reservation(&self, new: &NewReservation) -> Result<(), WriteError> {
        self.health.check()?;
        let result = self.reservations.submit(new.clone()).await;
        if let Err(WriteError::Store(e)) = &result {
            self.health.saw(e);
        }
        result
    }

    async fn reservation_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let row = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations WHERE reference = $1",
            reference
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        one(row)
    }

    async fn reservation_by_id(&self, id: Uuid) -> Result<Option<Reservation>, StoreError> {
        let row = sqlx::query_as!(Row, "SELECT * FROM reservations WHERE id = $1", id)
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.failed(e))?;
        one(row)
    }

    async fn reservation_by_idempotency_key(
        &self,
        key_hash: &Digest,
    ) -> Result<Option<Reservation>, StoreError> {
        let row = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations WHERE idempotency_key_hash = $1",
            key_hash.as_slice()
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        one(row)
    }

    async fn seat_holder(
        &self,
        slot: &SlotRef,
        start: DateTime<Utc>,
        seat: u16,
    ) -> Result<Option<Uuid>, StoreError> {
        sqlx::query_scalar!(
            r#"SELECT id FROM reservations
               WHERE office_id = $1 AND procedure = $2 AND slot_start = $3 AND seat = $4
                 AND status IN ('held', 'confirmed')"#,
            slot.office.as_str(),
            slot.procedure.as_str(),
            start,
            i32::from(seat)
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.failed(e))
    }

    async fn confirm_hold(
        &self,
        id: Uuid,
        resident: &ResidentRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, WriteError> {
        let row = sqlx::query_as!(
            Row,
            r#"
            WITH updated AS (
                UPDATE reservations
                SET status = 'confirmed', resident_name = $2, resident_hash = $3, proxy = $4,
                    resident_proofs = $6, contact_email = $7, contact_lang = $8,
                    certificate_expiry = $9, hold_expires_at = NULL, updated_at = $5
                WHERE id = $1 AND status = 'held' AND hold_expires_at > $5
                RETURNING *
            ), event AS (
                INSERT INTO reservation_events (reservation_id, kind, actor, at)
                SELECT id, 'confirmed', 'resident', $5 FROM updated
            ), mail AS (
                INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
                SELECT u.id, 'confirmation', u.slot_start, $5, $5
                FROM updated u WHERE u.contact_email IS NOT NULL
            )
            SELECT id AS "id!", reference AS "reference!", office_id AS "office_id!",
                   procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                   seat AS "seat!", capacity AS "capacity!", status AS "status!", resident_name,
                   resident_hash, resident_proofs, contact_email, contact_lang, certificate_expiry,
                   proxy AS "proxy!", idempotency_key_hash, request_fingerprint,
                   hold_expires_at, created_at AS "created_at!", updated_at AS "updated_at!"
            FROM updated
            "#,
            id,
            resident.name,
            resident.identity_hash.as_slice(),
            resident.proxy,
            now,
            resident.proofs.as_slice(),
            resident.contact.as_ref().map(|c| c.email.as_str()),
            resident.contact.as_ref().map(|c| c.lang.as_str()),
            resident.certificate_expiry
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.write_failed(e))?;
        Ok(one(row)?)
    }

    async fn cancel(
        &self,
        id: Uuid,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, StoreError> {
        let actor = actor.name();
        let row = sqlx::query_as!(
            Row,
            r#"
            WITH updated AS (
                UPDATE reservations SET status = 'cancelled', updated_at = $2
                WHERE id = $1 AND status IN ('held', 'confirmed')
                RETURNING *
            ), event AS (
                INSERT INTO reservation_events (reservation_id, kind, actor, at)
                SELECT id, 'cancelled', $3, $2 FROM updated
            ), dropped AS (
                UPDATE outbox SET dropped_at = $2
                WHERE reservation_id = $1 AND kind = 'reminder' AND sent_at IS NULL
                  AND dropped_at IS NULL AND EXISTS (SELECT 1 FROM updated)
            ), mail AS (
                INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
                SELECT id, 'cancelled', slot_start, $2, $2 FROM updated
                WHERE contact_email IS NOT NULL
            )
            SELECT id AS "id!", reference AS "reference!", office_id AS "office_id!",
                   procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                   seat AS "seat!", capacity AS "capacity!", status AS "status!", resident_name,
                   resident_hash, resident_proofs, contact_email, contact_lang, certificate_expiry,
                   proxy AS "proxy!", idempotency_key_hash, request_fingerprint,
                   hold_expires_at, created_at AS "created_at!", updated_at AS "updated_at!"
            FROM updated
            "#,
            id,
            now,
            actor.as_ref()
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
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
        });
        let actor = actor.name();
        let row = sqlx::query_as!(
            Row,
            r#"
            WITH updated AS (
                UPDATE reservations
                SET office_id = $2, slot_start = $3, slot_end = $4, seat = $5, capacity = $6,
                    updated_at = $7
                WHERE id = $1 AND status = 'confirmed'
                RETURNING *
            ), event AS (
                INSERT INTO reservation_events (reservation_id, kind, actor, at, detail)
                SELECT id, 'rescheduled', $10, $7, $8 FROM updated
            ), dropped AS (
                UPDATE outbox SET dropped_at = $7
                WHERE reservation_id = $1 AND kind = 'reminder' AND sent_at IS NULL
                  AND dropped_at IS NULL AND EXISTS (SELECT 1 FROM updated)
            ), mail AS (
                INSERT INTO outbox (reservation_id, kind, slot_start, due_at, created_at)
                SELECT u.id, k.kind, u.slot_start, k.due_at, $7
                FROM updated u
                CROSS JOIN LATERAL (VALUES ('changed', $7), ('reminder', $9::timestamptz))
                    AS k(kind, due_at)
                WHERE u.contact_email IS NOT NULL AND k.due_at IS NOT NULL
            )
            SELECT id AS "id!", reference AS "reference!", office_id AS "office_id!",
                   procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                   seat AS "seat!", capacity AS "capacity!", status AS "status!", resident_name,
                   resident_hash, resident_proofs, contact_email, contact_lang, certificate_expiry,
                   proxy AS "proxy!", idempotency_key_hash, request_fingerprint,
                   hold_expires_at, created_at AS "created_at!", updated_at AS "updated_at!"
            FROM updated
            "#,
            id,
            to.slot.office.as_str(),
            to.start,
            to.end,
            i32::from(to.seat),
            i32::from(to.capacity),
            now,
            detail,
            reminder_at,
            actor.as_ref()
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.write_failed(e))?;
        Ok(one(row)?)
    }

    async fn record_event(
        &self,
        id: Uuid,
        kind: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let actor = actor.name();
        sqlx::query!(
            "INSERT INTO reservation_events (reservation_id, kind, actor, at) VALUES ($1, $2, $3, $4)",
            id,
            kind,
            actor.as_ref(),
            now
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn active_placements(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (SlotRef, u16)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT id, office_id, procedure, slot_start, seat FROM reservations
               WHERE id = ANY($1) AND status IN ('held', 'confirmed')"#,
            ids
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.id,
                    (
                        slot_ref(&r.office_id, &r.procedure, r.slot_start)?,
                        small(r.seat, "seat")?,
                    ),
                ))
            })
            .collect()
    }

    async fn expire_holds(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Reservation>, StoreError> {
        let rows = sqlx::query_as!(
            Row,
            r#"
            WITH due AS (
                SELECT id FROM reservations
                WHERE status = 'held' AND hold_expires_at <= $1
                ORDER BY hold_expires_at
                LIMIT $2
                FOR UPDATE SKIP LOCKED
            ), updated AS (
                UPDATE reservations r SET status = 'expired', updated_at = $1
                FROM due WHERE r.id = due.id AND r.status = 'held'
                RETURNING r.*
            ), event AS (
                INSERT INTO reservation_events (reservation_id, kind, actor, at)
                SELECT id, 'expired', 'system', $1 FROM updated
            )
            SELECT id AS "id!", reference AS "reference!", office_id AS "office_id!",
                   procedure AS "procedure!", slot_start AS "slot_start!", slot_end AS "slot_end!",
                   seat AS "seat!", capacity AS "capacity!", status AS "status!", resident_name,
                   resident_hash, resident_proofs, contact_email, contact_lang, certificate_expiry,
                   proxy AS "proxy!", idempotency_key_hash, request_fingerprint,
                   hold_expires_at, created_at AS "created_at!", updated_at AS "updated_at!"
            FROM updated
            "#,
            now,
            limit
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(Reservation::try_from).collect()
    }

    async fn lapse_past(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        sqlx::query!(
            "UPDATE reservations SET status = 'lapsed', updated_at = $2
             WHERE status = 'confirmed' AND slot_end < $1",
            before,
            now
        )
        .execute(self.db()?)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| self.failed(e))
    }

    async fn purge_names(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        sqlx::query!(
            "UPDATE reservations
             SET resident_name = NULL, resident_proofs = NULL, contact_email = NULL,
                 contact_lang = NULL, certificate_expiry = NULL
             WHERE (resident_name IS NOT NULL OR resident_proofs IS NOT NULL
                    OR contact_email IS NOT NULL OR certificate_expiry IS NOT NULL)
               AND slot_end < $1",
            before
        )
        .execute(self.db()?)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| self.failed(e))
    }

    async fn active_seats(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
    ) -> Result<Vec<ActiveSeat>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT id, office_id, procedure, slot_start, slot_end, seat, resident_hash, status
               FROM reservations
               WHERE office_id = $1 AND status IN ('held', 'confirmed') AND slot_start >= $2"#,
            office.as_str(),
            from
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(ActiveSeat {
                    id: r.id,
                    slot: slot_ref(&r.office_id, &r.procedure, r.slot_start)?,
                    seat: small(r.seat, "seat")?,
                    slot_end: r.slot_end,
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
        let rows = sqlx::query!(
            r#"SELECT idempotency_key_hash AS "key_hash!", id, request_fingerprint AS "fingerprint!",
                      created_at
               FROM reservations
               WHERE office_id = $1 AND idempotency_key_hash IS NOT NULL
                 AND request_fingerprint IS NOT NULL AND created_at >= $2"#,
            office.as_str(),
            since
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter()
            .filter_map(|r| {
                let key_hash = digest(Some(r.key_hash)).transpose()?;
                let fingerprint = digest(Some(r.fingerprint)).transpose()?;
                Some(key_hash.and_then(|key_hash| {
                    Ok(IdempotencyRecord {
                        key_hash,
                        id: r.id,
                        fingerprint: fingerprint?,
                        created_at: r.created_at,
                    })
                }))
            })
            .collect()
    }

    async fn inactive_among(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        sqlx::query_scalar!(
            "SELECT id FROM reservations WHERE id = ANY($1) AND status NOT IN ('held', 'confirmed')",
            ids
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))
    }

    async fn confirmed_of_resident(
        &self,
        identity_hash: &Digest,
    ) -> Result<Vec<Reservation>, StoreError> {
        let rows = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations WHERE resident_hash = $1 AND status = 'confirmed'
             ORDER BY slot_start, reference",
            identity_hash.as_slice()
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(Reservation::try_from).collect()
    }

    async fn confirmed_between(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Reservation>, StoreError> {
        let rows = sqlx::query_as!(
            Row,
            "SELECT * FROM reservations
             WHERE office_id = $1 AND status = 'confirmed' AND slot_start >= $2 AND slot_start < $3
             ORDER BY slot_start, reference",
            office.as_str(),
            from,
            to
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter().map(Reservation::try_from).collect()
    }
}
