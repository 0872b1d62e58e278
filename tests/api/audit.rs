//! The tamper-evident audit trail: staff actions and configuration changes are sealed in
//! a keyed chain per office and day; an edited or deleted event, or a deleted seal, is
//! found by the admin audit API and by `madoguchi audit verify`.
use chrono::Duration;
use madoguchi::store::queue::StaffRole;
use madoguchi_tests::chaos::service_binary;
use madoguchi_tests::{Backend, Stores, TestApp, on_both_backends, spawn_app};
use serde_json::{Value, json};

const DAY: &str = "2026-12-01";

async fn verification(app: &TestApp, admin: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/offices/main/audit?date={DAY}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["verification"].clone()
}

async fn execute(app: &TestApp, sql: &'static str) {
    match &app.stores {
        Stores::Production { pool, .. } => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        Stores::Embedded { pool, .. } => {
            sqlx::query(sql).execute(pool).await.unwrap();
        }
    }
}

/// `madoguchi audit verify` on the app's ledger: (exit code, what it printed).
fn cli_verify(app: &TestApp) -> (i32, String) {
    let mut command = std::process::Command::new(service_binary());
    command
        .args(["audit", "verify", "--office", "main", "--date", DAY])
        .env_clear()
        .env("MADOGUCHI_SECRET_KEY", madoguchi_tests::SECRET_KEY)
        .env("RUST_LOG", "error");
    match &app.stores {
        Stores::Production { _db, .. } => command.env("DATABASE_URL", &_db.url),
        Stores::Embedded { _file, .. } => command.env("MADOGUCHI_SQLITE_PATH", &_file.path),
    };
    let out = command.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Some staff actions: a resident called, served and finished, a counter paused.
async fn work(app: &TestApp, staff: &str) {
    app.take_ticket_ok("main", "card_pickup").await;
    assert!(app.call_next(staff, "main", "1").await.is_some());
    for action in ["start", "finish", "pause", "resume"] {
        let r = app.counter(staff, "main", "1", action).await;
        assert!(r.status().is_success(), "{action}: {}", r.status());
    }
}

/// Lets the sealing lag pass and runs a maintenance pass; the seals it wrote.
async fn seal(app: &TestApp) -> usize {
    app.clock.advance(Duration::minutes(2));
    app.maintenance.run_once().await.unwrap().audit_seals
}

async fn the_chain_holds_until_an_event_or_a_seal_is_changed(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff_token("main", StaffRole::Staff).await;
    let admin = app.staff_token("main", StaffRole::Admin).await;
    assert_eq!(verification(&app, &admin).await["status"], "unsealed");
    work(&app, &staff).await;
    // A configuration change is in the chain too.
    let room = app
        .client
        .put(app.url("/api/v1/waiting-rooms/audit-room"))
        .bearer_auth(&admin)
        .json(&json!({
            "name": { "ja": "監査", "en": "Audit" },
            "procedures": ["cert_renewal"],
            "first_date": "2026-12-14", "last_date": "2026-12-18",
            "opens_at": "2026-12-07T08:30:00+09:00",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(room.status(), 201);
    assert_eq!(seal(&app).await, 1);
    let v = verification(&app, &admin).await;
    assert_eq!(v["status"], "intact", "{v}");
    // called, started, finished, paused, resumed, and the room: six events.
    assert_eq!(v["sealed_events"], 6, "{v}");
    assert_eq!(v["unsealed_events"], 0, "{v}");
    let (code, printed) = cli_verify(&app);
    assert_eq!(code, 0, "{printed}");
    assert!(printed.contains("intact"), "{printed}");

    // More work after the seal: sealed at the next pass; meanwhile shown as unsealed.
    work(&app, &staff).await;
    assert_eq!(verification(&app, &admin).await["unsealed_events"], 5);
    assert_eq!(seal(&app).await, 1);
    assert_eq!(verification(&app, &admin).await["seals"], 2);

    // Someone with write access to the database edits one event…
    execute(
        &app,
        "UPDATE queue_events SET actor = 'staff:someone-else' WHERE id = (SELECT min(id) FROM queue_events)",
    )
    .await;
    let v = verification(&app, &admin).await;
    assert_eq!(v["status"], "tampered", "{v}");
    assert!(v["problem"].as_str().unwrap().starts_with("seal 1:"), "{v}");
    let (code, printed) = cli_verify(&app);
    assert_eq!(code, 1, "{printed}");
    assert!(printed.contains("tampered"), "{printed}");
}

async fn a_deleted_event_or_seal_is_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app.staff_token("main", StaffRole::Staff).await;
    let admin = app.staff_token("main", StaffRole::Admin).await;
    work(&app, &staff).await;
    assert_eq!(seal(&app).await, 1);
    work(&app, &staff).await;
    assert_eq!(seal(&app).await, 1);
    assert_eq!(verification(&app, &admin).await["status"], "intact");
    // The newest event of the second seal's range is deleted: its count no longer holds.
    execute(
        &app,
        "DELETE FROM queue_events WHERE id = (SELECT max(id) FROM queue_events)",
    )
    .await;
    let v = verification(&app, &admin).await;
    assert_eq!(v["status"], "tampered", "{v}");
    assert!(
        v["problem"]
            .as_str()
            .unwrap()
            .contains("seal 2: 5 events sealed, 4 found"),
        "{v}"
    );
    // Deleting the first seal breaks the chain too.
    execute(&app, "DELETE FROM audit_seals WHERE seq = 1").await;
    let v = verification(&app, &admin).await;
    assert_eq!(v["problem"], "seal 1 is missing", "{v}");
}

on_both_backends!(
    the_chain_holds_until_an_event_or_a_seal_is_changed,
    a_deleted_event_or_seal_is_found,
);
