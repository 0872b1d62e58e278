//! The inputs of a wait estimate (docs/QUEUE.md): which counters serve a line now, what
//! its services take, how many booked residents hold counters, and the forecast that
//! closes intake. `queue::estimate_wait` turns them into the P50/P90 shown.

use crate::domain::office::{Municipality, Office};
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    CounterId, LineId, QueueLoad, ServiceLine, ServiceStats, WaitEstimate, estimate_wait,
};
use crate::domain::queue_day::QueueView;
use crate::domain::slots::SlotTime;
use chrono::{NaiveDate, NaiveTime};

/// How many counters serve a line, how many of them are open, how many have a resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterLoad {
    pub serving: u32,
    pub open: u32,
    pub busy: u32,
}

/// What estimates need besides the people waiting: the counters serving each line and the
/// learnt service times. They change a few times a minute (staff actions), while tickets
/// arrive by the thousand, so the service keeps one per office and counter generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfficeLoad {
    stats: Vec<(ProcedureId, ServiceStats)>,
    loads: Vec<(LineId, CounterLoad)>,
}

impl OfficeLoad {
    pub fn of(office: &Office, view: &QueueView) -> Self {
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
        OfficeLoad {
            stats: view.stats.clone(),
            loads,
        }
    }

    pub fn load(&self, line: &LineId) -> CounterLoad {
        self.loads
            .iter()
            .find(|(l, _)| l == line)
            .map(|(_, load)| *load)
            .unwrap_or_default()
    }

    pub fn stats(&self, procedure: ProcedureId) -> ServiceStats {
        service_stats(&self.stats, procedure)
    }

    /// The estimate for someone behind `ahead` people in `line`: the work ahead is
    /// `ahead` times the line's mean service time (the average of its procedures' learnt
    /// means), shared by the open counters left after `reserved_now` booked residents
    /// take theirs.
    pub fn line_wait(
        &self,
        line: &ServiceLine,
        ahead: u32,
        reserved_now: u32,
    ) -> Option<WaitEstimate> {
        let load = self.load(&line.id);
        // Every counter paused (e.g. lunch): assume they reopen rather than say nothing.
        let open = if load.open == 0 {
            load.serving
        } else {
            load.open
        };
        // Reserved residents under way hold counters; walk-ins keep at least one.
        let open = open.saturating_sub(reserved_now).max(1);
        let n = f64::from(u32::try_from(line.procedures.len().max(1)).unwrap_or(u32::MAX));
        let (mean, variance) = line.procedures.iter().fold((0.0, 0.0), |(m, v), p| {
            let s = self.stats(*p);
            (m + s.mean_minutes, v + s.variance)
        });
        let (line_mean, line_variance) = (mean / n, variance / n);
        let ahead = f64::from(ahead);
        estimate_wait(&QueueLoad {
            work_ahead_minutes: ahead * line_mean,
            variance_ahead: ahead * line_variance,
            open_counters: open,
            busy_counters: load.busy.min(open),
            mean_service_minutes: line_mean,
        })
    }

    /// The longest learnt service of the line's procedures: what the line's forecast adds
    /// after the wait, so that "full" is said before anyone would be served after closing.
    pub fn longest_service_minutes(&self, line: &ServiceLine) -> f64 {
        line.procedures
            .iter()
            .map(|p| self.stats(*p).mean_minutes)
            .fold(0.0, f64::max)
    }
}

/// A procedure's learnt service times, or its nominal ones before anything was learnt.
pub fn service_stats(
    stats: &[(ProcedureId, ServiceStats)],
    procedure: ProcedureId,
) -> ServiceStats {
    stats
        .iter()
        .find(|(p, _)| *p == procedure)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| ServiceStats::nominal(procedure.info().nominal_minutes))
}

/// When someone joining now would be done, in minutes from now, for the intake rule
/// (`queue::intake`): the median wait plus one service.
pub fn intake_forecast(estimate: Option<WaitEstimate>, service_minutes: f64) -> Option<f64> {
    estimate.map(|e| f64::from(e.p50_minutes) + service_minutes)
}

/// The slot under way at `time`, if any.
pub fn slot_under_way(slots: &[SlotTime], time: NaiveTime) -> Option<SlotTime> {
    slots
        .iter()
        .find(|s| s.start <= time && time < s.end)
        .copied()
}

/// A slot under way whose booked residents hold counters now (予約優先), so that walk-ins
/// share the rest: the service counts its seats in use (`booking::seats_in_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookedSlot {
    pub procedure: ProcedureId,
    pub start: NaiveTime,
    pub capacity: u16,
}

/// The slots under way at `(date, time)` in the bookable procedures of `line`.
pub fn booked_slots_under_way(
    municipality: &Municipality,
    office: &Office,
    line: &ServiceLine,
    (date, time): (NaiveDate, NaiveTime),
) -> Vec<BookedSlot> {
    line.procedures
        .iter()
        .filter_map(|procedure| {
            let op = office.procedures.get(procedure).filter(|p| p.bookable)?;
            let slot = slot_under_way(&municipality.slots(office, *procedure, date), time)?;
            Some(BookedSlot {
                procedure: *procedure,
                start: slot.start,
                capacity: op.capacity,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::booking::BookingPolicy;
    use crate::domain::calendar::{OfficeCalendar, TimeWindow, WeeklyHours};
    use crate::domain::office::OfficeProcedure;
    use crate::domain::queue::TicketClass;
    use crate::domain::queue::{Counter, QueuePolicy};
    use crate::domain::queue_day::{DayQueue, NewTicket};
    use crate::domain::{OfficeId, Text};
    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    const RENEWAL: ProcedureId = ProcedureId::CertRenewal;
    const PIN: ProcedureId = ProcedureId::PinReset;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn line() -> ServiceLine {
        ServiceLine {
            id: LineId::first(),
            prefix: "A".into(),
            name: Text::new("証明書", "Certificates"),
            procedures: vec![RENEWAL, PIN],
        }
    }

    /// An office open 08:30–17:15 on weekdays with `counters` counters on line `a`;
    /// renewals bookable in 30-minute slots of two seats, PIN resets walk-in only.
    fn office(counters: usize) -> Office {
        let day = vec![TimeWindow {
            start: t(8, 30),
            end: t(17, 15),
        }];
        let weekday = || day.clone();
        let procedure = |bookable| OfficeProcedure {
            bookable,
            capacity: 2,
            slot_minutes: 30,
            proxy: false,
            walk_in: true,
        };
        Office {
            id: OfficeId::parse("honcho").unwrap(),
            name: Text::new("本庁舎", "City Hall"),
            address: Text::new("", ""),
            phone: None,
            counters: (0..counters)
                .map(|i| Counter {
                    id: CounterId::parse(&format!("c{i}")).unwrap(),
                    name: Text::new("窓口", "Counter"),
                    lines: vec![LineId::first()],
                })
                .collect(),
            lines: vec![line()],
            queue: QueuePolicy::default(),
            calendar: OfficeCalendar {
                weekly: WeeklyHours([
                    weekday(),
                    weekday(),
                    weekday(),
                    weekday(),
                    weekday(),
                    Vec::new(),
                    Vec::new(),
                ]),
                holiday_hours: None,
                closures: Vec::new(),
                special_days: Vec::new(),
            },
            evening_cutoff: None,
            procedures: [(RENEWAL, procedure(true)), (PIN, procedure(false))].into(),
            booking: BookingPolicy {
                opens_days_ahead: 45,
                opens_at: t(8, 30),
                closes_days_before: 0,
                min_lead_minutes: 30,
                cancel_days_before: 2,
                hold_minutes: 30,
            },
        }
    }

    fn stats(mean_minutes: f64, variance: f64) -> ServiceStats {
        ServiceStats {
            mean_minutes,
            variance,
            samples: 10,
        }
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-01-12T08:30:00+09:00")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minute)
    }

    /// The load of `office` when the counters numbered in `paused` are paused and `busy`
    /// of them have been given a resident; services take `learnt`.
    fn load_of(
        office: &Office,
        paused: &[usize],
        busy: usize,
        learnt: &[(ProcedureId, ServiceStats)],
    ) -> OfficeLoad {
        let mut day = DayQueue::default();
        let lines = [LineId::first()];
        for _ in &office.counters {
            day.issue(&NewTicket {
                id: Uuid::new_v4(),
                office: &office.id,
                line: &lines[0],
                prefix: "A",
                date: crate::domain::time::tokyo_date(at(0)),
                procedure: PIN,
                class: TicketClass::Normal,
                reservation_id: None,
                slot_start_ms: None,
                now: at(0),
            });
        }
        for (i, counter) in office.counters.iter().enumerate() {
            if i < busy {
                day.call_next(&counter.id, &lines, &office.queue, at(1));
            }
            if paused.contains(&i) {
                day.set_paused(&counter.id, true);
            }
        }
        OfficeLoad::of(office, &day.view(&lines, learnt.to_vec()))
    }

    #[test]
    fn a_line_counts_its_counters_open_and_busy() {
        let office = office(3);
        let load = load_of(&office, &[2], 1, &[]);
        assert_eq!(
            load.load(&LineId::first()),
            CounterLoad {
                serving: 3,
                open: 2,
                busy: 1
            }
        );
        // A line no counter serves has none.
        let other = LineId::parse("z").unwrap();
        assert_eq!(load.load(&other), CounterLoad::default());
    }

    #[test]
    fn the_work_ahead_is_shared_by_the_open_counters() {
        let office = office(3);
        let learnt = [(RENEWAL, stats(10.0, 0.0)), (PIN, stats(10.0, 0.0))];
        // One counter paused, none busy: six people at ten minutes on two counters.
        let load = load_of(&office, &[2], 0, &learnt);
        let wait = load.line_wait(&line(), 6, 0).unwrap();
        assert_eq!(wait.p50_minutes, 30);
        // No spread learnt: the P90 is the P50.
        assert_eq!(wait.p90_minutes, 30);
        // Both open counters busy: half a service on average until one frees up.
        let load = load_of(&office, &[2], 2, &learnt);
        assert_eq!(load.line_wait(&line(), 6, 0).unwrap().p50_minutes, 33);
    }

    #[test]
    fn booked_residents_under_way_take_counters_but_walk_ins_keep_one() {
        let office = office(3);
        let learnt = [(RENEWAL, stats(10.0, 0.0)), (PIN, stats(10.0, 0.0))];
        let load = load_of(&office, &[], 0, &learnt);
        let wait = |reserved| load.line_wait(&line(), 6, reserved).unwrap().p50_minutes;
        assert_eq!(wait(0), 20);
        assert_eq!(wait(1), 30);
        assert_eq!(wait(2), 60);
        assert_eq!(wait(9), 60);
    }

    #[test]
    fn a_line_paused_everywhere_is_estimated_as_if_it_reopened() {
        let office = office(2);
        let learnt = [(RENEWAL, stats(10.0, 0.0)), (PIN, stats(10.0, 0.0))];
        let paused = load_of(&office, &[0, 1], 0, &learnt);
        let open = load_of(&office, &[], 0, &learnt);
        assert_eq!(
            paused.line_wait(&line(), 4, 0),
            open.line_wait(&line(), 4, 0)
        );
    }

    #[test]
    fn the_line_mean_averages_its_procedures_and_unlearnt_ones_are_nominal() {
        let office = office(1);
        let nominal = f64::from(PIN.info().nominal_minutes);
        let load = load_of(&office, &[], 0, &[(RENEWAL, stats(20.0, 4.0))]);
        assert_eq!(
            load.stats(PIN),
            ServiceStats::nominal(PIN.info().nominal_minutes)
        );
        assert_eq!(load.stats(RENEWAL).mean_minutes, 20.0);
        let expected = (2.0 * (20.0 + nominal) / 2.0_f64).ceil();
        let wait = load.line_wait(&line(), 2, 0).unwrap();
        assert_eq!(f64::from(wait.p50_minutes), expected);
        assert!(wait.p90_minutes > wait.p50_minutes);
        assert_eq!(load.longest_service_minutes(&line()), nominal.max(20.0));
    }

    #[test]
    fn the_forecast_is_the_median_wait_and_one_service() {
        let e = WaitEstimate {
            p50_minutes: 25,
            p90_minutes: 40,
        };
        assert_eq!(intake_forecast(Some(e), 12.5), Some(37.5));
        assert_eq!(intake_forecast(None, 12.5), None);
    }

    #[test]
    fn only_slots_under_way_of_bookable_procedures_hold_counters() {
        let o = &office(2);
        let municipality = Municipality {
            name: Text::new("市", "City"),
            offices: vec![o.clone()],
            system_down: Vec::new(),
            waiting_rooms: Vec::new(),
        };
        let tuesday = crate::domain::time::tokyo_date(at(0));
        let slots = |time| booked_slots_under_way(&municipality, o, &line(), (tuesday, time));
        // The renewal slot 10:00–10:30 is under way at 10:00 and 10:29, not at 10:30's
        // start of the next one; PIN resets are walk-in only here.
        let ten = BookedSlot {
            procedure: RENEWAL,
            start: t(10, 0),
            capacity: 2,
        };
        assert_eq!(slots(t(10, 0)), vec![ten]);
        assert_eq!(slots(t(10, 29)), vec![ten]);
        assert_eq!(slots(t(10, 30))[0].start, t(10, 30));
        // Before opening and after closing, nothing is under way.
        assert!(slots(t(8, 0)).is_empty());
        assert!(slots(t(17, 15)).is_empty());
        // Saturday: closed.
        let saturday = tuesday + chrono::Duration::days(4);
        assert!(booked_slots_under_way(&municipality, o, &line(), (saturday, t(10, 0))).is_empty());
    }

    #[test]
    fn a_slot_is_under_way_from_its_start_to_before_its_end() {
        let slots = [
            SlotTime {
                start: t(9, 0),
                end: t(9, 30),
            },
            SlotTime {
                start: t(13, 0),
                end: t(13, 30),
            },
        ];
        assert_eq!(slot_under_way(&slots, t(9, 0)), slots.first().copied());
        assert_eq!(slot_under_way(&slots, t(9, 30)), None);
        assert_eq!(slot_under_way(&slots, t(12, 0)), None);
        assert_eq!(slot_under_way(&slots, t(13, 15)), slots.get(1).copied());
    }

    proptest! {
        /// Neither one more person ahead nor one more booked resident under way ever
        /// shortens the wait.
        #[test]
        fn waits_grow_with_the_line_and_with_the_counters_booked_residents_take(
            counters in 1usize..6,
            paused in proptest::collection::vec(0usize..6, 0..4),
            busy in 0usize..6,
            mean in 1.0f64..40.0,
            variance in 0.0f64..100.0,
            ahead in 0u32..200,
            reserved in 0u32..6,
        ) {
            let office = office(counters);
            let learnt = [(RENEWAL, stats(mean, variance)), (PIN, stats(mean, variance))];
            let load = load_of(&office, &paused, busy, &learnt);
            let now = load.line_wait(&line(), ahead, reserved).unwrap();
            let longer = load.line_wait(&line(), ahead + 1, reserved).unwrap();
            let fewer_counters = load.line_wait(&line(), ahead, reserved + 1).unwrap();
            prop_assert!(now.p50_minutes <= now.p90_minutes);
            prop_assert!(now.p50_minutes <= longer.p50_minutes);
            prop_assert!(now.p90_minutes <= longer.p90_minutes);
            prop_assert!(now.p50_minutes <= fewer_counters.p50_minutes);
        }
    }
}
