//! Walk-in tickets, check-in with priority, counter operations, and staff auth.
use chrono::{DateTime, FixedOffset, Utc};
use futures_util::future::join_all;
use madoguchi::store::queue::StaffRole;
use madoguchi_tests::{
    Backend, Options, assert_problem, city, on_both_backends, renewal, spawn_app, spawn_with,
};
use serde_json::{Value, json};

fn at(s: &str) -> DateTime<Utc> {
    s.parse::<DateTime<FixedOffset>>().unwrap().into()
}

async fn tickets_are_numbered_per_line_and_durable_before_the_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let a1 = app.take_ticket_ok("main", "card_pickup").await;
    assert_eq!(a1["number"], "A-001");
    assert_eq!(a1["position"], 1);
    assert_eq!(a1["ahead"], 0);
    assert_eq!(a1["status"], "waiting");
    assert_eq!(a1["estimated_wait"]["p50_minutes"], 0);
    let b1 = app.take_ticket_ok("main", "cert_renewal").await;
    assert_eq!(b1["number"], "B-001", "each line has its own numbers");
    let a2 = app.take_ticket_ok("main", "card_pickup").await;
    assert_eq!(a2["number"], "A-002");
    assert_eq!(a2["position"], 2);
    assert!(a2["estimated_wait"]["p50_minutes"].as_u64().unwrap() > 0);
    assert!(
        a2["estimated_wait"]["p90_minutes"].as_u64()
            >= a2["estimated_wait"]["p50_minutes"].as_u64()
    );
    assert!(
        a2["pin_notice"]["ja"]
            .as_str()
            .unwrap()
            .contains("暗証番号")
    );
    // The public id is the status URL's only key: the ticket's id and 128 bits of MAC.
    let id = a2["id"].as_str().unwrap();
    assert_eq!(id.len(), 43);
    assert_eq!(a2["status_url"], format!("/api/v1/tickets/{id}"));
    let status = app.ticket(id).await;
    assert_eq!(status["number"], "A-002");
    assert_eq!(status["position"], 2);
    assert_eq!(
        app.queue_events("main")
            .await
            .iter()
            .filter(|(_, kind, _)| kind == "issued")
            .count(),
        3
    );
    assert_problem(
        app.get("/api/v1/tickets/00000000-0000-4000-8000-000000000000")
            .await,
        404,
        "ticket-not-found",
    )
    .await;
    assert_problem(
        app.get("/api/v1/tickets/A-002").await,
        404,
        "ticket-not-found",
    )
    .await;
    // The ticket's id alone, or its id with another ticket's MAC, names nothing: ids are
    // time-ordered, so neighbours' ids are guessable, the MAC is not.
    let uuid = madoguchi::service::keys::ticket_id_unverified(id).unwrap();
    assert_problem(
        app.get(&format!("/api/v1/tickets/{uuid}")).await,
        404,
        "ticket-not-found",
    )
    .await;
    let other = b1["id"].as_str().unwrap();
    let forged = format!("{}{}", &id[..21], &other[21..]);
    assert_problem(
        app.get(&format!("/api/v1/tickets/{forged}")).await,
        404,
        "ticket-not-found",
    )
    .await;
    assert_eq!(
        app.client
            .delete(app.url(&format!("/api/v1/tickets/{uuid}")))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nobody leaves the line for someone else"
    );
    // Numbers restart the next day.
    app.clock.set(at("2026-12-02T10:00:00+09:00"));
    assert_eq!(
        app.take_ticket_ok("main", "card_pickup").await["number"],
        "A-001"
    );
}

/// A busy desk that never closes intake by forecast, for the kiosk rush.
const RUSH: &str = r#"
[municipality]
name = { ja = "混雑町", en = "Rush Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 4
queue.close_on_forecast = false
hours.tue = ["08:30-17:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }
"#;

async fn concurrent_kiosks_never_issue_a_number_twice(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(RUSH),
        ..Options::default()
    })
    .await;
    let mut numbers = app.take_tickets_at_once("desk", "cert_renewal", 150).await;
    numbers.sort();
    let expected: Vec<String> = (1..=150).map(|n| format!("A-{n:03}")).collect();
    assert_eq!(numbers, expected, "contiguous, no duplicates");
    let issued = app
        .queue_events("desk")
        .await
        .iter()
        .filter(|(_, k, _)| k == "issued")
        .count();
    assert_eq!(issued, 150, "all durable");
}

/// Four counters calling at once while a kiosk issues: each ticket is called once, by
/// one counter, and a counter never holds two (a call decided on what changed meanwhile
/// is decided again).
async fn counters_calling_at_once_call_each_ticket_once(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(RUSH),
        ..Options::default()
    })
    .await;
    let token = app.staff_token("desk", StaffRole::Staff).await;
    let first = app.take_tickets_at_once("desk", "cert_renewal", 40).await;
    let counter = |c: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            let mut called = Vec::new();
            while let Some(number) = app.call_next(token, "desk", c).await {
                called.push(number);
                let finish = app.counter(token, "desk", c, "finish").await;
                assert_eq!(finish.status(), 200, "{c} finishes {}", called.len());
            }
            called
        }
    };
    let more = app.take_tickets_at_once("desk", "cert_renewal", 20);
    let (a, b, c, d, late) =
        tokio::join!(counter("1"), counter("2"), counter("3"), counter("4"), more);
    let mut all: Vec<String> = [a, b, c, d].concat();
    // Tickets issued after every counter found the line empty wait for the next call.
    while let Some(number) = app.call_next(&token, "desk", "1").await {
        all.push(number);
        assert_eq!(
            app.counter(&token, "desk", "1", "finish").await.status(),
            200
        );
    }
    all.sort();
    let mut issued: Vec<String> = [first, late].concat();
    issued.sort();
    assert_eq!(all, issued, "every ticket called exactly once");
}

async fn intake_closes_with_a_reason(backend: Backend) {
    let app = spawn_app(backend).await;
    let closed = |slug_reason: &'static str| slug_reason;
    app.clock.set(at("2026-12-01T08:10:00+09:00"));
    let early = assert_problem(
        app.take_ticket("main", "card_pickup").await,
        409,
        "intake-closed",
    )
    .await;
    assert_eq!(early["reason"], closed("not_yet_open"));
    assert_eq!(early["opens_at"], "08:15");
    app.clock.set(at("2026-12-01T16:46:00+09:00"));
    let late = assert_problem(
        app.take_ticket("main", "card_pickup").await,
        409,
        "intake-closed",
    )
    .await;
    assert_eq!(late["reason"], "ended");
    assert!(
        late["detail"]
            .as_str()
            .unwrap()
            .contains("本日の受付は終了しました")
    );
    app.clock.set(at("2026-12-05T10:00:00+09:00"));
    let saturday = assert_problem(
        app.take_ticket("main", "card_pickup").await,
        409,
        "intake-closed",
    )
    .await;
    assert_eq!(saturday["reason"], "office_closed");
    app.clock.set(at("2026-12-13T10:00:00+09:00"));
    let holiday_window = assert_problem(
        app.take_ticket("main", "card_pickup").await,
        409,
        "intake-closed",
    )
    .await;
    assert_eq!(holiday_window["reason"], "reservation_only");
    assert_problem(
        app.take_ticket("north", "pin_reset").await,
        422,
        "procedure-not-offered",
    )
    .await;
    let unknown = app.take_ticket("main", "renewal").await;
    assert_problem(unknown, 400, "invalid-field").await;
}

const SMALL: &str = r#"
[municipality]
name = { ja = "小町", en = "Small Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 2
hours.tue = ["08:30-17:00"]
hours.wed = ["08:30-17:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }
"#;

async fn intake_closes_when_the_queue_cannot_be_served_before_closing(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(SMALL),
        now: at("2026-12-01T15:00:00+09:00"),
        ..Options::default()
    })
    .await;
    // Two counters, 15 minutes each, closing at 17:00: a new ticket must be served by
    // then, so intake stops when the wait reaches about 105 minutes.
    let mut issued = 0;
    loop {
        let response = app.take_ticket("desk", "cert_renewal").await;
        if response.status() == 409 {
            let body = assert_problem(response, 409, "intake-closed").await;
            assert_eq!(body["reason"], "full");
            break;
        }
        assert_eq!(response.status(), 201);
        issued += 1;
        assert!(issued < 40, "intake never closed");
    }
    assert!(
        (13..=16).contains(&issued),
        "{issued} tickets before closing"
    );
    let congestion: Value = app
        .get("/api/v1/offices/desk/congestion")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(congestion["lines"][0]["intake"]["open"], false);
    assert_eq!(congestion["lines"][0]["intake"]["reason"], "full");
}

async fn staff_endpoints_need_a_token_of_the_office(backend: Backend) {
    let app = spawn_app(backend).await;
    let anonymous = app
        .client
        .post(app.url("/api/v1/offices/main/counters/1/call-next"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    assert_problem(anonymous, 401, "unauthenticated").await;
    assert_problem(
        app.counter("mdg_not-a-real-token", "main", "1", "call-next")
            .await,
        401,
        "unauthenticated",
    )
    .await;
    let north = app.staff_token("north", StaffRole::Staff).await;
    assert_problem(
        app.counter(&north, "main", "1", "call-next").await,
        403,
        "forbidden",
    )
    .await;
    let main = app.staff_token("main", StaffRole::Staff).await;
    assert_eq!(
        app.counter(&main, "main", "1", "call-next").await.status(),
        204,
        "nobody waits"
    );
    assert_problem(
        app.counter(&main, "main", "9", "call-next").await,
        404,
        "counter-not-found",
    )
    .await;
    let id = app
        .staff
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.office_id.as_str() == "main")
        .unwrap()
        .id;
    assert!(app.staff.revoke(id).await.unwrap());
    assert_problem(
        app.counter(&main, "main", "1", "call-next").await,
        401,
        "unauthenticated",
    )
    .await;
    // Residents cannot ask for a priority ticket.
    let priority = app
        .post_json(
            "/api/v1/offices/main/tickets",
            &json!({ "procedure": "card_pickup", "needs_assistance": true }),
        )
        .await;
    assert_problem(priority, 403, "forbidden").await;
}

async fn a_ticket_goes_through_a_counter_and_every_step_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    let t = app.take_ticket_ok("main", "card_pickup").await;
    let id = t["id"].as_str().unwrap();
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
    let called = app.ticket(id).await;
    assert_eq!(called["status"], "called");
    assert_eq!(called["counter"]["id"], "1");
    assert_eq!(called["counter"]["name"]["ja"], "1番窓口");
    // Another call while the resident is at the counter is refused.
    assert_problem(
        app.counter(&token, "main", "1", "call-next").await,
        409,
        "counter-busy",
    )
    .await;
    assert_eq!(
        app.counter(&token, "main", "1", "recall").await.status(),
        200
    );
    assert_eq!(app.ticket(id).await["status"], "called");
    assert_eq!(
        app.counter(&token, "main", "1", "start").await.status(),
        200
    );
    assert_eq!(app.ticket(id).await["status"], "serving");
    assert_problem(
        app.counter(&token, "main", "1", "no-show").await,
        409,
        "action-not-allowed",
    )
    .await;
    app.clock.advance(chrono::Duration::minutes(12));
    assert_eq!(
        app.counter(&token, "main", "1", "finish").await.status(),
        200
    );
    assert_eq!(app.ticket(id).await["status"], "done");
    assert_problem(
        app.counter(&token, "main", "1", "finish").await,
        409,
        "counter-idle",
    )
    .await;
    let kinds: Vec<String> = app
        .queue_events("main")
        .await
        .into_iter()
        .filter(|(ticket, _, _)| *ticket == madoguchi::service::keys::ticket_id_unverified(id))
        .map(|(_, kind, actor)| {
            if kind != "issued" {
                assert!(actor.starts_with("staff:"), "{actor}");
            }
            kind
        })
        .collect();
    assert_eq!(
        kinds,
        ["issued", "called", "recalled", "started", "finished"]
    );
    // A no-show frees the counter too.
    app.take_ticket_ok("main", "card_pickup").await;
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-002")
    );
    assert_eq!(
        app.counter(&token, "main", "1", "no-show").await.status(),
        200
    );
    assert_eq!(app.call_next(&token, "main", "1").await, None);
}

async fn counters_call_only_from_their_lines_and_never_the_same_ticket(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    for _ in 0..10 {
        app.take_ticket_ok("main", "cert_renewal").await;
    }
    app.take_ticket_ok("main", "card_pickup").await;
    // Counter 1 serves line A only; counters 2–5 serve line B (2 also A).
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
    let calls = ["2", "3", "4", "5"].map(|c| {
        let request = app
            .client
            .post(app.url(&format!("/api/v1/offices/main/counters/{c}/call-next")))
            .bearer_auth(&token);
        async move {
            request.send().await.unwrap().json::<Value>().await.unwrap()["number"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let mut called = join_all(calls).await;
    called.sort();
    assert_eq!(
        called,
        ["B-001", "B-002", "B-003", "B-004"],
        "four counters at once, four different tickets"
    );
    assert_eq!(
        app.call_next(&token, "main", "6").await,
        None,
        "counter 6 serves line C only"
    );
}

async fn pausing_a_counter_stops_its_calls(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    app.take_ticket_ok("main", "card_pickup").await;
    assert_eq!(
        app.counter(&token, "main", "1", "pause").await.status(),
        204
    );
    assert_problem(
        app.counter(&token, "main", "1", "call-next").await,
        409,
        "counter-paused",
    )
    .await;
    let congestion: Value = app
        .get("/api/v1/offices/main/congestion")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(congestion["counters"][0]["paused"], true);
    assert_eq!(congestion["lines"][0]["counters_open"], 1);
    assert_eq!(
        app.counter(&token, "main", "1", "resume").await.status(),
        204
    );
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
    let kinds: Vec<String> = app
        .queue_events("main")
        .await
        .into_iter()
        .map(|(_, k, _)| k)
        .collect();
    assert!(kinds.contains(&"paused".to_owned()) && kinds.contains(&"resumed".to_owned()));
}

async fn transfers_keep_their_place_or_go_last(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.staff_token("main", StaffRole::Staff).await;
    let early = app.take_ticket_ok("main", "card_pickup").await; // A-001, issued first
    for _ in 0..2 {
        app.take_ticket_ok("main", "cert_renewal").await; // B-001, B-002
    }
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-001")
    );
    // A-001 turns out to need line B: keeping its place puts it ahead of B-001.
    let moved = app
        .client
        .post(app.url("/api/v1/offices/main/counters/1/transfer"))
        .bearer_auth(&token)
        .json(&json!({ "line_id": "b" }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let after = app.ticket(early["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            after["status"].as_str(),
            after["line_id"].as_str(),
            after["position"].as_u64()
        ),
        (Some("waiting"), Some("b"), Some(1))
    );
    assert_eq!(
        app.call_next(&token, "main", "3").await.as_deref(),
        Some("A-001")
    );
    // Going last instead.
    let go_last = app
        .client
        .post(app.url("/api/v1/offices/main/counters/3/transfer"))
        .bearer_auth(&token)
        .json(&json!({ "line_id": "c", "keep_place": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(go_last.status(), 200);
    app.take_ticket_ok("main", "card_reissue").await; // C-001 issued before? no: after
    let in_c: Value = app
        .get("/api/v1/offices/main/congestion")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(in_c["lines"][2]["waiting"], 2);
    assert_eq!(
        app.call_next(&token, "main", "6").await.as_deref(),
        Some("A-001"),
        "it went last at its transfer, before C-001 was issued"
    );
    let bad_line = app
        .client
        .post(app.url("/api/v1/offices/main/counters/6/transfer"))
        .bearer_auth(&token)
        .json(&json!({ "line_id": "z" }))
        .send()
        .await
        .unwrap();
    assert_problem(bad_line, 422, "line-not-found").await;
}

async fn residents_can_leave_the_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.take_ticket_ok("main", "card_pickup").await;
    let second = app.take_ticket_ok("main", "card_pickup").await;
    let left = app
        .client
        .delete(app.url(&format!(
            "/api/v1/tickets/{}",
            first["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 200);
    assert_eq!(left.json::<Value>().await.unwrap()["status"], "cancelled");
    assert_eq!(
        app.ticket(second["id"].as_str().unwrap()).await["position"],
        1
    );
    let token = app.staff_token("main", StaffRole::Staff).await;
    assert_eq!(
        app.call_next(&token, "main", "1").await.as_deref(),
        Some("A-002")
    );
    let called = app
        .client
        .delete(app.url(&format!(
            "/api/v1/tickets/{}",
            second["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_problem(called, 409, "action-not-allowed").await;
}

async fn reserved_residents_check_in_and_go_ahead_of_walk_ins(backend: Backend) {
    let app = spawn_app(backend).await;
    let booking = app
        .book_ok(&renewal(
            "main",
            "2026-12-04T10:00:00+09:00",
            "checkin@example.jp",
        ))
        .await;
    let late = app
        .book_ok(&renewal(
            "main",
            "2026-12-04T09:00:00+09:00",
            "late@example.jp",
        ))
        .await;
    let path =
        |t: &madoguchi_tests::Ticket| format!("/api/v1/reservations/{}/check-in", t.reference);
    // Not on another day.
    let other_day = app
        .with_secret(reqwest::Method::POST, &path(&booking), &booking.secret)
        .send()
        .await
        .unwrap();
    assert_problem(other_day, 422, "check-in-other-day").await;
    app.clock.set(at("2026-12-04T08:40:00+09:00"));
    let too_early = app
        .with_secret(reqwest::Method::POST, &path(&booking), &booking.secret)
        .send()
        .await
        .unwrap();
    let body = assert_problem(too_early, 422, "check-in-too-early").await;
    assert_eq!(body["opens_at"], "2026-12-04T09:00:00+09:00");
    // Walk-ins arrive first.
    app.clock.set(at("2026-12-04T09:20:00+09:00"));
    for _ in 0..3 {
        app.take_ticket_ok("main", "cert_renewal").await;
    }
    // The 09:00 booking checks in 20 minutes late: it queues as a walk-in.
    let late_in = app
        .with_secret(reqwest::Method::POST, &path(&late), &late.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(late_in.status(), 201);
    let late_ticket: Value = late_in.json().await.unwrap();
    assert_eq!(late_ticket["class"], "normal");
    assert_eq!(late_ticket["position"], 4);
    // The 10:00 booking checks in on time.
    let on_time = app
        .with_secret(reqwest::Method::POST, &path(&booking), &booking.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(on_time.status(), 201);
    let ticket: Value = on_time.json().await.unwrap();
    assert_eq!(ticket["class"], "reserved");
    let again = app
        .with_secret(reqwest::Method::POST, &path(&booking), &booking.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap()["id"],
        ticket["id"],
        "checking in twice gives the same ticket"
    );
    let token = app.staff_token("main", StaffRole::Staff).await;
    // Before 09:50 the reservation is not callable: walk-ins go first.
    assert_eq!(
        app.call_next(&token, "main", "3").await.as_deref(),
        Some("B-001")
    );
    app.clock.set(at("2026-12-04T09:50:00+09:00"));
    assert_eq!(
        app.call_next(&token, "main", "4").await.as_deref(),
        ticket["number"].as_str(),
        "予約優先 from 10 minutes before the slot"
    );
    assert_eq!(
        app.call_next(&token, "main", "5").await.as_deref(),
        Some("B-002")
    );
}

async fn staff_check_in_by_reference_and_only_confirmed_bookings(backend: Backend) {
    let app = spawn_app(backend).await;
    let booked = app
        .book_ok(&renewal(
            "main",
            "2026-12-04T10:00:00+09:00",
            "staffcheckin@example.jp",
        ))
        .await;
    app.clock.set(at("2026-12-04T09:55:00+09:00"));
    let token = app.staff_token("main", StaffRole::Staff).await;
    let check_in = |reference: String| {
        let request = app
            .client
            .post(app.url("/api/v1/offices/main/check-ins"))
            .bearer_auth(&token)
            .json(&json!({ "reference": reference }));
        async move { request.send().await.unwrap() }
    };
    let done = check_in(booked.reference.to_lowercase()).await;
    assert_eq!(done.status(), 201);
    assert_eq!(done.json::<Value>().await.unwrap()["class"], "reserved");
    assert_problem(
        check_in("AAAAAAAAAAAAAAAAAAAAAAAAAA".into()).await,
        404,
        "reservation-not-found",
    )
    .await;
    // A cancelled booking cannot check in.
    app.clock.set(at("2026-12-01T10:00:00+09:00"));
    let other = app
        .book_ok(&renewal(
            "main",
            "2026-12-04T10:15:00+09:00",
            "cancelled@example.jp",
        ))
        .await;
    app.with_secret(
        reqwest::Method::DELETE,
        &format!("/api/v1/reservations/{}", other.reference),
        &other.secret,
    )
    .send()
    .await
    .unwrap();
    app.clock.set(at("2026-12-04T10:00:00+09:00"));
    assert_problem(check_in(other.reference.clone()).await, 409, "wrong-state").await;
}

const PRIORITY: &str = r#"
[municipality]
name = { ja = "小町", en = "Small Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 1
queue.priority_ratio = 2
hours.tue = ["08:30-17:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }
"#;

async fn priority_tickets_go_first_but_never_starve_normal_ones(backend: Backend) {
    let app = spawn_with(Options {
        backend,
        municipality: city(PRIORITY),
        ..Options::default()
    })
    .await;
    let token = app.staff_token("desk", StaffRole::Staff).await;
    let priority = |n: usize| {
        let request = app
            .client
            .post(app.url("/api/v1/offices/desk/tickets"))
            .bearer_auth(&token)
            .json(&json!({ "procedure": "cert_renewal", "needs_assistance": true }));
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            assert_eq!(body["class"], "priority", "{n}");
            body["number"].as_str().unwrap().to_owned()
        }
    };
    let n1 = app.take_ticket_ok("desk", "cert_renewal").await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let n2 = app.take_ticket_ok("desk", "cert_renewal").await["number"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut p = Vec::new();
    for i in 0..5 {
        p.push(priority(i).await);
    }
    let mut order = Vec::new();
    while let Some(number) = app.call_next(&token, "desk", "1").await {
        order.push(number);
        assert_eq!(
            app.counter(&token, "desk", "1", "finish").await.status(),
            200
        );
    }
    // Ratio 2: two priority calls, then a waiting normal ticket.
    assert_eq!(
        order,
        [
            p[0].clone(),
            p[1].clone(),
            n1,
            p[2].clone(),
            p[3].clone(),
            n2,
            p[4].clone()
        ]
    );
}

async fn only_administrators_read_the_audit_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff_token("main", StaffRole::Staff).await;
    let admin = app.staff_token("main", StaffRole::Admin).await;
    let other_admin = app.staff_token("north", StaffRole::Admin).await;
    app.take_ticket_ok("main", "card_pickup").await;
    app.call_next(&admin, "main", "1").await;
    let read = |token: &str| {
        app.client
            .get(app.url("/api/v1/offices/main/audit?date=2026-12-01"))
            .bearer_auth(token)
            .send()
    };
    assert_problem(read(&staff).await.unwrap(), 403, "forbidden").await;
    assert_problem(read(&other_admin).await.unwrap(), 403, "forbidden").await;
    let body: Value = read(&admin).await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["issued", "called"]);
    assert_eq!(body["events"][0]["actor"], "kiosk");
    assert!(
        body["events"][1]["actor"]
            .as_str()
            .unwrap()
            .starts_with("staff:")
    );
    assert_eq!(body["events"][1]["counter_id"], "1");
    assert!(!body.to_string().contains(&admin), "tokens never appear");
    let other_day: Value = app
        .client
        .get(app.url("/api/v1/offices/main/audit?date=2026-11-30"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other_day["events"].as_array().unwrap().len(), 0);
}

on_both_backends!(
    only_administrators_read_the_audit_trail,
    tickets_are_numbered_per_line_and_durable_before_the_answer,
    intake_closes_with_a_reason,
    intake_closes_when_the_queue_cannot_be_served_before_closing,
    staff_endpoints_need_a_token_of_the_office,
    a_ticket_goes_through_a_counter_and_every_step_is_audited,
    counters_call_only_from_their_lines_and_never_the_same_ticket,
    pausing_a_counter_stops_its_calls,
    transfers_keep_their_place_or_go_last,
    residents_can_leave_the_line,
    reserved_residents_check_in_and_go_ahead_of_walk_ins,
    staff_check_in_by_reference_and_only_confirmed_bookings,
    priority_tickets_go_first_but_never_starve_normal_ones,
);

on_both_backends!(multi_thread: concurrent_kiosks_never_issue_a_number_twice);
on_both_backends!(multi_thread: counters_calling_at_once_call_each_ticket_once);
