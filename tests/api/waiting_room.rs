//! The waiting room in front of a booking release: joining, the pre-queue draw, FIFO
//! admission within the seats, tokens, the booking gate, closing and reopening, and two
//! instances sharing one line.

use chrono::{DateTime, Duration, Utc};
use madoguchi_tests::{
    Backend, Options, TestApp, assert_problem, birth_date_of, city, on_both_backends, spawn_with,
};
use serde_json::{Value, json};

/// One desk, four seats on Friday 4 December (09:00–10:00, capacity 1), behind a room
/// that opens at 10:00 on Tuesday 1 December with a 30-minute pre-queue.
const ROOM_CITY: &str = r#"
[municipality]
name = { ja = "待合町", en = "Queue Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 2
hours.tue = ["08:30-17:00"]
hours.fri = ["09:00-10:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }

[[waiting_rooms]]
id = "dec-release"
name = { ja = "12月分の予約", en = "December bookings" }
procedures = ["cert_renewal"]
first_date = "2026-12-04"
last_date = "2026-12-04"
opens_at = "2026-12-01T10:00:00+09:00"
prequeue_minutes = 30
admissions_per_minute = 60
dropout_percent = 100
idle_seconds = 60
next_release = { ja = "1月分は12月15日 10:00から", en = "January opens on 15 December at 10:00" }

[[waiting_rooms]]
id = "pow-room"
name = { ja = "計算付きの待合室", en = "A room with proof of work" }
procedures = ["cert_renewal"]
first_date = "2026-12-08"
last_date = "2026-12-08"
opens_at = "2026-12-01T10:00:00+09:00"
proof_of_work_bits = 8

[[waiting_rooms]]
id = "surge"
name = { ja = "混雑時のみの待合室", en = "A room for surges" }
procedures = ["cert_renewal"]
first_date = "2026-12-15"
last_date = "2026-12-15"
opens_at = "2026-12-01T00:00:00+09:00"
closes_at = "2026-12-31T00:00:00+09:00"
trigger_per_minute = 3
"#;

const ROOM: &str = "/api/v1/waiting-rooms/dec-release";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

async fn room_app(backend: Backend, now: &str) -> TestApp {
    spawn_with(Options {
        backend,
        municipality: city(ROOM_CITY),
        now: at(now),
        ..Options::default()
    })
    .await
}

async fn join(app: &TestApp) -> (u64, String) {
    let r = app
        .client
        .post(app.url(&format!("{ROOM}/join")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    (
        body["position"].as_u64().unwrap(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

async fn status(app: &TestApp, token: &str) -> Value {
    let r = app
        .client
        .get(app.url(&format!("{ROOM}/status")))
        .header("waiting-room-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn renewal_at(time: &str, email: &str) -> Value {
    json!({
        "office_id": "desk",
        "procedure": "cert_renewal",
        "start": format!("2026-12-04T{time}:00+09:00"),
        "resident": { "name": "山田 太郎", "email": email },
        "birth_date": birth_date_of(email),
        "certificate_expiry": "2027-01-31",
    })
}

async fn book_with(app: &TestApp, body: &Value, admission: &str, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/reservations"))
        .header("waiting-room-admission", admission)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn admission_comes_in_arrival_order_within_the_seats(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let rooms: Value = app.get("/api/v1/waiting-rooms").await.json().await.unwrap();
    assert_eq!(rooms["rooms"][0]["phase"], "open");
    let mut visitors = Vec::new();
    for _ in 0..6 {
        visitors.push(join(&app).await);
    }
    let positions: Vec<u64> = visitors.iter().map(|v| v.0).collect();
    assert_eq!(
        positions,
        vec![1, 2, 3, 4, 5, 6],
        "first come, first served"
    );
    app.clock.advance(Duration::seconds(10));
    let mut states = Vec::new();
    for (_, token) in &visitors {
        states.push(status(&app, token).await);
    }
    let admitted: Vec<u64> = states
        .iter()
        .filter(|s| s["state"] == "admitted")
        .map(|s| s["position"].as_u64().unwrap())
        .collect();
    assert_eq!(
        admitted,
        vec![1, 2, 3, 4],
        "four seats: the first four, in order"
    );
    assert_eq!(states[4]["state"], "waiting");
    assert_eq!(states[4]["ahead"], 0);
    assert_eq!(states[5]["ahead"], 1);
    assert_eq!(states[0]["remaining_seats"], 4);
    assert!(states[0]["admission_token"].as_str().is_some());
    assert!(states[5].get("admission_token").is_none());
}

async fn bookings_need_an_admission_and_each_admission_books_once(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let (_, token) = join(&app).await;
    app.clock.advance(Duration::seconds(5));
    let s = status(&app, &token).await;
    let admission = s["admission_token"].as_str().unwrap().to_owned();

    let body = renewal_at("09:00", "a@example.jp");
    let refused = assert_problem(app.book(&body).await, 403, "admission-required").await;
    assert_eq!(refused["waiting_room"], ROOM);
    assert_problem(
        book_with(&app, &body, "a.dec-release.1.9999999999999.X.forged", "k0").await,
        403,
        "admission-required",
    )
    .await;
    let place_token_is_no_admission = book_with(&app, &body, &token, "k0").await;
    assert_eq!(place_token_is_no_admission.status(), 403);

    let first = book_with(&app, &body, &admission, "k1").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = book_with(&app, &body, &admission, "k1").await;
    assert_eq!(
        retry.status(),
        201,
        "a retry of the same request is the same booking"
    );
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["reference"], first["reference"]);
    let again = renewal_at("09:15", "b@example.jp");
    assert_problem(
        book_with(&app, &again, &admission, "k2").await,
        403,
        "admission-used",
    )
    .await;
    // Outside the release the room does not gate.
    assert_eq!(
        app.book(&json!({
            "office_id": "desk", "procedure": "cert_renewal",
            "start": "2026-12-11T09:00:00+09:00",
            "resident": { "name": "佐藤", "email": "c@example.jp" }, "birth_date": "1970-01-01",
            "certificate_expiry": "2027-01-31"
        }))
        .await
        .status(),
        201
    );
}

async fn a_failed_booking_gives_the_admission_back(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let (_, token) = join(&app).await;
    app.clock.advance(Duration::seconds(5));
    let admission = status(&app, &token).await["admission_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bad = renewal_at("09:00", "a@example.jp");
    bad["certificate_expiry"] = json!("2027-12-31"); // too early to renew
    assert_eq!(book_with(&app, &bad, &admission, "k1").await.status(), 422);
    let good = renewal_at("09:00", "a@example.jp");
    assert_eq!(book_with(&app, &good, &admission, "k2").await.status(), 201);
}

async fn the_room_closes_when_the_seats_are_gone_and_reopens_on_a_cancellation(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let mut visitors = Vec::new();
    for _ in 0..5 {
        visitors.push(join(&app).await);
    }
    app.clock.advance(Duration::seconds(10));
    let mut booked = Vec::new();
    for (i, time) in ["09:00", "09:15", "09:30", "09:45"].iter().enumerate() {
        let s = status(&app, &visitors[i].1).await;
        let admission = s["admission_token"].as_str().unwrap();
        let r = book_with(
            &app,
            &renewal_at(time, &format!("v{i}@example.jp")),
            admission,
            &format!("k{i}"),
        )
        .await;
        assert_eq!(r.status(), 201);
        booked.push(r.json::<Value>().await.unwrap());
    }
    app.clock.advance(Duration::seconds(2));
    let last = status(&app, &visitors[4].1).await;
    assert_eq!(last["state"], "closed", "told at once: every seat is taken");
    assert_eq!(last["remaining_seats"], 0);
    assert_eq!(last["next_release"]["ja"], "1月分は12月15日 10:00から");

    // A cancellation returns a seat: the next in line is admitted.
    let reference = booked[0]["reference"].as_str().unwrap();
    let secret = booked[0]["secret"].as_str().unwrap();
    let cancelled = app
        .client
        .delete(app.url(&format!("/api/v1/reservations/{reference}")))
        .header("x-reservation-secret", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    app.clock.advance(Duration::seconds(2));
    let reopened = status(&app, &visitors[4].1).await;
    assert_eq!(reopened["state"], "admitted", "{reopened}");
}

async fn abandoned_places_are_skipped_and_told_so(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    // Three join; the first two go quiet before their turn could come.
    let (_, first) = join(&app).await;
    let (_, second) = join(&app).await;
    let (_, third) = join(&app).await;
    // Only the third keeps polling; the others stop before their turn could come.
    app.clock.advance(Duration::seconds(61));
    let s = status(&app, &third).await;
    assert_eq!(
        s["state"], "admitted",
        "not stalled behind the departed: {s}"
    );
    assert_eq!(status(&app, &first).await["state"], "expired");
    assert_eq!(status(&app, &second).await["state"], "expired");
}

async fn the_prequeue_is_drawn_at_the_opening(backend: Backend) {
    let app = room_app(backend, "2026-12-01T09:40:00+09:00").await;
    let rooms: Value = app.get("/api/v1/waiting-rooms").await.json().await.unwrap();
    assert_eq!(rooms["rooms"][0]["phase"], "prequeue");
    let mut visitors = Vec::new();
    for _ in 0..30 {
        visitors.push(join(&app).await);
        app.clock.advance(Duration::seconds(10));
    }
    let before = status(&app, &visitors[0].1).await;
    assert_eq!(before["state"], "waiting");
    assert!(before["position"].is_null(), "no position before the draw");
    app.clock.set(at("2026-12-01T10:00:00+09:00"));
    let mut positions = Vec::new();
    for (_, token) in &visitors {
        positions.push(status(&app, token).await["position"].as_u64().unwrap());
    }
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (1..=30).collect::<Vec<u64>>(),
        "a permutation of 1..30"
    );
    assert_ne!(positions, sorted, "drawn, not in arrival order");
    let (after, _) = join(&app).await;
    assert_eq!(after, 31, "after the opening: first come, first served");
}

async fn tokens_cannot_be_forged_and_one_client_holds_one_place(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let (position, token) = join(&app).await;
    let again = app
        .client
        .post(app.url(&format!("{ROOM}/join")))
        .header("waiting-room-token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the same place, not a second one");
    assert_eq!(again.json::<Value>().await.unwrap()["position"], position);
    let forged = token.replacen(".1.", ".0.", 1);
    for bad in [forged.as_str(), "nonsense", ""] {
        let r = app
            .client
            .get(app.url(&format!("{ROOM}/status")))
            .header("waiting-room-token", bad)
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, "invalid-room-token").await;
    }
    assert_problem(
        app.get("/api/v1/waiting-rooms/nope/status").await,
        404,
        "waiting-room-not-found",
    )
    .await;
    app.clock.set(at("2026-12-01T23:00:00+09:00"));
    let ended = app
        .client
        .post(app.url(&format!("{ROOM}/join")))
        .send()
        .await
        .unwrap();
    assert_problem(ended, 409, "waiting-room-ended").await;
}

on_both_backends!(
    admission_comes_in_arrival_order_within_the_seats,
    bookings_need_an_admission_and_each_admission_books_once,
    a_failed_booking_gives_the_admission_back,
    the_room_closes_when_the_seats_are_gone_and_reopens_on_a_cancellation,
    abandoned_places_are_skipped_and_told_so,
    the_prequeue_is_drawn_at_the_opening,
    tokens_cannot_be_forged_and_one_client_holds_one_place,
);

/// Two instances on one Redis share one line: places and admissions are global.
#[tokio::test]
async fn two_instances_share_one_line() {
    let a = room_app(Backend::Production, "2026-12-01T10:00:01+09:00").await;
    let prefix = match &a.stores {
        madoguchi_tests::Stores::Production { prefix, .. } => prefix.clone(),
        madoguchi_tests::Stores::Embedded { .. } => unreachable!(),
    };
    let b = spawn_with(Options {
        backend: Backend::Production,
        municipality: city(ROOM_CITY),
        now: at("2026-12-01T10:00:01+09:00"),
        settings: Box::new(move |s| s.redis_prefix = prefix),
        ..Options::default()
    })
    .await;
    let (p1, t1) = join(&a).await;
    let (p2, t2) = join(&b).await;
    let (p3, _) = join(&a).await;
    assert_eq!((p1, p2, p3), (1, 2, 3), "one counter for both instances");
    a.clock.advance(Duration::seconds(5));
    b.clock.advance(Duration::seconds(5));
    // B knows A's visitor and the other way round.
    assert_eq!(status(&b, &t1).await["position"], 1);
    assert_eq!(status(&a, &t2).await["position"], 2);
}

/// The resident page: join with a button, then the page shows the turn and hands the
/// browser its admission in a cookie the booking form uses.
async fn the_waiting_room_page_joins_and_carries_the_admission(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let page = app.get("/wait/dec-release").await;
    assert_eq!(page.status(), 200);
    let csrf = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let csrf = csrf.split(';').next().unwrap().to_owned();
    let body = page.text().await.unwrap();
    assert!(body.contains("順番待ちに並ぶ"));
    let token = csrf.trim_start_matches("csrf=");
    let joined = app
        .client
        .post(app.url("/wait/dec-release"))
        .header("cookie", &csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status(), 303);
    let place = joined.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        place.starts_with("wr_dec-release=") && place.contains("HttpOnly"),
        "{place}"
    );
    let place = place.split(';').next().unwrap().to_owned();
    app.clock.advance(Duration::seconds(3));
    let after = app
        .client
        .get(app.url("/wait/dec-release"))
        .header("cookie", format!("{csrf}; {place}"))
        .send()
        .await
        .unwrap();
    let cookies: Vec<String> = after
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let admission = cookies
        .iter()
        .find(|c| c.starts_with("wra_dec-release="))
        .expect("the admission cookie");
    let body = after.text().await.unwrap();
    assert!(body.contains("data-state=\"admitted\""), "admitted");
    // The cookie lets a booking through, as the header does.
    let r = app
        .client
        .post(app.url("/api/v1/reservations"))
        .header("cookie", admission.split(';').next().unwrap())
        .json(&renewal_at("09:00", "page@example.jp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// Joining a room with proof of work: a challenge, a Hashcash nonce, one join per
/// challenge; forged challenges and wrong nonces refused.
async fn joining_may_need_a_proof_of_work(backend: Backend) {
    use madoguchi::service::room_tokens::solves;
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let none: Value = app
        .get(&format!("{ROOM}/challenge"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["bits"], 0, "the December room asks for none");
    let join_with = |proof: Option<String>| {
        let mut r = app
            .client
            .post(app.url("/api/v1/waiting-rooms/pow-room/join"));
        if let Some(p) = proof {
            r = r.header("waiting-room-proof", p);
        }
        r.send()
    };
    assert_problem(join_with(None).await.unwrap(), 403, "proof-required").await;
    let c: Value = app
        .get("/api/v1/waiting-rooms/pow-room/challenge")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["bits"], 8);
    let challenge = c["challenge"].as_str().unwrap().to_owned();
    let nonce = (0u64..)
        .map(|n| n.to_string())
        .find(|n| solves(&challenge, n, 8))
        .unwrap();
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !solves(&challenge, n, 8))
        .unwrap();
    assert_problem(
        join_with(Some(format!("{challenge}:{wrong}")))
            .await
            .unwrap(),
        403,
        "proof-invalid",
    )
    .await;
    let forged = challenge.replacen(".8.", ".0.", 1);
    assert_problem(
        join_with(Some(format!("{forged}:{nonce}"))).await.unwrap(),
        403,
        "proof-invalid",
    )
    .await;
    let ok = join_with(Some(format!("{challenge}:{nonce}")))
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    assert_problem(
        join_with(Some(format!("{challenge}:{nonce}")))
            .await
            .unwrap(),
        403,
        "proof-invalid",
    )
    .await;
}

/// A room that switches on by itself when booking attempts pass its rate.
async fn a_room_switches_on_when_attempts_pass_its_rate(backend: Backend) {
    let app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let phase = |rooms: &Value| {
        rooms["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "surge")
            .map(|r| r["phase"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let rooms: Value = app.get("/api/v1/waiting-rooms").await.json().await.unwrap();
    assert_eq!(phase(&rooms), "scheduled", "on standby");
    let body = |time: &str, n: usize| {
        json!({
            "office_id": "desk", "procedure": "cert_renewal",
            "start": format!("2026-12-15T{time}:00+09:00"),
            "resident": { "name": format!("急増 太郎 {n}"), "email": format!("s{n}@example.jp") },
            "birth_date": "1970-01-01", "certificate_expiry": "2027-01-31"
        })
    };
    for (n, time) in ["09:00", "09:15", "09:30"].iter().enumerate() {
        assert_eq!(
            app.book(&body(time, n)).await.status(),
            201,
            "under the rate"
        );
    }
    assert_problem(app.book(&body("09:45", 3)).await, 403, "admission-required").await;
    let rooms: Value = app.get("/api/v1/waiting-rooms").await.json().await.unwrap();
    assert_eq!(phase(&rooms), "open", "switched on");
    // The line works as any other: join, be admitted, book with the admission.
    let r = app
        .client
        .post(app.url("/api/v1/waiting-rooms/surge/join"))
        .send()
        .await
        .unwrap();
    let joined = r.status();
    assert_eq!(joined, 201, "{}", r.text().await.unwrap());
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::seconds(3));
    let s: Value = app
        .client
        .get(app.url("/api/v1/waiting-rooms/surge/status"))
        .header("waiting-room-token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s["state"], "admitted", "{s}");
    let admission = s["admission_token"].as_str().unwrap();
    assert_eq!(
        book_with(&app, &body("09:45", 3), admission, "surge-1")
            .await
            .status(),
        201
    );
}

/// A line lost with the hot state: old tokens are refused (they join again) instead of
/// sharing positions with the new line.
async fn a_lost_line_refuses_its_old_tokens(backend: Backend) {
    let mut app = room_app(backend, "2026-12-01T10:00:01+09:00").await;
    let (_, old) = join(&app).await;
    app.clock.advance(Duration::seconds(2));
    app.lose_hot_state().await;
    app.clock.advance(Duration::seconds(2));
    let (first, fresh) = join(&app).await;
    assert_eq!(first, 1, "a new line");
    assert_problem(
        app.client
            .get(app.url(&format!("{ROOM}/status")))
            .header("waiting-room-token", &old)
            .send()
            .await
            .unwrap(),
        401,
        "invalid-room-token",
    )
    .await;
    assert_eq!(status(&app, &fresh).await["position"], 1);
    // Joining again with the old token gives a new place, not the old one.
    let again = app
        .client
        .post(app.url(&format!("{ROOM}/join")))
        .header("waiting-room-token", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().await.unwrap()["position"], 2);
}

on_both_backends!(
    a_lost_line_refuses_its_old_tokens,
    the_waiting_room_page_joins_and_carries_the_admission,
    joining_may_need_a_proof_of_work,
    a_room_switches_on_when_attempts_pass_its_rate,
);
