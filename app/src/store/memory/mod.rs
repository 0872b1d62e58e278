//! The in-process hot state of the embedded mode: the same operations and the same
//! answers as the Redis scripts, kept in memory behind one lock. It is also the
//! reference model in the property test of the Redis implementation
//! (`tests/api/hot_state_model.rs`), so its rules mirror the Lua scripts line by line.
//!
//! Marks (a resident's active booking, an Idempotency-Key's) end at their "until", judged
//! by the `now` of the operation, as in the scripts; a rebuild replaces them with the
//! ledger's and those of the claims it carries over, as `load_office.lua` does.

pub mod queue;
pub mod room;

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::slots::SlotRef;
use crate::store::IDEMPOTENCY_TTL_SECS;
use crate::store::memory::queue::OfficeQueues;
use crate::store::{
    ClaimOutcome, Digest, HotError, HotState, OfficeSnapshot, PendingClaim, ReservationStatus,
    ResidentMark, SeatClaim, SeatRelease, TakenSeats, pending_member,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use uuid::Uuid;

type SeatMap = BTreeMap<(NaiveTime, u16), Uuid>;

#[derive(Default)]
struct OfficeState {
    loaded: bool,
    seats: HashMap<(ProcedureId, NaiveDate), SeatMap>,
    /// Ordered like Redis' sorted set: by deadline, then by member text.
    pending: BTreeMap<(i64, String), PendingClaim>,
    /// key hash → (holder, fingerprint, expires at, unix s)
    idempotency: HashMap<Digest, (Uuid, Digest, i64)>,
    /// (procedure, identity hash) → (holder, valid until, unix s)
    residents: HashMap<(ProcedureId, Digest), (Uuid, i64)>,
    /// Where the next claim of a slot starts, as the Redis seat map's "HHMM:next" field.
    next_seat: HashMap<(ProcedureId, NaiveDate, NaiveTime), u16>,
}

/// A claim made while a snapshot was taken, kept by the load (as `load_office.lua`).
struct KeptClaim {
    map: (ProcedureId, NaiveDate),
    seat: (NaiveTime, u16),
    claim_id: Uuid,
    resident_mark: Option<((ProcedureId, Digest), (Uuid, i64))>,
    idempotency_mark: Option<(Digest, (Uuid, Digest, i64))>,
}

/// The pending claims due at or after `keep_claims_due_from`, on the maps the snapshot
/// replaces, that still hold their seat; with the marks each still holds.
fn recent_claims(state: &OfficeState, s: &OfficeSnapshot) -> Vec<KeptClaim> {
    let from = (s.keep_claims_due_from.timestamp_millis(), String::new());
    state
        .pending
        .range(from..)
        .map(|(_, c)| c)
        .filter(|c| s.replaces(c.slot.procedure, c.slot.date))
        .filter_map(|c| {
            let map = (c.slot.procedure, c.slot.date);
            let seat = (c.slot.start, c.seat);
            let holds = state.seats.get(&map).and_then(|m| m.get(&seat)) == Some(&c.claim_id);
            holds.then(|| KeptClaim {
                map,
                seat,
                claim_id: c.claim_id,
                resident_mark: c.resident.and_then(|r| {
                    let field = (c.slot.procedure, r);
                    let mark = state.residents.get(&field)?;
                    (mark.0 == c.claim_id).then_some((field, *mark))
                }),
                idempotency_mark: c.idempotency.and_then(|key| {
                    let mark = state.idempotency.get(&key)?;
                    (mark.0 == c.claim_id).then_some((key, *mark))
                }),
            })
        })
        .collect()
}

pub struct MemoryHotState {
    offices: Mutex<HashMap<OfficeId, OfficeState>>,
    queues: Mutex<HashMap<OfficeId, OfficeQueues>>,
    pub(crate) rooms: Mutex<HashMap<String, crate::store::memory::room::MemRoom>>,
    events: tokio::sync::broadcast::Sender<OfficeId>,
}

impl Default for MemoryHotState {
    fn default() -> Self {
        Self {
            offices: Mutex::default(),
            queues: Mutex::default(),
            rooms: Mutex::default(),
            events: tokio::sync::broadcast::channel(1024).0,
        }
    }
}

impl MemoryHotState {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<OfficeId, OfficeState>> {
        // A panic while holding the lock cannot leave a half-done operation visible:
        // every operation validates before it mutates.
        self.offices.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn queues(&self) -> MutexGuard<'_, HashMap<OfficeId, OfficeQueues>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes of an office's queues, for live displays in this process.
    pub(crate) fn events(&self) -> tokio::sync::broadcast::Receiver<OfficeId> {
        self.events.subscribe()
    }

    pub(crate) fn notify(&self, office: &OfficeId) {
        // No receiver is fine: nobody is watching.
        let _ = self.events.send(office.clone());
    }

    /// Forgets everything, as a process restart would (for tests).
    pub fn clear(&self) {
        self.lock().clear();
        self.queues().clear();
        self.rooms.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Forgets seats of a slot, as a drifted hot state would (for tests).
    pub fn forget_seats(&self, slot: &SlotRef, seats: &[u16]) {
        if let Some(office) = self.lock().get_mut(&slot.office)
            && let Some(map) = office.seats.get_mut(&(slot.procedure, slot.date))
        {
            for seat in seats {
                map.remove(&(slot.start, *seat));
            }
        }
    }

    /// Forgets the idempotency and resident marks of an office (for tests).
    pub fn forget_marks(&self, office: &OfficeId) {
        if let Some(state) = self.lock().get_mut(office) {
            state.idempotency.clear();
            state.residents.clear();
        }
    }
}

fn release_in(state: &mut OfficeState, r: &SeatRelease) -> bool {
    let mut released = false;
    if let Some(seat) = r.seat
        && let Some(map) = state.seats.get_mut(&(r.slot.procedure, r.slot.date))
        && map.get(&(r.slot.start, seat)) == Some(&r.holder)
    {
        map.remove(&(r.slot.start, seat));
        state
            .next_seat
            .insert((r.slot.procedure, r.slot.date, r.slot.start), seat);
        released = true;
    }
    if let Some(key) = &r.idempotency
        && state
            .idempotency
            .get(key)
            .is_some_and(|(owner, _, _)| *owner == r.holder)
    {
        state.idempotency.remove(key);
    }
    if let Some(identity) = &r.resident {
        let field = (r.slot.procedure, *identity);
        if state
            .residents
            .get(&field)
            .is_some_and(|(owner, _)| *owner == r.holder)
        {
            state.residents.remove(&field);
        }
    }
    released
}

#[async_trait]
impl HotState for MemoryHotState {
    async fn ping(&self) -> Result<(), HotError> {
        Ok(())
    }

    async fn claim(&self, c: &SeatClaim) -> Result<ClaimOutcome, HotError> {
        let mut offices = self.lock();
        let state = match offices.get_mut(&c.slot.office) {
            Some(s) if s.loaded => s,
            _ => return Err(HotError::NeedsRebuild(c.slot.office.clone())),
        };
        let now = c.now.timestamp();
        if let Some(mark) = &c.idempotency
            && let Some((owner, fingerprint, expires)) = state.idempotency.get(&mark.key_hash)
            && *expires > now
            && *owner != c.claim_id
        {
            return Ok(ClaimOutcome::Replay {
                claim_id: *owner,
                fingerprint: *fingerprint,
            });
        }
        if let Some(mark) = &c.resident
            && let Some((owner, until)) =
                state.residents.get(&(c.slot.procedure, mark.identity_hash))
            && *owner != c.claim_id
            && *until > now
        {
            return Ok(ClaimOutcome::ResidentHasBooking);
        }
        let map = state
            .seats
            .entry((c.slot.procedure, c.slot.date))
            .or_default();
        let hint_key = (c.slot.procedure, c.slot.date, c.slot.start);
        let Some(seat) = c
            .seat_order(state.next_seat.get(&hint_key).copied())
            .find(|s| !map.contains_key(&(c.slot.start, *s)))
        else {
            return Ok(ClaimOutcome::Full);
        };
        map.insert((c.slot.start, seat), c.claim_id);
        state.next_seat.insert(hint_key, (seat + 1) % c.capacity);
        let pending = PendingClaim {
            claim_id: c.claim_id,
            slot: c.slot.clone(),
            seat,
            resident: c.resident.map(|r| r.identity_hash),
            idempotency: c.idempotency.map(|i| i.key_hash),
        };
        state.pending.insert(
            (c.deadline.timestamp_millis(), pending_member(&pending)),
            pending,
        );
        if let Some(mark) = &c.idempotency {
            state.idempotency.insert(
                mark.key_hash,
                (c.claim_id, mark.fingerprint, now + IDEMPOTENCY_TTL_SECS),
            );
        }
        if let Some(mark) = &c.resident {
            state.residents.insert(
                (c.slot.procedure, mark.identity_hash),
                (c.claim_id, mark.until.timestamp()),
            );
        }
        Ok(ClaimOutcome::Claimed { seat })
    }

    async fn release(&self, release: &SeatRelease) -> Result<bool, HotError> {
        Ok(self
            .lock()
            .get_mut(&release.slot.office)
            .is_some_and(|state| release_in(state, release)))
    }

    async fn correct_holder(
        &self,
        slot: &SlotRef,
        seat: u16,
        claimed: Uuid,
        actual: Uuid,
    ) -> Result<(), HotError> {
        if let Some(state) = self.lock().get_mut(&slot.office)
            && let Some(map) = state.seats.get_mut(&(slot.procedure, slot.date))
            && let Some(holder) = map.get_mut(&(slot.start, seat))
            && *holder == claimed
        {
            *holder = actual;
        }
        Ok(())
    }

    async fn mark_resident(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        holder: Uuid,
        mark: &ResidentMark,
        now: DateTime<Utc>,
    ) -> Result<bool, HotError> {
        let mut offices = self.lock();
        let state = match offices.get_mut(office) {
            Some(s) if s.loaded => s,
            _ => return Err(HotError::NeedsRebuild(office.clone())),
        };
        let field = (procedure, mark.identity_hash);
        if let Some((owner, until)) = state.residents.get(&field)
            && *owner != holder
            && *until > now.timestamp()
        {
            return Ok(false);
        }
        state
            .residents
            .insert(field, (holder, mark.until.timestamp()));
        Ok(true)
    }

    async fn taken(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        days: &[NaiveDate],
    ) -> Result<TakenSeats, HotError> {
        let offices = self.lock();
        let state = match offices.get(office) {
            Some(s) if s.loaded => s,
            _ => return Err(HotError::NeedsRebuild(office.clone())),
        };
        let mut taken = TakenSeats::new();
        for day in days {
            for (time, seat) in state
                .seats
                .get(&(procedure, *day))
                .into_iter()
                .flat_map(|m| m.keys())
            {
                taken.entry((*day, *time)).or_default().push(*seat);
            }
        }
        Ok(taken)
    }

    async fn due_claims(
        &self,
        office: &OfficeId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingClaim>, HotError> {
        let offices = self.lock();
        let now = now.timestamp_millis();
        Ok(offices
            .get(office)
            .map(|s| {
                s.pending
                    .iter()
                    .take_while(|((deadline, _), _)| *deadline <= now)
                    .take(limit)
                    .map(|(_, c)| c.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn forget_claims(
        &self,
        office: &OfficeId,
        claims: &[PendingClaim],
    ) -> Result<(), HotError> {
        let members: HashSet<String> = claims.iter().map(pending_member).collect();
        if let Some(state) = self.lock().get_mut(office) {
            state.pending.retain(|(_, m), _| !members.contains(m));
        }
        Ok(())
    }

    async fn release_claim(&self, claim: &PendingClaim) -> Result<(), HotError> {
        let mut offices = self.lock();
        let Some(state) = offices.get_mut(&claim.slot.office) else {
            return Ok(());
        };
        let member = pending_member(claim);
        let key = state.pending.keys().find(|(_, m)| *m == member).cloned();
        let removed = key.and_then(|k| state.pending.remove(&k)).is_some();
        if removed {
            release_in(state, &claim.release());
        }
        Ok(())
    }

    async fn load_office(&self, s: &OfficeSnapshot) -> Result<(), HotError> {
        let mut offices = self.lock();
        let state = offices.entry(s.office.clone()).or_default();
        let kept = recent_claims(state, s);
        state.next_seat.retain(|(p, d, _), _| !s.replaces(*p, *d));
        for procedure in &s.procedures {
            for day in &s.days {
                let map: SeatMap = s
                    .seats
                    .iter()
                    .filter(|a| a.slot.procedure == *procedure && a.slot.date == *day)
                    .map(|a| ((a.slot.start, a.seat), a.id))
                    .collect();
                if map.is_empty() {
                    state.seats.remove(&(*procedure, *day));
                } else {
                    state.seats.insert((*procedure, *day), map);
                }
            }
        }
        state.residents = s
            .seats
            .iter()
            .filter(|a| a.status == ReservationStatus::Confirmed)
            .filter_map(|a| {
                Some((
                    (a.slot.procedure, a.resident_hash?),
                    (a.id, a.slot_end.timestamp()),
                ))
            })
            .collect();
        state.idempotency = s
            .idempotency
            .iter()
            .map(|r| {
                let until = r.created_at.timestamp() + IDEMPOTENCY_TTL_SECS;
                (r.key_hash, (r.id, r.fingerprint, until))
            })
            .filter(|(_, (_, _, until))| *until > s.taken_at.timestamp())
            .collect();
        for kept in kept {
            state
                .seats
                .entry(kept.map)
                .or_default()
                .entry(kept.seat)
                .or_insert(kept.claim_id);
            if let Some((field, mark)) = kept.resident_mark {
                state.residents.entry(field).or_insert(mark);
            }
            if let Some((key, mark)) = kept.idempotency_mark {
                state.idempotency.entry(key).or_insert(mark);
            }
        }
        state.loaded = true;
        Ok(())
    }

    async fn is_loaded(&self, office: &OfficeId) -> Result<bool, HotError> {
        Ok(self.lock().get(office).is_some_and(|s| s.loaded))
    }
}
