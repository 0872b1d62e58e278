use madoguchi_tests::{Backend, assert_problem, on_both_backends, pickup, renewal, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const NINE: &str = "2026-12-04T09:00:00+09:00";
const TEN: &str = "2026-12-04T10:00:00+09:00";

async fn cancelling_returns_the_seat_and_is_idempotent(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app
        .book_ok(&renewal("main", NINE, "cancel@example.jp"))
        .await;
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);
    let path = format!("/api/v1/reservations/{}", t.reference);
    let cancelled = app
        .with_secret(Method::DELETE, &path, &t.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let body: Value = cancelled.json().await.unwrap();
    assert_eq!(body["status"], "cancelled");
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 2);
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 0);
    let again = app
        .with_secret(Method::DELETE, &path, &t.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    // The resident may book the same procedure again.
    app.book_ok(&renewal("main", TEN, "cancel@example.jp"))
        .await;
    // The audit trail has both events.
    let kinds = app.event_kinds(&t.reference).await;
    assert_eq!(kinds, ["booked", "cancelled"]);
}

async fn online_cancellation_closes_at_the_cut_off(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app
        .book_ok(&renewal("main", NINE, "cutoff@example.jp"))
        .await;
    // 4 December slot, 2 days' cut-off: online changes end on 2 December.
    app.clock.set(
        "2026-12-03T00:00:00+09:00"
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .unwrap()
            .into(),
    );
    let path = format!("/api/v1/reservations/{}", t.reference);
    let late = app
        .with_secret(Method::DELETE, &path, &t.secret)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(late, 422, "cancellation-closed").await;
    assert_eq!(problem["last_day"], "2026-12-02");
    let moved = app
        .with_secret(Method::POST, &format!("{path}/reschedule"), &t.secret)
        .json(&json!({ "start": "2026-12-11T09:00:00+09:00", "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_problem(moved, 422, "cancellation-closed").await;
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 1);
}

async fn rescheduling_takes_the_new_seat_before_giving_back_the_old(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app.book_ok(&renewal("main", NINE, "move@example.jp")).await;
    let path = format!("/api/v1/reservations/{}/reschedule", t.reference);
    let moved = app
        .with_secret(Method::POST, &path, &t.secret)
        .json(&json!({ "start": TEN, "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let body: Value = moved.json().await.unwrap();
    assert_eq!(body["start"], TEN);
    assert_eq!(
        body["reference"],
        t.reference.as_str(),
        "the reference stays"
    );
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 2);
    assert_eq!(app.remaining_at("main", "cert_renewal", TEN).await, 1);

    // A full target slot: 409, and the booking stays where it was.
    let eleven = "2026-12-04T11:00:00+09:00";
    app.book_ok(&renewal("main", eleven, "a@example.jp")).await;
    app.book_ok(&renewal("main", eleven, "b@example.jp")).await;
    let full = app
        .with_secret(Method::POST, &path, &t.secret)
        .json(&json!({ "start": eleven, "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_problem(full, 409, "slot-full").await;
    assert_eq!(app.remaining_at("main", "cert_renewal", TEN).await, 1);
    assert_eq!(app.active_rows("main", "cert_renewal", eleven).await, 2);

    // To another office: the resident rule moves along.
    let other = app
        .with_secret(Method::POST, &path, &t.secret)
        .json(&json!({ "start": NINE, "office_id": "south", "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(app.remaining_at("main", "cert_renewal", TEN).await, 2);
    assert_eq!(app.remaining_at("south", "cert_renewal", NINE).await, 0);
    // The resident still cannot hold a second renewal, at either office.
    let second = app
        .book(&renewal(
            "main",
            "2026-12-07T09:00:00+09:00",
            "move@example.jp",
        ))
        .await;
    assert_problem(second, 422, "already-booked").await;
}

async fn rescheduling_checks_the_rules_of_the_new_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app
        .book_ok(&renewal("main", NINE, "rules@example.jp"))
        .await;
    let path = format!("/api/v1/reservations/{}/reschedule", t.reference);
    let after_expiry = app
        .with_secret(Method::POST, &path, &t.secret)
        .json(&json!({ "start": "2027-01-04T09:00:00+09:00", "certificate_expiry": "2026-12-31" }))
        .send()
        .await
        .unwrap();
    assert_problem(after_expiry, 422, "certificate-expired").await;
    // Without the expiry, the one given at booking counts: a day after it is refused, a
    // day before it is fine.
    let mut soon = renewal("main", NINE, "soon@example.jp");
    soon["certificate_expiry"] = json!("2026-12-10");
    let s = app.book_ok(&soon).await;
    let past_kept_expiry = app
        .with_secret(
            Method::POST,
            &format!("/api/v1/reservations/{}/reschedule", s.reference),
            &s.secret,
        )
        .json(&json!({ "start": "2026-12-11T09:00:00+09:00" }))
        .send()
        .await
        .unwrap();
    assert_problem(past_kept_expiry, 422, "certificate-expired").await;
    let kept_expiry = app
        .with_secret(Method::POST, &path, &t.secret)
        .json(&json!({ "start": TEN }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        kept_expiry.status(),
        200,
        "no need to type the expiry again"
    );
    let closed = app
        .with_secret(Method::POST, &path, &t.secret)
        .json(&json!({ "start": "2026-12-05T09:00:00+09:00", "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_problem(closed, 422, "office-closed").await;
}

async fn operations_that_do_not_fit_the_state_are_refused_with_409(backend: Backend) {
    let app = spawn_app(backend).await;
    // A hold cannot be rescheduled: confirm it first.
    let held: Value = app
        .post_json(
            "/api/v1/holds",
            &json!({ "office_id": "main", "procedure": "cert_renewal", "start": NINE }),
        )
        .await
        .json()
        .await
        .unwrap();
    let (reference, secret) = (
        held["reference"].as_str().unwrap(),
        held["secret"].as_str().unwrap(),
    );
    let moved = app
        .with_secret(
            Method::POST,
            &format!("/api/v1/reservations/{reference}/reschedule"),
            secret,
        )
        .json(&json!({ "start": TEN, "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(moved, 409, "wrong-state").await;
    assert_eq!(problem["reservation_status"], "held");
    // A released hold cannot be confirmed.
    app.with_secret(
        Method::DELETE,
        &format!("/api/v1/reservations/{reference}"),
        secret,
    )
    .send()
    .await
    .unwrap();
    let confirm = app
        .with_secret(Method::POST, &format!("/api/v1/reservations/{reference}/confirm"), secret)
        .json(&json!({ "resident": { "name": "状態 太郎", "email": "state@example.jp" }, "birth_date": "1960-05-01", "certificate_expiry": "2027-01-31" }))
        .send()
        .await
        .unwrap();
    assert_problem(confirm, 409, "wrong-state").await;
}

/// A reference is read as a person types it back; a typo is told as a typo, before any
/// lookup, and not as an unknown booking.
async fn a_reference_is_read_as_typed_and_a_typo_is_told_apart(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = app
        .book_ok(&renewal("main", NINE, "typed@example.jp"))
        .await;
    let plain = t.reference.replace('-', "");
    for typed in [
        plain.to_lowercase(),
        plain.clone(),
        t.reference.to_lowercase(),
    ] {
        let found = app
            .with_secret(
                Method::GET,
                &format!("/api/v1/reservations/{typed}"),
                &t.secret,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(found.status(), 200, "{typed}");
        let body: Value = found.json().await.unwrap();
        assert_eq!(body["reference"], t.reference.as_str());
    }
    // One symbol changed: the check symbol catches it.
    const SYMBOLS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let first = plain.chars().next().unwrap();
    let other = SYMBOLS.chars().find(|c| *c != first).unwrap();
    let typo = format!("{other}{}", &plain[1..]);
    let answer = app
        .with_secret(
            Method::GET,
            &format!("/api/v1/reservations/{typo}"),
            &t.secret,
        )
        .header("accept-language", "ja")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(answer, 422, "unacceptable-field").await;
    assert_eq!(problem["errors"][0]["field"], "reference");
    assert!(
        problem["detail"].as_str().unwrap().contains("入力まちがい"),
        "{problem}"
    );
    // Too short is not of the documented form at all.
    let short = app
        .with_secret(Method::GET, "/api/v1/reservations/K7MQ", &t.secret)
        .send()
        .await
        .unwrap();
    assert_problem(short, 400, "invalid-field").await;
    // Staff reception takes the reference as typed too, and tells a typo the same way.
    let staff = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    let typo_check_in = app
        .client
        .post(app.url("/api/v1/offices/main/check-ins"))
        .bearer_auth(&staff)
        .json(&json!({ "reference": typo }))
        .send()
        .await
        .unwrap();
    assert_problem(typo_check_in, 422, "unacceptable-field").await;
}

/// Without the secret, the reference and what the resident gave at booking (the contact,
/// typed any way, or the birth date) open the booking and give the secret again; wrong
/// answers read like an unknown reference and are budgeted tightly per booking.
async fn a_booking_opens_with_its_reference_and_the_contact_or_birth_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let renewed = app
        .book_ok(&renewal("main", NINE, "factor.taro@example.jp"))
        .await;
    let picked = app.book_ok(&pickup("main", TEN, "12345678")).await;
    let access = |reference: &str, body: Value| {
        app.client
            .post(app.url(&format!("/api/v1/reservations/{reference}/access")))
            .header("accept-language", "en")
            .json(&body)
            .send()
    };
    let opened = access(
        &renewed.reference.to_lowercase(),
        json!({ "contact": " ＦＡＣＴＯＲ.Taro＠example.jp " }),
    )
    .await
    .unwrap();
    assert_eq!(opened.status(), 200);
    assert_eq!(
        opened.headers()["cache-control"].to_str().unwrap(),
        "no-store"
    );
    let body: Value = opened.json().await.unwrap();
    assert_eq!(body["secret"], renewed.secret.as_str());
    assert_eq!(body["status"], "confirmed");
    // The secret it gave opens the booking as the one given at booking does.
    let found = app
        .with_secret(
            Method::GET,
            &format!("/api/v1/reservations/{}", renewed.reference),
            body["secret"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    let by_birth = access(&picked.reference, json!({ "birth_date": "1985-06-15" }))
        .await
        .unwrap();
    assert_eq!(by_birth.status(), 200);
    // Wrong answers read like an unknown reference.
    for (reference, body) in [
        (&renewed.reference, json!({ "contact": "other@example.jp" })),
        (&renewed.reference, json!({ "birth_date": "1985-06-15" })),
        (
            &renewed.reference,
            json!({ "contact": "factor.taro@example.jp", "birth_date": "1985-06-15" }),
        ),
        (&picked.reference, json!({ "contact": "090-1234-5678" })),
    ] {
        let wrong = access(reference, body.clone()).await.unwrap();
        assert_problem(wrong, 404, "reservation-not-found").await;
    }
    let nothing = access(&renewed.reference, json!({})).await.unwrap();
    let problem = assert_problem(nothing, 422, "unacceptable-field").await;
    assert_eq!(problem["errors"][0]["field"], "contact");
    let bad = access(&renewed.reference, json!({ "contact": "taro@" }))
        .await
        .unwrap();
    assert_problem(bad, 400, "invalid-field").await;
    // Birth dates are few: after five wrong ones a booking takes no more for an hour,
    // even the right one, and the secret still works.
    for day in 1..=5 {
        let wrong = access(
            &picked.reference,
            json!({ "birth_date": format!("1985-07-{day:02}") }),
        )
        .await
        .unwrap();
        assert_eq!(wrong.status(), 404, "try {day}");
    }
    let right = access(&picked.reference, json!({ "birth_date": "1985-06-15" }))
        .await
        .unwrap();
    let problem = assert_problem(right, 429, "rate-limited").await;
    assert!(problem["detail"].as_str().is_some(), "{problem}");
    let with_secret = app
        .with_secret(
            Method::GET,
            &format!("/api/v1/reservations/{}", picked.reference),
            &picked.secret,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(with_secret.status(), 200);
}

on_both_backends!(
    cancelling_returns_the_seat_and_is_idempotent,
    online_cancellation_closes_at_the_cut_off,
    rescheduling_takes_the_new_seat_before_giving_back_the_old,
    rescheduling_checks_the_rules_of_the_new_day,
    operations_that_do_not_fit_the_state_are_refused_with_409,
    a_reference_is_read_as_typed_and_a_typo_is_told_apart,
    a_booking_opens_with_its_reference_and_the_contact_or_birth_date,
);
