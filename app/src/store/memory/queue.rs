//! Walk-in queues in process: the day's state of the domain ([`DayQueue`]) behind the
//! store's lock, with the office's learnt service times and the tickets the reaper has
//! still to confirm.

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{CounterId, LineId, ServiceStats, TicketClass};
use crate::domain::queue_day::{DayQueue, NewTicket};
use crate::store::HotError;
use crate::store::memory::MemoryHotState;
use crate::store::queue::{
    ActOutcome, ActRequest, CallOutcome, CallRequest, IssueRequest, Issued, LineSummary,
    PendingTicket, QueueHotState, QueueSnapshot, QueueView, Ticket,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// A day's queue, and whether it was loaded from the ledger (until then every operation
/// but forgetting asks for a rebuild).
#[derive(Default)]
pub(crate) struct Day {
    loaded: bool,
    queue: DayQueue,
}

#[derive(Default)]
pub(crate) struct OfficeQueues {
    days: HashMap<NaiveDate, Day>,
    stats: HashMap<ProcedureId, ServiceStats>,
    pending: BTreeMap<(i64, String), PendingTicket>,
}

fn pending_member(p: &PendingTicket) -> String {
    format!("{}|{}", crate::domain::slots::DateKey(p.date), p.ticket_id)
}

fn loaded<'a>(
    queues: &'a mut HashMap<OfficeId, OfficeQueues>,
    office: &OfficeId,
    date: NaiveDate,
) -> Result<&'a mut DayQueue, HotError> {
    match queues.get_mut(office).and_then(|q| q.days.get_mut(&date)) {
        Some(day) if day.loaded => Ok(&mut day.queue),
        _ => Err(HotError::NeedsRebuild(office.clone())),
    }
}

fn existing<'a>(
    queues: &'a mut HashMap<OfficeId, OfficeQueues>,
    office: &OfficeId,
    date: NaiveDate,
) -> Option<&'a mut DayQueue> {
    queues
        .get_mut(office)
        .and_then(|q| q.days.get_mut(&date))
        .map(|d| &mut d.queue)
}

#[async_trait]
impl QueueHotState for MemoryHotState {
    async fn issue(&self, req: &IssueRequest) -> Result<Issued, HotError> {
        let mut queues = self.queues();
        let issued = loaded(&mut queues, &req.office, req.date)?.issue(&NewTicket {
            id: req.ticket_id,
            office: &req.office,
            line: &req.line,
            prefix: &req.prefix,
            date: req.date,
            procedure: req.procedure,
            class: req.class,
            reservation_id: req.reservation_id,
            slot_start_ms: req.slot_start_ms,
            now: req.now,
        });
        let pending = PendingTicket {
            date: req.date,
            ticket_id: req.ticket_id,
        };
        if let Some(office) = queues.get_mut(&req.office) {
            office.pending.insert(
                (req.deadline.timestamp_millis(), pending_member(&pending)),
                pending,
            );
        }
        Ok(issued)
    }

    async fn forget_ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<(), HotError> {
        if let Some(day) = existing(&mut self.queues(), office, date) {
            day.forget(id);
        }
        Ok(())
    }

    async fn give_back_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        number: u32,
    ) -> Result<bool, HotError> {
        Ok(existing(&mut self.queues(), office, date)
            .is_some_and(|day| day.give_back_number(line, number)))
    }

    async fn raise_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        above: u32,
    ) -> Result<(), HotError> {
        loaded(&mut self.queues(), office, date)?.raise_number(line, above);
        Ok(())
    }

    async fn call_next(&self, req: &CallRequest<'_>) -> Result<CallOutcome, HotError> {
        let mut queues = self.queues();
        let day = loaded(&mut queues, req.office, req.date)?;
        Ok(day.call_next(req.counter, req.lines, req.policy, req.now))
    }

    async fn act(&self, req: &ActRequest<'_>) -> Result<ActOutcome, HotError> {
        let mut queues = self.queues();
        let day = loaded(&mut queues, req.office, req.date)?;
        let (outcome, observed) =
            day.act(req.ticket, req.action, req.counter, req.all_lines, req.now);
        if let (Some(seen), Some(office)) = (observed, queues.get_mut(req.office)) {
            let nominal = ServiceStats::nominal(seen.procedure.info().nominal_minutes);
            office
                .stats
                .entry(seen.procedure)
                .or_insert(nominal)
                .observe(seen.minutes);
        }
        Ok(outcome)
    }

    async fn set_paused(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        counter: &CounterId,
        paused: bool,
    ) -> Result<(), HotError> {
        loaded(&mut self.queues(), office, date)?.set_paused(counter, paused);
        Ok(())
    }

    async fn queue_view(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        lines: &[LineId],
    ) -> Result<QueueView, HotError> {
        let mut queues = self.queues();
        let mut stats: Vec<(ProcedureId, ServiceStats)> = queues
            .get(office)
            .map(|q| q.stats.iter().map(|(p, s)| (*p, *s)).collect())
            .unwrap_or_default();
        stats.sort_by_key(|(p, _)| *p);
        Ok(loaded(&mut queues, office, date)?.view(lines, stats))
    }

    async fn ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<Option<Ticket>, HotError> {
        Ok(loaded(&mut self.queues(), office, date)?
            .ticket(id)
            .cloned())
    }

    async fn line_summary(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        ticket: Option<(Uuid, TicketClass)>,
    ) -> Result<LineSummary, HotError> {
        Ok(loaded(&mut self.queues(), office, date)?.line_summary(line, ticket))
    }

    async fn due_tickets(
        &self,
        office: &OfficeId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingTicket>, HotError> {
        let queues = self.queues();
        let now = now.timestamp_millis();
        Ok(queues
            .get(office)
            .map(|q| {
                q.pending
                    .iter()
                    .take_while(|((deadline, _), _)| *deadline <= now)
                    .take(limit)
                    .map(|(_, p)| p.clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn forget_tickets(
        &self,
        office: &OfficeId,
        pending: &[PendingTicket],
    ) -> Result<(), HotError> {
        let members: HashSet<String> = pending.iter().map(pending_member).collect();
        if let Some(q) = self.queues().get_mut(office) {
            q.pending.retain(|(_, m), _| !members.contains(m));
        }
        Ok(())
    }

    async fn drop_unwritten_ticket(
        &self,
        office: &OfficeId,
        pending: &PendingTicket,
    ) -> Result<(), HotError> {
        let removed = {
            let mut queues = self.queues();
            let Some(q) = queues.get_mut(office) else {
                return Ok(());
            };
            let member = pending_member(pending);
            let key = q.pending.keys().find(|(_, m)| *m == member).cloned();
            key.and_then(|k| q.pending.remove(&k)).is_some()
        };
        if removed {
            self.forget_ticket(office, pending.date, pending.ticket_id)
                .await?;
        }
        Ok(())
    }

    async fn load_queue(&self, s: &QueueSnapshot) -> Result<Vec<Uuid>, HotError> {
        let mut queues = self.queues();
        let office = queues.entry(s.office.clone()).or_default();
        let day = office.days.entry(s.date).or_default();
        let unknown = day.queue.merge(s);
        day.loaded = true;
        office.stats = s.stats.iter().copied().collect();
        let pending: HashSet<Uuid> = office
            .pending
            .values()
            .filter(|p| p.date == s.date)
            .map(|p| p.ticket_id)
            .collect();
        Ok(unknown
            .into_iter()
            .filter(|id| !pending.contains(id))
            .collect())
    }

    async fn queue_loaded(&self, office: &OfficeId, date: NaiveDate) -> Result<bool, HotError> {
        Ok(self
            .queues()
            .get(office)
            .and_then(|q| q.days.get(&date))
            .is_some_and(|d| d.loaded))
    }

    async fn publish(&self, office: &OfficeId) -> Result<(), HotError> {
        self.notify(office);
        Ok(())
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<OfficeId> {
        self.events()
    }
}
