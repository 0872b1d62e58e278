//! Rows written straight to a ledger by the ledger-level tests (`ledger_contract`,
//! `group_commit`): one builder each, at office `desk` on line `a`.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use madoguchi::domain::OfficeId;
use madoguchi::domain::procedure::ProcedureId;
use madoguchi::domain::queue::{LineId, TicketClass, TicketStatus};
use madoguchi::domain::slots::SlotRef;
use madoguchi::store::queue::{Ticket, TicketWriteError};
use madoguchi::store::{NewReservation, Placement, ResidentRecord, StoreError, WriteError};
use uuid::Uuid;

/// The tests' "now" (`default_now`): 10:00 in Tokyo on 1 December 2026.
pub fn now() -> DateTime<Utc> {
    crate::default_now()
}

pub fn office() -> OfficeId {
    OfficeId::parse("desk").expect("a valid office id")
}

/// Seat `seat` of a 15-minute slot for certificate renewal at `hour` o'clock on
/// 4 December, of `capacity` seats.
pub fn placement(hour: u32, seat: u16, capacity: u16) -> Placement {
    let start: DateTime<Utc> = "2026-12-04T00:00:00Z"
        .parse::<DateTime<Utc>>()
        .expect("a valid time")
        + Duration::hours(i64::from(hour) - 9);
    Placement {
        slot: SlotRef {
            office: office(),
            procedure: ProcedureId::CertRenewal,
            date: NaiveDate::from_ymd_opt(2026, 12, 4).expect("a valid date"),
            start: NaiveTime::from_hms_opt(hour, 0, 0).expect("a valid hour"),
        },
        start,
        end: start + Duration::minutes(15),
        seat,
        capacity,
    }
}

/// A confirmed booking by resident `who` (the same `who` is the same person), with an
/// Idempotency-Key `key` if given.
pub fn booking(
    placement: Placement,
    reference: String,
    who: u8,
    key: Option<u8>,
) -> NewReservation {
    NewReservation {
        id: Uuid::new_v4(),
        reference,
        placement,
        resident: Some(ResidentRecord {
            name: format!("住民 {who}"),
            identity_hash: [who; 32],
            proofs: vec![who; 16],
            proxy: false,
            contact: None,
            certificate_expiry: None,
            on_behalf: None,
        }),
        hold_expires_at: None,
        idempotency_key_hash: key.map(|k| [k; 32]),
        request_fingerprint: key.map(|k| [k; 32]),
        now: now(),
    }
}

/// A waiting walk-in ticket `A-<number>` of 1 December (checked in for `reservation`,
/// if given).
pub fn ticket(number: u32, reservation: Option<Uuid>) -> Ticket {
    Ticket {
        id: Uuid::new_v4(),
        office_id: office(),
        line_id: LineId::parse("a").expect("a valid line id"),
        service_date: NaiveDate::from_ymd_opt(2026, 12, 1).expect("a valid date"),
        number,
        display: format!("A-{number:03}"),
        procedure: ProcedureId::CertRenewal,
        class: TicketClass::Normal,
        reservation_id: reservation,
        status: TicketStatus::Waiting,
        counter_id: None,
        order_key: i64::from(number),
        issued_at: now(),
        called_at: None,
        started_at: None,
        finished_at: None,
        recalls: 0,
        revision: 0,
    }
}

/// A booking write's answer, in one word.
pub fn write_kind(r: &Result<(), WriteError>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(WriteError::SeatTaken) => "seat",
        Err(WriteError::ResidentHasBooking) => "resident",
        Err(WriteError::IdempotencyKeyUsed) => "key",
        Err(WriteError::ReferenceTaken) => "reference",
        Err(WriteError::Store(StoreError::Unavailable(_))) => "unavailable",
        Err(WriteError::Store(_)) => "store",
    }
}

/// A ticket write's answer, in one word.
pub fn ticket_kind(r: &Result<(), TicketWriteError>) -> &'static str {
    match r {
        Ok(()) => "ok",
        Err(TicketWriteError::NumberTaken) => "number",
        Err(TicketWriteError::AlreadyCheckedIn) => "checked-in",
        Err(TicketWriteError::Store(_)) => "store",
    }
}
