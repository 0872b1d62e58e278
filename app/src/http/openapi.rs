//! The OpenAPI document (`/api/openapi.json`), Swagger UI (`/docs`, vendored assets) and
//! the pages that describe each problem type (`/problems/<slug>`).

use crate::domain::text::Text;
use crate::http::error::{ApiError, Problem};
use crate::http::{ClientLang, congestion, health, offices, queue, reservations, waiting_rooms};
use actix_web::{HttpResponse, web};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Madoguchi API",
        description = "Reservations for municipal service counters (My Number card procedures). \
            Times are RFC 3339 in Tokyo time; errors are RFC 9457 problem details whose `type` \
            is documented at its URL. No endpoint ever asks for a PIN.",
        version = "1"
    ),
    paths(
        offices::list_offices,
        offices::get_office,
        offices::list_procedures,
        offices::availability,
        reservations::create,
        reservations::hold,
        reservations::confirm,
        reservations::get,
        reservations::cancel,
        reservations::reschedule,
        reservations::access,
        queue::issue,
        queue::get_ticket,
        queue::cancel_ticket,
        queue::check_in,
        queue::staff_check_in,
        queue::call_next,
        queue::counter_action,
        queue::transfer,
        queue::audit,
        congestion::office_congestion,
        congestion::all_congestion,
        congestion::stream,
        congestion::typical,
        congestion::history_csv,
        congestion::history_json,
        waiting_rooms::list,
        waiting_rooms::get,
        waiting_rooms::put,
        waiting_rooms::delete,
        waiting_rooms::challenge,
        waiting_rooms::join,
        waiting_rooms::status,
        health::live,
        health::ready,
        health::metrics,
    ),
    components(schemas(reservations::ProblemDetails)),
    modifiers(&StaffToken),
    tags(
        (name = "offices", description = "Offices, procedures and availability"),
        (name = "reservations", description = "Booking and managing a booking"),
        (name = "queue", description = "Walk-in tickets and check-in"),
        (name = "counters", description = "Counter operations (staff)"),
        (name = "congestion", description = "Live and typical congestion, open data"),
        (name = "waiting rooms", description = "The fair line in front of a booking release"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// Staff endpoints take `Authorization: Bearer mdg_…` (from `madoguchi staff-token create`).
struct StaffToken;

impl utoipa::Modify for StaffToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "staff_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("Staff token of one office"))
                    .build(),
            ),
        );
    }
}

/// The served document (`openapi_shapes::document`), serialised once at start-up.
pub struct ServedDocument(pub web::Bytes);

pub async fn openapi_json(doc: web::Data<ServedDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// A short description of a problem type, so that `type` URLs resolve.
pub async fn problem_page(
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let problem = Problem::from_slug(&path).ok_or_else(|| {
        ApiError::new(
            Problem::NotFound,
            Text::new(
                "そのような問題の種類はありません。",
                "There is no such problem type.",
            ),
            lang.0,
        )
    })?;
    let (slug, status, title) = problem.describe();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "type": format!("/problems/{slug}"),
        "status": status.as_u16(),
        "title": title,
    })))
}
