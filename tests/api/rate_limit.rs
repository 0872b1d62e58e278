use madoguchi::config::settings::RateLimit;
use madoguchi_tests::{Backend, Options, assert_problem, on_both_backends, renewal, spawn_with};

async fn booking_writes_are_rate_limited_per_client_and_reads_are_not(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        settings: Box::new(|s| {
            s.rate_limit = RateLimit {
                per_minute: 6,
                burst: 3,
            };
        }),
        ..Options::default()
    })
    .await;
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
    assert!(limited.headers().contains_key("retry-after"));
    assert_problem(limited, 429, "rate-limited").await;
    for _ in 0..10 {
        assert_eq!(
            app.get("/api/v1/offices/main/availability?procedure=cert_renewal")
                .await
                .status(),
            200
        );
    }
}

on_both_backends!(booking_writes_are_rate_limited_per_client_and_reads_are_not,);
