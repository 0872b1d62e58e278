//! One office's queues on one day, and every change to them, as pure functions: issuing a
//! ticket, calling the next one, a counter's or resident's action on a ticket, pausing a
//! counter, reading the people ahead and the figures, and merging the ledger's copy in
//! after a reload. The in-process hot state is this state behind a lock; the Redis
//! scripts follow it step for step and `tests/api/queue_model.rs` holds them equal.
//! Orders and tie-breaks copy Redis sorted sets: by score, then by member text.

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    Candidate, CounterId, LineId, QueuePolicy, ServiceStats, TicketClass, TicketStatus,
    choose_next, issued_by, ledger_copy_wins, ticket_number,
};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use uuid::Uuid;

/// How many recent calls displays get (the Redis scripts are given it).
pub const RECENT_CALLS: usize = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: Uuid,
    pub office_id: OfficeId,
    pub line_id: LineId,
    /// The Tokyo date it was issued on; numbers restart every day.
    pub service_date: NaiveDate,
    pub number: u32,
    pub display: String,
    pub procedure: ProcedureId,
    pub class: TicketClass,
    pub reservation_id: Option<Uuid>,
    pub status: TicketStatus,
    pub counter_id: Option<CounterId>,
    /// Place within its line and class: the issue sequence, or the slot start (ms) for a
    /// checked-in reservation.
    pub order_key: i64,
    pub issued_at: DateTime<Utc>,
    pub called_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub recalls: u32,
    /// How many changes the ticket went through after its issue (calls, recalls, starts,
    /// finishes, transfers…): the hot state raises it with each change, the ledger keeps
    /// the revision of the state it holds, so a reload can tell which copy is newer
    /// ([`crate::domain::queue::ledger_copy_wins`]).
    pub revision: u32,
}

/// A ticket just issued, and its line's counts the moment before it joined (no rank).
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    pub ticket: Ticket,
    pub before: LineSummary,
}

/// What call-next did.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    Called(Ticket),
    /// Nobody is waiting in the counter's lines.
    Empty,
    /// The counter still has a ticket called or being served.
    Busy(Ticket),
    Paused,
}

/// A staff or resident action on one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketAction {
    /// Call the same ticket again (the resident did not come yet).
    Recall,
    /// The resident arrived at the counter.
    Start,
    Finish,
    NoShow,
    /// Back to waiting, in another line (keeping its place or going last).
    Transfer {
        to: LineId,
        keep_place: bool,
    },
    /// The resident gives up their place.
    Cancel,
}

impl TicketAction {
    pub fn kind(&self) -> &'static str {
        match self {
            TicketAction::Recall => "recalled",
            TicketAction::Start => "started",
            TicketAction::Finish => "finished",
            TicketAction::NoShow => "no_show",
            TicketAction::Transfer { .. } => "transferred",
            TicketAction::Cancel => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActOutcome {
    Done(Ticket),
    /// The action does not fit the ticket's state (or it is at another counter).
    NotAllowed(Ticket),
    NotFound,
}

/// A counter as the hot state sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterView {
    pub id: CounterId,
    pub paused: bool,
    pub current: Option<Ticket>,
}

/// Everything estimates and displays need about one office's queues on one day, read in
/// time proportional to the lines and counters (never to the people waiting).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueView {
    /// How many wait in each line asked for, in the order asked.
    pub waiting: Vec<(LineId, u32)>,
    pub counters: Vec<CounterView>,
    pub stats: Vec<(ProcedureId, ServiceStats)>,
    /// The most recently called tickets, newest first (for displays).
    pub recent: Vec<Ticket>,
}

/// One line's queue, read in constant time (for ticket positions and intake forecasts).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineSummary {
    pub reserved: u32,
    pub priority: u32,
    pub normal: u32,
    /// The asked ticket's 0-based rank within its class, if it waits in this line.
    pub rank: Option<u32>,
}

impl QueueView {
    /// How many wait in `line`.
    pub fn waiting_in(&self, line: &LineId) -> u32 {
        self.waiting
            .iter()
            .find(|(l, _)| l == line)
            .map_or(0, |(_, n)| *n)
    }
}

impl LineSummary {
    pub fn waiting(&self) -> u32 {
        self.reserved + self.priority + self.normal
    }

    /// How many wait ahead of a ticket of `class` with this summary's rank: every class
    /// called before it (reserved before priority before normal), then its own rank.
    pub fn ahead_of(&self, class: TicketClass) -> Option<u32> {
        let rank = self.rank?;
        Some(match class {
            TicketClass::Reserved => rank,
            TicketClass::Priority => self.reserved + rank,
            TicketClass::Normal => self.reserved + self.priority + rank,
        })
    }
}

/// The state of an office's queues on a day, read from the ledger.
#[derive(Debug, Clone)]
pub struct QueueSnapshot {
    pub office: OfficeId,
    pub date: NaiveDate,
    pub lines: Vec<LineId>,
    /// The ticket prefix of each line (same order): numbers count by the issuing line,
    /// which a transferred ticket keeps in its displayed number.
    pub prefixes: Vec<String>,
    pub tickets: Vec<Ticket>,
    pub paused: Vec<CounterId>,
    pub counters: Vec<CounterId>,
    pub stats: Vec<(ProcedureId, ServiceStats)>,
    pub now: DateTime<Utc>,
}

impl QueueSnapshot {
    /// The highest issue sequence among the day's walk-in and priority tickets (reserved
    /// ones are ordered by their slot instead).
    pub fn highest_sequence(&self) -> i64 {
        self.tickets
            .iter()
            .filter(|t| t.class != TicketClass::Reserved)
            .map(|t| t.order_key)
            .max()
            .unwrap_or(0)
            .max(0)
    }

    /// The highest number the line with `prefix` issued (a transferred ticket keeps the
    /// number, and prefix, of the line that issued it).
    pub fn highest_number(&self, prefix: &str) -> u32 {
        self.tickets
            .iter()
            .filter(|t| issued_by(&t.display, prefix))
            .map(|t| t.number)
            .max()
            .unwrap_or(0)
    }
}

impl Ticket {
    /// The ticket called to `counter` (the next resident there).
    pub fn call_to(&mut self, counter: &CounterId, now: DateTime<Utc>) {
        self.status = TicketStatus::Called;
        self.counter_id = Some(counter.clone());
        self.called_at = Some(now);
        self.revision += 1;
    }
}

/// What an action does to a ticket and around it, decided on the ticket alone.
#[derive(Debug, Clone, PartialEq)]
pub struct ActChange {
    /// The ticket after the action (revision raised; for `goes_last`, the order key is
    /// the caller's to set: the day's next issue sequence).
    pub ticket: Ticket,
    /// It leaves the waiting queue of its old line and class (if it was in it).
    pub leaves: bool,
    /// The counter it was at stops holding it (if it still did).
    pub frees_counter: bool,
    /// It waits again, in its (new) line and class, by its order key.
    pub joins: bool,
    /// It goes to the end of its class: a new issue sequence as its order.
    pub goes_last: bool,
    /// It moves to the front of the recent calls (a recall).
    pub recalled: bool,
    pub observed: Option<Observed>,
}

/// Decides a staff action at `counter`, or the resident's (`counter` `None`), on a
/// ticket: `None` when it does not fit the ticket's state or it is at another counter.
pub fn decide_act(
    old: &Ticket,
    action: &TicketAction,
    counter: Option<&CounterId>,
    all_lines: &[LineId],
    now: DateTime<Utc>,
) -> Option<ActChange> {
    let mut t = old.clone();
    let at_counter = counter.is_some() && t.counter_id.as_ref() == counter;
    let change = |t: Ticket| ActChange {
        ticket: t,
        leaves: false,
        frees_counter: false,
        joins: false,
        goes_last: false,
        recalled: false,
        observed: None,
    };
    let mut decided = match action {
        TicketAction::Recall if t.status == TicketStatus::Called && at_counter => {
            t.recalls += 1;
            t.called_at = Some(now);
            ActChange {
                recalled: true,
                ..change(t)
            }
        }
        TicketAction::Start if t.status == TicketStatus::Called && at_counter => {
            t.status = TicketStatus::Serving;
            t.started_at = Some(now);
            change(t)
        }
        TicketAction::Finish
            if matches!(t.status, TicketStatus::Called | TicketStatus::Serving) && at_counter =>
        {
            t.status = TicketStatus::Done;
            t.finished_at = Some(now);
            let from = t.started_at.or(t.called_at).unwrap_or(now);
            #[allow(
                clippy::as_conversions,
                reason = "milliseconds of one service fit an f64"
            )]
            let minutes = (now - from).num_milliseconds() as f64 / 60_000.0;
            let observed = Some(Observed {
                procedure: t.procedure,
                minutes,
            });
            ActChange {
                frees_counter: true,
                observed,
                ..change(t)
            }
        }
        TicketAction::NoShow if t.status == TicketStatus::Called && at_counter => {
            t.status = TicketStatus::NoShow;
            t.finished_at = Some(now);
            ActChange {
                frees_counter: true,
                ..change(t)
            }
        }
        TicketAction::Transfer { to, keep_place }
            if counter.is_some()
                && all_lines.contains(to)
                && (t.status == TicketStatus::Waiting
                    || (matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
                        && at_counter)) =>
        {
            let goes_last = !keep_place && t.class != TicketClass::Reserved;
            t.line_id = to.clone();
            t.status = TicketStatus::Waiting;
            t.counter_id = None;
            ActChange {
                leaves: true,
                frees_counter: true,
                joins: true,
                goes_last,
                ..change(t)
            }
        }
        TicketAction::Cancel if t.status == TicketStatus::Waiting => {
            t.status = TicketStatus::Cancelled;
            t.finished_at = Some(now);
            ActChange {
                leaves: true,
                ..change(t)
            }
        }
        _ => return None,
    };
    decided.ticket.revision += 1;
    Some(decided)
}

/// A ticket to issue: who it is for and where it joins.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    pub id: Uuid,
    pub office: &'a OfficeId,
    pub line: &'a LineId,
    pub prefix: &'a str,
    pub date: NaiveDate,
    pub procedure: ProcedureId,
    pub class: TicketClass,
    pub reservation_id: Option<Uuid>,
    /// For a checked-in reservation: its slot start (ms), which orders reserved tickets.
    pub slot_start_ms: Option<i64>,
    pub now: DateTime<Utc>,
}

/// A service time seen when a ticket was finished, for the office's learnt estimates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    pub procedure: ProcedureId,
    pub minutes: f64,
}

/// A counter's state: paused, and the ticket it called or serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CounterState {
    pub paused: bool,
    pub current: Option<Uuid>,
}

/// The queues of one office on one day.
#[derive(Debug, Clone, Default)]
pub struct DayQueue {
    tickets: HashMap<Uuid, Ticket>,
    /// Waiting tickets per line and class, ordered by (order key, id text).
    waiting: HashMap<(LineId, TicketClass), BTreeSet<(i64, String)>>,
    /// The last number each line issued.
    numbers: HashMap<LineId, u32>,
    /// The last issue sequence (orders walk-in and priority tickets).
    seq: i64,
    counters: BTreeMap<CounterId, CounterState>,
    /// Priority calls in a row (the fairness ratio).
    streak: u16,
    /// The recently called, newest first.
    recent: VecDeque<Uuid>,
}

/// Called or being served at `counter`.
fn serving_at(t: &Ticket, counter: &CounterId) -> bool {
    t.counter_id.as_ref() == Some(counter)
        && matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
}

const CLASSES: [TicketClass; 3] = [
    TicketClass::Reserved,
    TicketClass::Priority,
    TicketClass::Normal,
];

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
            && let Some(state) = self.counters.get_mut(c)
            && state.current == Some(id)
        {
            state.current = None;
        }
    }

    fn count(&self, line: &LineId, class: TicketClass) -> u32 {
        self.waiting
            .get(&(line.clone(), class))
            .map_or(0, |q| u32::try_from(q.len()).unwrap_or(u32::MAX))
    }

    /// Issues a ticket with the line's next number at the end of its class (a reserved
    /// one by its slot); also the line's counts just before it joined.
    pub fn issue(&mut self, new: &NewTicket<'_>) -> Issued {
        let number = self.numbers.entry(new.line.clone()).or_insert(0);
        *number += 1;
        let number = *number;
        let order_key = match (new.class, new.slot_start_ms) {
            (TicketClass::Reserved, Some(slot)) => slot,
            _ => {
                self.seq += 1;
                self.seq
            }
        };
        let ticket = Ticket {
            id: new.id,
            office_id: new.office.clone(),
            line_id: new.line.clone(),
            service_date: new.date,
            number,
            display: ticket_number(new.prefix, number),
            procedure: new.procedure,
            class: new.class,
            reservation_id: new.reservation_id,
            status: TicketStatus::Waiting,
            counter_id: None,
            order_key,
            issued_at: new.now,
            called_at: None,
            started_at: None,
            finished_at: None,
            recalls: 0,
            revision: 0,
        };
        let before = self.line_summary(new.line, None);
        self.enqueue(&ticket);
        self.tickets.insert(ticket.id, ticket.clone());
        Issued { ticket, before }
    }

    /// Removes a ticket entirely (it never reached the ledger).
    pub fn forget(&mut self, id: Uuid) {
        if let Some(t) = self.tickets.remove(&id) {
            self.dequeue(&t);
            self.free_counter(&t.counter_id, id);
            self.recent.retain(|r| *r != id);
        }
    }

    /// Takes back the line's last number if it is still `number` (its ticket was never
    /// written), so that residents see no gap.
    pub fn give_back_number(&mut self, line: &LineId, number: u32) -> bool {
        match self.numbers.get_mut(line) {
            Some(n) if *n == number && number > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// The line's next number is above `above`.
    pub fn raise_number(&mut self, line: &LineId, above: u32) {
        let n = self.numbers.entry(line.clone()).or_insert(0);
        *n = (*n).max(above);
    }

    /// Calls the next resident to `counter` from `lines` (in the counter's order: ties go
    /// to the first) by [`choose_next`].
    pub fn call_next(
        &mut self,
        counter: &CounterId,
        lines: &[LineId],
        policy: &QueuePolicy,
        now: DateTime<Utc>,
    ) -> CallOutcome {
        let state = self.counters.get(counter).cloned().unwrap_or_default();
        if state.paused {
            return CallOutcome::Paused;
        }
        if let Some(t) = state.current.and_then(|id| self.tickets.get(&id))
            && matches!(t.status, TicketStatus::Called | TicketStatus::Serving)
        {
            return CallOutcome::Busy(t.clone());
        }
        let mut heads = Vec::new();
        let mut ids = Vec::new();
        for line in lines {
            for class in CLASSES {
                if let Some((order, id)) = self
                    .waiting
                    .get(&(line.clone(), class))
                    .and_then(|s| s.first())
                {
                    heads.push(Candidate {
                        class,
                        order: *order,
                    });
                    ids.push(id.as_str());
                }
            }
        }
        let Some((i, streak)) = choose_next(&heads, now.timestamp_millis(), policy, self.streak)
        else {
            return CallOutcome::Empty;
        };
        let Some(mut ticket) = ids
            .get(i)
            .and_then(|id| id.parse::<Uuid>().ok())
            .and_then(|id| self.tickets.get(&id).cloned())
        else {
            return CallOutcome::Empty;
        };
        self.dequeue(&ticket);
        self.streak = streak;
        ticket.call_to(counter, now);
        self.tickets.insert(ticket.id, ticket.clone());
        self.counters.insert(
            counter.clone(),
            CounterState {
                paused: false,
                current: Some(ticket.id),
            },
        );
        self.called(ticket.id);
        CallOutcome::Called(ticket)
    }

    /// A staff action at `counter`, or the resident's (`counter` `None`), on a ticket;
    /// also the service time it observed (a finish). The decision is [`decide_act`].
    pub fn act(
        &mut self,
        ticket: Uuid,
        action: &TicketAction,
        counter: Option<&CounterId>,
        all_lines: &[LineId],
        now: DateTime<Utc>,
    ) -> (ActOutcome, Option<Observed>) {
        let Some(old) = self.tickets.get(&ticket).cloned() else {
            return (ActOutcome::NotFound, None);
        };
        let Some(change) = decide_act(&old, action, counter, all_lines, now) else {
            return (ActOutcome::NotAllowed(old), None);
        };
        let mut t = change.ticket;
        if change.leaves {
            self.dequeue(&old);
        }
        if change.frees_counter {
            self.free_counter(&old.counter_id, old.id);
        }
        if change.goes_last {
            self.seq += 1;
            t.order_key = self.seq;
        }
        if change.joins {
            self.enqueue(&t);
        }
        if change.recalled {
            self.called(t.id);
        }
        self.tickets.insert(t.id, t.clone());
        (ActOutcome::Done(t), change.observed)
    }

    pub fn set_paused(&mut self, counter: &CounterId, paused: bool) {
        self.counters.entry(counter.clone()).or_default().paused = paused;
    }

    pub fn ticket(&self, id: Uuid) -> Option<&Ticket> {
        self.tickets.get(&id)
    }

    /// The figures of `lines` (in that order), every counter and the recent calls; the
    /// office's learnt service times are the caller's (they outlive a day).
    pub fn view(&self, lines: &[LineId], stats: Vec<(ProcedureId, ServiceStats)>) -> QueueView {
        let waiting = lines
            .iter()
            .map(|line| {
                let n = CLASSES
                    .into_iter()
                    .map(|class| self.count(line, class))
                    .sum();
                (line.clone(), n)
            })
            .collect();
        let counters = self
            .counters
            .iter()
            .map(|(id, state)| CounterView {
                id: id.clone(),
                paused: state.paused,
                current: state
                    .current
                    .and_then(|c| self.tickets.get(&c))
                    .filter(|t| matches!(t.status, TicketStatus::Called | TicketStatus::Serving))
                    .cloned(),
            })
            .collect();
        let recent = self
            .recent
            .iter()
            .filter_map(|id| self.tickets.get(id).cloned())
            .collect();
        QueueView {
            waiting,
            counters,
            stats,
            recent,
        }
    }

    /// One line's counts by class, and the rank within its class of `ticket` if it waits
    /// there.
    pub fn line_summary(&self, line: &LineId, ticket: Option<(Uuid, TicketClass)>) -> LineSummary {
        let rank = ticket.and_then(|(id, class)| {
            let member = id.to_string();
            self.waiting
                .get(&(line.clone(), class))?
                .iter()
                .position(|(_, m)| *m == member)
                .and_then(|r| u32::try_from(r).ok())
        });
        LineSummary {
            reserved: self.count(line, TicketClass::Reserved),
            priority: self.count(line, TicketClass::Priority),
            normal: self.count(line, TicketClass::Normal),
            rank,
        }
    }

    /// Merges the ledger's copy of the day in (a reload never replaces, see
    /// [`ledger_copy_wins`]); returns the live tickets the ledger does not know.
    pub fn merge(&mut self, s: &QueueSnapshot) -> Vec<Uuid> {
        for c in &s.counters {
            self.counters.entry(c.clone()).or_insert(CounterState {
                paused: s.paused.contains(c),
                current: None,
            });
        }
        for copy in &s.tickets {
            let live = self.tickets.get(&copy.id).cloned();
            let winner = if ledger_copy_wins(live.as_ref().map(|t| t.revision), copy.revision) {
                if let Some(live) = &live {
                    self.dequeue(live);
                    if let Some(c) = &live.counter_id
                        && !serving_at(copy, c)
                    {
                        self.free_counter(&live.counter_id, copy.id);
                    }
                }
                self.tickets.insert(copy.id, copy.clone());
                copy.clone()
            } else {
                live.unwrap_or_else(|| copy.clone())
            };
            if winner.status == TicketStatus::Waiting {
                self.enqueue(&winner);
            } else {
                self.dequeue(&winner);
            }
            if let Some(c) = winner
                .counter_id
                .as_ref()
                .filter(|c| serving_at(&winner, c))
            {
                let tickets = &self.tickets;
                let state = self.counters.entry(c.clone()).or_default();
                let taken = state
                    .current
                    .filter(|current| *current != winner.id)
                    .and_then(|current| tickets.get(&current))
                    .is_some_and(|other| serving_at(other, c));
                if state.current != Some(winner.id) && !taken {
                    state.current = Some(winner.id);
                }
            }
        }
        // Settle: no counter keeps a ticket it does not call or serve.
        let tickets = &self.tickets;
        for (c, state) in &mut self.counters {
            if state
                .current
                .is_some_and(|id| !tickets.get(&id).is_some_and(|t| serving_at(t, c)))
            {
                state.current = None;
            }
        }
        self.seq = self.seq.max(s.highest_sequence());
        for (line, prefix) in s.lines.iter().zip(&s.prefixes) {
            self.raise_number(line, s.highest_number(prefix));
        }
        if self.recent.is_empty() {
            let mut called: Vec<&Ticket> =
                s.tickets.iter().filter(|t| t.called_at.is_some()).collect();
            called.sort_by_key(|t| std::cmp::Reverse((t.called_at, t.id)));
            self.recent = called.iter().take(RECENT_CALLS).map(|t| t.id).collect();
        }
        let known: HashSet<Uuid> = s.tickets.iter().map(|t| t.id).collect();
        self.tickets
            .keys()
            .filter(|id| !known.contains(id))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn office() -> OfficeId {
        OfficeId::parse("main").unwrap()
    }

    fn line(s: &str) -> LineId {
        LineId::parse(s).unwrap()
    }

    fn counter(s: &str) -> CounterId {
        CounterId::parse(s).unwrap()
    }

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-01-12T08:30:00+09:00")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minute)
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, 12).unwrap()
    }

    fn issue(q: &mut DayQueue, l: &str, class: TicketClass, slot_minute: Option<i64>) -> Ticket {
        let office = office();
        let line = line(l);
        q.issue(&NewTicket {
            id: Uuid::new_v4(),
            office: &office,
            line: &line,
            prefix: &l.to_uppercase(),
            date: date(),
            procedure: ProcedureId::CardPickup,
            class,
            reservation_id: None,
            slot_start_ms: slot_minute.map(|m| at(m).timestamp_millis()),
            now: at(0),
        })
        .ticket
    }

    fn called(outcome: CallOutcome) -> Ticket {
        match outcome {
            CallOutcome::Called(t) => t,
            other => panic!("expected a call, got {other:?}"),
        }
    }

    #[test]
    fn numbers_count_per_line_and_the_answer_says_who_waited_before() {
        let mut q = DayQueue::default();
        let a1 = issue(&mut q, "a", TicketClass::Normal, None);
        let b1 = issue(&mut q, "b", TicketClass::Normal, None);
        let a2 = issue(&mut q, "a", TicketClass::Normal, None);
        assert_eq!(
            (a1.display.as_str(), b1.display.as_str()),
            ("A-001", "B-001")
        );
        assert_eq!(a2.display, "A-002");
        assert_eq!(q.line_summary(&line("a"), None).normal, 2);
        let office = office();
        let a = line("a");
        let issued = q.issue(&NewTicket {
            id: Uuid::new_v4(),
            office: &office,
            line: &a,
            prefix: "A",
            date: date(),
            procedure: ProcedureId::CardPickup,
            class: TicketClass::Priority,
            reservation_id: None,
            slot_start_ms: None,
            now: at(1),
        });
        assert_eq!((issued.before.normal, issued.before.priority), (2, 0));
        assert!(q.give_back_number(&a, 3));
        assert!(!q.give_back_number(&a, 3), "only the last number goes back");
    }

    #[test]
    fn a_counter_calls_by_the_rule_and_holds_its_ticket_until_done() {
        let mut q = DayQueue::default();
        let policy = QueuePolicy::default();
        let lines = [line("a")];
        let one = counter("1");
        let walk_in = issue(&mut q, "a", TicketClass::Normal, None);
        // A reservation whose slot is 5 minutes away is callable (10 minutes before).
        let reserved = issue(&mut q, "a", TicketClass::Reserved, Some(5));
        let first = called(q.call_next(&one, &lines, &policy, at(0)));
        assert_eq!(first.id, reserved.id);
        assert!(
            matches!(q.call_next(&one, &lines, &policy, at(1)), CallOutcome::Busy(t) if t.id == reserved.id)
        );
        let (done, _) = q.act(first.id, &TicketAction::Start, Some(&one), &lines, at(2));
        assert!(matches!(done, ActOutcome::Done(ref t) if t.status == TicketStatus::Serving));
        let (done, seen) = q.act(first.id, &TicketAction::Finish, Some(&one), &lines, at(14));
        assert!(matches!(done, ActOutcome::Done(ref t) if t.revision == 3));
        assert_eq!(seen.map(|s| s.minutes), Some(12.0));
        q.set_paused(&one, true);
        assert_eq!(
            q.call_next(&one, &lines, &policy, at(15)),
            CallOutcome::Paused
        );
        q.set_paused(&one, false);
        assert_eq!(
            called(q.call_next(&one, &lines, &policy, at(15))).id,
            walk_in.id
        );
        assert_eq!(
            q.call_next(&counter("2"), &lines, &policy, at(15)),
            CallOutcome::Empty
        );
    }

    #[test]
    fn only_the_calling_counter_acts_on_a_called_ticket() {
        let mut q = DayQueue::default();
        let lines = [line("a"), line("b")];
        let t = issue(&mut q, "a", TicketClass::Normal, None);
        called(q.call_next(&counter("1"), &lines, &QueuePolicy::default(), at(0)));
        for action in [
            TicketAction::Start,
            TicketAction::Finish,
            TicketAction::NoShow,
        ] {
            let (outcome, _) = q.act(t.id, &action, Some(&counter("2")), &lines, at(1));
            assert!(matches!(outcome, ActOutcome::NotAllowed(_)), "{action:?}");
        }
        let (outcome, _) = q.act(t.id, &TicketAction::Cancel, None, &lines, at(1));
        assert!(
            matches!(outcome, ActOutcome::NotAllowed(_)),
            "a called ticket is not cancelled"
        );
        let to_b = TicketAction::Transfer {
            to: line("b"),
            keep_place: false,
        };
        let (outcome, _) = q.act(t.id, &to_b, Some(&counter("1")), &lines, at(2));
        assert!(
            matches!(outcome, ActOutcome::Done(ref t) if t.status == TicketStatus::Waiting && t.line_id == line("b"))
        );
        assert_eq!(
            q.line_summary(&line("b"), Some((t.id, t.class))).rank,
            Some(0)
        );
        assert!(
            q.view(&lines, Vec::new())
                .counters
                .iter()
                .all(|c| c.current.is_none())
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Issue(usize, TicketClass, i64),
        Call(usize, usize),
        Act(usize, usize, u8),
        Pause(usize, bool),
        Reload,
        Forget(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let class = prop_oneof![
            Just(TicketClass::Normal),
            Just(TicketClass::Priority),
            Just(TicketClass::Reserved)
        ];
        prop_oneof![
            4 => (0..2usize, class, -20..40i64).prop_map(|(l, c, s)| Op::Issue(l, c, s)),
            3 => (0..3usize, 0..40usize).prop_map(|(c, m)| Op::Call(c, m)),
            3 => (0..40usize, 0..3usize, 0..6u8).prop_map(|(t, c, a)| Op::Act(t, c, a)),
            1 => (0..3usize, any::<bool>()).prop_map(|(c, p)| Op::Pause(c, p)),
            1 => Just(Op::Reload),
            1 => (0..40usize).prop_map(Op::Forget),
        ]
    }

    fn policy() -> impl Strategy<Value = QueuePolicy> {
        (0..30u16, 0..5u16).prop_map(|(before, ratio)| QueuePolicy {
            reserved_callable_before_minutes: before,
            priority_ratio: ratio,
            ..QueuePolicy::default()
        })
    }

    /// What must hold after every change, whatever the rule's configuration.
    fn check(q: &DayQueue) {
        let mut in_sets = HashSet::new();
        for ((l, class), set) in &q.waiting {
            for (order, id) in set {
                let t = &q.tickets[&id.parse::<Uuid>().unwrap()];
                assert_eq!((&t.line_id, t.class, t.order_key), (l, *class, *order));
                assert_eq!(t.status, TicketStatus::Waiting);
                assert!(in_sets.insert(t.id), "a ticket waits twice");
            }
        }
        let waiting = q
            .tickets
            .values()
            .filter(|t| t.status == TicketStatus::Waiting)
            .count();
        assert_eq!(
            waiting,
            in_sets.len(),
            "every waiting ticket is in its line"
        );
        let mut held = HashSet::new();
        for (c, state) in &q.counters {
            if let Some(id) = state.current {
                assert!(
                    serving_at(&q.tickets[&id], c),
                    "a counter holds what it serves"
                );
                assert!(held.insert(id), "two counters hold one ticket");
            }
        }
        let mut numbers = HashSet::new();
        for t in q.tickets.values() {
            assert!(
                numbers.insert(t.display.clone()),
                "a number twice: {}",
                t.display
            );
        }
        assert!(q.recent.len() <= RECENT_CALLS);
    }

    fn snapshot(q: &DayQueue) -> QueueSnapshot {
        QueueSnapshot {
            office: office(),
            date: date(),
            lines: vec![line("a"), line("b")],
            prefixes: vec!["A".into(), "B".into()],
            tickets: q.tickets.values().cloned().collect(),
            paused: Vec::new(),
            counters: (1..=3).map(|c| counter(&c.to_string())).collect(),
            stats: Vec::new(),
            now: at(0),
        }
    }

    proptest! {
        #[test]
        fn every_change_keeps_the_day_consistent(policy in policy(), ops in proptest::collection::vec(op(), 1..80)) {
            let lines = [line("a"), line("b")];
            let counters = [counter("1"), counter("2"), counter("3")];
            // Counter 1 serves a, 2 serves a then b, 3 serves b.
            let serves = [&lines[..1], &lines[..], &lines[1..]];
            let mut q = DayQueue::default();
            // Loaded first, as every day is before its first ticket.
            let _ = q.merge(&snapshot(&q));
            let mut ids = Vec::new();
            for op in ops {
                match op {
                    Op::Issue(l, class, slot) => {
                        let t = issue(&mut q, ["a", "b"][l], class, (class == TicketClass::Reserved).then_some(slot));
                        ids.push(t.id);
                    }
                    Op::Call(c, minute) => {
                        let before = q.clone();
                        match q.call_next(&counters[c], serves[c], &policy, at(minute as i64)) {
                            CallOutcome::Called(t) => {
                                prop_assert!(before.tickets[&t.id].status == TicketStatus::Waiting);
                                prop_assert!(serves[c].contains(&t.line_id));
                                prop_assert_eq!(t.revision, before.tickets[&t.id].revision + 1);
                            }
                            CallOutcome::Empty => {
                                // Only reservations not callable yet may wait.
                                let callable_classes: u32 = serves[c]
                                    .iter()
                                    .map(|l| before.line_summary(l, None))
                                    .map(|s| s.priority + s.normal)
                                    .sum();
                                prop_assert_eq!(callable_classes, 0);
                            }
                            CallOutcome::Busy(_) | CallOutcome::Paused => {}
                        }
                    }
                    Op::Act(t, c, a) => {
                        let Some(&id) = ids.get(t) else { continue };
                        let action = match a {
                            0 => TicketAction::Recall,
                            1 => TicketAction::Start,
                            2 => TicketAction::Finish,
                            3 => TicketAction::NoShow,
                            4 => TicketAction::Transfer { to: lines[c % 2].clone(), keep_place: c == 0 },
                            _ => TicketAction::Cancel,
                        };
                        let by = (a != 5).then_some(&counters[c]);
                        let before = q.tickets.get(&id).cloned();
                        let (outcome, _) = q.act(id, &action, by, &lines, at(50));
                        match outcome {
                            ActOutcome::Done(t) => prop_assert_eq!(t.revision, before.map_or(0, |b| b.revision) + 1),
                            ActOutcome::NotAllowed(t) => prop_assert_eq!(Some(t), before),
                            ActOutcome::NotFound => prop_assert!(before.is_none()),
                        }
                    }
                    Op::Pause(c, paused) => q.set_paused(&counters[c], paused),
                    Op::Reload => {
                        // A reload of the day's own copy changes nothing.
                        let view = q.view(&lines, Vec::new());
                        let unknown = q.merge(&snapshot(&q));
                        prop_assert!(unknown.is_empty());
                        prop_assert_eq!(q.view(&lines, Vec::new()), view);
                    }
                    Op::Forget(t) => {
                        if let Some(&id) = ids.get(t) {
                            q.forget(id);
                            prop_assert!(q.ticket(id).is_none());
                        }
                    }
                }
                check(&q);
            }
        }
    }
}
