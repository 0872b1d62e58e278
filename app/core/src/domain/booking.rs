//! Booking rules: the booking window, cancellation cut-off, renewal eligibility, proxies,
//! and the decision whether a requested start time is a bookable slot.

use crate::domain::calendar::{Closure, DayPlan};
use crate::domain::office::{Municipality, Office};
use crate::domain::procedure::ProcedureId;
use crate::domain::slots::SlotTime;
use crate::domain::time::{from_tokyo, tokyo_date, tokyo_naive};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// An office's booking rules; each is configuration (docs/DOMAIN.md lists real variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingPolicy {
    /// Bookings for a day open this many days ahead (e.g. 45)...
    pub opens_days_ahead: u16,
    /// ...at this time of day (e.g. 08:30, when a waiting room may be scheduled).
    pub opens_at: NaiveTime,
    /// Online booking closes this many days before the day (e.g. 3; 0 = same day).
    pub closes_days_before: u16,
    /// With same-day booking, the slot must start at least this many minutes from now.
    pub min_lead_minutes: u16,
    /// Online cancellation and rescheduling close this many days before (then by phone).
    pub cancel_days_before: u16,
    /// A provisional hold lasts this long while the resident fills in the form.
    pub hold_minutes: u16,
}

/// The first and last day that can be booked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingWindow {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// Why a booking, cancellation or reschedule is refused. Each maps to a 422 problem type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleViolation {
    ProcedureNotOffered,
    /// The procedure is walk-in only at this office.
    ProcedureNotBookable,
    OfficeClosed(Closure),
    /// The start time is not one of the day's slots.
    NotASlot,
    /// Bookings for that day open later.
    NotYetOpen {
        opens_at: DateTime<Utc>,
    },
    /// Online booking for that day has closed (or the slot has passed).
    BookingClosed,
    /// Online cancellation or rescheduling has closed; phone the office.
    CancellationClosed {
        last_day: NaiveDate,
    },
    ProxyNotPossible,
    ProxyNotAccepted,
    /// Renewal is possible only from the day after the date three months before expiry.
    RenewalTooEarly {
        from: NaiveDate,
    },
    /// The certificate has expired: a new issuance (`cert_issue`) is needed instead.
    CertificateExpired,
    /// A field this procedure needs was not given.
    MissingField(&'static str),
}

impl BookingPolicy {
    /// The days that can be booked at `now`.
    pub fn window(&self, now: DateTime<Utc>) -> BookingWindow {
        let local = tokyo_naive(now);
        let today = local.date();
        let mut ahead = i64::from(self.opens_days_ahead);
        if local.time() < self.opens_at {
            ahead -= 1;
        }
        BookingWindow {
            first: today + Duration::days(i64::from(self.closes_days_before)),
            last: today + Duration::days(ahead),
        }
    }

    /// When bookings for `date` open.
    pub fn opens_at_for(&self, date: NaiveDate) -> DateTime<Utc> {
        from_tokyo(
            date - Duration::days(i64::from(self.opens_days_ahead)),
            self.opens_at,
        )
    }

    /// Whether a slot starting at `start` (Tokyo) on its day can be booked at `now`.
    pub fn check_bookable(
        &self,
        now: DateTime<Utc>,
        start: NaiveDateTime,
    ) -> Result<(), RuleViolation> {
        let window = self.window(now);
        let date = start.date();
        if date > window.last {
            return Err(RuleViolation::NotYetOpen {
                opens_at: self.opens_at_for(date),
            });
        }
        let lead = Duration::minutes(i64::from(self.min_lead_minutes));
        if date < window.first || from_tokyo(date, start.time()) < now + lead {
            return Err(RuleViolation::BookingClosed);
        }
        Ok(())
    }

    /// The last day on which a booking for `date` can be cancelled or moved online.
    pub fn cancel_last_day(&self, date: NaiveDate) -> NaiveDate {
        date - Duration::days(i64::from(self.cancel_days_before))
    }

    pub fn check_cancellable(
        &self,
        now: DateTime<Utc>,
        date: NaiveDate,
    ) -> Result<(), RuleViolation> {
        let last_day = self.cancel_last_day(date);
        if tokyo_date(now) > last_day {
            Err(RuleViolation::CancellationClosed { last_day })
        } else {
            Ok(())
        }
    }

    pub fn hold_length(&self) -> Duration {
        Duration::minutes(i64::from(self.hold_minutes))
    }
}

/// The days on which a certificate expiring on `expiry` can be renewed: from the day
/// after the date three months before expiry, up to the expiry date. "Three months
/// before" a day that the earlier month lacks is that month's last day (民法143条), so
/// expiry 31 May gives 28/29 Feb and renewal from 1 March.
pub fn renewal_window(expiry: NaiveDate) -> (NaiveDate, NaiveDate) {
    let three_months_before = expiry
        .checked_sub_months(Months::new(3))
        .unwrap_or(NaiveDate::MIN);
    (three_months_before + Duration::days(1), expiry)
}

pub fn check_renewal(expiry: NaiveDate, visit: NaiveDate) -> Result<(), RuleViolation> {
    let (from, until) = renewal_window(expiry);
    if visit > until {
        Err(RuleViolation::CertificateExpired)
    } else if visit < from {
        Err(RuleViolation::RenewalTooEarly { from })
    } else {
        Ok(())
    }
}

/// What the resident tells us that the rules depend on.
#[derive(Debug, Clone, Copy, Default)]
pub struct BookingFacts {
    pub proxy: bool,
    pub certificate_expiry: Option<NaiveDate>,
}

/// A slot that passed every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookableSlot {
    pub date: NaiveDate,
    pub time: SlotTime,
    pub capacity: u16,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl BookableSlot {
    pub fn slot_ref(
        &self,
        office: &crate::domain::OfficeId,
        procedure: ProcedureId,
    ) -> crate::domain::slots::SlotRef {
        crate::domain::slots::SlotRef {
            office: office.clone(),
            procedure,
            date: self.date,
            start: self.time.start,
        }
    }
}

/// Checks what and when of a request to book `procedure` at `office` starting at the
/// Tokyo time `start`, at `now`: the office offers it for booking, the day is open, the
/// time is a slot, and the booking window is open. Who may book it is
/// [`check_who_and_why`]. The order of the checks decides which problem a resident sees
/// first: what the office does, then when.
pub fn decide_slot(
    municipality: &Municipality,
    office: &Office,
    procedure: ProcedureId,
    start: NaiveDateTime,
    now: DateTime<Utc>,
) -> Result<BookableSlot, RuleViolation> {
    let op = office
        .procedures
        .get(&procedure)
        .ok_or(RuleViolation::ProcedureNotOffered)?;
    if !op.bookable {
        return Err(RuleViolation::ProcedureNotBookable);
    }
    let date = start.date();
    if let DayPlan::Closed(closure) = municipality.day_plan(office, date) {
        return Err(RuleViolation::OfficeClosed(closure));
    }
    let time = municipality
        .slots(office, procedure, date)
        .into_iter()
        .find(|s| s.start == start.time())
        .ok_or(RuleViolation::NotASlot)?;
    office.booking.check_bookable(now, start)?;
    Ok(BookableSlot {
        date,
        time,
        capacity: op.capacity,
        start: from_tokyo(date, time.start),
        end: from_tokyo(date, time.end),
    })
}

/// The rules about the resident rather than the slot: proxies and renewal eligibility.
pub fn check_who_and_why(
    office: &Office,
    procedure: ProcedureId,
    facts: BookingFacts,
    visit: NaiveDate,
) -> Result<(), RuleViolation> {
    if facts.proxy {
        if !procedure.info().proxy_possible {
            return Err(RuleViolation::ProxyNotPossible);
        }
        if !office.procedures.get(&procedure).is_some_and(|op| op.proxy) {
            return Err(RuleViolation::ProxyNotAccepted);
        }
    }
    if procedure.info().needs_certificate_expiry {
        let expiry = facts
            .certificate_expiry
            .ok_or(RuleViolation::MissingField("certificate_expiry"))?;
        check_renewal(expiry, visit)?;
    }
    Ok(())
}

/// The days from `from` to `to` (both included), at most `max` of them.
pub fn days(from: NaiveDate, to: NaiveDate, max: usize) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to).take(max)
}

/// How many of a slot's taken seats count against its capacity today. Seats are numbered
/// below the capacity when claimed; one numbered at or above it (claimed before the
/// capacity was lowered) does not take a seat of today's.
pub fn seats_in_use(seats: &[u16], capacity: u16) -> u16 {
    let n = seats.iter().filter(|s| **s < capacity).count();
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Whether a date is a plausible birth date at `today`.
pub fn plausible_birth_date(date: NaiveDate, today: NaiveDate) -> bool {
    date.year() >= 1900 && date <= today
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn renewal_opens_the_day_after_three_months_before_and_closes_after_expiry(
            days in 0i64..(365 * 40)
        ) {
            let expiry = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + Duration::days(days);
            let (from, until) = renewal_window(expiry);
            prop_assert_eq!(until, expiry);
            // Between 89 and 92 days long, whatever the months.
            let length = (until - from).num_days() + 1;
            prop_assert!((89..=92).contains(&length), "{} days", length);
            prop_assert_eq!(check_renewal(expiry, from), Ok(()));
            prop_assert_eq!(check_renewal(expiry, from - Duration::days(1)), Err(RuleViolation::RenewalTooEarly { from }));
            prop_assert_eq!(check_renewal(expiry, expiry + Duration::days(1)), Err(RuleViolation::CertificateExpired));
            let three_before = expiry.checked_sub_months(Months::new(3)).unwrap();
            prop_assert_eq!(from, three_before + Duration::days(1));
        }
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_seat_above_a_lowered_capacity_takes_none_of_todays() {
        assert_eq!(seats_in_use(&[], 2), 0);
        assert_eq!(seats_in_use(&[0, 1], 2), 2);
        // Seat 2 was claimed while the slot had three seats; it has two now.
        assert_eq!(seats_in_use(&[0, 2], 2), 1);
    }

    fn policy() -> BookingPolicy {
        BookingPolicy {
            opens_days_ahead: 45,
            opens_at: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
            closes_days_before: 3,
            min_lead_minutes: 30,
            cancel_days_before: 2,
            hold_minutes: 30,
        }
    }

    #[test]
    fn renewal_window_examples_from_the_domain_brief() {
        assert_eq!(
            renewal_window(d("2026-05-20")),
            (d("2026-02-21"), d("2026-05-20"))
        );
        // No 31 February: three months before 31 May is the end of February.
        assert_eq!(renewal_window(d("2026-05-31")).0, d("2026-03-01"));
        assert_eq!(renewal_window(d("2028-05-31")).0, d("2028-03-01"));
        assert_eq!(renewal_window(d("2028-05-29")).0, d("2028-03-01"));
        assert_eq!(renewal_window(d("2027-01-15")).0, d("2026-10-16"));
    }

    #[test]
    fn renewal_is_refused_too_early_and_after_expiry() {
        let expiry = d("2026-05-20");
        assert_eq!(
            check_renewal(expiry, d("2026-02-20")),
            Err(RuleViolation::RenewalTooEarly {
                from: d("2026-02-21")
            })
        );
        assert_eq!(check_renewal(expiry, d("2026-02-21")), Ok(()));
        assert_eq!(check_renewal(expiry, d("2026-05-20")), Ok(()));
        assert_eq!(
            check_renewal(expiry, d("2026-05-21")),
            Err(RuleViolation::CertificateExpired)
        );
    }

    #[test]
    fn the_window_opens_at_the_configured_time_of_day() {
        let p = policy();
        // 08:29 JST on 1 Dec: the 45th day ahead is not open yet.
        let before = p.window(at("2026-12-01T08:29:00+09:00"));
        assert_eq!(
            before,
            BookingWindow {
                first: d("2026-12-04"),
                last: d("2027-01-14")
            }
        );
        let after = p.window(at("2026-12-01T08:30:00+09:00"));
        assert_eq!(after.last, d("2027-01-15"));
        assert_eq!(
            p.opens_at_for(d("2027-01-15")),
            at("2026-12-01T08:30:00+09:00")
        );
    }

    #[test]
    fn bookable_checks_both_ends_of_the_window() {
        let p = policy();
        let now = at("2026-12-01T10:00:00+09:00");
        let slot = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(p.check_bookable(now, slot("2026-12-04 09:00")), Ok(()));
        assert_eq!(
            p.check_bookable(now, slot("2026-12-03 16:30")),
            Err(RuleViolation::BookingClosed)
        );
        assert_eq!(p.check_bookable(now, slot("2027-01-15 16:30")), Ok(()));
        assert!(matches!(
            p.check_bookable(now, slot("2027-01-16 09:00")),
            Err(RuleViolation::NotYetOpen { .. })
        ));
        // Same-day booking needs the lead time.
        let same_day = BookingPolicy {
            closes_days_before: 0,
            ..p
        };
        assert_eq!(
            same_day.check_bookable(now, slot("2026-12-01 10:30")),
            Ok(())
        );
        assert_eq!(
            same_day.check_bookable(now, slot("2026-12-01 10:15")),
            Err(RuleViolation::BookingClosed)
        );
    }

    #[test]
    fn cancellation_closes_the_configured_days_before() {
        let p = policy();
        let day = d("2026-12-10");
        assert_eq!(
            p.check_cancellable(at("2026-12-08T23:59:00+09:00"), day),
            Ok(())
        );
        assert_eq!(
            p.check_cancellable(at("2026-12-09T00:00:00+09:00"), day),
            Err(RuleViolation::CancellationClosed {
                last_day: d("2026-12-08")
            })
        );
    }
}
