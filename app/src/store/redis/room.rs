//! Waiting rooms in Redis, shared by every instance. Keys (hash tag `{r:<room>}`):
//! `places` (INCR), `draws` (hash place → draw), `positions` (hash place → position),
//! `seen` (sorted set position → last poll, ms), `counters` (one string, replaced only by
//! compare-and-set), `adm` (hash position → "nonce|expiry ms"), `open` (sorted set of
//! unused admissions by expiry), `used` (hash nonce → the request that used it). A room's keys expire a week after their last write.

use crate::store::HotError;
use crate::store::redis::{RedisHotState, hot_error};
use crate::store::room::{AdmissionUse, Poll, RoomStore, StoredCounters};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::Script;
use std::sync::LazyLock;

const ROOM_TTL_SECS: i64 = 7 * 24 * 3600;

static SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local cur = redis.call('GET', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0",
    )
});

static ADMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return existing end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return false",
    )
});

static POLL: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/room_poll.lua")));

static USE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then return 2 end
return 0",
    )
});

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn encode(c: &StoredCounters) -> String {
    format!(
        "{}|{}|{}|{}",
        c.serving,
        ms(c.rate_since),
        c.prequeue,
        u8::from(c.opened)
    )
}

fn decode(s: &str) -> Option<StoredCounters> {
    let mut p = s.split('|');
    Some(StoredCounters {
        serving: p.next()?.parse().ok()?,
        rate_since: from_ms(p.next()?.parse().ok()?),
        prequeue: p.next()?.parse().ok()?,
        opened: p.next()? == "1",
    })
}

fn admission(s: &str) -> Option<(String, DateTime<Utc>)> {
    let (nonce, expires) = s.split_once('|')?;
    Some((nonce.to_owned(), from_ms(expires.parse().ok()?)))
}

impl RedisHotState {
    /// Sets `key` to `at` unless it is set (a week's expiry); the value it holds.
    async fn set_once(&self, key: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError> {
        let (_, held): (Option<String>, i64) = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg(key)
            .arg(ms(at))
            .arg("NX")
            .arg("EX")
            .arg(ROOM_TTL_SECS)
            .get(key)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(from_ms(held))
    }
}

#[async_trait]
impl RoomStore for RedisHotState {
    async fn next_place(&self, room: &str) -> Result<u64, HotError> {
        let key = self.room_key(room, "places");
        let (place, _): (u64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, ROOM_TTL_SECS)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(place)
    }

    async fn places(&self, room: &str) -> Result<u64, HotError> {
        let n: Option<u64> = redis::cmd("GET")
            .arg(self.room_key(room, "places"))
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(n.unwrap_or(0))
    }

    async fn add_draw(&self, room: &str, place: u64, draw: u64) -> Result<(), HotError> {
        let key = self.room_key(room, "draws");
        let _: ((), i64) = redis::pipe()
            .hset(&key, place, draw.to_string())
            .expire(&key, ROOM_TTL_SECS)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn draws(&self, room: &str) -> Result<Vec<(u64, u64)>, HotError> {
        let all: Vec<(u64, String)> = redis::cmd("HGETALL")
            .arg(self.room_key(room, "draws"))
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(all
            .into_iter()
            .filter_map(|(p, d)| Some((p, d.parse().ok()?)))
            .collect())
    }

    async fn position_of(&self, room: &str, place: u64) -> Result<Option<u64>, HotError> {
        redis::cmd("HGET")
            .arg(self.room_key(room, "positions"))
            .arg(place)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)
    }

    async fn set_positions(&self, room: &str, pairs: &[(u64, u64)]) -> Result<(), HotError> {
        if pairs.is_empty() {
            return Ok(());
        }
        let key = self.room_key(room, "positions");
        let mut pipe = redis::pipe();
        for chunk in pairs.chunks(1000) {
            let flat: Vec<(u64, u64)> = chunk.to_vec();
            pipe.hset_multiple(&key, &flat).ignore();
        }
        pipe.expire(&key, ROOM_TTL_SECS).ignore();
        let _: () = pipe
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn touch(
        &self,
        room: &str,
        positions: &[u64],
        now: DateTime<Utc>,
    ) -> Result<(), HotError> {
        if positions.is_empty() {
            return Ok(());
        }
        let key = self.room_key(room, "seen");
        let mut pipe = redis::pipe();
        for chunk in positions.chunks(1000) {
            let members: Vec<(i64, u64)> = chunk.iter().map(|p| (ms(now), *p)).collect();
            pipe.zadd_multiple(&key, &members).ignore();
        }
        pipe.expire(&key, ROOM_TTL_SECS).ignore();
        let _: () = pipe
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn seen(
        &self,
        room: &str,
        positions: &[u64],
    ) -> Result<Vec<Option<DateTime<Utc>>>, HotError> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let scores: Vec<Option<f64>> = redis::cmd("ZMSCORE")
            .arg(self.room_key(room, "seen"))
            .arg(positions)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(scores
            .into_iter()
            .map(|s| s.map(|v| from_ms(crate::num::i64_of_whole(v))))
            .collect())
    }

    async fn counters(&self, room: &str) -> Result<Option<StoredCounters>, HotError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.room_key(room, "counters"))
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(raw.as_deref().and_then(decode))
    }

    async fn swap_counters(
        &self,
        room: &str,
        expected: Option<StoredCounters>,
        new: StoredCounters,
    ) -> Result<bool, HotError> {
        let swapped: i64 = SWAP
            .key(self.room_key(room, "counters"))
            .arg(expected.as_ref().map(encode).unwrap_or_default())
            .arg(encode(&new))
            .arg(ROOM_TTL_SECS)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(swapped == 1)
    }

    async fn admit(
        &self,
        room: &str,
        position: u64,
        nonce: &str,
        expires: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, HotError> {
        let existing: Option<String> = ADMIT
            .key(self.room_key(room, "adm"))
            .key(self.room_key(room, "open"))
            .arg(position)
            .arg(nonce)
            .arg(ms(expires))
            .arg(ROOM_TTL_SECS)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(existing.as_deref().and_then(admission))
    }

    async fn admission(
        &self,
        room: &str,
        position: u64,
    ) -> Result<Option<(String, DateTime<Utc>)>, HotError> {
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.room_key(room, "adm"))
            .arg(position)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(raw.as_deref().and_then(admission))
    }

    async fn outstanding(&self, room: &str, now: DateTime<Utc>) -> Result<u32, HotError> {
        let n: u32 = redis::cmd("ZCOUNT")
            .arg(self.room_key(room, "open"))
            .arg(format!("({}", ms(now)))
            .arg("+inf")
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(n)
    }

    async fn use_admission(
        &self,
        room: &str,
        nonce: &str,
        by: &str,
    ) -> Result<AdmissionUse, HotError> {
        let outcome: i64 = USE
            .key(self.room_key(room, "open"))
            .key(self.room_key(room, "used"))
            .arg(nonce)
            .arg(by)
            .arg(ROOM_TTL_SECS)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(match outcome {
            1 => AdmissionUse::First,
            2 => AdmissionUse::SameRequest,
            _ => AdmissionUse::Used,
        })
    }

    async fn use_challenge(
        &self,
        room: &str,
        id: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<bool, HotError> {
        let ttl_ms = (ms(expires) - ms(now)).max(1_000);
        let set: Option<String> = redis::cmd("SET")
            .arg(self.room_key(room, &format!("challenge:{id}")))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(set.is_some())
    }

    async fn arrive(&self, room: &str, minute: i64) -> Result<u64, HotError> {
        let key = self.room_key(room, &format!("arrivals:{minute}"));
        let (n, _): (u64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 120)
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(n)
    }

    async fn activation(&self, room: &str) -> Result<Option<DateTime<Utc>>, HotError> {
        let at: Option<i64> = redis::cmd("GET")
            .arg(self.room_key(room, "active"))
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(at.map(from_ms))
    }

    async fn began(&self, room: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError> {
        self.set_once(&self.room_key(room, "began"), at).await
    }

    async fn activate(&self, room: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, HotError> {
        self.set_once(&self.room_key(room, "active"), at).await
    }

    async fn restore_admission(
        &self,
        room: &str,
        nonce: &str,
        expires: DateTime<Utc>,
    ) -> Result<(), HotError> {
        let _: (i64, i64) = redis::pipe()
            .atomic()
            .hdel(self.room_key(room, "used"), nonce)
            .zadd(self.room_key(room, "open"), nonce, ms(expires))
            .query_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        Ok(())
    }

    async fn poll(
        &self,
        room: &str,
        place: u64,
        issued: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Poll, HotError> {
        let (outcome, counters, position): (u8, Option<String>, Option<u64>) = POLL
            .key(self.room_key(room, "began"))
            .key(self.room_key(room, "counters"))
            .key(self.room_key(room, "positions"))
            .key(self.room_key(room, "seen"))
            .arg(ms(now))
            .arg(ms(issued))
            .arg(place)
            .arg(ROOM_TTL_SECS)
            .invoke_async(&mut self.connection().await?)
            .await
            .map_err(hot_error)?;
        let counters = counters.as_deref().and_then(decode);
        Ok(match (outcome, counters) {
            (0, _) => Poll::Lost,
            (2, Some(counters)) => Poll::Open { counters, position },
            (_, counters) => Poll::NotOpened(counters),
        })
    }
}
