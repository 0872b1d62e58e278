//! The queue tables on SQLite (see `madoguchi_core::store::queue`).

use crate::{SqliteLedger, ms, store_error, time, uuid};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use madoguchi_core::domain::OfficeId;
use madoguchi_core::domain::procedure::ProcedureId;
use madoguchi_core::domain::queue::{CounterId, Level, LineId, TicketClass, TicketStatus};
use madoguchi_core::store::queue::{
    AuditEntry, AuditRecord, AuditSeal, CongestionSnapshot, QueueEvent, QueueLedger, ServiceTime,
    StaffRole, StaffToken, Ticket, TicketWriteError,
};
use madoguchi_core::store::{Digest, StoreError};
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

struct TicketRow {
    id: String,
    office_id: String,
    line_id: String,
    service_date: String,
    number: i64,
    display: String,
    procedure: String,
    class: String,
    reservation_id: Option<String>,
    status: String,
    counter_id: Option<String>,
    order_key: i64,
    issued_at: i64,
    called_at: Option<i64>,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    recalls: i64,
    #[expect(
        dead_code,
        reason = "read by the audit trail's query, not with the ticket"
    )]
    issued_by: String,
    revision: i64,
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(r: TicketRow) -> Result<Self, StoreError> {
        Ok(Ticket {
            id: uuid(&r.id)?,
            office_id: parsed(&r.office_id, "office", |s| OfficeId::parse(s).ok())?,
            line_id: parsed(&r.line_id, "line", |s| LineId::parse(s).ok())?,
            service_date: parsed(&r.service_date, "date", |s| s.parse::<NaiveDate>().ok())?,
            number: u32::try_from(r.number).map_err(|_| bad("number", &r.number.to_string()))?,
            display: r.display,
            procedure: parsed(&r.procedure, "procedure", |s| s.parse::<ProcedureId>().ok())?,
            class: parsed(&r.class, "class", TicketClass::parse)?,
            reservation_id: r.reservation_id.as_deref().map(uuid).transpose()?,
            status: parsed(&r.status, "status", TicketStatus::parse)?,
            counter_id: r
                .counter_id
                .map(|c| parsed(&c, "counter", |s| CounterId::parse(s).ok()))
                .transpose()?,
            order_key: r.order_key,
            issued_at: time(r.issued_at)?,
            called_at: r.called_at.map(time).transpose()?,
            started_at: r.started_at.map(time).transpose()?,
            finished_at: r.finished_at.map(time).transpose()?,
            recalls: u32::try_from(r.recalls).unwrap_or(0),
            revision: u32::try_from(r.revision).unwrap_or(0),
        })
    }
}

struct TokenRow {
    id: String,
    office_id: String,
    role: String,
    token_hash: Vec<u8>,
    label: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<TokenRow> for StaffToken {
    type Error = StoreError;

    fn try_from(r: TokenRow) -> Result<Self, StoreError> {
        Ok(StaffToken {
            id: uuid(&r.id)?,
            office_id: parsed(&r.office_id, "office", |s| OfficeId::parse(s).ok())?,
            role: parsed(&r.role, "role", StaffRole::parse)?,
            token_hash: Digest::try_from(r.token_hash.as_slice())
                .map_err(|_| bad("token hash", "…"))?,
            label: r.label,
            created_at: time(r.created_at)?,
            revoked_at: r.revoked_at.map(time).transpose()?,
        })
    }
}

async fn event(tx: &mut sqlx::SqliteConnection, e: &QueueEvent) -> Result<(), sqlx::Error> {
    let (office, ticket, counter) = (
        e.office.as_str(),
        e.ticket.map(|t| t.to_string()),
        e.counter.as_ref().map(|c| c.as_str()),
    );
    let (at, detail) = (ms(e.at), e.detail.as_ref().map(|d| d.to_string()));
    sqlx::query!(
        "INSERT INTO queue_events (office_id, ticket_id, counter_id, kind, actor, at, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        office,
        ticket,
        counter,
        e.kind,
        e.actor,
        at,
        detail
    )
    .execute(tx)
    .await
    .map(|_| ())
}

#[async_trait]
impl QueueLedger for SqliteLedger {
    async fn insert_ticket(&self, t: &Ticket, actor: &str) -> Result<(), TicketWriteError> {
        let (id, office, line, date) = (
            t.id.to_string(),
            t.office_id.as_str(),
            t.line_id.as_str(),
            t.service_date.to_string(),
        );
        let (number, procedure, class, status) = (
            i64::from(t.number),
            t.procedure.as_str(),
            t.class.as_str(),
            t.status.as_str(),
        );
        let (reservation, counter) = (
            t.reservation_id.map(|r| r.to_string()),
            t.counter_id.as_ref().map(|c| c.as_str()),
        );
        let issued = ms(t.issued_at);
        let classify = |e: sqlx::Error| match &e {
            // The number's unique index is on the displayed number (tickets_number_key).
            sqlx::Error::Database(db) if db.message().contains("tickets.display") => {
                TicketWriteError::NumberTaken
            }
            sqlx::Error::Database(db) if db.message().contains("tickets.reservation_id") => {
                TicketWriteError::AlreadyCheckedIn
            }
            _ => TicketWriteError::Store(store_error(e)),
        };
        // One row: who issued it is the audit trail's "issued" entry. A row already there
        // is this ticket, written by a counter that called it first (`update_ticket`).
        sqlx::query!(
            "INSERT INTO tickets (id, office_id, line_id, service_date, number, display, procedure, class,
                                  reservation_id, status, counter_id, order_key, issued_at, issued_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (id) DO UPDATE SET issued_by = excluded.issued_by",
            id,
            office,
            line,
            date,
            number,
            t.display,
            procedure,
            class,
            reservation,
            status,
            counter,
            t.order_key,
            issued,
            actor
        )
        .execute(self.pool())
        .await
        .map(|_| ())
        .map_err(classify)
    }

    async fn ticket(&self, id: Uuid) -> Result<Option<Ticket>, StoreError> {
        let id = id.to_string();
        sqlx::query_as!(TicketRow, "SELECT * FROM tickets WHERE id = ?1", id)
            .fetch_optional(self.pool())
            .await
            .map_err(store_error)?
            .map(Ticket::try_from)
            .transpose()
    }

    async fn ticket_for_reservation(
        &self,
        reservation: Uuid,
    ) -> Result<Option<Ticket>, StoreError> {
        let reservation = reservation.to_string();
        sqlx::query_as!(
            TicketRow,
            "SELECT * FROM tickets WHERE reservation_id = ?1",
            reservation
        )
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?
        .map(Ticket::try_from)
        .transpose()
    }

    async fn update_ticket(&self, t: &Ticket, e: &QueueEvent) -> Result<(), StoreError> {
        let (id, status, counter, line) = (
            t.id.to_string(),
            t.status.as_str(),
            t.counter_id.as_ref().map(|c| c.as_str()),
            t.line_id.as_str(),
        );
        let (called, started, finished) = (
            t.called_at.map(ms),
            t.started_at.map(ms),
            t.finished_at.map(ms),
        );
        let (recalls, class, revision) = (
            i64::from(t.recalls),
            t.class.as_str(),
            i64::from(t.revision),
        );
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        let (date, number, procedure) = (
            t.service_date.to_string(),
            i64::from(t.number),
            t.procedure.as_str(),
        );
        let (office, reservation, issued) = (
            t.office_id.as_str(),
            t.reservation_id.map(|r| r.to_string()),
            ms(t.issued_at),
        );
        sqlx::query!(
            // An upsert: a counter may call a ticket before its issue's row is written
            // (the issue's insert then only adds who issued it). A newer state already
            // written stays (see QueueLedger::update_ticket).
            "INSERT INTO tickets (id, office_id, line_id, service_date, number, display, procedure,
                                  class, reservation_id, status, counter_id, order_key, issued_at,
                                  called_at, started_at, finished_at, recalls, revision, issued_by)
             VALUES (?1, ?12, ?4, ?13, ?14, ?15, ?16, ?10, ?17, ?2, ?3, ?5, ?18, ?6, ?7, ?8, ?9,
                     ?11, '')
             ON CONFLICT (id) DO UPDATE
             SET status = excluded.status, counter_id = excluded.counter_id,
                 line_id = excluded.line_id, order_key = excluded.order_key,
                 called_at = excluded.called_at, started_at = excluded.started_at,
                 finished_at = excluded.finished_at, recalls = excluded.recalls,
                 class = excluded.class, revision = excluded.revision
             WHERE tickets.revision < excluded.revision",
            id,
            status,
            counter,
            line,
            t.order_key,
            called,
            started,
            finished,
            recalls,
            class,
            revision,
            office,
            date,
            number,
            t.display,
            procedure,
            reservation,
            issued
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        event(&mut tx, e).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn tickets_of_day(
        &self,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<Ticket>, StoreError> {
        let (office, date) = (office.as_str(), date.to_string());
        sqlx::query_as!(
            TicketRow,
            "SELECT * FROM tickets WHERE office_id = ?1 AND service_date = ?2 ORDER BY issued_at",
            office,
            date
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?
        .into_iter()
        .map(Ticket::try_from)
        .collect()
    }

    async fn existing_tickets(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError> {
        let ids = crate::ids_json(ids);
        let rows = sqlx::query_scalar!(
            "SELECT id FROM tickets WHERE id IN (SELECT value FROM json_each(?1))",
            ids
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.iter().map(|id| uuid(id)).collect()
    }

    async fn service_times(
        &self,
        office: &OfficeId,
        since: DateTime<Utc>,
    ) -> Result<Vec<ServiceTime>, StoreError> {
        let (office, since) = (office.as_str(), ms(since));
        let rows = sqlx::query!(
            r#"SELECT procedure, started_at AS "started_at!: i64", finished_at AS "finished_at!: i64"
               FROM tickets
               WHERE office_id = ?1 AND status = 'done' AND finished_at >= ?2 AND started_at IS NOT NULL
               ORDER BY finished_at"#,
            office,
            since
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(ServiceTime {
                    procedure: parsed(&r.procedure, "procedure", |s| s.parse().ok())?,
                    minutes: minutes_between(r.started_at, r.finished_at),
                    finished_at: time(r.finished_at)?,
                })
            })
            .collect()
    }

    async fn set_counter_paused(&self, paused: bool, e: &QueueEvent) -> Result<(), StoreError> {
        let (office, counter) = (
            e.office.as_str(),
            e.counter.as_ref().map(|c| c.as_str()).unwrap_or_default(),
        );
        let (paused, at) = (i64::from(paused), ms(e.at));
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        sqlx::query!(
            "INSERT INTO counter_states (office_id, counter_id, paused, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (office_id, counter_id) DO UPDATE SET paused = ?3, updated_at = ?4",
            office,
            counter,
            paused,
            at
        )
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        event(&mut tx, e).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)
    }

    async fn paused_counters(&self, office: &OfficeId) -> Result<Vec<CounterId>, StoreError> {
        let office = office.as_str();
        let rows = sqlx::query_scalar!(
            "SELECT counter_id FROM counter_states WHERE office_id = ?1 AND paused <> 0",
            office
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
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
        // Bounds the tickets read by their (Tokyo) day of issue, which the index has.
        let (first_day, last_day) = (
            madoguchi_core::domain::time::tokyo_date(from).to_string(),
            madoguchi_core::domain::time::tokyo_date(to).to_string(),
        );
        let (office, from, to) = (office.as_str(), ms(from), ms(to));
        // Issued entries come from the tickets themselves; at the same instant a ticket's
        // issue comes before what happened to it.
        let rows = sqlx::query!(
            r#"SELECT at AS "at!: i64", kind AS "kind!: String", actor AS "actor!: String",
                      ticket_id AS "ticket_id?: String", counter_id AS "counter_id?: String" FROM (
                   SELECT issued_at AS at, 0 AS source, 0 AS seq, 'issued' AS kind,
                          issued_by AS actor, id AS ticket_id, NULL AS counter_id
                   FROM tickets WHERE office_id = ?1 AND service_date BETWEEN ?4 AND ?5
                                  AND issued_at >= ?2 AND issued_at < ?3
                   UNION ALL
                   SELECT at, 1, id, kind, actor, ticket_id, counter_id FROM queue_events
                   WHERE office_id = ?1 AND at >= ?2 AND at < ?3
               ) ORDER BY at, source, seq"#,
            office,
            from,
            to,
            first_day,
            last_day
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    at: time(r.at)?,
                    kind: r.kind,
                    actor: r.actor,
                    ticket_id: r.ticket_id.as_deref().map(uuid).transpose()?,
                    counter_id: r.counter_id,
                })
            })
            .collect()
    }

    async fn audit_records(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let (office, from, to) = (office.as_str(), ms(from), ms(to));
        let rows = sqlx::query!(
            r#"SELECT at AS "at!: i64", source AS "source!: String", kind AS "kind!: String",
                      actor AS "actor!: String", subject AS "subject?: String",
                      counter AS "counter?: String", detail AS "detail?: String" FROM (
                   SELECT at, 'queue' AS source, id AS seq, kind, actor, ticket_id AS subject,
                          counter_id AS counter, detail
                   FROM queue_events WHERE office_id = ?1 AND at >= ?2 AND at < ?3
                   UNION ALL
                   SELECT e.at, 'reservation', e.id, e.kind, e.actor, e.reservation_id, NULL,
                          e.detail
                   FROM reservation_events e JOIN reservations r ON r.id = e.reservation_id
                   WHERE e.actor LIKE 'staff:%' AND e.at >= ?2 AND e.at < ?3
                     AND r.office_id = ?1
                   UNION ALL
                   SELECT at, 'room', id, kind, actor, room_id, NULL, definition
                   FROM room_events WHERE office_id = ?1 AND at >= ?2 AND at < ?3
               ) ORDER BY at, source, seq"#,
            office,
            from,
            to
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditRecord {
                    at: time(r.at)?,
                    source: AuditRecord::source_named(&r.source),
                    kind: r.kind,
                    actor: r.actor,
                    subject: r.subject,
                    counter: r.counter,
                    detail: r.detail,
                })
            })
            .collect()
    }

    async fn audit_seals(
        &self,
        office: &OfficeId,
        day: NaiveDate,
    ) -> Result<Vec<AuditSeal>, StoreError> {
        let (office_id, day_text) = (office.as_str(), day.to_string());
        let rows = sqlx::query!(
            "SELECT seq, through, events, hash, sealed_at FROM audit_seals
             WHERE office_id = ?1 AND day = ?2 ORDER BY seq",
            office_id,
            day_text
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditSeal {
                    office: office.clone(),
                    day,
                    seq: u32::try_from(r.seq).unwrap_or(0),
                    through: time(r.through)?,
                    events: u32::try_from(r.events).unwrap_or(0),
                    hash: r.hash,
                    sealed_at: time(r.sealed_at)?,
                })
            })
            .collect()
    }

    async fn insert_audit_seal(&self, seal: &AuditSeal) -> Result<bool, StoreError> {
        let (office, day, seq) = (
            seal.office.as_str(),
            seal.day.to_string(),
            i64::from(seal.seq),
        );
        let (through, events, sealed) =
            (ms(seal.through), i64::from(seal.events), ms(seal.sealed_at));
        sqlx::query!(
            "INSERT INTO audit_seals (office_id, day, seq, through, events, hash, sealed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            office,
            day,
            seq,
            through,
            events,
            seal.hash,
            sealed
        )
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(store_error)
    }

    async fn insert_staff_token(&self, t: &StaffToken) -> Result<(), StoreError> {
        let (id, office, role, hash) = (
            t.id.to_string(),
            t.office_id.as_str(),
            t.role.as_str(),
            t.token_hash.to_vec(),
        );
        let created = ms(t.created_at);
        sqlx::query!(
            "INSERT INTO staff_tokens (id, office_id, role, token_hash, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            id,
            office,
            role,
            hash,
            t.label,
            created
        )
        .execute(self.pool())
        .await
        .map(|_| ())
        .map_err(store_error)
    }

    async fn staff_token_by_hash(&self, hash: &Digest) -> Result<Option<StaffToken>, StoreError> {
        let hash = hash.to_vec();
        sqlx::query_as!(
            TokenRow,
            "SELECT * FROM staff_tokens WHERE token_hash = ?1",
            hash
        )
        .fetch_optional(self.pool())
        .await
        .map_err(store_error)?
        .map(StaffToken::try_from)
        .transpose()
    }

    async fn revoke_staff_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let (id, now) = (id.to_string(), ms(now));
        sqlx::query!(
            "UPDATE staff_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            id,
            now
        )
        .execute(self.pool())
        .await
        .map(|r| r.rows_affected() == 1)
        .map_err(store_error)
    }

    async fn staff_tokens(&self) -> Result<Vec<StaffToken>, StoreError> {
        sqlx::query_as!(TokenRow, "SELECT * FROM staff_tokens ORDER BY created_at")
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?
            .into_iter()
            .map(StaffToken::try_from)
            .collect()
    }

    async fn insert_snapshots(&self, rows: &[CongestionSnapshot]) -> Result<(), StoreError> {
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        for r in rows {
            let (office, line, at) = (r.office_id.as_str(), r.line_id.as_str(), ms(r.taken_at));
            let (waiting, open) = (i64::from(r.waiting), i64::from(r.counters_open));
            let (p50, p90, level) = (
                r.wait_p50.map(i64::from),
                r.wait_p90.map(i64::from),
                r.level.as_str(),
            );
            sqlx::query!(
                "INSERT INTO congestion_snapshots
                     (office_id, line_id, taken_at, waiting, counters_open, wait_p50, wait_p90, level)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                office,
                line,
                at,
                waiting,
                open,
                p50,
                p90,
                level
            )
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    async fn snapshots(
        &self,
        office: Option<&OfficeId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CongestionSnapshot>, StoreError> {
        let (office, from, to) = (office.map(|o| o.as_str()), ms(from), ms(to));
        let rows = sqlx::query!(
            r#"SELECT office_id, line_id, taken_at, waiting, counters_open,
                      wait_p50 AS "wait_p50?: i64", wait_p90 AS "wait_p90?: i64", level
               FROM congestion_snapshots
               WHERE (?1 IS NULL OR office_id = ?1) AND taken_at >= ?2 AND taken_at < ?3
               ORDER BY taken_at, office_id, line_id"#,
            office,
            from,
            to
        )
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.into_iter()
            .map(|r| {
                Ok(CongestionSnapshot {
                    office_id: parsed(&r.office_id, "office", |s| OfficeId::parse(s).ok())?,
                    line_id: parsed(&r.line_id, "line", |s| LineId::parse(s).ok())?,
                    taken_at: time(r.taken_at)?,
                    waiting: count(r.waiting),
                    counters_open: count(r.counters_open),
                    wait_p50: r.wait_p50.map(count),
                    wait_p90: r.wait_p90.map(count),
                    level: parsed(&r.level, "level", Level::parse)?,
                })
            })
            .collect()
    }
}

/// A stored count (an SQLite integer) as the domain counts: never below 0.
fn count(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// Minutes between two stored times (Unix milliseconds).
fn minutes_between(from_ms: i64, to_ms: i64) -> f64 {
    #[allow(
        clippy::as_conversions,
        reason = "milliseconds of one service fit an f64"
    )]
    let ms = (to_ms - from_ms) as f64;
    ms / 60_000.0
}
