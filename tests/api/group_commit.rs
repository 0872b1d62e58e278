//! Group commit on PostgreSQL: many concurrent inserts share statements and commits, and
//! each caller still gets the exact answer a write of its own would have got — success,
//! the seat, resident or idempotency key taken, a ticket number taken, a check refused.

use chrono::Duration;
use madoguchi::domain::queue::TicketStatus;
use madoguchi::store::postgres::PgLedger;
use madoguchi::store::queue::{QueueEvent, QueueLedger, TicketWriteError};
use madoguchi::store::{Ledger, NewReservation};
use madoguchi_tests::TestDb;
use madoguchi_tests::ledger_rows::{self as rows, now, placement, ticket, write_kind};
use sqlx::Connection;
use std::sync::Arc;
use uuid::Uuid;

async fn ledger(writers: usize) -> (PgLedger, TestDb) {
    let db = TestDb::create().await;
    let ledger =
        PgLedger::connect_lazy(&db.url, 8, writers, std::time::Duration::from_secs(3)).unwrap();
    ledger.migrate().await.unwrap();
    (ledger, db)
}

/// A booking of `seat` (of 4) at `hour` o'clock on 4 December by resident `who`.
fn booking_of(hour: u32, seat: u16, who: u8, key: Option<u8>) -> NewReservation {
    let reference = Uuid::new_v4().simple().to_string();
    rows::booking(placement(hour, seat, 4), reference, who, key)
}

/// A booking of `seat` (of 4) at 09:00 on 4 December by resident `who`.
fn booking(seat: u16, who: u8, key: Option<u8>) -> NewReservation {
    booking_of(9, seat, who, key)
}

/// Writes all at once (so they meet in batches) and returns each one's answer.
async fn write_all(ledger: &Arc<PgLedger>, items: Vec<NewReservation>) -> Vec<&'static str> {
    let calls: Vec<_> = items
        .into_iter()
        .map(|item| {
            let ledger = ledger.clone();
            tokio::spawn(async move { write_kind(&ledger.insert_reservation(&item).await) })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

/// The rows written, the "booked" entries of the audit trail, and the "held" events
/// (the entry's time is the row's).
async fn rows_and_their_trail(ledger: &PgLedger) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM reservations),
                (SELECT count(*) FROM reservation_trail t JOIN reservations r
                   ON r.id = t.reservation_id AND t.kind = 'booked' AND t.at = r.created_at),
                (SELECT count(*) FROM reservation_events e JOIN reservations r
                   ON r.id = e.reservation_id AND e.kind = 'held' AND e.at = r.created_at)",
    )
    .fetch_one(ledger.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_without_conflicts_writes_every_row_and_each_hold_its_event() {
    let (ledger, _db) = ledger(1).await;
    let ledger = Arc::new(ledger);
    let mut items: Vec<NewReservation> = (0..3)
        .map(|s| booking(s, s as u8 + 1, Some(s as u8)))
        .collect();
    let mut hold = booking(3, 4, Some(3));
    hold.resident = None;
    hold.hold_expires_at = Some(hold.now + Duration::minutes(10));
    items.push(hold);
    assert_eq!(write_all(&ledger, items).await, ["ok"; 4]);
    assert_eq!(
        rows_and_their_trail(&ledger).await,
        (4, 3, 1),
        "three bookings read as booked, one hold with its event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_write_of_a_group_gets_its_own_answer() {
    let (ledger, _db) = ledger(1).await;
    let ledger = Arc::new(ledger);
    // Seats 0-3 by residents 1-4, another resident for seat 0, and a seat past the
    // capacity, all at once: one of the two for seat 0 wins, whichever came first.
    let mut items: Vec<NewReservation> = (0..4).map(|s| booking(s, s as u8 + 1, None)).collect();
    items.push(booking(0, 9, None));
    items.push(booking(5, 10, None)); // seat 5 of 4: the ledger's check refuses it
    let answers = write_all(&ledger, items).await;
    let mut seat_zero = vec![answers[0], answers[4]];
    seat_zero.sort_unstable();
    assert_eq!(seat_zero, vec!["ok", "seat"], "{answers:?}");
    assert_eq!(&answers[1..4], &["ok"; 3], "{answers:?}");
    assert_eq!(answers[5], "store", "a check is never written");

    // The same resident (2, who surely booked) cannot hold two bookings; a reused
    // idempotency key is caught.
    let again = booking_of(10, 1, 2, None);
    let first_key = booking_of(11, 2, 20, Some(7));
    let mut second_key = first_key.clone();
    second_key.id = Uuid::new_v4();
    second_key.reference = Uuid::new_v4().simple().to_string();
    second_key.placement.seat = 3;
    second_key.resident = Some(madoguchi::store::ResidentRecord {
        name: "住民 21".into(),
        identity_hash: [21; 32],
        proofs: vec![21; 16],
        proxy: false,
        contact: None,
        certificate_expiry: None,
        on_behalf: None,
    });
    let answers = write_all(&ledger, vec![again, first_key, second_key]).await;
    assert_eq!(answers[0], "resident", "resident 2 holds a booking already");
    let mut keys = vec![answers[1], answers[2]];
    keys.sort_unstable();
    assert_eq!(keys, vec!["key", "ok"], "one of two requests with one key");

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(ledger.pool())
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM reservation_events")
        .fetch_one(ledger.pool())
        .await
        .unwrap();
    assert_eq!(
        (rows, events, rows_and_their_trail(&ledger).await.1),
        (5, 0, 5),
        "one \"booked\" entry for each row written, and no event row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_concurrent_tickets_share_commits_and_numbers_stay_unique() {
    let (ledger, _db) = ledger(2).await;
    let ledger = Arc::new(ledger);
    // 300 numbers, 20 of them twice; ten (of the later numbers) called by a counter
    // before their issue's row is written, so the batches holding them meet their rows.
    let tickets: Vec<_> = (1..=300).chain(1..=20).map(|n| ticket(n, None)).collect();
    for t in tickets.iter().skip(100).step_by(20).take(10) {
        let mut called = t.clone();
        called.status = TicketStatus::Called;
        called.revision = 1;
        let event = QueueEvent {
            office: called.office_id.clone(),
            ticket: Some(t.id),
            counter: None,
            kind: "called",
            actor: "system".into(),
            at: now(),
            detail: None,
        };
        ledger.update_ticket(&called, &event).await.unwrap();
    }
    let calls: Vec<_> = tickets
        .into_iter()
        .map(|t| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.insert_ticket(&t, "kiosk").await })
        })
        .collect();
    let (mut ok, mut taken) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(()) => ok += 1,
            Err(TicketWriteError::NumberTaken) => taken += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((ok, taken), (300, 20));
    let issued: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE issued_by = 'kiosk'")
        .fetch_one(ledger.pool())
        .await
        .unwrap();
    assert_eq!(issued, 300, "each written once, with who issued it");
    let called: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE status = 'called'")
        .fetch_one(ledger.pool())
        .await
        .unwrap();
    assert_eq!(called, 10, "a call written first keeps its state");
}

/// Cuts every connection to the test's database, as a restart of PostgreSQL or a
/// proxy's timeout would; returns how many there were.
async fn cut_connections(db: &TestDb) -> i64 {
    let mut admin = sqlx::PgConnection::connect(&madoguchi_tests::database_url())
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid()) cut",
    )
    .bind(&db.name)
    .fetch_one(&mut admin)
    .await
    .unwrap()
}

/// A pooled connection used moments ago is not pinged before its next statement
/// (`PgLedger::connect_lazy`), so a write may meet a connection the database has just
/// cut. It is refused as unavailable (the service answers 503, safe to retry), never
/// written twice or wrongly refused, and the pool drops each dead connection the first
/// time it fails: writes succeed again after at most one failure per connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_cut_by_the_database_cost_one_unavailable_write_each_at_most() {
    let (ledger, db) = ledger(1).await;
    let ledger = Arc::new(ledger);
    // Open several connections: concurrent lone writes each take one.
    let warm: Vec<NewReservation> = (0..4).map(|s| booking(s, s as u8 + 1, None)).collect();
    assert_eq!(write_all(&ledger, warm).await, ["ok"; 4]);
    let cut = cut_connections(&db).await;
    assert!(cut >= 1, "the pool had connections open");

    let mut answers = Vec::new();
    for (hour, who) in (10..20).zip(30u8..) {
        answers.push(write_kind(
            &ledger
                .insert_reservation(&booking_of(hour, 0, who, None))
                .await,
        ));
    }
    let failed = answers.iter().take_while(|a| **a == "unavailable").count();
    assert!(
        failed as i64 <= cut,
        "{failed} failures for {cut} cut connections: {answers:?}"
    );
    assert!(
        answers[failed..].iter().all(|a| *a == "ok"),
        "only unavailability, and only until the dead connections are gone: {answers:?}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM reservations")
        .fetch_one(ledger.pool())
        .await
        .unwrap();
    assert_eq!(
        rows,
        4 + (answers.len() - failed) as i64,
        "each success written once"
    );
}
