//! The Redis hot state. Every key of an office shares the cluster hash tag `{o:<office>}`,
//! so each Lua script touches one hash slot and the layout works on Redis Cluster.
//!
//! Keys (prefix `mdg` by default; see docs/ARCHITECTURE.md):
//! * `{p}:{o:X}:epoch` — present once the office's state was loaded from the ledger;
//!   missing means Redis lost it (restart) and scripts answer `REBUILD`.
//! * `{p}:{o:X}:seats:<procedure>:<YYYYMMDD>` — hash, `HHMM:<seat>` → holder id.
//! * `{p}:{o:X}:pending` — sorted set of claims not yet seen in the ledger, by deadline.
//! * `{p}:{o:X}:marks` — hash of the office's marks: `<procedure>:<identity hash>` →
//!   `holder|until` (a resident's active booking) and `idem:<key hash>` →
//!   `holder|fingerprint|until` (an Idempotency-Key, 24 h). A mark past its "until" counts
//!   as absent; rebuilds leave such marks out.
//!
//! One shared multiplexed connection (redis' `ConnectionManager`, which reconnects by
//! itself) carries the hot path: a pool checkout costs a round trip per request.

pub(crate) mod full;
pub mod queue;
pub mod room;

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::slots::{DateKey, SlotRef, parse_time_key};
use crate::store::redis::full::FullSlots;
use crate::store::{
    ActiveSeat, ClaimOutcome, Digest, HotError, HotState, IDEMPOTENCY_TTL_SECS, OfficeSnapshot,
    PendingClaim, ResidentMark, SeatClaim, SeatRelease, TakenSeats, pending_member,
};
use anyhow::{Context, anyhow};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use data_encoding::HEXLOWER;
use redis::aio::ConnectionManager;
use redis::{Script, Value};
use std::collections::HashMap;
use std::time::Duration as StdDuration;
use uuid::Uuid;

/// Entries (seat holders, resident marks, idempotency keys) a rebuild writes per round
/// trip. Measured on a 188,000-reservation office: 1,000 resident marks in one `HSET`
/// took up to 2.8 ms of Redis's one thread; 250 keep every command well under a
/// millisecond, so a rebuild never stalls the hot path.
const LOAD_BATCH: usize = 250;

struct Scripts {
    claim: Script,
    release: Script,
    correct_holder: Script,
    mark_resident: Script,
    load_office: Script,
}

pub(crate) struct QueueScripts {
    pub(crate) issue: Script,
    pub(crate) heads: Script,
    pub(crate) call_swap: Script,
    pub(crate) ticket_read: Script,
    pub(crate) act_swap: Script,
    pub(crate) view: Script,
    pub(crate) drop: Script,
    pub(crate) merge: Script,
    pub(crate) settle: Script,
    pub(crate) line: Script,
}

/// How the hot path reaches Redis (measured: docs/PERFORMANCE.md, docs/perf/journal/2026-11-22-to-12-01.md).
#[derive(Clone)]
enum Connections {
    /// One multiplexed connection (reconnecting by itself) per thread that uses the hot
    /// state: each actix worker and the main thread. A connection's driver runs on the
    /// runtime of the thread that first used it, so a command and its reply never wake
    /// another thread (docs/perf/journal/2026-11-22-to-12-01.md: that wake-up cost more than the command).
    PerThread(Box<PerThread>),
    /// A deadpool pool: a checkout per operation (and a PING per checkout).
    Pooled(deadpool_redis::Pool),
}

/// What each thread's connection is made from, and the connections made so far.
#[derive(Clone)]
struct PerThread {
    client: redis::Client,
    config: redis::aio::ConnectionManagerConfig,
    /// Dropped with the hot state (tests run many in one process).
    by_thread: std::sync::Arc<std::sync::Mutex<HashMap<std::thread::ThreadId, ConnectionManager>>>,
}

/// A connection for one operation, whichever the mode.
pub(crate) enum HotConnection {
    Shared(ConnectionManager),
    Pooled(deadpool_redis::Connection),
}

impl redis::aio::ConnectionLike for HotConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            HotConnection::Shared(c) => c.req_packed_command(cmd),
            HotConnection::Pooled(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            HotConnection::Shared(c) => c.req_packed_commands(cmd, offset, count),
            HotConnection::Pooled(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            HotConnection::Shared(c) => c.get_db(),
            HotConnection::Pooled(c) => c.get_db(),
        }
    }
}

#[derive(Clone)]
pub struct RedisHotState {
    conn: Connections,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
    queue: std::sync::Arc<QueueScripts>,
    events: std::sync::Arc<tokio::sync::broadcast::Sender<OfficeId>>,
    /// Slots seen full, so that their refusals skip the claim script (`redis::full`).
    full: std::sync::Arc<FullSlots>,
    /// Entries a rebuild writes per round trip (`load_office`).
    load_batch: usize,
}

pub(crate) fn hot_error(e: redis::RedisError) -> HotError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        HotError::Unavailable(e.to_string())
    } else {
        HotError::Unexpected(anyhow!(e))
    }
}

fn hex(d: &Digest) -> String {
    HEXLOWER.encode(d)
}

fn unhex(s: &str) -> Option<Digest> {
    HEXLOWER.decode(s.as_bytes()).ok()?.try_into().ok()
}

/// Seat maps of a day expire two days after it, so old days clean themselves up. The TTL
/// is counted from the service's clock (not an absolute EXPIREAT), so a driven clock
/// ahead of or behind the wall clock never makes Redis drop live seats.
fn seat_map_ttl(date: NaiveDate, now: DateTime<Utc>) -> i64 {
    let end = (date + Duration::days(2))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    (end - now).num_seconds().max(3600)
}

fn resident_field(procedure: ProcedureId, identity: &Digest) -> String {
    resident_field_of_hex(procedure, &hex(identity))
}

/// [`resident_field`] of an identity hash already in hex (the claim needs both).
fn resident_field_of_hex(procedure: ProcedureId, identity_hex: &str) -> String {
    format!("{}:{identity_hex}", procedure.as_str())
}

/// An office's seat map of a day, after the office's part of the key (live or staged).
struct SeatsKey(ProcedureId, NaiveDate);

impl std::fmt::Display for SeatsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seats:{}:{}", self.0.as_str(), DateKey(self.1))
    }
}

/// The office's marks (residents' bookings, idempotency keys), after the office's part of
/// the key (live or staged).
const MARKS_KEY: &str = "marks";

/// The field of an Idempotency-Key's mark in the office's marks, from the key's hash in hex.
fn idem_field_of_hex(key_hash_hex: &str) -> String {
    format!("idem:{key_hash_hex}")
}

fn seat_field(slot: &SlotRef, seat: u16) -> String {
    format!("{}:{seat}", slot.time_key())
}

/// A reply element as text (bulk, simple or integer).
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

impl RedisHotState {
    /// Removes members from a sorted set in one command (the reaper's settled entries).
    pub(crate) async fn remove_members(
        &self,
        key: &str,
        members: &[String],
    ) -> Result<(), HotError> {
        if members.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("ZREM")
            .arg(key)
            .arg(members)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    pub fn connect(url: &str, prefix: &str, timeout: StdDuration) -> anyhow::Result<Self> {
        Self::connect_with(url, prefix, timeout, None)
    }

    /// With `pool_size`, operations check a connection out of a deadpool pool instead of
    /// sharing one multiplexed connection.
    pub fn connect_with(
        url: &str,
        prefix: &str,
        timeout: StdDuration,
        pool_size: Option<usize>,
    ) -> anyhow::Result<Self> {
        if prefix.contains(['{', '}']) {
            anyhow::bail!(
                "the Redis key prefix must not contain braces (they mark cluster hash tags)"
            );
        }
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(timeout))
            .set_connection_timeout(Some(timeout))
            .set_number_of_retries(2);
        let conn = match pool_size {
            None => {
                // Checks the settings once, as the connections of every thread will use them.
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                    .context("creating the Redis connection manager")?;
                Connections::PerThread(Box::new(PerThread {
                    client: client.clone(),
                    config,
                    by_thread: Default::default(),
                }))
            }
            Some(size) => {
                let mut cfg = deadpool_redis::Config::from_url(url);
                cfg.pool = Some(deadpool_redis::PoolConfig::new(size.max(1)));
                Connections::Pooled(
                    cfg.create_pool(Some(deadpool_redis::Runtime::Tokio1))
                        .context("creating the Redis connection pool")?,
                )
            }
        };
        let events = std::sync::Arc::new(tokio::sync::broadcast::channel(1024).0);
        let full = std::sync::Arc::new(FullSlots::default());
        tokio::spawn(forward_events(
            client,
            Channels {
                events: format!("{prefix}:events"),
                freed: freed_channel(prefix),
            },
            std::sync::Arc::downgrade(&events),
            std::sync::Arc::downgrade(&full),
        ));
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            events,
            full,
            load_batch: LOAD_BATCH,
            queue: std::sync::Arc::new(QueueScripts {
                issue: Script::new(include_str!("lua/queue_issue.lua")),
                heads: Script::new(include_str!("lua/queue_heads.lua")),
                call_swap: Script::new(include_str!("lua/queue_call_swap.lua")),
                ticket_read: Script::new(include_str!("lua/queue_ticket.lua")),
                act_swap: Script::new(include_str!("lua/queue_act_swap.lua")),
                view: Script::new(include_str!("lua/queue_view.lua")),
                drop: Script::new(include_str!("lua/queue_drop.lua")),
                merge: Script::new(include_str!("lua/queue_merge.lua")),
                settle: Script::new(include_str!("lua/queue_settle.lua")),
                line: Script::new(include_str!("lua/queue_line.lua")),
            }),
            scripts: std::sync::Arc::new(Scripts {
                claim: Script::new(include_str!("lua/claim.lua")),
                release: Script::new(include_str!("lua/release.lua")),
                correct_holder: Script::new(include_str!("lua/correct_holder.lua")),
                mark_resident: Script::new(include_str!("lua/mark_resident.lua")),
                load_office: Script::new(include_str!("lua/load_office.lua")),
            }),
        })
    }

    fn key(&self, office: &OfficeId, rest: impl std::fmt::Display) -> String {
        format!("{}:{{o:{}}}:{rest}", self.prefix, office)
    }

    pub(crate) fn office_key(&self, office: &OfficeId, rest: impl std::fmt::Display) -> String {
        self.key(office, rest)
    }

    pub(crate) async fn connection(&self) -> Result<HotConnection, HotError> {
        match &self.conn {
            Connections::PerThread(made) => {
                let PerThread {
                    client,
                    config,
                    by_thread,
                } = &**made;
                let mut by_thread = by_thread.lock().unwrap_or_else(|e| e.into_inner());
                let c = match by_thread.entry(std::thread::current().id()) {
                    std::collections::hash_map::Entry::Occupied(c) => c.get().clone(),
                    std::collections::hash_map::Entry::Vacant(v) => v
                        .insert(
                            ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
                                .map_err(hot_error)?,
                        )
                        .clone(),
                };
                Ok(HotConnection::Shared(c))
            }
            Connections::Pooled(pool) => pool
                .get()
                .await
                .map(HotConnection::Pooled)
                .map_err(|e| HotError::Unavailable(format!("Redis pool: {e}"))),
        }
    }

    /// Rebuilds write `entries` per round trip instead of the default (tests use a few,
    /// so that a small snapshot crosses several round trips).
    /// Entries per pipeline or script of a rebuild.
    pub(crate) fn load_batch(&self) -> usize {
        self.load_batch
    }

    pub fn with_load_batch(mut self, entries: usize) -> Self {
        self.load_batch = entries.max(1);
        self
    }

    pub(crate) fn queue_scripts(&self) -> &QueueScripts {
        &self.queue
    }

    /// A waiting room's key: one hash tag per room (a cluster keeps it on one shard).
    pub(crate) fn room_key(&self, room: &str, rest: &str) -> String {
        format!("{}:{{r:{room}}}:{rest}", self.prefix)
    }

    pub(crate) fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    pub(crate) fn events(&self) -> tokio::sync::broadcast::Receiver<OfficeId> {
        self.events.subscribe()
    }

    /// Counts the times this instance forgot the slots it had seen full (a seat given
    /// back here or on another instance, a rebuild): lets a test wait for another
    /// instance's release to arrive instead of sleeping.
    pub fn full_slots_forgotten(&self) -> tokio::sync::watch::Receiver<u64> {
        self.full.watch()
    }

    /// Whether the claim script would refuse a slot remembered full: the office's hot
    /// state is loaded, and the request is no replay of a key and its resident holds no
    /// mark (those answers are the script's to give). One round trip, no script.
    async fn plain_refusal(
        &self,
        epoch: &str,
        marks: &str,
        mark_fields: [Option<&str>; 2],
    ) -> Result<bool, HotError> {
        let mut pipe = redis::pipe();
        pipe.exists(epoch);
        // Any mark, even one past its "until", sends the request to the script.
        for field in mark_fields.into_iter().flatten() {
            pipe.hexists(marks, field);
        }
        let found: Vec<bool> = pipe
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(found.first() == Some(&true) && !found.iter().skip(1).any(|f| *f))
    }

    fn epoch_key(&self, office: &OfficeId) -> String {
        self.key(office, "epoch")
    }

    fn seats_key(&self, office: &OfficeId, procedure: ProcedureId, date: NaiveDate) -> String {
        self.key(office, SeatsKey(procedure, date))
    }

    fn pending_key(&self, office: &OfficeId) -> String {
        self.key(office, "pending")
    }

    fn marks_key(&self, office: &OfficeId) -> String {
        self.key(office, MARKS_KEY)
    }

    fn parse_member(office: &OfficeId, member: &str) -> Option<PendingClaim> {
        let parts: Vec<&str> = member.split('|').collect();
        let [claim, procedure, date, time, seat, resident, idem] = parts.as_slice() else {
            return None;
        };
        let optional = |s: &str| {
            if s == "-" {
                Some(None)
            } else {
                unhex(s).map(Some)
            }
        };
        Some(PendingClaim {
            claim_id: claim.parse().ok()?,
            slot: SlotRef {
                office: office.clone(),
                procedure: procedure.parse().ok()?,
                date: NaiveDate::parse_from_str(date, "%Y%m%d").ok()?,
                start: parse_time_key(time)?,
            },
            seat: seat.parse().ok()?,
            resident: optional(resident)?,
            idempotency: optional(idem)?,
        })
    }

    async fn run_release(
        &self,
        release: &SeatRelease,
        member: Option<&str>,
        only_if_pending: bool,
    ) -> Result<bool, HotError> {
        let office = &release.slot.office;
        let released: i64 = self
            .scripts
            .release
            .key(self.seats_key(office, release.slot.procedure, release.slot.date))
            .key(self.pending_key(office))
            .key(self.marks_key(office))
            .arg(release.holder.to_string())
            .arg(
                release
                    .seat
                    .map(|seat| seat_field(&release.slot, seat))
                    .unwrap_or_default(),
            )
            .arg(member.unwrap_or(""))
            .arg(
                release
                    .idempotency
                    .map(|k| idem_field_of_hex(&hex(&k)))
                    .unwrap_or_default(),
            )
            .arg(
                release
                    .resident
                    .as_ref()
                    .map(|r| resident_field(release.slot.procedure, r))
                    .unwrap_or_default(),
            )
            .arg(if only_if_pending { "1" } else { "0" })
            .arg(freed_channel(&self.prefix))
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        if released == 1 {
            // Other instances hear it from the script; this one must not answer a
            // resident "full" from memory after telling another the seat is free.
            self.full.forget_all();
        }
        Ok(released == 1)
    }
}

/// Where instances tell each other what changed.
struct Channels {
    /// Office ids whose queues changed.
    events: String,
    /// A seat was given back (`release.lua`) or an office rebuilt: forget full slots.
    freed: String,
}

/// How long a rebuild's staging keys live: one that dies half-way leaves nothing behind.
const STAGING_TTL_SECS: i64 = 600;

/// A rebuild's writes, sent as a pipeline every `batch` entries. Consecutive fields of
/// one hash go into one `HSET`, and each staged hash gets the staging TTL in the same
/// pipeline. Redis runs each command on its own, so other clients' commands interleave.
struct StagedWriter {
    conn: HotConnection,
    pipe: redis::Pipeline,
    batch: usize,
    entries: usize,
    open_hash: Option<String>,
}

impl StagedWriter {
    fn new(conn: HotConnection, batch: usize) -> Self {
        Self {
            conn,
            pipe: redis::pipe(),
            batch: batch.max(1),
            entries: 0,
            open_hash: None,
        }
    }

    async fn hset(&mut self, key: &str, field: String, value: String) -> Result<(), HotError> {
        if self.open_hash.as_deref() != Some(key) {
            self.close_hash();
            self.pipe.cmd("HSET").arg(key);
            self.open_hash = Some(key.to_owned());
        }
        self.pipe.arg(field).arg(value);
        self.counted().await
    }

    fn close_hash(&mut self) {
        if let Some(key) = self.open_hash.take() {
            self.pipe.cmd("EXPIRE").arg(key).arg(STAGING_TTL_SECS);
        }
    }

    async fn counted(&mut self) -> Result<(), HotError> {
        self.entries += 1;
        if self.entries >= self.batch {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), HotError> {
        self.close_hash();
        if self.entries > 0 {
            self.pipe
                .exec_async(&mut self.conn)
                .await
                .map_err(hot_error)?;
            self.pipe.clear();
            self.entries = 0;
        }
        Ok(())
    }

    /// Sends what is left and gives the connection back for the swap.
    async fn finish(mut self) -> Result<HotConnection, HotError> {
        self.flush().await?;
        Ok(self.conn)
    }
}

fn freed_channel(prefix: &str) -> String {
    format!("{prefix}:freed")
}

/// Forwards the office ids published on the events channel (by any instance) to this
/// instance's subscribers and the freed seats to its full slots, reconnecting after
/// errors, until the hot state is dropped.
async fn forward_events(
    client: redis::Client,
    channels: Channels,
    events: std::sync::Weak<tokio::sync::broadcast::Sender<OfficeId>>,
    full: std::sync::Weak<FullSlots>,
) {
    use futures_util::StreamExt;
    loop {
        if events.strong_count() == 0 {
            return;
        }
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                let subscribed = match pubsub.subscribe(&channels.events).await {
                    Ok(()) => pubsub.subscribe(&channels.freed).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = subscribed {
                    tracing::warn!(error = %e, "cannot subscribe to hot-state events; retrying");
                } else {
                    if let Some(full) = full.upgrade() {
                        full.set_live(true);
                    }
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Some(sender) = events.upgrade() else {
                            return;
                        };
                        if message.get_channel_name() == channels.freed {
                            if let Some(full) = full.upgrade() {
                                full.forget_all();
                            }
                        } else if let Ok(office) = message
                            .get_payload::<String>()
                            .map_err(|_| ())
                            .and_then(|p| OfficeId::parse(&p).map_err(|_| ()))
                        {
                            // Nobody listening is fine.
                            let _ = sender.send(office);
                        }
                    }
                    if let Some(full) = full.upgrade() {
                        full.set_live(false);
                    }
                    tracing::warn!("hot-state event subscription ended; reconnecting");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect for hot-state events; retrying"),
        }
        // A pause between reconnection attempts, so a Redis outage is not a busy loop.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

#[async_trait]
impl HotState for RedisHotState {
    async fn ping(&self) -> Result<(), HotError> {
        redis::cmd("PING")
            .query_async::<String>(&mut self.connection().await?)
            .await
            .map(|_| ())
            .map_err(hot_error)
    }

    async fn claim(&self, c: &SeatClaim) -> Result<ClaimOutcome, HotError> {
        let office = &c.slot.office;
        let resident_hex = c.resident.map(|r| hex(&r.identity_hash));
        let idem_hex = c.idempotency.map(|i| hex(&i.key_hash));
        let epoch = self.epoch_key(office);
        let seats = self.seats_key(office, c.slot.procedure, c.slot.date);
        let marks = self.marks_key(office);
        let idem_field = idem_hex.as_deref().map(idem_field_of_hex);
        let resident_field = resident_hex
            .as_deref()
            .map(|h| resident_field_of_hex(c.slot.procedure, h));
        let time = c.slot.time_key();
        let slot = format!("{seats}|{time}");
        let seen = self.full.lookup(&slot, c.capacity);
        if seen.full
            && self
                .plain_refusal(
                    &epoch,
                    &marks,
                    [idem_field.as_deref(), resident_field.as_deref()],
                )
                .await?
        {
            metrics::counter!("madoguchi_full_slot_refusals_from_memory_total").increment(1);
            return Ok(ClaimOutcome::Full);
        }
        let head = format!(
            "{}|{}|{}|{}|",
            c.claim_id,
            c.slot.procedure.as_str(),
            DateKey(c.slot.date),
            time
        );
        let tail = format!(
            "|{}|{}",
            resident_hex.as_deref().unwrap_or("-"),
            idem_hex.as_deref().unwrap_or("-")
        );
        let reply: Vec<Value> = self
            .scripts
            .claim
            .key(&epoch)
            .key(&seats)
            .key(self.pending_key(office))
            .key(&marks)
            .arg(c.claim_id.to_string())
            .arg(&time)
            .arg(c.capacity)
            .arg(head)
            .arg(tail)
            .arg(c.deadline.timestamp_millis())
            .arg(
                c.idempotency
                    .map(|i| hex(&i.fingerprint))
                    .unwrap_or_default(),
            )
            .arg(idem_field.unwrap_or_default())
            .arg(resident_field.unwrap_or_default())
            .arg(c.resident.map(|r| r.until.timestamp()).unwrap_or(0))
            .arg(c.now.timestamp())
            .arg(seat_map_ttl(c.slot.date, c.now))
            .arg(c.first_seat())
            .arg(c.now.timestamp() + IDEMPOTENCY_TTL_SECS)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        let status = reply.first().and_then(text).unwrap_or_default();
        match status.as_str() {
            "OK" => {
                let seat = reply
                    .get(1)
                    .and_then(text)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| anyhow!("claim script returned no seat"))?;
                Ok(ClaimOutcome::Claimed { seat })
            }
            "FULL" => {
                self.full.remember(slot, c.capacity, seen.generation);
                Ok(ClaimOutcome::Full)
            }
            "RESIDENT" => Ok(ClaimOutcome::ResidentHasBooking),
            "REPLAY" => {
                let claim_id = reply
                    .get(1)
                    .and_then(text)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| anyhow!("claim script returned a bad replay id"))?;
                let fingerprint = reply
                    .get(2)
                    .and_then(text)
                    .and_then(|s| unhex(&s))
                    .ok_or_else(|| anyhow!("claim script returned a bad fingerprint"))?;
                Ok(ClaimOutcome::Replay {
                    claim_id,
                    fingerprint,
                })
            }
            "REBUILD" => Err(HotError::NeedsRebuild(office.clone())),
            other => Err(HotError::Unexpected(anyhow!(
                "claim script answered {other:?}"
            ))),
        }
    }

    async fn release(&self, release: &SeatRelease) -> Result<bool, HotError> {
        self.run_release(release, None, false).await
    }

    async fn correct_holder(
        &self,
        slot: &SlotRef,
        seat: u16,
        claimed: Uuid,
        actual: Uuid,
    ) -> Result<(), HotError> {
        let _: i64 = self
            .scripts
            .correct_holder
            .key(self.seats_key(&slot.office, slot.procedure, slot.date))
            .arg(seat_field(slot, seat))
            .arg(claimed.to_string())
            .arg(actual.to_string())
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn mark_resident(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        holder: Uuid,
        mark: &ResidentMark,
        now: DateTime<Utc>,
    ) -> Result<bool, HotError> {
        let reply: String = self
            .scripts
            .mark_resident
            .key(self.epoch_key(office))
            .key(self.marks_key(office))
            .arg(resident_field(procedure, &mark.identity_hash))
            .arg(holder.to_string())
            .arg(mark.until.timestamp())
            .arg(now.timestamp())
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        match reply.as_str() {
            "OK" => Ok(true),
            "RESIDENT" => Ok(false),
            "REBUILD" => Err(HotError::NeedsRebuild(office.clone())),
            other => Err(HotError::Unexpected(anyhow!(
                "mark script answered {other:?}"
            ))),
        }
    }

    async fn taken(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        days: &[NaiveDate],
    ) -> Result<TakenSeats, HotError> {
        let mut pipe = redis::pipe();
        pipe.cmd("EXISTS").arg(self.epoch_key(office));
        for day in days {
            pipe.cmd("HKEYS")
                .arg(self.seats_key(office, procedure, *day));
        }
        let replies: Vec<Value> = pipe
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        let loaded: i64 = replies
            .first()
            .map(redis::from_redis_value_ref)
            .transpose()
            .map_err(|e| anyhow!("EXISTS reply: {e}"))?
            .unwrap_or(0);
        if loaded == 0 {
            return Err(HotError::NeedsRebuild(office.clone()));
        }
        let mut taken = TakenSeats::new();
        for (day, reply) in days.iter().zip(replies.iter().skip(1)) {
            let fields: Vec<String> =
                redis::from_redis_value_ref(reply).map_err(|e| anyhow!("HKEYS reply: {e}"))?;
            for field in fields {
                let Some((time, seat)) = field.split_once(':') else {
                    continue;
                };
                let (Some(time), Ok(seat)) = (parse_time_key(time), seat.parse::<u16>()) else {
                    continue;
                };
                taken.entry((*day, time)).or_default().push(seat);
            }
        }
        Ok(taken)
    }

    async fn due_claims(
        &self,
        office: &OfficeId,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingClaim>, HotError> {
        let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.pending_key(office))
            .arg("-inf")
            .arg(now.timestamp_millis())
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        let mut claims = Vec::with_capacity(members.len());
        for member in members {
            match Self::parse_member(office, &member) {
                Some(claim) => claims.push(claim),
                None => {
                    // Unreadable entries would block the reaper forever: drop them loudly.
                    tracing::error!(office = %office, "dropping an unreadable pending claim");
                    let _: i64 = redis::cmd("ZREM")
                        .arg(self.pending_key(office))
                        .arg(&member)
                        .query_async(&mut self.connection().await?)
                        .await
                        .map_err(hot_error)?;
                }
            }
        }
        Ok(claims)
    }

    async fn forget_claims(
        &self,
        office: &OfficeId,
        claims: &[PendingClaim],
    ) -> Result<(), HotError> {
        let members: Vec<_> = claims.iter().map(pending_member).collect();
        self.remove_members(&self.pending_key(office), &members)
            .await
    }

    async fn release_claim(&self, claim: &PendingClaim) -> Result<(), HotError> {
        self.run_release(&claim.release(), Some(&pending_member(claim)), true)
            .await
            .map(|_| ())
    }

    /// Writes the snapshot to staging keys in pipelines of at most `load_batch` entries,
    /// then swaps them in with one short script (`load_office.lua`). One script writing
    /// everything held Redis for 2.4 s on an office with 188,000 active reservations,
    /// past the response timeout, so such an office could not be loaded at all
    /// (docs/perf/journal/2026-11-22-to-12-01.md, "Rebuilding a large office").
    async fn load_office(&self, s: &OfficeSnapshot) -> Result<(), HotError> {
        let office = &s.office;
        let nonce = Uuid::new_v4().simple();
        let staging =
            |rest: std::fmt::Arguments| self.key(office, format_args!("load:{nonce}:{rest}"));
        let mut by_map: HashMap<(ProcedureId, NaiveDate), Vec<&ActiveSeat>> = HashMap::new();
        for a in &s.seats {
            by_map
                .entry((a.slot.procedure, a.slot.date))
                .or_default()
                .push(a);
        }
        let mut out = StagedWriter::new(self.connection().await?, self.load_batch);
        // (live key, staging key, TTL, fields staged)
        let mut maps: Vec<(String, String, i64, usize)> = Vec::new();
        for procedure in &s.procedures {
            for day in &s.days {
                let staged = staging(format_args!("{}", SeatsKey(*procedure, *day)));
                let seats = by_map
                    .get(&(*procedure, *day))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for a in seats {
                    out.hset(&staged, seat_field(&a.slot, a.seat), a.id.to_string())
                        .await?;
                }
                maps.push((
                    self.seats_key(office, *procedure, *day),
                    staged,
                    seat_map_ttl(*day, s.taken_at),
                    seats
                        .iter()
                        .map(|a| (a.slot.start, a.seat))
                        .collect::<std::collections::HashSet<_>>()
                        .len(),
                ));
            }
        }
        let marks = staging(format_args!("{MARKS_KEY}"));
        let mut residents_staged = std::collections::HashSet::new();
        for a in &s.seats {
            if a.status != crate::store::ReservationStatus::Confirmed {
                continue;
            }
            if let Some(hash) = &a.resident_hash {
                out.hset(
                    &marks,
                    resident_field(a.slot.procedure, hash),
                    format!("{}|{}", a.id, a.slot_end.timestamp()),
                )
                .await?;
                residents_staged.insert((a.slot.procedure, *hash));
            }
        }
        let mut keys_staged = std::collections::HashSet::new();
        for record in &s.idempotency {
            let until = record.created_at.timestamp() + IDEMPOTENCY_TTL_SECS;
            if until > s.taken_at.timestamp() {
                let key_hex = hex(&record.key_hash);
                out.hset(
                    &marks,
                    idem_field_of_hex(&key_hex),
                    format!("{}|{}|{until}", record.id, hex(&record.fingerprint)),
                )
                .await?;
                keys_staged.insert(key_hex);
            }
        }
        let mut conn = out.finish().await?;
        let step = |mode: &str, from: &str, skip: usize, at_most: usize| {
            let mut invocation = self.scripts.load_office.prepare_invoke();
            invocation
                .key(self.epoch_key(office))
                .key(self.marks_key(office))
                .key(&marks)
                .key(self.pending_key(office))
                .arg(mode)
                .arg(from)
                .arg(skip)
                .arg(at_most)
                .arg(s.taken_at.to_rfc3339())
                .arg(residents_staged.len() + keys_staged.len())
                .arg(STAGING_TTL_SECS);
            for (live, staged, ttl, fields) in &maps {
                invocation.key(live).key(staged).arg(*ttl).arg(*fields);
            }
            invocation
        };
        // Claims made since the snapshot was read are carried over in short rounds, so
        // that the swap has only the last few to carry (at a rush, thousands a second).
        // Each round starts at the previous round's last deadline, past the claims of
        // that deadline already seen; the swap looks again from that deadline.
        let mut from = s.keep_claims_due_from.timestamp_millis().to_string();
        let mut skip = 0;
        loop {
            let (looked, last, at_last): (usize, String, usize) =
                step("carry", &from, skip, self.load_batch)
                    .invoke_async(&mut conn)
                    .await
                    .map_err(hot_error)?;
            skip = if last == from {
                skip + at_last
            } else {
                at_last
            };
            from = last;
            if looked < self.load_batch {
                break;
            }
        }
        let _: i64 = step("swap", &from, 0, 0)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| {
                // Staging outlived its TTL (a rebuild stalled for minutes): nothing was
                // swapped, and the next rebuild starts afresh, so "try again".
                if e.code() == Some("STAGING_LOST") {
                    HotError::Unavailable(format!("rebuilding office {office} took too long"))
                } else {
                    hot_error(e)
                }
            })?;
        // The rebuilt seat maps may have free seats that were taken before.
        self.full.forget_all();
        let _: i64 = redis::cmd("PUBLISH")
            .arg(freed_channel(&self.prefix))
            .arg(office.as_str())
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn is_loaded(&self, office: &OfficeId) -> Result<bool, HotError> {
        redis::cmd("EXISTS")
            .arg(self.epoch_key(office))
            .query_async::<i64>(&mut self.connection().await?)
            .await
            .map(|n| n == 1)
            .map_err(hot_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_members_round_trip() {
        let claim = PendingClaim {
            claim_id: Uuid::new_v4(),
            slot: SlotRef {
                office: OfficeId::parse("main").unwrap(),
                procedure: ProcedureId::CertRenewal,
                date: "2026-12-04".parse().unwrap(),
                start: chrono::NaiveTime::from_hms_opt(9, 15, 0).unwrap(),
            },
            seat: 3,
            resident: Some([7u8; 32]),
            idempotency: None,
        };
        let member = pending_member(&claim);
        assert_eq!(
            RedisHotState::parse_member(&claim.slot.office, &member),
            Some(claim)
        );
        assert_eq!(
            RedisHotState::parse_member(&OfficeId::parse("main").unwrap(), "garbage"),
            None
        );
    }
}
