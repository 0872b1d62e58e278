//! Storage behind two traits, so that backends plug in without touching the domain, the
//! services or HTTP:
//!
//! * [`Ledger`]: the durable records (PostgreSQL in `madoguchi`; SQLite in
//!   `madoguchi-sqlite`). The source of truth. Its constraints make overbooking
//!   impossible on their own.
//! * [`HotState`]: atomic hot-path operations (Redis with Lua scripts; an in-process
//!   implementation for the embedded mode). Always rebuildable from the ledger.

use crate::domain::OfficeId;
pub mod mail;
pub mod queue;
pub mod room;

/// How long an Idempotency-Key is remembered in the hot state (the ledger keeps it).
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 60 * 60;

use crate::domain::procedure::ProcedureId;
use crate::domain::slots::SlotRef;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::collections::HashMap;
use std::fmt;
use uuid::Uuid;

/// A 32-byte keyed hash (resident identity, idempotency key, request fingerprint).
pub type Digest = [u8; 32];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or is overloaded: answer 503 and let clients retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReservationStatus {
    /// A provisional hold while the resident fills in the form.
    Held,
    Confirmed,
    Cancelled,
    /// A hold that ran out before it was confirmed.
    Expired,
    /// The slot has passed.
    Lapsed,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Confirmed => "confirmed",
            ReservationStatus::Cancelled => "cancelled",
            ReservationStatus::Expired => "expired",
            ReservationStatus::Lapsed => "lapsed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "held" => ReservationStatus::Held,
            "confirmed" => ReservationStatus::Confirmed,
            "cancelled" => ReservationStatus::Cancelled,
            "expired" => ReservationStatus::Expired,
            "lapsed" => ReservationStatus::Lapsed,
            _ => return None,
        })
    }

    /// Whether the reservation occupies its seat.
    pub fn is_active(self) -> bool {
        matches!(self, ReservationStatus::Held | ReservationStatus::Confirmed)
    }
}

/// A reservation as the ledger holds it.
#[derive(Clone, PartialEq)]
pub struct Reservation {
    pub id: Uuid,
    pub reference: String,
    pub office_id: OfficeId,
    pub procedure: ProcedureId,
    pub slot_start: DateTime<Utc>,
    pub slot_end: DateTime<Utc>,
    pub seat: u16,
    pub capacity: u16,
    pub status: ReservationStatus,
    pub resident_name: Option<String>,
    pub resident_hash: Option<Digest>,
    /// Keyed hashes of the second factors that open the booking with its reference
    /// (`Keys::resident_proofs`); removed with the name after the retention period.
    pub resident_proofs: Option<Vec<u8>>,
    /// Where the booking's messages go, and in which language (`ja`, `en`, `easy`);
    /// removed with the name after the retention period.
    pub contact_email: Option<String>,
    pub contact_lang: Option<String>,
    /// A renewal's certificate expiry, so that a move is checked without asking again.
    pub certificate_expiry: Option<chrono::NaiveDate>,
    pub proxy: bool,
    pub idempotency_key_hash: Option<Digest>,
    pub request_fingerprint: Option<Digest>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Reservation {
    /// The slot the reservation sits in.
    pub fn slot(&self) -> SlotRef {
        let local = crate::domain::time::tokyo_naive(self.slot_start);
        SlotRef {
            office: self.office_id.clone(),
            procedure: self.procedure,
            date: local.date(),
            start: local.time(),
        }
    }
}

// Personal data never reaches logs: Debug leaves the name out.
impl fmt::Debug for Reservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reservation")
            .field("id", &self.id)
            .field("office_id", &self.office_id)
            .field("procedure", &self.procedure)
            .field("slot_start", &self.slot_start)
            .field("seat", &self.seat)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The resident part of a booking.
#[derive(Clone)]
pub struct ResidentRecord {
    pub name: String,
    pub identity_hash: Digest,
    /// See [`Reservation::resident_proofs`].
    pub proofs: Vec<u8>,
    pub proxy: bool,
    /// Where the booking's messages go; the ledger writes them to its outbox in the same
    /// write as the booking.
    pub contact: Option<crate::store::mail::MailContact>,
    /// See [`Reservation::certificate_expiry`].
    pub certificate_expiry: Option<chrono::NaiveDate>,
    /// Staff booked it for the resident: the ledger writes a `booked` event by them in
    /// the same write.
    pub on_behalf: Option<OnBehalf>,
}

impl fmt::Debug for ResidentRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResidentRecord(..)")
    }
}

/// Where a reservation sits: its slot and seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub slot: SlotRef,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub seat: u16,
    pub capacity: u16,
}

#[derive(Debug, Clone)]
pub struct NewReservation {
    pub id: Uuid,
    pub reference: String,
    pub placement: Placement,
    /// `None` for a provisional hold; a confirmed booking always has a resident.
    pub resident: Option<ResidentRecord>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub idempotency_key_hash: Option<Digest>,
    pub request_fingerprint: Option<Digest>,
    pub now: DateTime<Utc>,
}

/// Why the ledger refused a write. The constraint names map to these.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("the seat is taken in the ledger")]
    SeatTaken,
    #[error("the resident already has an active booking for this procedure")]
    ResidentHasBooking,
    #[error("the idempotency key was used by another request")]
    IdempotencyKeyUsed,
    /// Another booking has the reference drawn for this one (short references are drawn
    /// at random, so this happens about once in a million bookings): draw again.
    #[error("the reference is taken")]
    ReferenceTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An active reservation as the rebuild needs it.
#[derive(Debug, Clone)]
pub struct ActiveSeat {
    pub id: Uuid,
    pub slot: SlotRef,
    pub seat: u16,
    pub slot_end: DateTime<Utc>,
    pub resident_hash: Option<Digest>,
    pub status: ReservationStatus,
}

/// An idempotency key of a recent booking, for the rebuild.
#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub key_hash: Digest,
    pub id: Uuid,
    pub fingerprint: Digest,
    pub created_at: DateTime<Utc>,
}

/// Who made a change, for the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Resident,
    System,
    /// Staff, by the id of their token (never the token itself).
    Staff(Uuid),
}

impl Actor {
    /// How the trail names the actor: `resident`, `system` or `staff:<token id>`.
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            Actor::Resident => "resident".into(),
            Actor::System => "system".into(),
            Actor::Staff(token) => format!("staff:{token}").into(),
        }
    }
}

/// A booking staff made for a resident who called (電話予約の代行): the booking's first
/// audit event names the staff token and keeps what was noted (the caller's consent).
#[derive(Debug, Clone, PartialEq)]
pub struct OnBehalf {
    pub staff: Uuid,
    /// JSON kept with the event, e.g. `{"channel":"phone","consent":true}`.
    pub detail: serde_json::Value,
}

/// The durable ledger.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), StoreError>;
    /// The named secret, created from `generated` if it does not exist yet.
    async fn secret(&self, name: &str, generated: &[u8]) -> Result<Vec<u8>, StoreError>;

    async fn insert_reservation(&self, new: &NewReservation) -> Result<(), WriteError>;
    async fn reservation_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<Reservation>, StoreError>;
    async fn reservation_by_id(&self, id: Uuid) -> Result<Option<Reservation>, StoreError>;
    async fn reservation_by_idempotency_key(
        &self,
        key_hash: &Digest,
    ) -> Result<Option<Reservation>, StoreError>;
    /// The active reservation holding a seat, if any.
    async fn seat_holder(
        &self,
        slot: &SlotRef,
        start: DateTime<Utc>,
        seat: u16,
    ) -> Result<Option<Uuid>, StoreError>;

    /// Turns a live hold into a confirmed booking; `None` if it is no longer a live hold.
    async fn confirm_hold(
        &self,
        id: Uuid,
        resident: &ResidentRecord,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, WriteError>;
    /// Cancels an active reservation; `None` if it was not active.
    async fn cancel(
        &self,
        id: Uuid,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, StoreError>;
    /// Moves an active booking to another slot and seat; `None` if it was not active.
    /// With a contact, the notice of the change and the new slot's reminder (when
    /// `reminder_at` is given) go to the outbox in the same write, and the old slot's
    /// pending reminder is dropped. A cancellation does the same with its notice.
    async fn reschedule(
        &self,
        id: Uuid,
        to: &Placement,
        reminder_at: Option<DateTime<Utc>>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Reservation>, WriteError>;
    /// Records that `actor` did `kind` to a reservation without changing it (staff
    /// opening a caller's booking: `viewed`), for the office's audit trail.
    async fn record_event(
        &self,
        id: Uuid,
        kind: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Of `ids`, which are active and where: for the claim reaper.
    async fn active_placements(
        &self,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, (SlotRef, u16)>, StoreError>;
    /// Expires holds that ran out, returning them so their seats go back.
    async fn expire_holds(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Reservation>, StoreError>;
    /// Marks confirmed bookings whose slot ended before `before` as lapsed.
    async fn lapse_past(
        &self,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Removes residents' names from reservations whose slot ended before `before`.
    async fn purge_names(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Active reservations of an office whose slot starts at or after `from`.
    async fn active_seats(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
    ) -> Result<Vec<ActiveSeat>, StoreError>;
    /// Idempotency keys of an office's bookings created at or after `since`.
    async fn recent_idempotency(
        &self,
        office: &OfficeId,
        since: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRecord>, StoreError>;
    /// Of `ids`, those that are no longer active (for the rebuild's second look).
    async fn inactive_among(&self, ids: &[Uuid]) -> Result<Vec<Uuid>, StoreError>;
    /// A resident's confirmed bookings (any procedure, any office), by start: the phone
    /// desk finding a caller by name and birth date.
    async fn confirmed_of_resident(
        &self,
        identity_hash: &Digest,
    ) -> Result<Vec<Reservation>, StoreError>;
    /// Confirmed bookings of an office starting in `[from, to)`, by start (reception).
    async fn confirmed_between(
        &self,
        office: &OfficeId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Reservation>, StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum HotError {
    /// The hot state of this office is missing (first start, or Redis restarted empty):
    /// rebuild it from the ledger, then retry.
    #[error("hot state of office {0} needs a rebuild")]
    NeedsRebuild(OfficeId),
    #[error("hot state unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Marks that the claim sets for the idempotency rule.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyMark {
    pub key_hash: Digest,
    pub fingerprint: Digest,
}

/// Marks that the claim sets for the one-active-booking rule.
#[derive(Debug, Clone, Copy)]
pub struct ResidentMark {
    pub identity_hash: Digest,
    /// The mark no longer counts after this (the end of the booked slot).
    pub until: DateTime<Utc>,
}

/// A request to take a seat of a slot, atomically with its rule checks.
#[derive(Debug, Clone)]
pub struct SeatClaim {
    /// The future reservation id; it holds the seat in the hot state.
    pub claim_id: Uuid,
    pub slot: SlotRef,
    pub capacity: u16,
    pub idempotency: Option<IdempotencyMark>,
    pub resident: Option<ResidentMark>,
    /// When the ledger row must exist; after this the reaper returns the seat.
    pub deadline: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

impl SeatClaim {
    /// The seat a claim tries first: spread by the claim id, so that claims of a slot with
    /// many seats find a free one in a few tries instead of walking past every taken seat
    /// from seat 0 (the scan wraps around, so a free seat is always found).
    pub fn first_seat(&self) -> u16 {
        let spread = self.claim_id.as_u128() % u128::from(self.capacity.max(1));
        u16::try_from(spread).unwrap_or(0)
    }

    /// Every seat of the slot, in the order a claim tries them: from the slot's hint (the
    /// seat after the last one claimed, or the last one released) when the hot state has
    /// one, else from [`Self::first_seat`]. With the hint, claims of a filling slot find a
    /// free seat at the first try.
    pub fn seat_order(&self, hint: Option<u16>) -> impl Iterator<Item = u16> + '_ {
        let first = u32::from(hint.unwrap_or_else(|| self.first_seat()));
        let capacity = u32::from(self.capacity);
        (0..capacity).map(move |i| u16::try_from((first + i) % capacity).unwrap_or(0))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Claimed {
        seat: u16,
    },
    /// Every seat is taken: refused by the hot state alone.
    Full,
    /// The idempotency key was seen: the earlier request's claim and fingerprint.
    Replay {
        claim_id: Uuid,
        fingerprint: Digest,
    },
    /// The resident already holds a booking for this procedure at this office.
    ResidentHasBooking,
}

/// What to give back when a seat is released.
#[derive(Debug, Clone)]
pub struct SeatRelease {
    pub holder: Uuid,
    pub slot: SlotRef,
    /// The seat to give back; `None` clears only the marks.
    pub seat: Option<u16>,
    /// Clear the resident mark (if it still belongs to `holder`).
    pub resident: Option<Digest>,
    /// Clear the idempotency mark (if it still belongs to `holder`).
    pub idempotency: Option<Digest>,
}

/// A claim whose ledger row was not yet confirmed by the reaper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingClaim {
    pub claim_id: Uuid,
    pub slot: SlotRef,
    pub seat: u16,
    pub resident: Option<Digest>,
    pub idempotency: Option<Digest>,
}

impl PendingClaim {
    /// What giving this claim back releases: its seat and every mark it set.
    pub fn release(&self) -> SeatRelease {
        SeatRelease {
            holder: self.claim_id,
            slot: self.slot.clone(),
            seat: Some(self.seat),
            resident: self.resident,
            idempotency: self.idempotency,
        }
    }
}

/// Everything the hot state of one office holds, read from the ledger.
#[derive(Debug, Clone)]
pub struct OfficeSnapshot {
    pub office: OfficeId,
    pub procedures: Vec<ProcedureId>,
    /// The days whose seat maps are replaced (those without seats are emptied).
    pub days: Vec<NaiveDate>,
    pub seats: Vec<ActiveSeat>,
    pub idempotency: Vec<IdempotencyRecord>,
    pub taken_at: DateTime<Utc>,
    /// Claims still pending whose deadline is at or after this were made while the
    /// snapshot was read and loaded, so their rows may be missing from it: the load keeps
    /// the seats and resident marks they still hold instead of erasing them (each erased
    /// one would cost a correction by the ledger's seat key later).
    pub keep_claims_due_from: DateTime<Utc>,
}

impl OfficeSnapshot {
    /// Whether the load replaces this procedure's seat map of this day.
    pub fn replaces(&self, procedure: ProcedureId, day: NaiveDate) -> bool {
        self.procedures.contains(&procedure) && self.days.contains(&day)
    }
}

/// Seats taken per slot start of each day.
pub type TakenSeats = HashMap<(NaiveDate, NaiveTime), Vec<u16>>;

/// Atomic hot-path operations.
#[async_trait]
pub trait HotState: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), HotError>;
    /// Atomically: idempotency lookup, the resident rule, take the lowest free seat, and
    /// record the claim as pending until the reaper sees its ledger row.
    async fn claim(&self, claim: &SeatClaim) -> Result<ClaimOutcome, HotError>;
    /// Gives a seat back if `holder` still holds it; clears the marks it names.
    async fn release(&self, release: &SeatRelease) -> Result<bool, HotError>;
    /// The ledger says `actual` holds the seat that the hot state gave to `claimed`.
    async fn correct_holder(
        &self,
        slot: &SlotRef,
        seat: u16,
        claimed: Uuid,
        actual: Uuid,
    ) -> Result<(), HotError>;
    /// Sets the resident mark for a confirmed hold; false if another booking holds it.
    async fn mark_resident(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        holder: Uuid,
        mark: &ResidentMark,
        now: DateTime<Utc>,
    ) -> Result<bool, HotError>;
    /// The seats taken in every slot of the given days.
    async fn taken(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        days: &[NaiveDate],
    ) -> Result<TakenSeats, HotError>;
    /// Claims whose deadline passed, oldest first.
    async fn due_claims(
        &self,
        office: &OfficeId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingClaim>, HotError>;
    /// Forgets pending claims whose rows the ledger holds, in one step: the reaper settles
    /// every booking this way a deadline after it was made.
    async fn forget_claims(
        &self,
        office: &OfficeId,
        claims: &[PendingClaim],
    ) -> Result<(), HotError>;
    /// Forgets a pending claim whose row never reached the ledger and gives its seat and
    /// marks back. Only the caller that removes the claim does the release (several
    /// reapers may race).
    async fn release_claim(&self, claim: &PendingClaim) -> Result<(), HotError>;
    /// Replaces the office's hot state with the snapshot, atomically, and marks it loaded.
    async fn load_office(&self, snapshot: &OfficeSnapshot) -> Result<(), HotError>;
    async fn is_loaded(&self, office: &OfficeId) -> Result<bool, HotError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_claim_tries_every_seat_once_from_its_first(
            id in any::<u128>(),
            capacity in 1u16..200,
            hint in proptest::option::of(0u16..400),
        ) {
            let claim = SeatClaim {
                claim_id: Uuid::from_u128(id),
                slot: SlotRef {
                    office: OfficeId::parse("main").unwrap(),
                    procedure: ProcedureId::CertRenewal,
                    date: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
                    start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                },
                capacity,
                idempotency: None,
                resident: None,
                deadline: DateTime::<Utc>::UNIX_EPOCH,
                now: DateTime::<Utc>::UNIX_EPOCH,
            };
            let order: Vec<u16> = claim.seat_order(hint).collect();
            let first = hint.map_or(claim.first_seat(), |h| h % capacity);
            prop_assert_eq!(order.first().copied(), Some(first));
            let mut sorted = order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..capacity).collect::<Vec<_>>());
        }
    }
}
