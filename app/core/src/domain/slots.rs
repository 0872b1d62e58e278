//! Slot generation: bookable intervals of a day, from the office's open windows.

use crate::domain::calendar::TimeWindow;
use crate::domain::ids::OfficeId;
use crate::domain::procedure::ProcedureId;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Timelike};
use std::fmt;

/// The start and end of a slot, in Tokyo wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotTime {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// The slots of one day: back-to-back intervals of `slot_minutes` inside each window,
/// never running past a window's end nor past the evening cut-off (the national server
/// is reachable only until 20:00, so evening procedures must end before it).
pub fn day_slots(
    windows: &[TimeWindow],
    slot_minutes: u16,
    evening_cutoff: Option<NaiveTime>,
) -> Vec<SlotTime> {
    let length = Duration::minutes(i64::from(slot_minutes.max(1)));
    let mut slots = Vec::new();
    for window in windows {
        let end = match evening_cutoff {
            Some(cutoff) if cutoff < window.end => cutoff,
            _ => window.end,
        };
        let mut start = window.start;
        loop {
            let (slot_end, wrapped) = start.overflowing_add_signed(length);
            if wrapped != 0 || slot_end > end || slot_end <= start {
                break;
            }
            slots.push(SlotTime {
                start,
                end: slot_end,
            });
            start = slot_end;
        }
    }
    slots.sort();
    slots.dedup_by(|b, a| b.start < a.end); // overlapping windows never double a slot
    slots
}

/// Identifies one slot of one procedure at one office. Its key form (`HHMM`) names the
/// slot inside the day's seat map in the hot state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotRef {
    pub office: OfficeId,
    pub procedure: ProcedureId,
    pub date: NaiveDate,
    pub start: NaiveTime,
}

impl SlotRef {
    /// `HHMM` of the start time, e.g. `0930`.
    pub fn time_key(&self) -> String {
        time_key(self.start)
    }
}

/// `YYYYMMDD` of a date, as every hot-state key spells a day. Written out directly:
/// chrono's `format("%Y%m%d")` parses its pattern on each call, and the kiosk and
/// booking paths build several such keys per request (it showed in `perf`).
#[derive(Debug, Clone, Copy)]
pub struct DateKey(pub NaiveDate);

impl fmt::Display for DateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }
}

pub fn time_key(t: NaiveTime) -> String {
    format!("{:02}{:02}", t.hour(), t.minute())
}

/// Parses an `HHMM` key back into a time.
pub fn parse_time_key(key: &str) -> Option<NaiveTime> {
    if key.len() != 4 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h = key[..2].parse().ok()?;
    let m = key[2..].parse().ok()?;
    NaiveTime::from_hms_opt(h, m, 0)
}

impl fmt::Display for SlotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}T{}",
            self.office,
            self.procedure,
            self.date,
            crate::domain::time::HhMm(self.start)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The hand-written key is chrono's `%Y%m%d`, so keys written before it still match.
        #[test]
        fn date_key_is_chronos_compact_date(days in 0i64..3_000_000) {
            let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + Duration::days(days);
            prop_assert_eq!(DateKey(date).to_string(), date.format("%Y%m%d").to_string());
        }
    }

    fn w(s: &str) -> TimeWindow {
        TimeWindow::parse(s).unwrap()
    }

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn slots_skip_the_lunch_gap() {
        let slots = day_slots(&[w("08:30-12:00"), w("13:00-17:00")], 30, None);
        assert_eq!(slots.len(), 7 + 8);
        assert_eq!(
            slots[0],
            SlotTime {
                start: t("08:30"),
                end: t("09:00")
            }
        );
        assert_eq!(slots[6].end, t("12:00"));
        assert_eq!(slots[7].start, t("13:00"));
        assert_eq!(slots.last().unwrap().end, t("17:00"));
    }

    #[test]
    fn a_slot_that_does_not_fit_is_dropped() {
        let slots = day_slots(&[w("08:30-17:15")], 30, None);
        assert_eq!(slots.last().unwrap().end, t("17:00"));
    }

    #[test]
    fn the_evening_cutoff_ends_late_windows() {
        let slots = day_slots(&[w("13:00-20:00")], 15, Some(t("19:30")));
        assert_eq!(slots.last().unwrap().end, t("19:30"));
        assert_eq!(slots.len(), 26);
    }

    #[test]
    fn time_keys_round_trip() {
        assert_eq!(time_key(t("08:30")), "0830");
        assert_eq!(parse_time_key("0830"), Some(t("08:30")));
        assert_eq!(parse_time_key("2460"), None);
        assert_eq!(parse_time_key("830"), None);
    }

    proptest! {
        #[test]
        fn slots_lie_inside_windows_never_overlap_and_have_the_slot_length(
            a in 0u32..(20 * 60), len_a in 15u32..600, gap in 0u32..120, len_b in 15u32..300,
            minutes in 5u16..120, cutoff in proptest::option::of(6u32 * 60..(23 * 60 + 59)),
        ) {
            let at = |m: u32| NaiveTime::from_hms_opt(m.min(23 * 60 + 59) / 60, m.min(23 * 60 + 59) % 60, 0).unwrap();
            let first = TimeWindow { start: at(a), end: at(a + len_a) };
            let second = TimeWindow { start: at(a + len_a + gap), end: at(a + len_a + gap + len_b) };
            let windows: Vec<TimeWindow> = [first, second].into_iter().filter(|w| w.end > w.start).collect();
            let cutoff = cutoff.map(at);
            let slots = day_slots(&windows, minutes, cutoff);
            for s in &slots {
                prop_assert_eq!(s.end - s.start, Duration::minutes(i64::from(minutes)));
                prop_assert!(windows.iter().any(|w| w.start <= s.start && s.end <= w.end));
                if let Some(c) = cutoff { prop_assert!(s.end <= c); }
            }
            for pair in slots.windows(2) {
                prop_assert!(pair[0].end <= pair[1].start);
            }
        }
    }
}
