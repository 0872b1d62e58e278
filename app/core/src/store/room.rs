//! The shared state of waiting rooms: the primitive operations the room service builds
//! on. Redis in production (one hash tag per room, so a cluster keeps a room on one
//! shard), in process in the embedded mode. Every operation is atomic on its own; the
//! serving counter changes only by compare-and-set, so instances never admit twice.

use crate::store::HotError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The outcome of using an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmissionUse {
    First,
    SameRequest,
    Used,
}

/// The counters of a room as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCounters {
    pub serving: u64,
    pub rate_since: DateTime<Utc>,
    /// How many places were handed out before the opening (the pre-queue); 0 until the
    /// opening draw was made.
    pub prequeue: u64,
    /// Whether the opening draw was made.
    pub opened: bool,
}

/// What one status poll reads, and the mark it leaves (`RoomStore::poll`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// The place was issued before the line's state began: the line it belonged to was
    /// lost. Nothing was marked.
    Lost,
    /// The opening draw is not made yet: the counters as stored. Nothing was marked.
    NotOpened(Option<StoredCounters>),
    /// After the opening draw: the counters and the place's position (None: a pre-queue
    /// place whose position is not written yet). A position still waiting (after the
    /// serving counter) was marked seen.
    Open {
        counters: StoredCounters,
        position: Option<u64>,
    },
}

#[async_trait]
pub trait RoomStore: Send + Sync {
    /// When the room's shared state began: set to `at` by the first call, the same after.
    /// A place token issued before it belongs to a line that was lost (Redis restarted
    /// empty) and is refused, so two visitors never share a position.
    async fn began(&self, room: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError>;
    /// The next place (1, 2, …) of the room.
    async fn next_place(&self, room: &str) -> Result<u64, HotError>;
    /// The last place handed out.
    async fn places(&self, room: &str) -> Result<u64, HotError>;
    /// Records a pre-queue place's random draw.
    async fn add_draw(&self, room: &str, place: u64, draw: u64) -> Result<(), HotError>;
    /// Every pre-queue place with its draw.
    async fn draws(&self, room: &str) -> Result<Vec<(u64, u64)>, HotError>;
    /// The position of a pre-queue place (after the opening draw).
    async fn position_of(&self, room: &str, place: u64) -> Result<Option<u64>, HotError>;
    /// Stores the opening draw: (place, position) pairs.
    async fn set_positions(&self, room: &str, pairs: &[(u64, u64)]) -> Result<(), HotError>;
    /// The visitors at `positions` were seen now (one write for many: the opening draw
    /// marks the whole pre-queue present).
    async fn touch(
        &self,
        room: &str,
        positions: &[u64],
        now: DateTime<Utc>,
    ) -> Result<(), HotError>;
    /// When each of `positions` was last seen (None: never, or forgotten).
    async fn seen(
        &self,
        room: &str,
        positions: &[u64],
    ) -> Result<Vec<Option<DateTime<Utc>>>, HotError>;
    /// The counters (None before the first advance).
    async fn counters(&self, room: &str) -> Result<Option<StoredCounters>, HotError>;
    /// Replaces the counters if they still equal `expected` (None: not yet stored).
    async fn swap_counters(
        &self,
        room: &str,
        expected: Option<StoredCounters>,
        new: StoredCounters,
    ) -> Result<bool, HotError>;
    /// Records an admission of `position`: its nonce and expiry. Returns the admission
    /// already recorded for that position, if any (it is kept).
    async fn admit(
        &self,
        room: &str,
        position: u64,
        nonce: &str,
        expires: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, HotError>;
    /// The admission of a position, if any.
    async fn admission(
        &self,
        room: &str,
        position: u64,
    ) -> Result<Option<(String, DateTime<Utc>)>, HotError>;
    /// Admissions neither used nor expired.
    async fn outstanding(&self, room: &str, now: DateTime<Utc>) -> Result<u32, HotError>;
    /// Uses an admission for a booking made with the request key `by` (the hashed
    /// Idempotency-Key, or a fresh value): the first use, a retry of the same request
    /// (same `by`: the booking service replays its answer), or refused.
    async fn use_admission(
        &self,
        room: &str,
        nonce: &str,
        by: &str,
    ) -> Result<AdmissionUse, HotError>;
    /// Uses a proof-of-work challenge: true the first time only (kept until it expires).
    async fn use_challenge(
        &self,
        room: &str,
        id: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool, HotError>;
    /// Counts a booking attempt in the minute `minute` (epoch minutes); the count so far.
    async fn arrive(&self, room: &str, minute: i64) -> Result<u64, HotError>;
    /// When a room that switches on by itself did (None: not yet).
    async fn activation(&self, room: &str) -> Result<Option<DateTime<Utc>>, HotError>;
    /// Switches the room on at `at` unless it already is; when it did.
    async fn activate(&self, room: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError>;
    /// Gives an admission back (the booking it was used for failed).
    async fn restore_admission(
        &self,
        room: &str,
        nonce: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), HotError>;

    /// A visitor's poll of place `place` (issued at `issued`): `began`, the counters,
    /// the place's position, and the visitor marked seen while still waiting. Thousands
    /// of visitors poll every few seconds, so a shared store does it in one round trip;
    /// this default composes the primitives above.
    async fn poll(
        &self,
        room: &str,
        place: u64,
        issued: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Poll, HotError> {
        if issued < self.began(room, now).await? {
            return Ok(Poll::Lost);
        }
        let counters = match self.counters(room).await? {
            Some(c) if c.opened => c,
            other => return Ok(Poll::NotOpened(other)),
        };
        let position = if place <= counters.prequeue {
            self.position_of(room, place).await?
        } else {
            Some(place)
        };
        if let Some(p) = position
            && p > counters.serving
        {
            self.touch(room, &[p], now).await?;
        }
        Ok(Poll::Open { counters, position })
    }
}

/// A waiting room defined through the admin API, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoom {
    pub id: String,
    /// The definition as JSON (the fields of a municipality-file entry); validated again
    /// against the municipality whenever it is loaded.
    pub definition: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
    /// Deleted rooms keep their row: the id keys the line's hot state, so it is never
    /// given to another room.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The durable definitions of waiting rooms made through the admin API (rooms of the
/// municipality file are not stored). A handful of rows: every instance reloads them all.
#[async_trait]
pub trait RoomLedger: Send + Sync {
    /// Every stored room, deleted ones included.
    async fn stored_rooms(&self) -> Result<Vec<StoredRoom>, crate::store::StoreError>;
    /// Creates or replaces a room (its `created_*` fields are kept on a replace), and
    /// records the change (`kind`: defined or changed) for each office in `offices` in the
    /// append-only log the audit chain reads, in the same write.
    async fn put_room(
        &self,
        room: &StoredRoom,
        kind: &str,
        offices: &[String],
    ) -> Result<(), crate::store::StoreError>;
    /// Marks a room deleted, recording the deletion for each of `offices` in the same
    /// write; false when there was no live room of that id.
    async fn delete_room(
        &self,
        id: &str,
        by: &str,
        at: DateTime<Utc>,
        offices: &[String],
    ) -> Result<bool, crate::store::StoreError>;
}
