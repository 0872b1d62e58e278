//! The JSON API: thin handlers that parse requests into domain types, call a service,
//! and render the answer. Errors are problem+json (see [`error`]).

pub mod booking_input;
pub mod congestion;
pub mod dto;
pub mod error;
pub mod health;
pub mod input;
pub mod live;
pub mod observe;
pub mod offices;
pub mod openapi;
pub mod openapi_shapes;
pub mod parse;
pub mod queue;
pub mod queue_dto;
pub mod rate_limit;
pub mod reservations;
pub mod staff;
pub mod waiting_rooms;

use crate::domain::text::{Lang, Text};
use crate::http::error::{ApiError, Problem};
use crate::service::BookingService;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::{Ready, ready};
use std::sync::Arc;

/// What handlers share.
pub struct AppState {
    pub booking: Arc<BookingService>,
    pub queue: Arc<crate::service::queue::QueueService>,
    pub staff: Arc<crate::service::staff::StaffService>,
    pub audit: Arc<crate::service::audit::AuditChain>,
    pub rooms: Arc<crate::service::rooms::RoomService>,
    pub live: Arc<live::LiveCongestion>,
    /// Turns true when the server shuts down: long-lived streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub metrics: Option<PrometheusHandle>,
    /// The static parts of reservation answers, serialised once.
    pub reservation_parts: Arc<dto::ReservationParts>,
    /// Residents' e-mail: the outbox's sender (and its page).
    pub mailer: Arc<crate::mail::Mailer>,
}

/// The client's language: `?lang=en|ja` wins, then `Accept-Language`; Japanese by default.
#[derive(Debug, Clone, Copy)]
pub struct ClientLang(pub Lang);

impl ClientLang {
    pub fn of(req: &HttpRequest) -> Lang {
        let query = req.query_string();
        for pair in query.split('&') {
            match pair {
                "lang=en" => return Lang::En,
                "lang=ja" => return Lang::Ja,
                _ => {}
            }
        }
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language)
            .unwrap_or_default()
    }
}

impl FromRequest for ClientLang {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Ok(ClientLang(ClientLang::of(req))))
    }
}

/// Requests larger than this are refused (413): a booking is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

fn json_error(err: JsonPayloadError, req: &HttpRequest) -> actix_web::Error {
    let lang = ClientLang::of(req);
    let e = match &err {
        JsonPayloadError::ContentType => ApiError::new(
            Problem::UnsupportedMediaType,
            Text::new(
                "Content-Type: application/json で送信してください。",
                "Send Content-Type: application/json.",
            ),
            lang,
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                Problem::PayloadTooLarge,
                Text::new(
                    "リクエストは16KB以下にしてください。",
                    "Requests must be at most 16 KB.",
                ),
                lang,
            )
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(
            Problem::MalformedRequest,
            Text::owned(
                format!("JSONを読み取れません: {e}"),
                format!("The JSON could not be read: {e}"),
            ),
            lang,
        ),
        other => ApiError::new(
            Problem::MalformedRequest,
            Text::owned(
                format!("本文を読み取れません: {other}"),
                format!("The body could not be read: {other}"),
            ),
            lang,
        ),
    };
    e.into()
}

fn query_error(err: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        Problem::MalformedRequest,
        Text::owned(
            format!("クエリを読み取れません: {err}"),
            format!("The query could not be read: {err}"),
        ),
        ClientLang::of(req),
    )
    .into()
}

fn path_error(err: PathError, req: &HttpRequest) -> actix_web::Error {
    ApiError::new(
        Problem::NotFound,
        Text::owned(
            format!("URLを確認してください: {err}"),
            format!("Check the URL: {err}"),
        ),
        ClientLang::of(req),
    )
    .into()
}

pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Problem::NotFound,
        Text::new(
            "URLを確認してください。APIの一覧は /docs にあります。",
            "Check the URL. The API is described at /docs.",
        ),
        ClientLang::of(&req),
    ))
}

/// A method the resource does not serve: 405 with `Allow` naming those it does (RFC
/// 9110 §15.5.6).
#[allow(clippy::unused_async, reason = "an actix handler is an async fn")]
pub async fn method_not_allowed(req: HttpRequest, allow: &'static str) -> HttpResponse {
    let mut response = actix_web::ResponseError::error_response(&ApiError::new(
        Problem::MethodNotAllowed,
        Text::owned(
            format!(
                "{} はこのURLでは使えません（使えるのは {allow}）。",
                req.method()
            ),
            format!(
                "{} is not allowed on this URL (allowed: {allow}).",
                req.method()
            ),
        ),
        ClientLang::of(&req),
    ));
    response.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    response
}

/// A resource whose methods are listed once: the routes, and the `Allow` of its 405.
pub struct Endpoint {
    resource: actix_web::Resource,
    methods: Vec<&'static str>,
}

impl Endpoint {
    pub fn new(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            methods: Vec::new(),
        }
    }

    fn with<F, Args>(mut self, method: &'static str, route: actix_web::Route, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.resource = self.resource.route(route.to(handler));
        self.methods.push(method);
        self
    }

    pub fn get<F, Args>(self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.with("GET", web::get(), handler)
    }

    pub fn post<F, Args>(self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.with("POST", web::post(), handler)
    }

    pub fn put<F, Args>(self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.with("PUT", web::put(), handler)
    }

    pub fn delete<F, Args>(self, handler: F) -> Self
    where
        F: actix_web::Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.with("DELETE", web::delete(), handler)
    }

    /// The resource, with every other method answered 405.
    pub fn done(self) -> actix_web::Resource {
        // Leaked once per resource at start-up: the header is a static string.
        let allow: &'static str = Box::leak(self.methods.join(", ").into_boxed_str());
        self.resource
            .default_service(web::to(move |req: HttpRequest| {
                method_not_allowed(req, allow)
            }))
    }
}

/// The API routes (every write is behind the per-client limit, `rate_limit::limit_writes`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(MAX_BODY_BYTES)
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .service(
        web::scope("/api/v1")
            // actix tries resources in order, matching each dynamic path with a regex:
            // the paths of the morning rush come first.
            .service(
                Endpoint::new("/reservations")
                    .post(reservations::create)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/tickets")
                    .post(queue::issue)
                    .done(),
            )
            .service(
                Endpoint::new("/tickets/{ticket_id}")
                    .get(queue::get_ticket)
                    .delete(queue::cancel_ticket)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/congestion")
                    .get(congestion::office_congestion)
                    .done(),
            )
            .service(
                Endpoint::new("/congestion")
                    .get(congestion::all_congestion)
                    .done(),
            )
            .service(
                Endpoint::new("/waiting-rooms/{room_id}/status")
                    .get(waiting_rooms::status)
                    .done(),
            )
            .service(
                Endpoint::new("/waiting-rooms")
                    .get(waiting_rooms::list)
                    .done(),
            )
            .service(
                Endpoint::new("/waiting-rooms/{room_id}")
                    .get(waiting_rooms::get)
                    .put(waiting_rooms::put)
                    .delete(waiting_rooms::delete)
                    .done(),
            )
            .service(
                Endpoint::new("/waiting-rooms/{room_id}/join")
                    .post(waiting_rooms::join)
                    .done(),
            )
            .service(
                Endpoint::new("/waiting-rooms/{room_id}/challenge")
                    .get(waiting_rooms::challenge)
                    .done(),
            )
            .service(Endpoint::new("/offices").get(offices::list_offices).done())
            .service(
                Endpoint::new("/offices/{office_id}")
                    .get(offices::get_office)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/availability")
                    .get(offices::availability)
                    .done(),
            )
            .service(
                Endpoint::new("/procedures")
                    .get(offices::list_procedures)
                    .done(),
            )
            .service(Endpoint::new("/holds").post(reservations::hold).done())
            .service(
                Endpoint::new("/reservations/{reference}")
                    .get(reservations::get)
                    .delete(reservations::cancel)
                    .done(),
            )
            .service(
                Endpoint::new("/reservations/{reference}/confirm")
                    .post(reservations::confirm)
                    .done(),
            )
            .service(
                Endpoint::new("/reservations/{reference}/access")
                    .post(reservations::access)
                    .done(),
            )
            .service(
                Endpoint::new("/reservations/{reference}/reschedule")
                    .post(reservations::reschedule)
                    .done(),
            )
            .service(
                Endpoint::new("/reservations/{reference}/check-in")
                    .post(queue::check_in)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/audit")
                    .get(queue::audit)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/check-ins")
                    .post(queue::staff_check_in)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/counters/{counter_id}/call-next")
                    .post(queue::call_next)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/counters/{counter_id}/transfer")
                    .post(queue::transfer)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/counters/{counter_id}/{action}")
                    .post(queue::counter_action)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/congestion/stream")
                    .get(congestion::stream)
                    .done(),
            )
            .service(
                Endpoint::new("/offices/{office_id}/congestion/typical")
                    .get(congestion::typical)
                    .done(),
            )
            .service(
                Endpoint::new("/congestion/history.csv")
                    .get(congestion::history_csv)
                    .done(),
            )
            .service(
                Endpoint::new("/congestion/history.json")
                    .get(congestion::history_json)
                    .done(),
            ),
    )
    .service(Endpoint::new("/health/live").get(health::live).done())
    .service(Endpoint::new("/health/ready").get(health::ready).done())
    .service(Endpoint::new("/metrics").get(health::metrics).done())
    .service(
        Endpoint::new("/problems/{slug}")
            .get(openapi::problem_page)
            .done(),
    );
}
