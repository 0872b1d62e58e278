//! Slow and greedy clients cannot hold connections: a body shorter than its
//! Content-Length was held unanswered for as long as the client liked, and a 100 KB
//! header was accepted.
use madoguchi_tests::{Backend, Options, TestApp, on_both_backends, spawn_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `head` (and whatever body bytes it carries) on a fresh connection, then reads
/// until the server answers and closes, for at most 20 s; the answer's status line.
async fn raw(app: &TestApp, head: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    stream.write_all(head).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server neither answered nor closed");
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn a_body_that_never_comes_gets_408_and_the_connection_is_closed(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        settings: Box::new(|s| s.request_body_timeout_ms = 300),
        ..Options::default()
    })
    .await;
    let started = std::time::Instant::now();
    let status = raw(
        &app,
        b"POST /api/v1/reservations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\nConnection: keep-alive\r\n\r\n{\"office_id\"",
    )
    .await;
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "answered after the body timeout, not when the client gave up"
    );
    assert_eq!(app.reservation_count().await, 0);
}

async fn oversized_headers_are_refused(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        ..Options::default()
    })
    .await;
    let big = "x".repeat(100 * 1024);
    let response = app
        .client
        .get(app.url("/api/v1/offices"))
        .header("x-padding", big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    let fine = app
        .client
        .get(app.url("/api/v1/offices"))
        .header("x-padding", "x".repeat(4 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

on_both_backends!(
    a_body_that_never_comes_gets_408_and_the_connection_is_closed,
    oversized_headers_are_refused,
);
