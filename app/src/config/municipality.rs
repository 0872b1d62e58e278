//! The municipality file (TOML): parsed into raw structs that mirror the file, then
//! validated into the domain types. Every error names the field and the problem, so a
//! clerk editing the file can fix it.

use crate::domain::booking::BookingPolicy;
use crate::domain::calendar::{
    ClosureRule, DateRule, MonthDay, OfficeCalendar, SpecialDay, TimeWindow, WeeklyHours,
};
use crate::domain::ids::OfficeId;
use crate::domain::office::{Municipality, Office, OfficeProcedure};
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    Counter, CounterId, LineId, QueuePolicy, ServiceLine, ThresholdUnit, Thresholds,
};
use crate::domain::text::Text;
use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// The bundled sample city of docs/DOMAIN.md, used when no file is configured.
pub const SAMPLE_CITY: &str = include_str!("../../config/sample-city.toml");

#[derive(Debug, thiserror::Error)]
pub enum MunicipalityError {
    #[error("cannot read municipality file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("municipality file {origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("municipality file {origin}: {}", .problems.join("; "))]
    Invalid {
        origin: String,
        problems: Vec<String>,
    },
}

pub fn sample_municipality() -> Result<Municipality, MunicipalityError> {
    parse_municipality(SAMPLE_CITY, "(bundled sample city)")
}

pub fn load_municipality(path: &Path) -> Result<Municipality, MunicipalityError> {
    let text = std::fs::read_to_string(path).map_err(|source| MunicipalityError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_municipality(&text, &path.display().to_string())
}

pub fn parse_municipality(text: &str, origin: &str) -> Result<Municipality, MunicipalityError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| MunicipalityError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string(),
    })?;
    let mut v = Validator::default();
    let municipality = v.file(raw);
    if v.problems.is_empty() && v.conflicts.is_empty() {
        Ok(municipality)
    } else {
        Err(MunicipalityError::Invalid {
            origin: origin.to_owned(),
            problems: v.into_lines(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    municipality: RawMunicipality,
    #[serde(default)]
    system_down: Vec<RawRule>,
    #[serde(default)]
    defaults: RawDefaults,
    offices: Vec<RawOffice>,
    #[serde(default)]
    waiting_rooms: Vec<RoomDefinition>,
}

/// A waiting room in front of a booking release (see docs/WAITING_ROOM.md): an entry of
/// `[[waiting_rooms]]` in the municipality file, or the body of the admin API's
/// `PUT /api/v1/waiting-rooms/{room_id}` (where the path gives the id). Both are
/// validated by the same code into a `WaitingRoom`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomDefinition {
    /// 1–64 letters, digits, `-` or `_`. Required in the file; in the API the path gives
    /// it (a body id must match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: Text,
    /// Office ids; in the file every office when omitted, in the API the admin's office.
    #[serde(default)]
    pub offices: Vec<String>,
    /// Procedure ids, e.g. `cert_renewal`.
    pub procedures: Vec<String>,
    /// The release's slot dates, `YYYY-MM-DD`.
    pub first_date: String,
    pub last_date: String,
    /// RFC 3339, e.g. 2027-01-12T08:30:00+09:00.
    pub opens_at: String,
    #[serde(default = "default_prequeue", deserialize_with = "whole::u32")]
    pub prequeue_minutes: u32,
    /// RFC 3339; 12 hours after the opening when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_at: Option<String>,
    #[serde(default = "default_per_minute", deserialize_with = "whole::u32")]
    pub admissions_per_minute: u32,
    #[serde(default = "default_dropout", deserialize_with = "whole::u32")]
    pub dropout_percent: u32,
    #[serde(default = "default_admission_minutes", deserialize_with = "whole::u32")]
    pub admission_minutes: u32,
    #[serde(default = "default_idle_seconds", deserialize_with = "whole::u32")]
    pub idle_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_release: Option<Text>,
    /// Joining needs a Hashcash proof of this many leading zero bits (0: off).
    #[serde(default, deserialize_with = "whole::u8")]
    pub proof_of_work_bits: u8,
    /// Switch on by itself when booking attempts exceed this many a minute (from
    /// opens_at until closes_at) instead of opening at opens_at.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::optional_u32"
    )]
    pub trigger_per_minute: Option<u32>,
}

/// Whole numbers as JSON Schema counts them: `5892.0` is the integer 5892 (a client that
/// writes numbers as floats is not refused), `5892.5` is not one.
mod whole {
    use serde::de::{Deserializer, Error, Visitor};
    use std::fmt;

    struct Whole;

    impl Visitor<'_> for Whole {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole number")
        }

        fn visit_u64<E: Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }

        fn visit_i64<E: Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::custom("must not be negative"))
        }

        fn visit_f64<E: Error>(self, v: f64) -> Result<u64, E> {
            if v.fract() == 0.0 && v >= 0.0 && crate::num::u64_of_whole(v) < u64::MAX {
                Ok(crate::num::u64_of_whole(v))
            } else {
                Err(E::custom("must be a whole number"))
            }
        }
    }

    fn number<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
        let n = d.deserialize_any(Whole)?;
        T::try_from(n).map_err(|_| D::Error::custom(format!("{n} is too large")))
    }

    pub fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        number(d)
    }

    pub fn u8<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
        number(d)
    }

    pub fn optional_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        struct Maybe;
        impl<'de> Visitor<'de> for Maybe {
            type Value = Option<u32>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number or null")
            }

            fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                number(d).map(Some)
            }
        }
        d.deserialize_option(Maybe)
    }
}

/// Validates one room definition against the municipality's offices (the admin API's
/// path: field names without a prefix). Every problem is returned with its field.
pub fn validate_room(
    def: RoomDefinition,
    offices: &[Office],
) -> Result<crate::domain::waiting_room::WaitingRoom, RoomProblems> {
    let mut v = Validator::default();
    match v.room("", def, offices) {
        Some(room) if v.problems.is_empty() && v.conflicts.is_empty() => Ok(room),
        _ => Err(RoomProblems {
            fields: v.problems,
            conflicts: v.conflicts,
        }),
    }
}

/// Why a room definition was refused, by field: `fields` break the definition's
/// documented form (the OpenAPI schema rules them out: 400), `conflicts` have that form
/// but do not fit together or with the calendar (422).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomProblems {
    pub fields: Vec<(String, String)>,
    pub conflicts: Vec<(String, String)>,
}

/// The longest pre-queue: joinable a day before the opening at most.
pub const MAX_PREQUEUE_MINUTES: u32 = 24 * 60;
/// A release's slot dates span at most this, and it opens at most this long before them.
pub const MAX_RELEASE_DAYS: i64 = 366;
/// A room's line lasts at most this long after its opening.
pub const MAX_ROOM_DAYS: i64 = 31;

/// Room ids go into tokens, cookies and hot-state keys.
pub fn room_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn default_prequeue() -> u32 {
    30
}
fn default_per_minute() -> u32 {
    300
}
fn default_dropout() -> u32 {
    130
}
fn default_admission_minutes() -> u32 {
    10
}
fn default_idle_seconds() -> u32 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMunicipality {
    name: Text,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    evening_cutoff: Option<String>,
    #[serde(default)]
    booking: RawBooking,
    #[serde(default)]
    queue: RawQueue,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    reserved_callable_before_minutes: Option<u16>,
    late_grace_minutes: Option<u16>,
    early_check_in_minutes: Option<u16>,
    priority_ratio: Option<u16>,
    transfer_keeps_place: Option<bool>,
    opens_before_minutes: Option<u16>,
    last_intake_before_close_minutes: Option<u16>,
    close_on_forecast: Option<bool>,
    thresholds: Option<RawThresholds>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    unit: String,
    moderate: u32,
    crowded: u32,
}

/// `counters = 6` (counters "1".."6", each serving every line) or a list of tables.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawCounters {
    Count(u16),
    List(Vec<RawCounter>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCounter {
    id: String,
    name: Option<Text>,
    /// The lines it calls from; all lines when omitted.
    lines: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    id: String,
    prefix: String,
    name: Text,
    procedures: Vec<String>,
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawBooking {
    opens_days_ahead: Option<u16>,
    opens_at: Option<String>,
    closes_days_before: Option<u16>,
    min_lead_minutes: Option<u16>,
    cancel_days_before: Option<u16>,
    hold_minutes: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffice {
    id: String,
    name: Text,
    address: Text,
    phone: Option<String>,
    counters: RawCounters,
    #[serde(default)]
    lines: Vec<RawLine>,
    #[serde(default)]
    queue: RawQueue,
    #[serde(default)]
    hours: RawHours,
    holiday_hours: Option<Vec<String>>,
    #[serde(default)]
    closures: Vec<RawRule>,
    #[serde(default)]
    special_days: Vec<RawSpecialDay>,
    evening_cutoff: Option<String>,
    #[serde(default)]
    booking: RawBooking,
    procedures: BTreeMap<String, RawProcedure>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHours {
    #[serde(default)]
    mon: Vec<String>,
    #[serde(default)]
    tue: Vec<String>,
    #[serde(default)]
    wed: Vec<String>,
    #[serde(default)]
    thu: Vec<String>,
    #[serde(default)]
    fri: Vec<String>,
    #[serde(default)]
    sat: Vec<String>,
    #[serde(default)]
    sun: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    rule: String,
    name: Option<Text>,
    from: Option<String>,
    to: Option<String>,
    dates: Option<Vec<String>>,
    weekday: Option<String>,
    nth: Option<Vec<u8>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpecialDay {
    rule: String,
    from: Option<String>,
    to: Option<String>,
    dates: Option<Vec<String>>,
    weekday: Option<String>,
    nth: Option<Vec<u8>>,
    hours: Vec<String>,
    #[serde(default)]
    reservation_only: bool,
    name: Text,
}

/// The fields that describe a date rule, shared by closures and special days.
struct RawRuleFields {
    rule: String,
    from: Option<String>,
    to: Option<String>,
    dates: Option<Vec<String>>,
    weekday: Option<String>,
    nth: Option<Vec<u8>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcedure {
    #[serde(default = "yes")]
    bookable: bool,
    capacity: u16,
    slot_minutes: Option<u16>,
    #[serde(default)]
    proxy: bool,
    #[serde(default = "yes")]
    walk_in: bool,
}

fn yes() -> bool {
    true
}

const DEFAULT_BOOKING: BookingPolicy = BookingPolicy {
    opens_days_ahead: 45,
    opens_at: NaiveTime::MIN,
    closes_days_before: 3,
    min_lead_minutes: 30,
    cancel_days_before: 2,
    hold_minutes: 30,
};

/// Collects every problem of a file (or of one room definition) with its field path.
#[derive(Default)]
struct Validator {
    problems: Vec<(String, String)>,
    /// Values of the right form that do not fit together (see `RoomProblems`).
    conflicts: Vec<(String, String)>,
}

impl Validator {
    fn problem(&mut self, field: &str, message: impl std::fmt::Display) {
        self.problems.push((field.to_owned(), message.to_string()));
    }

    fn conflict(&mut self, field: &str, message: impl std::fmt::Display) {
        self.conflicts.push((field.to_owned(), message.to_string()));
    }

    fn into_lines(self) -> Vec<String> {
        self.problems
            .into_iter()
            .chain(self.conflicts)
            .map(|(field, message)| format!("{field}: {message}"))
            .collect()
    }

    fn file(&mut self, raw: RawFile) -> Municipality {
        let system_down = raw
            .system_down
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| self.closure(&format!("system_down[{i}]"), r))
            .collect();
        let default_cutoff = self.time_opt(
            "defaults.evening_cutoff",
            raw.defaults.evening_cutoff.as_deref(),
        );
        let default_booking =
            self.booking("defaults.booking", &raw.defaults.booking, DEFAULT_BOOKING);
        let default_queue = self.queue(
            "defaults.queue",
            &raw.defaults.queue,
            QueuePolicy::default(),
        );
        if raw.offices.is_empty() {
            self.problem("offices", "at least one office is needed");
        }
        let mut seen = HashSet::new();
        let offices: Vec<Office> = raw
            .offices
            .into_iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let at = format!("offices[{i}]");
                if !seen.insert(o.id.clone()) {
                    self.problem(
                        &format!("{at}.id"),
                        format!("{:?} is used by another office", o.id),
                    );
                }
                self.office(&at, o, default_cutoff, default_booking, default_queue)
            })
            .collect();
        let mut room_ids = HashSet::new();
        let waiting_rooms = raw
            .waiting_rooms
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let at = format!("waiting_rooms[{i}]");
                if let Some(id) = &r.id
                    && !room_ids.insert(id.clone())
                {
                    self.problem(
                        &format!("{at}.id"),
                        format!("{id:?} is used by another room"),
                    );
                }
                self.room(&at, r, &offices)
            })
            .collect();
        Municipality {
            name: raw.municipality.name,
            offices,
            system_down,
            waiting_rooms,
        }
    }

    fn room(
        &mut self,
        at: &str,
        raw: RoomDefinition,
        offices: &[Office],
    ) -> Option<crate::domain::waiting_room::WaitingRoom> {
        use crate::domain::waiting_room::{AdmissionPolicy, WaitingRoom};
        let before = (self.problems.len(), self.conflicts.len());
        // `at` is empty for a definition on its own (the admin API): bare field names.
        let field = |name: &str| {
            if at.is_empty() {
                name.to_owned()
            } else {
                format!("{at}.{name}")
            }
        };
        let id = raw.id.clone().unwrap_or_default();
        if !room_id_ok(&id) {
            self.problem(&field("id"), "use 1–64 letters, digits, - or _");
        }
        let office_ids: Vec<OfficeId> = if raw.offices.is_empty() {
            offices.iter().map(|o| o.id.clone()).collect()
        } else {
            raw.offices
                .iter()
                .filter_map(|o| match offices.iter().find(|x| x.id.as_str() == o) {
                    Some(x) => Some(x.id.clone()),
                    None => {
                        self.problem(&field("offices"), format!("no office {o:?}"));
                        None
                    }
                })
                .collect()
        };
        let procedures: Vec<ProcedureId> = raw
            .procedures
            .iter()
            .filter_map(|p| match p.parse::<ProcedureId>() {
                Ok(p) => Some(p),
                Err(e) => {
                    self.problem(&field("procedures"), e);
                    None
                }
            })
            .collect();
        if procedures.is_empty() {
            self.problem(&field("procedures"), "name at least one procedure");
        }
        let date = |v: &mut Self, name: &str, raw: &str| match NaiveDate::parse_from_str(
            raw, "%Y-%m-%d",
        ) {
            Ok(d) => Some(d),
            Err(_) => {
                v.problem(&field(name), "use YYYY-MM-DD");
                None
            }
        };
        let first = date(self, "first_date", &raw.first_date);
        let last = date(self, "last_date", &raw.last_date);
        if let (Some(f), Some(l)) = (first, last)
            && l < f
        {
            self.conflict(&field("last_date"), "is before first_date");
        }
        let instant =
            |v: &mut Self, name: &str, raw: &str| match chrono::DateTime::parse_from_rfc3339(raw) {
                Ok(t) => Some(t.to_utc()),
                Err(_) => {
                    v.problem(&field(name), "use RFC 3339, e.g. 2027-01-12T08:30:00+09:00");
                    None
                }
            };
        let opens_at = instant(self, "opens_at", &raw.opens_at);
        let closes_at = match (&raw.closes_at, opens_at) {
            (Some(c), _) => instant(self, "closes_at", c),
            (None, Some(o)) => Some(o + chrono::Duration::hours(12)),
            (None, None) => None,
        };
        // A room may end before its opening (an operator cancelling it during the
        // pre-queue), but not before anyone could join it.
        let prequeue = if raw.trigger_per_minute.is_some() {
            chrono::Duration::zero()
        } else {
            chrono::Duration::minutes(i64::from(raw.prequeue_minutes))
        };
        if let (Some(o), Some(c)) = (opens_at, closes_at)
            && c <= o - prequeue
        {
            self.conflict(
                &field("closes_at"),
                "must be after the room becomes joinable (opens_at − prequeue_minutes)",
            );
        }
        // Every number within what a release can mean: a pre-queue of 2,147,483,647
        // minutes made a room joinable since the year −2057 and gated every booking of
        // its dates at once.
        let mut within =
            |name: &str, value: u32, range: std::ops::RangeInclusive<u32>, why: &str| {
                if !range.contains(&value) {
                    self.problem(
                        &field(name),
                        format!(
                            "must be between {} and {} ({why})",
                            range.start(),
                            range.end()
                        ),
                    );
                }
            };
        within(
            "prequeue_minutes",
            raw.prequeue_minutes,
            0..=MAX_PREQUEUE_MINUTES,
            "a day at most",
        );
        within(
            "admissions_per_minute",
            raw.admissions_per_minute,
            1..=1_000_000,
            "residents let through a minute",
        );
        within(
            "dropout_percent",
            raw.dropout_percent,
            100..=1_000,
            "admissions per seat, in per cent",
        );
        within(
            "admission_minutes",
            raw.admission_minutes,
            1..=120,
            "how long an admission lasts",
        );
        within(
            "idle_seconds",
            raw.idle_seconds,
            5..=3_600,
            "a place is given up after this silence",
        );
        if let Some(trigger) = raw.trigger_per_minute {
            within(
                "trigger_per_minute",
                trigger,
                1..=1_000_000,
                "booking attempts a minute",
            );
        }
        within(
            "proof_of_work_bits",
            u32::from(raw.proof_of_work_bits),
            0..=24,
            "each bit doubles a phone's work",
        );
        // The dates and times against each other: a release covers at most a year of
        // slots, opens at most a year before them and not after them, and its line
        // lasts at most a month.
        if let (Some(f), Some(l)) = (first, last)
            && l - f > chrono::Duration::days(MAX_RELEASE_DAYS)
        {
            self.conflict(
                &field("last_date"),
                format!("at most {MAX_RELEASE_DAYS} days after first_date"),
            );
        }
        if let (Some(o), Some(f), Some(l)) = (opens_at, first, last) {
            let opening_day = crate::domain::time::tokyo_date(o);
            if opening_day > l {
                self.conflict(
                    &field("opens_at"),
                    "is after last_date: nothing left to release",
                );
            } else if f - opening_day > chrono::Duration::days(MAX_RELEASE_DAYS) {
                self.conflict(
                    &field("opens_at"),
                    format!("at most {MAX_RELEASE_DAYS} days before first_date"),
                );
            }
        }
        if let (Some(o), Some(c)) = (opens_at, closes_at)
            && c - o > chrono::Duration::days(MAX_ROOM_DAYS)
        {
            self.conflict(
                &field("closes_at"),
                format!("at most {MAX_ROOM_DAYS} days after opens_at"),
            );
        }
        let mut text = |name: &str, t: &Text, max: usize| {
            for (lang, value) in [("ja", &t.ja), ("en", &t.en)] {
                // Counted as given (the published maxLength); spaces alone are empty.
                let chars = value.chars().count();
                if value.trim().is_empty() || chars > max {
                    self.problem(
                        &format!("{}.{lang}", field(name)),
                        format!("1–{max} characters"),
                    );
                }
            }
        };
        text("name", &raw.name, 100);
        if let Some(next) = &raw.next_release {
            text("next_release", next, 300);
        }
        if (self.problems.len(), self.conflicts.len()) != before {
            return None;
        }
        Some(WaitingRoom {
            id,
            name: raw.name,
            offices: office_ids,
            procedures,
            first_date: first?,
            last_date: last?,
            opens_at: opens_at?,
            // A room that switches on by itself has no pre-queue: nobody knew it would open.
            prequeue,
            closes_at: closes_at?,
            policy: AdmissionPolicy {
                per_minute: raw.admissions_per_minute,
                dropout_percent: raw.dropout_percent,
                admission_ttl: chrono::Duration::minutes(i64::from(raw.admission_minutes.max(1))),
                idle_after: chrono::Duration::seconds(i64::from(raw.idle_seconds.max(5))),
            },
            next_release: raw.next_release,
            proof_bits: raw.proof_of_work_bits,
            trigger_per_minute: raw.trigger_per_minute,
        })
    }

    fn office(
        &mut self,
        at: &str,
        raw: RawOffice,
        default_cutoff: Option<NaiveTime>,
        default_booking: BookingPolicy,
        default_queue: QueuePolicy,
    ) -> Option<Office> {
        let id = OfficeId::parse(&raw.id)
            .map_err(|e| self.problem(&format!("{at}.id"), e))
            .ok();
        let counter_count = match &raw.counters {
            RawCounters::Count(n) => *n,
            RawCounters::List(list) => u16::try_from(list.len()).unwrap_or(u16::MAX),
        };
        if !(1..=100).contains(&counter_count) {
            self.problem(
                &format!("{at}.counters"),
                "must be between 1 and 100 counters",
            );
        }
        let h = &raw.hours;
        let days = [
            ("mon", &h.mon),
            ("tue", &h.tue),
            ("wed", &h.wed),
            ("thu", &h.thu),
            ("fri", &h.fri),
            ("sat", &h.sat),
            ("sun", &h.sun),
        ];
        let weekly: [Vec<TimeWindow>; 7] =
            days.map(|(name, day)| self.windows(&format!("{at}.hours.{name}"), day));
        let holiday_hours = raw
            .holiday_hours
            .as_ref()
            .map(|w| self.windows(&format!("{at}.holiday_hours"), w));
        let closures = raw
            .closures
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| self.closure(&format!("{at}.closures[{i}]"), r))
            .collect();
        let special_days = raw
            .special_days
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| self.special_day(&format!("{at}.special_days[{i}]"), s))
            .collect();
        let evening_cutoff = self
            .time_opt(
                &format!("{at}.evening_cutoff"),
                raw.evening_cutoff.as_deref(),
            )
            .or(default_cutoff);
        let booking = self.booking(&format!("{at}.booking"), &raw.booking, default_booking);
        let mut procedures = BTreeMap::new();
        if raw.procedures.is_empty() {
            self.problem(
                &format!("{at}.procedures"),
                "an office must offer at least one procedure",
            );
        }
        for (name, p) in raw.procedures {
            let field = format!("{at}.procedures.{name}");
            let id = match name.parse::<ProcedureId>() {
                Ok(id) => id,
                Err(e) => {
                    self.problem(&field, e);
                    continue;
                }
            };
            let slot_minutes = p.slot_minutes.unwrap_or(id.info().nominal_minutes);
            if !(5..=240).contains(&slot_minutes) {
                self.problem(
                    &format!("{field}.slot_minutes"),
                    "must be between 5 and 240",
                );
            }
            if p.capacity == 0 || p.capacity > counter_count {
                self.problem(
                    &format!("{field}.capacity"),
                    format!("must be between 1 and the office's counters ({counter_count})"),
                );
            }
            if p.proxy && !id.info().proxy_possible {
                self.problem(
                    &format!("{field}.proxy"),
                    format!("{id} must be done in person; a representative cannot do it"),
                );
            }
            procedures.insert(
                id,
                OfficeProcedure {
                    bookable: p.bookable,
                    capacity: p.capacity,
                    slot_minutes,
                    proxy: p.proxy,
                    walk_in: p.walk_in,
                },
            );
        }
        let lines = self.lines(at, &raw.lines, &procedures);
        let counters = self.counters(at, raw.counters, &lines);
        let queue = self.queue(&format!("{at}.queue"), &raw.queue, default_queue);
        Some(Office {
            id: id?,
            name: raw.name,
            address: raw.address,
            phone: raw.phone,
            counters,
            lines,
            queue,
            calendar: OfficeCalendar {
                weekly: WeeklyHours(weekly),
                holiday_hours,
                closures,
                special_days,
            },
            evening_cutoff,
            procedures,
            booking,
        })
    }

    /// The office's service lines; one line `a` (prefix `A`) for everything when none
    /// are configured. Every procedure queues in exactly one line: walk-ins, and
    /// reserved residents when they check in.
    fn lines(
        &mut self,
        at: &str,
        raw: &[RawLine],
        procedures: &BTreeMap<ProcedureId, OfficeProcedure>,
    ) -> Vec<ServiceLine> {
        let offered: Vec<ProcedureId> = procedures.keys().copied().collect();
        if raw.is_empty() {
            return vec![ServiceLine {
                id: LineId::first(),
                prefix: "A".into(),
                name: Text::new("窓口", "Counter"),
                procedures: offered,
            }];
        }
        let mut lines = Vec::new();
        let mut prefixes = HashSet::new();
        for (i, line) in raw.iter().enumerate() {
            let field = format!("{at}.lines[{i}]");
            let id = LineId::parse(&line.id)
                .map_err(|e| self.problem(&format!("{field}.id"), e))
                .ok();
            let prefix_ok = (1..=2).contains(&line.prefix.len())
                && line.prefix.bytes().all(|b| b.is_ascii_uppercase());
            if !prefix_ok {
                self.problem(
                    &format!("{field}.prefix"),
                    "must be 1 or 2 capital letters, like \"A\"",
                );
            } else if !prefixes.insert(line.prefix.clone()) {
                self.problem(
                    &format!("{field}.prefix"),
                    format!("{:?} is used by another line", line.prefix),
                );
            }
            let mut ids = Vec::new();
            for (j, name) in line.procedures.iter().enumerate() {
                match name.parse::<ProcedureId>() {
                    Ok(p) if procedures.contains_key(&p) => ids.push(p),
                    Ok(p) => self.problem(
                        &format!("{field}.procedures[{j}]"),
                        format!("{p} is not offered by this office"),
                    ),
                    Err(e) => self.problem(&format!("{field}.procedures[{j}]"), e),
                }
            }
            if let Some(id) = id {
                lines.push(ServiceLine {
                    id,
                    prefix: line.prefix.clone(),
                    name: line.name.clone(),
                    procedures: ids,
                });
            }
        }
        for p in offered {
            let n = lines.iter().filter(|l| l.procedures.contains(&p)).count();
            if n != 1 {
                self.problem(
                    &format!("{at}.lines"),
                    format!("procedure {p} must be in exactly one line (it is in {n})"),
                );
            }
        }
        let mut seen = HashSet::new();
        for line in &lines {
            if !seen.insert(line.id.clone()) {
                self.problem(
                    &format!("{at}.lines"),
                    format!("line id {:?} is used twice", line.id.as_str()),
                );
            }
        }
        lines
    }

    fn counters(&mut self, at: &str, raw: RawCounters, lines: &[ServiceLine]) -> Vec<Counter> {
        let all: Vec<LineId> = lines.iter().map(|l| l.id.clone()).collect();
        let counters: Vec<Counter> = match raw {
            RawCounters::Count(n) => (1..=n)
                .filter_map(|i| {
                    Some(Counter {
                        id: CounterId::parse(&i.to_string()).ok()?,
                        name: Text::owned(format!("{i}番窓口"), format!("Counter {i}")),
                        lines: all.clone(),
                    })
                })
                .collect(),
            RawCounters::List(list) => list
                .into_iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let field = format!("{at}.counters[{i}]");
                    let id = CounterId::parse(&c.id)
                        .map_err(|e| self.problem(&format!("{field}.id"), e))
                        .ok()?;
                    let serves = match c.lines {
                        None => all.clone(),
                        Some(names) => names
                            .iter()
                            .enumerate()
                            .filter_map(|(j, n)| {
                                let found = all.iter().find(|l| l.as_str() == n).cloned();
                                if found.is_none() {
                                    self.problem(
                                        &format!("{field}.lines[{j}]"),
                                        format!("no line {n:?} at this office"),
                                    );
                                }
                                found
                            })
                            .collect(),
                    };
                    let name = c.name.unwrap_or_else(|| {
                        Text::owned(format!("{}番窓口", c.id), format!("Counter {}", c.id))
                    });
                    Some(Counter {
                        id,
                        name,
                        lines: serves,
                    })
                })
                .collect(),
        };
        let mut seen = HashSet::new();
        for c in &counters {
            if !seen.insert(c.id.clone()) {
                self.problem(
                    &format!("{at}.counters"),
                    format!("counter id {:?} is used twice", c.id.as_str()),
                );
            }
        }
        for line in lines {
            if !counters.iter().any(|c| c.lines.contains(&line.id)) {
                self.problem(
                    &format!("{at}.lines"),
                    format!("no counter calls from line {:?}", line.id.as_str()),
                );
            }
        }
        counters
    }

    fn queue(&mut self, at: &str, raw: &RawQueue, base: QueuePolicy) -> QueuePolicy {
        let thresholds = match &raw.thresholds {
            None => base.thresholds,
            Some(t) => {
                let unit = match t.unit.as_str() {
                    "minutes" => ThresholdUnit::Minutes,
                    "people" => ThresholdUnit::People,
                    other => {
                        self.problem(
                            &format!("{at}.thresholds.unit"),
                            format!("{other:?} must be \"minutes\" or \"people\""),
                        );
                        ThresholdUnit::Minutes
                    }
                };
                if t.moderate == 0 || t.crowded <= t.moderate {
                    self.problem(&format!("{at}.thresholds"), "need 0 < moderate < crowded");
                }
                Thresholds {
                    unit,
                    moderate: t.moderate,
                    crowded: t.crowded,
                }
            }
        };
        let policy = QueuePolicy {
            reserved_callable_before_minutes: raw
                .reserved_callable_before_minutes
                .unwrap_or(base.reserved_callable_before_minutes),
            late_grace_minutes: raw.late_grace_minutes.unwrap_or(base.late_grace_minutes),
            early_check_in_minutes: raw
                .early_check_in_minutes
                .unwrap_or(base.early_check_in_minutes),
            priority_ratio: raw.priority_ratio.unwrap_or(base.priority_ratio),
            transfer_keeps_place: raw
                .transfer_keeps_place
                .unwrap_or(base.transfer_keeps_place),
            opens_before_minutes: raw
                .opens_before_minutes
                .unwrap_or(base.opens_before_minutes),
            last_intake_before_close_minutes: raw
                .last_intake_before_close_minutes
                .unwrap_or(base.last_intake_before_close_minutes),
            close_on_forecast: raw.close_on_forecast.unwrap_or(base.close_on_forecast),
            thresholds,
        };
        if policy.priority_ratio == 0 {
            self.problem(&format!("{at}.priority_ratio"), "must be at least 1");
        }
        if policy.early_check_in_minutes > 24 * 60 || policy.late_grace_minutes > 240 {
            self.problem(at, "check-in windows must be within a day");
        }
        policy
    }

    fn booking(&mut self, at: &str, raw: &RawBooking, base: BookingPolicy) -> BookingPolicy {
        let policy = BookingPolicy {
            opens_days_ahead: raw.opens_days_ahead.unwrap_or(base.opens_days_ahead),
            opens_at: self
                .time_opt(&format!("{at}.opens_at"), raw.opens_at.as_deref())
                .unwrap_or(base.opens_at),
            closes_days_before: raw.closes_days_before.unwrap_or(base.closes_days_before),
            min_lead_minutes: raw.min_lead_minutes.unwrap_or(base.min_lead_minutes),
            cancel_days_before: raw.cancel_days_before.unwrap_or(base.cancel_days_before),
            hold_minutes: raw.hold_minutes.unwrap_or(base.hold_minutes),
        };
        if !(1..=366).contains(&policy.opens_days_ahead) {
            self.problem(
                &format!("{at}.opens_days_ahead"),
                "must be between 1 and 366",
            );
        }
        if policy.closes_days_before > policy.opens_days_ahead {
            self.problem(
                &format!("{at}.closes_days_before"),
                "must not be more than opens_days_ahead, or nothing could ever be booked",
            );
        }
        if policy.cancel_days_before > 60 {
            self.problem(&format!("{at}.cancel_days_before"), "must be at most 60");
        }
        if !(1..=240).contains(&policy.hold_minutes) {
            self.problem(&format!("{at}.hold_minutes"), "must be between 1 and 240");
        }
        if policy.min_lead_minutes > 24 * 60 {
            self.problem(&format!("{at}.min_lead_minutes"), "must be at most 1440");
        }
        policy
    }

    fn time_opt(&mut self, field: &str, raw: Option<&str>) -> Option<NaiveTime> {
        let raw = raw?;
        NaiveTime::parse_from_str(raw, "%H:%M")
            .map_err(|_| self.problem(field, format!("{raw:?} is not a time like \"19:30\"")))
            .ok()
    }

    fn windows(&mut self, field: &str, raw: &[String]) -> Vec<TimeWindow> {
        let mut windows: Vec<TimeWindow> = raw
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                TimeWindow::parse(w)
                    .map_err(|e| self.problem(&format!("{field}[{i}]"), e))
                    .ok()
            })
            .collect();
        windows.sort_by_key(|w| w.start);
        if windows
            .windows(2)
            .any(|p| matches!(p, [a, b] if b.start < a.end))
        {
            self.problem(field, "time windows overlap");
        }
        windows
    }

    fn closure(&mut self, at: &str, raw: RawRule) -> Option<ClosureRule> {
        let fields = RawRuleFields {
            rule: raw.rule,
            from: raw.from,
            to: raw.to,
            dates: raw.dates,
            weekday: raw.weekday,
            nth: raw.nth,
        };
        let rule = self.rule(at, fields)?;
        let name = match (&rule, raw.name) {
            (_, Some(name)) => name,
            (DateRule::NationalHolidays, None) => Text::new("祝日", "National holiday"),
            (DateRule::SundayAfterThirdSaturday, None) => {
                Text::new("システムメンテナンス日", "National card system maintenance")
            }
            _ => {
                self.problem(
                    &format!("{at}.name"),
                    "a closure needs a name to show residents",
                );
                return None;
            }
        };
        Some(ClosureRule { rule, name })
    }

    fn special_day(&mut self, at: &str, raw: RawSpecialDay) -> Option<SpecialDay> {
        let fields = RawRuleFields {
            rule: raw.rule,
            from: raw.from,
            to: raw.to,
            dates: raw.dates,
            weekday: raw.weekday,
            nth: raw.nth,
        };
        let rule = self.rule(at, fields)?;
        if matches!(rule, DateRule::NationalHolidays) {
            self.problem(
                &format!("{at}.rule"),
                "use holiday_hours to open on national holidays",
            );
        }
        let windows = self.windows(&format!("{at}.hours"), &raw.hours);
        if windows.is_empty() {
            self.problem(
                &format!("{at}.hours"),
                "a special open day needs at least one time window",
            );
        }
        Some(SpecialDay {
            rule,
            windows,
            reservation_only: raw.reservation_only,
            name: raw.name,
        })
    }

    fn rule(&mut self, at: &str, raw: RawRuleFields) -> Option<DateRule> {
        let mut date = |s: &str, field: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| {
                    self.problems.push((
                        format!("{at}.{field}"),
                        format!("{s:?} is not a date like \"2026-12-29\""),
                    ))
                })
                .ok()
        };
        let rule = match raw.rule.as_str() {
            "national_holidays" => DateRule::NationalHolidays,
            "sunday_after_third_saturday" => DateRule::SundayAfterThirdSaturday,
            "third_saturday_weekend" => DateRule::ThirdSaturdayWeekend,
            "annual" => {
                let (Some(from), Some(to)) = (raw.from.as_deref(), raw.to.as_deref()) else {
                    self.problem(
                        at,
                        "an annual rule needs from and to, like \"12-29\" and \"01-03\"",
                    );
                    return None;
                };
                let from =
                    MonthDay::parse(from).map_err(|e| self.problem(&format!("{at}.from"), e));
                let to = MonthDay::parse(to).map_err(|e| self.problem(&format!("{at}.to"), e));
                DateRule::Annual {
                    from: from.ok()?,
                    to: to.ok()?,
                }
            }
            "range" => {
                let (Some(from), Some(to)) = (raw.from.as_deref(), raw.to.as_deref()) else {
                    self.problem(at, "a range needs from and to dates");
                    return None;
                };
                let (from, to) = (date(from, "from")?, date(to, "to")?);
                if to < from {
                    self.problem(&format!("{at}.to"), "ends before from");
                }
                DateRule::Range { from, to }
            }
            "dates" => {
                let Some(dates) = raw.dates.as_ref().filter(|d| !d.is_empty()) else {
                    self.problem(&format!("{at}.dates"), "list at least one date");
                    return None;
                };
                let parsed: Vec<NaiveDate> = dates
                    .iter()
                    .enumerate()
                    .filter_map(|(i, d)| date(d, &format!("dates[{i}]")))
                    .collect();
                DateRule::Dates(parsed)
            }
            "nth_weekday" => {
                let weekday = match raw.weekday.as_deref().map(parse_weekday) {
                    Some(Some(w)) => w,
                    _ => {
                        self.problem(
                            &format!("{at}.weekday"),
                            "must be one of mon, tue, wed, thu, fri, sat, sun",
                        );
                        return None;
                    }
                };
                let nth = raw.nth.unwrap_or_default();
                if nth.is_empty() || nth.iter().any(|n| !(1..=5).contains(n)) {
                    self.problem(
                        &format!("{at}.nth"),
                        "list which weekdays of the month, 1 to 5",
                    );
                    return None;
                }
                DateRule::NthWeekday { weekday, nth }
            }
            other => {
                self.problem(
                    &format!("{at}.rule"),
                    format!(
                        "unknown rule {other:?}; known: national_holidays, annual, range, dates, \
                         nth_weekday, sunday_after_third_saturday, third_saturday_weekend"
                    ),
                );
                return None;
            }
        };
        Some(rule)
    }
}

fn parse_weekday(raw: &str) -> Option<Weekday> {
    Some(match raw {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::DayPlan;
    use crate::domain::queue::ThresholdUnit;

    #[test]
    fn the_sample_city_is_valid_and_has_the_offices_of_the_brief() {
        let city = sample_municipality().unwrap();
        let ids: Vec<&str> = city.offices.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["main", "north", "south", "mall"]);
        let main = city.office("main").unwrap();
        assert_eq!(main.counters.len(), 6);
        let prefixes: Vec<&str> = main.lines.iter().map(|l| l.prefix.as_str()).collect();
        assert_eq!(prefixes, ["A", "B", "C"]);
        assert_eq!(main.line_of(ProcedureId::PinReset).unwrap().prefix, "B");
        let callers: Vec<&str> = main
            .counters_of(&main.lines[2].id)
            .map(|c| c.as_str())
            .collect();
        assert_eq!(callers, ["5", "6"]);
        let north = city.office("north").unwrap();
        assert_eq!(north.queue.thresholds.unit, ThresholdUnit::People);
        assert_eq!(main.queue.thresholds.unit, ThresholdUnit::Minutes);
        assert_eq!(main.queue.priority_ratio, 3);
        assert_eq!(main.procedures.len(), 8);
        assert!(
            main.procedures
                .values()
                .all(|p| p.proxy || !p.bookable || p.slot_minutes == 30)
        );
        let north = city.office("north").unwrap();
        assert!(north.procedures.values().all(|p| !p.proxy));
        assert!(!city.office("mall").unwrap().procedures[&ProcedureId::PinReset].bookable);
        assert_eq!(main.booking.opens_days_ahead, 45);
        assert_eq!(main.evening_cutoff, NaiveTime::from_hms_opt(19, 30, 0));
    }

    #[test]
    fn the_mall_opens_on_holidays_and_closes_the_third_weekend() {
        let city = sample_municipality().unwrap();
        let mall = city.office("mall").unwrap();
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(matches!(
            city.day_plan(mall, day("2026-11-23")),
            DayPlan::Open(_)
        ));
        assert!(matches!(
            city.day_plan(mall, day("2026-12-19")),
            DayPlan::Closed(_)
        ));
        assert!(matches!(
            city.day_plan(mall, day("2026-12-12")),
            DayPlan::Open(_)
        ));
        let main = city.office("main").unwrap();
        assert!(
            matches!(city.day_plan(main, day("2026-12-13")), DayPlan::Open(ref d) if d.reservation_only)
        );
    }

    fn invalid(text: &str) -> String {
        match parse_municipality(text, "test.toml") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("should be refused:\n{text}"),
        }
    }

    const MINIMAL: &str = r#"
        [municipality]
        name = { ja = "市", en = "City" }
        [[offices]]
        id = "main"
        name = { ja = "本庁", en = "Main" }
        address = { ja = "住所", en = "Address" }
        counters = 2
        hours.mon = ["08:30-12:00"]
        [offices.procedures]
        cert_renewal = { capacity = 1 }
    "#;

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let city = parse_municipality(MINIMAL, "test.toml").unwrap();
        let office = &city.offices[0];
        assert_eq!(office.booking.hold_minutes, 30);
        assert_eq!(
            office.procedures[&ProcedureId::CertRenewal].slot_minutes,
            15
        );
        assert!(office.procedures[&ProcedureId::CertRenewal].bookable);
    }

    #[test]
    fn errors_name_the_field_and_the_problem() {
        let e = invalid(&MINIMAL.replace("capacity = 1", "capacity = 3"));
        assert!(e.contains("offices[0].procedures.cert_renewal.capacity: must be between 1 and the office's counters (2)"), "{e}");
        let e = invalid(&MINIMAL.replace("08:30-12:00", "12:00-08:30"));
        assert!(e.contains("offices[0].hours.mon[0]"), "{e}");
        let e = invalid(&MINIMAL.replace("cert_renewal", "renewal"));
        assert!(
            e.contains("offices[0].procedures.renewal: unknown procedure"),
            "{e}"
        );
        let e = invalid(&MINIMAL.replace("id = \"main\"", "id = \"Main Office\""));
        assert!(e.contains("offices[0].id"), "{e}");
        let e = invalid(&MINIMAL.replace("capacity = 1 }", "capacity = 1, capcity = 2 }"));
        assert!(e.contains("unknown field `capcity`"), "{e}");
        let e = invalid(&MINIMAL.replace(
            "cert_renewal = { capacity = 1 }",
            "application_support = { capacity = 1, proxy = true }",
        ));
        assert!(e.contains("application_support.proxy"), "{e}");
        let e = invalid(&format!(
            "{MINIMAL}\n[[system_down]]\nrule = \"annual\"\nfrom = \"02-30\"\nto = \"03-01\"\nname = {{ ja = \"x\", en = \"x\" }}"
        ));
        assert!(e.contains("system_down[0].from"), "{e}");
    }

    #[test]
    fn an_office_without_lines_gets_one_line_for_every_walk_in_procedure() {
        let city = parse_municipality(MINIMAL, "test.toml").unwrap();
        let office = &city.offices[0];
        assert_eq!(office.lines.len(), 1);
        assert_eq!(office.lines[0].prefix, "A");
        assert_eq!(office.lines[0].procedures, [ProcedureId::CertRenewal]);
        assert_eq!(office.counters.len(), 2);
        assert!(
            office
                .counters
                .iter()
                .all(|c| c.lines == [office.lines[0].id.clone()])
        );
    }

    #[test]
    fn lines_and_counters_must_fit_together() {
        let with = |lines: &str, counters: &str| {
            MINIMAL
                .replace(
                    "counters = 2",
                    &format!("lines = {lines}\ncounters = {counters}"),
                )
                .replace(
                    "cert_renewal = { capacity = 1 }",
                    "cert_renewal = { capacity = 1 }\ncard_pickup = { capacity = 1 }",
                )
        };
        let two = r#"[{ id = "a", prefix = "A", name = { ja = "a", en = "a" }, procedures = ["cert_renewal"] }, { id = "b", prefix = "B", name = { ja = "b", en = "b" }, procedures = ["card_pickup"] }]"#;
        assert!(
            parse_municipality(
                &with(two, r#"[{ id = "1", lines = ["a"] }, { id = "2" }]"#),
                "t"
            )
            .is_ok()
        );
        let e = invalid(&with(two, r#"[{ id = "1", lines = ["a"] }]"#));
        assert!(e.contains("no counter calls from line \"b\""), "{e}");
        let e = invalid(&with(two, r#"[{ id = "1", lines = ["z"] }, { id = "2" }]"#));
        assert!(
            e.contains("offices[0].counters[0].lines[0]: no line \"z\""),
            "{e}"
        );
        let one = r#"[{ id = "a", prefix = "A", name = { ja = "a", en = "a" }, procedures = ["cert_renewal"] }]"#;
        let e = invalid(&with(one, "2"));
        assert!(
            e.contains("procedure card_pickup must be in exactly one line (it is in 0)"),
            "{e}"
        );
        let clash = r#"[{ id = "a", prefix = "A", name = { ja = "a", en = "a" }, procedures = ["cert_renewal"] }, { id = "b", prefix = "A", name = { ja = "b", en = "b" }, procedures = ["card_pickup"] }]"#;
        assert!(
            invalid(&with(clash, "2"))
                .contains("offices[0].lines[1].prefix: \"A\" is used by another line")
        );
        let e = invalid(&MINIMAL.replace(
            "counters = 2",
            "counters = 2\nqueue.thresholds = { unit = \"hours\", moderate = 1, crowded = 2 }",
        ));
        assert!(e.contains("offices[0].queue.thresholds.unit"), "{e}");
    }

    #[test]
    fn duplicate_offices_and_overlapping_hours_are_refused() {
        let mut twice = MINIMAL.to_owned();
        let office = &MINIMAL[MINIMAL.find("[[offices]]").unwrap()..];
        twice.push_str(office);
        assert!(invalid(&twice).contains("offices[1].id: \"main\" is used by another office"));
        let e =
            invalid(&MINIMAL.replace("[\"08:30-12:00\"]", "[\"08:30-12:00\", \"11:00-13:00\"]"));
        assert!(
            e.contains("offices[0].hours.mon: time windows overlap"),
            "{e}"
        );
    }

    #[test]
    fn a_room_may_end_during_its_prequeue_but_not_before_anyone_could_join() {
        let city = sample_municipality().unwrap();
        let def = |closes: &str| RoomDefinition {
            id: Some("r1".into()),
            name: Text::new("部屋", "Room"),
            offices: vec!["main".into()],
            procedures: vec!["cert_renewal".into()],
            first_date: "2027-03-01".into(),
            last_date: "2027-03-31".into(),
            opens_at: "2027-01-15T08:30:00+09:00".into(),
            prequeue_minutes: 30,
            closes_at: Some(closes.into()),
            admissions_per_minute: 300,
            dropout_percent: 130,
            admission_minutes: 10,
            idle_seconds: 60,
            next_release: None,
            proof_of_work_bits: 0,
            trigger_per_minute: None,
        };
        let room = validate_room(def("2027-01-15T08:10:00+09:00"), &city.offices).unwrap();
        assert_eq!(room.prequeue, chrono::Duration::minutes(30));
        let problems = validate_room(def("2027-01-15T08:00:00+09:00"), &city.offices).unwrap_err();
        assert!(problems.fields.is_empty(), "{problems:?}");
        assert_eq!(problems.conflicts.len(), 1);
        assert_eq!(
            problems.conflicts[0].0, "closes_at",
            "bare field names: {problems:?}"
        );
        let mut bad_id = def("2027-01-15T12:00:00+09:00");
        bad_id.id = Some("a b".into());
        assert_eq!(
            validate_room(bad_id, &city.offices).unwrap_err().fields[0].0,
            "id"
        );
    }
}
