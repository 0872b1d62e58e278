//! Slots this instance has seen full in Redis, so that the next refusals of a full slot
//! skip the claim script.
//!
//! At a booking opening most requests ask for slots that filled in the first seconds;
//! each refusal ran the claim script (four lookups and the script's own cost, all on
//! Redis's single thread). A slot seen full is remembered here until any seat anywhere is
//! given back: `release.lua` publishes on `<prefix>:freed`, every instance forgets all
//! it remembered (and this one at once, before it answers). A refusal from memory still
//! asks Redis, in one pipelined round trip without a script, whether the office's hot
//! state is loaded and whether the request is a replay or its resident holds a mark:
//! then the script runs, so those answers stay exactly the script's. Nothing is
//! remembered while the subscription is down, and nothing for longer than
//! [`REMEMBERED_FOR`], in case a message is lost. The ledger's seat key, not this, is
//! what stops an overbooking: a stale entry can only refuse, never seat.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest a full slot is remembered without a word from Redis.
pub(crate) const REMEMBERED_FOR: Duration = Duration::from_secs(1);

/// Entries beyond which expired ones are swept out on the next insert.
const SWEEP_ABOVE: usize = 4096;

/// Seat-map key and slot → (the capacity it was full at, when it was seen).
type Slots = HashMap<String, (u16, Instant)>;

/// What the memory says of a slot, read once per claim.
pub(crate) struct Lookup {
    /// Seen full at this capacity recently, with no release since.
    pub(crate) full: bool,
    /// Handed back to [`FullSlots::remember`] if the script finds the slot full.
    pub(crate) generation: u64,
}

pub(crate) struct FullSlots {
    slots: RwLock<Slots>,
    /// The subscription to `<prefix>:freed` is up (otherwise nothing is trusted).
    live: AtomicBool,
    /// Bumped by every `forget_all` while `slots` is locked for writing; a claim
    /// remembers what it saw only if no bump came between its reading Redis and its
    /// remembering. A watch, so that tests can wait for another instance's release.
    generation: tokio::sync::watch::Sender<u64>,
}

impl Default for FullSlots {
    fn default() -> Self {
        Self {
            slots: RwLock::default(),
            live: AtomicBool::new(false),
            generation: tokio::sync::watch::channel(0).0,
        }
    }
}

impl FullSlots {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Slots> {
        self.slots.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Read before asking Redis.
    pub(crate) fn lookup(&self, slot: &str, capacity: u16) -> Lookup {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        let full = self.live.load(Ordering::Acquire)
            && slots.get(slot).is_some_and(|&(at_capacity, seen)| {
                at_capacity == capacity && seen.elapsed() < REMEMBERED_FOR
            });
        Lookup {
            full,
            generation: *self.generation.borrow(),
        }
    }

    /// Remembers that the claim script found `slot` full, unless something was given
    /// back since `generation` was read.
    pub(crate) fn remember(&self, slot: String, capacity: u16, generation: u64) {
        if !self.live.load(Ordering::Acquire) {
            return;
        }
        let mut slots = self.write();
        if *self.generation.borrow() != generation {
            return;
        }
        if slots.len() > SWEEP_ABOVE {
            slots.retain(|_, (_, seen)| seen.elapsed() < REMEMBERED_FOR);
        }
        slots.insert(slot, (capacity, Instant::now()));
    }

    /// A seat was given back somewhere (or the hot state was rebuilt): nothing
    /// remembered can be trusted.
    pub(crate) fn forget_all(&self) {
        let mut slots = self.write();
        slots.clear();
        self.generation.send_modify(|g| *g += 1);
    }

    /// Called as the subscription comes up or goes down.
    pub(crate) fn set_live(&self, live: bool) {
        self.forget_all();
        self.live.store(live, Ordering::Release);
    }

    /// Changes each time everything is forgotten.
    pub(crate) fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> FullSlots {
        let full = FullSlots::default();
        full.set_live(true);
        full
    }

    #[test]
    fn a_slot_seen_full_is_full_at_that_capacity_until_anything_is_given_back() {
        let full = live();
        let g = full.lookup("a|0900", 2).generation;
        full.remember("a|0900".into(), 2, g);
        assert!(full.lookup("a|0900", 2).full);
        assert!(
            !full.lookup("a|0900", 3).full,
            "more seats since: ask Redis"
        );
        assert!(!full.lookup("a|0930", 2).full);
        full.forget_all();
        assert!(!full.lookup("a|0900", 2).full);
    }

    #[test]
    fn a_refusal_read_before_a_release_is_not_remembered_after_it() {
        let full = live();
        let before = full.lookup("a|0900", 2).generation;
        full.forget_all(); // a seat was given back while the script ran
        full.remember("a|0900".into(), 2, before);
        assert!(!full.lookup("a|0900", 2).full);
    }

    #[test]
    fn nothing_is_trusted_without_the_subscription() {
        let full = FullSlots::default();
        full.remember("a|0900".into(), 2, full.lookup("a|0900", 2).generation);
        assert!(!full.lookup("a|0900", 2).full, "never live");
        let full = live();
        full.remember("a|0900".into(), 2, full.lookup("a|0900", 2).generation);
        full.set_live(false);
        assert!(!full.lookup("a|0900", 2).full, "the subscription went down");
        full.set_live(true);
        assert!(
            !full.lookup("a|0900", 2).full,
            "what was known before is gone"
        );
    }
}
