//! Hundreds of residents try the same slot at once: exactly capacity succeed.
use futures_util::future::join_all;
use madoguchi_tests::{Backend, Options, city, on_both_backends, spawn_with};
use serde_json::{Value, json};

pub const RUSH_CITY: &str = r#"
[municipality]
name = { ja = "混雑市", en = "Rush City" }
[[offices]]
id = "main"
name = { ja = "本庁", en = "Main" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 8
hours.mon = ["08:30-12:00"]
hours.tue = ["08:30-12:00"]
hours.wed = ["08:30-12:00"]
hours.thu = ["08:30-12:00"]
hours.fri = ["08:30-12:00"]
[offices.booking]
closes_days_before = 1
[offices.procedures]
card_pickup = { capacity = 5, slot_minutes = 15 }
"#;

async fn three_hundred_simultaneous_bookings_for_five_seats(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(RUSH_CITY),
        ..Options::default()
    })
    .await;
    let start = "2026-12-04T08:30:00+09:00";
    let requests = (0..300).map(|i| {
        let body = json!({
            "office_id": "main", "procedure": "card_pickup", "start": start,
            "resident": { "name": format!("住民 {i}") },
            "notice_number": format!("{:08}", 10_000 + i), "birth_date": "1990-01-01",
        });
        let client = app.client.clone();
        let url = app.url("/api/v1/reservations");
        async move {
            let response = client.post(url).json(&body).send().await.expect("request");
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap_or("").to_owned());
            let body: Value = response.json().await.expect("JSON body");
            (status, content_type, body)
        }
    });
    let results = join_all(requests).await;
    let created: Vec<&Value> = results
        .iter()
        .filter(|(s, _, _)| *s == 201)
        .map(|(_, _, b)| b)
        .collect();
    let full = results
        .iter()
        .filter(|(s, ct, b)| {
            *s == 409
                && ct.as_deref() == Some("application/problem+json")
                && b["type"] == "/problems/slot-full"
        })
        .count();
    assert_eq!(created.len(), 5, "exactly capacity bookings succeed");
    assert_eq!(
        full,
        295,
        "every other request is refused as full: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    assert_eq!(app.confirmed_seats().await, [0, 1, 2, 3, 4]);
    let mut references: Vec<&str> = created
        .iter()
        .map(|b| b["reference"].as_str().unwrap())
        .collect();
    references.sort();
    references.dedup();
    assert_eq!(references.len(), 5);
    assert_eq!(app.remaining_at("main", "card_pickup", start).await, 0);
}

on_both_backends!(multi_thread: three_hundred_simultaneous_bookings_for_five_seats);
