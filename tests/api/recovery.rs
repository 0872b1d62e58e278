//! The hot state is always rebuildable from the ledger, and the ledger never lets the
//! hot state overbook.
use chrono::Duration;
use futures_util::future::join_all;
use madoguchi::domain::OfficeId;
use madoguchi::domain::procedure::ProcedureId;
use madoguchi::domain::slots::SlotRef;
use madoguchi::domain::time::Clock;
use madoguchi::service::maintenance::BATCH;
use madoguchi::store::{ClaimOutcome, SeatClaim};
use madoguchi_tests::{Backend, Options, city, on_both_backends, renewal, spawn_app, spawn_with};
use serde_json::json;

const NINE: &str = "2026-12-04T09:00:00+09:00";

fn nine_slot() -> SlotRef {
    SlotRef {
        office: OfficeId::parse("main").unwrap(),
        procedure: ProcedureId::CertRenewal,
        date: "2026-12-04".parse().unwrap(),
        start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
    }
}

async fn a_claim_that_never_reached_the_ledger_is_returned_by_the_reaper(backend: Backend) {
    let app = spawn_app(backend).await;
    // An instance claims a seat and dies before inserting the row.
    let now = app.clock.now();
    let claim = SeatClaim {
        claim_id: uuid::Uuid::new_v4(),
        slot: nine_slot(),
        capacity: 2,
        idempotency: None,
        resident: None,
        deadline: now + Duration::seconds(60),
        now,
    };
    assert!(matches!(
        app.booking.hot().claim(&claim).await.unwrap(),
        ClaimOutcome::Claimed { seat } if seat < 2
    ));
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);
    // A live booking made meanwhile must keep its seat.
    app.book_ok(&renewal("main", NINE, "alive@example.jp"))
        .await;
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 0);

    // Before the deadline nothing is touched.
    let early = app.maintenance.run_once().await.unwrap();
    assert_eq!(early.claims_released, 0);
    app.clock.advance(Duration::seconds(61));
    let report = app.maintenance.run_once().await.unwrap();
    assert_eq!(report.claims_released, 1, "{report:?}");
    assert_eq!(report.claims_confirmed, 1, "{report:?}");
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 1);
    // A second pass finds nothing more to do.
    let again = app.maintenance.run_once().await.unwrap();
    assert_eq!((again.claims_released, again.claims_confirmed), (0, 0));
}

async fn redis_restarting_empty_is_detected_and_rebuilt_without_overbooking(backend: Backend) {
    let mut app = spawn_with(Options {
        backend,
        municipality: city(super::concurrency::RUSH_CITY),
        ..Options::default()
    })
    .await;
    let start = "2026-12-04T08:30:00+09:00";
    let body = |i: usize| {
        json!({
            "office_id": "main", "procedure": "card_pickup", "start": start,
            "resident": { "name": "住民" }, "notice_number": format!("{:08}", 20_000 + i), "birth_date": "1990-01-01",
        })
    };
    for i in 0..3 {
        app.book_ok(&body(i)).await;
    }
    app.lose_hot_state().await;
    assert!(!app.hot_state_loaded("main").await);
    // The next read notices the missing epoch and rebuilds from the ledger.
    assert_eq!(app.remaining_at("main", "card_pickup", start).await, 2);
    app.lose_hot_state().await;
    // A rush right after another wipe: still exactly the remaining two.
    let rush = (3..60).map(|i| {
        let request = app
            .client
            .post(app.url("/api/v1/reservations"))
            .json(&body(i));
        async move { request.send().await.unwrap().status().as_u16() }
    });
    let statuses = join_all(rush).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(app.active_rows("main", "card_pickup", start).await, 5);
    // The resident rule survives the wipe too.
    let repeat = app.book(&json!({
        "office_id": "main", "procedure": "card_pickup", "start": "2026-12-04T08:45:00+09:00",
        "resident": { "name": "住民" }, "notice_number": format!("{:08}", 20_000), "birth_date": "1990-01-01",
    })).await;
    assert_eq!(repeat.status(), 422);
}

async fn the_maintenance_loop_rebuilds_a_wiped_office_before_anyone_asks(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.book_ok(&renewal("main", NINE, "early@example.jp"))
        .await;
    app.lose_hot_state().await;
    // The pass rebuilds every office still missing (the live-congestion task may have
    // rebuilt one first: both use the same path).
    let report = app.maintenance.run_once().await.unwrap();
    assert!(report.offices_rebuilt >= 1, "{report:?}");
    for office in ["main", "north", "south", "mall"] {
        assert!(app.hot_state_loaded(office).await, "{office}");
    }
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);
}

async fn when_the_hot_state_is_wrong_the_ledger_refuses_and_the_hot_state_is_corrected(
    backend: Backend,
) {
    let mut app = spawn_app(backend).await;
    app.book_ok(&renewal("main", NINE, "one@example.jp")).await;
    app.book_ok(&renewal("main", NINE, "two@example.jp")).await;
    // Corrupt the hot state: forget both seats of the full slot.
    app.forget_seats(&nine_slot(), &[0, 1]).await;
    assert_eq!(
        app.remaining_at("main", "cert_renewal", NINE).await,
        2,
        "the hot state believes it"
    );
    // A booking now is refused by the ledger (both seats are taken there)...
    let third = app.book(&renewal("main", NINE, "three@example.jp")).await;
    assert_eq!(third.status(), 409);
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 2);
    // ...and the hot state learnt the truth.
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 0);
}

/// The reaper settles every booking a deadline after it was made, so one pass must keep
/// up with a rush: it takes due claims in rounds, not one round a pass.
async fn one_reaper_pass_settles_more_claims_than_one_round(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    app.book_ok(&renewal("main", NINE, "alive@example.jp"))
        .await;
    let orphans = BATCH + 20;
    let capacity = u16::try_from(orphans + 1).unwrap(); // and the live booking
    for _ in 0..orphans {
        let claim = SeatClaim {
            claim_id: uuid::Uuid::new_v4(),
            slot: nine_slot(),
            capacity,
            idempotency: None,
            resident: None,
            deadline: now + Duration::seconds(60),
            now,
        };
        let outcome = app.booking.hot().claim(&claim).await.unwrap();
        assert!(
            matches!(outcome, ClaimOutcome::Claimed { .. }),
            "{outcome:?}"
        );
    }
    app.clock.advance(Duration::seconds(61));
    let report = app.maintenance.run_once().await.unwrap();
    assert_eq!(
        (report.claims_released, report.claims_confirmed),
        (orphans, 1),
        "{report:?}"
    );
    let office = OfficeId::parse("main").unwrap();
    let left = app.booking.hot().due_claims(&office, app.clock.now(), 10);
    assert!(left.await.unwrap().is_empty());
}

on_both_backends!(
    one_reaper_pass_settles_more_claims_than_one_round,
    a_claim_that_never_reached_the_ledger_is_returned_by_the_reaper,
    redis_restarting_empty_is_detected_and_rebuilt_without_overbooking,
    the_maintenance_loop_rebuilds_a_wiped_office_before_anyone_asks,
    when_the_hot_state_is_wrong_the_ledger_refuses_and_the_hot_state_is_corrected,
);

/// Hot-state lifetimes follow the service's clock: with the clock years behind the wall
/// clock, seats must not vanish from Redis (an absolute EXPIREAT would drop them at once).
async fn seat_maps_live_by_the_service_clock_not_the_wall_clock(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        now: "2020-01-07T10:00:00+09:00"
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .unwrap()
            .into(),
        ..Options::default()
    })
    .await;
    let start = "2020-01-10T09:00:00+09:00";
    app.book_ok(&madoguchi_tests::pickup("main", start, "20200110"))
        .await;
    assert_eq!(app.remaining_at("main", "card_pickup", start).await, 1);
}

/// The embedded mode keeps nothing but SQLite: a restarted process rebuilds everything.
#[tokio::test]
async fn restarting_the_embedded_service_loses_nothing_acknowledged() {
    let file = std::sync::Arc::new(madoguchi_tests::TestFile::new());
    let options = || Options {
        backend: Backend::Embedded,
        sqlite_file: Some(file.clone()),
        ..Options::default()
    };
    let first = spawn_with(options()).await;
    let booked = first
        .book_ok(&renewal("main", NINE, "restart@example.jp"))
        .await;
    let held: serde_json::Value = first
        .post_json(
            "/api/v1/holds",
            &json!({ "office_id": "main", "procedure": "cert_renewal", "start": NINE }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["status"], "held");
    first.stop().await;
    drop(first);

    let second = spawn_with(options()).await;
    assert_eq!(
        second.remaining_at("main", "cert_renewal", NINE).await,
        0,
        "the booking and the hold are back"
    );
    let seen = second
        .with_secret(
            reqwest::Method::GET,
            &format!("/api/v1/reservations/{}", booked.reference),
            &booked.secret,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);
    let again = second
        .book(&renewal(
            "main",
            "2026-12-04T10:00:00+09:00",
            "restart@example.jp",
        ))
        .await;
    assert_eq!(
        again.status(),
        422,
        "the one-booking rule survives the restart"
    );
}

on_both_backends!(seat_maps_live_by_the_service_clock_not_the_wall_clock);

/// An instance killed between its seat claim and its ledger insert leaves a claim (with
/// the request's Idempotency-Key mark) that no row backs. The client's retry with the
/// same key, on any instance, is told to wait while the claim may still be written, then
/// books once the reaper has given the seat back; every later retry answers with that
/// same booking, and the ledger holds one.
async fn a_retry_after_an_instance_died_mid_claim_books_once(backend: Backend) {
    use chrono::NaiveDate;
    use madoguchi::domain::booking::decide_slot;
    use madoguchi::domain::identity::{ResidentIdentity, ResidentName};
    use madoguchi::domain::procedure::ProcedureId;
    use madoguchi::service::booking::{BookRequest, IdempotencyKey, ResidentInput};
    use madoguchi::store::new_row_id;
    use madoguchi_tests::assert_problem;

    let app = spawn_app(backend).await;
    let body = renewal("main", "2026-12-04T09:00:00+09:00", "killed@example.jp");
    let now = app.clock.now();
    // What the dead instance had done: the claim, with the key's mark, and nothing else.
    let request = BookRequest {
        office: madoguchi::domain::OfficeId::parse("main").unwrap(),
        procedure: ProcedureId::CertRenewal,
        start: "2026-12-04T09:00:00".parse().unwrap(),
        resident: ResidentInput {
            name: ResidentName::parse("山田 太郎").unwrap(),
            identity: ResidentIdentity::Person {
                name_key: madoguchi::domain::identity::name_key("山田 太郎"),
                birth_date: madoguchi_tests::birth_date_of("killed@example.jp")
                    .parse()
                    .unwrap(),
            },
            factors: Vec::new(),
            proxy: false,
            lang: "ja",
        },
        certificate_expiry: Some(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()),
        idempotency: Some(IdempotencyKey("killed-1".into())),
    };
    let municipality = app.booking.municipality();
    let office = municipality.office("main").unwrap();
    let slot = decide_slot(municipality, office, request.procedure, request.start, now).unwrap();
    let claim = SeatClaim {
        claim_id: new_row_id(),
        slot: slot.slot_ref(&request.office, request.procedure),
        capacity: slot.capacity,
        idempotency: app.booking.idempotency_mark(&request),
        resident: None,
        deadline: now + chrono::Duration::seconds(60),
        now,
    };
    assert!(matches!(
        app.booking.hot().claim(&claim).await.unwrap(),
        ClaimOutcome::Claimed { .. }
    ));
    let retry = || {
        app.client
            .post(app.url("/api/v1/reservations"))
            .header("Idempotency-Key", "killed-1")
            .json(&body)
            .send()
    };
    // While the claim could still be written, the retry waits (409, retry shortly).
    let early = retry().await.unwrap();
    assert!(early.headers().contains_key("retry-after"));
    assert_problem(early, 409, "idempotency-in-progress").await;
    // The reaper gives the dead claim's seat and marks back after its deadline.
    app.clock.advance(chrono::Duration::seconds(61));
    let pass = app.maintenance.run_once().await.unwrap();
    assert_eq!(pass.claims_released, 1);
    let booked = retry().await.unwrap();
    assert_eq!(booked.status(), 201);
    let first: serde_json::Value = booked.json().await.unwrap();
    for _ in 0..3 {
        let again = retry().await.unwrap();
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        let again: serde_json::Value = again.json().await.unwrap();
        assert_eq!(again["reference"], first["reference"], "the same booking");
    }
    assert_eq!(app.reservation_count().await, 1);
}

on_both_backends!(a_retry_after_an_instance_died_mid_claim_books_once);
