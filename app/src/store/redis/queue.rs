//! Walk-in queues in Redis. Keys of an office's day share its cluster hash tag:
//! `{p}:{o:X}:q:<YYYYMMDD>:` + `loaded`, `tickets` (hash id → JSON), `counters` (hash id →
//! `paused|current`), `streak`, `seq`, `recent` (list), `num:<line>`, `w:<line>:r|p|n`
//! (sorted sets of waiting tickets by order key); per office `qpending` (issues not yet
//! confirmed by the reaper) and `stats` (service times). Changes are published on
//! `{p}:events` for every instance's live displays.

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::{
    Candidate, CounterId, LineId, ServiceStats, TicketClass, TicketStatus, choose_next,
};
use crate::domain::queue_day::decide_act;
use crate::domain::slots::DateKey;
use crate::store::HotError;
use crate::store::queue::{
    ActOutcome, ActRequest, CallOutcome, CallRequest, CounterView, IssueRequest, Issued,
    LineSummary, PendingTicket, QueueHotState, QueueSnapshot, QueueView, RECENT_CALLS, Ticket,
};
use crate::store::redis::{RedisHotState, hot_error, text};
use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use redis::Value;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A ticket as the Lua scripts read and write it (JSON in the `tickets` hash).
#[derive(Debug, Serialize, Deserialize)]
struct HotTicket {
    id: Uuid,
    office: String,
    line: String,
    date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display: Option<String>,
    procedure: String,
    class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reservation: Option<Uuid>,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    order: Option<i64>,
    issued: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    called: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished: Option<i64>,
    recalls: u32,
    /// The ticket's revision (absent while 0: a new ticket's JSON stays as short).
    #[serde(default, skip_serializing_if = "is_zero")]
    rev: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> Result<DateTime<Utc>, HotError> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| HotError::Unexpected(anyhow!("bad time {v}")))
}

fn unexpected(what: &str) -> HotError {
    HotError::Unexpected(anyhow!("queue script returned {what}"))
}

impl HotTicket {
    fn of(t: &Ticket) -> Self {
        HotTicket {
            id: t.id,
            office: t.office_id.to_string(),
            line: t.line_id.to_string(),
            date: t.service_date,
            number: Some(t.number),
            display: Some(t.display.clone()),
            procedure: t.procedure.as_str().to_owned(),
            class: t.class.as_str().to_owned(),
            reservation: t.reservation_id,
            status: t.status.as_str().to_owned(),
            counter: t.counter_id.as_ref().map(|c| c.to_string()),
            order: Some(t.order_key),
            issued: ms(t.issued_at),
            called: t.called_at.map(ms),
            started: t.started_at.map(ms),
            finished: t.finished_at.map(ms),
            recalls: t.recalls,
            rev: t.revision,
        }
    }

    fn into_ticket(self) -> Result<Ticket, HotError> {
        let bad = |what: &str| unexpected(&format!("a ticket with a bad {what}"));
        Ok(Ticket {
            id: self.id,
            office_id: OfficeId::parse(&self.office).map_err(|_| bad("office"))?,
            line_id: LineId::parse(&self.line).map_err(|_| bad("line"))?,
            service_date: self.date,
            number: self.number.ok_or_else(|| bad("number"))?,
            display: self.display.ok_or_else(|| bad("display"))?,
            procedure: self
                .procedure
                .parse::<ProcedureId>()
                .map_err(|_| bad("procedure"))?,
            class: TicketClass::parse(&self.class).ok_or_else(|| bad("class"))?,
            reservation_id: self.reservation,
            status: TicketStatus::parse(&self.status).ok_or_else(|| bad("status"))?,
            counter_id: self
                .counter
                .map(|c| CounterId::parse(&c).map_err(|_| bad("counter")))
                .transpose()?,
            order_key: self.order.ok_or_else(|| bad("order"))?,
            issued_at: from_ms(self.issued)?,
            called_at: self.called.map(from_ms).transpose()?,
            started_at: self.started.map(from_ms).transpose()?,
            finished_at: self.finished.map(from_ms).transpose()?,
            recalls: self.recalls,
            revision: self.rev,
        })
    }
}

fn parse_ticket(json: &str) -> Result<Ticket, HotError> {
    serde_json::from_str::<HotTicket>(json)
        .map_err(|e| HotError::Unexpected(anyhow!("unreadable ticket in the hot state: {e}")))?
        .into_ticket()
}

fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(text).collect(),
        _ => Vec::new(),
    }
}

/// Day keys live two days past the day, counted from the service's clock.
fn day_ttl(date: NaiveDate, now: DateTime<Utc>) -> i64 {
    let end = (date + Duration::days(2))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    (end - now).num_seconds().max(3600)
}

fn class_suffix(class: TicketClass) -> &'static str {
    match class {
        TicketClass::Reserved => "r",
        TicketClass::Priority => "p",
        TicketClass::Normal => "n",
    }
}

const CLASSES: [TicketClass; 3] = [
    TicketClass::Reserved,
    TicketClass::Priority,
    TicketClass::Normal,
];

fn pending_member(p: &PendingTicket) -> String {
    format!("{}|{}", DateKey(p.date), p.ticket_id)
}

fn parse_stats(raw: &str) -> Option<ServiceStats> {
    let mut parts = raw.split('|');
    Some(ServiceStats {
        mean_minutes: parts.next()?.parse().ok()?,
        variance: parts.next()?.parse().ok()?,
        samples: parts.next()?.parse().ok()?,
    })
}

impl RedisHotState {
    /// A key of the office's day: one string written once (the kiosk path builds eight).
    fn day(&self, office: &OfficeId, date: NaiveDate, rest: impl std::fmt::Display) -> String {
        self.office_key(office, format_args!("q:{}:{rest}", DateKey(date)))
    }

    fn queue_key(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        class: TicketClass,
    ) -> String {
        self.day(
            office,
            date,
            format_args!("w:{}:{}", line, class_suffix(class)),
        )
    }

    fn all_queues(&self, office: &OfficeId, date: NaiveDate, lines: &[LineId]) -> Vec<String> {
        lines
            .iter()
            .flat_map(|l| {
                CLASSES
                    .iter()
                    .map(move |c| self.queue_key(office, date, l, *c))
            })
            .collect()
    }

    async fn drop_ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
        pending: Option<&PendingTicket>,
    ) -> Result<(), HotError> {
        // Which lines exist is not known here; the ticket's own line is enough, and a
        // transfer moved it within the day's lines, which the ticket records.
        let lines = match self.ticket_json(office, date, id).await? {
            Some(json) => vec![parse_ticket(&json)?.line_id],
            None => Vec::new(),
        };
        let mut invocation = self.queue_scripts().drop.prepare_invoke();
        invocation
            .key(self.office_key(office, "qpending"))
            .key(self.day(office, date, "tickets"))
            .key(self.day(office, date, "counters"))
            .key(self.day(office, date, "recent"));
        for key in self.all_queues(office, date, &lines) {
            invocation.key(key);
        }
        let _: i64 = invocation
            .arg(id.to_string())
            .arg(pending.map(pending_member).unwrap_or_default())
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn ticket_json(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<Option<String>, HotError> {
        redis::cmd("HGET")
            .arg(self.day(office, date, "tickets"))
            .arg(id.to_string())
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)
    }
}

/// How often call-next or an action reads and decides again after a conflicting change.
const CALL_ATTEMPTS: usize = 16;

/// One queue's first ticket, as read.
struct Head {
    member: String,
    order: i64,
    raw: String,
}

/// What call-next decides on (`queue_heads.lua`).
struct HeadsRead {
    state: Option<String>,
    current: Option<String>,
    streak: Option<String>,
    /// Per queue (reserved, priority, normal of each line, in the counter's order).
    heads: Vec<Option<Head>>,
}

/// A call decided: the ticket as called, from which queue, as it was read.
struct DecidedCall {
    ticket: Ticket,
    queue: usize,
    raw: String,
    streak: u16,
}

enum Decided {
    Done(CallOutcome),
    Call(DecidedCall),
}

fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

fn encode_ticket(t: &Ticket) -> Result<String, HotError> {
    serde_json::to_string(&HotTicket::of(t)).map_err(|e| HotError::Unexpected(anyhow!(e)))
}

/// The core's call-next rule on what was read.
fn decide_call(req: &CallRequest<'_>, read: &HeadsRead) -> Result<Decided, HotError> {
    let (paused, _) = read
        .state
        .as_deref()
        .and_then(|s| s.split_once('|'))
        .unwrap_or(("0", ""));
    if paused == "1" {
        return Ok(Decided::Done(CallOutcome::Paused));
    }
    if let Some(raw) = &read.current {
        let current = parse_ticket(raw)?;
        if matches!(current.status, TicketStatus::Called | TicketStatus::Serving) {
            return Ok(Decided::Done(CallOutcome::Busy(current)));
        }
    }
    let mut candidates = Vec::new();
    let mut at = Vec::new();
    for (i, head) in read.heads.iter().enumerate() {
        if let (Some(head), Some(class)) = (head, CLASSES.get(i % CLASSES.len())) {
            candidates.push(Candidate {
                class: *class,
                order: head.order,
            });
            at.push(i);
        }
    }
    let streak = read
        .streak
        .as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let Some((pick, streak)) = choose_next(&candidates, ms(req.now), req.policy, streak) else {
        return Ok(Decided::Done(CallOutcome::Empty));
    };
    let outside = || unexpected("a pick outside the heads");
    let queue = *at.get(pick).ok_or_else(outside)?;
    let head = read
        .heads
        .get(queue)
        .and_then(Option::as_ref)
        .ok_or_else(outside)?;
    let mut ticket = parse_ticket(&head.raw)?;
    ticket.call_to(req.counter, req.now);
    Ok(Decided::Call(DecidedCall {
        ticket,
        queue,
        raw: head.raw.clone(),
        streak,
    }))
}

impl RedisHotState {
    async fn read_heads(
        &self,
        req: &CallRequest<'_>,
        queues: &[String],
    ) -> Result<HeadsRead, HotError> {
        let mut invocation = self.queue_scripts().heads.prepare_invoke();
        invocation
            .key(self.day(req.office, req.date, "loaded"))
            .key(self.day(req.office, req.date, "tickets"))
            .key(self.day(req.office, req.date, "counters"))
            .key(self.day(req.office, req.date, "streak"));
        for key in queues {
            invocation.key(key);
        }
        let reply: Vec<Value> = invocation
            .arg(req.counter.as_str())
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        let part = |i: usize| reply.get(i).and_then(text);
        match part(0).as_deref() {
            Some("OK") => {}
            Some("REBUILD") => return Err(HotError::NeedsRebuild(req.office.clone())),
            other => return Err(unexpected(&format!("{other:?}"))),
        }
        let heads = (0..queues.len())
            .map(|q| {
                let at = 4 + 3 * q;
                match (part(at), part(at + 1), part(at + 2)) {
                    (Some(member), Some(score), Some(raw)) => Ok(Some(Head {
                        member,
                        order: score
                            .parse::<f64>()
                            .map_err(|_| unexpected("a bad queue score"))
                            .map(|s| {
                                #[allow(clippy::as_conversions, reason = "scores are whole")]
                                let order = s as i64;
                                order
                            })?,
                        raw,
                    })),
                    _ => Ok(None),
                }
            })
            .collect::<Result<_, HotError>>()?;
        Ok(HeadsRead {
            state: part(1),
            current: part(2),
            streak: part(3),
            heads,
        })
    }
}

#[async_trait]
impl QueueHotState for RedisHotState {
    async fn issue(&self, req: &IssueRequest) -> Result<Issued, HotError> {
        let mut ticket = Ticket {
            id: req.ticket_id,
            office_id: req.office.clone(),
            line_id: req.line.clone(),
            service_date: req.date,
            number: 0,
            display: String::new(),
            procedure: req.procedure,
            class: req.class,
            reservation_id: req.reservation_id,
            status: TicketStatus::Waiting,
            counter_id: None,
            order_key: 0,
            issued_at: req.now,
            called_at: None,
            started_at: None,
            finished_at: None,
            recalls: 0,
            revision: 0,
        };
        // The script appends number, display and order and the closing brace.
        let mut hot = HotTicket::of(&ticket);
        (hot.number, hot.display, hot.order) = (None, None, None);
        let mut template =
            serde_json::to_string(&hot).map_err(|e| HotError::Unexpected(anyhow!(e)))?;
        template.pop();
        let pending = PendingTicket {
            date: req.date,
            ticket_id: req.ticket_id,
        };
        let mut invocation = self.queue_scripts().issue.prepare_invoke();
        invocation
            .key(self.day(&req.office, req.date, "loaded"))
            .key(self.day(&req.office, req.date, format_args!("num:{}", req.line)))
            .key(self.day(&req.office, req.date, "seq"))
            .key(self.day(&req.office, req.date, "tickets"))
            .key(self.office_key(&req.office, "qpending"));
        for class in CLASSES {
            invocation.key(self.queue_key(&req.office, req.date, &req.line, class));
        }
        let reply: Vec<Value> = invocation
            .arg(template)
            .arg(&req.prefix)
            .arg(match (req.class, req.slot_start_ms) {
                (TicketClass::Reserved, Some(ms)) => ms.to_string(),
                _ => String::new(),
            })
            .arg(pending_member(&pending))
            .arg(ms(req.deadline))
            .arg(day_ttl(req.date, req.now))
            .arg(match req.class {
                TicketClass::Reserved => "6",
                TicketClass::Priority => "7",
                TicketClass::Normal => "8",
            })
            .arg(req.ticket_id.to_string())
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        match reply.first().and_then(text).as_deref() {
            Some("OK") => {
                let int = |i: usize| {
                    reply
                        .get(i)
                        .and_then(|v| redis::from_redis_value::<i64>(v.clone()).ok())
                        .ok_or_else(|| unexpected("a malformed issue reply"))
                };
                let count = |i: usize| int(i).map(|n| u32::try_from(n).unwrap_or(0));
                ticket.number = u32::try_from(int(1)?).map_err(|_| unexpected("a bad number"))?;
                ticket.order_key = int(2)?;
                // As the script stored it: the answer and the hot ticket never differ.
                ticket.display = reply
                    .get(3)
                    .and_then(text)
                    .ok_or_else(|| unexpected("an issue reply without a display"))?;
                Ok(Issued {
                    ticket,
                    before: LineSummary {
                        reserved: count(4)?,
                        priority: count(5)?,
                        normal: count(6)?,
                        rank: None,
                    },
                })
            }
            Some("REBUILD") => Err(HotError::NeedsRebuild(req.office.clone())),
            other => Err(unexpected(&format!("{other:?}"))),
        }
    }

    async fn forget_ticket(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        id: Uuid,
    ) -> Result<(), HotError> {
        self.drop_ticket(office, date, id, None).await
    }

    async fn give_back_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        number: u32,
    ) -> Result<bool, HotError> {
        let script = redis::Script::new(
            "local n = tonumber(ARGV[1]) \
             if n > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') == n then \
             redis.call('DECR', KEYS[1]) return 1 end return 0",
        );
        let given: i64 = script
            .key(self.day(office, date, format!("num:{line}")))
            .arg(number)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(given == 1)
    }

    async fn raise_number(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        above: u32,
    ) -> Result<(), HotError> {
        let script = redis::Script::new(
            "if redis.call('EXISTS', KEYS[1]) == 0 then return 'REBUILD' end \
             local n = tonumber(redis.call('GET', KEYS[2]) or '0') \
             if n < tonumber(ARGV[1]) then redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL') end return 'OK'",
        );
        let reply: String = script
            .key(self.day(office, date, "loaded"))
            .key(self.day(office, date, format!("num:{line}")))
            .arg(above)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        if reply == "REBUILD" {
            return Err(HotError::NeedsRebuild(office.clone()));
        }
        Ok(())
    }

    async fn call_next(&self, req: &CallRequest<'_>) -> Result<CallOutcome, HotError> {
        // Read, decide in the core, write if nothing read has changed; a counter calls a
        // few times a minute, so a conflict (another call, an issue into an empty class)
        // is rare and simply read again.
        let queues = self.all_queues(req.office, req.date, req.lines);
        for _ in 0..CALL_ATTEMPTS {
            let read = self.read_heads(req, &queues).await?;
            let decided = match decide_call(req, &read)? {
                Decided::Done(outcome) => return Ok(outcome),
                Decided::Call(call) => call,
            };
            let mut invocation = self.queue_scripts().call_swap.prepare_invoke();
            invocation
                .key(self.day(req.office, req.date, "loaded"))
                .key(self.day(req.office, req.date, "tickets"))
                .key(self.day(req.office, req.date, "counters"))
                .key(self.day(req.office, req.date, "streak"))
                .key(self.day(req.office, req.date, "recent"));
            for key in &queues {
                invocation.key(key);
            }
            invocation
                .arg(req.counter.as_str())
                .arg(read.state.as_deref().unwrap_or_default())
                .arg(read.streak.as_deref().unwrap_or_default())
                .arg(decided.streak)
                .arg(decided.queue + 1)
                .arg(decided.ticket.id.to_string())
                .arg(&decided.raw)
                .arg(encode_ticket(&decided.ticket)?)
                .arg(day_ttl(req.date, req.now))
                .arg(RECENT_CALLS.saturating_sub(1));
            for head in &read.heads {
                invocation.arg(head.as_ref().map_or("", |h| h.member.as_str()));
            }
            let reply: String = invocation
                .invoke_async(&mut self.connection().await?)
                .await
                .map_err(hot_error)?;
            if reply == "OK" {
                return Ok(CallOutcome::Called(decided.ticket));
            }
            metrics::counter!("madoguchi_queue_call_conflicts_total").increment(1);
        }
        Err(HotError::Unexpected(anyhow!(
            "call-next conflicted {CALL_ATTEMPTS} times in a row"
        )))
    }

    async fn act(&self, req: &ActRequest<'_>) -> Result<ActOutcome, HotError> {
        // Read, decide in the core (decide_act), write if nothing read has changed.
        for _ in 0..CALL_ATTEMPTS {
            let mut read = self.queue_scripts().ticket_read.prepare_invoke();
            read.key(self.day(req.office, req.date, "loaded"))
                .key(self.day(req.office, req.date, "tickets"))
                .key(self.day(req.office, req.date, "counters"))
                .key(self.day(req.office, req.date, "seq"))
                .key(self.office_key(req.office, "stats"))
                .arg(req.ticket.to_string());
            let reply: Vec<Value> = read
                .invoke_async(&mut self.connection().await?)
                .await
                .map_err(hot_error)?;
            let part = |i: usize| reply.get(i).and_then(text);
            match part(0).as_deref() {
                Some("OK") => {}
                Some("NOTFOUND") => return Ok(ActOutcome::NotFound),
                Some("REBUILD") => return Err(HotError::NeedsRebuild(req.office.clone())),
                other => return Err(unexpected(&format!("{other:?}"))),
            }
            let raw = part(1).ok_or_else(|| unexpected("no ticket"))?;
            let (state, seq, stats) = (part(2), part(3), part(4));
            let old = parse_ticket(&raw)?;
            let Some(change) = decide_act(&old, req.action, req.counter, req.all_lines, req.now)
            else {
                return Ok(ActOutcome::NotAllowed(old));
            };
            let mut ticket = change.ticket;
            let next_seq = seq
                .as_deref()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0)
                + 1;
            if change.goes_last {
                ticket.order_key = next_seq;
            }
            // The counter stops holding the ticket only if it still does.
            let freed = state.as_deref().and_then(|s| {
                let (paused, current) = s.split_once('|')?;
                (change.frees_counter && current == old.id.to_string())
                    .then(|| format!("{paused}|"))
            });
            let learnt = change.observed.map(|seen| {
                let mut learnt = stats.as_deref().and_then(parse_stats).unwrap_or_else(|| {
                    ServiceStats::nominal(seen.procedure.info().nominal_minutes)
                });
                learnt.observe(seen.minutes);
                (
                    seen.procedure.as_str(),
                    format!(
                        "{:?}|{:?}|{}",
                        learnt.mean_minutes, learnt.variance, learnt.samples
                    ),
                )
            });
            let mut write = self.queue_scripts().act_swap.prepare_invoke();
            write
                .key(self.day(req.office, req.date, "loaded"))
                .key(self.day(req.office, req.date, "tickets"))
                .key(self.day(req.office, req.date, "counters"))
                .key(self.day(req.office, req.date, "recent"))
                .key(self.day(req.office, req.date, "seq"))
                .key(self.office_key(req.office, "stats"))
                .key(self.queue_key(req.office, req.date, &old.line_id, old.class))
                .key(self.queue_key(req.office, req.date, &ticket.line_id, ticket.class))
                .arg(old.id.to_string())
                .arg(&raw)
                .arg(encode_ticket(&ticket)?)
                .arg(old.counter_id.as_ref().map_or("", |c| c.as_str()))
                .arg(state.as_deref().unwrap_or_default())
                .arg(freed.as_deref().unwrap_or_default())
                .arg(flag(change.goes_last))
                .arg(seq.as_deref().unwrap_or_default())
                .arg(next_seq)
                .arg(learnt.as_ref().map_or("", |(p, _)| *p))
                .arg(stats.as_deref().unwrap_or_default())
                .arg(learnt.as_ref().map_or("", |(_, s)| s.as_str()))
                .arg(flag(change.leaves))
                .arg(flag(change.joins))
                .arg(ticket.order_key)
                .arg(flag(change.recalled))
                .arg(RECENT_CALLS.saturating_sub(1))
                .arg(day_ttl(req.date, req.now));
            let reply: String = write
                .invoke_async(&mut self.connection().await?)
                .await
                .map_err(hot_error)?;
            if reply == "OK" {
                return Ok(ActOutcome::Done(ticket));
            }
            metrics::counter!("madoguchi_queue_act_conflicts_total").increment(1);
        }
        Err(HotError::Unexpected(anyhow!(
            "a ticket action conflicted {CALL_ATTEMPTS} times in a row"
        )))
    }

    async fn set_paused(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        counter: &CounterId,
        paused: bool,
    ) -> Result<(), HotError> {
        let script = redis::Script::new(
            "if redis.call('EXISTS', KEYS[1]) == 0 then return 'REBUILD' end \
             local state = redis.call('HGET', KEYS[2], ARGV[1]) or '0|' \
             local _, current = string.match(state, '^(%d)|(.*)$') \
             redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. current) return 'OK'",
        );
        let reply: String = script
            .key(self.day(office, date, "loaded"))
            .key(self.day(office, date, "counters"))
            .arg(counter.as_str())
            .arg(if paused { "1" } else { "0" })
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        match reply.as_str() {
            "OK" => Ok(()),
            "REBUILD" => Err(HotError::NeedsRebuild(office.clone())),
            other => Err(unexpected(other)),
        }
    }

    async fn queue_view(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        lines: &[LineId],
    ) -> Result<QueueView, HotError> {
        let mut invocation = self.queue_scripts().view.prepare_invoke();
        invocation
            .key(self.day(office, date, "loaded"))
            .key(self.day(office, date, "tickets"))
            .key(self.day(office, date, "counters"))
            .key(self.day(office, date, "recent"))
            .key(self.office_key(office, "stats"));
        for key in self.all_queues(office, date, lines) {
            invocation.key(key);
        }
        let reply: Vec<Value> = invocation
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        match reply.first().and_then(text).as_deref() {
            Some("OK") => {}
            Some("REBUILD") => return Err(HotError::NeedsRebuild(office.clone())),
            other => return Err(unexpected(&format!("{other:?}"))),
        }
        let part = |i: usize| reply.get(i).map(texts).unwrap_or_default();
        let per_queue: Vec<u32> = part(1).iter().map(|n| n.parse().unwrap_or(0)).collect();
        let waiting = lines
            .iter()
            .zip(per_queue.chunks(CLASSES.len()))
            .map(|(line, counts)| (line.clone(), counts.iter().sum()))
            .collect();
        let states = part(2);
        let currents = part(3);
        let mut counters = Vec::new();
        for (pair, current) in states.chunks(2).zip(currents.iter()) {
            let [id, state] = pair else { continue };
            let id = CounterId::parse(id).map_err(|_| unexpected("a bad counter id"))?;
            let current = if current.is_empty() {
                None
            } else {
                Some(parse_ticket(current)?)
            };
            counters.push(CounterView {
                id,
                paused: state.starts_with('1'),
                current: current
                    .filter(|t| matches!(t.status, TicketStatus::Called | TicketStatus::Serving)),
            });
        }
        counters.sort_by(|a, b| a.id.cmp(&b.id));
        let recent = part(4)
            .iter()
            .map(|j| parse_ticket(j))
            .collect::<Result<Vec<_>, _>>()?;
        let mut stats: Vec<(ProcedureId, ServiceStats)> = part(5)
            .chunks(2)
            .filter_map(|pair| match pair {
                [p, v] => Some((p.parse().ok()?, parse_stats(v)?)),
                _ => None,
            })
            .collect();
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
        let (loaded, json): (i64, Option<String>) = redis::pipe()
            .cmd("EXISTS")
            .arg(self.day(office, date, "loaded"))
            .cmd("HGET")
            .arg(self.day(office, date, "tickets"))
            .arg(id.to_string())
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        if loaded == 0 {
            return Err(HotError::NeedsRebuild(office.clone()));
        }
        json.as_deref().map(parse_ticket).transpose()
    }

    async fn line_summary(
        &self,
        office: &OfficeId,
        date: NaiveDate,
        line: &LineId,
        ticket: Option<(Uuid, TicketClass)>,
    ) -> Result<LineSummary, HotError> {
        let class_key = ticket.map(|(_, class)| match class {
            TicketClass::Reserved => "2",
            TicketClass::Priority => "3",
            TicketClass::Normal => "4",
        });
        let mut invocation = self.queue_scripts().line.prepare_invoke();
        invocation.key(self.day(office, date, "loaded"));
        for class in CLASSES {
            invocation.key(self.queue_key(office, date, line, class));
        }
        let reply: Vec<i64> = match invocation
            .arg(ticket.map(|(id, _)| id.to_string()).unwrap_or_default())
            .arg(class_key.unwrap_or(""))
            .invoke_async::<Vec<Value>>(&mut self.connection().await?)
            .await
            .map_err(hot_error)?
            .as_slice()
        {
            [status, counts @ ..] if text(status).as_deref() == Some("OK") => counts
                .iter()
                .map(|v| redis::from_redis_value(v.clone()).unwrap_or(0))
                .collect(),
            [status, ..] if text(status).as_deref() == Some("REBUILD") => {
                return Err(HotError::NeedsRebuild(office.clone()));
            }
            other => return Err(unexpected(&format!("{other:?}"))),
        };
        let number = |i: usize| reply.get(i).copied().unwrap_or(0);
        let count = |i: usize| u32::try_from(number(i)).unwrap_or(0);
        Ok(LineSummary {
            reserved: count(0),
            priority: count(1),
            normal: count(2),
            rank: (number(3) >= 0 && ticket.is_some()).then_some(count(3)),
        })
    }

    async fn due_tickets(
        &self,
        office: &OfficeId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingTicket>, HotError> {
        let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.office_key(office, "qpending"))
            .arg("-inf")
            .arg(ms(now))
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(members
            .iter()
            .filter_map(|m| {
                let (date, id) = m.split_once('|')?;
                Some(PendingTicket {
                    date: NaiveDate::parse_from_str(date, "%Y%m%d").ok()?,
                    ticket_id: id.parse().ok()?,
                })
            })
            .collect())
    }

    async fn forget_tickets(
        &self,
        office: &OfficeId,
        pending: &[PendingTicket],
    ) -> Result<(), HotError> {
        let members: Vec<_> = pending.iter().map(pending_member).collect();
        self.remove_members(&self.office_key(office, "qpending"), &members)
            .await
    }

    async fn drop_unwritten_ticket(
        &self,
        office: &OfficeId,
        pending: &PendingTicket,
    ) -> Result<(), HotError> {
        self.drop_ticket(office, pending.date, pending.ticket_id, Some(pending))
            .await
    }

    async fn load_queue(&self, s: &QueueSnapshot) -> Result<Vec<Uuid>, HotError> {
        let (office, date) = (&s.office, s.date);
        let ttl = day_ttl(date, s.now);
        let lines: Vec<&str> = s.lines.iter().map(|l| l.as_str()).collect();
        let counters: String = s
            .counters
            .iter()
            .map(|c| format!("{c}={}\n", u8::from(s.paused.contains(c))))
            .collect();
        let queues = self.all_queues(office, date, &s.lines);
        // Chunks keep every script short (the rush goes on meanwhile); a day without
        // tickets still runs one, which gives the counters their entries.
        let chunks: Vec<&[Ticket]> = if s.tickets.is_empty() {
            vec![&[]]
        } else {
            s.tickets.chunks(self.load_batch()).collect()
        };
        for chunk in chunks {
            let mut copies = String::new();
            for t in chunk {
                let json = serde_json::to_string(&HotTicket::of(t))
                    .map_err(|e| HotError::Unexpected(anyhow!(e)))?;
                copies.push_str(&format!("{}\t{json}\n", t.id));
            }
            let mut invocation = self.queue_scripts().merge.prepare_invoke();
            invocation
                .key(self.day(office, date, "tickets"))
                .key(self.day(office, date, "counters"));
            for key in &queues {
                invocation.key(key);
            }
            let _: i64 = invocation
                .arg(ttl)
                .arg(lines.join(","))
                .arg(&counters)
                .arg(copies)
                .invoke_async(&mut self.connection().await?)
                .await
                .map_err(hot_error)?;
        }
        let mut called: Vec<&Ticket> = s.tickets.iter().filter(|t| t.called_at.is_some()).collect();
        called.sort_by_key(|t| std::cmp::Reverse((t.called_at, t.id)));
        let recent: String = called
            .iter()
            .take(crate::store::queue::RECENT_CALLS)
            .map(|t| format!("{}\n", t.id))
            .collect();
        let stats: String = s
            .stats
            .iter()
            .map(|(p, st)| {
                format!(
                    "{}={:?}|{:?}|{}\n",
                    p.as_str(),
                    st.mean_minutes,
                    st.variance,
                    st.samples
                )
            })
            .collect();
        let mut settle = self.queue_scripts().settle.prepare_invoke();
        settle
            .key(self.day(office, date, "loaded"))
            .key(self.day(office, date, "tickets"))
            .key(self.day(office, date, "counters"))
            .key(self.day(office, date, "recent"))
            .key(self.day(office, date, "seq"))
            .key(self.office_key(office, "stats"));
        for line in &s.lines {
            settle.key(self.day(office, date, format_args!("num:{line}")));
        }
        settle
            .arg(ttl)
            .arg(s.highest_sequence())
            .arg(recent)
            .arg(stats);
        for prefix in &s.prefixes {
            settle.arg(s.highest_number(prefix));
        }
        let _: i64 = settle
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        // Live tickets the snapshot lacks and no pending issue explains.
        let ids: Vec<String> = redis::cmd("HKEYS")
            .arg(self.day(office, date, "tickets"))
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        let known: std::collections::HashSet<Uuid> = s.tickets.iter().map(|t| t.id).collect();
        let unknown: Vec<Uuid> = ids
            .iter()
            .filter_map(|id| id.parse::<Uuid>().ok())
            .filter(|id| !known.contains(id))
            .collect();
        if unknown.is_empty() {
            return Ok(unknown);
        }
        let mut pipe = redis::pipe();
        for id in &unknown {
            pipe.cmd("ZSCORE")
                .arg(self.office_key(office, "qpending"))
                .arg(pending_member(&PendingTicket {
                    date,
                    ticket_id: *id,
                }));
        }
        let scores: Vec<Option<f64>> = pipe
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(unknown
            .into_iter()
            .zip(scores)
            .filter_map(|(id, pending)| pending.is_none().then_some(id))
            .collect())
    }

    async fn queue_loaded(&self, office: &OfficeId, date: NaiveDate) -> Result<bool, HotError> {
        redis::cmd("EXISTS")
            .arg(self.day(office, date, "loaded"))
            .query_async::<i64>(&mut self.connection().await?)
            .await
            .map(|n| n == 1)
            .map_err(hot_error)
    }

    async fn publish(&self, office: &OfficeId) -> Result<(), HotError> {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(self.events_channel())
            .arg(office.as_str())
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<OfficeId> {
        self.events()
    }
}
