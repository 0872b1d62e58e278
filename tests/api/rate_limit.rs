use madoguchi::config::settings::RateLimit;
use madoguchi_tests::{
    Backend, Options, TestApp, assert_problem, on_both_backends, renewal, spawn_with,
};
use std::net::IpAddr;

async fn limited(backend: Backend, per_minute: u32, burst: u32, exempt: Vec<IpAddr>) -> TestApp {
    spawn_with(Options {
        backend,
        settings: Box::new(move |s| {
            s.rate_limit = RateLimit {
                per_minute,
                burst,
                exempt,
            };
        }),
        ..Options::default()
    })
    .await
}

async fn booking_writes_are_rate_limited_per_client_and_reads_are_not(backend: Backend) {
    let app = limited(backend, 6, 3, Vec::new()).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let body = renewal(
            "main",
            "2026-12-04T09:00:00+09:00",
            &format!("rl{i}@example.jp"),
        );
        statuses.push(app.book(&body).await.status().as_u16());
    }
    assert!(statuses.iter().all(|s| *s != 429), "{statuses:?}");
    let limited = app
        .book(&renewal(
            "main",
            "2026-12-04T09:15:00+09:00",
            "rl9@example.jp",
        ))
        .await;
    // One write every 10 s: the next is 9.9…10 s away, announced as 10, never 9.
    assert_eq!(limited.headers()["retry-after"], "10");
    assert_problem(limited, 429, "rate-limited").await;
    for _ in 0..10 {
        assert_eq!(
            app.get("/api/v1/offices/main/availability?procedure=cert_renewal")
                .await
                .status(),
            200
        );
    }
    // The gauge counts the client at once, not only after the next minute's sweep.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let clients = metrics
        .lines()
        .find(|l| l.starts_with("madoguchi_rate_limit_clients "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(clients.is_some_and(|n| n >= 1.0), "{metrics}");
}

/// A form with a CSRF pair, as a browser sends it.
async fn press_kiosk(app: &TestApp) -> reqwest::Response {
    let page = app.get("/kiosk/main").await;
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    app.client
        .post(app.url("/kiosk/main"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&procedure=card_pickup"))
        .send()
        .await
        .unwrap()
}

/// Bookings through the form and tickets through the kiosk page were never limited (15
/// of each in a second, where the API refused after 10): every write now shares the
/// client's one budget, pages answered with a page.
async fn pages_and_the_api_share_one_budget_per_client(backend: Backend) {
    let app = limited(backend, 6, 3, Vec::new()).await;
    for _ in 0..3 {
        assert_eq!(press_kiosk(&app).await.status(), 303);
    }
    let page = press_kiosk(&app).await;
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().await.unwrap().contains("お待ちください"));
    // The same client's API write finds the budget spent too.
    assert_problem(
        app.take_ticket("main", "card_pickup").await,
        429,
        "rate-limited",
    )
    .await;
    assert_eq!(
        app.queue_events("main")
            .await
            .iter()
            .filter(|(_, kind, _)| kind == "issued")
            .count(),
        3
    );
}

/// A kiosk (one device issues every ticket of the morning) is exempted by its address.
async fn an_exempt_address_is_not_limited(backend: Backend) {
    let app = limited(backend, 6, 1, vec!["127.0.0.1".parse().unwrap()]).await;
    for _ in 0..15 {
        assert_eq!(app.take_ticket("main", "card_pickup").await.status(), 201);
    }
}

on_both_backends!(
    booking_writes_are_rate_limited_per_client_and_reads_are_not,
    pages_and_the_api_share_one_budget_per_client,
    an_exempt_address_is_not_limited,
);
