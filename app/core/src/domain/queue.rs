//! Walk-in queues: service lines, counters, ticket classes, the rule that picks the next
//! ticket, check-in of reserved residents, learning service times, and the wait estimate.
//! The rules are written out in docs/QUEUE.md; the hot-state implementations (Lua and in
//! process) follow [`choose_next`] exactly.

use crate::domain::calendar::{Closure, DayPlan};
use crate::domain::procedure::ProcedureId;
use crate::domain::text::Text;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An identifier from configuration that appears in URLs and hot-state keys.
fn parse_key(raw: &str, what: &str) -> Result<String, String> {
    let ok = (1..=16).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{what} {raw:?} must be 1–16 characters of a-z, 0-9, '-' or '_'"
        ))
    }
}

/// A service line of an office, e.g. `a` for card pickups.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LineId(String);

impl LineId {
    /// `a`, the line of an office that configures none.
    pub fn first() -> Self {
        Self("a".to_owned())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_key(raw, "line id").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A counter (窓口) of an office, e.g. `3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CounterId(String);

impl CounterId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        parse_key(raw, "counter id").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CounterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLine {
    pub id: LineId,
    /// Ticket prefix shown on tickets and displays, e.g. `A` in `A-012`.
    pub prefix: String,
    pub name: Text,
    pub procedures: Vec<ProcedureId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub id: CounterId,
    pub name: Text,
    /// The lines this counter calls from.
    pub lines: Vec<LineId>,
}

/// The displayed ticket number, e.g. `A-012`. Numbers restart per office, line and day.
pub fn ticket_number(prefix: &str, n: u32) -> String {
    format!("{prefix}-{n:03}")
}

/// Whether a displayed number was issued by the line with `prefix`.
pub fn issued_by(display: &str, prefix: &str) -> bool {
    display
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('-'))
}

/// How a ticket is ordered in its line.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketClass {
    /// A checked-in reservation: ahead of everyone once callable (予約優先).
    Reserved,
    /// A priority class (e.g. assistance needed): ahead of normal tickets, with a
    /// fairness ratio so that normal tickets are not starved.
    Priority,
    Normal,
}

impl TicketClass {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketClass::Reserved => "reserved",
            TicketClass::Priority => "priority",
            TicketClass::Normal => "normal",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "reserved" => TicketClass::Reserved,
            "priority" => TicketClass::Priority,
            "normal" => TicketClass::Normal,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Waiting,
    /// Called to a counter; the resident is on the way.
    Called,
    /// At the counter.
    Serving,
    Done,
    NoShow,
    Cancelled,
}

impl TicketStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Waiting => "waiting",
            TicketStatus::Called => "called",
            TicketStatus::Serving => "serving",
            TicketStatus::Done => "done",
            TicketStatus::NoShow => "no_show",
            TicketStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "waiting" => TicketStatus::Waiting,
            "called" => TicketStatus::Called,
            "serving" => TicketStatus::Serving,
            "done" => TicketStatus::Done,
            "no_show" => TicketStatus::NoShow,
            "cancelled" => TicketStatus::Cancelled,
            _ => return None,
        })
    }

    pub fn is_open(self) -> bool {
        matches!(
            self,
            TicketStatus::Waiting | TicketStatus::Called | TicketStatus::Serving
        )
    }
}

/// What congestion thresholds count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdUnit {
    /// The estimated wait (P50) in minutes.
    Minutes,
    /// People waiting.
    People,
}

/// Level thresholds: below `moderate` is quiet, below `crowded` moderate, else crowded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub unit: ThresholdUnit,
    pub moderate: u32,
    pub crowded: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Quiet,
    Moderate,
    Crowded,
}

impl Level {
    pub fn label(self) -> Text {
        match self {
            Level::Quiet => Text::new("空いている", "Quiet"),
            Level::Moderate => Text::new("やや混雑", "Moderate"),
            Level::Crowded => Text::new("混雑", "Crowded"),
        }
    }

    /// An icon name for pages (never colour alone: text and icon go with it).
    pub fn icon(self) -> &'static str {
        match self {
            Level::Quiet => "circle",
            Level::Moderate => "triangle",
            Level::Crowded => "cross",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Quiet => "quiet",
            Level::Moderate => "moderate",
            Level::Crowded => "crowded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "quiet" => Level::Quiet,
            "moderate" => Level::Moderate,
            "crowded" => Level::Crowded,
            _ => return None,
        })
    }
}

impl Thresholds {
    pub fn level(&self, waiting: u32, wait_p50_minutes: u32) -> Level {
        let value = match self.unit {
            ThresholdUnit::Minutes => wait_p50_minutes,
            ThresholdUnit::People => waiting,
        };
        if value >= self.crowded {
            Level::Crowded
        } else if value >= self.moderate {
            Level::Moderate
        } else {
            Level::Quiet
        }
    }
}

/// The queue rules of an office; every one is configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// A checked-in reservation becomes callable this many minutes before its slot.
    pub reserved_callable_before_minutes: u16,
    /// Checking in later than this after the slot start loses the priority.
    pub late_grace_minutes: u16,
    /// Check-in opens this many minutes before the slot.
    pub early_check_in_minutes: u16,
    /// After this many priority-class calls in a row, a waiting normal ticket goes next.
    pub priority_ratio: u16,
    /// A transferred ticket keeps its place in the new line (else it goes last).
    pub transfer_keeps_place: bool,
    /// Tickets can be taken this many minutes before the office opens.
    pub opens_before_minutes: u16,
    /// Walk-in intake ends this many minutes before the office closes.
    pub last_intake_before_close_minutes: u16,
    /// Close intake when the forecast says a new ticket cannot be served before closing.
    pub close_on_forecast: bool,
    pub thresholds: Thresholds,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        Self {
            reserved_callable_before_minutes: 10,
            late_grace_minutes: 5,
            early_check_in_minutes: 60,
            priority_ratio: 3,
            transfer_keeps_place: true,
            opens_before_minutes: 15,
            last_intake_before_close_minutes: 15,
            close_on_forecast: true,
            thresholds: Thresholds {
                unit: ThresholdUnit::Minutes,
                moderate: 15,
                crowded: 30,
            },
        }
    }
}

/// Why a reservation cannot be checked in now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInRefusal {
    TooEarly {
        from: DateTime<Utc>,
    },
    /// The slot's day is over.
    Missed,
}

/// The class a reservation enters the line with when it checks in at `now`: reserved
/// when on time (up to the grace period after the slot start), normal when later.
pub fn check_in_class(
    slot_start: DateTime<Utc>,
    slot_end: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &QueuePolicy,
) -> Result<TicketClass, CheckInRefusal> {
    let from = slot_start - Duration::minutes(i64::from(policy.early_check_in_minutes));
    if now < from {
        return Err(CheckInRefusal::TooEarly { from });
    }
    if crate::domain::time::tokyo_date(now) > crate::domain::time::tokyo_date(slot_end) {
        return Err(CheckInRefusal::Missed);
    }
    if now > slot_start + Duration::minutes(i64::from(policy.late_grace_minutes)) {
        Ok(TicketClass::Normal)
    } else {
        Ok(TicketClass::Reserved)
    }
}

/// The head of one class in one line, as the call-next rule sees it. `order` is the slot
/// start (ms) for reserved tickets and the issue sequence for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub class: TicketClass,
    pub order: i64,
}

/// Picks the next ticket among the heads of the lines a counter serves, and returns the
/// new priority streak:
/// 1. the reserved ticket with the earliest slot, if callable (`order - before <= now`);
/// 2. else a priority ticket, unless `ratio` priority calls were made in a row and a
///    normal ticket waits; earliest issue first;
/// 3. else the earliest normal ticket (the streak resets).
pub fn choose_next(
    heads: &[Candidate],
    now_ms: i64,
    policy: &QueuePolicy,
    streak: u16,
) -> Option<(usize, u16)> {
    let before = i64::from(policy.reserved_callable_before_minutes) * 60_000;
    let earliest = |class: TicketClass| {
        heads
            .iter()
            .enumerate()
            .filter(|(_, c)| c.class == class)
            .min_by_key(|(i, c)| (c.order, *i))
            .map(|(i, _)| i)
    };
    if let Some(i) = earliest(TicketClass::Reserved)
        .filter(|&i| heads.get(i).is_some_and(|h| h.order - before <= now_ms))
    {
        return Some((i, streak));
    }
    let priority = earliest(TicketClass::Priority);
    let normal = earliest(TicketClass::Normal);
    match (priority, normal) {
        (Some(p), Some(_)) if streak < policy.priority_ratio => Some((p, streak + 1)),
        (Some(p), None) => Some((p, streak + 1)),
        (_, Some(n)) => Some((n, 0)),
        (None, None) => None,
    }
}

/// Whether a queue reload puts the ledger's copy of a ticket in place of the live one.
/// Every change reaches the hot state first and the ledger a moment later, and each
/// change raises the ticket's revision: a live ticket at or above the ledger's revision
/// holds a change the ledger has not caught up with yet (or refused; the ticket's next
/// change writes it), and undoing it would call a resident twice or lose a ticket. So the
/// ledger's copy wins only where the hot state lost the ticket or is behind it.
/// Mirrored in `lua/queue_merge.lua` (held equal by `tests/api/queue_model.rs`).
pub fn ledger_copy_wins(live_revision: Option<u32>, ledger_revision: u32) -> bool {
    live_revision.is_none_or(|live| live < ledger_revision)
}

/// Observed service time of a procedure: an exponentially weighted mean and variance of
/// real start→finish durations, starting from the nominal time. With α = 0.3 the estimate
/// moves 83 % of the way to a new level within five tickets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceStats {
    pub mean_minutes: f64,
    pub variance: f64,
    pub samples: u32,
}

pub const SERVICE_ALPHA: f64 = 0.3;

impl ServiceStats {
    pub fn nominal(minutes: u16) -> Self {
        let m = f64::from(minutes);
        Self {
            mean_minutes: m,
            variance: (0.3 * m).powi(2),
            samples: 0,
        }
    }

    /// Learns from one observed duration; absurd durations (a counter left open over
    /// lunch) are clamped so that one of them cannot wreck the estimate.
    pub fn observe(&mut self, minutes: f64) {
        let x = minutes.clamp(0.5, 240.0);
        let diff = x - self.mean_minutes;
        self.mean_minutes += SERVICE_ALPHA * diff;
        self.variance = (1.0 - SERVICE_ALPHA) * (self.variance + SERVICE_ALPHA * diff * diff);
        self.samples = self.samples.saturating_add(1);
    }
}

/// The estimated wait of someone who joins now, in whole minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WaitEstimate {
    pub p50_minutes: u32,
    pub p90_minutes: u32,
}

/// What the estimate is computed from.
#[derive(Debug, Clone, Copy)]
pub struct QueueLoad {
    /// Sum of the mean service minutes of everyone ahead.
    pub work_ahead_minutes: f64,
    /// Sum of their service-time variances.
    pub variance_ahead: f64,
    /// Counters open for the line.
    pub open_counters: u32,
    /// Of those, the ones busy with someone now.
    pub busy_counters: u32,
    /// Mean service minutes at this line, for the part of a service already under way.
    pub mean_service_minutes: f64,
}

/// The wait until called, for someone joining behind `load`: the work ahead shared by
/// the open counters, plus, when every counter is busy, half a service on average until
/// one frees up. P90 adds 1.28 standard deviations of the sum of services ahead. `None`
/// when no counter is open (the wait cannot be told).
pub fn estimate_wait(load: &QueueLoad) -> Option<WaitEstimate> {
    if load.open_counters == 0 {
        return None;
    }
    let c = f64::from(load.open_counters);
    let residual = if load.busy_counters >= load.open_counters {
        0.5 * load.mean_service_minutes / c
    } else {
        0.0
    };
    let p50 = residual + load.work_ahead_minutes / c;
    let sd = load.variance_ahead.max(0.0).sqrt() / c;
    let p90 = p50 + 1.2816 * sd;
    #[allow(
        clippy::as_conversions,
        reason = "a float to int `as` saturates, as wanted"
    )]
    Some(WaitEstimate {
        p50_minutes: p50.ceil().max(0.0) as u32,
        p90_minutes: p90.ceil().max(0.0) as u32,
    })
}

/// Why walk-in intake is closed now (本日の受付終了 and its causes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeClosed {
    OfficeClosed(Closure),
    ReservationOnlyDay,
    NotWalkIn,
    NotYetOpen {
        opens_at: NaiveTime,
    },
    /// The last intake time of the day has passed.
    Ended {
        last_intake: NaiveTime,
    },
    /// The queue cannot be served before closing.
    Full {
        closes_at: NaiveTime,
    },
}

/// Whether a walk-in ticket can be taken at `now_local` on a day planned as `plan`.
/// Intake runs from `opens_before` before the first window to `last_intake_before_close`
/// before the end of the last window (lunch gaps do not stop the queue); with
/// `close_on_forecast`, also only while the forecast wait plus one service ends before
/// closing.
pub fn intake(
    plan: &DayPlan,
    now_local: NaiveTime,
    policy: &QueuePolicy,
    forecast_minutes: Option<f64>,
) -> Result<(), IntakeClosed> {
    let day = match plan {
        DayPlan::Closed(c) => return Err(IntakeClosed::OfficeClosed(c.clone())),
        DayPlan::Open(day) => day,
    };
    if day.reservation_only {
        return Err(IntakeClosed::ReservationOnlyDay);
    }
    let (Some(first), Some(last)) = (day.windows.first(), day.windows.last()) else {
        return Err(IntakeClosed::ReservationOnlyDay);
    };
    let opens_at = first.start - Duration::minutes(i64::from(policy.opens_before_minutes));
    let last_intake =
        last.end - Duration::minutes(i64::from(policy.last_intake_before_close_minutes));
    if now_local < opens_at {
        return Err(IntakeClosed::NotYetOpen { opens_at });
    }
    if now_local >= last_intake {
        return Err(IntakeClosed::Ended { last_intake });
    }
    if policy.close_on_forecast
        && let Some(minutes) = forecast_minutes
    {
        let start = now_local.max(first.start);
        #[allow(
            clippy::as_conversions,
            reason = "a float to int `as` saturates, as wanted"
        )]
        let done = start + Duration::seconds((minutes * 60.0) as i64);
        if done > last.end || done < start {
            return Err(IntakeClosed::Full {
                closes_at: last.end,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::{OpenDay, TimeWindow};
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn a_reload_never_undoes_a_change_the_ledger_has_not_caught_up_with() {
        // The hot state lost the ticket: the ledger's copy is all there is.
        assert!(ledger_copy_wins(None, 0));
        assert!(ledger_copy_wins(None, 3));
        // The hot state is behind (it was reloaded from an older state): the ledger wins.
        assert!(ledger_copy_wins(Some(1), 2));
        // Same revision: nothing to repair; the live copy stays.
        assert!(!ledger_copy_wins(Some(2), 2));
        // A call made after the snapshot was read, its ledger write still on its way.
        assert!(!ledger_copy_wins(Some(3), 2));
    }

    const NOW: i64 = 1_000_000_000;

    #[test]
    fn ticket_numbers_have_three_digits_and_the_line_prefix() {
        assert_eq!(ticket_number("A", 12), "A-012");
        assert_eq!(ticket_number("B", 1234), "B-1234");
    }

    #[test]
    fn a_callable_reservation_goes_first() {
        let p = QueuePolicy::default();
        let heads = [
            Candidate {
                class: TicketClass::Normal,
                order: 1,
            },
            Candidate {
                class: TicketClass::Priority,
                order: 2,
            },
            Candidate {
                class: TicketClass::Reserved,
                order: NOW + 10 * 60_000,
            },
        ];
        assert_eq!(
            choose_next(&heads, NOW, &p, 0),
            Some((2, 0)),
            "due within 10 minutes"
        );
        let later = [
            heads[0],
            heads[1],
            Candidate {
                class: TicketClass::Reserved,
                order: NOW + 11 * 60_000,
            },
        ];
        assert_eq!(
            choose_next(&later, NOW, &p, 0),
            Some((1, 1)),
            "not yet callable: priority first"
        );
    }

    #[test]
    fn the_earliest_slot_wins_among_reservations() {
        let p = QueuePolicy::default();
        let heads = [
            Candidate {
                class: TicketClass::Reserved,
                order: NOW - 60_000,
            },
            Candidate {
                class: TicketClass::Reserved,
                order: NOW - 120_000,
            },
        ];
        assert_eq!(choose_next(&heads, NOW, &p, 0), Some((1, 0)));
    }

    #[test]
    fn the_priority_ratio_lets_a_normal_ticket_through() {
        let p = QueuePolicy {
            priority_ratio: 3,
            ..QueuePolicy::default()
        };
        let heads = [
            Candidate {
                class: TicketClass::Normal,
                order: 1,
            },
            Candidate {
                class: TicketClass::Priority,
                order: 5,
            },
        ];
        let mut streak = 0;
        let mut calls = Vec::new();
        for _ in 0..8 {
            let (i, s) = choose_next(&heads, NOW, &p, streak).unwrap();
            calls.push(heads[i].class);
            streak = s;
        }
        use TicketClass::{Normal as N, Priority as P};
        assert_eq!(calls, [P, P, P, N, P, P, P, N]);
        // Without normal tickets waiting, priority goes on.
        assert_eq!(choose_next(&heads[1..], NOW, &p, 9), Some((0, 10)));
    }

    #[test]
    fn normal_tickets_go_in_issue_order_across_lines() {
        let p = QueuePolicy::default();
        let heads = [
            Candidate {
                class: TicketClass::Normal,
                order: 7,
            },
            Candidate {
                class: TicketClass::Normal,
                order: 3,
            },
        ];
        assert_eq!(choose_next(&heads, NOW, &p, 2), Some((1, 0)));
        assert_eq!(choose_next(&[], NOW, &p, 0), None);
    }

    #[test]
    fn check_in_is_reserved_on_time_and_normal_when_late() {
        let p = QueuePolicy::default();
        let start = at("2026-12-04T09:00:00+09:00");
        let end = at("2026-12-04T09:15:00+09:00");
        assert_eq!(
            check_in_class(start, end, at("2026-12-04T07:59:00+09:00"), &p),
            Err(CheckInRefusal::TooEarly {
                from: at("2026-12-04T08:00:00+09:00")
            })
        );
        assert_eq!(
            check_in_class(start, end, at("2026-12-04T08:00:00+09:00"), &p),
            Ok(TicketClass::Reserved)
        );
        assert_eq!(
            check_in_class(start, end, at("2026-12-04T09:05:00+09:00"), &p),
            Ok(TicketClass::Reserved)
        );
        assert_eq!(
            check_in_class(start, end, at("2026-12-04T09:05:01+09:00"), &p),
            Ok(TicketClass::Normal)
        );
        assert_eq!(
            check_in_class(start, end, at("2026-12-05T08:00:00+09:00"), &p),
            Err(CheckInRefusal::Missed)
        );
    }

    #[test]
    fn service_estimates_follow_a_slowdown_within_a_few_tickets() {
        let mut s = ServiceStats::nominal(15);
        for _ in 0..5 {
            s.observe(25.0);
        }
        assert!(
            s.mean_minutes > 23.0 && s.mean_minutes < 25.0,
            "{}",
            s.mean_minutes
        );
        s.observe(10_000.0);
        assert!(s.mean_minutes < 100.0, "one absurd duration is clamped");
    }

    #[test]
    fn waits_share_the_work_among_open_counters() {
        let load = |ahead: f64, open, busy| QueueLoad {
            work_ahead_minutes: ahead * 15.0,
            variance_ahead: ahead * 20.0,
            open_counters: open,
            busy_counters: busy,
            mean_service_minutes: 15.0,
        };
        assert_eq!(
            estimate_wait(&load(0.0, 2, 0)).unwrap(),
            WaitEstimate {
                p50_minutes: 0,
                p90_minutes: 0
            }
        );
        let two = estimate_wait(&load(4.0, 2, 2)).unwrap();
        assert_eq!(two.p50_minutes, 34); // 3.75 residual + 30
        assert!(two.p90_minutes > two.p50_minutes);
        assert_eq!(estimate_wait(&load(4.0, 0, 0)), None);
        let one = estimate_wait(&load(4.0, 1, 1)).unwrap();
        assert!(one.p50_minutes > two.p50_minutes);
    }

    #[test]
    fn levels_follow_the_configured_unit() {
        let minutes = Thresholds {
            unit: ThresholdUnit::Minutes,
            moderate: 15,
            crowded: 30,
        };
        assert_eq!(minutes.level(100, 14), Level::Quiet);
        assert_eq!(minutes.level(0, 15), Level::Moderate);
        assert_eq!(minutes.level(0, 30), Level::Crowded);
        let people = Thresholds {
            unit: ThresholdUnit::People,
            moderate: 5,
            crowded: 10,
        };
        assert_eq!(people.level(4, 90), Level::Quiet);
        assert_eq!(people.level(10, 0), Level::Crowded);
    }

    fn weekday() -> DayPlan {
        DayPlan::Open(OpenDay {
            windows: vec![
                TimeWindow {
                    start: t("08:30"),
                    end: t("12:00"),
                },
                TimeWindow {
                    start: t("13:00"),
                    end: t("17:00"),
                },
            ],
            reservation_only: false,
            note: None,
        })
    }

    #[test]
    fn intake_runs_from_before_opening_to_the_last_intake() {
        let p = QueuePolicy::default();
        assert_eq!(
            intake(&weekday(), t("08:14"), &p, None),
            Err(IntakeClosed::NotYetOpen {
                opens_at: t("08:15")
            })
        );
        assert_eq!(intake(&weekday(), t("08:15"), &p, Some(0.0)), Ok(()));
        assert_eq!(
            intake(&weekday(), t("12:30"), &p, Some(10.0)),
            Ok(()),
            "lunch does not stop the queue"
        );
        assert_eq!(
            intake(&weekday(), t("16:45"), &p, None),
            Err(IntakeClosed::Ended {
                last_intake: t("16:45")
            })
        );
    }

    #[test]
    fn intake_closes_when_the_queue_cannot_be_served_before_closing() {
        let p = QueuePolicy::default();
        assert_eq!(intake(&weekday(), t("15:00"), &p, Some(119.0)), Ok(()));
        assert_eq!(
            intake(&weekday(), t("15:00"), &p, Some(121.0)),
            Err(IntakeClosed::Full {
                closes_at: t("17:00")
            })
        );
        let no_forecast = QueuePolicy {
            close_on_forecast: false,
            ..p
        };
        assert_eq!(
            intake(&weekday(), t("15:00"), &no_forecast, Some(500.0)),
            Ok(())
        );
        // Before opening, the forecast counts from opening time.
        assert_eq!(
            intake(&weekday(), t("08:20"), &p, Some(520.0)),
            Err(IntakeClosed::Full {
                closes_at: t("17:00")
            })
        );
    }

    proptest! {
        #[test]
        fn choose_next_always_picks_a_head_and_respects_reserved_priority(
            classes in proptest::collection::vec((0u8..3, 0i64..100), 0..8), streak in 0u16..6,
        ) {
            let p = QueuePolicy::default();
            let heads: Vec<Candidate> = classes.iter().map(|(c, o)| Candidate {
                class: [TicketClass::Reserved, TicketClass::Priority, TicketClass::Normal][*c as usize],
                order: if *c == 0 { NOW - o * 60_000 } else { *o },
            }).collect();
            match choose_next(&heads, NOW, &p, streak) {
                None => prop_assert!(heads.is_empty()),
                Some((i, _)) => {
                    prop_assert!(i < heads.len());
                    if heads.iter().any(|c| c.class == TicketClass::Reserved) {
                        prop_assert_eq!(heads[i].class, TicketClass::Reserved);
                    }
                }
            }
        }

        #[test]
        fn estimates_grow_with_the_queue(ahead in 0u32..200, open in 1u32..8) {
            let load = |n: u32| QueueLoad {
                work_ahead_minutes: f64::from(n) * 15.0,
                variance_ahead: f64::from(n) * 20.0,
                open_counters: open,
                busy_counters: open,
                mean_service_minutes: 15.0,
            };
            let a = estimate_wait(&load(ahead)).unwrap();
            let b = estimate_wait(&load(ahead + 1)).unwrap();
            prop_assert!(b.p50_minutes >= a.p50_minutes);
            prop_assert!(a.p90_minutes >= a.p50_minutes);
        }
    }
}
