//! The JSON API: thin handlers that parse requests into domain types, call a service,
//! and render the answer. Errors are problem+json (see [`error`]).

pub mod congestion;
pub mod dto;
pub mod error;
pub mod health;
pub mod input;
pub mod live;
pub mod observe;
pub mod offices;
pub mod openapi;
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
    pub rooms: Arc<crate::service::rooms::RoomService>,
    pub live: Arc<live::LiveCongestion>,
    /// Turns true when the server shuts down: long-lived streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub metrics: Option<PrometheusHandle>,
    /// The static parts of reservation answers, serialised once.
    pub reservation_parts: Arc<dto::ReservationParts>,
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

pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Problem::MethodNotAllowed,
        Text::owned(
            format!("{} はこのURLでは使えません。", req.method()),
            format!("{} is not allowed on this URL.", req.method()),
        ),
        ClientLang::of(&req),
    ))
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
                web::resource("/reservations")
                    .post(reservations::create)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/tickets")
                    .post(queue::issue)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/tickets/{ticket_id}")
                    .get(queue::get_ticket)
                    .delete(queue::cancel_ticket)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/congestion")
                    .get(congestion::office_congestion)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/congestion")
                    .get(congestion::all_congestion)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/waiting-rooms/{room_id}/status")
                    .get(waiting_rooms::status)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/waiting-rooms")
                    .get(waiting_rooms::list)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/waiting-rooms/{room_id}")
                    .get(waiting_rooms::get)
                    .put(waiting_rooms::put)
                    .delete(waiting_rooms::delete)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/waiting-rooms/{room_id}/join")
                    .post(waiting_rooms::join)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/waiting-rooms/{room_id}/challenge")
                    .get(waiting_rooms::challenge)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices")
                    .get(offices::list_offices)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}")
                    .get(offices::get_office)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/availability")
                    .get(offices::availability)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/procedures")
                    .get(offices::list_procedures)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/holds")
                    .post(reservations::hold)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/reservations/{reference}")
                    .get(reservations::get)
                    .delete(reservations::cancel)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/reservations/{reference}/confirm")
                    .post(reservations::confirm)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/reservations/{reference}/reschedule")
                    .post(reservations::reschedule)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/reservations/{reference}/check-in")
                    .post(queue::check_in)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/audit")
                    .get(queue::audit)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/check-ins")
                    .post(queue::staff_check_in)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/counters/{counter_id}/call-next")
                    .post(queue::call_next)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/counters/{counter_id}/{action}")
                    .post(queue::counter_action)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/congestion/stream")
                    .get(congestion::stream)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/offices/{office_id}/congestion/typical")
                    .get(congestion::typical)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/congestion/history.csv")
                    .get(congestion::history_csv)
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/congestion/history.json")
                    .get(congestion::history_json)
                    .default_service(web::to(method_not_allowed)),
            ),
    )
    .service(web::resource("/health/live").get(health::live))
    .service(web::resource("/health/ready").get(health::ready))
    .service(web::resource("/metrics").get(health::metrics))
    .service(web::resource("/problems/{slug}").get(openapi::problem_page));
}
