//! The pages people use, rendered on the server from compile-time-checked templates
//! (askama): the public congestion pages, the kiosk, the ticket's status page and the
//! waiting-room display, the staff console, and the booking pages. Little JavaScript, served from `/static`, no inline script,
//! so the Content-Security-Policy can forbid every script but our own files.

pub mod booking;
pub mod check_in;
pub mod congestion;
pub mod csrf;
pub mod heatmap;
pub mod lang;
pub mod outbox;
pub mod phone;
pub mod queue;
pub mod room;
pub mod staff;
pub mod words;

use crate::http::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
pub use congestion::unavailable;
pub use lang::{PageLang, Tr};

/// The policy of every page: our own scripts, styles and connections only, no framing,
/// no plugins, forms post only to us. Inline SVG is markup, not script.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; media-src 'self'; form-action 'self'; base-uri 'none'; \
frame-ancestors 'none'";

/// The embeddable widget may be framed by any site (municipal homepages).
pub const WIDGET_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
base-uri 'none'; form-action 'none'; frame-ancestors *";

/// The pages (a method a page does not serve is a 405 with `Allow`, as in the API).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::http::Endpoint;
    cfg.service(Endpoint::new("/static/{file}").get(asset).done())
        .service(Endpoint::new("/").get(booking::home).done())
        .service(
            Endpoint::new("/manage")
                .get(booking::manage)
                .post(booking::manage_submit)
                .done(),
        )
        .service(
            Endpoint::new("/book/{office_id}")
                .get(booking::office)
                .done(),
        )
        .service(
            Endpoint::new("/book/{office_id}/{procedure}")
                .get(booking::calendar)
                .done(),
        )
        .service(
            Endpoint::new("/book/{office_id}/{procedure}/form")
                .get(booking::form)
                .post(booking::submit)
                .done(),
        )
        .service(Endpoint::new("/congestion").get(congestion::list).done())
        .service(
            Endpoint::new("/congestion/{office_id}")
                .get(congestion::office)
                .done(),
        )
        .service(
            Endpoint::new("/congestion/{office_id}/widget")
                .get(congestion::widget)
                .done(),
        )
        .service(
            Endpoint::new("/kiosk/{office_id}")
                .get(queue::kiosk)
                .post(queue::kiosk_issue)
                .done(),
        )
        .service(
            Endpoint::new("/kiosk/{office_id}/check-in")
                .get(check_in::form)
                .post(check_in::submit)
                .done(),
        )
        .service(
            Endpoint::new("/kiosk/{office_id}/ticket/{ticket_id}")
                .get(queue::kiosk_ticket)
                .done(),
        )
        .service(Endpoint::new("/t/{ticket_id}").get(queue::ticket).done())
        .service(
            Endpoint::new("/display/{office_id}")
                .get(queue::display)
                .done(),
        )
        .service(
            Endpoint::new("/wait/{room_id}")
                .get(room::page)
                .post(room::join)
                .done(),
        )
        .service(Endpoint::new("/staff").get(staff::home).done())
        .service(Endpoint::new("/staff/sign-in").post(staff::sign_in).done())
        .service(
            Endpoint::new("/staff/sign-out")
                .post(staff::sign_out)
                .done(),
        )
        .service(
            Endpoint::new("/staff/{office_id}/outbox")
                .get(outbox::page)
                .done(),
        )
        .service(
            Endpoint::new("/staff/{office_id}/phone")
                .get(phone::desk)
                .post(phone::desk_submit)
                .done(),
        )
        .service(
            Endpoint::new("/staff/{office_id}/phone/{procedure}/form")
                .get(phone::caller_form)
                .post(phone::caller_book)
                .done(),
        )
        .service(
            Endpoint::new("/staff/{office_id}/counter/{counter_id}")
                .get(staff::console)
                .post(staff::act)
                .done(),
        );
}

/// The static files, compiled into the binary: the site needs nothing at run time.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("../../static/app.css")),
    ("live.js", JS, include_str!("../../static/live.js")),
    ("kiosk.js", JS, include_str!("../../static/kiosk.js")),
    ("staff.js", JS, include_str!("../../static/staff.js")),
    ("wait.js", JS, include_str!("../../static/wait.js")),
    ("manage.js", JS, include_str!("../../static/manage.js")),
];
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

async fn asset(path: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, ..)| *name == path.as_str()) {
        Some((_, mime, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *mime))
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(*body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}

/// Renders a page in its language; remembers a language chosen with `?lang=`.
pub fn render(t: &impl Template, tr: &Tr, remember: bool) -> HttpResponse {
    render_with(t, tr, remember, HttpResponse::Ok())
}

pub fn render_with(
    t: &impl Template,
    tr: &Tr,
    remember: bool,
    mut response: actix_web::HttpResponseBuilder,
) -> HttpResponse {
    match t.render() {
        Ok(body) => {
            if remember {
                response.cookie(tr.lang.cookie());
            }
            response
                .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
                .insert_header((header::CONTENT_LANGUAGE, tr.html_lang()))
                .body(body)
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("エラーが発生しました / Something went wrong")
        }
    }
}

/// The page's language and its path (for the language switch).
pub fn page_lang(req: &HttpRequest) -> (Tr, bool) {
    let (lang, remember) = PageLang::of(req);
    (Tr::new(lang, req.path()), remember)
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    tr: Tr,
}

/// A page that does not exist (an unknown office, ticket or counter).
pub fn not_found(tr: Tr) -> HttpResponse {
    render_with(
        &NotFound { tr: tr.clone() },
        &tr,
        false,
        HttpResponse::NotFound(),
    )
}

#[derive(Template)]
#[template(path = "too_many.html")]
struct TooMany {
    tr: Tr,
    wait: u64,
}

/// A page's answer when its client's write budget is spent (the API answers
/// problem+json): the same limit, in words a resident reads.
pub fn too_many(req: &HttpRequest, wait: u64) -> HttpResponse {
    let (tr, _) = page_lang(req);
    let mut response = render_with(
        &TooMany {
            tr: tr.clone(),
            wait,
        },
        &tr,
        false,
        HttpResponse::TooManyRequests(),
    );
    if let Ok(value) = header::HeaderValue::from_str(&wait.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Security headers of every answer: the strict page policy unless the handler set its
/// own (the widget) or the path is the Swagger UI (which needs its inline script).
/// `X-Frame-Options: DENY` except for the widget, which homepages frame.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let swagger = req.path().starts_with("/docs/");
    let mut res = next.call(req).await?;
    let widget = res.headers().contains_key(header::CONTENT_SECURITY_POLICY);
    let headers = res.headers_mut();
    if !swagger && !widget {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    if !widget {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    Ok(res)
}

/// `scheme://host` of the site as the visitor reached it, for links a phone opens from a
/// QR code.
pub fn origin(req: &actix_web::HttpRequest) -> String {
    let conn = req.connection_info();
    format!("{}://{}", conn.scheme(), conn.host())
}

/// Shared state the page handlers read.
pub type State = web::Data<AppState>;
