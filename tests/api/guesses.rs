//! Wrong secrets and tokens are throttled per client and per target: 60 wrong secrets,
//! 30 sign-ins and 20 bearer checks in a row were answered at full speed, never 429.
use madoguchi::store::queue::StaffRole;
use madoguchi_tests::{Backend, assert_problem, on_both_backends, renewal, spawn_app};

const NINE: &str = "2026-12-04T09:00:00+09:00";

async fn wrong_reservation_secrets_are_throttled_and_then_even_the_right_one_waits(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let booked = app.book_ok(&renewal("main", NINE, "g@example.jp")).await;
    let path = format!("/api/v1/reservations/{}", booked.reference);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let wrong = app
            .with_secret(reqwest::Method::GET, &path, "AAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        statuses.push(wrong.status().as_u16());
    }
    let first_429 = statuses.iter().position(|s| *s == 429);
    assert_eq!(
        first_429,
        Some(11),
        "ten wrong secrets answered 404, then refused: {statuses:?}"
    );
    let refused = app
        .with_secret(reqwest::Method::GET, &path, &booked.secret)
        .send()
        .await
        .unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429, "rate-limited").await;
    // Another booking from this client: also refused (the client's budget is spent).
    let other = app.book_ok(&renewal("main", NINE, "h@example.jp")).await;
    let refused = app
        .with_secret(
            reqwest::Method::GET,
            &format!("/api/v1/reservations/{}", other.reference),
            &other.secret,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
}

async fn unknown_staff_tokens_are_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let guess = format!("mdg_{i:0>43}");
        statuses.push(
            app.counter(&guess, "main", "1", "call-next")
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        11,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429));
    // The right token from the same client waits too: nothing is checked meanwhile.
    assert_problem(
        app.counter(&token, "main", "1", "call-next").await,
        429,
        "rate-limited",
    )
    .await;
}

async fn forged_ticket_ids_are_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    let ticket = app.take_ticket_ok("main", "card_pickup").await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let forged = format!("{}{}", &id[..40], ["AAA", "BBB", "CCC"][i % 3]);
        statuses.push(
            app.get(&format!("/api/v1/tickets/{forged}"))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(
        app.get(&format!("/api/v1/tickets/{id}")).await.status(),
        429,
        "the client waits before anything is checked"
    );
}

on_both_backends!(
    wrong_reservation_secrets_are_throttled_and_then_even_the_right_one_waits,
    unknown_staff_tokens_are_throttled,
    forged_ticket_ids_are_throttled,
);
