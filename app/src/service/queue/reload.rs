//! Reloading a day's queues from the ledger and the maintenance pass that repairs them.

use super::{QueueError, QueueService};
use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::ServiceStats;
use crate::domain::time::tokyo_date;
use crate::service::maintenance::{BATCH, ROUNDS};
use crate::store::queue::QueueSnapshot;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// How far back finished services teach the estimate at a rebuild.
const SERVICE_HISTORY_DAYS: i64 = 14;

impl QueueService {
    /// Reloads an office's queues of a day from the ledger (at start, when the day is
    /// missing from the hot state, from the maintenance loop, and every 15 minutes). The
    /// hot state merges the snapshot rather than replacing what it has
    /// (`QueueHotState::load_queue`), so tickets issued or changed while the ledger was
    /// read are kept, on every instance, whichever instance reloads. When the day was
    /// missing (the hot state lost it), a ticket whose ledger write was still on its way
    /// may have been in neither; the maintenance loop merges the ledger again until a
    /// ticket deadline has passed (`follow_ups`), so it comes back within a pass.
    pub async fn rebuild_queue(
        &self,
        office_id: &OfficeId,
        date: NaiveDate,
        force: bool,
    ) -> Result<(), QueueError> {
        let Some(lock) = self.rebuild_locks.get(office_id) else {
            return Err(QueueError::OfficeNotFound);
        };
        let _guard = lock.lock().await;
        let loaded = self.hot.queue_loaded(office_id, date).await?;
        if !force && loaded {
            return Ok(());
        }
        let snapshot = self.queue_snapshot(office_id, date).await?;
        self.load_snapshot(&snapshot).await?;
        if !loaded {
            tracing::info!(office = %office_id, tickets = snapshot.tickets.len(), "queues loaded from the ledger");
            self.follow_up(office_id, date, snapshot.now + self.deadline);
        }
        Ok(())
    }

    /// Merges the ledger into the day's queues at every maintenance pass until `until`:
    /// a ticket whose write was still on its way when the hot state lost it (or the reaper
    /// dropped it) comes back.
    fn follow_up(&self, office: &OfficeId, date: NaiveDate, until: DateTime<Utc>) {
        let mut follow_ups = self.follow_ups.lock().unwrap_or_else(|e| e.into_inner());
        let at = follow_ups.entry((office.clone(), date)).or_insert(until);
        *at = (*at).max(until);
    }

    /// What the ledger holds of an office's queues on a day.
    pub async fn queue_snapshot(
        &self,
        office_id: &OfficeId,
        date: NaiveDate,
    ) -> Result<QueueSnapshot, QueueError> {
        let office = self.office(office_id)?;
        let now = self.clock.now();
        let tickets = self.ledger.tickets_of_day(office_id, date).await?;
        let paused = self.ledger.paused_counters(office_id).await?;
        let mut stats: HashMap<ProcedureId, ServiceStats> = HashMap::new();
        for s in self
            .ledger
            .service_times(office_id, now - Duration::days(SERVICE_HISTORY_DAYS))
            .await?
        {
            stats
                .entry(s.procedure)
                .or_insert_with(|| ServiceStats::nominal(s.procedure.info().nominal_minutes))
                .observe(s.minutes);
        }
        let mut stats: Vec<(ProcedureId, ServiceStats)> = stats.into_iter().collect();
        stats.sort_by_key(|(p, _)| *p);
        Ok(QueueSnapshot {
            office: office_id.clone(),
            date,
            lines: office.lines.iter().map(|l| l.id.clone()).collect(),
            prefixes: office.lines.iter().map(|l| l.prefix.clone()).collect(),
            tickets,
            paused,
            counters: office.counters.iter().map(|c| c.id.clone()).collect(),
            stats,
            now,
        })
    }

    /// Merges a snapshot into the hot state, then forgets the live tickets that neither
    /// the snapshot, a pending issue nor (asked now) the ledger account for.
    pub async fn load_snapshot(&self, snapshot: &QueueSnapshot) -> Result<(), QueueError> {
        let office = &snapshot.office;
        let unknown = self.hot.load_queue(snapshot).await?;
        if !unknown.is_empty() {
            let held = self.ledger.existing_tickets(&unknown).await?;
            for id in unknown.iter().filter(|id| !held.contains(id)) {
                self.hot.forget_ticket(office, snapshot.date, *id).await?;
                tracing::warn!(office = %office, "forgot a live ticket the ledger does not hold");
            }
        }
        self.invalidate(office);
        self.counters_changed(office);
        metrics::counter!("madoguchi_queue_rebuilds_total").increment(1);
        tracing::debug!(office = %office, tickets = snapshot.tickets.len(), "queues merged from the ledger");
        Ok(())
    }

    /// One maintenance pass: rebuild missing days, drop ticket issues that never reached
    /// the ledger. Returns (rebuilt, dropped).
    pub async fn repair(&self) -> Result<(usize, usize), QueueError> {
        let now = self.clock.now();
        let date = tokyo_date(now);
        let (mut rebuilt, mut dropped) = (0, 0);
        for office in &self.municipality.offices {
            if !self.hot.queue_loaded(&office.id, date).await? {
                self.rebuild_queue(&office.id, date, false).await?;
                rebuilt += 1;
            } else if self.follow_up_due(&office.id, date, now) {
                self.rebuild_queue(&office.id, date, true).await?;
                rebuilt += 1;
            }
            let dropped_before = dropped;
            // Rounds as for claims (service::maintenance::ROUNDS, which says why).
            for _ in 0..ROUNDS {
                let due = self.hot.due_tickets(&office.id, now, BATCH).await?;
                let round = due.len();
                if round == 0 {
                    break;
                }
                let ids: Vec<Uuid> = due.iter().map(|p| p.ticket_id).collect();
                let present = self.ledger.existing_tickets(&ids).await?;
                let (kept, lost): (Vec<_>, Vec<_>) = due
                    .into_iter()
                    .partition(|p| present.contains(&p.ticket_id));
                self.hot.forget_tickets(&office.id, &kept).await?;
                for p in &lost {
                    self.hot.drop_unwritten_ticket(&office.id, p).await?;
                    tracing::info!(office = %office.id, "dropped a ticket that never reached the ledger");
                    // Or whose write is only slow: if it lands, a follow-up merge brings
                    // the ticket back.
                    self.follow_up(&office.id, p.date, now + self.deadline);
                }
                dropped += lost.len();
                if round < BATCH {
                    break;
                }
            }
            if dropped > dropped_before {
                self.publish(&office.id);
            }
        }
        Ok((rebuilt, dropped))
    }

    /// Rebuilds today's queues of every office (start-up, periodic reconcile).
    /// Whether a reload of a lost day is still to be followed up (and the last follow-up
    /// once its deadline has passed).
    fn follow_up_due(&self, office: &OfficeId, date: NaiveDate, now: DateTime<Utc>) -> bool {
        let mut follow_ups = self.follow_ups.lock().unwrap_or_else(|e| e.into_inner());
        let key = (office.clone(), date);
        match follow_ups.get(&key) {
            Some(until) => {
                if now >= *until {
                    follow_ups.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    pub async fn rebuild_all(&self, force: bool) -> Result<(), QueueError> {
        let date = self.today();
        for office in &self.municipality.offices {
            self.rebuild_queue(&office.id, date, force).await?;
        }
        Ok(())
    }
}
