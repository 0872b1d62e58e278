//! The maintenance loop: repairs and housekeeping that run on every instance every few
//! seconds. Each step is idempotent and safe to run concurrently on several instances.
//!
//! * reaper: a claim whose ledger row never appeared (the instance crashed between the
//!   claim and the insert) gets its seat back after its deadline;
//! * hold expiry: holds that ran out are expired and their seats return;
//! * lapsing: confirmed bookings whose slot has ended stop counting as active;
//! * retention: residents' names are removed after the retention period;
//! * watchdog: an office whose hot state vanished (Redis restarted empty) is rebuilt;
//! * waiting rooms: the rooms defined through the admin API are read again, so a change
//!   made on one instance reaches every instance within one pass;
//! * audit seals: each office's audit events are sealed into its chain (`service::audit`).

use crate::service::audit::AuditChain;
use crate::service::booking::{BookingError, BookingService};
use crate::service::queue::QueueService;
use crate::service::rooms::RoomService;
use crate::store::SeatRelease;
use chrono::Duration;
use std::sync::Arc;
use tokio::sync::watch;

/// How many claims, tickets or holds one round trip of a pass handles per office.
pub const BATCH: usize = 500;
/// Rounds of due claims (and of due tickets) one pass settles per office, at most: every
/// booking and ticket is settled a deadline after it was made, so the reaper must keep
/// up with the rush (one round a pass, it settled only 100 a second per office; a
/// 20-s booking run leaves ~180,000), yet a pass must not spin on an entry it cannot
/// remove. 20 rounds: 10,000 a pass, 2,000 a second per office and instance.
pub const ROUNDS: usize = 20;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceReport {
    pub claims_confirmed: usize,
    pub claims_released: usize,
    pub holds_expired: usize,
    pub bookings_lapsed: u64,
    pub names_purged: u64,
    pub offices_rebuilt: usize,
    pub queues_rebuilt: usize,
    pub tickets_dropped: usize,
    pub audit_seals: usize,
}

pub struct Maintenance {
    booking: Arc<BookingService>,
    queue: Arc<QueueService>,
    rooms: Arc<RoomService>,
    audit: Arc<AuditChain>,
    retention: Duration,
}

impl Maintenance {
    pub fn new(
        booking: Arc<BookingService>,
        queue: Arc<QueueService>,
        rooms: Arc<RoomService>,
        audit: Arc<AuditChain>,
        retention_days: u32,
    ) -> Self {
        Self {
            booking,
            queue,
            rooms,
            audit,
            retention: Duration::days(i64::from(retention_days)),
        }
    }

    /// One pass of every step.
    pub async fn run_once(&self) -> Result<MaintenanceReport, BookingError> {
        let b = &self.booking;
        let now = b.clock().now();
        let mut report = MaintenanceReport::default();
        for office in &b.municipality().offices {
            if !b.hot().is_loaded(&office.id).await? {
                tracing::warn!(office = %office.id, "hot state missing; rebuilding from the ledger");
                b.rebuild_office(&office.id, false).await?;
                report.offices_rebuilt += 1;
            }
            for _ in 0..ROUNDS {
                let due = b.hot().due_claims(&office.id, now, BATCH).await?;
                let round = due.len();
                if round == 0 {
                    break;
                }
                let ids: Vec<_> = due.iter().map(|c| c.claim_id).collect();
                let placed = b.ledger().active_placements(&ids).await?;
                // Keep the seat only if the ledger has this claim's row on this very seat.
                let (kept, lost): (Vec<_>, Vec<_>) = due.into_iter().partition(|claim| {
                    placed
                        .get(&claim.claim_id)
                        .is_some_and(|(slot, seat)| *slot == claim.slot && *seat == claim.seat)
                });
                b.hot().forget_claims(&office.id, &kept).await?;
                for claim in &lost {
                    b.hot().release_claim(claim).await?;
                    tracing::info!(office = %office.id, "returned the seat of a claim that never reached the ledger");
                }
                report.claims_confirmed += kept.len();
                report.claims_released += lost.len();
                if round < BATCH {
                    break;
                }
            }
        }
        let expired = b
            .ledger()
            .expire_holds(now, i64::try_from(BATCH).unwrap_or(i64::MAX))
            .await?;
        for hold in &expired {
            let release = SeatRelease {
                holder: hold.id,
                slot: hold.slot(),
                seat: Some(hold.seat),
                resident: None,
                idempotency: None,
            };
            b.hot().release(&release).await?;
        }
        report.holds_expired = expired.len();
        report.bookings_lapsed = b.ledger().lapse_past(now, now).await?;
        report.names_purged = b.ledger().purge_names(now - self.retention).await?;
        let (rebuilt, dropped) = self
            .queue
            .repair()
            .await
            .map_err(|e| BookingError::Unexpected(anyhow::anyhow!(e)))?;
        report.queues_rebuilt = rebuilt;
        report.tickets_dropped = dropped;
        self.rooms.reload().await?;
        report.audit_seals = self.audit.seal_all().await?;
        b.guesses().forget_idle();
        if report != MaintenanceReport::default() {
            tracing::debug!(?report, "maintenance pass");
        }
        Ok(report)
    }

    /// Runs passes every `every` until `stop` turns true; a periodic forced rebuild every
    /// `reconcile` repairs any drift between the hot state and the ledger, and congestion
    /// is written to the ledger every `snapshot`.
    pub async fn run(
        self,
        every: std::time::Duration,
        reconcile: std::time::Duration,
        snapshot: std::time::Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reconcile_tick = tokio::time::interval(reconcile);
        reconcile_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        reconcile_tick.tick().await; // start-up already rebuilt everything
        let mut snapshot_tick = tokio::time::interval(snapshot);
        snapshot_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = tick.tick() => {
                    if let Err(e) = self.run_once().await {
                        tracing::warn!(error = %e, "maintenance pass failed; retrying next tick");
                    }
                }
                _ = reconcile_tick.tick() => {
                    if let Err(e) = self.booking.rebuild_all(true).await {
                        tracing::warn!(error = %e, "periodic reconcile failed");
                    }
                    if let Err(e) = self.queue.rebuild_all(true).await {
                        tracing::warn!(error = %e, "periodic queue reconcile failed");
                    }
                }
                _ = snapshot_tick.tick() => {
                    if let Err(e) = self.queue.take_snapshots().await {
                        tracing::warn!(error = %e, "congestion snapshot failed");
                    }
                }
            }
        }
    }
}
