//! One contract for every ledger: the same writes and reads on PostgreSQL and on SQLite
//! give the same answers (the uniqueness rules, holds, cancellation, moves, the reaper's
//! and the rebuild's reads, tickets and their revisions, the audit trail), and each
//! answer is the one the contract names.
use chrono::Duration;
use madoguchi::domain::queue::{CounterId, TicketStatus};
use madoguchi::store::postgres::PgLedger;
use madoguchi::store::queue::{QueueEvent, QueueLedger};
use madoguchi::store::{Actor, Ledger, NewReservation, Reservation, ResidentRecord, WriteError};
use madoguchi_sqlite::SqliteLedger;
use madoguchi_tests::ledger_rows::{
    self as rows, now, office, placement, ticket, ticket_kind, write_kind,
};
use madoguchi_tests::{TestDb, TestFile};

/// Seat `seat` (of 2) at `hour` o'clock by resident `who`, with a reference that is the
/// same on every ledger (the contract compares what each one answers).
fn booking(hour: u32, seat: u16, who: u8, key: Option<u8>) -> NewReservation {
    rows::booking(
        placement(hour, seat, 2),
        format!("REF{who:02}{hour:02}{seat}"),
        who,
        key,
    )
}

/// What a reservation says, without its row id (each run makes its own).
fn shown(r: &Option<Reservation>) -> String {
    r.as_ref().map_or("none".into(), |r| {
        format!(
            "{} {} {} {} seat {} {} {:?} {:?} proofs {:?}",
            r.reference,
            r.office_id,
            r.procedure,
            r.slot_start,
            r.seat,
            r.status.as_str(),
            r.resident_name,
            r.hold_expires_at,
            r.resident_proofs
        )
    })
}

/// The contract, step by step: each line of the transcript is an answer, and the
/// expected answer is asserted where the contract names one.
async fn contract<L: Ledger + QueueLedger>(ledger: &L) -> Vec<String> {
    let mut log = Vec::new();
    let first = booking(9, 0, 1, Some(1));
    assert_eq!(write_kind(&ledger.insert_reservation(&first).await), "ok");
    // The seat, the resident, the key and the reference are each taken once.
    let same_reference = NewReservation {
        reference: first.reference.clone(),
        ..booking(11, 0, 5, None)
    };
    let answers = [
        write_kind(&ledger.insert_reservation(&booking(9, 0, 2, None)).await),
        write_kind(&ledger.insert_reservation(&booking(10, 0, 1, None)).await),
        write_kind(&ledger.insert_reservation(&booking(10, 1, 3, Some(1))).await),
        write_kind(&ledger.insert_reservation(&same_reference).await),
        write_kind(&ledger.insert_reservation(&booking(9, 1, 4, None)).await),
    ];
    assert_eq!(answers, ["seat", "resident", "key", "reference", "ok"]);
    log.push(format!("{answers:?}"));

    let found = ledger
        .reservation_by_reference(&first.reference)
        .await
        .unwrap();
    assert_eq!(found.as_ref().map(|r| r.id), Some(first.id));
    log.push(shown(&found));
    let by_key = ledger
        .reservation_by_idempotency_key(&[1; 32])
        .await
        .unwrap();
    assert_eq!(by_key.as_ref().map(|r| r.id), Some(first.id));
    let holder = ledger
        .seat_holder(&first.placement.slot, first.placement.start, 0)
        .await
        .unwrap();
    assert_eq!(holder, Some(first.id));

    // A hold becomes a booking once; then it is no hold any more.
    let mut hold = booking(11, 0, 5, None);
    hold.resident = None;
    hold.hold_expires_at = Some(now() + Duration::minutes(30));
    assert_eq!(write_kind(&ledger.insert_reservation(&hold).await), "ok");
    let resident = ResidentRecord {
        name: "住民 5".into(),
        identity_hash: [5; 32],
        proofs: vec![5; 32],
        proxy: false,
        contact: None,
        certificate_expiry: None,
        on_behalf: None,
    };
    let confirmed = ledger
        .confirm_hold(hold.id, &resident, now())
        .await
        .unwrap();
    log.push(shown(&confirmed));
    assert_eq!(
        confirmed.as_ref().map(|r| r.status.as_str()),
        Some("confirmed")
    );
    assert_eq!(
        confirmed.as_ref().and_then(|r| r.resident_proofs.clone()),
        Some(vec![5; 32]),
        "a confirmation keeps the proofs"
    );
    let again = ledger
        .confirm_hold(hold.id, &resident, now())
        .await
        .unwrap();
    assert!(again.is_none());

    // A move to a taken seat is refused; to a free one it happens.
    let taken = ledger
        .reschedule(first.id, &placement(9, 1, 2), None, Actor::Resident, now())
        .await;
    assert!(matches!(taken, Err(WriteError::SeatTaken)), "{taken:?}");
    let moved = ledger
        .reschedule(first.id, &placement(12, 0, 2), None, Actor::Resident, now())
        .await
        .unwrap();
    log.push(shown(&moved));

    // Cancelling frees the seat and the resident; a second cancel finds nothing active.
    let cancelled = ledger
        .cancel(first.id, Actor::Resident, now())
        .await
        .unwrap();
    log.push(shown(&cancelled));
    assert_eq!(
        cancelled.as_ref().map(|r| r.status.as_str()),
        Some("cancelled")
    );
    assert!(
        ledger
            .cancel(first.id, Actor::Resident, now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        write_kind(&ledger.insert_reservation(&booking(12, 0, 1, None)).await),
        "ok"
    );

    // After the retention period the name and the proofs go; the booking stays.
    let purged = ledger
        .purge_names(now() + Duration::days(400))
        .await
        .unwrap();
    assert!(purged >= 1, "{purged}");
    let kept = ledger.reservation_by_id(first.id).await.unwrap().unwrap();
    assert_eq!((kept.resident_name, kept.resident_proofs), (None, None));

    // The reaper's and the rebuild's reads.
    let placed = ledger
        .active_placements(&[first.id, hold.id])
        .await
        .unwrap();
    assert_eq!(placed.keys().copied().collect::<Vec<_>>(), vec![hold.id]);
    let inactive = ledger.inactive_among(&[first.id, hold.id]).await.unwrap();
    assert_eq!(inactive, vec![first.id]);
    let mut seats: Vec<String> = ledger
        .active_seats(&office(), now())
        .await
        .unwrap()
        .iter()
        .map(|s| format!("{:?}", (s.slot.start, s.seat)))
        .collect();
    seats.sort();
    assert_eq!(seats.len(), 3, "{seats:?}");
    log.push(format!("{seats:?}"));

    // Tickets: a number once per line and day; a newer revision wins, an older one
    // does not undo it.
    let t = ticket(1, None);
    assert_eq!(ticket_kind(&ledger.insert_ticket(&t, "kiosk").await), "ok");
    assert_eq!(
        ticket_kind(&ledger.insert_ticket(&ticket(1, None), "kiosk").await),
        "number"
    );
    let mut called = t.clone();
    called.status = TicketStatus::Called;
    called.counter_id = Some(CounterId::parse("1").unwrap());
    called.called_at = Some(now());
    called.revision = 2;
    let event = |kind: &'static str| QueueEvent {
        office: office(),
        ticket: Some(t.id),
        counter: Some(CounterId::parse("1").unwrap()),
        kind,
        actor: "system".into(),
        at: now(),
        detail: None,
    };
    ledger
        .update_ticket(&called, &event("called"))
        .await
        .unwrap();
    let mut stale = t.clone();
    stale.revision = 1;
    stale.status = TicketStatus::Cancelled;
    ledger
        .update_ticket(&stale, &event("cancelled"))
        .await
        .unwrap();
    let stored = ledger.ticket(t.id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.revision), (TicketStatus::Called, 2));
    let day = ledger
        .tickets_of_day(&office(), t.service_date)
        .await
        .unwrap();
    log.push(format!(
        "{:?}",
        day.iter()
            .map(|t| (t.display.clone(), t.status, t.revision))
            .collect::<Vec<_>>()
    ));

    // A reservation checks in once.
    let checked_in = ticket(2, Some(hold.id));
    assert_eq!(
        ticket_kind(&ledger.insert_ticket(&checked_in, "kiosk").await),
        "ok"
    );
    assert_eq!(
        ticket_kind(
            &ledger
                .insert_ticket(&ticket(3, Some(hold.id)), "kiosk")
                .await
        ),
        "checked-in"
    );

    // A counter calls a ticket the moment before its issue's row is written: the call's
    // state is kept, and the issue's insert, arriving second, adds who issued it.
    let early = ticket(4, None);
    let mut early_call = early.clone();
    early_call.status = TicketStatus::Called;
    early_call.counter_id = Some(CounterId::parse("1").unwrap());
    early_call.called_at = Some(now());
    early_call.revision = 1;
    ledger
        .update_ticket(
            &early_call,
            &QueueEvent {
                ticket: Some(early.id),
                ..event("called")
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ticket_kind(&ledger.insert_ticket(&early, "kiosk").await),
        "ok"
    );
    let row = ledger.ticket(early.id).await.unwrap().unwrap();
    assert_eq!((row.status, row.revision), (TicketStatus::Called, 1));
    let issuer = ledger
        .queue_events(
            &office(),
            now() - Duration::hours(1),
            now() + Duration::hours(1),
        )
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == "issued" && e.ticket_id == Some(early.id))
        .map(|e| e.actor);
    assert_eq!(issuer.as_deref(), Some("kiosk"));
    log.push(format!("{:?} {} {issuer:?}", row.status, row.revision));

    // The audit trail holds every queue event, the stale one and the early call too.
    let trail = ledger
        .audit_records(
            &office(),
            now() - Duration::hours(1),
            now() + Duration::hours(1),
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = trail.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["called", "cancelled", "called"], "{trail:?}");
    log
}

#[tokio::test]
async fn postgres_and_sqlite_keep_the_same_ledger_contract() {
    let db = TestDb::create().await;
    let pg = PgLedger::connect_lazy(&db.url, 4, 1, std::time::Duration::from_secs(3)).unwrap();
    pg.migrate().await.unwrap();
    let file = TestFile::new();
    let sqlite = SqliteLedger::open(&file.path).await.unwrap();
    let on_postgres = contract(&pg).await;
    let on_sqlite = contract(&sqlite).await;
    assert_eq!(on_postgres, on_sqlite);
}

/// A counter calls a ticket while the issue's insert is still uncommitted (the group
/// commit's transaction is open): on PostgreSQL the call waits for that commit, then
/// writes its state over the issue's, instead of updating nothing.
#[tokio::test]
async fn a_call_during_the_issue_commit_waits_for_it_on_postgres() {
    let db = TestDb::create().await;
    let pg = PgLedger::connect_lazy(&db.url, 4, 1, std::time::Duration::from_secs(3)).unwrap();
    pg.migrate().await.unwrap();
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let t = ticket(7, None);
    let mut issue = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO tickets (id, office_id, line_id, service_date, number, display, procedure,
                              class, status, order_key, issued_at, issued_by)
         VALUES ($1, $2, 'a', $3, 7, 'A-007', $4, 'normal', 'waiting', 7, $5, 'kiosk')",
    )
    .bind(t.id)
    .bind(office().as_str())
    .bind(t.service_date)
    .bind(t.procedure.as_str())
    .bind(t.issued_at)
    .execute(&mut *issue)
    .await
    .unwrap();
    let mut called = t.clone();
    called.status = TicketStatus::Called;
    called.counter_id = Some(CounterId::parse("1").unwrap());
    called.called_at = Some(now());
    called.revision = 1;
    let event = QueueEvent {
        office: office(),
        ticket: Some(t.id),
        counter: called.counter_id.clone(),
        kind: "called",
        actor: "system".into(),
        at: now(),
        detail: None,
    };
    let call = tokio::spawn(async move { pg.update_ticket(&called, &event).await });
    // Until the call either finished (it did not wait) or waits on the issue's row lock.
    let waits = loop {
        if call.is_finished() {
            break false;
        }
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if waiting > 0 {
            break true;
        }
        tokio::task::yield_now().await;
    };
    issue.commit().await.unwrap();
    call.await.unwrap().unwrap();
    assert!(waits, "the call did not wait for the issue's commit");
    let status: String = sqlx::query_scalar("SELECT status FROM tickets WHERE id = $1")
        .bind(t.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "called");
}
