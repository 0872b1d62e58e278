use madoguchi_tests::{Backend, assert_problem, on_both_backends, renewal, spawn_app};
use serde_json::Value;

const NINE: &str = "2026-12-04T09:00:00+09:00";

async fn a_retried_request_returns_the_same_booking(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = renewal("main", NINE, "retry@example.jp");
    let (client, url) = (app.client.clone(), app.url("/api/v1/reservations"));
    let send = |key: &'static str, body: Value| {
        let request = client.post(&url).header("Idempotency-Key", key).json(&body);
        async move { request.send().await.unwrap() }
    };
    let first = send("7c1f2a9e-0b1d-4c55-9d0e-3f6f8a1b2c3d", body.clone()).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = send("7c1f2a9e-0b1d-4c55-9d0e-3f6f8a1b2c3d", body.clone()).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["reference"], first["reference"]);
    assert_eq!(
        retry["secret"], first["secret"],
        "the retry can still manage the booking"
    );
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 1);

    // The same key for a different request is a client bug: refused.
    let other = renewal("main", "2026-12-04T09:15:00+09:00", "retry@example.jp");
    assert_problem(
        send("7c1f2a9e-0b1d-4c55-9d0e-3f6f8a1b2c3d", other).await,
        422,
        "idempotency-key-reused",
    )
    .await;

    // After Redis lost everything, the ledger still answers the retry.
    app.lose_hot_state().await;
    let after_wipe = send("7c1f2a9e-0b1d-4c55-9d0e-3f6f8a1b2c3d", body).await;
    assert_eq!(after_wipe.status(), 201);
    let after_wipe: Value = after_wipe.json().await.unwrap();
    assert_eq!(after_wipe["reference"], first["reference"]);
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 1);
}

async fn a_replayed_key_is_found_in_the_ledger_even_when_the_hot_state_forgot_it(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let body = renewal("main", NINE, "forgot@example.jp");
    let key = "b4f5c6d7-1111-2222-3333-444455556666";
    let first: Value = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Drop the idempotency and resident marks: the claim goes ahead, the ledger's unique
    // keys catch the duplicate, the seat is given back and the first booking is returned.
    app.forget_marks("main").await;
    let retry = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["reference"], first["reference"]);
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 1);
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);
}

async fn a_retry_while_the_first_request_is_still_in_flight_is_told_to_wait(backend: Backend) {
    use madoguchi::domain::identity::{ResidentIdentity, ResidentName};
    use madoguchi::domain::time::Clock;
    use madoguchi::service::booking::{BookRequest, IdempotencyKey, ResidentInput};
    use madoguchi::store::SeatClaim;

    let app = spawn_app(backend).await;
    let key = "inflight-0001";
    let request = BookRequest {
        office: madoguchi::domain::OfficeId::parse("main").unwrap(),
        procedure: madoguchi::domain::ProcedureId::CertRenewal,
        start: "2026-12-04T09:00:00".parse().unwrap(),
        resident: ResidentInput {
            name: ResidentName::parse("山田 太郎").unwrap(),
            identity: ResidentIdentity::Person {
                name_key: madoguchi::domain::identity::name_key("山田 太郎"),
                birth_date: madoguchi_tests::birth_date_of("inflight@example.jp")
                    .parse()
                    .unwrap(),
            },
            factors: Vec::new(),
            proxy: false,
            lang: "ja",
        },
        certificate_expiry: Some("2027-01-31".parse().unwrap()),
        idempotency: Some(IdempotencyKey(key.into())),
    };
    // The first request has claimed its seat but not yet written its row.
    let now = app.clock.now();
    let claim = SeatClaim {
        claim_id: uuid::Uuid::new_v4(),
        slot: madoguchi::domain::slots::SlotRef {
            office: request.office.clone(),
            procedure: request.procedure,
            date: "2026-12-04".parse().unwrap(),
            start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        },
        capacity: 2,
        idempotency: app.booking.idempotency_mark(&request),
        resident: None,
        deadline: now + chrono::Duration::seconds(60),
        now,
    };
    app.booking.hot().claim(&claim).await.unwrap();
    let retry = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Idempotency-Key", key)
        .json(&renewal("main", NINE, "inflight@example.jp"))
        .send()
        .await
        .unwrap();
    assert!(retry.headers().contains_key("retry-after"));
    assert_problem(retry, 409, "idempotency-in-progress").await;
}

on_both_backends!(
    a_retried_request_returns_the_same_booking,
    a_replayed_key_is_found_in_the_ledger_even_when_the_hot_state_forgot_it,
    a_retry_while_the_first_request_is_still_in_flight_is_told_to_wait,
);
