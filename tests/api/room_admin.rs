//! Waiting rooms defined through the admin API: who may, validation with every field
//! named, what may change once the line has begun, deletion, and rooms that live in the
//! ledger (they survive a restart and reach every instance).

use chrono::{DateTime, Duration, Utc};
use madoguchi::config::settings::Secret;
use madoguchi::store::queue::StaffRole;
use madoguchi_tests::{
    Backend, Options, Stores, TestApp, assert_problem, city, on_both_backends, spawn_with,
};
use serde_json::{Value, json};

/// Two offices; the desk has four seats on Friday 4 December. `file-room` is defined in
/// the file and covers Monday 7 December.
const TWO_DESKS: &str = r#"
[municipality]
name = { ja = "待合町", en = "Queue Town" }
[[offices]]
id = "desk"
name = { ja = "窓口", en = "Desk" }
address = { ja = "本町1", en = "1 Honmachi" }
counters = 2
hours.tue = ["08:30-17:00"]
hours.fri = ["09:00-10:00"]
hours.mon = ["09:00-10:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }
[[offices]]
id = "annex"
name = { ja = "別館", en = "Annex" }
address = { ja = "本町2", en = "2 Honmachi" }
counters = 1
hours.fri = ["09:00-10:00"]
[offices.procedures]
cert_renewal = { capacity = 1, slot_minutes = 15 }

[[waiting_rooms]]
id = "file-room"
name = { ja = "ファイルの待合室", en = "A room of the file" }
offices = ["desk"]
procedures = ["cert_renewal"]
first_date = "2026-12-07"
last_date = "2026-12-07"
opens_at = "2026-12-01T12:00:00+09:00"
"#;

const ROOM: &str = "/api/v1/waiting-rooms/dec-api";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

/// Friday 4 December's release at the desk, opening at 10:00 on 1 December.
fn definition() -> Value {
    json!({
        "name": { "ja": "12月4日分", "en": "4 December" },
        "procedures": ["cert_renewal"],
        "first_date": "2026-12-04",
        "last_date": "2026-12-04",
        "opens_at": "2026-12-01T10:00:00+09:00",
        "prequeue_minutes": 30,
        "admissions_per_minute": 60,
    })
}

async fn put(app: &TestApp, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = app.client.put(app.url(path)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn delete(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client
        .delete(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn booking() -> Value {
    json!({
        "office_id": "desk",
        "procedure": "cert_renewal",
        "start": "2026-12-04T09:00:00+09:00",
        "resident": { "name": "山田 太郎", "email": "yamada@example.jp" },
        "birth_date": "1960-05-01",
        "certificate_expiry": "2027-01-31",
    })
}

async fn app_at(backend: Backend, now: &str) -> TestApp {
    spawn_with(Options {
        backend,
        municipality: city(TWO_DESKS),
        now: at(now),
        ..Options::default()
    })
    .await
}

async fn only_admins_of_the_rooms_offices_define_rooms(backend: Backend) {
    let app = app_at(backend, "2026-12-01T09:00:00+09:00").await;
    let staff = app.staff_token("desk", StaffRole::Staff).await;
    let other_admin = app.staff_token("annex", StaffRole::Admin).await;
    let admin = app.staff_token("desk", StaffRole::Admin).await;

    assert_problem(
        put(&app, ROOM, None, &definition()).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_problem(
        put(&app, ROOM, Some(&staff), &definition()).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        put(&app, ROOM, Some(&other_admin), &{
            let mut d = definition();
            d["offices"] = json!(["desk"]);
            d
        })
        .await,
        403,
        "forbidden",
    )
    .await;
    // Covering an office besides one's own is refused too.
    assert_problem(
        put(&app, ROOM, Some(&admin), &{
            let mut d = definition();
            d["offices"] = json!(["desk", "annex"]);
            d
        })
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        put(
            &app,
            "/api/v1/waiting-rooms/file-room",
            Some(&admin),
            &definition(),
        )
        .await,
        409,
        "waiting-room-in-file",
    )
    .await;
    assert!(
        app.get("/api/v1/waiting-rooms")
            .await
            .json::<Value>()
            .await
            .unwrap()["rooms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != "dec-api"),
        "nothing was defined by the refused requests"
    );

    // The admin of the annex defines a room for the annex (its office by default).
    let created = put(
        &app,
        "/api/v1/waiting-rooms/annex-room",
        Some(&other_admin),
        &definition(),
    )
    .await;
    assert_eq!(created.status(), 201);
    let view: Value = created.json().await.unwrap();
    assert_eq!(view["offices"], json!(["annex"]));
}

async fn a_definition_is_checked_like_the_file_and_every_problem_named(backend: Backend) {
    let app = app_at(backend, "2026-12-01T09:00:00+09:00").await;
    let admin = app.staff_token("desk", StaffRole::Admin).await;
    let mut bad = definition();
    bad["admissions_per_minute"] = json!(0);
    bad["first_date"] = json!("4 Dec");
    bad["procedures"] = json!(["pin_reset", "passport"]);
    bad["dropout_percent"] = json!(50);
    let body = assert_problem(
        put(&app, ROOM, Some(&admin), &bad).await,
        400,
        "invalid-field",
    )
    .await;
    let fields = madoguchi_tests::error_fields(&body);
    assert_eq!(
        fields,
        vec![
            "admissions_per_minute",
            "dropout_percent",
            "first_date",
            "procedures"
        ],
        "{body}"
    );
    // Of the documented form, but not this room: a rule (422), not the form (400).
    let mut other_id = definition();
    other_id["id"] = json!("another");
    let body = assert_problem(
        put(&app, ROOM, Some(&admin), &other_id).await,
        422,
        "unacceptable-field",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "id");
    let unknown = put(
        &app,
        ROOM,
        Some(&admin),
        &json!({ "name": { "ja": "x", "en": "x" }, "pin": "1234" }),
    )
    .await;
    assert_eq!(unknown.status(), 400);
    assert_problem(
        put(
            &app,
            "/api/v1/waiting-rooms/bad%20id",
            Some(&admin),
            &definition(),
        )
        .await,
        400,
        "invalid-field",
    )
    .await;
    assert_eq!(app.get(ROOM).await.status(), 404, "nothing stored");
}

/// `prequeue_minutes: 2147483647` was accepted (joinable since the year −2057) and gated
/// every booking of its dates at once: every number and date is bounded and cross-checked.
async fn absurd_room_values_are_refused_and_bookings_stay_open(backend: Backend) {
    let app = app_at(backend, "2026-12-01T09:00:00+09:00").await;
    let admin = app.staff_token("desk", StaffRole::Admin).await;
    let mut bad = definition();
    bad["prequeue_minutes"] = json!(2_147_483_647u32);
    bad["admission_minutes"] = json!(100_000);
    bad["idle_seconds"] = json!(0);
    bad["admissions_per_minute"] = json!(4_000_000_000u32);
    bad["trigger_per_minute"] = json!(0);
    bad["name"] = json!({ "ja": "", "en": "x".repeat(101) });
    let body = assert_problem(
        put(&app, ROOM, Some(&admin), &bad).await,
        400,
        "invalid-field",
    )
    .await;
    let fields = madoguchi_tests::error_fields(&body);
    assert_eq!(
        fields,
        vec![
            "admission_minutes",
            "admissions_per_minute",
            "idle_seconds",
            "name.en",
            "name.ja",
            "prequeue_minutes",
            "trigger_per_minute",
        ],
        "{body}"
    );
    // Dates against each other: opening after the last slot day, slots over a year,
    // a line of months. Each date has the documented form, so the refusal is a rule's.
    for (field, value, refused) in [
        ("opens_at", json!("2026-12-05T10:00:00+09:00"), "opens_at"),
        ("last_date", json!("2028-01-10"), "last_date"),
        ("closes_at", json!("2027-03-01T10:00:00+09:00"), "closes_at"),
    ] {
        let mut bad = definition();
        bad[field] = value;
        let body = assert_problem(
            put(&app, ROOM, Some(&admin), &bad).await,
            422,
            "unacceptable-field",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], refused, "{body}");
    }
    assert_eq!(app.get(ROOM).await.status(), 404, "nothing stored");
    // Bookings of the room's date go on without an admission.
    assert_eq!(app.book(&booking()).await.status(), 201);
}

async fn a_running_room_keeps_its_release_but_changes_pace_and_end(backend: Backend) {
    let app = app_at(backend, "2026-12-01T09:00:00+09:00").await;
    let admin = app.staff_token("desk", StaffRole::Admin).await;
    let created = put(&app, ROOM, Some(&admin), &definition()).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], ROOM);
    let view: Value = created.json().await.unwrap();
    assert_eq!(view["phase"], "scheduled");
    assert_eq!(
        view["offices"],
        json!(["desk"]),
        "the admin's office by default"
    );
    assert_eq!(view["opens_at"], "2026-12-01T10:00:00+09:00");

    // Before the pre-queue anything may change (here when joining starts).
    let mut moved = definition();
    moved["prequeue_minutes"] = json!(20);
    let replaced = put(&app, ROOM, Some(&admin), &moved).await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(
        replaced.json::<Value>().await.unwrap()["joinable_from"],
        "2026-12-01T09:40:00+09:00"
    );

    // In the pre-queue it gates bookings of its release.
    app.clock.advance(Duration::minutes(45));
    assert_eq!(
        app.get(ROOM).await.json::<Value>().await.unwrap()["phase"],
        "prequeue"
    );
    assert_problem(app.book(&booking()).await, 403, "admission-required").await;

    let mut other_release = moved.clone();
    other_release["last_date"] = json!("2026-12-11");
    other_release["opens_at"] = json!("2026-12-01T11:00:00+09:00");
    let refused = assert_problem(
        put(&app, ROOM, Some(&admin), &other_release).await,
        409,
        "waiting-room-running",
    )
    .await;
    assert_eq!(refused["fields"], json!(["last_date", "opens_at"]));
    assert_problem(
        delete(&app, ROOM, &admin).await,
        409,
        "waiting-room-running",
    )
    .await;

    // The pace and the end may change: the operator ends the room now.
    let mut ended = moved.clone();
    ended["admissions_per_minute"] = json!(30);
    ended["closes_at"] = json!("2026-12-01T09:45:00+09:00");
    let r = put(&app, ROOM, Some(&admin), &ended).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(
        app.get(ROOM).await.json::<Value>().await.unwrap()["phase"],
        "ended"
    );
    assert_eq!(
        app.book(&booking()).await.status(),
        201,
        "no room gates it any more"
    );

    // Deleted: gone from the API, and its id is never given to another room.
    assert_eq!(delete(&app, ROOM, &admin).await.status(), 204);
    assert_eq!(app.get(ROOM).await.status(), 404);
    assert_problem(
        delete(&app, ROOM, &admin).await,
        404,
        "waiting-room-not-found",
    )
    .await;
    assert_problem(
        put(&app, ROOM, Some(&admin), &definition()).await,
        409,
        "waiting-room-id-used",
    )
    .await;
}

/// A second instance on the same ledger (production: at the same time, sharing Redis;
/// embedded: the same file after a restart).
async fn second_instance(first: &TestApp) -> TestApp {
    let now = madoguchi::domain::time::Clock::now(first.clock.as_ref());
    match &first.stores {
        Stores::Production { prefix, _db, .. } => {
            let (prefix, url) = (prefix.clone(), _db.url.clone());
            spawn_with(Options {
                backend: Backend::Production,
                municipality: city(TWO_DESKS),
                now,
                settings: Box::new(move |s| {
                    s.redis_prefix = prefix;
                    s.database_url = Some(Secret::new(url));
                }),
                ..Options::default()
            })
            .await
        }
        Stores::Embedded { _file, .. } => {
            first.stop().await;
            spawn_with(Options {
                backend: Backend::Embedded,
                sqlite_file: Some(_file.clone()),
                municipality: city(TWO_DESKS),
                now,
                ..Options::default()
            })
            .await
        }
    }
}

async fn rooms_of_the_api_live_in_the_ledger(backend: Backend) {
    let a = app_at(backend, "2026-12-01T09:00:00+09:00").await;
    let admin = a.staff_token("desk", StaffRole::Admin).await;
    assert_eq!(
        put(&a, ROOM, Some(&admin), &definition()).await.status(),
        201
    );
    let b = second_instance(&a).await;
    let listed: Value = b.get("/api/v1/waiting-rooms").await.json().await.unwrap();
    let ids: Vec<&str> = listed["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["file-room", "dec-api"], "loaded at start-up");
    b.clock.advance(Duration::minutes(45));
    assert_problem(b.book(&booking()).await, 403, "admission-required").await;
}

/// A change made on one instance reaches the others at their next maintenance pass.
#[tokio::test]
async fn a_change_reaches_the_other_instances_within_a_pass() {
    let a = app_at(Backend::Production, "2026-12-01T09:45:00+09:00").await;
    let b = second_instance(&a).await;
    let admin = a.staff_token("desk", StaffRole::Admin).await;
    assert_eq!(
        put(&a, ROOM, Some(&admin), &definition()).await.status(),
        201
    );
    assert_problem(a.book(&booking()).await, 403, "admission-required").await;
    b.maintenance.run_once().await.unwrap();
    assert_problem(b.book(&booking()).await, 403, "admission-required").await;
    // Ended on A; B lets bookings through after its next pass.
    let mut ended = definition();
    ended["closes_at"] = json!("2026-12-01T09:45:00+09:00");
    assert_eq!(put(&a, ROOM, Some(&admin), &ended).await.status(), 200);
    b.maintenance.run_once().await.unwrap();
    assert_eq!(b.book(&booking()).await.status(), 201);
}

on_both_backends!(
    only_admins_of_the_rooms_offices_define_rooms,
    a_definition_is_checked_like_the_file_and_every_problem_named,
    absurd_room_values_are_refused_and_bookings_stay_open,
    a_running_room_keeps_its_release_but_changes_pace_and_end,
    rooms_of_the_api_live_in_the_ledger,
);
