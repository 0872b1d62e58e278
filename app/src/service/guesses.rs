//! Failed guesses, throttled per client and per target: a wrong reservation secret, a
//! staff token that names nobody, a ticket or room token whose MAC is wrong. Every such
//! secret is 128 bits or more, so guessing one is hopeless anyway; what this adds is that
//! trying is not free: 60 wrong secrets, 30 sign-ins and 20 bearer checks in a row were
//! all answered at full speed, without a 429.
//!
//! A client has [`CLIENT_BURST`] failures, then one more every [`CLIENT_EVERY`]; a target
//! (a reservation reference) has [`TARGET_BURST`], then one every [`TARGET_EVERY`], so
//! that many addresses together cannot try one booking's secret faster either. Once a
//! budget is spent, the next attempt is refused (429, `Retry-After`) before anything is
//! checked, until the budget allows one more. Successes cost nothing.
//!
//! The price of the per-target budget: someone who keeps sending wrong secrets for a
//! reference they know delays its owner's online management by up to a minute at a time
//! (the owner can still phone or come to the counter). Per instance, like the write
//! limit.

use governor::clock::{Clock, DefaultClock, QuantaInstant, Reference};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

pub const CLIENT_BURST: u32 = 10;
pub const CLIENT_EVERY: Duration = Duration::from_secs(30);
pub const TARGET_BURST: u32 = 10;
pub const TARGET_EVERY: Duration = Duration::from_secs(60);
/// A booking's second factors (contact, birth date) are far fewer than its secret's
/// 2^128 values, so wrong ones are budgeted much tighter per booking: five, then one an
/// hour (`docs/ARCHITECTURE.md`, "Opening a booking without its secret", does the sums).
pub const FACTOR_BURST: u32 = 5;
pub const FACTOR_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Client(IpAddr),
    Target(String),
    /// A booking, for guesses of its second factor.
    Factor(String),
}

pub struct Guesses {
    clients: DefaultKeyedRateLimiter<IpAddr>,
    targets: DefaultKeyedRateLimiter<String>,
    factors: DefaultKeyedRateLimiter<String>,
    /// Subjects whose budget is spent, and until when.
    blocked: Mutex<HashMap<Subject, QuantaInstant>>,
    clock: DefaultClock,
}

fn quota(every: Duration, burst: u32) -> Quota {
    Quota::with_period(every)
        .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

impl Default for Guesses {
    fn default() -> Self {
        Self::new((CLIENT_BURST, CLIENT_EVERY), (TARGET_BURST, TARGET_EVERY))
    }
}

impl Guesses {
    /// Budgets as (burst, one more every).
    pub fn new(client: (u32, Duration), target: (u32, Duration)) -> Self {
        Self {
            clients: DefaultKeyedRateLimiter::keyed(quota(client.1, client.0)),
            targets: DefaultKeyedRateLimiter::keyed(quota(target.1, target.0)),
            factors: DefaultKeyedRateLimiter::keyed(quota(FACTOR_EVERY, FACTOR_BURST)),
            blocked: Mutex::new(HashMap::new()),
            clock: DefaultClock::default(),
        }
    }

    fn subjects(client: Option<IpAddr>, target: Option<&str>) -> Vec<Subject> {
        client
            .map(Subject::Client)
            .into_iter()
            .chain(target.map(|t| Subject::Target(t.to_ascii_uppercase())))
            .collect()
    }

    fn factor_subjects(client: Option<IpAddr>, reference: &str) -> Vec<Subject> {
        client
            .map(Subject::Client)
            .into_iter()
            .chain([Subject::Factor(reference.to_ascii_uppercase())])
            .collect()
    }

    /// Whether the client (and the target) may try now; how long to wait otherwise.
    pub fn check(&self, client: Option<IpAddr>, target: Option<&str>) -> Result<(), Duration> {
        self.check_subjects(Self::subjects(client, target))
    }

    /// Records a failed guess; a spent budget blocks its subject until one more is due.
    pub fn failed(&self, client: Option<IpAddr>, target: Option<&str>) {
        self.fail_subjects(Self::subjects(client, target));
    }

    /// [`Self::check`] for a second factor of the booking `reference`.
    pub fn check_factor(&self, client: Option<IpAddr>, reference: &str) -> Result<(), Duration> {
        self.check_subjects(Self::factor_subjects(client, reference))
    }

    /// [`Self::failed`] for a second factor of the booking `reference`.
    pub fn failed_factor(&self, client: Option<IpAddr>, reference: &str) {
        self.fail_subjects(Self::factor_subjects(client, reference));
    }

    fn check_subjects(&self, subjects: Vec<Subject>) -> Result<(), Duration> {
        let now = self.clock.now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = Duration::ZERO;
        for subject in subjects {
            match blocked.get(&subject) {
                Some(until) if *until > now => {
                    wait = wait.max(Duration::from(until.duration_since(now)));
                }
                Some(_) => {
                    blocked.remove(&subject);
                }
                None => {}
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    fn fail_subjects(&self, subjects: Vec<Subject>) {
        metrics::counter!("madoguchi_failed_guesses_total").increment(1);
        let mut spent = Vec::new();
        for subject in subjects {
            let outcome = match &subject {
                Subject::Client(ip) => self.clients.check_key(ip),
                Subject::Target(t) => self.targets.check_key(t),
                Subject::Factor(r) => self.factors.check_key(r),
            };
            if let Err(not_until) = outcome {
                spent.push((subject, not_until.earliest_possible()));
            }
        }
        if !spent.is_empty() {
            let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
            for (subject, until) in spent {
                blocked.insert(subject, until);
            }
        }
    }

    /// Forgets what no longer matters (called with the write limiter's sweep).
    pub fn forget_idle(&self) {
        let now = self.clock.now();
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
        self.clients.retain_recent();
        self.targets.retain_recent();
        self.factors.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_budget_blocks_before_anything_is_checked_and_successes_cost_nothing() {
        let guesses = Guesses::new(
            (3, Duration::from_secs(3600)),
            (100, Duration::from_secs(1)),
        );
        let me: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        for _ in 0..3 {
            assert!(guesses.check(Some(me), Some("REF")).is_ok());
            guesses.failed(Some(me), Some("REF"));
        }
        // The fourth failure spends the budget: from then on the client waits.
        guesses.failed(Some(me), Some("REF"));
        let wait = guesses.check(Some(me), None).unwrap_err();
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
        assert!(
            guesses.check(Some(other), Some("OTHER")).is_ok(),
            "others are not"
        );
    }

    #[test]
    fn second_factors_have_their_own_tighter_budget_per_booking() {
        let guesses = Guesses::default();
        for i in 0..=FACTOR_BURST {
            let client = IpAddr::from([198, 51, 100, u8::try_from(i).unwrap()]);
            assert!(guesses.check_factor(Some(client), "K7MQ-X2P4S").is_ok());
            guesses.failed_factor(Some(client), "K7MQ-X2P4S");
        }
        let fresh = IpAddr::from([198, 51, 100, 200]);
        let wait = guesses.check_factor(Some(fresh), "k7mq-x2p4s").unwrap_err();
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
        assert!(
            guesses.check(Some(fresh), Some("K7MQ-X2P4S")).is_ok(),
            "the secret's budget is apart"
        );
    }

    #[test]
    fn one_target_is_protected_from_many_clients() {
        let guesses = Guesses::new(
            (100, Duration::from_secs(1)),
            (2, Duration::from_secs(3600)),
        );
        for i in 0..3u8 {
            guesses.failed(Some(IpAddr::from([198, 51, 100, i])), Some("k7mqx2p4"));
        }
        let fresh = IpAddr::from([198, 51, 100, 200]);
        assert!(
            guesses.check(Some(fresh), Some("K7MQX2P4")).is_err(),
            "any case"
        );
        assert!(guesses.check(Some(fresh), Some("ANOTHER")).is_ok());
    }
}
