//! The OpenAPI document (`/api/openapi.json`), Swagger UI (`/docs`, vendored assets) and
//! the pages that describe each problem type (`/problems/<slug>`).

use crate::domain::text::Text;
use crate::http::error::{ApiError, Problem};
use crate::http::{ClientLang, health, offices, reservations};
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
        health::live,
        health::ready,
        health::metrics,
    ),
    tags(
        (name = "offices", description = "Offices, procedures and availability"),
        (name = "reservations", description = "Booking and managing a booking"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
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
