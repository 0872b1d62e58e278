//! The queue tables on PostgreSQL (see `madoguchi_core::store::queue`).

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{CounterId, Level, LineId, TicketClass, TicketStatus};
use crate::store::postgres::group_commit::BatchWriter;
use crate::store::postgres::{PgLedger, store_error, together_then_alone};
use crate::store::queue::{
    AuditEntry, AuditRecord, AuditSeal, CongestionSnapshot, QueueEvent, QueueLedger, ServiceTime,
    StaffRole, StaffToken, Ticket, TicketWriteError,
};
use crate::store::{Digest, StoreError};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(anyhow!("stored {what} {value:?} is not valid"))
}

fn parsed<T>(
    raw: &str,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(raw).ok_or_else(|| bad(what, raw))
}

/// Writes new tickets (each with who issued it: the audit trail's "issued" entry), many
/// per statement (group commit, see `store::postgres::group_commit`). A ticket the ledger refuses
/// (its number or its reservation's check-in is taken) is written again on its own, so
/// its caller gets the exact refusal.
pub(crate) struct TicketWriter(pub(crate) sqlx::PgPool);

#[async_trait]
impl BatchWriter for TicketWriter {
    type Item = (Ticket, String);
    type Error = TicketWriteError;

    async fn write_batch(&self, items: Vec<(Ticket, String)>) -> Vec<Result<(), TicketWriteError>> {
        together_then_alone(
            &items,
            || insert_many(&self.0, &items),
            |(ticket, actor)| insert_one(&self.0, ticket, actor),
            TicketWriteError::Store,
        )
        .await
    }
}

/// Every ticket of a batch, or none (one statement). A plain `INSERT` (see
/// `together_then_alone`): a row already there, written by a counter that called the
/// ticket before this commit (`update_ticket`), fails the batch, and `insert_one` then
/// gives that row its issuer.
#[allow(
    clippy::as_conversions,
    reason = "sqlx's query! names an array parameter's type with `as` (a type override)"
)]
async fn insert_many(pool: &sqlx::PgPool, items: &[(Ticket, String)]) -> Result<(), sqlx::Error> {
    let n = items.len();
    let mut ids = Vec::with_capacity(n);
    let mut offices = Vec::with_capacity(n);
    let mut lines = Vec::with_capacity(n);
    let mut dates = Vec::with_capacity(n);
    let mut numbers = Vec::with_capacity(n);
    let mut displays = Vec::with_capacity(n);
    let mut procedures = Vec::with_capacity(n);
    let mut classes = Vec::with_capacity(n);
    let mut reservations = Vec::with_capacity(n);
    let mut statuses = Vec::with_capacity(n);
    let mut counters = Vec::with_capacity(n);
    let mut orders = Vec::with_capacity(n);
    let mut issued = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    for (t, actor) in items {
        ids.push(t.id);
        offices.push(t.office_id.as_str());
        lines.push(t.line_id.as_str());
        dates.push(t.service_date);
        numbers.push(crate::num::i32_of(t.number));
        displays.push(t.display.as_str());
        procedures.push(t.procedure.as_str());
        classes.push(t.class.as_str());
        reservations.push(t.reservation_id);
        statuses.push(t.status.as_str());
        counters.push(t.counter_id.as_ref().map(|c| c.as_str()));
        orders.push(t.order_key);
        issued.push(t.issued_at);
        actors.push(actor.as_str());
    }
    sqlx::query!(
        r#"
        INSERT INTO tickets (id, office_id, line_id, service_date, number, display, procedure,
                             class, reservation_id, status, counter_id, order_key, issued_at,
                             issued_by)
        SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::date[], $5::int[],
                             $6::text[], $7::text[], $8::text[], $9::uuid[], $10::text[],
                             $11::text[], $12::bigint[], $13::timestamptz[], $14::text[])
        "#,
        &ids,
        &offices as &[&str],
        &lines as &[&str],
        &dates,
        &numbers,
        &displays as &[&str],
        &procedures as &[&str],
        &classes as &[&str],
        &reservations as &[Option<Uuid>],
        &statuses as &[&str],
        &counters as &[Option<&str>],
        &orders,
        &issued,
        &actors as &[&str],
    )
    .execute(pool)
    .await
    .map(|_| ())
}

async fn insert_one(pool: &sqlx::PgPool, t: &Ticket, actor: &str) -> Result<(), TicketWriteError> {
    let result = sqlx::query!(
        r#"
        INSERT INTO tickets (id, office_id, line_id, service_date, number, display, procedure,
                             class, reservation_id, status, counter_id, order_key, issued_at,
                             issued_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        "#,
        t.id,
        t.office_id.as_str(),
        t.line_id.as_str(),
        t.service_date,
        crate::num::i32_of(t.number),
        t.display,
        t.procedure.as_str(),
        t.class.as_str(),
        t.reservation_id,
        t.status.as_str(),
        t.counter_id.as_ref().map(|c| c.as_str()),
        t.order_key,
        t.issued_at,
        actor,
    )
    .execute(pool)
    .await;
    match result {
        Ok(_) => Ok(()),
        // The ticket's own row, written by a counter that called it first: only who
        // issued it is missing (its state there is newer than the issue's).
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("tickets_pkey") => sqlx::query!(
            "UPDATE tickets SET issued_by = $2 WHERE id = $1",
            t.id,
            actor
        )
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| TicketWriteError::Store(store_error(e))),
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("tickets_number_key") => {
            Err(TicketWriteError::NumberTaken)
        }
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("tickets_reservation_key") => {
            Err(TicketWriteError::AlreadyCheckedIn)
        }
        Err(e) => Err(TicketWriteError::Store(store_error(e))),
    }
}

struct TicketRow {
    id: Uuid,
    office_id: String,
    line_id: String,
    service_date: NaiveDate,
    number: i32,
    display: String,
    procedure: String,
    class: String,
    reservation_id: Option<Uuid>,
    status: String,
    counter_id: Option<String>,
    order_key: i64,
    issued_at: DateTime<Utc>,
    called_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    recalls: i32,
    #[expect(
        dead_code,
        reason = "read by the audit trail's query, not with the ticket"
    )]
    issued_by: String,
    revision: i32,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(r: TicketRow) -> Result<Self, StoreError> {
        Ok(Ticket {
            id: r.id,
            office_id: parsed(&r.office_id, "office", |s| OfficeId::parse(s).ok())?,
            line_id: parsed(&r.line_id, "line", |s| LineId::parse(s).ok())?,
            service_date: r.service_date,
            number: u32::try_from(r.number).map_err(|_| bad("number", &r.number.to_string()))?,
            display: r.display,
            procedure: parsed(&r.procedure, "procedure", |s| s.parse::<ProcedureId>().ok())?,
            class: parsed(&r.class, "class", TicketClass::parse)?,
            reservation_id: r.reservation_id,
            status: parsed(&r.status, "status", TicketStatus::parse)?,
            counter_id: r
                .counter_id
                .map(|c| parsed(&c, "counter", |s| CounterId::parse(s).ok()))
                .transpose()?,
            order_key: r.order_key,
            issued_at: r.issued_at,
            called_at: r.called_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            recalls: u32::try_from(r.recalls).unwrap_or(0),
            revision: u32::try_from(r.revision).unwrap_or(0),
        })
    }
}

struct TokenRow {
    id: Uuid,
    office_id: String,
    role: String,
    token_hash: Vec<u8>,
    label: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<TokenRow> for StaffToken {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(StaffToken {
            id: r.id,
            office_id: parsed(&r.office_id, "office", |s| OfficeId::parse(s).ok())?,
            role: parsed(&r.role, "role", StaffRole::parse)?,
            token_hash: Digest::try_from(r.token_hash.as_slice())
                .map_err(|_| bad("token hash", "…"))?,
            label: r.label,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[async_trait]
impl QueueLedger for PgLedger {
    fn known_down(&self) -> bool {
        self.health().check().is_err()
    }

    async fn insert_ticket(&self, t: &Ticket, actor: &str) -> Result<(), TicketWriteError> {
        self.health().check()?;
        let result = self.tickets.submit((t.clone(), actor.to_owned())).await;
        if let Err(TicketWriteError::Store(e)) = &result {
            self.health().saw(e);
        }
        result
    }

    async fn ticket(&self, id: Uuid) -> Result<Option<Ticket>, StoreError> {
        sqlx::query_as!(TicketRow, "SELECT * FROM tickets WHERE id = $1", id)
            .fetch_optional(self.db()?)
            .await
            .map_err(|e| self.failed(e))?
            .map(Ticket::try_from)
            .transpose()
    }

    async fn ticket_for_reservation(
        &self,
        reservation: Uuid,
    ) -> Result<Option<Ticket>, StoreError> {
        sqlx::query_as!(
            TicketRow,
            "SELECT * FROM tickets WHERE reservation_id = $1",
            reservation
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.failed(e))?
        .map(Ticket::try_from)
        .transpose()
    }

    async fn update_ticket(&self, t: &Ticket, e: &QueueEvent) -> Result<(), StoreError> {
        // An upsert, not an UPDATE: a counter may call a ticket the moment after its issue,
        // before the issue's row commits. ON CONFLICT waits for that insert and then
        // updates; a row not yet begun is written here and the issue's insert, refused
        // by the row, only adds who issued it (`insert_one`). A newer state already written stays; the event
        // is recorded either way (the CTE runs whether or not the INSERT reads it).
        sqlx::query!(
            r#"
            WITH written AS (
                INSERT INTO tickets (id, office_id, line_id, service_date, number, display,
                                     procedure, class, reservation_id, status, counter_id,
                                     order_key, issued_at, called_at, started_at, finished_at,
                                     recalls, revision, issued_by)
                VALUES ($1, $11, $4, $18, $19, $20, $21, $10, $22, $2, $3, $5, $23, $6, $7, $8,
                        $9, $17, '')
                ON CONFLICT (id) DO UPDATE
                SET status = EXCLUDED.status, counter_id = EXCLUDED.counter_id,
                    line_id = EXCLUDED.line_id, order_key = EXCLUDED.order_key,
                    called_at = EXCLUDED.called_at, started_at = EXCLUDED.started_at,
                    finished_at = EXCLUDED.finished_at, recalls = EXCLUDED.recalls,
                    class = EXCLUDED.class, revision = EXCLUDED.revision
                WHERE tickets.revision < EXCLUDED.revision
                RETURNING id
            )
            INSERT INTO queue_events (office_id, ticket_id, counter_id, kind, actor, at, detail)
            VALUES ($11, $1, $12, $13, $14, $15, $16)
            "#,
            t.id,
            t.status.as_str(),
            t.counter_id.as_ref().map(|c| c.as_str()),
            t.line_id.as_str(),
            t.order_key,
            t.called_at,
            t.started_at,
            t.finished_at,
            crate::num::i32_of(t.recalls),
            t.class.as_str(),
            e.office.as_str(),
            e.counter.as_ref().map(|c| c.as_str()),
            e.kind,
            e.actor,
            e.at,
            e.detail,
            i32::try_from(t.revision).unwrap_or(i32::MAX),
            t.service_date,
            crate::num::i32_of(t.number),
            t.display,
            t.procedure.as_str(),
            t.reservation_id,
            t.issued_at,
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn tickets_of_day(
        &self,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<Ticket>, StoreError> {
        sqlx::query_as!(
            TicketRow,
            "SELECT * FROM tickets WHERE office_id = $1 AND service_date = $2 ORDER BY issued_at",
            office.as_str(),
            date
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?
        .into_iter()
        .map(Ticket::try_from)
        .collect()
    }

    async fn existing_tickets(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        sqlx::query_scalar!("SELECT id FROM tickets WHERE id = ANY($1)", ids)
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.failed(e))
    }

    async fn service_times(
        &self,
        office: &OfficeId,
        since: DateTime<Utc>,
    ) -> Result<Vec<ServiceTime>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT procedure, started_at AS "started_at!", finished_at AS "finished_at!"
               FROM tickets
               WHERE office_id = $1 AND status = 'done' AND finished_at >= $2 AND started_at IS NOT NULL
               ORDER BY finished_at"#,
            office.as_str(),
            since
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(ServiceTime {
                    procedure: parsed(&r.procedure, "procedure", |s| s.parse().ok())?,
                    minutes: crate::num::f64_of_millis(
                        (r.finished_at - r.started_at).num_milliseconds(),
                    ) / 60_000.0,
                    finished_at: r.finished_at,
                })
            })
            .collect()
    }

    async fn set_counter_paused(&self, paused: bool, e: &QueueEvent) -> Result<(), StoreError> {
        let counter = e.counter.as_ref().map(|c| c.as_str()).unwrap_or_default();
        sqlx::query!(
            r#"
            WITH upserted AS (
                INSERT INTO counter_states (office_id, counter_id, paused, updated_at)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (office_id, counter_id) DO UPDATE SET paused = $3, updated_at = $4
                RETURNING office_id
            )
            INSERT INTO queue_events (office_id, counter_id, kind, actor, at)
            SELECT office_id, $2, $5, $6, $4 FROM upserted
            "#,
            e.office.as_str(),
            counter,
            paused,
            e.at,
            e.kind,
            e.actor,
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn paused_counters(&self, office: &OfficeId) -> Result<Vec<CounterId>, StoreError> {
        let rows = sqlx::query_scalar!(
            "SELECT counter_id FROM counter_states WHERE office_id = $1 AND paused",
            office.as_str()
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.iter()
            .map(|c| parsed(c, "counter", |s| CounterId::parse(s).ok()))
            .collect()
    }

    async fn queue_events(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // Issued entries come from the tickets themselves; at the same instant a ticket's
        // issue comes before what happened to it.
        let rows = sqlx::query!(
            r#"SELECT at AS "at!", kind AS "kind!", actor AS "actor!", ticket_id, counter_id FROM (
                   SELECT issued_at AS at, 0 AS source, 0::bigint AS seq, 'issued' AS kind,
                          issued_by AS actor, id AS ticket_id, NULL::text AS counter_id
                   FROM tickets WHERE office_id = $1 AND service_date BETWEEN $4 AND $5
                                  AND issued_at >= $2 AND issued_at < $3
                   UNION ALL
                   SELECT at, 1, id, kind, actor, ticket_id, counter_id FROM queue_events
                   WHERE office_id = $1 AND at >= $2 AND at < $3
               ) AS trail ORDER BY at, source, seq"#,
            office.as_str(),
            from,
            to,
            // Bounds the tickets read by their (Tokyo) day of issue, which the index has.
            crate::domain::time::tokyo_date(from),
            crate::domain::time::tokyo_date(to)
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                at: r.at,
                kind: r.kind,
                actor: r.actor,
                ticket_id: r.ticket_id,
                counter_id: r.counter_id,
            })
            .collect())
    }

    async fn audit_records(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT at AS "at!", source AS "source!", kind AS "kind!", actor AS "actor!",
                      subject, counter, detail FROM (
                   SELECT at, 'queue' AS source, id AS seq, kind, actor,
                          ticket_id::text AS subject, counter_id AS counter, detail::text AS detail
                   FROM queue_events WHERE office_id = $1 AND at >= $2 AND at < $3
                   UNION ALL
                   SELECT e.at, 'reservation', e.id, e.kind, e.actor, e.reservation_id::text,
                          NULL, e.detail::text
                   FROM reservation_events e JOIN reservations r ON r.id = e.reservation_id
                   WHERE e.actor LIKE 'staff:%' AND e.at >= $2 AND e.at < $3
                     AND r.office_id = $1
                   UNION ALL
                   SELECT at, 'room', id, kind, actor, room_id, NULL, definition
                   FROM room_events WHERE office_id = $1 AND at >= $2 AND at < $3
               ) AS trail ORDER BY at, source, seq"#,
            office.as_str(),
            from,
            to
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(rows
            .into_iter()
            .map(|r| AuditRecord {
                at: r.at,
                source: AuditRecord::source_named(&r.source),
                kind: r.kind,
                actor: r.actor,
                subject: r.subject,
                counter: r.counter,
                detail: r.detail,
            })
            .collect())
    }

    async fn audit_seals(
        &self,
        office: &OfficeId,
        day: NaiveDate,
    ) -> Result<Vec<AuditSeal>, StoreError> {
        let rows = sqlx::query!(
            "SELECT seq, through, events, hash, sealed_at FROM audit_seals
             WHERE office_id = $1 AND day = $2 ORDER BY seq",
            office.as_str(),
            day
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        Ok(rows
            .into_iter()
            .map(|r| AuditSeal {
                office: office.clone(),
                day,
                seq: u32::try_from(r.seq).unwrap_or(0),
                through: r.through,
                events: u32::try_from(r.events).unwrap_or(0),
                hash: r.hash,
                sealed_at: r.sealed_at,
            })
            .collect())
    }

    async fn insert_audit_seal(&self, seal: &AuditSeal) -> Result<bool, StoreError> {
        sqlx::query!(
            "INSERT INTO audit_seals (office_id, day, seq, through, events, hash, sealed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            seal.office.as_str(),
            seal.day,
            i32::try_from(seal.seq).unwrap_or(i32::MAX),
            seal.through,
            i32::try_from(seal.events).unwrap_or(i32::MAX),
            seal.hash,
            seal.sealed_at
        )
        .execute(self.db()?)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(|e| self.failed(e))
    }

    async fn insert_staff_token(&self, t: &StaffToken) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO staff_tokens (id, office_id, role, token_hash, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            t.id,
            t.office_id.as_str(),
            t.role.as_str(),
            t.token_hash.as_slice(),
            t.label,
            t.created_at
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn staff_token_by_hash(&self, hash: &Digest) -> Result<Option<StaffToken>, StoreError> {
        sqlx::query_as!(
            TokenRow,
            "SELECT * FROM staff_tokens WHERE token_hash = $1",
            hash.as_slice()
        )
        .fetch_optional(self.db()?)
        .await
        .map_err(|e| self.failed(e))?
        .map(StaffToken::try_from)
        .transpose()
    }

    async fn revoke_staff_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        sqlx::query!(
            "UPDATE staff_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            id,
            now
        )
        .execute(self.db()?)
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(|e| self.failed(e))
    }

    async fn staff_tokens(&self) -> Result<Vec<StaffToken>, StoreError> {
        sqlx::query_as!(TokenRow, "SELECT * FROM staff_tokens ORDER BY created_at")
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.failed(e))?
            .into_iter()
            .map(StaffToken::try_from)
            .collect()
    }

    #[allow(
        clippy::as_conversions,
        reason = "sqlx's query! names an array parameter's type with `as` (a type override)"
    )]
    async fn insert_snapshots(&self, rows: &[CongestionSnapshot]) -> Result<(), StoreError> {
        let offices: Vec<String> = rows.iter().map(|r| r.office_id.to_string()).collect();
        let lines: Vec<String> = rows.iter().map(|r| r.line_id.to_string()).collect();
        let at: Vec<DateTime<Utc>> = rows.iter().map(|r| r.taken_at).collect();
        let waiting: Vec<i32> = rows.iter().map(|r| crate::num::i32_of(r.waiting)).collect();
        let open: Vec<i32> = rows
            .iter()
            .map(|r| crate::num::i32_of(r.counters_open))
            .collect();
        let p50: Vec<Option<i32>> = rows
            .iter()
            .map(|r| r.wait_p50.map(crate::num::i32_of))
            .collect();
        let p90: Vec<Option<i32>> = rows
            .iter()
            .map(|r| r.wait_p90.map(crate::num::i32_of))
            .collect();
        let level: Vec<String> = rows.iter().map(|r| r.level.as_str().to_owned()).collect();
        sqlx::query!(
            r#"INSERT INTO congestion_snapshots
                   (office_id, line_id, taken_at, waiting, counters_open, wait_p50, wait_p90, level)
               SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::int[], $5::int[],
                                    $6::int[], $7::int[], $8::text[])"#,
            &offices,
            &lines,
            &at,
            &waiting,
            &open,
            &p50 as &[Option<i32>],
            &p90 as &[Option<i32>],
            &level,
        )
        .execute(self.db()?)
        .await
        .map(|_| ())
        .map_err(|e| self.failed(e))
    }

    async fn snapshots(
        &self,
        office: Option<&OfficeId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CongestionSnapshot>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT office_id, line_id, taken_at, waiting, counters_open, wait_p50, wait_p90, level
               FROM congestion_snapshots
               WHERE ($1::text IS NULL OR office_id = $1) AND taken_at >= $2 AND taken_at < $3
               ORDER BY taken_at, office_id, line_id"#,
            office.map(|o| o.as_str()),
            from,
            to
        )
        .fetch_all(self.db()?)
        .await
        .map_err(|e| self.failed(e))?;
        rows.into_iter()
            .map(|r| {
                Ok(CongestionSnapshot {
                    office_id: parsed(&r.office_id, "office", |s| OfficeId::parse(s).ok())?,
                    line_id: parsed(&r.line_id, "line", |s| LineId::parse(s).ok())?,
                    taken_at: r.taken_at,
                    waiting: crate::num::u32_of(r.waiting),
                    counters_open: crate::num::u32_of(r.counters_open),
                    wait_p50: r.wait_p50.map(crate::num::u32_of),
                    wait_p90: r.wait_p90.map(crate::num::u32_of),
                    level: parsed(&r.level, "level", Level::parse)?,
                })
            })
            .collect()
    }
}
