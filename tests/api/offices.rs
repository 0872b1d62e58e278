use madoguchi_tests::{Backend, assert_problem, on_both_backends, spawn_app};
use serde_json::Value;

async fn offices_list_the_sample_city_with_hours_and_procedures(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: Value = app.get("/api/v1/offices").await.json().await.unwrap();
    let offices = body["offices"].as_array().unwrap();
    let ids: Vec<&str> = offices.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["main", "north", "south", "mall"]);
    let main = &offices[0];
    assert_eq!(
        main["hours"]["thu"],
        serde_json::json!(["08:30-12:00", "13:00-19:00"])
    );
    assert_eq!(main["procedures"].as_array().unwrap().len(), 8);
    assert_eq!(
        body["offices"][3]["holiday_hours"],
        serde_json::json!(["08:30-16:30"])
    );
    let one: Value = app.get("/api/v1/offices/north").await.json().await.unwrap();
    assert_eq!(one["name"]["ja"], "北部出張所");
    assert_problem(
        app.get("/api/v1/offices/nowhere").await,
        404,
        "office-not-found",
    )
    .await;
}

async fn procedures_say_what_to_bring_and_where(backend: Backend) {
    let app = spawn_app(backend).await;
    let body: Value = app.get("/api/v1/procedures").await.json().await.unwrap();
    let list = body["procedures"].as_array().unwrap();
    assert_eq!(list.len(), 8);
    let pin = list.iter().find(|p| p["id"] == "pin_reset").unwrap();
    assert_eq!(pin["offices"], serde_json::json!(["main", "mall"]));
    assert_eq!(pin["bookable_at"], serde_json::json!(["main"]));
    let pickup = list.iter().find(|p| p["id"] == "card_pickup").unwrap();
    assert_eq!(pickup["identity"], "notice_and_birth_date");
    assert!(
        body["pin_notice"]["ja"]
            .as_str()
            .unwrap()
            .contains("暗証番号")
    );
}

async fn availability_lists_bookable_slots_and_closed_days(backend: Backend) {
    let app = spawn_app(backend).await;
    // 2026-12-01 10:00: bookable from Friday 4 December; the 5th/6th are a weekend,
    // the 13th a reservation-only holiday window, the 20th the maintenance Sunday.
    let body: Value = app
        .get("/api/v1/offices/main/availability?procedure=cert_renewal&from=2026-12-01&to=2026-12-20")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["booking_window"]["first"], "2026-12-04");
    let slots = body["slots"].as_array().unwrap();
    assert_eq!(slots[0]["start"], "2026-12-04T08:30:00+09:00");
    assert_eq!(slots[0]["end"], "2026-12-04T08:45:00+09:00");
    assert_eq!(slots[0]["capacity"], 2);
    assert_eq!(slots[0]["remaining"], 2);
    assert!(
        slots
            .iter()
            .all(|s| s["start"].as_str().unwrap() >= "2026-12-04")
    );
    // The lunch gap has no slots; Thursday evening has slots until 19:00.
    assert!(
        !slots
            .iter()
            .any(|s| s["start"] == "2026-12-04T12:00:00+09:00")
    );
    assert!(
        slots
            .iter()
            .any(|s| s["end"] == "2026-12-10T19:00:00+09:00")
    );
    assert!(
        slots
            .iter()
            .any(|s| s["start"] == "2026-12-13T09:00:00+09:00"),
        "holiday window"
    );
    let closed: Vec<(&str, &str)> = body["closed_days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap(), d["kind"].as_str().unwrap()))
        .collect();
    assert!(closed.contains(&("2026-12-05", "weekly")));
    assert!(closed.contains(&("2026-12-20", "system_maintenance")));
}

async fn availability_refuses_what_cannot_be_booked(backend: Backend) {
    let app = spawn_app(backend).await;
    let walk_in = app
        .get("/api/v1/offices/mall/availability?procedure=pin_reset")
        .await;
    assert_problem(walk_in, 422, "procedure-not-bookable").await;
    let not_offered = app
        .get("/api/v1/offices/north/availability?procedure=pin_reset")
        .await;
    assert_problem(not_offered, 422, "procedure-not-offered").await;
    let unknown = app
        .get("/api/v1/offices/main/availability?procedure=renewal")
        .await;
    let body = assert_problem(unknown, 400, "invalid-field").await;
    assert_eq!(body["errors"][0]["field"], "procedure");
    let missing = app.get("/api/v1/offices/main/availability").await;
    assert_problem(missing, 400, "malformed-request").await;
    let backwards = app
        .get("/api/v1/offices/main/availability?procedure=cert_renewal&from=2026-12-10&to=2026-12-04")
        .await;
    assert_problem(backwards, 422, "invalid-range").await;
    let bad_date = app
        .get("/api/v1/offices/main/availability?procedure=cert_renewal&from=2026-13-01")
        .await;
    assert_problem(bad_date, 400, "invalid-field").await;
}

on_both_backends!(
    offices_list_the_sample_city_with_hours_and_procedures,
    procedures_say_what_to_bring_and_where,
    availability_lists_bookable_slots_and_closed_days,
    availability_refuses_what_cannot_be_booked,
);
