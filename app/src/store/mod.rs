//! Storage: the traits and types live in `madoguchi-core` (re-exported here); this crate
//! has the PostgreSQL ledger, the Redis hot state and the in-process hot state. The
//! SQLite ledger is the `madoguchi-sqlite` crate.

pub use madoguchi_core::store::*;

pub mod memory;
pub mod postgres;
pub mod redis;

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

/// The id of a new reservation or ticket row (also its claim id in the hot state). Time
/// ordered (UUIDv7, real time, not the business clock: only index locality depends on
/// it), so the ledger's primary key and the audit events' index on it grow at their right
/// edge instead of writing a random page of each per row: PostgreSQL's work per booked
/// row fell by about a tenth (docs/perf/journal/2026-11-22-to-12-01.md, "Fewer random index writes per
/// booking"). Its 74 random bits keep it unguessable where it is shown (ticket links).
pub fn new_row_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_row_ids_grow_in_the_order_they_are_made() {
        let ids: Vec<_> = (0..1000).map(|_| new_row_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids out of order");
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
    }
}
