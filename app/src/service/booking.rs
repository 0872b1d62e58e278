//! Booking: availability, book, hold/confirm, view, cancel, reschedule, and the rebuild of
//! the hot state from the ledger.
//!
//! The hot path of a booking is one Lua claim in the hot state and one insert in the
//! ledger. A full slot is refused by the hot state alone. The ledger's constraints are the
//! final guard: if the hot state was wrong (a rebuild raced with a claim, say), the insert
//! fails on the seat key, the hot state is corrected, and the claim is retried.

use crate::domain::OfficeId;
use crate::domain::booking::{
    BookingFacts, BookingWindow, RuleViolation, check_who_and_why, days, decide_slot, seats_in_use,
};
use crate::domain::calendar::{Closure, DayPlan};
use crate::domain::identity::{ResidentIdentity, ResidentName, SecondFactor};
use crate::domain::office::{Municipality, Office};
use crate::domain::procedure::ProcedureId;
use crate::domain::reference::ReferenceKey;
use crate::domain::time::{Clock, from_tokyo, tokyo_date};
use crate::service::guesses::Guesses;
use crate::service::keys::{Keys, fingerprint, is_token_shaped, new_reference};
use crate::service::staff::StaffPrincipal;
use crate::store::mail::MailContact;
use crate::store::{
    Actor, ClaimOutcome, Digest, HotError, HotState, IdempotencyMark, Ledger, NewReservation,
    OfficeSnapshot, OnBehalf, Placement, Reservation, ReservationStatus, ResidentMark,
    ResidentRecord, SeatClaim, SeatRelease, StoreError, WriteError, new_row_id,
};
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use tokio::sync::Mutex;
use uuid::Uuid;

/// The longest range one availability request may cover.
pub const MAX_AVAILABILITY_DAYS: usize = 62;

/// How long before a rebuild's snapshot a claim may have been made and still not be in
/// it (its row committed after the read): the rebuild keeps such claims' seats. Far above
/// a group commit's latency (milliseconds); keeping a claim whose row is in the snapshot
/// changes nothing, but each one kept costs the rebuild a few microseconds of Redis.
const CLAIMS_IN_FLIGHT: Duration = Duration::seconds(2);

#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("no such office")]
    OfficeNotFound,
    #[error("a booking rule was broken: {0:?}")]
    Rule(RuleViolation),
    #[error("the slot is full")]
    SlotFull,
    #[error("the resident already has an active booking for this procedure")]
    AlreadyBooked,
    #[error("the idempotency key was used with a different request")]
    IdempotencyMismatch,
    #[error("a request with this idempotency key is still being processed")]
    IdempotencyInProgress,
    #[error("no reservation with this reference and secret")]
    NotFound,
    /// Too many wrong secrets from this client or for this reference: wait this long.
    #[error("too many failed attempts; retry in {0:?}")]
    TooManyGuesses(std::time::Duration),
    /// The reservation is not in a state that allows this (e.g. rescheduling a hold).
    #[error("the reservation is {0:?}")]
    WrongState(ReservationStatus),
    #[error("the hold has expired")]
    HoldExpired,
    /// Staff act only for their own office.
    #[error("the staff token is for another office")]
    OtherOffice,
    #[error("the date range is invalid: {0}")]
    BadRange(&'static str),
    #[error("service temporarily unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<RuleViolation> for BookingError {
    fn from(v: RuleViolation) -> Self {
        BookingError::Rule(v)
    }
}

impl From<StoreError> for BookingError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => BookingError::Unavailable(m),
            StoreError::Unexpected(e) => BookingError::Unexpected(e),
        }
    }
}

impl From<HotError> for BookingError {
    fn from(e: HotError) -> Self {
        match e {
            HotError::Unavailable(m) => BookingError::Unavailable(m),
            HotError::NeedsRebuild(o) => {
                BookingError::Unavailable(format!("hot state of office {o} is being rebuilt"))
            }
            HotError::Unexpected(e) => BookingError::Unexpected(e),
        }
    }
}

impl From<WriteError> for BookingError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::SeatTaken => BookingError::SlotFull,
            WriteError::ResidentHasBooking => BookingError::AlreadyBooked,
            WriteError::IdempotencyKeyUsed => BookingError::IdempotencyMismatch,
            // Only a new booking draws a reference, and it draws again (`book`).
            WriteError::ReferenceTaken => BookingError::Unavailable("a reference was taken".into()),
            WriteError::Store(e) => e.into(),
        }
    }
}

/// The resident part of a booking request, parsed at the edge.
#[derive(Clone, Debug)]
pub struct ResidentInput {
    pub name: ResidentName,
    pub identity: ResidentIdentity,
    /// What opens the booking with its reference besides the secret (the contact and
    /// birth date given); only their tags are kept.
    pub factors: Vec<SecondFactor>,
    pub proxy: bool,
    /// The language of the booking's messages: `ja`, `en` or `easy`.
    pub lang: &'static str,
}

/// An Idempotency-Key header value, as sent.
#[derive(Clone, Debug)]
pub struct IdempotencyKey(pub String);

#[derive(Clone, Debug)]
pub struct BookRequest {
    pub office: OfficeId,
    pub procedure: ProcedureId,
    /// Tokyo wall-clock start of the slot.
    pub start: NaiveDateTime,
    pub resident: ResidentInput,
    pub certificate_expiry: Option<NaiveDate>,
    pub idempotency: Option<IdempotencyKey>,
}

#[derive(Clone, Debug)]
pub struct HoldRequest {
    pub office: OfficeId,
    pub procedure: ProcedureId,
    pub start: NaiveDateTime,
    pub idempotency: Option<IdempotencyKey>,
}

/// Proof of ownership of a reservation: its reference and secret, and who offers it
/// (wrong secrets are throttled per client and per reference, `service::guesses`).
#[derive(Clone)]
pub struct Ownership {
    pub reference: ReferenceKey,
    pub secret: String,
    pub client: Option<std::net::IpAddr>,
}

impl std::fmt::Debug for Ownership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ownership(..)")
    }
}

/// The caller agreed that staff book for them with what they said (noted by staff in
/// the console); a phone booking cannot be made without it.
#[derive(Debug, Clone, Copy)]
pub struct CallerConsent(());

impl CallerConsent {
    /// The console's consent box: ticked, or no booking.
    pub fn given(ticked: bool) -> Option<Self> {
        ticked.then_some(CallerConsent(()))
    }
}

#[derive(Clone, Debug)]
pub struct RescheduleRequest {
    pub office: Option<OfficeId>,
    pub start: NaiveDateTime,
    pub certificate_expiry: Option<NaiveDate>,
}

/// A booking or hold, with its secret (derived, so it can be given again on a replay).
#[derive(Debug, Clone)]
pub struct Booked {
    pub reservation: Reservation,
    pub secret: String,
    /// True when this answers a retried request with the same Idempotency-Key.
    pub replayed: bool,
}

#[derive(Debug, Clone)]
pub struct SlotAvailability {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub capacity: u16,
    pub remaining: u16,
}

#[derive(Debug, Clone)]
pub struct Availability {
    pub window: BookingWindow,
    pub slots: Vec<SlotAvailability>,
    pub closed: Vec<(NaiveDate, Closure)>,
}

/// Timings of the booking machinery.
#[derive(Debug, Clone, Copy)]
pub struct BookingTimings {
    /// A claim without a ledger row is returned after this long.
    pub claim_deadline: Duration,
    /// When a booking's reminder is sent.
    pub reminder: Reminder,
}

/// A booking's reminder goes `days_before` its day at `at` (Tokyo time); none when the
/// booking is made after that, as its confirmation is then the reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reminder {
    pub days_before: u32,
    pub at: chrono::NaiveTime,
}

impl Default for Reminder {
    fn default() -> Self {
        Self {
            days_before: 1,
            at: chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap_or_default(),
        }
    }
}

impl Reminder {
    /// When the reminder of a slot starting at `slot_start` is due, if still ahead.
    pub fn due(&self, slot_start: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let day = tokyo_date(slot_start) - chrono::Duration::days(i64::from(self.days_before));
        let due = crate::domain::time::from_tokyo(day, self.at);
        (due > now && due < slot_start).then_some(due)
    }
}

/// Where a booking's messages go: the e-mail address the resident gave, if any.
fn mail_contact(resident: &ResidentInput) -> Option<MailContact> {
    let email = resident.factors.iter().find_map(|f| match f {
        SecondFactor::Email(e) => Some(e.as_str().to_owned()),
        _ => None,
    })?;
    Some(MailContact {
        email,
        lang: resident.lang.to_owned(),
    })
}

pub struct BookingService {
    municipality: Arc<Municipality>,
    ledger: Arc<dyn Ledger>,
    hot: Arc<dyn HotState>,
    clock: Arc<dyn Clock>,
    keys: Arc<Keys>,
    timings: BookingTimings,
    rebuild_locks: HashMap<OfficeId, Mutex<()>>,
    /// Failed guesses of secrets and tokens (shared with the staff and queue services).
    guesses: Arc<Guesses>,
}

impl BookingService {
    pub fn new(
        municipality: Arc<Municipality>,
        ledger: Arc<dyn Ledger>,
        hot: Arc<dyn HotState>,
        clock: Arc<dyn Clock>,
        keys: Arc<Keys>,
        timings: BookingTimings,
        guesses: Arc<Guesses>,
    ) -> Self {
        let rebuild_locks = municipality
            .offices
            .iter()
            .map(|o| (o.id.clone(), Mutex::new(())))
            .collect();
        Self {
            municipality,
            ledger,
            hot,
            clock,
            keys,
            timings,
            rebuild_locks,
            guesses,
        }
    }

    /// The throttle of failed guesses, for the services that check other secrets.
    pub fn guesses(&self) -> &Arc<Guesses> {
        &self.guesses
    }

    /// The purpose keys (ticket tokens are made with them too).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn municipality(&self) -> &Municipality {
        &self.municipality
    }

    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    pub fn hot(&self) -> &Arc<dyn HotState> {
        &self.hot
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn office(&self, id: &OfficeId) -> Result<&Office, BookingError> {
        self.municipality
            .office(id.as_str())
            .ok_or(BookingError::OfficeNotFound)
    }

    /// Runs a hot-state operation; if the office's hot state is missing, rebuilds it from
    /// the ledger once and retries.
    async fn hot_op<T, F, Fut>(&self, office: &OfficeId, op: F) -> Result<T, BookingError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, HotError>>,
    {
        match op().await {
            Err(HotError::NeedsRebuild(_)) => {
                tracing::warn!(office = %office, "hot state missing; rebuilding from the ledger");
                self.rebuild_office(office, false).await?;
                Ok(op().await?)
            }
            other => Ok(other?),
        }
    }

    // ---------------------------------------------------------------- availability

    pub async fn availability(
        &self,
        office_id: &OfficeId,
        procedure: ProcedureId,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Availability, BookingError> {
        let office = self.office(office_id)?;
        let op = office
            .procedures
            .get(&procedure)
            .ok_or(RuleViolation::ProcedureNotOffered)?;
        if !op.bookable {
            return Err(RuleViolation::ProcedureNotBookable.into());
        }
        if let (Some(f), Some(t)) = (from, to) {
            if t < f {
                return Err(BookingError::BadRange("`to` is before `from`"));
            }
            if (t - f).num_days() >= i64::try_from(MAX_AVAILABILITY_DAYS).unwrap_or(i64::MAX) {
                return Err(BookingError::BadRange("ask for at most 62 days at a time"));
            }
        }
        let now = self.clock.now();
        let window = office.booking.window(now);
        let from = from.unwrap_or(window.first).max(window.first);
        let to = to.unwrap_or(from + Duration::days(13)).min(window.last);
        let dates: Vec<NaiveDate> = days(from, to, MAX_AVAILABILITY_DAYS).collect();
        if dates.is_empty() {
            return Ok(Availability {
                window,
                slots: Vec::new(),
                closed: Vec::new(),
            });
        }
        let taken = self
            .hot_op(office_id, || self.hot.taken(office_id, procedure, &dates))
            .await?;
        let mut slots = Vec::new();
        let mut closed = Vec::new();
        for date in &dates {
            if let DayPlan::Closed(closure) = self.municipality.day_plan(office, *date) {
                closed.push((*date, closure));
                continue;
            }
            for time in self.municipality.slots(office, procedure, *date) {
                if office
                    .booking
                    .check_bookable(now, date.and_time(time.start))
                    .is_err()
                {
                    continue;
                }
                let used = taken
                    .get(&(*date, time.start))
                    .map_or(0, |seats| seats_in_use(seats, op.capacity));
                slots.push(SlotAvailability {
                    start: from_tokyo(*date, time.start),
                    end: from_tokyo(*date, time.end),
                    capacity: op.capacity,
                    remaining: op.capacity.saturating_sub(used),
                });
            }
        }
        Ok(Availability {
            window,
            slots,
            closed,
        })
    }

    // ---------------------------------------------------------------- booking

    /// Books a slot for a resident in one step.
    pub async fn book(&self, req: BookRequest) -> Result<Booked, BookingError> {
        self.book_with(req, None).await
    }

    /// Books for a resident who called (電話予約の代行), by the same rules as their own
    /// booking; the booking's first audit event names the staff token and the consent.
    pub async fn book_for_caller(
        &self,
        staff: &StaffPrincipal,
        req: BookRequest,
        _consent: CallerConsent,
    ) -> Result<Booked, BookingError> {
        if !staff.may_act_for(&req.office) {
            return Err(BookingError::OtherOffice);
        }
        let on_behalf = OnBehalf {
            staff: staff.token_id,
            detail: serde_json::json!({ "channel": "phone", "consent": true }),
        };
        self.book_with(req, Some(on_behalf)).await
    }

    async fn book_with(
        &self,
        req: BookRequest,
        on_behalf: Option<OnBehalf>,
    ) -> Result<Booked, BookingError> {
        let now = self.clock.now();
        let office = self.office(&req.office)?;
        let slot = decide_slot(&self.municipality, office, req.procedure, req.start, now)?;
        let facts = BookingFacts {
            proxy: req.resident.proxy,
            certificate_expiry: req.certificate_expiry,
        };
        check_who_and_why(office, req.procedure, facts, slot.date)?;
        let identity_hash = self.keys.identity_hash(&req.resident.identity);
        let idempotency = self.idempotency_mark_with(&req, identity_hash);
        let claim = SeatClaim {
            claim_id: new_row_id(),
            slot: slot.slot_ref(&req.office, req.procedure),
            capacity: slot.capacity,
            idempotency,
            resident: Some(ResidentMark {
                identity_hash,
                until: slot.end,
            }),
            deadline: now + self.timings.claim_deadline,
            now,
        };
        let resident = ResidentRecord {
            name: req.resident.name.as_str().to_owned(),
            identity_hash,
            proofs: self
                .keys
                .resident_proofs(claim.claim_id, &req.resident.factors),
            proxy: req.resident.proxy,
            contact: mail_contact(&req.resident),
            certificate_expiry: req.certificate_expiry,
            on_behalf,
        };
        self.claim_and_insert(claim, slot.start, slot.end, Some(resident), None)
            .await
    }

    /// The idempotency mark of a booking request: the hashed key and the fingerprint of
    /// what the request means (not its bytes), so a retry with other whitespace matches.
    pub fn idempotency_mark(&self, req: &BookRequest) -> Option<IdempotencyMark> {
        self.idempotency_mark_with(req, self.keys.identity_hash(&req.resident.identity))
    }

    /// [`Self::idempotency_mark`] with the resident's identity hash already computed.
    fn idempotency_mark_with(
        &self,
        req: &BookRequest,
        identity_hash: Digest,
    ) -> Option<IdempotencyMark> {
        let key = req.idempotency.as_ref()?;
        let expiry = req
            .certificate_expiry
            .map(|d| d.to_string())
            .unwrap_or_default();
        Some(IdempotencyMark {
            key_hash: self.keys.idempotency_hash(&key.0),
            fingerprint: fingerprint(&[
                b"book",
                req.office.as_str().as_bytes(),
                req.procedure.as_str().as_bytes(),
                req.start.to_string().as_bytes(),
                req.resident.name.as_str().as_bytes(),
                &identity_hash,
                &[u8::from(req.resident.proxy)],
                expiry.as_bytes(),
            ]),
        })
    }

    /// Holds a seat provisionally while the resident fills in the form.
    pub async fn hold(&self, req: HoldRequest) -> Result<Booked, BookingError> {
        let now = self.clock.now();
        let office = self.office(&req.office)?;
        let slot = decide_slot(&self.municipality, office, req.procedure, req.start, now)?;
        let idempotency = req.idempotency.as_ref().map(|k| IdempotencyMark {
            key_hash: self.keys.idempotency_hash(&k.0),
            fingerprint: fingerprint(&[
                b"hold",
                req.office.as_str().as_bytes(),
                req.procedure.as_str().as_bytes(),
                req.start.to_string().as_bytes(),
            ]),
        });
        let claim = SeatClaim {
            claim_id: new_row_id(),
            slot: slot.slot_ref(&req.office, req.procedure),
            capacity: slot.capacity,
            idempotency,
            resident: None,
            deadline: now + self.timings.claim_deadline,
            now,
        };
        let expires = now + office.booking.hold_length();
        self.claim_and_insert(claim, slot.start, slot.end, None, Some(expires))
            .await
    }

    /// The hot path: claim a seat, insert the row; repair and retry if the ledger
    /// disagrees with the hot state.
    async fn claim_and_insert(
        &self,
        claim: SeatClaim,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        resident: Option<ResidentRecord>,
        hold_expires_at: Option<DateTime<Utc>>,
    ) -> Result<Booked, BookingError> {
        let office = claim.slot.office.clone();
        // Each failed attempt finds a seat the ledger holds, so capacity bounds the loop.
        let attempts = usize::from(claim.capacity) + 2;
        let mut lapsed_once = false;
        for _ in 0..attempts {
            let outcome = self.hot_op(&office, || self.hot.claim(&claim)).await?;
            let seat = match outcome {
                ClaimOutcome::Claimed { seat } => seat,
                ClaimOutcome::Full => {
                    metrics::counter!("madoguchi_bookings_total", "outcome" => "full").increment(1);
                    return Err(BookingError::SlotFull);
                }
                ClaimOutcome::ResidentHasBooking => {
                    metrics::counter!("madoguchi_bookings_total", "outcome" => "already_booked")
                        .increment(1);
                    return Err(BookingError::AlreadyBooked);
                }
                ClaimOutcome::Replay {
                    claim_id,
                    fingerprint,
                } => {
                    let asked = claim.idempotency.map(|i| i.fingerprint);
                    return self.replay(claim_id, Some(fingerprint), asked).await;
                }
            };
            let new = NewReservation {
                id: claim.claim_id,
                reference: new_reference().to_string(),
                placement: Placement {
                    slot: claim.slot.clone(),
                    start,
                    end,
                    seat,
                    capacity: claim.capacity,
                },
                resident: resident.clone(),
                hold_expires_at,
                idempotency_key_hash: claim.idempotency.map(|i| i.key_hash),
                request_fingerprint: claim.idempotency.map(|i| i.fingerprint),
                now: claim.now,
            };
            let release = SeatRelease {
                holder: claim.claim_id,
                slot: claim.slot.clone(),
                seat: Some(seat),
                resident: claim.resident.map(|r| r.identity_hash),
                idempotency: claim.idempotency.map(|i| i.key_hash),
            };
            match self.ledger.insert_reservation(&new).await {
                Ok(()) => {
                    metrics::counter!("madoguchi_bookings_total", "outcome" => if resident.is_some() { "booked" } else { "held" }).increment(1);
                    return Ok(Booked {
                        secret: self.keys.reservation_secret(new.id),
                        reservation: reservation_from(new, hold_expires_at),
                        replayed: false,
                    });
                }
                Err(WriteError::SeatTaken) => {
                    // The hot state gave out a seat the ledger holds: record the real
                    // holder and try again. The claim id stays; its marks stay with it.
                    metrics::counter!("madoguchi_hot_state_corrections_total").increment(1);
                    tracing::warn!(office = %office, seat, "ledger refused a seat the hot state gave; correcting");
                    match self.ledger.seat_holder(&claim.slot, start, seat).await? {
                        Some(actual) => {
                            self.hot
                                .correct_holder(&claim.slot, seat, claim.claim_id, actual)
                                .await?
                        }
                        None => {
                            // The holder left meanwhile; give the seat back and retry.
                            self.release_quietly(&SeatRelease {
                                resident: None,
                                idempotency: None,
                                ..release
                            })
                            .await;
                        }
                    }
                }
                Err(WriteError::ResidentHasBooking) => {
                    self.release_quietly(&release).await;
                    // A retry whose marks the hot state lost hits the resident rule first:
                    // the ledger knows the key.
                    if let Some(mark) = claim.idempotency
                        && let Some(existing) = self
                            .ledger
                            .reservation_by_idempotency_key(&mark.key_hash)
                            .await?
                    {
                        return self
                            .replay(
                                existing.id,
                                existing.request_fingerprint,
                                Some(mark.fingerprint),
                            )
                            .await;
                    }
                    // The ledger may still count a booking whose slot just ended.
                    if !lapsed_once && self.ledger.lapse_past(claim.now, claim.now).await? > 0 {
                        lapsed_once = true;
                        continue;
                    }
                    return Err(BookingError::AlreadyBooked);
                }
                Err(WriteError::IdempotencyKeyUsed) => {
                    self.release_quietly(&SeatRelease {
                        idempotency: None,
                        ..release
                    })
                    .await;
                    let Some(mark) = claim.idempotency else {
                        return Err(BookingError::IdempotencyMismatch);
                    };
                    let existing = self
                        .ledger
                        .reservation_by_idempotency_key(&mark.key_hash)
                        .await?
                        .ok_or(BookingError::IdempotencyInProgress)?;
                    return self
                        .replay(
                            existing.id,
                            existing.request_fingerprint,
                            Some(mark.fingerprint),
                        )
                        .await;
                }
                Err(WriteError::ReferenceTaken) => {
                    // Drawn before (about once in a million bookings): claim again, with
                    // a reference drawn afresh.
                    tracing::info!(office = %office, "a drawn reference was taken; drawing again");
                    self.release_quietly(&release).await;
                }
                Err(WriteError::Store(e)) => {
                    self.release_quietly(&release).await;
                    return Err(e.into());
                }
            }
        }
        Err(BookingError::Unexpected(anyhow::anyhow!(
            "the hot state and the ledger kept disagreeing about office {office}"
        )))
    }

    /// Answers a retried request with the booking the first one made.
    async fn replay(
        &self,
        id: Uuid,
        stored: Option<Digest>,
        asked: Option<Digest>,
    ) -> Result<Booked, BookingError> {
        if stored != asked {
            return Err(BookingError::IdempotencyMismatch);
        }
        let reservation = self
            .ledger
            .reservation_by_id(id)
            .await?
            .ok_or(BookingError::IdempotencyInProgress)?;
        metrics::counter!("madoguchi_bookings_total", "outcome" => "replayed").increment(1);
        Ok(Booked {
            secret: self.keys.reservation_secret(reservation.id),
            reservation,
            replayed: true,
        })
    }

    /// Best effort: if the hot state cannot take the release now, the reaper or the next
    /// rebuild gives the seat back.
    async fn release_quietly(&self, release: &SeatRelease) {
        if let Err(e) = self.hot.release(release).await {
            tracing::warn!(error = %e, office = %release.slot.office, "could not release a seat now; the reaper will");
        }
    }

    // ---------------------------------------------------------------- managing

    /// The reservation, if the reference exists and the secret matches. Both failures
    /// answer the same, so nobody learns which references exist.
    pub async fn find(&self, owner: &Ownership) -> Result<Reservation, BookingError> {
        let target = Some(owner.reference.as_str());
        self.guesses
            .check(owner.client, target)
            .map_err(BookingError::TooManyGuesses)?;
        let found = self.lookup(owner).await;
        if matches!(found, Err(BookingError::NotFound)) {
            self.guesses.failed(owner.client, target);
        }
        found
    }

    async fn lookup(&self, owner: &Ownership) -> Result<Reservation, BookingError> {
        if !is_token_shaped(&owner.secret) {
            return Err(BookingError::NotFound);
        }
        let reservation = self
            .ledger
            .reservation_by_reference(owner.reference.as_str())
            .await?
            .ok_or(BookingError::NotFound)?;
        if self.keys.verify_secret(reservation.id, &owner.secret) {
            Ok(reservation)
        } else {
            Err(BookingError::NotFound)
        }
    }

    /// Opens a booking with its reference and a second factor the resident gave at booking
    /// (the contact or the birth date), for a resident without the secret. Wrong factors
    /// are budgeted per client and, much tighter, per reference (`service::guesses`); an
    /// unknown reference and a wrong factor answer the same. The secret comes back so
    /// that the next steps (cancel, move) can prove ownership as usual.
    pub async fn open_with_factor(
        &self,
        reference: &ReferenceKey,
        factor: &SecondFactor,
        client: Option<std::net::IpAddr>,
    ) -> Result<(Reservation, Ownership), BookingError> {
        self.guesses
            .check_factor(client, reference.as_str())
            .map_err(BookingError::TooManyGuesses)?;
        let found = self
            .ledger
            .reservation_by_reference(reference.as_str())
            .await?
            .filter(|r| {
                r.resident_proofs
                    .as_deref()
                    .is_some_and(|proofs| self.keys.proves(r.id, proofs, factor))
            });
        let Some(reservation) = found else {
            self.guesses.failed_factor(client, reference.as_str());
            return Err(BookingError::NotFound);
        };
        let owner = Ownership {
            reference: reference.clone(),
            secret: self.keys.reservation_secret(reservation.id),
            client,
        };
        Ok((reservation, owner))
    }

    /// Today's confirmed bookings of an office that match what reception typed (a name or
    /// a booked time), by start.
    pub async fn find_for_reception(
        &self,
        office: &OfficeId,
        query: &crate::domain::reception::ReceptionQuery,
    ) -> Result<Vec<Reservation>, BookingError> {
        let today = tokyo_date(self.clock.now());
        let from = crate::domain::time::from_tokyo(today, chrono::NaiveTime::MIN);
        let bookings = self
            .ledger
            .confirmed_between(office, from, from + Duration::days(1))
            .await?;
        Ok(bookings
            .into_iter()
            .filter(|r| {
                query.matches(
                    r.resident_name.as_deref(),
                    crate::domain::time::tokyo_naive(r.slot_start).time(),
                )
            })
            .collect())
    }

    /// Confirms a hold with the resident's details.
    pub async fn confirm(
        &self,
        owner: &Ownership,
        resident: ResidentInput,
        certificate_expiry: Option<NaiveDate>,
    ) -> Result<Reservation, BookingError> {
        let now = self.clock.now();
        let r = self.find(owner).await?;
        let identity_hash = self.keys.identity_hash(&resident.identity);
        match r.status {
            ReservationStatus::Held => {}
            // A repeated confirmation by the same resident is answered like the first.
            ReservationStatus::Confirmed if r.resident_hash == Some(identity_hash) => return Ok(r),
            ReservationStatus::Expired => return Err(BookingError::HoldExpired),
            other => return Err(BookingError::WrongState(other)),
        }
        if r.hold_expires_at.is_none_or(|t| t <= now) {
            return Err(BookingError::HoldExpired);
        }
        let office = self.office(&r.office_id)?;
        let facts = BookingFacts {
            proxy: resident.proxy,
            certificate_expiry,
        };
        check_who_and_why(office, r.procedure, facts, tokyo_date(r.slot_start))?;
        let mark = ResidentMark {
            identity_hash,
            until: r.slot_end,
        };
        let marked = self
            .hot_op(&r.office_id, || {
                self.hot
                    .mark_resident(&r.office_id, r.procedure, r.id, &mark, now)
            })
            .await?;
        if !marked {
            return Err(BookingError::AlreadyBooked);
        }
        let record = ResidentRecord {
            name: resident.name.as_str().to_owned(),
            identity_hash,
            proofs: self.keys.resident_proofs(r.id, &resident.factors),
            proxy: resident.proxy,
            contact: mail_contact(&resident),
            certificate_expiry,
            on_behalf: None,
        };
        let clear_mark = SeatRelease {
            holder: r.id,
            slot: r.slot(),
            seat: None,
            resident: Some(identity_hash),
            idempotency: None,
        };
        match self.ledger.confirm_hold(r.id, &record, now).await {
            Ok(Some(confirmed)) => Ok(confirmed),
            Ok(None) => {
                self.release_quietly(&clear_mark).await;
                Err(BookingError::HoldExpired)
            }
            Err(e) => {
                self.release_quietly(&clear_mark).await;
                Err(e.into())
            }
        }
    }

    /// Cancels a booking or releases a hold. Cancelling twice answers the same.
    pub async fn cancel(&self, owner: &Ownership) -> Result<Reservation, BookingError> {
        let r = self.find(owner).await?;
        self.cancel_found(r, Actor::Resident).await
    }

    /// A booking of the staff's office, by the reference a caller reads out; the opening
    /// is an audit event (`viewed`) naming the staff token.
    pub async fn open_for_caller(
        &self,
        staff: &StaffPrincipal,
        reference: &ReferenceKey,
    ) -> Result<Reservation, BookingError> {
        let r = self.caller_booking(staff, reference).await?;
        self.ledger
            .record_event(
                r.id,
                "viewed",
                Actor::Staff(staff.token_id),
                self.clock.now(),
            )
            .await?;
        Ok(r)
    }

    /// A caller's bookings at the staff's office, by their name and birth date when the
    /// reference is lost; each opening is an audit event (`viewed`).
    pub async fn find_for_caller(
        &self,
        staff: &StaffPrincipal,
        identity: &ResidentIdentity,
    ) -> Result<Vec<Reservation>, BookingError> {
        let hash = self.keys.identity_hash(identity);
        let found: Vec<Reservation> = self
            .ledger
            .confirmed_of_resident(&hash)
            .await?
            .into_iter()
            .filter(|r| staff.may_act_for(&r.office_id))
            .collect();
        let now = self.clock.now();
        for r in &found {
            self.ledger
                .record_event(r.id, "viewed", Actor::Staff(staff.token_id), now)
                .await?;
        }
        Ok(found)
    }

    /// Cancels a caller's booking. Staff on the phone may do so after the online deadline
    /// (that is what the phone is for), not after the slot.
    pub async fn cancel_for_caller(
        &self,
        staff: &StaffPrincipal,
        reference: &ReferenceKey,
    ) -> Result<Reservation, BookingError> {
        let r = self.caller_booking(staff, reference).await?;
        self.cancel_found(r, Actor::Staff(staff.token_id)).await
    }

    /// Moves a caller's booking to another slot of the same office, by the booking rules
    /// but not the online deadline.
    pub async fn reschedule_for_caller(
        &self,
        staff: &StaffPrincipal,
        reference: &ReferenceKey,
        start: NaiveDateTime,
        certificate_expiry: Option<NaiveDate>,
    ) -> Result<Reservation, BookingError> {
        let r = self.caller_booking(staff, reference).await?;
        let req = RescheduleRequest {
            office: None,
            start,
            certificate_expiry,
        };
        self.reschedule_found(r, req, Actor::Staff(staff.token_id))
            .await
    }

    async fn caller_booking(
        &self,
        staff: &StaffPrincipal,
        reference: &ReferenceKey,
    ) -> Result<Reservation, BookingError> {
        self.ledger
            .reservation_by_reference(reference.as_str())
            .await?
            .filter(|r| staff.may_act_for(&r.office_id))
            .ok_or(BookingError::NotFound)
    }

    /// Residents change online until the deadline; staff (a caller's request) until the
    /// slot, as the rules of the slot itself still say.
    fn check_changeable(&self, r: &Reservation, by: Actor) -> Result<(), BookingError> {
        if matches!(by, Actor::Staff(_)) {
            return Ok(());
        }
        let office = self.office(&r.office_id)?;
        office
            .booking
            .check_cancellable(self.clock.now(), tokyo_date(r.slot_start))?;
        Ok(())
    }

    async fn cancel_found(&self, r: Reservation, by: Actor) -> Result<Reservation, BookingError> {
        let now = self.clock.now();
        match r.status {
            ReservationStatus::Cancelled | ReservationStatus::Expired => return Ok(r),
            ReservationStatus::Lapsed => {
                return Err(RuleViolation::CancellationClosed {
                    last_day: tokyo_date(r.slot_start),
                }
                .into());
            }
            ReservationStatus::Confirmed => self.check_changeable(&r, by)?,
            ReservationStatus::Held => {}
        }
        let Some(cancelled) = self.ledger.cancel(r.id, by, now).await? else {
            // Cancelled or expired concurrently: answer with what it is now.
            return self
                .ledger
                .reservation_by_id(r.id)
                .await?
                .ok_or(BookingError::NotFound);
        };
        self.release_quietly(&SeatRelease {
            holder: r.id,
            slot: r.slot(),
            seat: Some(r.seat),
            resident: r.resident_hash,
            idempotency: None,
        })
        .await;
        metrics::counter!("madoguchi_cancellations_total").increment(1);
        Ok(cancelled)
    }

    /// Moves a booking to another slot: claim the new seat, move the row, release the old.
    pub async fn reschedule(
        &self,
        owner: &Ownership,
        req: RescheduleRequest,
    ) -> Result<Reservation, BookingError> {
        let r = self.find(owner).await?;
        self.reschedule_found(r, req, Actor::Resident).await
    }

    async fn reschedule_found(
        &self,
        r: Reservation,
        req: RescheduleRequest,
        by: Actor,
    ) -> Result<Reservation, BookingError> {
        let now = self.clock.now();
        if r.status != ReservationStatus::Confirmed {
            return Err(BookingError::WrongState(r.status));
        }
        self.check_changeable(&r, by)?;
        let target_id = req.office.clone().unwrap_or_else(|| r.office_id.clone());
        let target = self.office(&target_id)?;
        let slot = decide_slot(&self.municipality, target, r.procedure, req.start, now)?;
        // The expiry given at booking counts unless the resident gives it again.
        let facts = BookingFacts {
            proxy: r.proxy,
            certificate_expiry: req.certificate_expiry.or(r.certificate_expiry),
        };
        check_who_and_why(target, r.procedure, facts, slot.date)?;
        if target_id == r.office_id && slot.start == r.slot_start {
            return Ok(r);
        }
        let identity_hash = r
            .resident_hash
            .ok_or_else(|| anyhow::anyhow!("a confirmed booking without a resident"))?;
        let claim = SeatClaim {
            claim_id: r.id,
            slot: slot.slot_ref(&target_id, r.procedure),
            capacity: slot.capacity,
            idempotency: None,
            resident: Some(ResidentMark {
                identity_hash,
                until: slot.end,
            }),
            deadline: now + self.timings.claim_deadline,
            now,
        };
        let moved_office = target_id != r.office_id;
        for _ in 0..usize::from(slot.capacity) + 2 {
            let seat = match self.hot_op(&target_id, || self.hot.claim(&claim)).await? {
                ClaimOutcome::Claimed { seat } => seat,
                ClaimOutcome::Full => return Err(BookingError::SlotFull),
                ClaimOutcome::ResidentHasBooking => return Err(BookingError::AlreadyBooked),
                ClaimOutcome::Replay { .. } => {
                    return Err(BookingError::Unexpected(anyhow::anyhow!(
                        "a reschedule claim without an idempotency key was replayed"
                    )));
                }
            };
            let to = Placement {
                slot: claim.slot.clone(),
                start: slot.start,
                end: slot.end,
                seat,
                capacity: slot.capacity,
            };
            let new_seat = SeatRelease {
                holder: r.id,
                slot: claim.slot.clone(),
                seat: Some(seat),
                // The resident's mark at the target office goes too, unless it is the
                // office of the booking, where it must stay.
                resident: moved_office.then_some(identity_hash),
                idempotency: None,
            };
            let reminder_at = self.timings.reminder.due(to.start, now);
            match self
                .ledger
                .reschedule(r.id, &to, reminder_at, by, now)
                .await
            {
                Ok(Some(moved)) => {
                    self.release_quietly(&SeatRelease {
                        holder: r.id,
                        slot: r.slot(),
                        seat: Some(r.seat),
                        resident: moved_office.then_some(identity_hash),
                        idempotency: None,
                    })
                    .await;
                    return Ok(moved);
                }
                Ok(None) => {
                    self.release_quietly(&new_seat).await;
                    let now_is = self.ledger.reservation_by_id(r.id).await?;
                    return Err(BookingError::WrongState(
                        now_is
                            .map(|x| x.status)
                            .unwrap_or(ReservationStatus::Cancelled),
                    ));
                }
                Err(WriteError::SeatTaken) => {
                    if let Some(actual) = self
                        .ledger
                        .seat_holder(&claim.slot, slot.start, seat)
                        .await?
                    {
                        self.hot
                            .correct_holder(&claim.slot, seat, r.id, actual)
                            .await?;
                    } else {
                        self.release_quietly(&SeatRelease {
                            resident: None,
                            ..new_seat
                        })
                        .await;
                    }
                }
                Err(e) => {
                    self.release_quietly(&new_seat).await;
                    return Err(e.into());
                }
            }
        }
        Err(BookingError::Unexpected(anyhow::anyhow!(
            "the hot state and the ledger kept disagreeing about office {target_id}"
        )))
    }

    // ---------------------------------------------------------------- rebuild

    /// Rebuilds one office's hot state from the ledger: the one rebuild path, used at
    /// every start, when Redis comes back empty, and periodically (`force`).
    pub async fn rebuild_office(
        &self,
        office_id: &OfficeId,
        force: bool,
    ) -> Result<(), BookingError> {
        let office = self.office(office_id)?;
        let Some(lock) = self.rebuild_locks.get(office_id) else {
            return Err(BookingError::OfficeNotFound);
        };
        let _guard = lock.lock().await;
        if !force && self.hot.is_loaded(office_id).await? {
            return Ok(()); // another task rebuilt it while we waited
        }
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let today = tokyo_date(now);
        let from = from_tokyo(today - Duration::days(1), chrono::NaiveTime::MIN);
        let seats = self.ledger.active_seats(office_id, from).await?;
        let idempotency = self
            .ledger
            .recent_idempotency(office_id, now - Duration::days(1))
            .await?;
        let horizon = i64::from(self.municipality.max_days_ahead()) + 1;
        let mut dates: BTreeSet<NaiveDate> = days(
            today - Duration::days(1),
            today + Duration::days(horizon),
            400,
        )
        .collect();
        dates.extend(seats.iter().map(|s| s.slot.date));
        let mut procedures: BTreeSet<ProcedureId> = office.procedures.keys().copied().collect();
        procedures.extend(seats.iter().map(|s| s.slot.procedure));
        let snapshot = OfficeSnapshot {
            office: office_id.clone(),
            procedures: procedures.into_iter().collect(),
            days: dates.into_iter().collect(),
            seats,
            idempotency,
            taken_at: now,
            // Claims from shortly before the snapshot too: their rows may have been
            // committed after it was read.
            keep_claims_due_from: now - CLAIMS_IN_FLIGHT + self.timings.claim_deadline,
        };
        self.hot.load_office(&snapshot).await?;
        // A reservation cancelled between the snapshot and the load would keep its seat:
        // look again and give those back.
        let ids: Vec<Uuid> = snapshot.seats.iter().map(|s| s.id).collect();
        let gone = self.ledger.inactive_among(&ids).await?;
        for seat in snapshot.seats.iter().filter(|s| gone.contains(&s.id)) {
            self.release_quietly(&SeatRelease {
                holder: seat.id,
                slot: seat.slot.clone(),
                seat: Some(seat.seat),
                resident: seat.resident_hash,
                idempotency: None,
            })
            .await;
        }
        metrics::counter!("madoguchi_hot_state_rebuilds_total").increment(1);
        tracing::info!(
            office = %office_id,
            seats = snapshot.seats.len(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "hot state loaded from the ledger"
        );
        Ok(())
    }

    /// Rebuilds every office (at start-up, and by the periodic reconcile).
    pub async fn rebuild_all(&self, force: bool) -> Result<(), BookingError> {
        for office in &self.municipality.offices {
            self.rebuild_office(&office.id, force).await?;
        }
        Ok(())
    }
}

fn reservation_from(new: NewReservation, hold_expires_at: Option<DateTime<Utc>>) -> Reservation {
    let status = if new.resident.is_some() {
        ReservationStatus::Confirmed
    } else {
        ReservationStatus::Held
    };
    Reservation {
        id: new.id,
        reference: new.reference,
        office_id: new.placement.slot.office,
        procedure: new.placement.slot.procedure,
        slot_start: new.placement.start,
        slot_end: new.placement.end,
        seat: new.placement.seat,
        capacity: new.placement.capacity,
        status,
        resident_name: new.resident.as_ref().map(|r| r.name.clone()),
        resident_hash: new.resident.as_ref().map(|r| r.identity_hash),
        resident_proofs: new.resident.as_ref().map(|r| r.proofs.clone()),
        contact_email: new
            .resident
            .as_ref()
            .and_then(|r| r.contact.as_ref())
            .map(|c| c.email.clone()),
        contact_lang: new
            .resident
            .as_ref()
            .and_then(|r| r.contact.as_ref())
            .map(|c| c.lang.clone()),
        certificate_expiry: new.resident.as_ref().and_then(|r| r.certificate_expiry),
        proxy: new.resident.as_ref().is_some_and(|r| r.proxy),
        idempotency_key_hash: new.idempotency_key_hash,
        request_fingerprint: new.request_fingerprint,
        hold_expires_at,
        created_at: new.now,
        updated_at: new.now,
    }
}
