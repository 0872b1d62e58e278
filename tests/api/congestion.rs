//! Live congestion, its stream, the learnt estimate, history and repair of queues.
use chrono::{DateTime, Duration, FixedOffset, Utc};
use futures_util::StreamExt;
use madoguchi::domain::OfficeId;
use madoguchi::domain::procedure::ProcedureId;
use madoguchi::domain::queue::{LineId, TicketClass};
use madoguchi::domain::time::Clock;
use madoguchi::service::maintenance::BATCH;
use madoguchi::store::queue::{IssueRequest, StaffRole};
use madoguchi_tests::{
    Backend, Options, TestApp, assert_problem, city, on_both_backends, spawn_app, spawn_with,
};
use serde_json::Value;

fn at(s: &str) -> DateTime<Utc> {
    s.parse::<DateTime<FixedOffset>>().unwrap().into()
}

async fn congestion(app: &TestApp, office: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/offices/{office}/congestion"))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn congestion_shows_what_displays_and_residents_need(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    for _ in 0..3 {
        app.take_ticket_ok("main", "card_pickup").await;
    }
    app.call_next(&token, "main", "1").await;
    let c = congestion(&app, "main").await;
    assert_eq!(c["office_id"], "main");
    assert_eq!(c["updated_at"], "2026-12-01T10:00:00+09:00");
    let a = &c["lines"][0];
    assert_eq!(
        (a["line_id"].as_str(), a["prefix"].as_str()),
        (Some("a"), Some("A"))
    );
    assert_eq!(a["waiting"], 2);
    assert_eq!(a["now_calling"], serde_json::json!(["A-001"]));
    assert_eq!(a["counters_open"], 2);
    assert_eq!(a["service_minutes"][0]["minutes"], 15.0);
    assert!(a["estimated_wait"]["p50_minutes"].as_u64().unwrap() > 0);
    assert_eq!(a["intake"]["open"], true);
    // The level comes with text and an icon, never colour alone.
    assert!(["quiet", "moderate", "crowded"].contains(&a["level"].as_str().unwrap()));
    assert!(a["label"]["ja"].as_str().is_some() && a["icon"].as_str().is_some());
    assert_eq!(c["counters"][0]["number"], "A-001");
    assert_eq!(c["counters"][0]["status"], "called");
    assert_eq!(c["recent_calls"][0]["number"], "A-001");
    let all: Value = app.get("/api/v1/congestion").await.json().await.unwrap();
    assert_eq!(all["offices"].as_array().unwrap().len(), 4);
    // Branches count people: five waiting is moderate there.
    for _ in 0..5 {
        app.take_ticket_ok("north", "cert_renewal").await;
    }
    let north = congestion(&app, "north").await;
    assert_eq!(north["lines"][0]["level"], "moderate");
    assert_eq!(north["lines"][0]["label"]["ja"], "やや混雑");
    assert_problem(
        app.get("/api/v1/offices/nowhere/congestion").await,
        404,
        "office-not-found",
    )
    .await;
}

const SMALL: &str = r#"
[municipality]
name = { ja = "小町", en = "Small Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 2
hours.tue = ["08:30-19:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }
"#;

async fn estimates_follow_the_service_times_when_the_national_system_slows_down(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(SMALL),
        now: at("2026-12-01T09:00:00+09:00"),
        ..Options::default()
    })
    .await;
    let token = app.staff_token("desk", StaffRole::Staff).await;
    async fn wait_behind_four(app: &TestApp) -> u64 {
        let c = congestion(app, "desk").await;
        c["lines"][0]["estimated_wait"]["p50_minutes"]
            .as_u64()
            .unwrap()
    }
    for _ in 0..4 {
        app.take_ticket_ok("desk", "cert_renewal").await;
    }
    let before = wait_behind_four(&app).await;
    // Each procedure now takes 25 minutes instead of 15.
    for _ in 0..4 {
        assert!(app.call_next(&token, "desk", "1").await.is_some());
        assert_eq!(
            app.counter(&token, "desk", "1", "start").await.status(),
            200
        );
        app.clock.advance(Duration::minutes(25));
        assert_eq!(
            app.counter(&token, "desk", "1", "finish").await.status(),
            200
        );
    }
    let c = congestion(&app, "desk").await;
    let learnt = c["lines"][0]["service_minutes"][0]["minutes"]
        .as_f64()
        .unwrap();
    assert!(learnt > 22.0, "learnt {learnt} minutes");
    for _ in 0..4 {
        app.take_ticket_ok("desk", "cert_renewal").await;
    }
    let after = wait_behind_four(&app).await;
    assert!(
        after as f64 >= before as f64 * 1.4,
        "estimate moved from {before} to {after} minutes"
    );
}

/// Reads server-sent events until one satisfies `want`; fails after 10 s.
async fn next_event(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Unpin),
    buffer: &mut String,
    want: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let value: Value = serde_json::from_str(data).unwrap();
                if want(&value) {
                    return value;
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("no matching event within 10 s");
        match chunk {
            Some(Ok(bytes)) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("the stream ended: {other:?}"),
        }
    }
}

async fn the_stream_sends_figures_on_every_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    let response = app.get("/api/v1/offices/main/congestion/stream").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let first = next_event(&mut stream, &mut buffer, |_| true).await;
    assert_eq!(first["lines"][0]["waiting"], 0);
    app.take_ticket_ok("main", "card_pickup").await;
    next_event(&mut stream, &mut buffer, |c| c["lines"][0]["waiting"] == 1).await;
    app.call_next(&token, "main", "2").await;
    let called = next_event(&mut stream, &mut buffer, |c| {
        c["lines"][0]["now_calling"][0] == "A-001"
    })
    .await;
    assert_eq!(called["counters"][1]["number"], "A-001");
    // On shutdown the stream ends instead of hanging.
    let shutdown = app.shutdown.clone();
    tokio::spawn(async move { shutdown.shutdown().await });
    let end = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
    assert!(end.is_ok(), "the stream did not end on shutdown");
}

/// Change notices are coalesced while one is in flight; the last change of a burst must
/// still reach the stream.
async fn the_stream_ends_a_burst_with_its_last_change(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/api/v1/offices/main/congestion/stream").await;
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    next_event(&mut stream, &mut buffer, |_| true).await;
    let burst = 40;
    futures_util::future::join_all((0..burst).map(|_| app.take_ticket_ok("main", "card_pickup")))
        .await;
    let last = next_event(&mut stream, &mut buffer, |c| {
        c["lines"][0]["waiting"] == burst
    })
    .await;
    assert_eq!(last["lines"][0]["waiting"], burst);
}

async fn snapshots_give_typical_congestion_and_open_data(backend: Backend) {
    let app = spawn_app(backend).await;
    for (time, tickets) in [
        ("2026-12-01T10:00:00+09:00", 4),
        ("2026-12-01T10:40:00+09:00", 2),
        ("2026-12-02T10:10:00+09:00", 6),
    ] {
        app.clock.set(at(time));
        for _ in 0..tickets {
            app.take_ticket_ok("main", "card_pickup").await;
        }
        assert_eq!(
            app.queue.take_snapshots().await.unwrap(),
            3 + 1 + 1 + 1,
            "one row per line of each open office"
        );
    }
    let typical: Value = app
        .get("/api/v1/offices/main/congestion/typical")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(typical["weeks"], 8);
    let a = typical["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["line_id"] == "a")
        .unwrap();
    let tuesday_ten = a["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["weekday"] == "tue" && c["hour"] == 10)
        .unwrap();
    assert_eq!(tuesday_ten["samples"], 2);
    assert_eq!(
        tuesday_ten["avg_waiting"], 5.0,
        "4 then 6 waiting (tickets accumulate)"
    );
    let wednesday = a["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["weekday"] == "wed")
        .unwrap();
    assert_eq!(
        wednesday["avg_waiting"], 6.0,
        "numbers restart, the day's queue is new"
    );
    let csv = app
        .get("/api/v1/congestion/history.csv?office_id=main&from=2026-12-01&to=2026-12-02")
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "office_id,line_id,taken_at,waiting,counters_open,wait_p50_minutes,wait_p90_minutes,level"
        )
    );
    assert_eq!(lines.clone().count(), 9, "three snapshots of three lines");
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("main,a,2026-12-01T10:00:00+09:00,4,2,")
    );
    let json: Value = app
        .get("/api/v1/congestion/history.json?from=2026-12-02&to=2026-12-02")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        json["rows"].as_array().unwrap().len(),
        6,
        "all offices on the 2nd"
    );
    assert_problem(
        app.get("/api/v1/congestion/history.csv?from=2026-12-05&to=2026-12-01")
            .await,
        422,
        "invalid-range",
    )
    .await;
    assert_problem(
        app.get("/api/v1/congestion/history.json?from=2026-13-01")
            .await,
        400,
        "invalid-field",
    )
    .await;
}

async fn a_wiped_hot_state_gives_back_the_queue_and_the_numbering(backend: Backend) {
    let mut app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    let tickets: Vec<Value> =
        futures_util::future::join_all((0..3).map(|_| app.take_ticket_ok("main", "card_pickup")))
            .await;
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
    app.counter(&token, "main", "1", "pause").await;
    app.lose_hot_state().await;
    // The next ticket continues the numbering from the ledger.
    assert_eq!(
        app.take_ticket_ok("main", "card_pickup").await["number"],
        "A-004"
    );
    let second = tickets.iter().find(|t| t["number"] == "A-002").unwrap();
    assert_eq!(
        app.ticket(second["id"].as_str().unwrap()).await["position"],
        1
    );
    // Counter 1 is still paused and still has A-001.
    let c = congestion(&app, "main").await;
    assert_eq!(
        (
            c["counters"][0]["paused"].as_bool(),
            c["counters"][0]["number"].as_str()
        ),
        (Some(true), Some("A-001"))
    );
    app.counter(&token, "main", "1", "resume").await;
    assert_problem(
        app.counter(&token, "main", "1", "call-next").await,
        409,
        "counter-busy",
    )
    .await;
    assert_eq!(
        app.counter(&token, "main", "1", "finish").await.status(),
        200
    );
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-002")
    );
}

/// A ticket of the main office's line A as an instance puts it in the queue before
/// writing it to the ledger (the tests let it die in between).
fn orphan_ticket(now: DateTime<Utc>) -> IssueRequest {
    IssueRequest {
        ticket_id: uuid::Uuid::new_v4(),
        office: OfficeId::parse("main").unwrap(),
        line: LineId::parse("a").unwrap(),
        prefix: "A".into(),
        date: now
            .with_timezone(&madoguchi::domain::time::TOKYO)
            .date_naive(),
        procedure: ProcedureId::CardPickup,
        class: TicketClass::Normal,
        reservation_id: None,
        slot_start_ms: None,
        now,
        deadline: now + Duration::seconds(60),
    }
}

async fn a_ticket_that_never_reached_the_ledger_is_dropped_by_the_reaper(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    // An instance put a ticket in the queue and died before writing it.
    app.queue.hot().issue(&orphan_ticket(now)).await.unwrap();
    app.take_ticket_ok("main", "card_pickup").await;
    assert_eq!(congestion(&app, "main").await["lines"][0]["waiting"], 2);
    assert_eq!(
        app.maintenance.run_once().await.unwrap().tickets_dropped,
        0,
        "not before the deadline"
    );
    app.clock.advance(Duration::seconds(61));
    let report = app.maintenance.run_once().await.unwrap();
    assert_eq!(report.tickets_dropped, 1, "{report:?}");
    assert_eq!(congestion(&app, "main").await["lines"][0]["waiting"], 1);
}

/// As for claims (recovery.rs): one pass drops more unwritten tickets than one round.
async fn one_reaper_pass_drops_more_tickets_than_one_round(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = app.clock.now();
    let office = OfficeId::parse("main").unwrap();
    app.take_ticket_ok("main", "card_pickup").await;
    let orphans = BATCH + 20;
    for _ in 0..orphans {
        app.queue.hot().issue(&orphan_ticket(now)).await.unwrap();
    }
    app.clock.advance(Duration::seconds(61));
    let report = app.maintenance.run_once().await.unwrap();
    assert_eq!(report.tickets_dropped, orphans, "{report:?}");
    assert_eq!(congestion(&app, "main").await["lines"][0]["waiting"], 1);
    let left = app.queue.hot().due_tickets(&office, app.clock.now(), 10);
    assert!(left.await.unwrap().is_empty());
}

on_both_backends!(
    one_reaper_pass_drops_more_tickets_than_one_round,
    congestion_shows_what_displays_and_residents_need,
    estimates_follow_the_service_times_when_the_national_system_slows_down,
    the_stream_sends_figures_on_every_change,
    the_stream_ends_a_burst_with_its_last_change,
    snapshots_give_typical_congestion_and_open_data,
    a_wiped_hot_state_gives_back_the_queue_and_the_numbering,
    a_ticket_that_never_reached_the_ledger_is_dropped_by_the_reaper,
);
