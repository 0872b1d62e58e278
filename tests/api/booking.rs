use madoguchi_tests::{Backend, assert_problem, on_both_backends, pickup, renewal, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};

const NINE: &str = "2026-12-04T09:00:00+09:00";

async fn a_booking_is_confirmed_with_everything_the_resident_needs(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.book(&renewal("main", NINE, "taro@example.jp")).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let reference = body["reference"].as_str().unwrap();
    assert_eq!(
        reference.len(),
        10,
        "nine symbols and a hyphen, e.g. K7MQ-X2P4S"
    );
    assert!(madoguchi::domain::reference::Reference::parse(reference).is_ok());
    assert_eq!(location, format!("/api/v1/reservations/{reference}"));
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["start"], NINE);
    assert_eq!(body["end"], "2026-12-04T09:15:00+09:00");
    assert_eq!(body["bring"][0]["ja"], "マイナンバーカード");
    assert_eq!(
        body["office"]["address"]["ja"],
        "あおば市中央1-1-1 本庁舎1階"
    );
    assert_eq!(
        body["office"]["hours"]["mon"],
        json!(["08:30-12:00", "13:00-17:00"])
    );
    assert!(
        body["pin_notice"]["ja"]
            .as_str()
            .unwrap()
            .contains("暗証番号")
    );
    assert!(
        body["pin_notice"]["en"]
            .as_str()
            .unwrap()
            .contains("never ask for your PIN")
    );
    assert_eq!(
        body["afterwards"].as_array().unwrap().len(),
        3,
        "renewals pause online services"
    );
    assert_eq!(body["change_until"], "2026-12-02");

    // The ledger holds it, the hot state counts it.
    assert_eq!(app.active_rows("main", "cert_renewal", NINE).await, 1);
    assert_eq!(app.remaining_at("main", "cert_renewal", NINE).await, 1);

    // The owner can see it with the secret; nobody can without.
    let secret = body["secret"].as_str().unwrap();
    let path = format!("/api/v1/reservations/{reference}");
    let seen: Value = app
        .with_secret(Method::GET, &path, secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["status"], "confirmed");
    assert!(
        seen.get("secret").is_none(),
        "the secret is shown only at booking"
    );
    let wrong = app
        .with_secret(Method::GET, &path, "AAAAAAAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 404, "reservation-not-found").await;
    let missing = app.get(&path).await;
    assert_problem(missing, 400, "missing-secret").await;
    let unknown = app
        .with_secret(
            Method::GET,
            "/api/v1/reservations/BBBBBBBBBBBBBBBBBBBBBBBBBB",
            secret,
        )
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "reservation-not-found").await;
}

async fn a_pickup_is_identified_by_the_postcard_number_and_birth_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let ok = app.book_ok(&pickup("north", NINE, "1234-5678-90")).await;
    assert_eq!(ok.body["bring"][0]["ja"], "交付通知書（はがき）");
    // The same postcard again (typed differently) is the same resident.
    let again = app
        .book(&pickup(
            "north",
            "2026-12-04T09:15:00+09:00",
            "１２３４５６７８９０",
        ))
        .await;
    assert_problem(again, 422, "already-booked").await;
    let mut no_birth = pickup("north", "2026-12-04T09:30:00+09:00", "99999999");
    no_birth.as_object_mut().unwrap().remove("birth_date");
    let body = assert_problem(app.book(&no_birth).await, 422, "missing-field").await;
    assert_eq!(body["field"], "birth_date");
}

async fn one_active_booking_per_resident_and_procedure_across_offices(backend: Backend) {
    let app = spawn_app(backend).await;
    app.book_ok(&renewal("main", NINE, "hanako@example.jp"))
        .await;
    // Same office, other slot: refused by the hot state.
    let same_office = app
        .book(&renewal(
            "main",
            "2026-12-04T10:00:00+09:00",
            "Hanako@Example.jp",
        ))
        .await;
    assert_problem(same_office, 422, "already-booked").await;
    // The same person with another contact, the name typed another way: still one person.
    let mut by_phone = renewal("main", "2026-12-04T10:15:00+09:00", "hanako@example.jp");
    by_phone["resident"] = json!({ "name": "山田　太郎", "phone": "090-1111-2222" });
    assert_problem(app.book(&by_phone).await, 422, "already-booked").await;
    let mut alias = by_phone.clone();
    alias["resident"] = json!({ "name": "山田太郎", "email": "hanako+second@example.jp" });
    assert_problem(app.book(&alias).await, 422, "already-booked").await;
    // Another person of the household, on the same address: a booking of their own.
    let mut family = by_phone.clone();
    family["resident"] = json!({ "name": "山田 花子", "email": "hanako@example.jp" });
    app.book_ok(&family).await;
    // A contact and the birth date are needed, and both are named at once.
    let mut bare = renewal("main", "2026-12-04T10:30:00+09:00", "x@example.jp");
    bare["resident"] = json!({ "name": "名前 だけ" });
    bare.as_object_mut().unwrap().remove("birth_date");
    let body = assert_problem(app.book(&bare).await, 422, "missing-field").await;
    assert_eq!(
        body["field"], "resident.email",
        "named by its place in the body"
    );
    assert_eq!(
        madoguchi_tests::error_fields(&body),
        ["birth_date", "resident.email"]
    );
    // Another office: refused by the ledger's unique index, and the seat goes back.
    let other_office = app.book(&renewal("north", NINE, "hanako@example.jp")).await;
    assert_problem(other_office, 422, "already-booked").await;
    assert_eq!(app.remaining_at("north", "cert_renewal", NINE).await, 1);
    assert_eq!(app.active_rows("north", "cert_renewal", NINE).await, 0);
    // Another procedure is fine.
    let mut update = renewal("main", NINE, "hanako@example.jp");
    update["procedure"] = json!("card_update");
    update.as_object_mut().unwrap().remove("certificate_expiry");
    app.book_ok(&update).await;
}

async fn renewal_eligibility_follows_the_expiry_date(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut early = renewal("main", NINE, "early@example.jp");
    early["certificate_expiry"] = json!("2027-05-20");
    let body = assert_problem(app.book(&early).await, 422, "renewal-too-early").await;
    assert_eq!(body["earliest_date"], "2027-02-21");

    let mut expired = renewal("main", NINE, "late@example.jp");
    expired["certificate_expiry"] = json!("2026-12-03");
    let body = assert_problem(app.book(&expired).await, 422, "certificate-expired").await;
    assert_eq!(body["suggested_procedure"], "cert_issue");

    let mut missing = renewal("main", NINE, "none@example.jp");
    missing
        .as_object_mut()
        .unwrap()
        .remove("certificate_expiry");
    let body = assert_problem(app.book(&missing).await, 422, "missing-field").await;
    assert_eq!(body["field"], "certificate_expiry");

    let mut last_day = renewal("main", NINE, "lastday@example.jp");
    last_day["certificate_expiry"] = json!("2026-12-04");
    app.book_ok(&last_day).await;
}

async fn proxies_only_where_the_office_accepts_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut at_branch = renewal("north", NINE, "proxy@example.jp");
    at_branch["proxy"] = json!(true);
    assert_problem(app.book(&at_branch).await, 422, "proxy-not-accepted").await;
    let mut at_main = renewal("main", NINE, "proxy@example.jp");
    at_main["proxy"] = json!(true);
    let ok = app.book_ok(&at_main).await;
    assert!(
        ok.body["bring"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["en"].as_str().unwrap().contains("representative"))
    );
    let support = json!({
        "office_id": "main", "procedure": "application_support", "start": "2026-12-04T09:00:00+09:00",
        "resident": { "name": "代理 一郎", "email": "support@example.jp" }, "birth_date": "1960-05-01",
        "proxy": true
    });
    assert_problem(app.book(&support).await, 422, "proxy-not-possible").await;
}

async fn the_calendar_and_the_booking_window_are_enforced(backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        ("2026-12-05T09:00:00+09:00", "office-closed"), // Saturday
        ("2026-12-20T09:00:00+09:00", "office-closed"), // maintenance Sunday
        ("2026-12-29T09:00:00+09:00", "office-closed"), // year end
        ("2026-12-04T12:00:00+09:00", "not-a-slot"),    // lunch gap
        ("2026-12-04T09:05:00+09:00", "not-a-slot"),    // not on the grid
        ("2026-12-03T09:00:00+09:00", "booking-closed"), // less than 3 days ahead
        ("2027-01-18T09:00:00+09:00", "booking-not-open-yet"), // more than 45 days ahead
    ];
    for (i, (start, slug)) in cases.iter().enumerate() {
        let body = renewal("main", start, &format!("window{i}@example.jp"));
        let problem = assert_problem(app.book(&body).await, 422, slug).await;
        if *slug == "booking-not-open-yet" {
            assert_eq!(problem["opens_at"], "2026-12-04T08:30:00+09:00");
        }
        if start.starts_with("2026-12-20") {
            assert_eq!(problem["closure"]["kind"], "system_maintenance");
        }
    }
    // The reservation-only holiday window can be booked.
    app.book_ok(&renewal(
        "main",
        "2026-12-13T09:00:00+09:00",
        "holiday@example.jp",
    ))
    .await;
    // Walk-in-only procedures cannot.
    let walk_in = json!({
        "office_id": "mall", "procedure": "pin_reset", "start": NINE,
        "resident": { "name": "窓口 太郎", "email": "walkin@example.jp" }, "birth_date": "1960-05-01"
    });
    assert_problem(app.book(&walk_in).await, 422, "procedure-not-bookable").await;
}

on_both_backends!(
    a_booking_is_confirmed_with_everything_the_resident_needs,
    a_pickup_is_identified_by_the_postcard_number_and_birth_date,
    one_active_booking_per_resident_and_procedure_across_offices,
    renewal_eligibility_follows_the_expiry_date,
    proxies_only_where_the_office_accepts_them,
    the_calendar_and_the_booking_window_are_enforced,
);
