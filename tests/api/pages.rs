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

on_both_backends!(
    congestion_pages_show_live_figures_with_strict_headers,
    pages_speak_english_and_plain_japanese_and_remember_it,
    unknown_offices_get_a_page_not_a_json_error,
    the_widget_may_be_framed_and_is_cached_briefly,
);
