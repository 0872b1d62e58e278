//! The durable side of walk-in queues: tickets, the audit trail of counter actions, staff
//! tokens, counter pauses and congestion history.

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{CounterId, Level, LineId, TicketClass};
pub use crate::domain::queue_day::{
    ActOutcome, CallOutcome, CounterView, Issued, LineSummary, QueueSnapshot, QueueView,
    RECENT_CALLS, Ticket, TicketAction,
};
use crate::store::{Digest, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// One line of the audit trail.
#[derive(Debug, Clone)]
pub struct QueueEvent {
    pub office: OfficeId,
    pub ticket: Option<Uuid>,
    pub counter: Option<CounterId>,
    /// issued, called, recalled, started, finished, no_show, transferred, cancelled,
    /// paused, resumed.
    pub kind: &'static str,
    /// `kiosk`, `resident`, `system`, or `staff:<token id>`.
    pub actor: String,
    pub at: DateTime<Utc>,
    pub detail: Option<serde_json::Value>,
}

/// One event of an office's tamper-evident audit chain (`service::audit`): queue events
/// (counter actions, ticket changes, pauses, residents leaving the line), staff's changes
/// of bookings, and changes of waiting rooms. Read in a stable order: time, source, row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub at: DateTime<Utc>,
    /// `queue`, `reservation` or `room`.
    pub source: &'static str,
    pub kind: String,
    pub actor: String,
    /// The ticket, reservation or room the event is about.
    pub subject: Option<String>,
    pub counter: Option<String>,
    /// The event's detail (JSON, as the ledger returns it) or a room's definition.
    pub detail: Option<String>,
}

impl AuditRecord {
    /// The source name a ledger's query returned, as the record keeps it.
    pub fn source_named(raw: &str) -> &'static str {
        match raw {
            "queue" => "queue",
            "reservation" => "reservation",
            _ => "room",
        }
    }
}

/// A seal of an office's audit events of one Tokyo day with `at` in [the previous seal's
/// `through`, `through`): `hash` chains it to the previous seal (`service::audit`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSeal {
    pub office: OfficeId,
    pub day: NaiveDate,
    /// 1, 2, … per office and day.
    pub seq: u32,
    pub through: DateTime<Utc>,
    /// How many events it covers.
    pub events: u32,
    pub hash: Vec<u8>,
    pub sealed_at: DateTime<Utc>,
}

/// One line of the audit trail, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub ticket_id: Option<Uuid>,
    pub counter_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Operates the counters of one office.
    Staff,
    /// Everything staff can do, and administration of the office.
    Admin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Staff => "staff",
            StaffRole::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "staff" => StaffRole::Staff,
            "admin" => StaffRole::Admin,
            _ => return None,
        })
    }
}

/// A staff bearer token; only its hash is stored.
#[derive(Debug, Clone)]
pub struct StaffToken {
    pub id: Uuid,
    pub office_id: OfficeId,
    pub role: StaffRole,
    pub token_hash: Digest,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Congestion of one line at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct CongestionSnapshot {
    pub office_id: OfficeId,
    pub line_id: LineId,
    pub taken_at: DateTime<Utc>,
    pub waiting: u32,
    pub counters_open: u32,
    pub wait_p50: Option<u32>,
    pub wait_p90: Option<u32>,
    pub level: Level,
}

/// One finished service, for learning service times.
#[derive(Debug, Clone, Copy)]
pub struct ServiceTime {
    pub procedure: ProcedureId,
    pub minutes: f64,
    pub finished_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum TicketWriteError {
    /// The number was issued before (the hot state's counter was behind the ledger).
    #[error("the ticket number is taken")]
    NumberTaken,
    #[error("the reservation has already checked in")]
    AlreadyCheckedIn,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait QueueLedger: Send + Sync + 'static {
    /// Whether the ledger knows it cannot write now (an outage under way): callers refuse
    /// at once instead of taking a ticket number they could not keep.
    fn known_down(&self) -> bool {
        false
    }
    /// Inserts a new ticket and its `issued` event (on a row a call already wrote, only
    /// the event: see `update_ticket`).
    async fn insert_ticket(&self, ticket: &Ticket, actor: &str) -> Result<(), TicketWriteError>;
    async fn ticket(&self, id: Uuid) -> Result<Option<Ticket>, StoreError>;
    async fn ticket_for_reservation(&self, reservation: Uuid)
    -> Result<Option<Ticket>, StoreError>;
    /// Writes a ticket's new state (as the hot state decided it) with its event. A state
    /// older than the one the ledger holds (a lower revision: two changes of one ticket
    /// written out of order) leaves the row as it is; the event is recorded either way.
    /// The issue's row may not be written yet (a counter called the ticket the moment
    /// after its issue): the state is written all the same, and the issue's insert, when
    /// it comes, adds only who issued it.
    async fn update_ticket(&self, ticket: &Ticket, event: &QueueEvent) -> Result<(), StoreError>;
    async fn tickets_of_day(
        &self,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<Ticket>, StoreError>;
    /// Of `ids`, those the ledger holds (for the ticket reaper).
    async fn existing_tickets(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError>;
    /// Finished services of an office since `since`, oldest first.
    async fn service_times(
        &self,
        office: &OfficeId,
        since: DateTime<Utc>,
    ) -> Result<Vec<ServiceTime>, StoreError>;

    async fn set_counter_paused(&self, paused: bool, event: &QueueEvent) -> Result<(), StoreError>;
    async fn paused_counters(&self, office: &OfficeId) -> Result<Vec<CounterId>, StoreError>;
    /// The audit trail of an office from `from` (inclusive) to `to` (exclusive), in order.
    async fn queue_events(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The office's audit chain events with `from <= at < to`, in their stable order.
    async fn audit_records(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// The seals of an office's day, by sequence.
    async fn audit_seals(
        &self,
        office: &OfficeId,
        day: NaiveDate,
    ) -> Result<Vec<AuditSeal>, StoreError>;
    /// Stores a seal; false when its sequence number is taken (another instance sealed
    /// first: nothing is overwritten).
    async fn insert_audit_seal(&self, seal: &AuditSeal) -> Result<bool, StoreError>;

    async fn insert_staff_token(&self, token: &StaffToken) -> Result<(), StoreError>;
    async fn staff_token_by_hash(&self, hash: &Digest) -> Result<Option<StaffToken>, StoreError>;
    async fn revoke_staff_token(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;
    async fn staff_tokens(&self) -> Result<Vec<StaffToken>, StoreError>;

    async fn insert_snapshots(&self, rows: &[CongestionSnapshot]) -> Result<(), StoreError>;
    /// Snapshots from `from` (inclusive) to `to` (exclusive), of one office or all.
    async fn snapshots(
        &self,
        office: Option<&OfficeId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CongestionSnapshot>, StoreError>;
}

/// A ticket to put in a line: the hot state assigns its number and place.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub ticket_id: Uuid,
    pub office: OfficeId,
    pub line: LineId,
    pub prefix: String,
    pub date: NaiveDate,
    pub procedure: ProcedureId,
    pub class: TicketClass,
    pub reservation_id: Option<Uuid>,
    /// For a checked-in reservation: its slot start (ms), which orders reserved tickets.
    pub slot_start_ms: Option<i64>,
    pub now: DateTime<Utc>,
    /// After this the reaper drops the ticket if the ledger does not have it.
    pub deadline: DateTime<Utc>,
}

/// A counter asks for its next resident.
#[derive(Debug, Clone)]
pub struct CallRequest<'a> {
    pub office: &'a OfficeId,
    pub date: NaiveDate,
    pub counter: &'a CounterId,
    /// The lines this counter calls from, in its configured order (ties go to the first).
    pub lines: &'a [LineId],
    pub policy: &'a crate::domain::queue::QueuePolicy,
    pub now: DateTime<Utc>,
}

/// An action on a ticket.
#[derive(Debug, Clone)]
pub struct ActRequest<'a> {
    pub office: &'a OfficeId,
    pub date: NaiveDate,
    pub ticket: Uuid,
    pub action: &'a TicketAction,
    /// The acting counter (staff), or `None` for the resident.
    pub counter: Option<&'a CounterId>,
    /// Every line of the office (a transfer may move the ticket to any of them).
    pub all_lines: &'a [LineId],
    pub now: DateTime<Utc>,
}

/// A ticket issue not yet confirmed by the reaper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTicket {
    pub date: NaiveDate,
    pub ticket_id: Uuid,
}

#[async_trait]
pub trait QueueHotState: Send + Sync + 'static {
    /// Issues a ticket; also says how many waited in its line just before it joined, so
    /// the kiosk's answer needs no second read.
    async fn issue(&self, req: &IssueRequest) -> Result<Issued, crate::store::HotError>;
    /// Removes a ticket entirely (its ledger insert failed, or it never reached the ledger).
    async fn forget_ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<(), crate::store::HotError>;
    /// Gives a number back to its line when no later one was issued (its ticket could not
    /// be written): the line's last number goes from `number` to `number - 1`, so the next
    /// resident gets it and nobody sees a number skipped. True if it was given back.
    async fn give_back_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        number: u32,
    ) -> Result<bool, crate::store::HotError>;
    /// Makes the next number of a line at least `above + 1` (after the ledger refused one).
    async fn raise_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        above: u32,
    ) -> Result<(), crate::store::HotError>;
    async fn call_next(&self, req: &CallRequest<'_>)
    -> Result<CallOutcome, crate::store::HotError>;
    /// Applies an action; `req.counter` is the acting counter (staff) or `None` (resident).
    async fn act(&self, req: &ActRequest<'_>) -> Result<ActOutcome, crate::store::HotError>;
    async fn set_paused(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        counter: &CounterId,
        paused: bool,
    ) -> Result<(), crate::store::HotError>;
    async fn queue_view(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        lines: &[LineId],
    ) -> Result<QueueView, crate::store::HotError>;
    async fn ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<Option<Ticket>, crate::store::HotError>;
    /// One line in constant time; with `ticket`, also that ticket's rank in its class.
    async fn line_summary(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        ticket: Option<(Uuid, TicketClass)>,
    ) -> Result<LineSummary, crate::store::HotError>;
    async fn due_tickets(
        &self,
        office: &OfficeId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingTicket>, crate::store::HotError>;
    /// Forgets pending issues whose tickets the ledger holds, in one step: the reaper
    /// settles every ticket this way a deadline after it was issued.
    async fn forget_tickets(
        &self,
        office: &OfficeId,
        pending: &[PendingTicket],
    ) -> Result<(), crate::store::HotError>;
    /// Forgets a pending issue whose ticket never reached the ledger and removes the
    /// ticket (only the caller that removes the pending entry does it).
    async fn drop_unwritten_ticket(
        &self,
        office: &OfficeId,
        pending: &PendingTicket,
    ) -> Result<(), crate::store::HotError>;
    /// Merges the ledger's state of an office's day into the hot state (a reload: at
    /// start-up, when the day is missing, and periodically), then marks the day loaded.
    /// The snapshot may be older than the hot state, and other instances issue, call and
    /// reload meanwhile, so nothing is replaced wholesale:
    /// * a ticket's ledger copy replaces the live one only when the hot state lacks it or
    ///   is behind it ([`crate::domain::queue::ledger_copy_wins`]); the winner's place
    ///   (its queue while waiting, its counter while called or served) is re-asserted;
    /// * tickets the snapshot lacks stay (issued since it was read, or still pending);
    /// * numbers and the issue sequence only go up; counters the hot state lacks take
    ///   the ledger's pause, and a counter points only at a ticket called or served there;
    /// * recent calls come from the snapshot where the hot state has none; service times
    ///   are the snapshot's.
    ///
    /// Each step is atomic per ticket, so concurrent reloads and operations are safe.
    /// Returns the live tickets of the day that are neither in the snapshot nor pending:
    /// the caller asks the ledger about them and forgets those it does not hold.
    async fn load_queue(
        &self,
        snapshot: &QueueSnapshot,
    ) -> Result<Vec<Uuid>, crate::store::HotError>;
    async fn queue_loaded(
        &self,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<bool, crate::store::HotError>;
    /// Tells every instance that an office's queues changed (displays refresh).
    async fn publish(&self, office: &OfficeId) -> Result<(), crate::store::HotError>;
    /// Offices whose queues changed, as published by any instance.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<OfficeId>;
}
