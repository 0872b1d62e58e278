//! Business time is Asia/Tokyo; storage is UTC. Every rule that depends on "now" gets it
//! from a [`Clock`], so tests and simulations can drive time.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::Mutex;

/// The business time zone of every municipality Madoguchi serves.
pub const TOKYO: Tz = chrono_tz::Asia::Tokyo;

/// The source of "now" for every time-dependent rule.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests, simulations and load-test replays.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(now),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut guard = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *guard += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A clock that starts at a chosen instant and runs `speed` times faster than real time:
/// an hour of a simulated morning in a minute at speed 60. For load tests and demos only.
#[derive(Debug)]
pub struct ScaledClock {
    start: DateTime<Utc>,
    origin: std::time::Instant,
    speed: f64,
}

impl ScaledClock {
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        Self {
            start,
            origin: std::time::Instant::now(),
            speed,
        }
    }

    /// Parses `<RFC 3339 start>@<speed>`, e.g. `2026-12-04T08:20:00+09:00@60`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (start, speed) = spec
            .split_once('@')
            .ok_or_else(|| format!("{spec:?} is not <RFC 3339 start>@<speed>"))?;
        let start = DateTime::parse_from_rfc3339(start.trim())
            .map_err(|e| format!("clock start {start:?}: {e}"))?
            .with_timezone(&Utc);
        let speed: f64 = speed
            .trim()
            .parse()
            .map_err(|_| format!("clock speed {speed:?} is not a number"))?;
        if !(speed > 0.0 && speed <= 10_000.0) {
            return Err("clock speed must be between 0 and 10000".into());
        }
        Ok(Self::new(start, speed))
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let real = self.origin.elapsed().as_secs_f64() * self.speed;
        #[allow(
            clippy::as_conversions,
            reason = "a float to int `as` saturates, as wanted"
        )]
        let micros = (real * 1_000_000.0) as i64;
        self.start + chrono::Duration::microseconds(micros)
    }
}

/// The Tokyo calendar date of an instant.
pub fn tokyo_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&TOKYO).date_naive()
}

/// The Tokyo wall-clock time of an instant.
pub fn tokyo_naive(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&TOKYO).naive_local()
}

/// The instant of a Tokyo wall-clock time. Japan has had no daylight saving time since
/// 1951, so every local time maps to exactly one instant.
pub fn from_tokyo(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    match TOKYO.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // Unreachable for Asia/Tokyo after 1951; fall back to the fixed +09:00 offset.
        None => DateTime::<Utc>::from_naive_utc_and_offset(local - chrono::Duration::hours(9), Utc),
    }
}

/// An instant rendered as RFC 3339 in Tokyo time (`+09:00`), the form the API speaks.
pub fn to_tokyo_rfc3339(at: DateTime<Utc>) -> String {
    at.with_timezone(&TOKYO)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// `HH:MM` of a time, as residents and staff read it. Written out directly: chrono's
/// `format("%H:%M")` parses its pattern on each call, and every booking's answer carries
/// the office's opening hours (it showed in `perf`).
#[derive(Debug, Clone, Copy)]
pub struct HhMm(pub NaiveTime);

impl std::fmt::Display for HhMm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::Timelike;
        write!(f, "{:02}:{:02}", self.0.hour(), self.0.minute())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The same text as chrono's `%H:%M`, leap second included.
        #[test]
        fn hh_mm_is_chronos_hour_and_minute(secs in 0u32..86_400, nano in 0u32..2_000_000_000) {
            let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, nano).unwrap_or_default();
            proptest::prop_assert_eq!(HhMm(t).to_string(), t.format("%H:%M").to_string());
        }
    }

    #[test]
    fn tokyo_is_nine_hours_ahead_of_utc_in_winter_and_summer() {
        for (date, utc) in [
            ("2026-01-15", "2026-01-14T23:30:00+00:00"),
            ("2026-07-15", "2026-07-14T23:30:00+00:00"),
        ] {
            let date: NaiveDate = date.parse().unwrap_or_default();
            let t = from_tokyo(date, NaiveTime::from_hms_opt(8, 30, 0).unwrap_or_default());
            assert_eq!(t.to_rfc3339(), utc);
            assert_eq!(tokyo_date(t), date);
            assert_eq!(to_tokyo_rfc3339(t), format!("{date}T08:30:00+09:00"));
        }
    }

    #[test]
    fn the_date_changes_at_midnight_tokyo_not_utc() {
        let just_before = "2026-03-31T14:59:59Z"
            .parse::<DateTime<Utc>>()
            .unwrap_or_default();
        let at_midnight = "2026-03-31T15:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap_or_default();
        assert_eq!(tokyo_date(just_before).to_string(), "2026-03-31");
        assert_eq!(tokyo_date(at_midnight).to_string(), "2026-04-01");
    }

    #[test]
    fn scaled_clocks_parse_their_start_and_speed() {
        let clock = ScaledClock::parse("2026-12-04T08:20:00+09:00@60").unwrap();
        assert!(clock.now() >= "2026-12-03T23:20:00Z".parse::<DateTime<Utc>>().unwrap());
        assert!(ScaledClock::parse("2026-12-04T08:20:00+09:00").is_err());
        assert!(ScaledClock::parse("2026-12-04T08:20:00+09:00@0").is_err());
        assert!(ScaledClock::parse("yesterday@60").is_err());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = "2026-12-01T00:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap_or_default();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(chrono::Duration::minutes(90));
        assert_eq!(clock.now(), start + chrono::Duration::minutes(90));
    }
}
