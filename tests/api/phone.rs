//! The phone desk (電話予約の代行): staff book for a caller by the resident's rules with
//! the consent noted and the reference read back, and find, move and cancel a caller's
//! booking after the online deadline; each step is an audit event naming the staff token.

use crate::pages::{post_form, signed_in_at_main, urlencode};
use madoguchi::store::queue::StaffRole;
use madoguchi_tests::{Backend, TestApp, birth_date_of, on_both_backends, renewal, spawn_app};

async fn page(app: &TestApp, path: &str, cookies: &str) -> (u16, String) {
    let answer = app
        .client
        .get(app.url(path))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn post(app: &TestApp, path: &str, cookies: &str, body: &str) -> (u16, String) {
    let answer = post_form(app, path, cookies, body).await;
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The text of the element with `id`, up to its first tag.
fn text_of<'a>(html: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\">");
    html.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("")
}

fn staff_actors(trail: &[(String, String, Option<String>)]) -> Vec<&str> {
    trail
        .iter()
        .filter(|(_, actor, _)| actor.starts_with("staff:"))
        .map(|(kind, ..)| kind.as_str())
        .collect()
}

async fn the_phone_desk_books_for_a_caller_with_consent_and_reads_the_reference_back(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let (status, _) = page(&app, "/staff/main/phone", "").await;
    assert_eq!(status, 401, "nothing of the office before sign-in");
    let staff = app.staff_token("main", StaffRole::Staff).await;
    let (cookies, csrf) = signed_in_at_main(&app, &staff).await;
    let (status, desk) = page(
        &app,
        "/staff/main/phone?procedure=cert_renewal&date=2026-12-04",
        &cookies,
    )
    .await;
    assert_eq!(status, 200);
    let form = "/staff/main/phone/cert_renewal/form?start=2026-12-04T09:00";
    assert!(desk.contains(&format!("{form}&#38;lang=ja")), "{desk}");
    let (status, blank) = page(&app, form, &cookies).await;
    assert_eq!(status, 200);
    assert!(blank.contains("name=\"consent\"") && blank.contains("name=\"mail_lang\""));

    let caller = |consent: &str, phone: &str| {
        format!(
            "csrf={csrf}&start=2026-12-04T09:00&idempotency_key=phone-{phone}&name={}&phone={phone}\
             &email=caller%40example.jp&birth_date=1948-03-03&certificate_expiry=2027-01-31\
             &mail_lang=easy{consent}",
            urlencode("電話 花子")
        )
    };
    let action = "/staff/main/phone/cert_renewal/form";
    let (status, refused) = post(&app, action, &cookies, &caller("", "0312345678")).await;
    assert_eq!(status, 422, "no consent, no booking");
    assert!(refused.contains("同意を確かめて"), "{refused}");
    assert!(
        refused.contains("value=\"電話 花子\""),
        "what staff typed stays"
    );
    assert_eq!(
        app.active_rows("main", "cert_renewal", "2026-12-04T09:00:00+09:00")
            .await,
        0
    );

    let (status, done) = post(&app, action, &cookies, &caller("&consent=1", "0312345678")).await;
    assert_eq!(status, 201, "{done}");
    let reference = text_of(&done, "reference").to_owned();
    assert_eq!(reference.len(), 10, "{reference}");
    let spelled = done.split("id=\"spelled\"").nth(1).unwrap();
    let spelled = spelled.split("</ol>").next().unwrap();
    assert_eq!(
        spelled.matches("<li>").count(),
        9,
        "every symbol with its reading"
    );
    assert!(done.contains("確認のメールをお送りします"));
    let trail = app.trail(&reference).await;
    assert_eq!(trail.len(), 1, "one booked entry: {trail:?}");
    let (kind, actor, detail) = &trail[0];
    assert_eq!(kind, "booked");
    assert!(actor.starts_with("staff:") && actor.len() > 20, "{actor}");
    assert!(!actor.contains(&staff), "the token itself is never written");
    let detail: serde_json::Value = serde_json::from_str(detail.as_deref().unwrap()).unwrap();
    assert_eq!(
        detail,
        serde_json::json!({ "channel": "phone", "consent": true })
    );

    // The caller's e-mail speaks the chosen やさしい日本語, furigana in brackets.
    let admin = app.staff_token("main", StaffRole::Admin).await;
    let (admin, _) = signed_in_at_main(&app, &admin).await;
    let (status, outbox) = page(&app, "/staff/main/outbox", &admin).await;
    assert_eq!(status, 200);
    assert!(
        outbox.contains("つぎの内容（ないよう）で よやくが できました。"),
        "{outbox}"
    );

    // The same rules as online: the same person (another contact) has their booking.
    let (status, again) = post(&app, action, &cookies, &caller("&consent=1", "09011112222")).await;
    assert_eq!(status, 422);
    assert!(again.contains("同じ手続きの予約は1件まで"), "{again}");
}

async fn the_phone_desk_finds_moves_and_cancels_a_callers_booking_after_the_online_deadline(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let email = "caller2@example.jp";
    let booked = app
        .book_ok(&renewal("main", "2026-12-04T10:00:00+09:00", email))
        .await;
    let elsewhere = app
        .book_ok(&renewal(
            "north",
            "2026-12-04T10:00:00+09:00",
            "north@example.jp",
        ))
        .await;
    // The online deadline (two days before) has passed: the resident phones.
    app.clock.set(
        "2026-12-03T09:00:00+09:00"
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .unwrap()
            .into(),
    );
    let staff = app.staff_token("main", StaffRole::Staff).await;
    let (cookies, csrf) = signed_in_at_main(&app, &staff).await;
    let desk = "/staff/main/phone";
    let act = |action: &str, extra: &str| {
        format!(
            "csrf={csrf}&action={action}&reference={}{extra}",
            booked.reference
        )
    };

    // By name and birth date when the reference is lost (the name typed another way).
    let person = format!(
        "csrf={csrf}&action=find_person&name={}&birth_date={}",
        urlencode("山田　太郎"),
        birth_date_of(email)
    );
    let (status, found) = post(&app, desk, &cookies, &person).await;
    assert_eq!(status, 200);
    assert!(found.contains(&booked.reference), "{found}");
    // Another office's booking is not this desk's.
    let other = format!("csrf={csrf}&action=view&reference={}", elsewhere.reference);
    let (status, _) = post(&app, desk, &cookies, &other).await;
    assert_eq!(status, 404);
    let typo = format!("csrf={csrf}&action=view&reference=K7MQ-X2P4T");
    let (status, typo) = post(&app, desk, &cookies, &typo).await;
    assert_eq!(status, 400, "{typo}");

    let (status, opened) = post(&app, desk, &cookies, &act("view", "")).await;
    assert_eq!(status, 200);
    assert_eq!(
        text_of(&opened, "booking-name"),
        "山田 太郎",
        "staff check the name"
    );
    assert!(
        !opened.contains("id=\"change-until\""),
        "the online deadline is not staff's"
    );
    assert!(
        opened.contains("2026-12-07T10:00"),
        "other times to move to"
    );

    let (status, moved) = post(
        &app,
        desk,
        &cookies,
        &act("reschedule", "&start=2026-12-07T10:00"),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert!(text_of(&moved, "booking-when").contains("10:00"), "{moved}");
    let (status, asking) = post(&app, desk, &cookies, &act("cancel", "")).await;
    assert_eq!(status, 200);
    assert!(
        asking.contains("value=\"cancel_confirmed\""),
        "cancel asks first"
    );
    assert_eq!(
        app.active_rows("main", "cert_renewal", "2026-12-07T10:00:00+09:00")
            .await,
        1
    );
    let (status, cancelled) = post(&app, desk, &cookies, &act("cancel_confirmed", "")).await;
    assert_eq!(status, 200, "{cancelled}");
    assert!(text_of(&cancelled, "desk-done").contains("取り消しました"));
    assert_eq!(
        app.active_rows("main", "cert_renewal", "2026-12-07T10:00:00+09:00")
            .await,
        0
    );

    let trail = app.trail(&booked.reference).await;
    assert_eq!(trail[0].0, "booked", "the resident's own booking");
    assert_eq!(trail[0].1, "resident");
    assert_eq!(
        staff_actors(&trail),
        ["viewed", "viewed", "rescheduled", "viewed", "cancelled"],
        "{trail:?}"
    );
    let actors: std::collections::BTreeSet<&str> = trail[1..]
        .iter()
        .map(|(_, actor, _)| actor.as_str())
        .collect();
    assert_eq!(actors.len(), 1, "one staff token did it all: {trail:?}");
    // The office's administrators read them in the audit API, the token never.
    let admin = app.staff_token("main", StaffRole::Admin).await;
    let audit: serde_json::Value = app
        .client
        .get(app.url("/api/v1/offices/main/audit?date=2026-12-03"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = audit["booking_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["viewed", "viewed", "rescheduled", "viewed", "cancelled"]
    );
    assert!(!audit.to_string().contains(&staff), "{audit}");
    // By name and birth date again: a cancelled booking is not listed.
    let (_, after) = post(&app, desk, &cookies, &person).await;
    assert!(
        after.contains("id=\"found-none\""),
        "a cancelled booking is not found"
    );
}

on_both_backends!(
    the_phone_desk_books_for_a_caller_with_consent_and_reads_the_reference_back,
    the_phone_desk_finds_moves_and_cancels_a_callers_booking_after_the_online_deadline,
);
