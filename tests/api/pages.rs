//! The server-rendered pages: what they show, their language, their security headers.
//! (Layout, accessibility and live updates are checked in a real browser: tests/browser.)

use madoguchi_tests::{Backend, on_both_backends, spawn_app};

async fn html(
    app: &madoguchi_tests::TestApp,
    path: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

async fn congestion_pages_show_live_figures_with_strict_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    app.take_ticket_ok("main", "card_pickup").await;
    let (status, headers, body) = html(&app, "/congestion/main").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(body.contains("市役所本庁舎"), "the office's name");
    assert!(
        body.contains("<td data-label=\"待ち人数\">1 人</td>"),
        "the waiting ticket is counted"
    );
    assert!(body.contains("暗証番号"), "the PIN warning");
    assert!(
        !body.to_lowercase().contains("<script>"),
        "no inline script"
    );

    let (status, _, list) = html(&app, "/congestion").await;
    assert_eq!(status, 200);
    for office in ["市役所本庁舎", "北部出張所", "南部出張所"] {
        assert!(list.contains(office), "{office} listed");
    }
}

async fn pages_speak_english_and_plain_japanese_and_remember_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/congestion?lang=en").await;
    assert_eq!(response.headers()["content-language"], "en");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("lang=en;") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("<html lang=\"en\">") && body.contains("Counter congestion"));

    let (_, _, easy) = html(&app, "/congestion?lang=easy").await;
    assert!(easy.contains("<ruby>"), "furigana in やさしい日本語");
    assert!(easy.contains("<html lang=\"ja\">"));
}

async fn unknown_offices_get_a_page_not_a_json_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, headers, body) = html(&app, "/congestion/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(body.contains("ページが見つかりません"));
    let (status, _, _) = html(&app, "/static/nothing.css").await;
    assert_eq!(status, 404);
}

async fn the_widget_may_be_framed_and_is_cached_briefly(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, headers, body) = html(&app, "/congestion/north/widget").await;
    assert_eq!(status, 200);
    assert!(headers.get("x-frame-options").is_none());
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors *") && !csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(headers["cache-control"], "public, max-age=15");
    assert!(body.contains("北部出張所"));
}

/// The kiosk's form: its token cookie and hidden field, as a browser would send them.
async fn kiosk_form(app: &madoguchi_tests::TestApp, office: &str) -> (String, String) {
    let response = app.get(&format!("/kiosk/{office}")).await;
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let body = response.text().await.unwrap();
    let token = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        pair,
        format!("csrf={token}"),
        "the field matches the cookie"
    );
    (pair, token)
}

async fn kiosk_press(
    app: &madoguchi_tests::TestApp,
    office: &str,
    cookie: &str,
    token: &str,
    procedure: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/kiosk/{office}")))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&procedure={procedure}"))
        .send()
        .await
        .unwrap()
}

async fn the_kiosk_issues_a_number_with_its_place_and_a_qr_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let (cookie, token) = kiosk_form(&app, "main").await;
    let pressed = kiosk_press(&app, "main", &cookie, &token, "card_pickup").await;
    assert_eq!(
        pressed.status(),
        303,
        "post, redirect, get: a reload prints nothing"
    );
    let location = pressed.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/kiosk/main/ticket/"), "{location}");
    let (status, headers, body) = html(&app, &location).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body.contains("A-001"), "the number");
    assert!(body.contains("data:image/svg+xml;base64,"), "the QR code");
    assert!(body.contains("/t/"), "the status page link");
    let again = kiosk_press(&app, "main", &cookie, &token, "card_pickup").await;
    let (_, _, second) = html(&app, again.headers()["location"].to_str().unwrap()).await;
    assert!(
        second.contains("A-002") && second.contains("1人"),
        "one ahead"
    );

    // The status page of the first ticket.
    let id = location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let (status, _, page) = html(&app, &format!("/t/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("A-001") && page.contains("data-status=\"waiting\""));
    assert!(page.contains("src=\"/static/live.js\""));
    let (status, _, _) = html(&app, "/t/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, 404);
    let (status, _, _) = html(&app, "/t/not-a-ticket").await;
    assert_eq!(status, 404);
}

async fn the_kiosk_refuses_forged_forms_and_issues_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let (cookie, _) = kiosk_form(&app, "main").await;
    let forged = kiosk_press(
        &app,
        "main",
        &cookie,
        "x".repeat(43).as_str(),
        "card_pickup",
    )
    .await;
    assert_eq!(forged.status(), 403);
    let no_cookie = kiosk_press(&app, "main", "", &"x".repeat(43), "card_pickup").await;
    assert_eq!(no_cookie.status(), 403);
    let waiting = app.get("/api/v1/offices/main/congestion").await;
    let figures: serde_json::Value = waiting.json().await.unwrap();
    assert_eq!(figures["lines"][0]["waiting"], 0, "nothing was issued");
}

async fn the_kiosk_says_when_intake_has_closed(backend: Backend) {
    let app = spawn_app(backend).await;
    let (cookie, token) = kiosk_form(&app, "main").await;
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-12-01T16:46:00+09:00")
            .unwrap()
            .to_utc(),
    );
    let (_, _, page) = html(&app, "/kiosk/main").await;
    assert!(page.contains("本日の受付は終了しました"));
    assert!(
        !page.contains("<button type=\"submit\" name=\"procedure\""),
        "no buttons"
    );
    let pressed = kiosk_press(&app, "main", &cookie, &token, "card_pickup").await;
    assert_eq!(pressed.status(), 409);
    let body = pressed.text().await.unwrap();
    assert!(body.contains("role=\"alert\""), "the refusal is announced");
}

async fn the_display_shows_calls_per_counter(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    app.take_ticket_ok("main", "card_pickup").await;
    app.call_next(&token, "main", "1").await;
    let (status, _, page) = html(&app, "/display/main").await;
    assert_eq!(status, 200);
    let counter = page.split("data-counter=\"1\"").nth(1).unwrap();
    let number = counter.split("called-number\">").nth(1).unwrap();
    assert!(number.starts_with("A-001"), "{number}");
    assert!(
        page.contains("aria-live=\"assertive\""),
        "calls are announced"
    );
    assert!(page.contains("<ol id=\"recent\"><li>A-001</li></ol>"));
}

pub(crate) async fn post_form(
    app: &madoguchi_tests::TestApp,
    path: &str,
    cookie: &str,
    body: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// The csrf cookie pair and field value of a form page.
async fn form_token(app: &madoguchi_tests::TestApp, path: &str) -> (String, String, String) {
    let response = app.get(path).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let body = response.text().await.unwrap();
    let token = pair.trim_start_matches("csrf=").to_owned();
    assert!(body.contains(&format!("value=\"{token}\"")));
    (pair, token, body)
}

/// Signs `staff` in at counter 1 of the main office, as the sign-in form does: the
/// cookies a browser then sends, and the form token.
pub(crate) async fn signed_in_at_main(
    app: &madoguchi_tests::TestApp,
    staff: &str,
) -> (String, String) {
    let (csrf, token, _) = form_token(app, "/staff/main/counter/1").await;
    let signed = post_form(
        app,
        "/staff/sign-in",
        &csrf,
        &format!("csrf={token}&token={staff}&next=%2Fstaff%2Fmain%2Fcounter%2F1"),
    )
    .await;
    let set = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    (format!("{csrf}; {}", set.split(';').next().unwrap()), token)
}

async fn the_staff_console_signs_in_and_runs_the_counter(backend: Backend) {
    let app = spawn_app(backend).await;
    let staff = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    let (status, _, picker) = html(&app, "/staff").await;
    assert_eq!(status, 200);
    assert!(
        picker.contains("href=\"/staff/main/counter/1?lang=ja\""),
        "the counter picker"
    );
    let console = "/staff/main/counter/1";
    let (csrf, token, sign_in) = form_token(&app, console).await;
    assert!(sign_in.contains("type=\"password\"") && !sign_in.contains(&staff));

    let wrong = post_form(
        &app,
        "/staff/sign-in",
        &csrf,
        &format!("csrf={token}&token=nope&next=%2Fstaff%2Fmain%2Fcounter%2F1"),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let evil = post_form(
        &app,
        "/staff/sign-in",
        &csrf,
        &format!("csrf={token}&token={staff}&next=https%3A%2F%2Fevil.example%2F"),
    )
    .await;
    assert_eq!(evil.headers()["location"], "/staff", "no open redirect");
    // CR/LF in the target was a 500 ("failed to parse header value"): now a clear 400.
    let split = post_form(
        &app,
        "/staff/sign-in",
        &csrf,
        &format!("csrf={token}&token={staff}&next=%2Fstaff%2F%0D%0Ax"),
    )
    .await;
    assert_eq!(split.status(), 400);
    assert!(split.headers().get("set-cookie").is_none());
    let signed = post_form(
        &app,
        "/staff/sign-in",
        &csrf,
        &format!("csrf={token}&token={staff}&next=%2Fstaff%2Fmain%2Fcounter%2F1"),
    )
    .await;
    assert_eq!(signed.status(), 303);
    assert_eq!(signed.headers()["location"], console);
    let set = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/staff"] {
        assert!(set.contains(part), "{set}");
    }
    let cookies = format!("{csrf}; {}", set.split(';').next().unwrap());

    app.take_ticket_ok("main", "card_pickup").await;
    let forged = post_form(&app, console, &cookies, "csrf=forged&action=call-next").await;
    assert_eq!(forged.status(), 403);
    let called = post_form(
        &app,
        console,
        &cookies,
        &format!("csrf={token}&action=call-next"),
    )
    .await;
    assert_eq!(called.status(), 303);
    let page = app
        .client
        .get(app.url(console))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("id=\"current-number\">A-001<"),
        "the called number"
    );
    let busy = post_form(
        &app,
        console,
        &cookies,
        &format!("csrf={token}&action=call-next"),
    )
    .await;
    assert_eq!(busy.status(), 409, "finish A-001 first");
    assert!(
        busy.text()
            .await
            .unwrap()
            .contains("A-001の対応を終えてから")
    );
    for action in ["start", "finish"] {
        let done = post_form(
            &app,
            console,
            &cookies,
            &format!("csrf={token}&action={action}"),
        )
        .await;
        assert_eq!(done.status(), 303, "{action}");
    }
    let figures: serde_json::Value = app
        .get("/api/v1/offices/main/congestion")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(figures["counters"][0]["number"], serde_json::Value::Null);
}

async fn a_token_of_another_office_cannot_run_this_counter(backend: Backend) {
    let app = spawn_app(backend).await;
    let north = app
        .staff_token("north", madoguchi::store::queue::StaffRole::Staff)
        .await;
    let (cookies, token) = signed_in_at_main(&app, &north).await;
    let page = app
        .client
        .get(app.url("/staff/main/counter/1"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    app.take_ticket_ok("main", "card_pickup").await;
    let refused = post_form(
        &app,
        "/staff/main/counter/1",
        &cookies,
        &format!("csrf={token}&action=call-next"),
    )
    .await;
    assert_eq!(refused.status(), 403);
    let figures: serde_json::Value = app
        .get("/api/v1/offices/main/congestion")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(figures["lines"][0]["waiting"], 1, "nobody was called");
}

const FORM: &str = "/book/main/cert_renewal/form";

/// Submits the booking form for 2026-12-04 09:00 with the given fields.
async fn book_by_form(
    app: &madoguchi_tests::TestApp,
    csrf: &(String, String),
    key: &str,
    fields: &str,
) -> reqwest::Response {
    post_form(
        app,
        FORM,
        &csrf.0,
        &format!(
            "csrf={}&start=2026-12-04T09%3A00&idempotency_key={key}&{fields}",
            csrf.1
        ),
    )
    .await
}

fn between<'a>(page: &'a str, from: &str, to: &str) -> &'a str {
    page.split(from).nth(1).unwrap().split(to).next().unwrap()
}

async fn the_booking_pages_lead_from_an_office_to_a_confirmed_slot(backend: Backend) {
    let app = spawn_app(backend).await;
    let (_, _, home) = html(&app, "/").await;
    assert!(home.contains("href=\"/book/main?lang=ja\"") && home.contains("暗証番号"));
    let (_, _, office) = html(&app, "/book/main").await;
    assert!(office.contains("href=\"/book/main/cert_renewal?lang=ja\""));
    let (status, _, calendar) = html(&app, "/book/main/cert_renewal?from=2026-12-04").await;
    assert_eq!(status, 200);
    assert!(
        calendar
            .contains("href=\"/book/main/cert_renewal/form?start=2026-12-04T09:00&#38;lang=ja\""),
        "a free slot links to the form"
    );
    assert!(calendar.contains("残り2"), "remaining seats");

    let (pair, token, form) = form_token(&app, &format!("{FORM}?start=2026-12-04T09:00")).await;
    assert!(form.contains("電子証明書の有効期限") && !form.to_lowercase().contains("name=\"pin"));
    let csrf = (pair, token);
    let key = "5b0c1f0e-3d0b-4a57-9d8c-2c2f4d1e7a10";
    let missing = book_by_form(&app, &csrf, key, "name=&email=").await;
    assert_eq!(missing.status(), 400);
    let page = missing.text().await.unwrap();
    assert!(page.contains("id=\"form-errors\"") && page.contains("aria-invalid=\"true\""));
    assert!(
        page.contains(&format!("value=\"{key}\"")),
        "the same key on a retry"
    );

    let fields = "name=%E5%B1%B1%E7%94%B0+%E8%8A%B1%E5%AD%90&email=hanako%40example.jp&birth_date=1960-05-01&certificate_expiry=2027-01-31";
    // A PIN through the form was booked silently where the API refused it: the same
    // rule now, with the fraud warning on the page and nothing stored.
    let pin = book_by_form(&app, &csrf, key, &format!("{fields}&pin=1234")).await;
    assert_eq!(pin.status(), 400);
    assert!(pin.text().await.unwrap().contains("詐欺"));
    assert_eq!(app.reservation_count().await, 0);
    let booked = book_by_form(&app, &csrf, key, fields).await;
    assert_eq!(booked.status(), 201);
    assert_eq!(booked.headers()["cache-control"], "no-store");
    let done = booked.text().await.unwrap();
    let reference = between(&done, "id=\"reference\">", "<").to_owned();
    let secret = between(&done, "id=\"secret\">", "<").to_owned();
    assert!(
        done.contains("data:text/calendar;charset=utf-8;base64,"),
        "an .ics file"
    );
    assert!(
        done.contains("openstreetmap.org/search?query="),
        "a map link"
    );
    // When to come, from the office's rules: check-in 60 minutes before, the priority
    // gone 5 minutes after the slot's start.
    let arrival = between(&done, "id=\"arrival\">", "<");
    assert!(
        arrival.contains("60分前から受付") && arrival.contains("09:05を過ぎて"),
        "{arrival}"
    );
    // The management link carries reference and secret in its fragment only.
    assert!(done.contains(&format!("/manage?lang=ja#r={reference}&#38;k={secret}")));
    let again = book_by_form(&app, &csrf, key, fields).await;
    let replay = again.text().await.unwrap();
    assert_eq!(
        between(&replay, "id=\"reference\">", "<"),
        reference,
        "no second booking"
    );
    let api = app
        .client
        .get(app.url(&format!("/api/v1/reservations/{reference}")))
        .header("x-reservation-secret", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200, "the booking is in the ledger");

    // Manage: view, then cancel, with reference + secret in the form body.
    let (mpair, mtoken, _) = form_token(&app, "/manage").await;
    let view = post_form(
        &app,
        "/manage",
        &mpair,
        &format!("csrf={mtoken}&action=view&reference={reference}&secret={secret}"),
    )
    .await;
    assert_eq!(view.status(), 200);
    assert!(view.text().await.unwrap().contains("予約済み"));
    let wrong = post_form(
        &app,
        "/manage",
        &mpair,
        &format!("csrf={mtoken}&action=view&reference={reference}&secret=wrong"),
    )
    .await;
    assert_eq!(wrong.status(), 404);
    let moved = post_form(
        &app,
        "/manage",
        &mpair,
        &format!(
            "csrf={mtoken}&action=reschedule&reference={reference}&secret={secret}&start=2026-12-04T10%3A00&certificate_expiry=2027-01-31"
        ),
    )
    .await;
    assert_eq!(moved.status(), 200);
    let moved = moved.text().await.unwrap();
    assert!(
        moved.contains("日時を変更しました") && moved.contains("10:00–10:15"),
        "moved"
    );
    // The manage page shows the last day of online changes (4 December, two days before).
    assert!(moved.contains("12月2日(水)まで"), "the deadline");
    // Cancel asks first, and changes nothing until confirmed.
    let ask = post_form(
        &app,
        "/manage",
        &mpair,
        &format!("csrf={mtoken}&action=cancel&reference={reference}&secret={secret}"),
    )
    .await;
    let ask = ask.text().await.unwrap();
    assert!(ask.contains("この予約を取り消しますか") && ask.contains("予約済み"));
    let cancel = post_form(
        &app,
        "/manage",
        &mpair,
        &format!("csrf={mtoken}&action=cancel_confirmed&reference={reference}&secret={secret}"),
    )
    .await;
    assert!(cancel.text().await.unwrap().contains("取消済み"));
    let after: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/v1/reservations/{reference}")))
        .header("x-reservation-secret", &secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "cancelled");
}

async fn a_full_slot_and_a_forged_form_are_refused_on_the_page(backend: Backend) {
    let app = spawn_app(backend).await;
    for email in ["a@example.jp", "b@example.jp"] {
        app.book_ok(&madoguchi_tests::renewal(
            "main",
            "2026-12-04T09:00:00+09:00",
            email,
        ))
        .await;
    }
    let (_, _, calendar) = html(&app, "/book/main/cert_renewal?from=2026-12-04").await;
    assert!(
        !calendar.contains("start=2026-12-04T09:00&#38;"),
        "a full slot has no link"
    );
    assert!(calendar.contains("満席"));
    let (pair, token, _) = form_token(&app, &format!("{FORM}?start=2026-12-04T09:00")).await;
    let fields = "name=X&email=c%40example.jp&birth_date=1960-05-01&certificate_expiry=2027-01-31";
    let full = book_by_form(&app, &(pair.clone(), token), "k-1", fields).await;
    assert_eq!(full.status(), 409);
    assert!(full.text().await.unwrap().contains("role=\"alert\""));
    let forged = book_by_form(&app, &(pair, "forged".to_owned()), "k-2", fields).await;
    assert_eq!(forged.status(), 403);
}

async fn kiosk_check_in(
    app: &madoguchi_tests::TestApp,
    (cookie, token): (&str, &str),
    code: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/kiosk/main/check-in"))
        .header("cookie", cookie)
        .form(&[("csrf", token), ("code", code)])
        .send()
        .await
        .unwrap()
}

/// 「予約の方はこちら」: the kiosk checks a booking in by its scanned confirmation link or
/// its typed reference and shows the ticket like a walk-in's; a second check-in shows the
/// same ticket; a typo and an unknown reference are told apart, on the page.
async fn a_booked_resident_checks_in_at_the_kiosk(backend: Backend) {
    let app = spawn_app(backend).await;
    let booked = app
        .book_ok(&madoguchi_tests::renewal(
            "main",
            "2026-12-04T10:00:00+09:00",
            "kiosk-check-in@example.jp",
        ))
        .await;
    let (_, _, kiosk) = html(&app, "/kiosk/main").await;
    assert!(
        kiosk.contains("href=\"/kiosk/main/check-in?lang=ja\""),
        "the button"
    );
    assert!(kiosk.contains("予約の方はこちら"));
    app.clock.set(
        "2026-12-04T09:55:00+09:00"
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .unwrap()
            .into(),
    );
    let (cookie, token) = kiosk_form(&app, "main").await;
    let form = (cookie.as_str(), token.as_str());
    let (status, _, page) = html(&app, "/kiosk/main/check-in").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("autofocus"),
        "a scanner types into the field at once"
    );

    // A typo: the check symbol catches it, nothing is looked up.
    let plain = booked.reference.replace('-', "");
    let first = plain.chars().next().unwrap();
    let other = if first == '0' { '1' } else { '0' };
    let typo = format!("{other}{}", &plain[1..]);
    let refused = kiosk_check_in(&app, form, &typo).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("入力まちがい"));
    // Well formed but nobody's.
    let unknown = kiosk_check_in(&app, form, "K7MQ-X2P4S").await;
    assert_eq!(unknown.status(), 404);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("予約が見つかりません")
    );

    // The confirmation's QR code, as a keyboard-wedge scanner types it.
    let link = format!(
        "http://127.0.0.1/manage?lang=ja#r={}&k={}",
        booked.reference, booked.secret
    );
    let done = kiosk_check_in(&app, form, &link).await;
    assert_eq!(done.status(), 303);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/kiosk/main/ticket/"), "{location}");
    let (status, _, ticket) = html(&app, &location).await;
    assert_eq!(status, 200);
    let number = ticket
        .split("class=\"ticket-number\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    assert!(
        number.ends_with("-001"),
        "a number like a walk-in's: {number}"
    );
    assert!(ticket.contains("0人"), "and nobody ahead");
    // Checking in again (typed this time) shows the same ticket.
    let again = kiosk_check_in(&app, form, &booked.reference.to_lowercase()).await;
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"].to_str().unwrap(), location);
}

/// Reception at a counter: staff type the reference a resident reads out and the
/// console answers with the ticket; a typo, a booking of another office and another
/// office's staff are refused there.
async fn staff_check_a_booking_in_at_the_console(backend: Backend) {
    let app = spawn_app(backend).await;
    let booked = app
        .book_ok(&madoguchi_tests::renewal(
            "main",
            "2026-12-04T10:00:00+09:00",
            "reception@example.jp",
        ))
        .await;
    let elsewhere = app
        .book_ok(&madoguchi_tests::renewal(
            "north",
            "2026-12-04T10:00:00+09:00",
            "reception-north@example.jp",
        ))
        .await;
    app.clock.set(
        "2026-12-04T09:55:00+09:00"
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .unwrap()
            .into(),
    );
    let staff = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    let console = "/staff/main/counter/1";
    let (cookies, token) = signed_in_at_main(&app, &staff).await;
    let page = app
        .client
        .get(app.url(console))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("予約の方の受付") && page.contains("name=\"reference\""));
    let check_in = |reference: String| {
        let body = format!("csrf={token}&action=check-in&reference={reference}");
        let cookies = cookies.clone();
        let app = &app;
        async move { post_form(app, console, &cookies, &body).await }
    };
    let plain = booked.reference.replace('-', "").to_lowercase();
    let done = check_in(plain.clone()).await;
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    assert!(
        done.contains("受付しました:") && done.contains("(予約)"),
        "the ticket and its class"
    );
    // Again: the same ticket, not a second one.
    let again = check_in(booked.reference.clone())
        .await
        .text()
        .await
        .unwrap();
    let number = |page: &str| {
        page.split("受付しました: ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap()
            .to_owned()
    };
    assert_eq!(number(&again), number(&done));
    let typo = check_in(format!(
        "{}{}",
        if plain.starts_with('0') { '1' } else { '0' },
        &plain[1..]
    ))
    .await;
    assert_eq!(typo.status(), 422);
    assert!(typo.text().await.unwrap().contains("入力まちがい"));
    let other = check_in(elsewhere.reference.clone()).await;
    assert_eq!(
        other.status(),
        404,
        "a booking of another office reads as unknown"
    );
}

/// Reception without the reference: today's bookings by name (as typed) or booked time,
/// each with its check-in; another day's and another office's bookings are not listed.
async fn reception_finds_todays_booking_by_name_or_time(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut yamada =
        madoguchi_tests::renewal("main", "2026-12-04T10:00:00+09:00", "find1@example.jp");
    yamada["resident"]["name"] = serde_json::json!("ヤマダ タロウ");
    let yamada = app.book_ok(&yamada).await;
    let other_day = app
        .book_ok(&madoguchi_tests::renewal(
            "main",
            "2026-12-07T10:00:00+09:00",
            "find2@example.jp",
        ))
        .await;
    let elsewhere = app
        .book_ok(&madoguchi_tests::renewal(
            "north",
            "2026-12-04T10:00:00+09:00",
            "find3@example.jp",
        ))
        .await;
    let sato = app
        .book_ok(&madoguchi_tests::pickup(
            "main",
            "2026-12-04T11:00:00+09:00",
            "20201204",
        ))
        .await;
    app.clock.set(
        "2026-12-04T09:55:00+09:00"
            .parse::<chrono::DateTime<chrono::FixedOffset>>()
            .unwrap()
            .into(),
    );
    let staff = app
        .staff_token("main", madoguchi::store::queue::StaffRole::Staff)
        .await;
    let console = "/staff/main/counter/1";
    let (cookies, token) = signed_in_at_main(&app, &staff).await;
    let find = |q: &str| {
        let body = format!("csrf={token}&action=find&q={}", urlencode(q));
        let cookies = cookies.clone();
        let app = &app;
        async move {
            let answer = post_form(app, console, &cookies, &body).await;
            assert_eq!(answer.status(), 200);
            answer.text().await.unwrap()
        }
    };
    let by_name = find("やまだ").await;
    assert!(
        by_name.contains(&yamada.reference),
        "hiragana finds katakana"
    );
    assert!(!by_name.contains(&sato.reference));
    let by_time = find("１１：００").await;
    assert!(by_time.contains(&sato.reference) && by_time.contains("佐藤 花子"));
    assert!(!by_time.contains(&yamada.reference));
    let all = find("").await;
    for r in [&yamada.reference, &sato.reference] {
        assert!(all.contains(r.as_str()), "today's {r}");
    }
    for r in [&other_day.reference, &elsewhere.reference] {
        assert!(!all.contains(r.as_str()), "not today's or not here: {r}");
    }
    let none = find("鈴木").await;
    assert!(none.contains("当てはまるものはありません"));
    // The row's button checks the booking in.
    let body = format!(
        "csrf={token}&action=check-in&reference={}",
        yamada.reference
    );
    let done = post_form(&app, console, &cookies, &body).await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("受付しました:"));
}

pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

on_both_backends!(
    reception_finds_todays_booking_by_name_or_time,
    congestion_pages_show_live_figures_with_strict_headers,
    pages_speak_english_and_plain_japanese_and_remember_it,
    unknown_offices_get_a_page_not_a_json_error,
    the_widget_may_be_framed_and_is_cached_briefly,
    the_kiosk_issues_a_number_with_its_place_and_a_qr_code,
    the_kiosk_refuses_forged_forms_and_issues_nothing,
    the_kiosk_says_when_intake_has_closed,
    the_display_shows_calls_per_counter,
    the_staff_console_signs_in_and_runs_the_counter,
    a_token_of_another_office_cannot_run_this_counter,
    the_booking_pages_lead_from_an_office_to_a_confirmed_slot,
    a_full_slot_and_a_forged_form_are_refused_on_the_page,
    a_booked_resident_checks_in_at_the_kiosk,
    staff_check_a_booking_in_at_the_console,
);
