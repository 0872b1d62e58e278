//! Walk-in queues and live congestion: issuing tickets, checking reservations in, counter
//! operations, positions and wait estimates, and the congestion figures published to
//! displays and the public. The rules are in `domain::queue` and docs/QUEUE.md.
//!
//! Like bookings, every change happens atomically in the hot state first (numbers,
//! places, who is at which counter) and is then written to the ledger before the answer;
//! a ticket is durable before its number is shown. The hot state of a day is rebuilt
//! from the ledger whenever it is missing.

use crate::domain::OfficeId;
use crate::domain::calendar::DayPlan;
use crate::domain::office::{Municipality, Office};
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    CheckInRefusal, CounterId, IntakeClosed, Level, LineId, QueueLoad, ServiceLine, ServiceStats,
    TicketClass, TicketStatus, WaitEstimate, check_in_class, estimate_wait, intake,
};
use crate::domain::text::Text;
use crate::domain::time::{Clock, HhMm, from_tokyo, tokyo_date, tokyo_naive};
use crate::service::booking::BookingService;
use crate::service::maintenance::{BATCH, ROUNDS};
use crate::service::staff::StaffPrincipal;
use crate::store::queue::{
    ActOutcome, ActRequest, CallOutcome, CallRequest, CongestionSnapshot, IssueRequest, Issued,
    LineSummary, QueueEvent, QueueHotState, QueueLedger, QueueSnapshot, QueueView, Ticket,
    TicketAction, TicketWriteError,
};
use crate::store::{HotError, HotState, Reservation, ReservationStatus, StoreError, new_row_id};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Mutex as AsyncMutex;
use uuid::Uuid;

/// How far back finished services teach the estimate at a rebuild.
const SERVICE_HISTORY_DAYS: i64 = 14;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("no such office")]
    OfficeNotFound,
    #[error("no such counter")]
    CounterNotFound,
    #[error("no such line")]
    LineNotFound,
    #[error("the office does not offer this procedure")]
    ProcedureNotOffered,
    #[error("this procedure is by reservation only here")]
    NotWalkIn,
    #[error("walk-in intake is closed: {0:?}")]
    IntakeClosed(IntakeClosed),
    #[error("no such ticket")]
    TicketNotFound,
    #[error("the counter still has a resident")]
    CounterBusy(Box<Ticket>),
    #[error("the counter is paused")]
    CounterPaused,
    #[error("the counter has no resident")]
    CounterIdle,
    #[error("the ticket is {0:?}; this is not possible now")]
    ActionNotAllowed(TicketStatus),
    #[error("check-in refused: {0:?}")]
    CheckIn(CheckInRefusal),
    #[error("check-in is for another day")]
    CheckInOtherDay(NaiveDate),
    #[error("the reservation is {0:?}")]
    ReservationState(ReservationStatus),
    #[error("staff of another office")]
    Forbidden,
    #[error("the reservation has already checked in")]
    AlreadyCheckedIn,
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Booking(#[from] crate::service::BookingError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for QueueError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => QueueError::Unavailable(m),
            StoreError::Unexpected(e) => QueueError::Unexpected(e),
        }
    }
}

impl From<HotError> for QueueError {
    fn from(e: HotError) -> Self {
        match e {
            HotError::Unavailable(m) => QueueError::Unavailable(m),
            HotError::NeedsRebuild(o) => {
                QueueError::Unavailable(format!("queues of {o} are being rebuilt"))
            }
            HotError::Unexpected(e) => QueueError::Unexpected(e),
        }
    }
}

/// A ticket with where it stands.
#[derive(Debug, Clone)]
pub struct TicketInfo {
    pub ticket: Ticket,
    /// 1-based place among those waiting in its line (waiting tickets only).
    pub position: Option<u32>,
    pub ahead: Option<u32>,
    pub estimate: Option<WaitEstimate>,
    /// True when this answers a repeated check-in.
    pub existing: bool,
}

/// Why walk-in intake is closed, for people.
pub fn intake_message(closed: &IntakeClosed) -> Text {
    match closed {
        IntakeClosed::OfficeClosed(c) => Text::owned(
            format!("本日は閉庁日です（{}）。", c.name.ja),
            format!("Closed today ({}).", c.name.en),
        ),
        IntakeClosed::ReservationOnlyDay => Text::new(
            "本日は予約の方のみの受付です。",
            "Today is for reservations only.",
        ),
        IntakeClosed::NotWalkIn => Text::new(
            "この手続きは予約制です。",
            "This procedure is by reservation only.",
        ),
        IntakeClosed::NotYetOpen { opens_at } => Text::owned(
            format!("受付は{}からです。", HhMm(*opens_at)),
            format!("Tickets are issued from {}.", HhMm(*opens_at)),
        ),
        IntakeClosed::Ended { last_intake } => Text::owned(
            format!(
                "本日の受付は終了しました（最終受付 {}）。",
                HhMm(*last_intake)
            ),
            format!(
                "Intake has ended for today (last intake {}).",
                HhMm(*last_intake)
            ),
        ),
        IntakeClosed::Full { closes_at } => Text::owned(
            format!(
                "本日の受付は終了しました。{}までにお手続きできる人数に達しました。",
                HhMm(*closes_at)
            ),
            format!(
                "Intake has ended for today: the queue is as long as can be served before {}.",
                HhMm(*closes_at)
            ),
        ),
    }
}

pub fn intake_reason(closed: &IntakeClosed) -> &'static str {
    match closed {
        IntakeClosed::OfficeClosed(_) => "office_closed",
        IntakeClosed::ReservationOnlyDay => "reservation_only",
        IntakeClosed::NotWalkIn => "not_walk_in",
        IntakeClosed::NotYetOpen { .. } => "not_yet_open",
        IntakeClosed::Ended { .. } => "ended",
        IntakeClosed::Full { .. } => "full",
    }
}

/// Congestion of one line.
#[derive(Debug, Clone)]
pub struct LineCongestion {
    pub line: ServiceLine,
    pub waiting: u32,
    pub now_calling: Vec<String>,
    pub counters_open: u32,
    pub service_minutes: Vec<(ProcedureId, f64)>,
    pub estimate: Option<WaitEstimate>,
    pub level: Level,
    pub intake: Result<(), IntakeClosed>,
}

#[derive(Debug, Clone)]
pub struct CounterState {
    pub id: CounterId,
    pub name: Text,
    pub lines: Vec<LineId>,
    pub paused: bool,
    pub current: Option<Ticket>,
}

/// Congestion of one office at one moment.
#[derive(Debug, Clone)]
pub struct OfficeCongestion {
    pub office: OfficeId,
    pub name: Text,
    pub lines: Vec<LineCongestion>,
    pub counters: Vec<CounterState>,
    pub recent: Vec<Ticket>,
    pub level: Level,
    pub updated_at: DateTime<Utc>,
}

/// Typical congestion of one weekday hour.
#[derive(Debug, Clone, PartialEq)]
pub struct TypicalCell {
    pub line: LineId,
    /// 0 = Monday.
    pub weekday: u32,
    pub hour: u32,
    pub samples: u32,
    pub avg_waiting: f64,
    pub avg_wait_p50: Option<f64>,
    pub level: Level,
}

/// Congestion figures with what they are valid for.
struct CachedCongestion {
    generation: u64,
    second: i64,
    figures: Arc<OfficeCongestion>,
}

/// How many counters serve a line, how many of them are open, how many have a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct CounterLoad {
    serving: u32,
    open: u32,
    busy: u32,
}

/// What estimates need besides the people waiting: the counters serving each line and the
/// learnt service times. They change a few times a minute (staff actions), while tickets
/// arrive by the thousand, so tickets read them from a cache (`office_state`).
#[derive(Debug, Clone, Default)]
struct OfficeState {
    stats: Vec<(ProcedureId, ServiceStats)>,
    loads: Vec<(LineId, CounterLoad)>,
}

impl OfficeState {
    fn of(office: &Office, view: &QueueView) -> Self {
        // Both hot states hand the counters sorted by id; an office may have a hundred.
        let state = |c: &CounterId| {
            view.counters
                .binary_search_by(|v| v.id.cmp(c))
                .ok()
                .and_then(|i| view.counters.get(i))
                .map_or((false, false), |v| (v.paused, v.current.is_some()))
        };
        let loads = office
            .lines
            .iter()
            .map(|line| {
                let mut load = CounterLoad::default();
                for c in office.counters_of(&line.id) {
                    let (paused, busy) = state(c);
                    load.serving += 1;
                    load.open += u32::from(!paused);
                    load.busy += u32::from(busy);
                }
                (line.id.clone(), load)
            })
            .collect();
        OfficeState {
            stats: view.stats.clone(),
            loads,
        }
    }

    fn load(&self, line: &LineId) -> CounterLoad {
        self.loads
            .iter()
            .find(|(l, _)| l == line)
            .map(|(_, load)| *load)
            .unwrap_or_default()
    }
}

/// A line's counts as of a counter generation and a clock second.
type CachedCounts = (u64, i64, LineSummary);

struct CachedState {
    generation: u64,
    second: i64,
    date: NaiveDate,
    state: Arc<OfficeState>,
}

const NOTICE_IDLE: u8 = 0;
const NOTICE_SENDING: u8 = 1;
const NOTICE_DIRTY: u8 = 2;

/// Typical congestion looks this many weeks back.
pub const TYPICAL_WEEKS: i64 = 8;

pub struct QueueService {
    municipality: Arc<Municipality>,
    ledger: Arc<dyn QueueLedger>,
    hot: Arc<dyn QueueHotState>,
    seats: Arc<dyn HotState>,
    booking: Arc<BookingService>,
    clock: Arc<dyn Clock>,
    deadline: Duration,
    rebuild_locks: HashMap<OfficeId, AsyncMutex<()>>,
    /// Days whose hot state was lost and reloaded, and until when the maintenance loop
    /// merges the ledger again (a ticket deadline after the reload).
    follow_ups: Mutex<HashMap<(OfficeId, NaiveDate), DateTime<Utc>>>,
    /// Where each recently seen ticket lives, so a status poll needs no ledger read.
    locations: Mutex<HashMap<Uuid, (OfficeId, NaiveDate)>>,
    /// Bumped on every change of an office's queues (here or, via events, elsewhere).
    generations: HashMap<OfficeId, AtomicU64>,
    /// Change notices by office: idle, one in flight, or one in flight and changed since.
    notices: HashMap<OfficeId, Arc<AtomicU8>>,
    /// Congestion figures by office, valid for one generation and one clock second.
    congestion_cache: Mutex<HashMap<OfficeId, CachedCongestion>>,
    /// Bumped when an office's counters or service times change (a staff action here,
    /// or any change seen from elsewhere); tickets alone do not bump it.
    counter_generations: HashMap<OfficeId, AtomicU64>,
    /// Counter loads and service times by office, for one counter generation and one
    /// clock second (so a change missed from elsewhere lasts a second at most).
    state_cache: Mutex<HashMap<OfficeId, CachedState>>,
    /// The people waiting per line for the kiosk's intake forecast: kept current by the
    /// tickets issued here, read again after a call, a change elsewhere, or a second.
    counts_cache: Mutex<HashMap<(OfficeId, LineId), CachedCounts>>,
    /// Seats booked for the slot under way, by office and line, for one clock second.
    reserved_cache: Mutex<HashMap<(OfficeId, LineId), (i64, u32)>>,
}

impl QueueService {
    pub fn new(
        municipality: Arc<Municipality>,
        ledger: Arc<dyn QueueLedger>,
        hot: Arc<dyn QueueHotState>,
        seats: Arc<dyn HotState>,
        booking: Arc<BookingService>,
        clock: Arc<dyn Clock>,
        deadline: Duration,
    ) -> Self {
        let generations = municipality
            .offices
            .iter()
            .map(|o| (o.id.clone(), AtomicU64::new(0)))
            .collect();
        let notices = municipality
            .offices
            .iter()
            .map(|o| (o.id.clone(), Arc::new(AtomicU8::new(NOTICE_IDLE))))
            .collect();
        let counter_generations = municipality
            .offices
            .iter()
            .map(|o| (o.id.clone(), AtomicU64::new(0)))
            .collect();
        let rebuild_locks = municipality
            .offices
            .iter()
            .map(|o| (o.id.clone(), AsyncMutex::new(())))
            .collect();
        Self {
            municipality,
            ledger,
            hot,
            seats,
            booking,
            clock,
            deadline,
            generations,
            notices,
            rebuild_locks,
            follow_ups: Mutex::new(HashMap::new()),
            locations: Mutex::new(HashMap::new()),
            congestion_cache: Mutex::new(HashMap::new()),
            reserved_cache: Mutex::new(HashMap::new()),
            counter_generations,
            state_cache: Mutex::new(HashMap::new()),
            counts_cache: Mutex::new(HashMap::new()),
        }
    }

    /// Marks an office's cached figures stale (its queues changed).
    pub fn invalidate(&self, office: &OfficeId) {
        if let Some(g) = self.generations.get(office) {
            g.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Marks an office's counter states stale (a staff action, a rebuild, or a change
    /// seen from another instance).
    fn counters_changed(&self, office: &OfficeId) {
        if let Some(g) = self.counter_generations.get(office) {
            g.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter_generation(&self, office: &OfficeId) -> u64 {
        self.counter_generations
            .get(office)
            .map_or(0, |g| g.load(Ordering::SeqCst))
    }

    /// A change seen on the events channel (possibly from another instance): every
    /// cached figure of the office is stale.
    pub fn changed_elsewhere(&self, office: &OfficeId) {
        self.invalidate(office);
        self.counters_changed(office);
    }

    fn generation(&self, office: &OfficeId) -> u64 {
        self.generations
            .get(office)
            .map(|g| g.load(Ordering::SeqCst))
            .unwrap_or(0)
    }

    pub fn municipality(&self) -> &Municipality {
        &self.municipality
    }

    /// A ticket's public token (its status URL; see `Keys::ticket_token`).
    pub fn ticket_token(&self, id: Uuid) -> String {
        self.booking.keys().ticket_token(id)
    }

    /// The ticket a public token names; `Ok(None)` for anything else (answered as an
    /// unknown ticket, and counted as a failed guess of `client`); `Err(wait)` while the
    /// client has spent its budget of failures (`service::guesses`).
    pub fn ticket_of_token(
        &self,
        token: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<Option<Uuid>, std::time::Duration> {
        let guesses = self.booking.guesses();
        guesses.check(client, None)?;
        let id = self.booking.keys().ticket_of(token);
        if id.is_none() {
            guesses.failed(client, None);
        }
        Ok(id)
    }

    pub fn hot(&self) -> &Arc<dyn QueueHotState> {
        &self.hot
    }

    pub fn ledger(&self) -> &Arc<dyn QueueLedger> {
        &self.ledger
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn office(&self, id: &OfficeId) -> Result<&Office, QueueError> {
        self.municipality
            .office(id.as_str())
            .ok_or(QueueError::OfficeNotFound)
    }

    fn today(&self) -> NaiveDate {
        tokyo_date(self.clock.now())
    }

    fn remember(&self, t: &Ticket) {
        let mut map = self.locations.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 200_000 {
            map.clear(); // bounded: a lost entry costs one ledger read
        }
        map.insert(t.id, (t.office_id.clone(), t.service_date));
    }

    /// Runs a hot-state operation; rebuilds the day's queues once if they are missing.
    async fn hot_op<T, F, Fut>(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        op: F,
    ) -> Result<T, QueueError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, HotError>>,
    {
        match op().await {
            Err(HotError::NeedsRebuild(_)) => {
                tracing::warn!(office = %office, "queue state missing; rebuilding from the ledger");
                self.rebuild_queue(office, date, false).await?;
                Ok(op().await?)
            }
            other => Ok(other?),
        }
    }

    /// Tells every instance that the office's queues changed. Notices are coalesced: at
    /// the kiosk rush one publish per ticket cost a Redis round trip each, yet a listener
    /// only needs to learn "changed since you last read". While one notice is in flight,
    /// later changes set a flag and the sender publishes once more when it is done, so
    /// the last change is always followed by a notice. The sender runs in its own task,
    /// so no request waits for it.
    fn publish(&self, office: &OfficeId) {
        self.invalidate(office);
        let Some(state) = self.notices.get(office) else {
            return;
        };
        let was = state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                Some(if s == NOTICE_IDLE {
                    NOTICE_SENDING
                } else {
                    NOTICE_DIRTY
                })
            })
            .unwrap_or(NOTICE_DIRTY);
        if was != NOTICE_IDLE {
            return;
        }
        let state = state.clone();
        let hot = self.hot.clone();
        let office = office.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = hot.publish(&office).await {
                    tracing::warn!(error = %e, office = %office, "could not publish a queue change");
                }
                if state
                    .compare_exchange(
                        NOTICE_SENDING,
                        NOTICE_IDLE,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
                {
                    break;
                }
                state.store(NOTICE_SENDING, Ordering::Release);
            }
        });
    }

    // ------------------------------------------------------------ tickets

    /// Issues a walk-in ticket (a kiosk, or staff at reception for a priority class).
    pub async fn issue_walk_in(
        &self,
        office_id: &OfficeId,
        procedure: ProcedureId,
        priority: bool,
    ) -> Result<TicketInfo, QueueError> {
        let office = self.office(office_id)?;
        let op = office
            .procedures
            .get(&procedure)
            .ok_or(QueueError::ProcedureNotOffered)?;
        let line = office
            .line_of(procedure)
            .ok_or(QueueError::ProcedureNotOffered)?;
        let now = self.clock.now();
        let date = tokyo_date(now);
        let plan = self.municipality.day_plan(office, date);
        if !op.walk_in {
            return Err(QueueError::IntakeClosed(IntakeClosed::NotWalkIn));
        }
        let state = self.office_state(office, date).await?;
        let counts = self.line_counts(office, line, date).await?;
        let reserved_now = self.reserved_now(office, line).await?;
        let estimate = self.line_estimate(line, &state, counts.waiting(), reserved_now);
        let mean = Self::stats_in(&state.stats, procedure).mean_minutes;
        let forecast = estimate.map(|e| f64::from(e.p50_minutes) + mean);
        intake(&plan, tokyo_naive(now).time(), &office.queue, forecast)
            .map_err(QueueError::IntakeClosed)?;
        let class = if priority {
            TicketClass::Priority
        } else {
            TicketClass::Normal
        };
        let Issued { ticket, before } = self
            .issue(office, line, procedure, class, None, None, "kiosk")
            .await?;
        // The hot state counted the line as the ticket joined: a walk-in enters behind
        // everyone of its class and the classes called before it (the status page reads
        // the live rank later).
        let ahead = match class {
            TicketClass::Priority => before.reserved + before.priority,
            _ => before.waiting(),
        };
        let estimate = self.line_estimate(line, &state, ahead, reserved_now);
        Ok(TicketInfo {
            ticket,
            position: Some(ahead + 1),
            ahead: Some(ahead),
            estimate,
            existing: false,
        })
    }

    /// Checks a reservation in on its day: it enters its line as reserved (on time) or
    /// normal (late). A second check-in answers with the same ticket.
    pub async fn check_in(
        &self,
        reservation: &Reservation,
        actor: &str,
    ) -> Result<TicketInfo, QueueError> {
        if reservation.status != ReservationStatus::Confirmed {
            return Err(QueueError::ReservationState(reservation.status));
        }
        if let Some(existing) = self.ledger.ticket_for_reservation(reservation.id).await? {
            return self.existing(existing).await;
        }
        let office = self.office(&reservation.office_id)?;
        let now = self.clock.now();
        let day = tokyo_date(reservation.slot_start);
        if day != tokyo_date(now) {
            return Err(QueueError::CheckInOtherDay(day));
        }
        let class = check_in_class(
            reservation.slot_start,
            reservation.slot_end,
            now,
            &office.queue,
        )
        .map_err(QueueError::CheckIn)?;
        let line = office
            .line_of(reservation.procedure)
            .ok_or(QueueError::ProcedureNotOffered)?;
        let slot =
            (class == TicketClass::Reserved).then(|| reservation.slot_start.timestamp_millis());
        match self
            .issue(
                office,
                line,
                reservation.procedure,
                class,
                Some(reservation.id),
                slot,
                actor,
            )
            .await
        {
            Ok(issued) => self.info(issued.ticket, false).await,
            Err(QueueError::AlreadyCheckedIn) => {
                match self.ledger.ticket_for_reservation(reservation.id).await? {
                    Some(existing) => self.existing(existing).await,
                    None => Err(QueueError::Unavailable("check-in raced; retry".into())),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn existing(&self, ticket: Ticket) -> Result<TicketInfo, QueueError> {
        let live = self
            .live(&ticket.office_id, ticket.service_date, ticket.id)
            .await?
            .unwrap_or(ticket);
        let mut info = self.info(live, false).await?;
        info.existing = true;
        Ok(info)
    }

    /// Issues in the hot state, then makes it durable; repairs the numbering when the
    /// ledger already has a number (the hot state was behind after a rebuild).
    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of a ticket, each needed once"
    )]
    async fn issue(
        &self,
        office: &Office,
        line: &ServiceLine,
        procedure: ProcedureId,
        class: TicketClass,
        reservation_id: Option<Uuid>,
        slot_start_ms: Option<i64>,
        actor: &str,
    ) -> Result<Issued, QueueError> {
        let now = self.clock.now();
        let date = tokyo_date(now);
        // A number taken now could not be kept: refuse before taking one.
        if self.ledger.known_down() {
            return Err(QueueError::Unavailable("the ledger is unreachable".into()));
        }
        // Read before issuing: a call meanwhile makes the counts below stale, not current.
        let generation = self.counter_generation(&office.id);
        for _ in 0..3 {
            let req = IssueRequest {
                ticket_id: new_row_id(),
                office: office.id.clone(),
                line: line.id.clone(),
                prefix: line.prefix.clone(),
                date,
                procedure,
                class,
                reservation_id,
                slot_start_ms,
                now,
                deadline: now + self.deadline,
            };
            let issued = self
                .hot_op(&office.id, date, || self.hot.issue(&req))
                .await?;
            let ticket = &issued.ticket;
            match self.ledger.insert_ticket(ticket, actor).await {
                Ok(()) => {
                    metrics::counter!("madoguchi_tickets_total", "class" => class.as_str())
                        .increment(1);
                    self.remember(ticket);
                    self.counted(office, line, (generation, now), &issued);
                    self.publish(&office.id);
                    return Ok(issued);
                }
                Err(TicketWriteError::NumberTaken) => {
                    metrics::counter!("madoguchi_hot_state_corrections_total").increment(1);
                    tracing::warn!(office = %office.id, line = %line.id, "ledger refused a ticket number; raising the counter");
                    self.forget_quietly(ticket).await;
                    let max = self
                        .ledger
                        .tickets_of_day(&office.id, date)
                        .await?
                        .iter()
                        .filter(|t| crate::domain::queue::issued_by(&t.display, &line.prefix))
                        .map(|t| t.number)
                        .max()
                        .unwrap_or(0);
                    self.hot_op(&office.id, date, || {
                        self.hot.raise_number(&office.id, date, &line.id, max)
                    })
                    .await?;
                }
                Err(TicketWriteError::AlreadyCheckedIn) => {
                    self.forget_quietly(ticket).await;
                    return Err(QueueError::AlreadyCheckedIn);
                }
                Err(TicketWriteError::Store(e)) => {
                    self.forget_quietly(ticket).await;
                    // Nobody should see a number skipped because a write failed.
                    self.give_back_quietly(ticket).await;
                    return Err(e.into());
                }
            }
        }
        Err(QueueError::Unexpected(anyhow::anyhow!(
            "ticket numbering kept colliding at office {}",
            office.id
        )))
    }

    async fn give_back_quietly(&self, t: &Ticket) {
        match self
            .hot
            .give_back_number(&t.office_id, t.service_date, &t.line_id, t.number)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                metrics::counter!("madoguchi_ticket_numbers_skipped_total").increment(1);
                tracing::info!(office = %t.office_id, line = %t.line_id, "a ticket number was skipped: its ticket could not be written and a later one was issued");
            }
            Err(e) => {
                metrics::counter!("madoguchi_ticket_numbers_skipped_total").increment(1);
                tracing::warn!(error = %e, "could not give a ticket number back");
            }
        }
    }

    async fn forget_quietly(&self, t: &Ticket) {
        if let Err(e) = self
            .hot
            .forget_ticket(&t.office_id, t.service_date, t.id)
            .await
        {
            tracing::warn!(error = %e, "could not drop a ticket from the hot state; the reaper will");
        }
    }

    /// The live state of a ticket, from the hot state of its day.
    async fn live(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<Option<Ticket>, QueueError> {
        if date != self.today() {
            return Ok(None);
        }
        self.hot_op(office, date, || self.hot.ticket(office, date, id))
            .await
    }

    /// A ticket with its place and estimate.
    pub async fn ticket(&self, id: Uuid) -> Result<TicketInfo, QueueError> {
        let known = self
            .locations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned();
        let ticket = match known {
            Some((office, date)) => self.live(&office, date, id).await?,
            None => None,
        };
        let ticket = match ticket {
            Some(t) => t,
            None => {
                let stored = self
                    .ledger
                    .ticket(id)
                    .await?
                    .ok_or(QueueError::TicketNotFound)?;
                self.remember(&stored);
                self.live(&stored.office_id, stored.service_date, id)
                    .await?
                    .unwrap_or(stored)
            }
        };
        self.info(ticket, false).await
    }

    async fn info(&self, ticket: Ticket, existing: bool) -> Result<TicketInfo, QueueError> {
        if ticket.status != TicketStatus::Waiting || ticket.service_date != self.today() {
            return Ok(TicketInfo {
                ticket,
                position: None,
                ahead: None,
                estimate: None,
                existing,
            });
        }
        let office = self.office(&ticket.office_id)?;
        let line = office
            .line(ticket.line_id.as_str())
            .ok_or(QueueError::LineNotFound)?;
        let date = ticket.service_date;
        let state = self.office_state(office, date).await?;
        let summary = self
            .summary(office, line, date, Some((ticket.id, ticket.class)))
            .await?;
        let index = summary.ahead_of(ticket.class).unwrap_or(summary.waiting());
        let reserved_now = self.reserved_now(office, line).await?;
        let estimate = self.line_estimate(line, &state, index, reserved_now);
        Ok(TicketInfo {
            ticket,
            position: Some(index + 1),
            ahead: Some(index),
            estimate,
            existing,
        })
    }

    /// The resident leaves the line (the unguessable ticket id is their proof).
    pub async fn cancel_ticket(&self, id: Uuid) -> Result<TicketInfo, QueueError> {
        let info = self.ticket(id).await?;
        let t = info.ticket;
        if t.status == TicketStatus::Cancelled {
            return Ok(TicketInfo {
                ticket: t,
                position: None,
                ahead: None,
                estimate: None,
                existing: true,
            });
        }
        let office = self.office(&t.office_id)?;
        let done = self
            .act_on(office, t.id, TicketAction::Cancel, None, "resident")
            .await?;
        self.info(done, false).await
    }

    // ------------------------------------------------------------ counters

    fn counter<'a>(
        &self,
        office: &'a Office,
        id: &str,
    ) -> Result<&'a crate::domain::queue::Counter, QueueError> {
        office.counter(id).ok_or(QueueError::CounterNotFound)
    }

    fn authorise(&self, staff: &StaffPrincipal, office: &OfficeId) -> Result<(), QueueError> {
        if staff.may_act_for(office) {
            Ok(())
        } else {
            Err(QueueError::Forbidden)
        }
    }

    /// Calls the next resident to a counter; `None` when nobody waits.
    pub async fn call_next(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        counter_id: &str,
    ) -> Result<Option<Ticket>, QueueError> {
        self.authorise(staff, office_id)?;
        let office = self.office(office_id)?;
        let counter = self.counter(office, counter_id)?;
        let now = self.clock.now();
        let date = tokyo_date(now);
        let req = CallRequest {
            office: office_id,
            date,
            counter: &counter.id,
            lines: &counter.lines,
            policy: &office.queue,
            now,
        };
        match self
            .hot_op(office_id, date, || self.hot.call_next(&req))
            .await?
        {
            CallOutcome::Called(t) => {
                self.record(&t, "called", &staff.actor(), None).await?;
                metrics::counter!("madoguchi_calls_total").increment(1);
                Ok(Some(t))
            }
            CallOutcome::Empty => Ok(None),
            CallOutcome::Busy(t) => Err(QueueError::CounterBusy(Box::new(t))),
            CallOutcome::Paused => Err(QueueError::CounterPaused),
        }
    }

    /// Applies a staff action to the ticket at the counter.
    pub async fn counter_action(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        counter_id: &str,
        action: TicketAction,
    ) -> Result<Ticket, QueueError> {
        self.authorise(staff, office_id)?;
        let office = self.office(office_id)?;
        let counter = self.counter(office, counter_id)?;
        if let TicketAction::Transfer { to, .. } = &action
            && office.line(to.as_str()).is_none()
        {
            return Err(QueueError::LineNotFound);
        }
        let view = self.view(office).await?;
        let current = view
            .counters
            .iter()
            .find(|c| c.id == counter.id)
            .and_then(|c| c.current.clone())
            .ok_or(QueueError::CounterIdle)?;
        self.act_on_at(
            office,
            current.id,
            action,
            Some(&counter.id),
            &staff.actor(),
        )
        .await
    }

    async fn act_on(
        &self,
        office: &Office,
        id: Uuid,
        action: TicketAction,
        counter: Option<&CounterId>,
        actor: &str,
    ) -> Result<Ticket, QueueError> {
        self.act_on_at(office, id, action, counter, actor).await
    }

    async fn act_on_at(
        &self,
        office: &Office,
        id: Uuid,
        action: TicketAction,
        counter: Option<&CounterId>,
        actor: &str,
    ) -> Result<Ticket, QueueError> {
        let now = self.clock.now();
        let date = tokyo_date(now);
        let all_lines: Vec<LineId> = office.lines.iter().map(|l| l.id.clone()).collect();
        let req = ActRequest {
            office: &office.id,
            date,
            ticket: id,
            action: &action,
            counter,
            all_lines: &all_lines,
            now,
        };
        match self.hot_op(&office.id, date, || self.hot.act(&req)).await? {
            ActOutcome::Done(t) => {
                let detail = match &action {
                    TicketAction::Transfer { to, keep_place } => {
                        Some(serde_json::json!({ "to": to.as_str(), "keep_place": keep_place }))
                    }
                    _ => None,
                };
                self.record(&t, action.kind(), actor, detail).await?;
                Ok(t)
            }
            ActOutcome::NotAllowed(t) => Err(QueueError::ActionNotAllowed(t.status)),
            ActOutcome::NotFound => Err(QueueError::TicketNotFound),
        }
    }

    /// Writes a ticket's new state and its audit event, then tells displays.
    async fn record(
        &self,
        t: &Ticket,
        kind: &'static str,
        actor: &str,
        detail: Option<serde_json::Value>,
    ) -> Result<(), QueueError> {
        let event = QueueEvent {
            office: t.office_id.clone(),
            ticket: Some(t.id),
            counter: t.counter_id.clone(),
            kind,
            actor: actor.to_owned(),
            at: self.clock.now(),
            detail,
        };
        self.ledger.update_ticket(t, &event).await?;
        self.counters_changed(&t.office_id);
        self.publish(&t.office_id);
        Ok(())
    }

    pub async fn set_paused(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        counter_id: &str,
        paused: bool,
    ) -> Result<(), QueueError> {
        self.authorise(staff, office_id)?;
        let office = self.office(office_id)?;
        let counter = self.counter(office, counter_id)?;
        let date = self.today();
        self.hot_op(office_id, date, || {
            self.hot.set_paused(office_id, date, &counter.id, paused)
        })
        .await?;
        let event = QueueEvent {
            office: office_id.clone(),
            ticket: None,
            counter: Some(counter.id.clone()),
            kind: if paused { "paused" } else { "resumed" },
            actor: staff.actor(),
            at: self.clock.now(),
            detail: None,
        };
        self.ledger.set_counter_paused(paused, &event).await?;
        self.counters_changed(office_id);
        self.publish(office_id);
        Ok(())
    }

    // ------------------------------------------------------------ congestion

    async fn view(&self, office: &Office) -> Result<QueueView, QueueError> {
        let date = self.today();
        let lines: Vec<LineId> = office.lines.iter().map(|l| l.id.clone()).collect();
        self.hot_op(&office.id, date, || {
            self.hot.queue_view(&office.id, date, &lines)
        })
        .await
    }

    /// The office's counter loads and service times (see `OfficeState`), read from the
    /// hot state at most once per counter generation and clock second.
    async fn office_state(
        &self,
        office: &Office,
        date: NaiveDate,
    ) -> Result<Arc<OfficeState>, QueueError> {
        let generation = self.counter_generation(&office.id);
        let second = self.clock.now().timestamp();
        if let Some(c) = self
            .state_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&office.id)
            && c.generation == generation
            && c.second == second
            && c.date == date
        {
            return Ok(c.state.clone());
        }
        let view = self.view(office).await?;
        Ok(self.keep_state(office, date, generation, second, &view))
    }

    /// How many wait in a line, for the intake forecast (see `counts_cache`).
    async fn line_counts(
        &self,
        office: &Office,
        line: &ServiceLine,
        date: NaiveDate,
    ) -> Result<LineSummary, QueueError> {
        let generation = self.counter_generation(&office.id);
        let second = self.clock.now().timestamp();
        let key = (office.id.clone(), line.id.clone());
        if let Some((g, s, counts)) = self
            .counts_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && *g == generation
            && *s == second
        {
            return Ok(counts.clone());
        }
        let counts = self.summary(office, line, date, None).await?;
        self.counts_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (generation, second, counts.clone()));
        Ok(counts)
    }

    /// A ticket joined `line`: the counts it saw, plus itself, are the line's as of the
    /// counter generation and time read before it was issued.
    fn counted(
        &self,
        office: &Office,
        line: &ServiceLine,
        (generation, at): (u64, DateTime<Utc>),
        issued: &Issued,
    ) {
        let mut counts = issued.before.clone();
        match issued.ticket.class {
            TicketClass::Reserved => counts.reserved += 1,
            TicketClass::Priority => counts.priority += 1,
            TicketClass::Normal => counts.normal += 1,
        }
        self.counts_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (office.id.clone(), line.id.clone()),
                (generation, at.timestamp(), counts),
            );
    }

    /// Caches the state of a view read at `generation` and `second`.
    fn keep_state(
        &self,
        office: &Office,
        date: NaiveDate,
        generation: u64,
        second: i64,
        view: &QueueView,
    ) -> Arc<OfficeState> {
        let state = Arc::new(OfficeState::of(office, view));
        self.state_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                office.id.clone(),
                CachedState {
                    generation,
                    second,
                    date,
                    state: state.clone(),
                },
            );
        state
    }

    fn stats_in(stats: &[(ProcedureId, ServiceStats)], procedure: ProcedureId) -> ServiceStats {
        stats
            .iter()
            .find(|(p, _)| *p == procedure)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| ServiceStats::nominal(procedure.info().nominal_minutes))
    }

    async fn summary(
        &self,
        office: &Office,
        line: &ServiceLine,
        date: NaiveDate,
        ticket: Option<(Uuid, TicketClass)>,
    ) -> Result<LineSummary, QueueError> {
        self.hot_op(&office.id, date, || {
            self.hot.line_summary(&office.id, date, &line.id, ticket)
        })
        .await
    }

    /// Seats booked for the slots under way now in the line's procedures: those residents
    /// occupy counters (予約優先), so walk-ins share the rest.
    async fn reserved_now(&self, office: &Office, line: &ServiceLine) -> Result<u32, QueueError> {
        let now = self.clock.now();
        let key = (office.id.clone(), line.id.clone());
        if let Some((second, value)) = self
            .reserved_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && *second == now.timestamp()
        {
            return Ok(*value);
        }
        let busy = self.reserved_now_uncached(office, line, now).await?;
        self.reserved_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (now.timestamp(), busy));
        Ok(busy)
    }

    async fn reserved_now_uncached(
        &self,
        office: &Office,
        line: &ServiceLine,
        now: DateTime<Utc>,
    ) -> Result<u32, QueueError> {
        let local = tokyo_naive(now);
        let date = local.date();
        let mut busy = 0u32;
        for procedure in &line.procedures {
            let Some(op) = office.procedures.get(procedure).filter(|p| p.bookable) else {
                continue;
            };
            let Some(slot) = self
                .municipality
                .slots(office, *procedure, date)
                .into_iter()
                .find(|s| s.start <= local.time() && local.time() < s.end)
            else {
                continue;
            };
            let taken = match self.seats.taken(&office.id, *procedure, &[date]).await {
                Ok(t) => t,
                Err(HotError::NeedsRebuild(o)) => {
                    self.booking.rebuild_office(&o, false).await?;
                    self.seats.taken(&office.id, *procedure, &[date]).await?
                }
                Err(e) => return Err(e.into()),
            };
            let seats = taken
                .get(&(date, slot.start))
                .map(|s| s.iter().filter(|x| **x < op.capacity).count())
                .unwrap_or(0);
            busy += u32::try_from(seats).unwrap_or(u32::MAX);
        }
        Ok(busy)
    }

    /// The estimate for someone behind `ahead` people in `line` (docs/QUEUE.md): the work
    /// ahead is `ahead` times the line's mean service time (the average of its
    /// procedures' learnt means), shared by the open counters left after reserved
    /// residents take theirs.
    fn line_estimate(
        &self,
        line: &ServiceLine,
        state: &OfficeState,
        ahead: u32,
        reserved_now: u32,
    ) -> Option<WaitEstimate> {
        let load = state.load(&line.id);
        // Every counter paused (e.g. lunch): assume they reopen rather than say nothing.
        let open = if load.open == 0 {
            load.serving
        } else {
            load.open
        };
        // Reserved residents under way hold counters; walk-ins keep at least one.
        let open = open.saturating_sub(reserved_now).max(1);
        let n = crate::num::f64_of(line.procedures.len().max(1));
        let line_mean = line
            .procedures
            .iter()
            .map(|p| Self::stats_in(&state.stats, *p).mean_minutes)
            .sum::<f64>()
            / n;
        let line_variance = line
            .procedures
            .iter()
            .map(|p| Self::stats_in(&state.stats, *p).variance)
            .sum::<f64>()
            / n;
        let ahead = f64::from(ahead);
        estimate_wait(&QueueLoad {
            work_ahead_minutes: ahead * line_mean,
            variance_ahead: ahead * line_variance,
            open_counters: open,
            busy_counters: load.busy.min(open),
            mean_service_minutes: line_mean,
        })
    }

    async fn line_from_view(
        &self,
        office: &Office,
        line: &ServiceLine,
        plan: &DayPlan,
        now: DateTime<Utc>,
        view: &QueueView,
        state: &OfficeState,
    ) -> Result<LineCongestion, QueueError> {
        let waiting = view.waiting_in(&line.id);
        let reserved_now = self.reserved_now(office, line).await?;
        let estimate = self.line_estimate(line, state, waiting, reserved_now);
        let counters_open = state.load(&line.id).open;
        let now_calling = view
            .counters
            .iter()
            .filter_map(|c| c.current.as_ref())
            .filter(|t| t.line_id == line.id)
            .map(|t| t.display.clone())
            .collect();
        let level = office
            .queue
            .thresholds
            .level(waiting, estimate.map(|e| e.p50_minutes).unwrap_or(0));
        let walk_in = line
            .procedures
            .iter()
            .any(|p| office.procedures.get(p).is_some_and(|op| op.walk_in));
        let forecast = estimate.map(|e| {
            let mean = line
                .procedures
                .iter()
                .map(|p| Self::stats_in(&view.stats, *p).mean_minutes)
                .fold(0.0, f64::max);
            f64::from(e.p50_minutes) + mean
        });
        let intake = if walk_in {
            intake(plan, tokyo_naive(now).time(), &office.queue, forecast)
        } else {
            Err(IntakeClosed::NotWalkIn)
        };
        Ok(LineCongestion {
            line: line.clone(),
            waiting,
            now_calling,
            counters_open,
            service_minutes: line
                .procedures
                .iter()
                .map(|p| (*p, Self::stats_in(&view.stats, *p).mean_minutes))
                .collect(),
            estimate,
            level,
            intake,
        })
    }

    /// The office's congestion now, line by line: computed at most once per change and
    /// clock second, however many displays and visitors ask.
    pub async fn congestion(
        &self,
        office_id: &OfficeId,
    ) -> Result<Arc<OfficeCongestion>, QueueError> {
        let now = self.clock.now();
        let generation = self.generation(office_id);
        if let Some(CachedCongestion {
            generation: g,
            second,
            figures,
        }) = self
            .congestion_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(office_id)
            && *g == generation
            && *second == now.timestamp()
        {
            return Ok(figures.clone());
        }
        let figures = Arc::new(self.compute_congestion(office_id, now).await?);
        self.congestion_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                office_id.clone(),
                CachedCongestion {
                    generation,
                    second: now.timestamp(),
                    figures: figures.clone(),
                },
            );
        Ok(figures)
    }

    async fn compute_congestion(
        &self,
        office_id: &OfficeId,
        now: DateTime<Utc>,
    ) -> Result<OfficeCongestion, QueueError> {
        let office = self.office(office_id)?;
        let plan = self.municipality.day_plan(office, tokyo_date(now));
        let generation = self.counter_generation(office_id);
        let view = self.view(office).await?;
        // Fresh anyway: tickets issued next can use it.
        let state = self.keep_state(office, self.today(), generation, now.timestamp(), &view);
        let mut lines = Vec::new();
        for line in &office.lines {
            lines.push(
                self.line_from_view(office, line, &plan, now, &view, &state)
                    .await?,
            );
        }
        let counters = office
            .counters
            .iter()
            .map(|c| {
                let state = view.counters.iter().find(|v| v.id == c.id);
                CounterState {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    lines: c.lines.clone(),
                    paused: state.is_some_and(|s| s.paused),
                    current: state.and_then(|s| s.current.clone()),
                }
            })
            .collect();
        let level = lines.iter().map(|l| l.level).max().unwrap_or(Level::Quiet);
        Ok(OfficeCongestion {
            office: office.id.clone(),
            name: office.name.clone(),
            lines,
            counters,
            recent: view.recent,
            level,
            updated_at: now,
        })
    }

    /// Writes a snapshot of every office's congestion (for typical congestion and open
    /// data); offices that are closed now are skipped.
    pub async fn take_snapshots(&self) -> Result<usize, QueueError> {
        let now = self.clock.now();
        let mut rows = Vec::new();
        for office in &self.municipality.offices {
            if let DayPlan::Closed(_) = self.municipality.day_plan(office, tokyo_date(now)) {
                continue;
            }
            let c = self.congestion(&office.id).await?;
            for line in &c.lines {
                rows.push(CongestionSnapshot {
                    office_id: office.id.clone(),
                    line_id: line.line.id.clone(),
                    taken_at: now,
                    waiting: line.waiting,
                    counters_open: line.counters_open,
                    wait_p50: line.estimate.map(|e| e.p50_minutes),
                    wait_p90: line.estimate.map(|e| e.p90_minutes),
                    level: line.level,
                });
            }
        }
        if !rows.is_empty() {
            self.ledger.insert_snapshots(&rows).await?;
        }
        Ok(rows.len())
    }

    /// Typical congestion by weekday and hour (Tokyo) over the last `weeks` weeks
    /// ([`TYPICAL_WEEKS`] on the pages and in the API).
    pub async fn typical(
        &self,
        office_id: &OfficeId,
        weeks: i64,
    ) -> Result<Vec<TypicalCell>, QueueError> {
        let office = self.office(office_id)?;
        let now = self.clock.now();
        let rows = self
            .ledger
            .snapshots(
                Some(office_id),
                now - Duration::weeks(weeks),
                now + Duration::seconds(1),
            )
            .await?;
        /// Sums of one weekday hour.
        #[derive(Default)]
        struct Sums {
            samples: u32,
            waiting: f64,
            p50: f64,
            with_p50: u32,
        }
        let mut cells: HashMap<(LineId, u32, u32), Sums> = HashMap::new();
        for r in rows {
            let local = tokyo_naive(r.taken_at);
            let key = (
                r.line_id.clone(),
                local.weekday().num_days_from_monday(),
                local.hour(),
            );
            let cell = cells.entry(key).or_default();
            cell.samples += 1;
            cell.waiting += f64::from(r.waiting);
            if let Some(p50) = r.wait_p50 {
                cell.p50 += f64::from(p50);
                cell.with_p50 += 1;
            }
        }
        let mut out: Vec<TypicalCell> = cells
            .into_iter()
            .map(|((line, weekday, hour), sums)| {
                let n = sums.samples;
                let avg_waiting = sums.waiting / f64::from(n);
                let avg_wait_p50 = (sums.with_p50 > 0).then(|| sums.p50 / f64::from(sums.with_p50));
                let level = office.queue.thresholds.level(
                    crate::num::u32_rounded(avg_waiting),
                    crate::num::u32_rounded(avg_wait_p50.unwrap_or(0.0)),
                );
                TypicalCell {
                    line,
                    weekday,
                    hour,
                    samples: n,
                    avg_waiting,
                    avg_wait_p50,
                    level,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.line.clone(), a.weekday, a.hour).cmp(&(b.line.clone(), b.weekday, b.hour))
        });
        Ok(out)
    }

    /// The audit trail of an office for one Tokyo day (administrators only).
    pub async fn audit(
        &self,
        staff: &StaffPrincipal,
        office_id: &OfficeId,
        date: NaiveDate,
    ) -> Result<Vec<crate::store::queue::AuditEntry>, QueueError> {
        self.authorise(staff, office_id)?;
        if staff.role != crate::store::queue::StaffRole::Admin {
            return Err(QueueError::Forbidden);
        }
        self.office(office_id)?;
        let from = from_tokyo(date, chrono::NaiveTime::MIN);
        Ok(self
            .ledger
            .queue_events(office_id, from, from + Duration::days(1))
            .await?)
    }

    pub async fn history(
        &self,
        office: Option<&OfficeId>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CongestionSnapshot>, QueueError> {
        let start = from_tokyo(from, chrono::NaiveTime::MIN);
        let end = from_tokyo(to + Duration::days(1), chrono::NaiveTime::MIN);
        Ok(self.ledger.snapshots(office, start, end).await?)
    }

    // ------------------------------------------------------------ rebuild and repair

    /// Reloads an office's queues of a day from the ledger (at start, when the day is
    /// missing from the hot state, from the maintenance loop, and every 15 minutes). The
    /// hot state merges the snapshot rather than replacing what it has
    /// (`QueueHotState::load_queue`), so tickets issued or changed while the ledger was
    /// read are kept, on every instance, whichever instance reloads. When the day was
    /// missing (the hot state lost it), a ticket whose ledger write was still on its way
    /// may have been in neither; the maintenance loop merges the ledger again until a
    /// ticket deadline has passed (`follow_ups`), so it comes back within a pass.
    pub async fn rebuild_queue(
        &self,
        office_id: &OfficeId,
        date: NaiveDate,
        force: bool,
    ) -> Result<(), QueueError> {
        let Some(lock) = self.rebuild_locks.get(office_id) else {
            return Err(QueueError::OfficeNotFound);
        };
        let _guard = lock.lock().await;
        let loaded = self.hot.queue_loaded(office_id, date).await?;
        if !force && loaded {
            return Ok(());
        }
        let snapshot = self.queue_snapshot(office_id, date).await?;
        self.load_snapshot(&snapshot).await?;
        if !loaded {
            tracing::info!(office = %office_id, tickets = snapshot.tickets.len(), "queues loaded from the ledger");
            self.follow_up(office_id, date, snapshot.now + self.deadline);
        }
        Ok(())
    }

    /// Merges the ledger into the day's queues at every maintenance pass until `until`:
    /// a ticket whose write was still on its way when the hot state lost it (or the reaper
    /// dropped it) comes back.
    fn follow_up(&self, office: &OfficeId, date: NaiveDate, until: DateTime<Utc>) {
        let mut follow_ups = self.follow_ups.lock().unwrap_or_else(|e| e.into_inner());
        let at = follow_ups.entry((office.clone(), date)).or_insert(until);
        *at = (*at).max(until);
    }

    /// What the ledger holds of an office's queues on a day.
    pub async fn queue_snapshot(
        &self,
        office_id: &OfficeId,
        date: NaiveDate,
    ) -> Result<QueueSnapshot, QueueError> {
        let office = self.office(office_id)?;
        let now = self.clock.now();
        let tickets = self.ledger.tickets_of_day(office_id, date).await?;
        let paused = self.ledger.paused_counters(office_id).await?;
        let mut stats: HashMap<ProcedureId, ServiceStats> = HashMap::new();
        for s in self
            .ledger
            .service_times(office_id, now - Duration::days(SERVICE_HISTORY_DAYS))
            .await?
        {
            stats
                .entry(s.procedure)
                .or_insert_with(|| ServiceStats::nominal(s.procedure.info().nominal_minutes))
                .observe(s.minutes);
        }
        let mut stats: Vec<(ProcedureId, ServiceStats)> = stats.into_iter().collect();
        stats.sort_by_key(|(p, _)| *p);
        Ok(QueueSnapshot {
            office: office_id.clone(),
            date,
            lines: office.lines.iter().map(|l| l.id.clone()).collect(),
            prefixes: office.lines.iter().map(|l| l.prefix.clone()).collect(),
            tickets,
            paused,
            counters: office.counters.iter().map(|c| c.id.clone()).collect(),
            stats,
            now,
        })
    }

    /// Merges a snapshot into the hot state, then forgets the live tickets that neither
    /// the snapshot, a pending issue nor (asked now) the ledger account for.
    pub async fn load_snapshot(&self, snapshot: &QueueSnapshot) -> Result<(), QueueError> {
        let office = &snapshot.office;
        let unknown = self.hot.load_queue(snapshot).await?;
        if !unknown.is_empty() {
            let held = self.ledger.existing_tickets(&unknown).await?;
            for id in unknown.iter().filter(|id| !held.contains(id)) {
                self.hot.forget_ticket(office, snapshot.date, *id).await?;
                tracing::warn!(office = %office, "forgot a live ticket the ledger does not hold");
            }
        }
        self.invalidate(office);
        self.counters_changed(office);
        metrics::counter!("madoguchi_queue_rebuilds_total").increment(1);
        tracing::debug!(office = %office, tickets = snapshot.tickets.len(), "queues merged from the ledger");
        Ok(())
    }

    /// One maintenance pass: rebuild missing days, drop ticket issues that never reached
    /// the ledger. Returns (rebuilt, dropped).
    pub async fn repair(&self) -> Result<(usize, usize), QueueError> {
        let now = self.clock.now();
        let date = tokyo_date(now);
        let (mut rebuilt, mut dropped) = (0, 0);
        for office in &self.municipality.offices {
            if !self.hot.queue_loaded(&office.id, date).await? {
                self.rebuild_queue(&office.id, date, false).await?;
                rebuilt += 1;
            } else if self.follow_up_due(&office.id, date, now) {
                self.rebuild_queue(&office.id, date, true).await?;
                rebuilt += 1;
            }
            let dropped_before = dropped;
            // Rounds as for claims (service::maintenance::ROUNDS, which says why).
            for _ in 0..ROUNDS {
                let due = self.hot.due_tickets(&office.id, now, BATCH).await?;
                let round = due.len();
                if round == 0 {
                    break;
                }
                let ids: Vec<Uuid> = due.iter().map(|p| p.ticket_id).collect();
                let present = self.ledger.existing_tickets(&ids).await?;
                let (kept, lost): (Vec<_>, Vec<_>) = due
                    .into_iter()
                    .partition(|p| present.contains(&p.ticket_id));
                self.hot.forget_tickets(&office.id, &kept).await?;
                for p in &lost {
                    self.hot.drop_unwritten_ticket(&office.id, p).await?;
                    tracing::info!(office = %office.id, "dropped a ticket that never reached the ledger");
                    // Or whose write is only slow: if it lands, a follow-up merge brings
                    // the ticket back.
                    self.follow_up(&office.id, p.date, now + self.deadline);
                }
                dropped += lost.len();
                if round < BATCH {
                    break;
                }
            }
            if dropped > dropped_before {
                self.publish(&office.id);
            }
        }
        Ok((rebuilt, dropped))
    }

    /// Rebuilds today's queues of every office (start-up, periodic reconcile).
    /// Whether a reload of a lost day is still to be followed up (and the last follow-up
    /// once its deadline has passed).
    fn follow_up_due(&self, office: &OfficeId, date: NaiveDate, now: DateTime<Utc>) -> bool {
        let mut follow_ups = self.follow_ups.lock().unwrap_or_else(|e| e.into_inner());
        let key = (office.clone(), date);
        match follow_ups.get(&key) {
            Some(until) => {
                if now >= *until {
                    follow_ups.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    pub async fn rebuild_all(&self, force: bool) -> Result<(), QueueError> {
        let date = self.today();
        for office in &self.municipality.offices {
            self.rebuild_queue(&office.id, date, force).await?;
        }
        Ok(())
    }
}
