//! Walk-in queues and live congestion: issuing tickets, checking reservations in, counter
//! operations, positions and wait estimates, and the congestion figures published to
//! displays and the public. The rules are in the core (`domain::queue`, `domain::queue_day`,
//! `domain::estimate`) and docs/QUEUE.md; this service orders the steps around them, one
//! file per use case: `tickets`, `counters`, `congestion`, `reload`.
//!
//! Like bookings, every change happens atomically in the hot state first (numbers,
//! places, who is at which counter) and is then written to the ledger before the answer;
//! a ticket is durable before its number is shown. The hot state of a day is rebuilt
//! from the ledger whenever it is missing.

use crate::domain::OfficeId;
use crate::domain::office::{Municipality, Office};
use crate::domain::queue::{CheckInRefusal, IntakeClosed, LineId, TicketStatus, WaitEstimate};
use crate::domain::text::Text;
use crate::domain::time::{Clock, HhMm, tokyo_date};
use crate::service::booking::BookingService;
use crate::store::queue::{QueueHotState, QueueLedger, Ticket};
use crate::store::{HotError, HotState, ReservationStatus, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Mutex as AsyncMutex;
use uuid::Uuid;

mod congestion;
mod counters;
mod reload;
mod tickets;

use congestion::{CachedCongestion, CachedCounts, CachedState};

pub use congestion::{CounterState, LineCongestion, OfficeCongestion, TYPICAL_WEEKS, TypicalCell};

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

/// One of `make` for each office.
fn per_office<T>(municipality: &Municipality, make: impl Fn() -> T) -> HashMap<OfficeId, T> {
    municipality
        .offices
        .iter()
        .map(|o| (o.id.clone(), make()))
        .collect()
}

const NOTICE_IDLE: u8 = 0;
const NOTICE_SENDING: u8 = 1;
const NOTICE_DIRTY: u8 = 2;

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
        let generations = per_office(&municipality, || AtomicU64::new(0));
        let counter_generations = per_office(&municipality, || AtomicU64::new(0));
        let notices = per_office(&municipality, || Arc::new(AtomicU8::new(NOTICE_IDLE)));
        let rebuild_locks = per_office(&municipality, || AsyncMutex::new(()));
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
}
