//! Personal data is never logged.
use madoguchi_tests::{Backend, logs_text, on_both_backends, spawn_app};
use serde_json::json;

async fn names_contacts_and_references_do_not_reach_the_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("個人情報{marker}");
    let email = format!("p{marker}@example.jp");
    let phone = "090-5555-0123";
    let ok = app
        .book_ok(&json!({
            "office_id": "main", "procedure": "cert_renewal", "start": "2026-12-04T09:00:00+09:00",
            "resident": { "name": name, "email": email, "phone": phone }, "birth_date": "1960-05-01",
            "certificate_expiry": "2027-01-31",
        }))
        .await;
    // Error paths log too: a refused duplicate and a malformed request.
    app.book(&json!({
        "office_id": "main", "procedure": "cert_renewal", "start": "2026-12-04T09:15:00+09:00",
        "resident": { "name": name, "email": email }, "birth_date": "1960-05-01",
        "certificate_expiry": "2027-01-31",
    }))
    .await;
    app.book(&json!({ "office_id": "main", "procedure": "cert_renewal", "start": "x", "resident": { "name": name, "email": "bad" } })).await;
    app.get(&format!("/api/v1/reservations/{}", ok.reference))
        .await;
    let logs = logs_text();
    assert!(
        logs.contains("/api/v1/reservations"),
        "the requests were logged"
    );
    for secret in [
        &name,
        &email,
        &marker,
        &ok.reference,
        &ok.secret,
        &"09055550123".to_owned(),
    ] {
        assert!(
            !logs.contains(secret.as_str()),
            "{secret} leaked into the logs"
        );
    }
}

on_both_backends!(names_contacts_and_references_do_not_reach_the_logs,);
