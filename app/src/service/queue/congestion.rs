//! Live and typical congestion: the figures displays, pages and open data read, and the
//! caches that keep them cheap while tickets arrive by the thousand.

use super::{QueueError, QueueService};
use crate::domain::OfficeId;
use crate::domain::booking::seats_in_use;
use crate::domain::calendar::DayPlan;
use crate::domain::estimate::{OfficeLoad, booked_slots_under_way, intake_forecast};
use crate::domain::office::Office;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    CounterId, IntakeClosed, Level, LineId, ServiceLine, TicketClass, WaitEstimate, intake,
};
use crate::domain::text::Text;
use crate::domain::time::{from_tokyo, tokyo_date, tokyo_naive};
use crate::store::HotError;
use crate::store::queue::{CongestionSnapshot, Issued, LineSummary, QueueView, Ticket};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

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
pub(super) struct CachedCongestion {
    generation: u64,
    second: i64,
    figures: Arc<OfficeCongestion>,
}

/// A line's counts as of a counter generation and a clock second.
pub(super) type CachedCounts = (u64, i64, LineSummary);

pub(super) struct CachedState {
    generation: u64,
    second: i64,
    date: NaiveDate,
    state: Arc<OfficeLoad>,
}

/// Typical congestion looks this many weeks back.
pub const TYPICAL_WEEKS: i64 = 8;

impl QueueService {
    pub(super) async fn view(&self, office: &Office) -> Result<QueueView, QueueError> {
        let date = self.today();
        let lines: Vec<LineId> = office.lines.iter().map(|l| l.id.clone()).collect();
        self.hot_op(&office.id, date, || {
            self.hot.queue_view(&office.id, date, &lines)
        })
        .await
    }

    /// The office's counter loads and service times (`OfficeLoad`), read from the
    /// hot state at most once per counter generation and clock second.
    pub(super) async fn office_state(
        &self,
        office: &Office,
        date: NaiveDate,
    ) -> Result<Arc<OfficeLoad>, QueueError> {
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
    pub(super) async fn line_counts(
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
    pub(super) fn counted(
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
    ) -> Arc<OfficeLoad> {
        let state = Arc::new(OfficeLoad::of(office, view));
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

    pub(super) async fn summary(
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
    pub(super) async fn reserved_now(
        &self,
        office: &Office,
        line: &ServiceLine,
    ) -> Result<u32, QueueError> {
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
        for slot in booked_slots_under_way(&self.municipality, office, line, (date, local.time())) {
            let taken = match self.seats.taken(&office.id, slot.procedure, &[date]).await {
                Ok(t) => t,
                Err(HotError::NeedsRebuild(o)) => {
                    self.booking.rebuild_office(&o, false).await?;
                    self.seats
                        .taken(&office.id, slot.procedure, &[date])
                        .await?
                }
                Err(e) => return Err(e.into()),
            };
            busy += taken
                .get(&(date, slot.start))
                .map_or(0, |seats| u32::from(seats_in_use(seats, slot.capacity)));
        }
        Ok(busy)
    }

    async fn line_from_view(
        &self,
        office: &Office,
        line: &ServiceLine,
        plan: &DayPlan,
        now: DateTime<Utc>,
        view: &QueueView,
        state: &OfficeLoad,
    ) -> Result<LineCongestion, QueueError> {
        let waiting = view.waiting_in(&line.id);
        let reserved_now = self.reserved_now(office, line).await?;
        let estimate = state.line_wait(line, waiting, reserved_now);
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
        let forecast = intake_forecast(estimate, state.longest_service_minutes(line));
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
                .map(|p| (*p, state.stats(*p).mean_minutes))
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
}
