//! Walk-in queues in process: the reference model of the Redis scripts in `lua/queue_*`.
//! Orders and tie-breaks copy Redis sorted sets: by score, then by member text.

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    Candidate, CounterId, LineId, ServiceStats, TicketClass, TicketStatus, choose_next,
    ledger_copy_wins, ticket_number,
};
use crate::store::HotError;
use crate::store::memory::MemoryHotState;
use crate::store::queue::{
    ActOutcome, ActRequest, CallOutcome, CallRequest, CounterView, IssueRequest, Issued,
    LineSummary, PendingTicket, QueueHotState, QueueSnapshot, QueueView, RECENT_CALLS, Ticket,
    TicketAction,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use uuid::Uuid;

#[derive(Default)]
pub(crate) struct DayQueue {
    loaded: bool,
    tickets: HashMap<Uuid, Ticket>,
    waiting: HashMap<(LineId, TicketClass), BTreeSet<(i64, String)>>,
    numbers: HashMap<LineId, u32>,
    seq: i64,
    /// counter → (paused, current ticket)
    counters: BTreeMap<CounterId, (bool, Option<Uuid>)>,
    streak: u16,
    recent: VecDeque<Uuid>,
}

#[derive(Default)]
pub(crate) struct OfficeQueues {
    days: HashMap<NaiveDate, DayQueue>,
    stats: HashMap<ProcedureId, ServiceStats>,
    pending: BTreeMap<(i64, String), PendingTicket>,
}

/// Called or being served at `counter`.
fn serving_at(t: &Ticket, counter: &CounterId) -> bool {
    t.counter_id.as_ref() == Some(counter)
        && matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
}

fn pending_member(p: &PendingTicket) -> String {
    format!("{}|{}", crate::domain::slots::DateKey(p.date), p.ticket_id)
}

impl DayQueue {
    fn enqueue(&mut self, t: &Ticket) {
        self.waiting
            .entry((t.line_id.clone(), t.class))
            .or_default()
            .insert((t.order_key, t.id.to_string()));
    }

    fn dequeue(&mut self, t: &Ticket) {
        if let Some(set) = self.waiting.get_mut(&(t.line_id.clone(), t.class)) {
            set.remove(&(t.order_key, t.id.to_string()));
        }
    }

    fn called(&mut self, id: Uuid) {
        self.recent.retain(|r| *r != id);
        self.recent.push_front(id);
        self.recent.truncate(RECENT_CALLS);
    }

    fn free_counter(&mut self, counter: &Option<CounterId>, id: Uuid) {
        if let Some(c) = counter
            && let Some((_, current)) = self.counters.get_mut(c)
            && *current == Some(id)
        {
            *current = None;
        }
    }
}

impl MemoryHotState {
    fn day<'a>(
        &'a self,
        queues: &'a mut HashMap<OfficeId, OfficeQueues>,
        office: &OfficeId,
        date: NaiveDate,
    ) -> Result<&'a mut DayQueue, HotError> {
        match queues.get_mut(office).and_then(|q| q.days.get_mut(&date)) {
            Some(day) if day.loaded => Ok(day),
            _ => Err(HotError::NeedsRebuild(office.clone())),
        }
    }
}

#[async_trait]
impl QueueHotState for MemoryHotState {
    async fn issue(&self, req: &IssueRequest) -> Result<Issued, HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, &req.office, req.date)?;
        let number = day.numbers.entry(req.line.clone()).or_insert(0);
        *number += 1;
        let number = *number;
        let order_key = match (req.class, req.slot_start_ms) {
            (TicketClass::Reserved, Some(slot)) => slot,
            _ => {
                day.seq += 1;
                day.seq
            }
        };
        let ticket = Ticket {
            id: req.ticket_id,
            office_id: req.office.clone(),
            line_id: req.line.clone(),
            service_date: req.date,
            number,
            display: ticket_number(&req.prefix, number),
            procedure: req.procedure,
            class: req.class,
            reservation_id: req.reservation_id,
            status: TicketStatus::Waiting,
            counter_id: None,
            order_key,
            issued_at: req.now,
            called_at: None,
            started_at: None,
            finished_at: None,
            recalls: 0,
            revision: 0,
        };
        let count = |class| {
            day.waiting
                .get(&(req.line.clone(), class))
                .map_or(0, |q| q.len() as u32)
        };
        let before = LineSummary {
            reserved: count(TicketClass::Reserved),
            priority: count(TicketClass::Priority),
            normal: count(TicketClass::Normal),
            rank: None,
        };
        day.enqueue(&ticket);
        day.tickets.insert(ticket.id, ticket.clone());
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
        Ok(Issued { ticket, before })
    }

    async fn forget_ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<(), HotError> {
        let mut queues = self.queues();
        if let Some(day) = queues.get_mut(office).and_then(|q| q.days.get_mut(&date))
            && let Some(t) = day.tickets.remove(&id)
        {
            day.dequeue(&t);
            day.free_counter(&t.counter_id, id);
            day.recent.retain(|r| *r != id);
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
        let mut queues = self.queues();
        let Some(day) = queues.get_mut(office).and_then(|q| q.days.get_mut(&date)) else {
            return Ok(false);
        };
        match day.numbers.get_mut(line) {
            Some(n) if *n == number && number > 0 => {
                *n -= 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn raise_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        above: u32,
    ) -> Result<(), HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, office, date)?;
        let n = day.numbers.entry(line.clone()).or_insert(0);
        *n = (*n).max(above);
        Ok(())
    }

    async fn call_next(&self, req: &CallRequest<'_>) -> Result<CallOutcome, HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, req.office, req.date)?;
        let (paused, current) = day
            .counters
            .get(req.counter)
            .cloned()
            .unwrap_or((false, None));
        if paused {
            return Ok(CallOutcome::Paused);
        }
        if let Some(t) = current.and_then(|id| day.tickets.get(&id))
            && matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
        {
            return Ok(CallOutcome::Busy(t.clone()));
        }
        let mut heads = Vec::new();
        let mut ids = Vec::new();
        for line in req.lines {
            for class in [
                TicketClass::Reserved,
                TicketClass::Priority,
                TicketClass::Normal,
            ] {
                if let Some((order, id)) = day
                    .waiting
                    .get(&(line.clone(), class))
                    .and_then(|s| s.first())
                {
                    heads.push(Candidate {
                        class,
                        order: *order,
                    });
                    ids.push(id.clone());
                }
            }
        }
        let Some((i, streak)) =
            choose_next(&heads, req.now.timestamp_millis(), req.policy, day.streak)
        else {
            return Ok(CallOutcome::Empty);
        };
        let id: Uuid = ids[i]
            .parse()
            .map_err(|e| HotError::Unexpected(anyhow::anyhow!("bad ticket id: {e}")))?;
        let Some(mut ticket) = day.tickets.get(&id).cloned() else {
            return Ok(CallOutcome::Empty);
        };
        day.dequeue(&ticket);
        day.streak = streak;
        ticket.status = TicketStatus::Called;
        ticket.counter_id = Some(req.counter.clone());
        ticket.called_at = Some(req.now);
        ticket.revision += 1;
        day.tickets.insert(id, ticket.clone());
        day.counters.insert(req.counter.clone(), (false, Some(id)));
        day.called(id);
        Ok(CallOutcome::Called(ticket))
    }

    async fn act(&self, req: &ActRequest<'_>) -> Result<ActOutcome, HotError> {
        let mut queues = self.queues();
        let stats_update;
        {
            let day = self.day(&mut queues, req.office, req.date)?;
            let Some(mut t) = day.tickets.get(&req.ticket).cloned() else {
                return Ok(ActOutcome::NotFound);
            };
            let at_counter = req.counter.is_some() && t.counter_id.as_ref() == req.counter;
            let mut observed = None;
            match req.action {
                TicketAction::Recall if t.status == TicketStatus::Called && at_counter => {
                    t.recalls += 1;
                    t.called_at = Some(req.now);
                    day.called(t.id);
                }
                TicketAction::Start if t.status == TicketStatus::Called && at_counter => {
                    t.status = TicketStatus::Serving;
                    t.started_at = Some(req.now);
                }
                TicketAction::Finish
                    if matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
                        && at_counter =>
                {
                    t.status = TicketStatus::Done;
                    t.finished_at = Some(req.now);
                    let from = t.started_at.or(t.called_at).unwrap_or(req.now);
                    observed = Some((
                        t.procedure,
                        (req.now - from).num_milliseconds() as f64 / 60_000.0,
                    ));
                    day.free_counter(&t.counter_id, t.id);
                }
                TicketAction::NoShow if t.status == TicketStatus::Called && at_counter => {
                    t.status = TicketStatus::NoShow;
                    t.finished_at = Some(req.now);
                    day.free_counter(&t.counter_id, t.id);
                }
                TicketAction::Transfer { to, keep_place }
                    if req.counter.is_some()
                        && req.all_lines.contains(to)
                        && (t.status == TicketStatus::Waiting
                            || (matches!(
                                t.status,
                                TicketStatus::Called | TicketStatus::Serving
                            ) && at_counter)) =>
                {
                    day.dequeue(&t);
                    day.free_counter(&t.counter_id, t.id);
                    if !keep_place && t.class != TicketClass::Reserved {
                        day.seq += 1;
                        t.order_key = day.seq;
                    }
                    t.line_id = to.clone();
                    t.status = TicketStatus::Waiting;
                    t.counter_id = None;
                    day.enqueue(&t);
                }
                TicketAction::Cancel if t.status == TicketStatus::Waiting => {
                    day.dequeue(&t);
                    t.status = TicketStatus::Cancelled;
                    t.finished_at = Some(req.now);
                }
                _ => return Ok(ActOutcome::NotAllowed(t)),
            }
            t.revision += 1;
            day.tickets.insert(t.id, t.clone());
            stats_update = (observed, t);
        }
        let (observed, t) = stats_update;
        if let (Some((procedure, minutes)), Some(office)) = (observed, queues.get_mut(req.office)) {
            let nominal = ServiceStats::nominal(procedure.info().nominal_minutes);
            office
                .stats
                .entry(procedure)
                .or_insert(nominal)
                .observe(minutes);
        }
        Ok(ActOutcome::Done(t))
    }

    async fn set_paused(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        counter: &CounterId,
        paused: bool,
    ) -> Result<(), HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, office, date)?;
        day.counters
            .entry(counter.clone())
            .or_insert((false, None))
            .0 = paused;
        Ok(())
    }

    async fn queue_view(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        lines: &[LineId],
    ) -> Result<QueueView, HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, office, date)?;
        let waiting = lines
            .iter()
            .map(|line| {
                let n = [
                    TicketClass::Reserved,
                    TicketClass::Priority,
                    TicketClass::Normal,
                ]
                .into_iter()
                .filter_map(|class| day.waiting.get(&(line.clone(), class)))
                .map(|queue| queue.len() as u32)
                .sum();
                (line.clone(), n)
            })
            .collect();
        let counters = day
            .counters
            .iter()
            .map(|(id, (paused, current))| CounterView {
                id: id.clone(),
                paused: *paused,
                current: current
                    .and_then(|c| day.tickets.get(&c))
                    .filter(|t| matches!(t.status, TicketStatus::Called | TicketStatus::Serving))
                    .cloned(),
            })
            .collect();
        let recent = day
            .recent
            .iter()
            .filter_map(|id| day.tickets.get(id).cloned())
            .collect();
        let mut stats: Vec<(ProcedureId, ServiceStats)> = queues
            .get(office)
            .map(|q| q.stats.iter().map(|(p, s)| (*p, *s)).collect())
            .unwrap_or_default();
        stats.sort_by_key(|(p, _)| *p);
        Ok(QueueView {
            waiting,
            counters,
            stats,
            recent,
        })
    }

    async fn ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<Option<Ticket>, HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, office, date)?;
        Ok(day.tickets.get(&id).cloned())
    }

    async fn line_summary(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        ticket: Option<(Uuid, TicketClass)>,
    ) -> Result<LineSummary, HotError> {
        let mut queues = self.queues();
        let day = self.day(&mut queues, office, date)?;
        let count = |class| {
            day.waiting
                .get(&(line.clone(), class))
                .map(|s| s.len() as u32)
                .unwrap_or(0)
        };
        let rank = ticket.and_then(|(id, class)| {
            let member = id.to_string();
            day.waiting
                .get(&(line.clone(), class))?
                .iter()
                .position(|(_, m)| *m == member)
                .map(|r| r as u32)
        });
        Ok(LineSummary {
            reserved: count(TicketClass::Reserved),
            priority: count(TicketClass::Priority),
            normal: count(TicketClass::Normal),
            rank,
        })
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
        // The same merge as lua/queue_merge.lua and lua/queue_settle.lua, step for step.
        let mut queues = self.queues();
        let office = queues.entry(s.office.clone()).or_default();
        let day = office.days.entry(s.date).or_default();
        for c in &s.counters {
            day.counters
                .entry(c.clone())
                .or_insert((s.paused.contains(c), None));
        }
        for copy in &s.tickets {
            let live = day.tickets.get(&copy.id).cloned();
            let winner = if ledger_copy_wins(live.as_ref().map(|t| t.revision), copy.revision) {
                if let Some(live) = &live {
                    day.dequeue(live);
                    if let Some(c) = &live.counter_id
                        && !serving_at(copy, c)
                    {
                        day.free_counter(&live.counter_id, copy.id);
                    }
                }
                day.tickets.insert(copy.id, copy.clone());
                copy.clone()
            } else {
                live.unwrap_or_else(|| copy.clone())
            };
            if winner.status == TicketStatus::Waiting {
                day.enqueue(&winner);
            } else {
                day.dequeue(&winner);
            }
            if let Some(c) = winner
                .counter_id
                .as_ref()
                .filter(|c| serving_at(&winner, c))
            {
                let tickets = &day.tickets;
                let state = day.counters.entry(c.clone()).or_insert((false, None));
                let taken = state
                    .1
                    .filter(|current| *current != winner.id)
                    .and_then(|current| tickets.get(&current))
                    .is_some_and(|other| serving_at(other, c));
                if state.1 != Some(winner.id) && !taken {
                    state.1 = Some(winner.id);
                }
            }
        }
        // Settle.
        let tickets = &day.tickets;
        for (c, (_, current)) in day.counters.iter_mut() {
            if current.is_some_and(|id| !tickets.get(&id).is_some_and(|t| serving_at(t, c))) {
                *current = None;
            }
        }
        day.seq = day.seq.max(s.highest_sequence());
        for (line, prefix) in s.lines.iter().zip(&s.prefixes) {
            let n = day.numbers.entry(line.clone()).or_insert(0);
            *n = (*n).max(s.highest_number(prefix));
        }
        if day.recent.is_empty() {
            let mut called: Vec<&Ticket> =
                s.tickets.iter().filter(|t| t.called_at.is_some()).collect();
            called.sort_by_key(|t| std::cmp::Reverse((t.called_at, t.id)));
            day.recent = called.iter().take(RECENT_CALLS).map(|t| t.id).collect();
        }
        day.loaded = true;
        let known: HashSet<Uuid> = s.tickets.iter().map(|t| t.id).collect();
        let unknown: Vec<Uuid> = day
            .tickets
            .keys()
            .filter(|id| !known.contains(id))
            .copied()
            .collect();
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
