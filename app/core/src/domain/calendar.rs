//! The office calendar: national holidays, closure rules, weekly hours and special open
//! days, resolved into the plan of one day.
//!
//! Precedence, from strongest to weakest (documented in docs/ARCHITECTURE.md):
//! 1. the national card system is down (e.g. the Sunday after the 3rd Saturday): closed;
//! 2. a special open day of the office (holiday window, 休日窓口): open as configured;
//! 3. the office's closure rules (national holidays, 12/29–1/3, explicit dates, ...): closed;
//! 4. a national holiday the office does not close on: its holiday hours;
//! 5. the weekly hours; a weekday without hours is closed.

use crate::domain::text::Text;
use crate::domain::time::HhMm;
use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

/// Years for which the national-holiday table is computed. Dates outside have no
/// national holidays as far as Madoguchi knows; bookings never reach that far.
pub const HOLIDAY_YEARS: std::ops::RangeInclusive<i32> = 2000..=2060;

/// National holidays (国民の祝日, 振替休日 and 国民の休日) from the `jpholiday` crate,
/// which computes them by the rules of 国民の祝日に関する法律 (equinox days by the
/// standard astronomical formula). Tested against the Cabinet Office list for 2025–2027.
static HOLIDAYS: LazyLock<HashMap<NaiveDate, String>> = LazyLock::new(|| {
    let jp = jpholiday::jpholiday::JPHoliday::new();
    HOLIDAY_YEARS.flat_map(|y| jp.year_holidays(y)).collect()
});

/// Computes the holiday table now rather than on the first request that needs it.
pub fn warm_up() {
    LazyLock::force(&HOLIDAYS);
}

/// The national holiday on `date`, with its name, if there is one.
pub fn national_holiday(date: NaiveDate) -> Option<Text> {
    HOLIDAYS.get(&date).map(|ja| holiday_text(ja))
}

fn holiday_text(ja: &str) -> Text {
    const NAMES: &[(&str, &str)] = &[
        ("元日", "New Year's Day"),
        ("成人の日", "Coming of Age Day"),
        ("建国記念の日", "National Foundation Day"),
        ("天皇誕生日", "The Emperor's Birthday"),
        ("春分の日", "Vernal Equinox Day"),
        ("昭和の日", "Showa Day"),
        ("憲法記念日", "Constitution Memorial Day"),
        ("みどりの日", "Greenery Day"),
        ("こどもの日", "Children's Day"),
        ("海の日", "Marine Day"),
        ("山の日", "Mountain Day"),
        ("敬老の日", "Respect for the Aged Day"),
        ("秋分の日", "Autumnal Equinox Day"),
        ("スポーツの日", "Sports Day"),
        ("体育の日", "Health and Sports Day"),
        ("文化の日", "Culture Day"),
        ("勤労感謝の日", "Labour Thanksgiving Day"),
        ("国民の休日", "Citizens' Holiday"),
    ];
    let english = |name: &str| {
        NAMES
            .iter()
            .find(|(j, _)| *j == name)
            .map(|(_, e)| (*e).to_owned())
            .unwrap_or_else(|| "National holiday".to_owned())
    };
    let en = match ja.strip_suffix(" 振替休日") {
        Some(base) => format!("Substitute holiday ({})", english(base)),
        None => english(ja),
    };
    let ja = ja.replace(" 振替休日", "の振替休日");
    Text::owned(ja, en)
}

/// A time window of a day, such as 08:30–12:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl TimeWindow {
    /// Parses `HH:MM-HH:MM`; the end must be after the start.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (a, b) = raw
            .split_once('-')
            .ok_or_else(|| format!("{raw:?} is not a time window like \"08:30-12:00\""))?;
        let parse = |s: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M")
                .map_err(|_| format!("{s:?} in {raw:?} is not a time like \"08:30\""))
        };
        let (start, end) = (parse(a)?, parse(b)?);
        if end <= start {
            return Err(format!("{raw:?} ends before it starts"));
        }
        Ok(Self { start, end })
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", HhMm(self.start), HhMm(self.end))
    }
}

/// A day of the year without the year, for rules like 12/29–1/3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    pub month: u32,
    pub day: u32,
}

impl MonthDay {
    /// Parses `MM-DD`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("{raw:?} is not a month and day like \"12-29\"");
        let (m, d) = raw.split_once('-').ok_or_else(bad)?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        let day: u32 = d.parse().map_err(|_| bad())?;
        // 2024 is a leap year, so 02-29 is accepted.
        NaiveDate::from_ymd_opt(2024, month, day).ok_or_else(bad)?;
        Ok(Self { month, day })
    }

    fn of(date: NaiveDate) -> Self {
        Self {
            month: date.month(),
            day: date.day(),
        }
    }
}

/// A rule that picks days of the calendar. Closures and special days are rules, not
/// lists of dates, so that the calendar stays right in years nobody typed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateRule {
    /// 国民の祝日, including 振替休日 and 国民の休日.
    NationalHolidays,
    /// Every year from one day to another, wrapping over the new year (e.g. 12/29–1/3).
    Annual { from: MonthDay, to: MonthDay },
    /// The national card system's maintenance day: the Sunday after the 3rd Saturday.
    SundayAfterThirdSaturday,
    /// The 3rd Saturday of the month and the Sunday after it.
    ThirdSaturdayWeekend,
    /// The n-th given weekdays of each month, e.g. the 2nd and 4th Sunday.
    NthWeekday { weekday: Weekday, nth: Vec<u8> },
    /// Explicit dates.
    Dates(Vec<NaiveDate>),
    /// Every day from one date to another, both included.
    Range { from: NaiveDate, to: NaiveDate },
}

/// The `n`-th (1-based) `weekday` of the month of `date`, if it exists.
pub fn nth_weekday_of_month(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

fn third_saturday(date: NaiveDate) -> Option<NaiveDate> {
    nth_weekday_of_month(date.year(), date.month(), Weekday::Sat, 3)
}

impl DateRule {
    pub fn matches(&self, date: NaiveDate) -> bool {
        match self {
            DateRule::NationalHolidays => national_holiday(date).is_some(),
            DateRule::Annual { from, to } => {
                let md = MonthDay::of(date);
                if from <= to {
                    *from <= md && md <= *to
                } else {
                    md >= *from || md <= *to
                }
            }
            DateRule::SundayAfterThirdSaturday => {
                // The Sunday after the 3rd Saturday may fall on the 4th Sunday of the
                // month when the month starts on a Sunday, so compute it from Saturday.
                date.weekday() == Weekday::Sun
                    && third_saturday(date - Duration::days(1)) == Some(date - Duration::days(1))
            }
            DateRule::ThirdSaturdayWeekend => {
                third_saturday(date) == Some(date)
                    || DateRule::SundayAfterThirdSaturday.matches(date)
            }
            DateRule::NthWeekday { weekday, nth } => {
                date.weekday() == *weekday
                    && nth.contains(&u8::try_from((date.day() - 1) / 7 + 1).unwrap_or(u8::MAX))
            }
            DateRule::Dates(dates) => dates.contains(&date),
            DateRule::Range { from, to } => *from <= date && date <= *to,
        }
    }
}

/// A named closure rule of an office or of the whole municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosureRule {
    pub rule: DateRule,
    /// Shown to residents; for national holidays the holiday's own name is used.
    pub name: Text,
}

/// A day the office opens although it would otherwise be closed or open differently,
/// e.g. a holiday window by reservation only (休日窓口、完全予約制).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub rule: DateRule,
    pub windows: Vec<TimeWindow>,
    /// Walk-ins are not served; only booked residents.
    pub reservation_only: bool,
    pub name: Text,
}

/// Why a day is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureKind {
    /// The national card system is down (maintenance): no card procedure anywhere.
    SystemMaintenance,
    NationalHoliday,
    /// One of the office's own closure rules (year end, 3rd weekend, explicit dates...).
    OfficeRule,
    /// The office has no hours on this weekday.
    Weekly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub kind: ClosureKind,
    pub name: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenDay {
    pub windows: Vec<TimeWindow>,
    pub reservation_only: bool,
    /// The special day's or holiday's name, when the day is not an ordinary one.
    pub note: Option<Text>,
}

/// What a given day looks like at an office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayPlan {
    Open(OpenDay),
    Closed(Closure),
}

/// Opening hours per weekday, Monday first. An empty list means closed that weekday.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeeklyHours(pub [Vec<TimeWindow>; 7]);

impl WeeklyHours {
    pub fn on(&self, weekday: Weekday) -> &[TimeWindow] {
        let [mon, tue, wed, thu, fri, sat, sun] = &self.0;
        match weekday {
            Weekday::Mon => mon,
            Weekday::Tue => tue,
            Weekday::Wed => wed,
            Weekday::Thu => thu,
            Weekday::Fri => fri,
            Weekday::Sat => sat,
            Weekday::Sun => sun,
        }
    }
}

/// The calendar of one office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeCalendar {
    pub weekly: WeeklyHours,
    /// Hours on national holidays that are not closures (e.g. a shopping-centre office).
    /// Without them, such a holiday uses the weekday's hours.
    pub holiday_hours: Option<Vec<TimeWindow>>,
    pub closures: Vec<ClosureRule>,
    pub special_days: Vec<SpecialDay>,
}

impl OfficeCalendar {
    /// The plan of `date`, given the days the national system is down.
    pub fn plan(&self, date: NaiveDate, system_down: &[ClosureRule]) -> DayPlan {
        if let Some(rule) = system_down.iter().find(|r| r.rule.matches(date)) {
            return DayPlan::Closed(Closure {
                kind: ClosureKind::SystemMaintenance,
                name: rule.name.clone(),
            });
        }
        if let Some(special) = self.special_days.iter().find(|s| s.rule.matches(date)) {
            return DayPlan::Open(OpenDay {
                windows: special.windows.clone(),
                reservation_only: special.reservation_only,
                note: Some(special.name.clone()),
            });
        }
        let holiday = national_holiday(date);
        if let Some(rule) = self.closures.iter().find(|r| r.rule.matches(date)) {
            return DayPlan::Closed(match (&rule.rule, holiday) {
                (DateRule::NationalHolidays, Some(name)) => Closure {
                    kind: ClosureKind::NationalHoliday,
                    name,
                },
                _ => Closure {
                    kind: ClosureKind::OfficeRule,
                    name: rule.name.clone(),
                },
            });
        }
        let (windows, note) = match (holiday, &self.holiday_hours) {
            (Some(name), Some(hours)) => (hours.clone(), Some(name)),
            (holiday, _) => (self.weekly.on(date.weekday()).to_vec(), holiday),
        };
        if windows.is_empty() {
            return DayPlan::Closed(Closure {
                kind: ClosureKind::Weekly,
                name: Text::new("休業日", "Closed on this day of the week"),
            });
        }
        DayPlan::Open(OpenDay {
            windows,
            reservation_only: false,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn holidays_2025_to_2027_match_the_cabinet_office_list() {
        // 内閣府「国民の祝日について」の一覧 (2025–2027), including substitute holidays.
        let expected = [
            "2025-01-01",
            "2025-01-13",
            "2025-02-11",
            "2025-02-23",
            "2025-02-24",
            "2025-03-20",
            "2025-04-29",
            "2025-05-03",
            "2025-05-04",
            "2025-05-05",
            "2025-05-06",
            "2025-07-21",
            "2025-08-11",
            "2025-09-15",
            "2025-09-23",
            "2025-10-13",
            "2025-11-03",
            "2025-11-23",
            "2025-11-24",
            "2026-01-01",
            "2026-01-12",
            "2026-02-11",
            "2026-02-23",
            "2026-03-20",
            "2026-04-29",
            "2026-05-03",
            "2026-05-04",
            "2026-05-05",
            "2026-05-06",
            "2026-07-20",
            "2026-08-11",
            "2026-09-21",
            "2026-09-22",
            "2026-09-23",
            "2026-10-12",
            "2026-11-03",
            "2026-11-23",
            "2027-01-01",
            "2027-01-11",
            "2027-02-11",
            "2027-02-23",
            "2027-03-21",
            "2027-03-22",
            "2027-04-29",
            "2027-05-03",
            "2027-05-04",
            "2027-05-05",
            "2027-07-19",
            "2027-08-11",
            "2027-09-20",
            "2027-09-23",
            "2027-10-11",
            "2027-11-03",
            "2027-11-23",
        ];
        let mut got: Vec<String> = HOLIDAYS
            .keys()
            .filter(|d| (2025..=2027).contains(&d.year()))
            .map(|d| d.to_string())
            .collect();
        got.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn substitute_and_citizens_holidays_are_named() {
        // 2026-05-03 is a Sunday: its substitute is the 6th, after Greenery and Children's Day.
        let sub = national_holiday(d("2026-05-06")).unwrap();
        assert_eq!(sub.ja, "憲法記念日の振替休日");
        assert_eq!(sub.en, "Substitute holiday (Constitution Memorial Day)");
        // 2026-09-22 lies between Respect for the Aged Day and the equinox: 国民の休日.
        let citizens = national_holiday(d("2026-09-22")).unwrap();
        assert_eq!(citizens.ja, "国民の休日");
        assert_eq!(national_holiday(d("2026-09-24")), None);
        // Year-end days are not national holidays; they are the municipality's own rule.
        assert_eq!(national_holiday(d("2026-12-29")), None);
        assert_eq!(national_holiday(d("2027-01-02")), None);
    }

    #[test]
    fn maintenance_sunday_follows_the_third_saturday() {
        let rule = DateRule::SundayAfterThirdSaturday;
        // November 2026 starts on a Sunday: the 3rd Saturday is the 21st, closure the 22nd
        // (the 4th Sunday, not the 3rd).
        assert!(rule.matches(d("2026-11-22")));
        assert!(!rule.matches(d("2026-11-15")));
        // December 2026 starts on a Tuesday: 3rd Saturday the 19th, closure the 20th.
        assert!(rule.matches(d("2026-12-20")));
        assert!(!rule.matches(d("2026-12-19")));
        // March 2026 starts on a Sunday as well: closure the 22nd.
        assert!(rule.matches(d("2026-03-22")));
        assert!(!rule.matches(d("2026-03-15")));
        let weekend = DateRule::ThirdSaturdayWeekend;
        assert!(weekend.matches(d("2026-11-21")) && weekend.matches(d("2026-11-22")));
        assert!(!weekend.matches(d("2026-11-14")) && !weekend.matches(d("2026-11-23")));
    }

    #[test]
    fn exactly_one_maintenance_sunday_every_month() {
        let rule = DateRule::SundayAfterThirdSaturday;
        let mut day = d("2025-01-01");
        let mut per_month: HashMap<(i32, u32), u32> = HashMap::new();
        while day <= d("2028-12-31") {
            if rule.matches(day) {
                *per_month.entry((day.year(), day.month())).or_default() += 1;
                assert_eq!(day.weekday(), Weekday::Sun);
                assert!((16..=22).contains(&day.day()), "{day}");
            }
            day += Duration::days(1);
        }
        assert_eq!(per_month.len(), 48);
        assert!(per_month.values().all(|&n| n == 1));
    }

    #[test]
    fn annual_rules_wrap_over_the_new_year() {
        let year_end = DateRule::Annual {
            from: MonthDay::parse("12-29").unwrap(),
            to: MonthDay::parse("01-03").unwrap(),
        };
        for day in ["2026-12-29", "2026-12-31", "2027-01-01", "2027-01-03"] {
            assert!(year_end.matches(d(day)), "{day}");
        }
        for day in ["2026-12-28", "2027-01-04"] {
            assert!(!year_end.matches(d(day)), "{day}");
        }
        let obon = DateRule::Annual {
            from: MonthDay::parse("08-13").unwrap(),
            to: MonthDay::parse("08-15").unwrap(),
        };
        assert!(obon.matches(d("2026-08-14")) && !obon.matches(d("2026-08-16")));
        assert!(MonthDay::parse("02-30").is_err() && MonthDay::parse("13-01").is_err());
    }

    #[test]
    fn nth_weekday_rule_picks_the_right_sundays() {
        let rule = DateRule::NthWeekday {
            weekday: Weekday::Sun,
            nth: vec![2, 4],
        };
        assert!(rule.matches(d("2026-12-13")) && rule.matches(d("2026-12-27")));
        assert!(!rule.matches(d("2026-12-06")) && !rule.matches(d("2026-12-20")));
    }

    fn windows(spec: &[&str]) -> Vec<TimeWindow> {
        spec.iter().map(|w| TimeWindow::parse(w).unwrap()).collect()
    }

    fn weekday_office() -> OfficeCalendar {
        let day = windows(&["08:30-12:00", "13:00-17:00"]);
        OfficeCalendar {
            weekly: WeeklyHours([
                day.clone(),
                day.clone(),
                day.clone(),
                windows(&["08:30-12:00", "13:00-19:00"]),
                day,
                vec![],
                vec![],
            ]),
            holiday_hours: None,
            closures: vec![
                ClosureRule {
                    rule: DateRule::NationalHolidays,
                    name: Text::new("祝日", "Holiday"),
                },
                ClosureRule {
                    rule: DateRule::Annual {
                        from: MonthDay::parse("12-29").unwrap(),
                        to: MonthDay::parse("01-03").unwrap(),
                    },
                    name: Text::new("年末年始", "Year-end holidays"),
                },
            ],
            special_days: vec![SpecialDay {
                rule: DateRule::Dates(vec![d("2026-12-13"), d("2026-12-20")]),
                windows: windows(&["09:00-12:00"]),
                reservation_only: true,
                name: Text::new("休日窓口", "Holiday window"),
            }],
        }
    }

    fn maintenance() -> Vec<ClosureRule> {
        vec![ClosureRule {
            rule: DateRule::SundayAfterThirdSaturday,
            name: Text::new("システムメンテナンス", "System maintenance"),
        }]
    }

    #[test]
    fn day_plans_follow_the_documented_precedence() {
        let cal = weekday_office();
        let sys = maintenance();
        // An ordinary Thursday has the evening window.
        match cal.plan(d("2026-12-03"), &sys) {
            DayPlan::Open(day) => {
                assert_eq!(day.windows, windows(&["08:30-12:00", "13:00-19:00"]));
                assert!(!day.reservation_only);
            }
            other => panic!("{other:?}"),
        }
        // A Saturday without hours is closed.
        assert!(matches!(
            cal.plan(d("2026-12-05"), &sys),
            DayPlan::Closed(Closure {
                kind: ClosureKind::Weekly,
                ..
            })
        ));
        // A special holiday window opens a Sunday, by reservation only.
        match cal.plan(d("2026-12-13"), &sys) {
            DayPlan::Open(day) => assert!(day.reservation_only),
            other => panic!("{other:?}"),
        }
        // ...but not on the maintenance Sunday: the national system is down.
        assert!(matches!(
            cal.plan(d("2026-12-20"), &sys),
            DayPlan::Closed(Closure {
                kind: ClosureKind::SystemMaintenance,
                ..
            })
        ));
        // A national holiday on a weekday is closed, with the holiday's name.
        match cal.plan(d("2026-11-23"), &sys) {
            DayPlan::Closed(c) => {
                assert_eq!(c.kind, ClosureKind::NationalHoliday);
                assert_eq!(c.name.ja, "勤労感謝の日");
            }
            other => panic!("{other:?}"),
        }
        // The year-end closure is the office's own rule.
        assert!(matches!(
            cal.plan(d("2026-12-29"), &sys),
            DayPlan::Closed(Closure {
                kind: ClosureKind::OfficeRule,
                ..
            })
        ));
    }

    #[test]
    fn an_office_open_on_holidays_uses_its_holiday_hours() {
        let mut cal = weekday_office();
        cal.closures
            .retain(|c| c.rule != DateRule::NationalHolidays);
        cal.holiday_hours = Some(windows(&["08:30-16:30"]));
        match cal.plan(d("2026-11-23"), &[]) {
            DayPlan::Open(day) => {
                assert_eq!(day.windows, windows(&["08:30-16:30"]));
                assert_eq!(day.note.unwrap().en, "Labour Thanksgiving Day");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn time_windows_parse_strictly() {
        assert_eq!(
            TimeWindow::parse("08:30-12:00").unwrap().to_string(),
            "08:30-12:00"
        );
        for bad in ["8:30", "12:00-08:30", "08:30-08:30", "25:00-26:00", "a-b"] {
            assert!(TimeWindow::parse(bad).is_err(), "{bad}");
        }
    }
}
