//! A backend outage gets a clean 503 problem (retryable), nothing is lost, and service
//! recovers by itself when the backend returns — including a Redis that comes back empty.
use madoguchi::config::settings::Secret;
use madoguchi_tests::chaos::{ChaosProxy, PrivateRedis};
use madoguchi_tests::{Options, assert_problem, renewal, spawn_with};
use serde_json::Value;

const NINE: &str = "2026-12-04T09:00:00+09:00";

#[tokio::test]
async fn postgres_unreachable_gives_503_and_the_seat_goes_back() {
    // Point the app at its PostgreSQL through a proxy we can cut.
    let (app, proxy) = behind_a_proxy(3_000).await;
    app.book_ok(&renewal("main", NINE, "before@example.jp"))
        .await;

    proxy.cut();
    let during = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Idempotency-Key", "outage-1")
        .json(&renewal("main", NINE, "during@example.jp"))
        .send()
        .await
        .unwrap();
    assert!(during.headers().contains_key("retry-after"));
    assert_problem(during, 503, "service-unavailable").await;
    assert_problem(app.get("/health/ready").await, 503, "service-unavailable").await;
    // The hot state gave the seat back: one seat is still free.
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);

    proxy.restore();
    eventually_ready(&app).await;
    // The same request, retried with its key, now succeeds.
    let retried = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("Idempotency-Key", "outage-1")
        .json(&renewal("main", NINE, "during@example.jp"))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 201);
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 2);
}

/// The app's PostgreSQL behind a proxy the test can cut, with `acquire_ms` of pool wait.
async fn behind_a_proxy(acquire_ms: u64) -> (madoguchi_tests::TestApp, ChaosProxy) {
    let (proxy, through) = ChaosProxy::in_front_of(&madoguchi_tests::database_url()).await;
    let app = spawn_with(Options {
        settings: Box::new(move |s| {
            // The test's own database, reached through the proxy.
            let own = s.database_url.take().unwrap();
            let name = own.expose().rsplit_once('/').unwrap().1.to_owned();
            let base = through.rsplit_once('/').unwrap().0.to_owned();
            s.database_url = Some(Secret::new(format!("{base}/{name}")));
            s.database_pool_size = 2;
            s.database_acquire_timeout_ms = acquire_ms;
        }),
        ..Options::default()
    })
    .await;
    (app, proxy)
}

/// While PostgreSQL was down, each 503 waited the pool timeout once or twice (~6 s):
/// clients piled up on slow failures. Once the outage is known, every answer is a quick
/// 503 with Retry-After, and the service recovers by itself when the database returns.
#[tokio::test]
async fn while_postgres_is_down_answers_are_quick_503s_and_it_recovers_by_itself() {
    // A pool wait of 10 s: an answer that waited for the pool would take that long.
    let (app, proxy) = behind_a_proxy(10_000).await;
    app.book_ok(&renewal("main", NINE, "before@example.jp"))
        .await;
    assert_eq!(
        app.take_ticket_ok("main", "card_pickup").await["number"],
        "A-001"
    );
    proxy.cut();
    // The first failure tells the ledger the database is gone (not timed: it may wait).
    assert_problem(
        app.book(&renewal("main", NINE, "first@example.jp")).await,
        503,
        "service-unavailable",
    )
    .await;
    for i in 0..10 {
        let started = std::time::Instant::now();
        let booking = app
            .book(&renewal("main", NINE, &format!("down{i}@example.jp")))
            .await;
        assert!(booking.headers().contains_key("retry-after"));
        assert_problem(booking, 503, "service-unavailable").await;
        let ticket = app.take_ticket("main", "card_pickup").await;
        assert_problem(ticket, 503, "service-unavailable").await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "a booking and a ticket refused in {:?}, not after the pool's 10 s",
            started.elapsed()
        );
    }
    proxy.restore();
    eventually_ready(&app).await;
    app.book_ok(&renewal("main", NINE, "after@example.jp"))
        .await;
    // No number was used up by the refused tickets (48 gaps in the measured outage):
    // refused before numbering, or the number given back.
    assert_eq!(
        app.take_ticket_ok("main", "card_pickup").await["number"],
        "A-002"
    );
}

#[tokio::test]
async fn redis_down_gives_503_and_redis_back_empty_is_rebuilt() {
    let mut redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = spawn_with(Options {
        settings: Box::new(move |s| {
            s.redis_url = Some(Secret::new(url));
            s.redis_timeout_ms = 500;
        }),
        ..Options::default()
    })
    .await;
    let kept = app.book_ok(&renewal("main", NINE, "kept@example.jp")).await;

    redis.stop();
    let during = app.book(&renewal("main", NINE, "down@example.jp")).await;
    assert_problem(during, 503, "service-unavailable").await;
    let ready = app.get("/health/ready").await;
    let body = assert_problem(ready, 503, "service-unavailable").await;
    assert_eq!(body["checks"]["hot_state"], "unavailable");
    assert_eq!(body["checks"]["ledger"], "ok");
    // Reading a booking needs only the ledger.
    let seen = app
        .with_secret(
            reqwest::Method::GET,
            &format!("/api/v1/reservations/{}", kept.reference),
            &kept.secret,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 200);

    // Redis returns with nothing in it: the next request rebuilds from the ledger.
    redis.restart().await;
    // The connection manager reconnects on its own after a failed command; wait for it
    // (bounded), then the first hot-state operation finds the epoch missing and rebuilds.
    eventually_ready(&app).await;
    let body: Value = app
        .get("/api/v1/offices/main/availability?procedure=cert_renewal&from=2026-12-04&to=2026-12-04")
        .await
        .json()
        .await
        .unwrap();
    let nine = body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["start"] == NINE)
        .unwrap()
        .clone();
    assert_eq!(
        nine["remaining"], 1,
        "the kept booking is back in the hot state"
    );
    app.book_ok(&renewal("main", NINE, "after@example.jp"))
        .await;
    let full = app.book(&renewal("main", NINE, "toomany@example.jp")).await;
    assert_problem(full, 409, "slot-full").await;
}

/// Polls readiness until it answers 200, for at most 10 s: reconnection is a background
/// process of the Redis client with no event to wait on.
async fn eventually_ready(app: &madoguchi_tests::TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if app.get("/health/ready").await.status() == 200 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the service did not reconnect to Redis"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
