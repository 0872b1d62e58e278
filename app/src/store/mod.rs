//! Storage: the traits and types live in `madoguchi-core` (re-exported here); this crate
//! has the PostgreSQL ledger, the Redis hot state and the in-process hot state. The
//! SQLite ledger is the `madoguchi-sqlite` crate.

pub use madoguchi_core::store::*;

pub mod group_commit;
pub mod memory;
pub mod memory_queue;
pub mod memory_room;
pub mod postgres;
pub mod postgres_queue;
pub mod postgres_room;
pub mod redis;
pub(crate) mod redis_full;
pub mod redis_queue;
pub mod redis_room;

use data_encoding::HEXLOWER;

/// How a pending claim is written in the hot state's sorted set (Redis) or ordered map
/// (in process): the same text, so both list due claims in the same order.
pub(crate) fn pending_member(claim: &PendingClaim) -> String {
    let hex = |d: &Option<Digest>| {
        d.as_ref()
            .map(|d| HEXLOWER.encode(d))
            .unwrap_or_else(|| "-".into())
    };
    format!(
        "{}|{}|{}|{}|{}|{}|{}",
        claim.claim_id,
        claim.slot.procedure.as_str(),
        crate::domain::slots::DateKey(claim.slot.date),
        claim.slot.time_key(),
        claim.seat,
        hex(&claim.resident),
        hex(&claim.idempotency),
    )
}
