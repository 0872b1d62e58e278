//! The waiting room's rules, without I/O: how far the serving counter may advance, what
//! a waiting visitor is told, when the room is closed, and the pre-queue draw.
//!
//! Positions are handed out by an atomic counter (Redis `INCR`, or an in-process one), so
//! after the opening a smaller position always means an earlier arrival. The serving
//! counter admits positions in increasing order; it is limited by two budgets at once:
//! a rate (admissions per minute, what the booking path can take) and the inventory (the
//! remaining seats times a drop-out factor, minus admissions not yet used). Positions
//! whose visitors stopped polling are skipped without spending either budget, so an
//! abandoned place never stalls the line. See docs/WAITING_ROOM.md.

use chrono::{DateTime, Duration, Utc};

/// A waiting room in front of one booking release, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRoom {
    /// Letters, digits, `-` and `_` (it goes into tokens and keys).
    pub id: String,
    pub name: crate::domain::text::Text,
    /// The release: these offices' and procedures' slots between these dates.
    pub offices: Vec<crate::domain::ids::OfficeId>,
    pub procedures: Vec<crate::domain::procedure::ProcedureId>,
    pub first_date: chrono::NaiveDate,
    pub last_date: chrono::NaiveDate,
    /// Admission starts here; visitors may join `prequeue` earlier (the pre-queue).
    pub opens_at: DateTime<Utc>,
    pub prequeue: Duration,
    /// The room stops gating bookings here (e.g. the evening of the opening day).
    pub closes_at: DateTime<Utc>,
    pub policy: AdmissionPolicy,
    /// Shown when the seats are gone, e.g. "3月分は2月1日 8:30から".
    pub next_release: Option<crate::domain::text::Text>,
    /// Joining needs a proof of work of this many leading zero bits (0: none).
    pub proof_bits: u8,
    /// Switches on by itself when more booking attempts than this arrive in a minute
    /// (between `opens_at` and `closes_at`); None: it opens at `opens_at`.
    pub trigger_per_minute: Option<u32>,
}

/// Where a room is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomPhase {
    /// Not yet joinable.
    Scheduled,
    /// Joinable; positions are drawn at the opening.
    Prequeue,
    /// Admitting in order.
    Open,
    /// Over: bookings go straight through again.
    Ended,
}

impl RoomPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomPhase::Scheduled => "scheduled",
            RoomPhase::Prequeue => "prequeue",
            RoomPhase::Open => "open",
            RoomPhase::Ended => "ended",
        }
    }
}

impl WaitingRoom {
    /// The phase of a scheduled room (a triggered one is on standby until it fires).
    pub fn phase(&self, now: DateTime<Utc>) -> RoomPhase {
        self.phase_with(
            self.trigger_per_minute.is_none().then_some(self.opens_at),
            now,
        )
    }

    /// The phase given when admission started (or starts): `opened`, if known.
    pub fn phase_with(&self, opened: Option<DateTime<Utc>>, now: DateTime<Utc>) -> RoomPhase {
        match opened {
            _ if now >= self.closes_at => RoomPhase::Ended,
            Some(o) if now >= o => RoomPhase::Open,
            Some(o) if now >= o - self.prequeue => RoomPhase::Prequeue,
            _ => RoomPhase::Scheduled,
        }
    }

    /// Whether a booking of this slot must come through the room.
    pub fn covers(
        &self,
        office: &crate::domain::ids::OfficeId,
        procedure: crate::domain::procedure::ProcedureId,
        date: chrono::NaiveDate,
    ) -> bool {
        self.offices.contains(office)
            && self.procedures.contains(&procedure)
            && (self.first_date..=self.last_date).contains(&date)
    }

    /// Whether the room gates bookings now (from the pre-queue until it ends).
    pub fn gates(&self, now: DateTime<Utc>) -> bool {
        matches!(self.phase(now), RoomPhase::Prequeue | RoomPhase::Open)
    }
}

/// The admission settings of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdmissionPolicy {
    /// Admissions per minute at most: what the booking path can take.
    pub per_minute: u32,
    /// Admit up to remaining seats × this percentage (e.g. 130: some admitted visitors
    /// leave without booking).
    pub dropout_percent: u32,
    /// How long an admission token is valid.
    pub admission_ttl: Duration,
    /// A waiting position that has not polled for this long is abandoned.
    pub idle_after: Duration,
}

impl AdmissionPolicy {
    /// Admissions the inventory still justifies: remaining seats × the factor (rounded
    /// up), minus admissions handed out and not yet used or expired.
    pub fn inventory_budget(&self, remaining_seats: u32, outstanding: u32) -> u32 {
        let justified =
            (u64::from(remaining_seats) * u64::from(self.dropout_percent)).div_ceil(100);
        u32::try_from(justified)
            .unwrap_or(u32::MAX)
            .saturating_sub(outstanding)
    }

    /// Admissions the rate allows since `since`, and the instant that many admissions
    /// "use up" (so the remainder carries over instead of being lost to rounding).
    pub fn rate_budget(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> (u32, DateTime<Utc>) {
        if self.per_minute == 0 || now <= since {
            return (0, since);
        }
        // Integer arithmetic: no rounding drift over a long morning.
        let elapsed_ms = i128::from((now - since).num_milliseconds());
        let budget = elapsed_ms * i128::from(self.per_minute) / 60_000;
        let budget = u32::try_from(budget).unwrap_or(u32::MAX);
        (budget, since + self.time_for(budget))
    }

    /// The time the rate needs for `admissions`.
    /// Rounded down, so the fraction left over carries to the next advance.
    pub fn time_for(&self, admissions: u32) -> Duration {
        let ms = i64::from(admissions) * 60_000 / i64::from(self.per_minute.max(1));
        Duration::milliseconds(ms)
    }
}

/// The shared counters of one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomCounters {
    /// The last position handed out (positions start at 1).
    pub issued: u64,
    /// Every position up to this one has been admitted or skipped.
    pub serving: u64,
    /// Where the rate budget counts from.
    pub rate_since: DateTime<Utc>,
    /// Admission tokens handed out and neither used for a booking nor expired.
    pub outstanding: u32,
}

/// The outcome of one advance of the serving counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub serving: u64,
    pub rate_since: DateTime<Utc>,
    /// The positions admitted by this advance (live ones only), in order.
    pub admitted: Vec<u64>,
    /// Positions passed over because their visitors had gone.
    pub skipped: u64,
}

/// At most this many positions are examined per advance, so one call stays cheap even
/// after a crowd abandoned the room; the next call goes on from there.
pub const MAX_WALK: u64 = 10_000;

/// Advances the serving counter: live positions in increasing order while both budgets
/// last, abandoned ones skipped for free. A closed room (no seats) admits nobody.
pub fn advance(
    counters: &RoomCounters,
    policy: &AdmissionPolicy,
    remaining_seats: u32,
    now: DateTime<Utc>,
    is_live: impl Fn(u64) -> bool,
) -> Advance {
    let (rate, _) = policy.rate_budget(counters.rate_since, now);
    let inventory = policy.inventory_budget(remaining_seats, counters.outstanding);
    let mut budget = rate.min(inventory);
    let mut serving = counters.serving;
    let mut admitted = Vec::new();
    let mut skipped = 0;
    let last = counters
        .issued
        .min(counters.serving.saturating_add(MAX_WALK));
    while serving < last {
        let next = serving + 1;
        if is_live(next) {
            if budget == 0 {
                break;
            }
            budget -= 1;
            admitted.push(next);
        } else {
            skipped += 1;
        }
        serving = next;
    }
    // The clock moves on by what was used. Unused rate does not pile up: with nobody
    // left waiting it restarts now, and while the inventory holds people back at most a
    // minute of it is kept, so returned seats never release a burst.
    let consumed = u32::try_from(admitted.len()).unwrap_or(u32::MAX);
    let rate_since = if serving >= counters.issued && consumed < rate {
        now
    } else {
        (counters.rate_since + policy.time_for(consumed)).max(now - Duration::minutes(1))
    };
    Advance {
        serving,
        rate_since,
        admitted,
        skipped,
    }
}

/// What the status endpoint tells a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisitorState {
    /// In line: how many live positions are ahead (estimated from the counters), and
    /// roughly when their turn comes.
    Waiting { ahead: u64, eta_seconds: u64 },
    /// Their turn has come: they get an admission token.
    Admitted,
    /// Every seat of the release is taken: nobody else is admitted.
    Closed,
    /// They stopped polling for too long and lost the place.
    Expired,
}

/// The state of a position. `ahead` counts positions between the serving counter and
/// this one (abandoned ones included: an upper bound, honest rather than flattering).
pub fn visitor_state(
    position: u64,
    serving: u64,
    policy: &AdmissionPolicy,
    remaining_seats: u32,
    last_seen: DateTime<Utc>,
    now: DateTime<Utc>,
) -> VisitorState {
    if remaining_seats == 0 {
        return VisitorState::Closed;
    }
    if position <= serving {
        return VisitorState::Admitted;
    }
    if now - last_seen > policy.idle_after {
        return VisitorState::Expired;
    }
    let ahead = position - serving - 1;
    let per_minute = u64::from(policy.per_minute.max(1));
    VisitorState::Waiting {
        ahead,
        eta_seconds: (ahead + 1) * 60 / per_minute,
    }
}

/// Whether `SHA-256(challenge ":" nonce)` (given as its digest) starts with `bits` zero
/// bits: the Hashcash condition.
pub fn has_leading_zero_bits(digest: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    digest
        .get(..full)
        .is_some_and(|head| head.iter().all(|b| *b == 0))
        && (rest == 0 || digest.get(full).is_some_and(|b| b >> (8 - rest) == 0))
}

/// The pre-queue: visitors who joined before the opening get their positions in the
/// order of a random draw made when they joined (ties broken by their id), so arriving
/// at 08:29:59 is worth no more than arriving at 08:00. Returns the ids in position
/// order: the first gets position `first_position`, the next one more, and so on.
pub fn prequeue_order<T: Ord + Clone>(entries: &[(T, u64)]) -> Vec<T> {
    let mut drawn: Vec<&(T, u64)> = entries.iter().collect();
    drawn.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    drawn.into_iter().map(|(id, _)| id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn policy(per_minute: u32) -> AdmissionPolicy {
        AdmissionPolicy {
            per_minute,
            dropout_percent: 130,
            admission_ttl: Duration::minutes(10),
            idle_after: Duration::seconds(60),
        }
    }

    fn counters(issued: u64, serving: u64, outstanding: u32) -> RoomCounters {
        RoomCounters {
            issued,
            serving,
            rate_since: t(0),
            outstanding,
        }
    }

    #[test]
    fn the_rate_limits_admissions_and_carries_the_remainder() {
        let p = policy(60); // one a second
        let a = advance(&counters(100, 0, 0), &p, 1_000, t(10), |_| true);
        assert_eq!(a.admitted, (1..=10).collect::<Vec<_>>());
        assert_eq!(a.serving, 10);
        assert_eq!(a.rate_since, t(10));
        let p = policy(90); // 1.5 a second
        let a = advance(&counters(100, 0, 0), &p, 1_000, t(1), |_| true);
        assert_eq!(a.admitted, vec![1], "1.5 admissions: one now");
        let b = advance(
            &RoomCounters {
                serving: a.serving,
                rate_since: a.rate_since,
                ..counters(100, 0, 0)
            },
            &p,
            1_000,
            t(2),
            |_| true,
        );
        assert_eq!(b.admitted, vec![2, 3], "the half carried over");
    }

    #[test]
    fn the_inventory_limits_admissions() {
        let p = policy(6_000);
        // 10 seats × 130% = 13, 5 outstanding: 8 more.
        let a = advance(&counters(100, 0, 5), &p, 10, t(60), |_| true);
        assert_eq!(a.admitted.len(), 8);
        // No seats: nobody.
        let a = advance(&counters(100, 0, 0), &p, 0, t(60), |_| true);
        assert!(a.admitted.is_empty());
        assert_eq!(a.serving, 0);
    }

    #[test]
    fn abandoned_positions_are_skipped_without_spending_the_budget() {
        let p = policy(60);
        let a = advance(&counters(10, 0, 0), &p, 100, t(3), |n| n.is_multiple_of(2));
        assert_eq!(a.admitted, vec![2, 4, 6]);
        assert_eq!(a.skipped, 4, "7 is gone too: passed for free");
        assert_eq!(
            a.serving, 7,
            "stops before the next live one when the budget is spent"
        );
    }

    #[test]
    fn a_quiet_room_does_not_save_up_a_burst() {
        let p = policy(60);
        let a = advance(&counters(0, 0, 0), &p, 100, t(600), |_| true);
        assert!(a.admitted.is_empty());
        assert_eq!(a.rate_since, t(600), "nothing waited: the clock restarts");
        let b = advance(
            &RoomCounters {
                issued: 50,
                serving: 0,
                rate_since: a.rate_since,
                outstanding: 0,
            },
            &p,
            100,
            t(602),
            |_| true,
        );
        assert_eq!(b.admitted.len(), 2);
    }

    #[test]
    fn visitors_are_told_their_place_their_turn_or_the_end() {
        let p = policy(60);
        let c = counters(100, 40, 0);
        assert_eq!(
            visitor_state(50, c.serving, &p, 10, t(0), t(5)),
            VisitorState::Waiting {
                ahead: 9,
                eta_seconds: 10
            }
        );
        assert_eq!(
            visitor_state(40, c.serving, &p, 10, t(0), t(5)),
            VisitorState::Admitted
        );
        assert_eq!(
            visitor_state(50, c.serving, &p, 0, t(0), t(5)),
            VisitorState::Closed
        );
        assert_eq!(
            visitor_state(50, c.serving, &p, 10, t(0), t(61)),
            VisitorState::Expired
        );
    }

    #[test]
    fn leading_zero_bits_are_counted_exactly() {
        assert!(has_leading_zero_bits(&[0, 0x0f, 0xff], 12));
        assert!(!has_leading_zero_bits(&[0, 0x1f, 0xff], 12));
        assert!(has_leading_zero_bits(&[0, 0, 0x80], 16));
        assert!(!has_leading_zero_bits(&[0, 1], 16));
        assert!(has_leading_zero_bits(&[0xff], 0));
        assert!(!has_leading_zero_bits(&[0], 9), "too short");
    }

    #[test]
    fn the_prequeue_follows_the_draw_not_the_arrival() {
        let order = prequeue_order(&[
            ("early", 900),
            ("late", 5),
            ("middle", 300),
            ("tie-b", 7),
            ("tie-a", 7),
        ]);
        assert_eq!(order, vec!["late", "tie-a", "tie-b", "middle", "early"]);
    }

    proptest! {
        /// Whatever the timing: admissions come in increasing position order, never
        /// exceed either budget, and every position passed is admitted or was abandoned.
        #[test]
        fn admissions_are_ordered_and_within_both_budgets(
            issued in 0u64..500,
            serving_frac in 0u64..100,
            outstanding in 0u32..50,
            remaining in 0u32..100,
            per_minute in 1u32..1_000,
            seconds in 0i64..600,
            dead_mod in 2u64..7,
        ) {
            let serving = issued * serving_frac / 100;
            let p = policy(per_minute);
            let c = counters(issued, serving, outstanding);
            let live = |n: u64| !n.is_multiple_of(dead_mod);
            let a = advance(&c, &p, remaining, t(seconds), live);
            let (rate, _) = p.rate_budget(c.rate_since, t(seconds));
            prop_assert!(a.admitted.len() as u32 <= rate);
            prop_assert!(a.admitted.len() as u32 <= p.inventory_budget(remaining, outstanding));
            prop_assert!(a.admitted.windows(2).all(|w| w[0] < w[1]));
            prop_assert!(a.admitted.iter().all(|n| *n > serving && *n <= a.serving));
            prop_assert!(a.serving >= serving && a.serving <= issued);
            let passed = a.serving - serving;
            prop_assert_eq!(passed, a.admitted.len() as u64 + a.skipped);
            prop_assert!(a.rate_since <= t(seconds).max(c.rate_since));
        }
    }
}
