use madoguchi_tests::{Backend, on_both_backends, spawn_app};
use serde_json::Value;

async fn live_and_ready_answer_when_both_backends_are_up(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = app.get("/health/live").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["ledger"], "ok");
    assert_eq!(body["checks"]["hot_state"], "ok");
}

async fn request_ids_are_echoed_or_generated(backend: Backend) {
    let app = spawn_app(backend).await;
    let echoed = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let generated = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "no spaces or <tags> allowed")
        .send()
        .await
        .unwrap();
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a fresh UUID replaces an unsafe id: {id}");
}

async fn metrics_count_requests_by_route_pattern(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/api/v1/offices").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("madoguchi_http_request_duration_seconds")
            && text.contains("route=\"/api/v1/offices\""),
        "{text}"
    );
}

async fn the_openapi_document_describes_every_operation_and_swagger_ui_is_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/offices", "get"),
        ("/api/v1/offices/{office_id}", "get"),
        ("/api/v1/offices/{office_id}/availability", "get"),
        ("/api/v1/procedures", "get"),
        ("/api/v1/reservations", "post"),
        ("/api/v1/holds", "post"),
        ("/api/v1/reservations/{reference}", "get"),
        ("/api/v1/reservations/{reference}", "delete"),
        ("/api/v1/reservations/{reference}/confirm", "post"),
        ("/api/v1/reservations/{reference}/reschedule", "post"),
        ("/api/v1/waiting-rooms", "get"),
        ("/api/v1/waiting-rooms/{room_id}", "get"),
        ("/api/v1/waiting-rooms/{room_id}", "put"),
        ("/api/v1/waiting-rooms/{room_id}", "delete"),
        ("/api/v1/waiting-rooms/{room_id}/join", "post"),
        ("/api/v1/waiting-rooms/{room_id}/status", "get"),
        ("/health/live", "get"),
        ("/health/ready", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger"));
    let problem: Value = app.get("/problems/slot-full").await.json().await.unwrap();
    assert_eq!(problem["status"], 409);
}

on_both_backends!(
    live_and_ready_answer_when_both_backends_are_up,
    request_ids_are_echoed_or_generated,
    metrics_count_requests_by_route_pattern,
    the_openapi_document_describes_every_operation_and_swagger_ui_is_served,
);

/// The pooled Redis mode (measured against the shared connection) gives the same answers.
#[tokio::test]
async fn the_pooled_redis_mode_works_the_same() {
    let app = madoguchi_tests::spawn_with(madoguchi_tests::Options {
        settings: Box::new(|s| s.redis_pool_size = Some(4)),
        ..madoguchi_tests::Options::default()
    })
    .await;
    app.book_ok(&madoguchi_tests::renewal(
        "main",
        "2026-12-04T09:00:00+09:00",
        "pool@example.jp",
    ))
    .await;
    assert_eq!(
        app.remaining_at("main", "cert_renewal", "2026-12-04T09:00:00+09:00")
            .await,
        1
    );
    let ticket = app.take_ticket_ok("main", "card_pickup").await;
    assert_eq!(ticket["number"], "A-001");
    let token = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
}
