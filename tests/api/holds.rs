use madoguchi_tests::{Backend, assert_problem, birth_date_of, on_both_backends, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const NINE: &str = "2026-12-04T09:00:00+09:00";

fn hold_body() -> Value {
    json!({ "office_id": "main", "procedure": "cert_renewal", "start": NINE })
}

fn confirm_body(email: &str) -> Value {
    json!({
        "resident": { "name": "保留 太郎", "email": email },
        "birth_date": birth_date_of(email),
        "certificate_expiry": "2027-01-31",
    })
}

async fn a_hold_keeps_the_seat_until_confirmed(backend: Backend) {
    let app = spawn_app(backend).await;
    let held = app.post_json("/api/v1/holds", &hold_body()).await;
    assert_eq!(held.status(), 201);
    let body: Value = held.json().await.unwrap();
    assert_eq!(body["status"], "held");
    assert_eq!(body["hold_expires_at"], "2026-12-01T10:30:00+09:00");
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);
    let (reference, secret) = (
        body["reference"].as_str().unwrap(),
        body["secret"].as_str().unwrap(),
    );
    let path = format!("/api/v1/reservations/{reference}/confirm");
    let confirmed = app
        .with_secret(Method::POST, &path, secret)
        .json(&confirm_body("hold@example.jp"))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    let body: Value = confirmed.json().await.unwrap();
    assert_eq!(body["status"], "confirmed");
    assert!(body.get("hold_expires_at").is_none());
    // Confirming again answers the same; the resident rule now applies to them.
    let again = app
        .with_secret(Method::POST, &path, secret)
        .json(&confirm_body("hold@example.jp"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    // The trail tells a confirmed hold from a booking: "held", then "confirmed".
    assert_eq!(app.event_kinds(reference).await, ["held", "confirmed"]);
    let other = app.post_json("/api/v1/holds", &json!({ "office_id": "main", "procedure": "cert_renewal", "start": "2026-12-04T09:15:00+09:00" })).await;
    let other: Value = other.json().await.unwrap();
    let twice = app
        .with_secret(
            Method::POST,
            &format!(
                "/api/v1/reservations/{}/confirm",
                other["reference"].as_str().unwrap()
            ),
            other["secret"].as_str().unwrap(),
        )
        .json(&confirm_body("hold@example.jp"))
        .send()
        .await
        .unwrap();
    assert_problem(twice, 422, "already-booked").await;
}

async fn an_unconfirmed_hold_expires_and_its_seat_returns(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: Value = app
        .post_json("/api/v1/holds", &hold_body())
        .await
        .json()
        .await
        .unwrap();
    let (reference, secret) = (
        body["reference"].as_str().unwrap(),
        body["secret"].as_str().unwrap(),
    );
    app.clock.advance(chrono::Duration::minutes(31));
    let report = app.maintenance.run_once().await.unwrap();
    assert_eq!(report.holds_expired, 1);
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 2);
    let late = app
        .with_secret(
            Method::POST,
            &format!("/api/v1/reservations/{reference}/confirm"),
            secret,
        )
        .json(&confirm_body("slow@example.jp"))
        .send()
        .await
        .unwrap();
    assert_problem(late, 409, "hold-expired").await;
}

async fn a_hold_that_ran_out_cannot_be_confirmed_even_before_the_reaper_runs(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: Value = app
        .post_json("/api/v1/holds", &hold_body())
        .await
        .json()
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::minutes(30));
    let late = app
        .with_secret(
            Method::POST,
            &format!(
                "/api/v1/reservations/{}/confirm",
                body["reference"].as_str().unwrap()
            ),
            body["secret"].as_str().unwrap(),
        )
        .json(&confirm_body("edge@example.jp"))
        .send()
        .await
        .unwrap();
    assert_problem(late, 409, "hold-expired").await;
}

async fn releasing_a_hold_frees_the_seat(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: Value = app
        .post_json("/api/v1/holds", &hold_body())
        .await
        .json()
        .await
        .unwrap();
    let released = app
        .with_secret(
            Method::DELETE,
            &format!(
                "/api/v1/reservations/{}",
                body["reference"].as_str().unwrap()
            ),
            body["secret"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(released.status(), 200);
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 2);
}

on_both_backends!(
    a_hold_keeps_the_seat_until_confirmed,
    an_unconfirmed_hold_expires_and_its_seat_returns,
    a_hold_that_ran_out_cannot_be_confirmed_even_before_the_reaper_runs,
    releasing_a_hold_frees_the_seat,
);
