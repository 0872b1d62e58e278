//! A plausible congestion history for demos and the browser tests: snapshots every
//! quarter hour of every open day, following the hourly shares of counter transactions in
//! docs/DOMAIN.md (a morning peak at 10–11, a quieter late afternoon) and a busier Monday.
//! Deterministic, so screenshots are stable. Never run against a real municipality's data.

use crate::domain::calendar::DayPlan;
use crate::domain::office::Municipality;
use crate::domain::time::from_tokyo;
use crate::store::queue::CongestionSnapshot;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc};

/// Share of a day's transactions per hour (8h … 18h), per mille, from one city's data.
const HOURLY_PER_MILLE: [(u32, u32); 11] = [
    (8, 40),
    (9, 132),
    (10, 163),
    (11, 128),
    (12, 85),
    (13, 120),
    (14, 123),
    (15, 102),
    (16, 76),
    (17, 28),
    (18, 4),
];

/// Monday first, percent of an ordinary day.
const WEEKDAY_PERCENT: [u32; 7] = [140, 100, 90, 100, 110, 120, 120];

/// Snapshots of the `weeks` weeks before `until`, for every office and line.
pub fn demo_snapshots(
    m: &Municipality,
    until: DateTime<Utc>,
    weeks: i64,
) -> Vec<CongestionSnapshot> {
    let mut rows = Vec::new();
    let last = crate::domain::time::tokyo_date(until);
    let mut day = last - Duration::weeks(weeks);
    while day < last {
        for office in &m.offices {
            let DayPlan::Open(plan) = m.day_plan(office, day) else {
                continue;
            };
            for window in &plan.windows {
                let mut t = window.start;
                while t < window.end {
                    let share = HOURLY_PER_MILLE
                        .iter()
                        .find(|(h, _)| *h == t.hour())
                        .map(|(_, s)| *s)
                        .unwrap_or(0);
                    let weekday = WEEKDAY_PERCENT
                        .get(usize::try_from(day.weekday().num_days_from_monday()).unwrap_or(0))
                        .copied()
                        .unwrap_or(100);
                    for line in &office.lines {
                        let counters = u32::try_from(office.counters_of(&line.id).count().max(1))
                            .unwrap_or(u32::MAX);
                        // About 2.5 people per counter at the peak hour of an ordinary day.
                        let waiting = counters * 25 * share * weekday / (10 * 163 * 100);
                        let p50 = waiting * 15 / counters;
                        rows.push(CongestionSnapshot {
                            office_id: office.id.clone(),
                            line_id: line.id.clone(),
                            taken_at: from_tokyo(day, t),
                            waiting,
                            counters_open: counters,
                            wait_p50: Some(p50),
                            wait_p90: Some(p50 * 3 / 2),
                            level: office.queue.thresholds.level(waiting, p50),
                        });
                    }
                    t = match t.overflowing_add_signed(Duration::minutes(15)) {
                        (next, 0) => next,
                        _ => NaiveTime::MIN,
                    };
                    if t == NaiveTime::MIN {
                        break;
                    }
                }
            }
        }
        day += Duration::days(1);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sample_municipality;
    use crate::domain::time::tokyo_naive;

    #[test]
    fn history_covers_open_hours_only_and_peaks_in_the_morning() {
        let m = sample_municipality().unwrap();
        let until = from_tokyo(
            chrono::NaiveDate::from_ymd_opt(2027, 1, 12).unwrap(),
            NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        );
        let rows = demo_snapshots(&m, until, 2);
        assert!(!rows.is_empty());
        for r in &rows {
            let local = tokyo_naive(r.taken_at);
            let office = m.office(r.office_id.as_str()).unwrap();
            let DayPlan::Open(plan) = m.day_plan(office, local.date()) else {
                panic!("a snapshot on a closed day: {local}");
            };
            assert!(
                plan.windows
                    .iter()
                    .any(|w| w.start <= local.time() && local.time() < w.end),
                "outside the hours: {local}"
            );
            assert!(local.date() < until.date_naive() + Duration::days(1));
        }
        let mean_at = |hour: u32| {
            let picked: Vec<u32> = rows
                .iter()
                .filter(|r| {
                    r.office_id.as_str() == "main" && tokyo_naive(r.taken_at).hour() == hour
                })
                .map(|r| r.waiting)
                .collect();
            picked.iter().sum::<u32>() as f64 / picked.len().max(1) as f64
        };
        assert!(mean_at(10) > mean_at(16), "the morning is busier");
    }
}
