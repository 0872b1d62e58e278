//! Bad input gets a clear 4xx problem+json answer, never a 5xx.
use madoguchi_tests::{Backend, assert_problem, on_both_backends, renewal, spawn_app};
use serde_json::json;

const NINE: &str = "2026-12-04T09:00:00+09:00";

async fn a_pin_field_is_refused_with_a_fraud_warning_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    for (field, nested) in [
        ("pin", false),
        ("暗証番号", false),
        ("signing_password", true),
    ] {
        let mut body = renewal("main", NINE, "pin@example.jp");
        if nested {
            body["resident"][field] = json!("123456");
        } else {
            body[field] = json!("1234");
        }
        let problem = assert_problem(app.book(&body).await, 400, "pin-not-accepted").await;
        assert!(problem["detail"].as_str().unwrap().contains("暗証番号"));
    }
    assert_eq!(app.reservation_count().await, 0);
}

async fn field_errors_are_listed_together(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = json!({
        "office_id": "atlantis", "procedure": "renewal", "start": "tomorrow",
        "resident": { "name": " ", "email": "not-an-address", "phone": "12" },
        "certificate_expiry": "31/01/2027"
    });
    let problem = assert_problem(app.book(&body).await, 400, "invalid-field").await;
    let fields = madoguchi_tests::error_fields(&problem);
    assert_eq!(
        fields,
        [
            "certificate_expiry",
            "office_id",
            "procedure",
            "resident.email",
            "resident.name",
            "resident.phone",
            "start"
        ]
    );
}

async fn malformed_bodies_and_wrong_methods_get_problem_answers(backend: Backend) {
    let app = spawn_app(backend).await;
    let url = app.url("/api/v1/reservations");
    let not_json = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_problem(not_json, 400, "malformed-request").await;
    let wrong_type = app
        .client
        .post(&url)
        .json(&json!({"office_id": 3}))
        .send()
        .await
        .unwrap();
    assert_problem(wrong_type, 400, "malformed-request").await;
    let missing = app
        .client
        .post(&url)
        .json(&json!({"office_id": "main"}))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 400, "malformed-request").await;
    let unknown = {
        let mut body = renewal("main", NINE, "x@example.jp");
        body["favourite_colour"] = json!("blue");
        app.book(&body).await
    };
    let problem = assert_problem(unknown, 400, "malformed-request").await;
    assert_eq!(problem["field"], "favourite_colour");
    let form = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_problem(form, 415, "unsupported-media-type").await;
    let huge = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(format!("{{\"office_id\":\"{}\"}}", "x".repeat(20_000)))
        .send()
        .await
        .unwrap();
    assert_problem(huge, 413, "payload-too-large").await;
    let put = app.client.put(&url).json(&json!({})).send().await.unwrap();
    assert_problem(put, 405, "method-not-allowed").await;
    assert_problem(app.get("/api/v1/nothing-here").await, 404, "not-found").await;
    let bad_key = app
        .client
        .post(&url)
        .header("Idempotency-Key", "")
        .json(&renewal("main", NINE, "k@example.jp"))
        .send()
        .await
        .unwrap();
    assert_problem(bad_key, 400, "invalid-field").await;
}

async fn problems_speak_english_when_asked(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/api/v1/offices/nowhere"))
        .header("accept-language", "en-GB,en;q=0.9,ja;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-language"], "en");
    let body = assert_problem(response, 404, "office-not-found").await;
    assert_eq!(body["title"], "No such office");
    let japanese = assert_problem(
        app.get("/api/v1/offices/nowhere").await,
        404,
        "office-not-found",
    )
    .await;
    assert_eq!(japanese["title"], "窓口が見つかりません");
}

/// NUL reached PostgreSQL as a 500; SQLite stored and echoed it. One guard at the edge
/// refuses every control character, in JSON, forms, queries and paths, on both backends.
async fn control_characters_are_refused_everywhere_and_nothing_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Admin)
        .await;
    let check_in = app
        .client
        .post(app.url("/api/v1/offices/main/check-ins"))
        .bearer_auth(&staff)
        .json(&json!({ "reference": "A\u{0}B" }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(check_in, 400, "malformed-request").await;
    assert_eq!(problem["control_character"], "U+0000", "{problem}");
    for name in [
        "山田\u{0}太郎",
        "山田\n太郎",
        "山田\t太郎",
        "山田\u{85}太郎",
    ] {
        let mut body = renewal("main", NINE, "ctl@example.jp");
        body["resident"]["name"] = json!(name);
        assert_problem(app.book(&body).await, 400, "malformed-request").await;
    }
    let room = app
        .client
        .put(app.url("/api/v1/waiting-rooms/nul-room"))
        .bearer_auth(&staff)
        .json(&json!({ "name": { "ja": "待合\u{0}室", "en": "Room" } }))
        .send()
        .await
        .unwrap();
    assert_problem(room, 400, "malformed-request").await;
    assert_problem(
        app.get("/api/v1/offices/main/availability?procedure=cert_renewal%00")
            .await,
        400,
        "malformed-request",
    )
    .await;
    assert_problem(
        app.get("/api/v1/tickets/%00").await,
        400,
        "malformed-request",
    )
    .await;
    let form = app
        .client
        .post(app.url("/book/main/cert_renewal/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=%E5%B1%B1%E7%94%B0%00&email=ctl%40example.jp")
        .send()
        .await
        .unwrap();
    assert_problem(form, 400, "malformed-request").await;
    assert_eq!(app.reservation_count().await, 0);
    assert!(
        app.get("/api/v1/waiting-rooms/nul-room").await.status() == 404,
        "no room was stored"
    );
    // Ordinary text with its escapes still passes.
    let mut body = renewal("main", NINE, "ctl@example.jp");
    body["resident"]["name"] = json!("山田 \"太郎\" \\ é");
    assert_eq!(app.book(&body).await.status(), 201);
}

/// 405 answers named no allowed method (RFC 9110 requires `Allow`): every operation of the
/// OpenAPI document answers the methods it does not serve with 405 and exactly its own.
async fn every_path_answers_other_methods_with_405_and_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let doc: serde_json::Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 25);
    for (path, item) in paths {
        let url = path
            .replace("{office_id}", "main")
            .replace("{counter_id}", "1")
            .replace("{action}", "finish")
            .replace("{reference}", "K7MQX2P4")
            .replace("{ticket_id}", "00000000-0000-4000-8000-000000000000")
            .replace("{room_id}", "a-room");
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "post", "put", "delete", "patch"].contains(&m.as_str()))
            .map(|m| m.to_uppercase())
            .collect();
        documented.sort();
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if documented.iter().any(|m| m == method) {
                continue;
            }
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(&url))
                .send()
                .await
                .unwrap();
            let mut allow: Vec<String> = response
                .headers()
                .get("allow")
                .unwrap_or_else(|| panic!("{method} {path}: no Allow"))
                .to_str()
                .unwrap()
                .split(", ")
                .map(str::to_owned)
                .collect();
            allow.sort();
            assert_eq!(allow, documented, "{method} {path}");
            assert_problem(response, 405, "method-not-allowed").await;
        }
    }
    // Pages too.
    let page = app.get("/staff/sign-in").await;
    assert_eq!(page.status(), 405);
    assert_eq!(page.headers()["allow"], "POST");
}

/// A counter action with a nonsense body was answered 200: actions other than a transfer
/// take no body, and a transfer's body is parsed strictly.
async fn counter_actions_refuse_bodies_they_do_not_take(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    let post = |path: &str, body: Option<&str>| {
        let mut request = app.client.post(app.url(path)).bearer_auth(&staff);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        request.send()
    };
    let nonsense = r#"{"keep_place":"","line_id":{}}"#;
    for action in ["finish", "recall", "start", "no-show", "pause"] {
        let answer = post(
            &format!("/api/v1/offices/main/counters/1/{action}"),
            Some(nonsense),
        )
        .await
        .unwrap();
        assert_problem(answer, 400, "malformed-request").await;
    }
    let transfer = post("/api/v1/offices/main/counters/1/transfer", Some(nonsense))
        .await
        .unwrap();
    assert_problem(transfer, 400, "malformed-request").await;
    // No body, or an empty object, is what these actions take.
    let idle = post("/api/v1/offices/main/counters/1/finish", Some("{}"))
        .await
        .unwrap();
    assert_problem(idle, 409, "counter-idle").await;
    let idle = post("/api/v1/offices/main/counters/1/finish", None)
        .await
        .unwrap();
    assert_problem(idle, 409, "counter-idle").await;
}

on_both_backends!(
    counter_actions_refuse_bodies_they_do_not_take,
    every_path_answers_other_methods_with_405_and_allow,
    control_characters_are_refused_everywhere_and_nothing_is_stored,
    a_pin_field_is_refused_with_a_fraud_warning_and_nothing_is_stored,
    field_errors_are_listed_together,
    malformed_bodies_and_wrong_methods_get_problem_answers,
    problems_speak_english_when_asked,
);
