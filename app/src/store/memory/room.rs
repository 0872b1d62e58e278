//! Waiting rooms in process (the embedded mode): one mutex, so every operation is atomic.

use crate::store::HotError;
use crate::store::memory::MemoryHotState;
use crate::store::room::{AdmissionUse, RoomStore, StoredCounters};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct MemRoom {
    places: u64,
    draws: Vec<(u64, u64)>,
    positions: HashMap<u64, u64>,
    seen: HashMap<u64, DateTime<Utc>>,
    counters: Option<StoredCounters>,
    /// position → (nonce, expiry)
    admissions: HashMap<u64, (String, DateTime<Utc>)>,
    /// nonce → expiry, while neither used nor expired
    open_admissions: HashMap<String, DateTime<Utc>>,
    /// nonce → the request that used it
    used: HashMap<String, String>,
    /// proof-of-work challenges used, until they expire
    challenges: HashMap<String, DateTime<Utc>>,
    /// booking attempts per epoch minute (the last two kept)
    arrivals: HashMap<i64, u64>,
    activated: Option<DateTime<Utc>>,
    began: Option<DateTime<Utc>>,
}

impl MemoryHotState {
    fn room<T>(&self, room: &str, f: impl FnOnce(&mut MemRoom) -> T) -> T {
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        f(rooms.entry(room.to_owned()).or_default())
    }
}

#[async_trait]
impl RoomStore for MemoryHotState {
    async fn began(&self, room: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError> {
        Ok(self.room(room, |r| *r.began.get_or_insert(at)))
    }

    async fn next_place(&self, room: &str) -> Result<u64, HotError> {
        Ok(self.room(room, |r| {
            r.places += 1;
            r.places
        }))
    }

    async fn places(&self, room: &str) -> Result<u64, HotError> {
        Ok(self.room(room, |r| r.places))
    }

    async fn add_draw(&self, room: &str, place: u64, draw: u64) -> Result<(), HotError> {
        self.room(room, |r| r.draws.push((place, draw)));
        Ok(())
    }

    async fn draws(&self, room: &str) -> Result<Vec<(u64, u64)>, HotError> {
        Ok(self.room(room, |r| r.draws.clone()))
    }

    async fn position_of(&self, room: &str, place: u64) -> Result<Option<u64>, HotError> {
        Ok(self.room(room, |r| r.positions.get(&place).copied()))
    }

    async fn set_positions(&self, room: &str, pairs: &[(u64, u64)]) -> Result<(), HotError> {
        self.room(room, |r| r.positions.extend(pairs.iter().copied()));
        Ok(())
    }

    async fn touch(
        &self,
        room: &str,
        positions: &[u64],
        now: DateTime<Utc>,
    ) -> Result<(), HotError> {
        self.room(room, |r| r.seen.extend(positions.iter().map(|p| (*p, now))));
        Ok(())
    }

    async fn seen(
        &self,
        room: &str,
        positions: &[u64],
    ) -> Result<Vec<Option<DateTime<Utc>>>, HotError> {
        Ok(self.room(room, |r| {
            positions.iter().map(|p| r.seen.get(p).copied()).collect()
        }))
    }

    async fn counters(&self, room: &str) -> Result<Option<StoredCounters>, HotError> {
        Ok(self.room(room, |r| r.counters))
    }

    async fn swap_counters(
        &self,
        room: &str,
        expected: Option<StoredCounters>,
        new: StoredCounters,
    ) -> Result<bool, HotError> {
        Ok(self.room(room, |r| {
            if r.counters == expected {
                r.counters = Some(new);
                true
            } else {
                false
            }
        }))
    }

    async fn admit(
        &self,
        room: &str,
        position: u64,
        nonce: &str,
        expires: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, HotError> {
        Ok(self.room(room, |r| {
            if let Some(existing) = r.admissions.get(&position) {
                return Some(existing.clone());
            }
            r.admissions.insert(position, (nonce.to_owned(), expires));
            r.open_admissions.insert(nonce.to_owned(), expires);
            None
        }))
    }

    async fn admission(
        &self,
        room: &str,
        position: u64,
    ) -> Result<Option<(String, DateTime<Utc>)>, HotError> {
        Ok(self.room(room, |r| r.admissions.get(&position).cloned()))
    }

    async fn outstanding(&self, room: &str, now: DateTime<Utc>) -> Result<u32, HotError> {
        Ok(self.room(room, |r| {
            r.open_admissions.retain(|_, expires| *expires > now);
            u32::try_from(r.open_admissions.len()).unwrap_or(u32::MAX)
        }))
    }

    async fn use_admission(
        &self,
        room: &str,
        nonce: &str,
        by: &str,
    ) -> Result<AdmissionUse, HotError> {
        Ok(self.room(room, |r| {
            if r.open_admissions.remove(nonce).is_some() {
                r.used.insert(nonce.to_owned(), by.to_owned());
                AdmissionUse::First
            } else if r.used.get(nonce).is_some_and(|u| u == by) {
                AdmissionUse::SameRequest
            } else {
                AdmissionUse::Used
            }
        }))
    }

    async fn use_challenge(
        &self,
        room: &str,
        id: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool, HotError> {
        Ok(self.room(room, |r| {
            r.challenges.retain(|_, until| *until >= now);
            r.challenges.insert(id.to_owned(), expires).is_none()
        }))
    }

    async fn arrive(&self, room: &str, minute: i64) -> Result<u64, HotError> {
        Ok(self.room(room, |r| {
            r.arrivals.retain(|m, _| *m >= minute - 1);
            let n = r.arrivals.entry(minute).or_insert(0);
            *n += 1;
            *n
        }))
    }

    async fn activation(&self, room: &str) -> Result<Option<DateTime<Utc>>, HotError> {
        Ok(self.room(room, |r| r.activated))
    }

    async fn activate(&self, room: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError> {
        Ok(self.room(room, |r| *r.activated.get_or_insert(at)))
    }

    async fn restore_admission(
        &self,
        room: &str,
        nonce: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), HotError> {
        self.room(room, |r| {
            r.used.remove(nonce);
            r.open_admissions.insert(nonce.to_owned(), expires)
        });
        Ok(())
    }
}
