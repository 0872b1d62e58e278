//! The waiting rooms in front of booking releases (issue 7): joining, the opening draw of
//! the pre-queue, advancing the serving counter (the rules of
//! `domain::waiting_room`), status answers, and the gate on the booking endpoints.
//! The shared state is a `RoomStore` (Redis or in process); see docs/WAITING_ROOM.md.

use crate::config::municipality::{RoomDefinition, validate_room};
use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::time::Clock;
use crate::domain::waiting_room::{
    MAX_WALK, RoomCounters, RoomPhase, VisitorState, WaitingRoom, advance, prequeue_order,
    visitor_state,
};
use crate::service::booking::BookingService;
use crate::service::keys::Keys;
use crate::service::room_tokens::{AdmissionToken, Challenge, PlaceToken, TokenError, solves};
use crate::service::staff::StaffPrincipal;
use crate::store::queue::StaffRole;
use crate::store::room::{AdmissionUse, Poll, RoomLedger, RoomStore, StoredCounters, StoredRoom};
use crate::store::{HotError, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::RngCore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

/// Why a booking through a waiting room failed: at the room's gate, or in the booking.
#[derive(Debug, thiserror::Error)]
pub enum GatedBookingError {
    #[error(transparent)]
    Room(#[from] RoomError),
    #[error(transparent)]
    Booking(#[from] crate::service::BookingError),
}

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("no such waiting room")]
    NotFound,
    #[error("the waiting room opens for joining at {0}")]
    NotYetOpen(DateTime<Utc>),
    #[error("the waiting room has ended")]
    Ended,
    #[error("the waiting-room token is not valid here: {0}")]
    Token(TokenError),
    #[error("bookings of this release go through the waiting room {0}")]
    AdmissionRequired(String),
    #[error("this admission was already used for a booking")]
    AdmissionUsed(String),
    #[error("joining this room needs a proof of work")]
    ProofRequired,
    #[error("the proof of work is not valid")]
    ProofInvalid,
    #[error(transparent)]
    Store(#[from] HotError),
}

/// Why defining or deleting a room through the admin API was refused.
#[derive(Debug, thiserror::Error)]
pub enum RoomAdminError {
    #[error("no such waiting room")]
    NotFound,
    #[error("only an administrator of every office the room covers may change it")]
    Forbidden,
    #[error("the room is defined in the municipality file")]
    DefinedInFile,
    #[error("the room's line has begun; these fields cannot change: {0:?}")]
    Running(Vec<&'static str>),
    #[error("the room's line is running: end it with closes_at before deleting it")]
    StillRunning,
    #[error("a deleted room's id is not given to another room")]
    IdUsed,
    #[error("the room definition is not valid")]
    Invalid(crate::config::municipality::RoomProblems),
    #[error(transparent)]
    Ledger(#[from] StoreError),
    #[error(transparent)]
    Hot(#[from] HotError),
}

impl From<RoomError> for RoomAdminError {
    fn from(e: RoomError) -> Self {
        match e {
            RoomError::NotFound => RoomAdminError::NotFound,
            RoomError::Store(e) => RoomAdminError::Hot(e),
            other => RoomAdminError::Ledger(StoreError::Unexpected(anyhow::anyhow!("{other}"))),
        }
    }
}

/// What a visitor is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomStatus {
    pub state: &'static str,
    pub position: Option<u64>,
    pub ahead: Option<u64>,
    pub eta_seconds: Option<u64>,
    pub admission_token: Option<String>,
    pub opens_at: DateTime<Utc>,
    pub remaining_seats: u32,
}

/// A used admission, given back if the booking fails.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub room: String,
    pub nonce: String,
    pub expires: DateTime<Utc>,
    /// False for a retry of the request that used it (nothing to give back).
    pub first: bool,
}

pub struct RoomService {
    /// Rooms of the municipality file, then those of the ledger (the admin API); replaced
    /// as a whole by `reload`, so a reader always sees one consistent list.
    rooms: RwLock<Arc<Vec<Arc<WaitingRoom>>>>,
    file_rooms: Vec<Arc<WaitingRoom>>,
    ledger: Arc<dyn RoomLedger>,
    store: Arc<dyn RoomStore>,
    booking: Arc<BookingService>,
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
    /// Remaining seats per room, for one clock second.
    seats: Mutex<HashMap<String, (i64, u32)>>,
    /// When this instance last advanced each room (at most once a second).
    advanced: Mutex<HashMap<String, i64>>,
}

/// How many positions one advance looks at (their last-seen times in one read).
const WINDOW: u64 = 2_000;

impl RoomService {
    /// The service with the municipality file's rooms; `reload` adds the ledger's.
    pub fn new(
        file_rooms: Vec<WaitingRoom>,
        ledger: Arc<dyn RoomLedger>,
        store: Arc<dyn RoomStore>,
        booking: Arc<BookingService>,
        keys: Arc<Keys>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let file_rooms: Vec<Arc<WaitingRoom>> = file_rooms.into_iter().map(Arc::new).collect();
        Self {
            rooms: RwLock::new(Arc::new(file_rooms.clone())),
            file_rooms,
            ledger,
            store,
            booking,
            keys,
            clock,
            seats: Mutex::new(HashMap::new()),
            advanced: Mutex::new(HashMap::new()),
        }
    }

    /// Every room (file and admin API), as one consistent list.
    pub fn rooms(&self) -> Arc<Vec<Arc<WaitingRoom>>> {
        self.rooms.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the rooms defined through the admin API again (every instance does so on
    /// each maintenance pass, so a change reaches all of them within seconds). A stored
    /// definition the municipality no longer accepts (an office removed from the file,
    /// say) is left out with a warning.
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let stored = self.ledger.stored_rooms().await?;
        let mut rooms = self.file_rooms.clone();
        for s in stored.iter().filter(|s| s.deleted_at.is_none()) {
            if self.file_rooms.iter().any(|r| r.id == s.id) {
                tracing::warn!(room = %s.id, "a stored waiting room has the id of a file room; the file's is used");
                continue;
            }
            match self.parse_stored(s) {
                Ok(room) => rooms.push(Arc::new(room)),
                Err(problems) => {
                    tracing::warn!(room = %s.id, ?problems, "a stored waiting room is no longer valid; left out");
                }
            }
        }
        let count = rooms.len() - self.file_rooms.len();
        *self.rooms.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rooms);
        Ok(count)
    }

    fn parse_stored(&self, s: &StoredRoom) -> Result<WaitingRoom, Vec<(String, String)>> {
        let def: RoomDefinition = serde_json::from_str(&s.definition)
            .map_err(|e| vec![("definition".to_owned(), e.to_string())])?;
        validate_room(def, &self.booking.municipality().offices)
            .map_err(|p| p.fields.into_iter().chain(p.conflicts).collect())
    }

    /// Creates or replaces a room through the admin API; true when created. Once a room's
    /// line has begun, its release (offices, procedures, dates, opening, pre-queue,
    /// trigger) is fixed — the line's order and the admissions already given depend on
    /// it — while its pace, closing time, texts and proof of work may still change (an
    /// operator slowing admission down, or ending the room early with `closes_at`).
    pub async fn define(
        &self,
        by: &StaffPrincipal,
        id: &str,
        mut def: RoomDefinition,
    ) -> Result<(Arc<WaitingRoom>, bool), RoomAdminError> {
        if by.role != StaffRole::Admin {
            return Err(RoomAdminError::Forbidden);
        }
        if def.id.as_deref().is_some_and(|body| body != id) {
            return Err(RoomAdminError::Invalid(
                crate::config::municipality::RoomProblems {
                    fields: Vec::new(),
                    conflicts: vec![(
                        "id".to_owned(),
                        "must match the room id of the path".to_owned(),
                    )],
                },
            ));
        }
        def.id = Some(id.to_owned());
        if def.offices.is_empty() {
            def.offices = vec![by.office.to_string()];
        }
        let room = validate_room(def.clone(), &self.booking.municipality().offices)
            .map_err(RoomAdminError::Invalid)?;
        may_manage(by, &room)?;
        if self.file_rooms.iter().any(|r| r.id == id) {
            return Err(RoomAdminError::DefinedInFile);
        }
        let now = self.clock.now();
        let existing = self
            .ledger
            .stored_rooms()
            .await?
            .into_iter()
            .find(|s| s.id == id);
        if let Some(old) = &existing {
            if old.deleted_at.is_some() {
                return Err(RoomAdminError::IdUsed);
            }
            if let Ok(old_room) = self.parse_stored(old) {
                may_manage(by, &old_room)?;
                if self.phase_of(&old_room, now).await?.0 != RoomPhase::Scheduled {
                    let fixed = fixed_fields_changed(&old_room, &room);
                    if !fixed.is_empty() {
                        return Err(RoomAdminError::Running(fixed));
                    }
                }
            }
        }
        let definition =
            serde_json::to_string(&def).map_err(|e| StoreError::Unexpected(anyhow::anyhow!(e)))?;
        let actor = by.actor();
        let offices: Vec<String> = room.offices.iter().map(|o| o.to_string()).collect();
        let kind = if existing.is_some() {
            "changed"
        } else {
            "defined"
        };
        self.ledger
            .put_room(
                &StoredRoom {
                    id: id.to_owned(),
                    definition,
                    created_by: existing
                        .as_ref()
                        .map_or_else(|| actor.clone(), |e| e.created_by.clone()),
                    created_at: existing.as_ref().map_or(now, |e| e.created_at),
                    updated_by: actor,
                    updated_at: now,
                    deleted_at: None,
                },
                kind,
                &offices,
            )
            .await?;
        self.reload().await?;
        tracing::info!(room = %id, by = %by.actor(), created = existing.is_none(), "waiting room defined through the admin API");
        let room = self.room(id).map_err(|_| {
            RoomAdminError::Ledger(StoreError::Unexpected(anyhow::anyhow!(
                "room {id} vanished after it was stored"
            )))
        })?;
        Ok((room, existing.is_none()))
    }

    /// Deletes a room defined through the admin API. A room whose line is running
    /// (pre-queue or open) is not deleted — its visitors would lose their place without
    /// a word; end it with `closes_at` first. The id is never given to another room.
    pub async fn remove(&self, by: &StaffPrincipal, id: &str) -> Result<(), RoomAdminError> {
        if by.role != StaffRole::Admin {
            return Err(RoomAdminError::Forbidden);
        }
        if self.file_rooms.iter().any(|r| r.id == id) {
            return Err(RoomAdminError::DefinedInFile);
        }
        let room = self.room(id).map_err(|_| RoomAdminError::NotFound)?;
        may_manage(by, &room)?;
        let now = self.clock.now();
        if matches!(
            self.phase_of(&room, now).await?.0,
            RoomPhase::Prequeue | RoomPhase::Open
        ) {
            return Err(RoomAdminError::StillRunning);
        }
        let offices: Vec<String> = room.offices.iter().map(|o| o.to_string()).collect();
        if !self
            .ledger
            .delete_room(id, &by.actor(), now, &offices)
            .await?
        {
            return Err(RoomAdminError::NotFound);
        }
        self.reload().await?;
        tracing::info!(room = %id, by = %by.actor(), "waiting room deleted through the admin API");
        Ok(())
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn room(&self, id: &str) -> Result<Arc<WaitingRoom>, RoomError> {
        self.rooms()
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or(RoomError::NotFound)
    }

    /// The room's phase now, and when admission starts (or started): the scheduled
    /// opening, or the moment a room that switches on by itself did.
    pub async fn phase_of(
        &self,
        room: &WaitingRoom,
        now: DateTime<Utc>,
    ) -> Result<(RoomPhase, DateTime<Utc>), RoomError> {
        if room.trigger_per_minute.is_none() {
            return Ok((room.phase(now), room.opens_at));
        }
        let opened = self
            .store
            .activation(&room.id)
            .await?
            .filter(|at| *at >= room.opens_at && *at < room.closes_at);
        Ok((
            room.phase_with(opened, now),
            opened.unwrap_or(room.opens_at),
        ))
    }

    /// Counts a booking attempt towards the rooms that switch on by themselves, and
    /// switches one on when the minute's attempts pass its threshold.
    async fn count_arrival(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        date: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(), RoomError> {
        for room in self.rooms().iter().filter(|r| {
            r.trigger_per_minute.is_some()
                && r.covers(office, procedure, date)
                && now >= r.opens_at
                && now < r.closes_at
        }) {
            if self.store.activation(&room.id).await?.is_some() {
                continue;
            }
            let arrivals = self.store.arrive(&room.id, now.timestamp() / 60).await?;
            if arrivals > u64::from(room.trigger_per_minute.unwrap_or(u32::MAX)) {
                let at = self.store.activate(&room.id, now).await?;
                tracing::warn!(room = %room.id, at = %at, arrivals, "waiting room switched on by the booking rate");
                metrics::counter!("madoguchi_room_triggered_total").increment(1);
            }
        }
        Ok(())
    }

    /// A proof-of-work challenge for joining (None when the room asks for none): valid
    /// five minutes, good for one join.
    pub fn challenge(&self, room_id: &str) -> Result<Option<(String, u8)>, RoomError> {
        let room = self.room(room_id)?;
        if room.proof_bits == 0 {
            return Ok(None);
        }
        let c = Challenge::new(
            room_id,
            room.proof_bits,
            self.clock.now() + Duration::minutes(5),
        );
        Ok(Some((c.encode(&self.keys), room.proof_bits)))
    }

    /// Checks `<challenge>:<nonce>` and uses the challenge up.
    async fn check_proof(&self, room: &WaitingRoom, proof: Option<&str>) -> Result<(), RoomError> {
        if room.proof_bits == 0 {
            return Ok(());
        }
        let Some((token, nonce)) = proof.and_then(|p| p.rsplit_once(':')) else {
            return Err(RoomError::ProofRequired);
        };
        let now = self.clock.now();
        let c = Challenge::decode(&self.keys, token, &room.id, now)
            .map_err(|_| RoomError::ProofInvalid)?;
        if c.bits < room.proof_bits || !solves(token, nonce, room.proof_bits) {
            return Err(RoomError::ProofInvalid);
        }
        let expires = DateTime::from_timestamp_millis(c.expires_ms).unwrap_or(now);
        if !self
            .store
            .use_challenge(&room.id, &c.id, now, expires)
            .await?
        {
            return Err(RoomError::ProofInvalid);
        }
        Ok(())
    }

    /// Joins the line: a new place, or the same one for a visitor who already holds a
    /// valid place token of this room (one place per client token). True when new.
    pub async fn join(
        &self,
        room_id: &str,
        existing: Option<&str>,
        proof: Option<&str>,
    ) -> Result<(u64, String, bool), RoomError> {
        let room = self.room(room_id)?;
        let room: &WaitingRoom = &room;
        let now = self.clock.now();
        let (phase, opened) = self.phase_of(room, now).await?;
        match phase {
            RoomPhase::Scheduled => {
                return Err(RoomError::NotYetOpen(opened - room.prequeue));
            }
            RoomPhase::Ended => return Err(RoomError::Ended),
            RoomPhase::Prequeue | RoomPhase::Open => {}
        }
        let began = self.store.began(room_id, now).await?;
        if let Some(token) = existing
            && let Ok(t) = PlaceToken::decode(&self.keys, token, room_id)
            && t.issued_ms >= began.timestamp_millis()
        {
            return Ok((t.place, token.to_owned(), false));
        }
        self.check_proof(room, proof).await?;
        let place = self.store.next_place(room_id).await?;
        if phase == RoomPhase::Prequeue {
            self.store
                .add_draw(room_id, place, rand::rng().next_u64())
                .await?;
        } else {
            // After the draw (made here if this is the first visitor since the opening),
            // the new place is marked present like any poll does.
            self.open(room, now).await?;
            self.store.poll(room_id, place, now, now).await?;
        }
        let token = PlaceToken {
            room: room_id.to_owned(),
            place,
            issued_ms: now.timestamp_millis(),
        }
        .encode(&self.keys);
        Ok((place, token, true))
    }

    /// The opening draw, once: every place handed out before it gets a position in the
    /// order of its random draw (a place that raced the opening without a draw gets one
    /// now). Instances race by compare-and-set; only the winner writes positions.
    async fn open(
        &self,
        room: &WaitingRoom,
        now: DateTime<Utc>,
    ) -> Result<StoredCounters, RoomError> {
        let current = self.store.counters(&room.id).await?;
        if let Some(c) = current
            && c.opened
        {
            return Ok(c);
        }
        let prequeue = self.store.places(&room.id).await?;
        let drawn: HashMap<u64, u64> = self.store.draws(&room.id).await?.into_iter().collect();
        let entries: Vec<(u64, u64)> = (1..=prequeue)
            .map(|p| {
                (
                    p,
                    drawn
                        .get(&p)
                        .copied()
                        .unwrap_or_else(|| rand::rng().next_u64()),
                )
            })
            .collect();
        let opened = StoredCounters {
            serving: current.map(|c| c.serving).unwrap_or(0),
            rate_since: self.phase_of(room, now).await?.1.min(now),
            prequeue,
            opened: true,
        };
        if self.store.swap_counters(&room.id, current, opened).await? {
            let pairs: Vec<(u64, u64)> = prequeue_order(&entries)
                .into_iter()
                .enumerate()
                .map(|(i, place)| (place, crate::num::u64_of(i) + 1))
                .collect();
            self.store.set_positions(&room.id, &pairs).await?;
            // Everyone in the pre-queue counts as present at the opening.
            let positions: Vec<u64> = pairs.iter().map(|(_, p)| *p).collect();
            self.store.touch(&room.id, &positions, now).await?;
            return Ok(opened);
        }
        Ok(self.store.counters(&room.id).await?.unwrap_or(opened))
    }

    /// Seats left in the release (every office, procedure and date it covers that is
    /// bookable now), for one clock second.
    pub async fn remaining_seats(&self, room: &WaitingRoom) -> Result<u32, RoomError> {
        let now = self.clock.now();
        if let Some((second, seats)) = self
            .seats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&room.id)
            && *second == now.timestamp()
        {
            return Ok(*seats);
        }
        let mut total = 0u32;
        for office in &room.offices {
            for procedure in &room.procedures {
                total = total.saturating_add(
                    self.seats_of(office, *procedure, room.first_date, room.last_date)
                        .await?,
                );
            }
        }
        self.seats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(room.id.clone(), (now.timestamp(), total));
        Ok(total)
    }

    async fn seats_of(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<u32, RoomError> {
        let mut total = 0u32;
        let mut from = first;
        while from <= last {
            let to = (from + Duration::days(30)).min(last);
            match self
                .booking
                .availability(office, procedure, Some(from), Some(to))
                .await
            {
                Ok(a) => {
                    total =
                        total.saturating_add(a.slots.iter().map(|s| u32::from(s.remaining)).sum());
                }
                Err(crate::service::BookingError::Unavailable(m)) => {
                    return Err(RoomError::Store(HotError::Unavailable(m)));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "no seats counted for a room's office/procedure");
                }
            }
            from = to + Duration::days(1);
        }
        Ok(total)
    }

    /// Moves the serving counter on (at most once a second per instance).
    /// `opened`: the counters as `open` just read them.
    async fn advance(
        &self,
        room: &WaitingRoom,
        opened: &StoredCounters,
        now: DateTime<Utc>,
    ) -> Result<StoredCounters, RoomError> {
        let current = *opened;
        {
            let mut advanced = self.advanced.lock().unwrap_or_else(|e| e.into_inner());
            let last = advanced.entry(room.id.clone()).or_insert(i64::MIN);
            if now.timestamp_millis().saturating_sub(*last) < 1_000 {
                return Ok(current);
            }
            *last = now.timestamp_millis();
        }
        let issued = self.store.places(&room.id).await?;
        let remaining = self.remaining_seats(room).await?;
        let outstanding = self.store.outstanding(&room.id, now).await?;
        let last = issued.min(current.serving + WINDOW.min(MAX_WALK));
        let window: Vec<u64> = (current.serving + 1..=last).collect();
        let seen = self.store.seen(&room.id, &window).await?;
        let idle = room.policy.idle_after;
        let live = |p: u64| {
            p.checked_sub(current.serving + 1)
                .and_then(|i| seen.get(usize::try_from(i).ok()?))
                .and_then(|s| *s)
                .is_some_and(|t| now - t <= idle)
        };
        let counters = RoomCounters {
            issued: last,
            serving: current.serving,
            rate_since: current.rate_since,
            outstanding,
        };
        let step = advance(&counters, &room.policy, remaining, now, live);
        if step.serving == current.serving && step.rate_since == current.rate_since {
            return Ok(current);
        }
        // Admissions first: a crash before the swap leaves a few recorded early (the
        // next advance keeps them), never a position passed without one.
        for position in &step.admitted {
            let nonce = crate::service::keys::random_token();
            self.store
                .admit(&room.id, *position, &nonce, now + room.policy.admission_ttl)
                .await?;
        }
        let next = StoredCounters {
            serving: step.serving,
            rate_since: step.rate_since,
            ..current
        };
        if self
            .store
            .swap_counters(&room.id, Some(current), next)
            .await?
        {
            metrics::counter!("madoguchi_room_admissions_total")
                .increment(crate::num::u64_of(step.admitted.len()));
            Ok(next)
        } else {
            Ok(self.store.counters(&room.id).await?.unwrap_or(current))
        }
    }

    /// The visitor's state: waiting (place, people ahead, estimate), admitted (with the
    /// admission token), closed (every seat taken), or expired (they stopped polling).
    pub async fn status(&self, room_id: &str, token: &str) -> Result<RoomStatus, RoomError> {
        let room = self.room(room_id)?;
        let room: &WaitingRoom = &room;
        let place = PlaceToken::decode(&self.keys, token, room_id).map_err(RoomError::Token)?;
        let now = self.clock.now();
        let issued = DateTime::from_timestamp_millis(place.issued_ms).unwrap_or_default();
        // One round trip for what most polls need (the visitor is marked seen in it).
        let polled = self.store.poll(room_id, place.place, issued, now).await?;
        // A token from before the line's state began belongs to a line that was lost.
        if polled == Poll::Lost {
            return Err(RoomError::Token(TokenError::Invalid));
        }
        let remaining = self.remaining_seats(room).await?;
        let (phase, opened) = self.phase_of(room, now).await?;
        let mut status = RoomStatus {
            state: "waiting",
            position: None,
            ahead: None,
            eta_seconds: None,
            admission_token: None,
            opens_at: opened,
            remaining_seats: remaining,
        };
        match phase {
            RoomPhase::Scheduled | RoomPhase::Prequeue => {
                // The draw at the opening decides the order; until then, how long to wait.
                status.eta_seconds = Some(u64::try_from((opened - now).num_seconds()).unwrap_or(0));
                if remaining == 0 {
                    status.state = "closed";
                }
                return Ok(status);
            }
            RoomPhase::Ended => return Err(RoomError::Ended),
            RoomPhase::Open => {}
        }
        // Present now: seen before the counter moves, so polling never loses the place.
        let polled = match polled {
            Poll::Open { .. } => polled,
            // The first poll after the opening makes the draw, then reads the place again.
            _ => {
                self.open(room, now).await?;
                self.store.poll(room_id, place.place, issued, now).await?
            }
        };
        let Poll::Open {
            counters: opened,
            position: Some(position),
        } = polled
        else {
            return Ok(status);
        };
        let counters = self.advance(room, &opened, now).await?;
        status.position = Some(position);
        // Seen now (touched above), so a waiting visitor is never told "expired" here:
        // a place is lost only by being skipped while away.
        match visitor_state(
            position,
            counters.serving,
            &room.policy,
            remaining,
            now,
            now,
        ) {
            VisitorState::Closed => status.state = "closed",
            VisitorState::Expired => status.state = "expired",
            VisitorState::Waiting { ahead, eta_seconds } => {
                status.ahead = Some(ahead);
                status.eta_seconds = Some(eta_seconds);
            }
            VisitorState::Admitted => match self.store.admission(room_id, position).await? {
                Some((nonce, expires)) if expires > now => {
                    status.state = "admitted";
                    status.ahead = Some(0);
                    status.admission_token = Some(
                        AdmissionToken {
                            room: room_id.to_owned(),
                            place: position,
                            expires_ms: expires.timestamp_millis(),
                            nonce,
                        }
                        .encode(&self.keys),
                    );
                }
                // Passed over while away, or the admission ran out unused.
                _ => status.state = "expired",
            },
        }
        Ok(status)
    }

    /// The room that gates a booking of this slot now, if any.
    pub async fn gating(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        date: NaiveDate,
    ) -> Result<Option<Arc<WaitingRoom>>, RoomError> {
        let now = self.clock.now();
        for room in self
            .rooms()
            .iter()
            .filter(|r| r.covers(office, procedure, date))
        {
            if matches!(
                self.phase_of(room, now).await?.0,
                RoomPhase::Prequeue | RoomPhase::Open
            ) {
                return Ok(Some(room.clone()));
            }
        }
        Ok(None)
    }

    /// Lets a booking through a gating room: a valid, unexpired, unused admission token
    /// is needed; it is used now (one booking per token) and given back by `restore` if
    /// the booking fails.
    pub async fn enter(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        date: NaiveDate,
        token_for: &dyn Fn(&str) -> Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<Option<Admitted>, RoomError> {
        self.count_arrival(office, procedure, date, self.clock.now())
            .await?;
        let Some(room) = self.gating(office, procedure, date).await? else {
            return Ok(None);
        };
        let Some(token) = token_for(&room.id) else {
            return Err(RoomError::AdmissionRequired(room.id.clone()));
        };
        let admission = AdmissionToken::decode(&self.keys, &token, &room.id, self.clock.now())
            .map_err(|_| RoomError::AdmissionRequired(room.id.clone()))?;
        // Which request used it: a retry with the same Idempotency-Key is the same one.
        let request_key = match idempotency_key {
            Some(k) => data_encoding::HEXLOWER.encode(&crate::service::keys::fingerprint(&[
                b"waiting-room-use",
                k.as_bytes(),
            ])),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let first = match self
            .store
            .use_admission(&room.id, &admission.nonce, &request_key)
            .await?
        {
            AdmissionUse::First => true,
            // A retry of the request that used it: the booking service answers it again.
            AdmissionUse::SameRequest => false,
            AdmissionUse::Used => return Err(RoomError::AdmissionUsed(room.id.clone())),
        };
        Ok(Some(Admitted {
            room: room.id.clone(),
            nonce: admission.nonce,
            expires: DateTime::from_timestamp_millis(admission.expires_ms).unwrap_or_default(),
            first,
        }))
    }

    /// Books through the waiting room that gates the slot's release, if any (the API and
    /// the booking page alike): the admission is used, and given back if the booking
    /// fails. `token_for` gives the admission token the resident holds for a room.
    pub async fn book_through(
        &self,
        booking: &BookingService,
        request: crate::service::booking::BookRequest,
        token_for: &dyn Fn(&str) -> Option<String>,
    ) -> Result<crate::service::booking::Booked, GatedBookingError> {
        let admitted = self.enter_for(&request, token_for).await?;
        self.given_back_on_failure(admitted, booking.book(request).await)
            .await
    }

    /// A hold through the same gate as [`Self::book_through`].
    pub async fn hold_through(
        &self,
        booking: &BookingService,
        request: crate::service::booking::HoldRequest,
        token_for: &dyn Fn(&str) -> Option<String>,
    ) -> Result<crate::service::booking::Booked, GatedBookingError> {
        let admitted = self.enter_for(&request, token_for).await?;
        self.given_back_on_failure(admitted, booking.hold(request).await)
            .await
    }

    /// [`Self::enter`] for what a booking or a hold asks for.
    async fn enter_for(
        &self,
        request: &impl Gated,
        token_for: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Admitted>, RoomError> {
        let (office, procedure, start, idempotency) = request.gate();
        self.enter(
            office,
            procedure,
            start.date(),
            token_for,
            idempotency.map(|k| k.0.as_str()),
        )
        .await
    }

    /// The admission a failed booking or hold used goes back to its visitor.
    async fn given_back_on_failure<T>(
        &self,
        admitted: Option<Admitted>,
        result: Result<T, crate::service::BookingError>,
    ) -> Result<T, GatedBookingError> {
        if result.is_err()
            && let Some(a) = admitted
        {
            self.restore(&a).await;
        }
        Ok(result?)
    }

    pub async fn restore(&self, admitted: &Admitted) {
        if !admitted.first {
            return;
        }
        if let Err(e) = self
            .store
            .restore_admission(&admitted.room, &admitted.nonce, admitted.expires)
            .await
        {
            tracing::warn!(error = %e, "could not give an admission back");
        }
    }
}

/// An administrator may manage only rooms that cover nothing but their own office.
fn may_manage(by: &StaffPrincipal, room: &WaitingRoom) -> Result<(), RoomAdminError> {
    if by.role != StaffRole::Admin || room.offices.iter().any(|o| !by.may_act_for(o)) {
        return Err(RoomAdminError::Forbidden);
    }
    Ok(())
}

/// The fields of a room's release that may not change once its line has begun.
fn fixed_fields_changed(old: &WaitingRoom, new: &WaitingRoom) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |name, same: bool| {
        if !same {
            changed.push(name);
        }
    };
    check("offices", old.offices == new.offices);
    check("procedures", old.procedures == new.procedures);
    check("first_date", old.first_date == new.first_date);
    check("last_date", old.last_date == new.last_date);
    check("opens_at", old.opens_at == new.opens_at);
    check("prequeue_minutes", old.prequeue == new.prequeue);
    check(
        "trigger_per_minute",
        old.trigger_per_minute == new.trigger_per_minute,
    );
    changed
}

/// What the waiting room checks of a request for a seat: where, what, when, and its
/// Idempotency-Key (a retry reuses its admission).
type Gate<'a> = (
    &'a OfficeId,
    ProcedureId,
    chrono::NaiveDateTime,
    Option<&'a crate::service::booking::IdempotencyKey>,
);

/// A booking or a hold, as the waiting room sees it.
trait Gated {
    fn gate(&self) -> Gate<'_>;
}

impl Gated for crate::service::booking::BookRequest {
    fn gate(&self) -> Gate<'_> {
        (
            &self.office,
            self.procedure,
            self.start,
            self.idempotency.as_ref(),
        )
    }
}

impl Gated for crate::service::booking::HoldRequest {
    fn gate(&self) -> Gate<'_> {
        (
            &self.office,
            self.procedure,
            self.start,
            self.idempotency.as_ref(),
        )
    }
}
