//! The tamper-evident audit trail. An office's audit events of a Tokyo day — counter
//! actions, ticket changes and pauses (queue events), staff's changes of bookings, and
//! changes of waiting rooms — are sealed in order: each seal covers the events with `at`
//! in [the previous seal's `through`, `through`) and its hash is
//! HMAC(audit key, previous hash ‖ office ‖ day ‖ seq ‖ through ‖ count ‖
//! SHA-256(the events, canonically)). The key is derived from the master key and is not
//! in the database, so whoever can edit the tables cannot recompute a seal: an edited,
//! deleted or inserted event of a sealed range, or a deleted seal before the last, makes
//! `verify` report the day as tampered, naming the first seal that no longer holds.
//!
//! Sealing happens in the maintenance loop, not on the write path: the events are
//! written as before (no hot path waits for a chain head, and instances never contend
//! for one), and a range is sealed once its newest event is [`LAG`] old, which covers a
//! write still on its way. What this cannot show: changes to events not yet sealed (at
//! most [`LAG`] plus [`EVERY`] old), and the removal of the newest seal together with the
//! events it covered (the last hash can be read from `audit verify` and kept elsewhere).

use crate::domain::OfficeId;
use crate::domain::office::Municipality;
use crate::domain::time::{Clock, from_tokyo, tokyo_date};
use crate::service::keys::Keys;
use crate::store::StoreError;
use crate::store::queue::{AuditRecord, AuditSeal, QueueLedger};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// A range is sealed once its newest event is this old.
pub const LAG: Duration = Duration::seconds(60);
/// Seals of an office are at least this far apart (a day has at most 1,440).
pub const EVERY: Duration = Duration::seconds(60);

/// What verifying a day found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// `intact` (every seal holds), `tampered` (one does not), or `unsealed` (no seal yet).
    pub status: &'static str,
    pub seals: u32,
    pub sealed_events: u32,
    /// RFC 3339: events before this are sealed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_through: Option<String>,
    /// Events after the last seal (recent ones, sealed at the next passes).
    pub unsealed_events: u32,
    /// The last seal's hash (hex), to keep elsewhere against a removal of the newest seal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_hash: Option<String>,
    /// For a tampered day: which seal no longer holds, and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

pub struct AuditChain {
    municipality: Arc<Municipality>,
    ledger: Arc<dyn QueueLedger>,
    keys: Arc<Keys>,
    clock: Arc<dyn Clock>,
}

/// The events' canonical bytes: fields separated by U+001F, events ended by U+001E
/// (neither can be in a field: requests carry no control characters).
fn digest(records: &[AuditRecord]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for r in records {
        for field in [
            r.at.timestamp_micros().to_string().as_str(),
            r.source,
            &r.kind,
            &r.actor,
            r.subject.as_deref().unwrap_or(""),
            r.counter.as_deref().unwrap_or(""),
            r.detail.as_deref().unwrap_or(""),
        ] {
            hash.update(field.as_bytes());
            hash.update([0x1f]);
        }
        hash.update([0x1e]);
    }
    hash.finalize().into()
}

fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = from_tokyo(day, NaiveTime::MIN);
    (start, start + Duration::days(1))
}

impl AuditChain {
    pub fn new(
        municipality: Arc<Municipality>,
        ledger: Arc<dyn QueueLedger>,
        keys: Arc<Keys>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            municipality,
            ledger,
            keys,
            clock,
        }
    }

    fn seal_hash(&self, prev: &[u8], seal: &AuditSeal, events: &[u8; 32]) -> Vec<u8> {
        self.keys
            .audit_mac(&[
                prev,
                seal.office.as_str().as_bytes(),
                seal.day.to_string().as_bytes(),
                &seal.seq.to_be_bytes(),
                &seal.through.timestamp_micros().to_be_bytes(),
                &seal.events.to_be_bytes(),
                events,
            ])
            .to_vec()
    }

    /// Seals what is due in every office (yesterday's remainder, then today's); returns
    /// how many seals were written. Safe on several instances at once: a seal whose
    /// number another instance took first is dropped.
    pub async fn seal_all(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let today = tokyo_date(now);
        let mut written = 0;
        for office in &self.municipality.offices {
            for day in [today - Duration::days(1), today] {
                written += usize::from(self.seal(&office.id, day, now).await?);
            }
        }
        Ok(written)
    }

    /// Seals the office's day up to `now - LAG` if there is something new and the last
    /// seal is at least `EVERY` old.
    pub async fn seal(
        &self,
        office: &OfficeId,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (start, end) = day_bounds(day);
        let seals = self.ledger.audit_seals(office, day).await?;
        let last = seals.last();
        let from = last.map_or(start, |s| s.through);
        let through = (now - LAG).min(end);
        if through <= from || through - from < EVERY && through < end {
            return Ok(false);
        }
        let records = self.ledger.audit_records(office, from, through).await?;
        if records.is_empty() {
            return Ok(false);
        }
        let mut seal = AuditSeal {
            office: office.clone(),
            day,
            seq: last.map_or(1, |s| s.seq + 1),
            through,
            events: u32::try_from(records.len()).unwrap_or(u32::MAX),
            hash: Vec::new(),
            sealed_at: now,
        };
        let prev = last.map_or_else(Vec::new, |s| s.hash.clone());
        seal.hash = self.seal_hash(&prev, &seal, &digest(&records));
        self.ledger.insert_audit_seal(&seal).await
    }

    /// Recomputes every seal of the office's day from the events the ledger holds now.
    pub async fn verify(
        &self,
        office: &OfficeId,
        day: NaiveDate,
    ) -> Result<Verification, StoreError> {
        let (start, end) = day_bounds(day);
        let seals = self.ledger.audit_seals(office, day).await?;
        let mut prev: Vec<u8> = Vec::new();
        let mut from = start;
        let mut sealed_events = 0u32;
        let mut problem = None;
        for (i, seal) in seals.iter().enumerate() {
            let expected_seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            if seal.seq != expected_seq {
                problem = Some(format!("seal {expected_seq} is missing"));
                break;
            }
            let records = self
                .ledger
                .audit_records(office, from, seal.through)
                .await?;
            let count = u32::try_from(records.len()).unwrap_or(u32::MAX);
            if count != seal.events {
                problem = Some(format!(
                    "seal {}: {} events sealed, {count} found (deleted or inserted)",
                    seal.seq, seal.events
                ));
                break;
            }
            if self.seal_hash(&prev, seal, &digest(&records)) != seal.hash {
                problem = Some(format!(
                    "seal {}: an event it covers was changed, or the seal itself",
                    seal.seq
                ));
                break;
            }
            sealed_events += seal.events;
            prev = seal.hash.clone();
            from = seal.through;
        }
        let unsealed = self.ledger.audit_records(office, from, end).await?.len();
        let last = seals.last();
        Ok(Verification {
            status: match (&problem, last) {
                (Some(_), _) => "tampered",
                (None, None) => "unsealed",
                (None, Some(_)) => "intact",
            },
            seals: u32::try_from(seals.len()).unwrap_or(u32::MAX),
            sealed_events,
            sealed_through: last.map(|s| crate::domain::time::to_tokyo_rfc3339(s.through)),
            unsealed_events: u32::try_from(unsealed).unwrap_or(u32::MAX),
            last_hash: last.map(|s| data_encoding::HEXLOWER.encode(&s.hash)),
            problem,
        })
    }
}
