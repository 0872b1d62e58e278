//! Offices, procedures and slot availability.

use crate::domain::OfficeId;
use crate::domain::procedure::{PIN_NOTICE, ProcedureId};
use crate::domain::time::to_tokyo_rfc3339;
use crate::http::dto::{
    AvailabilityQuery, AvailabilityView, ClosedDayView, OfficeView, OfficesView, ProcedureView,
    ProceduresView, SlotView, WindowView,
};
use crate::http::error::{ApiError, FieldErrors, OrProblem};
use crate::http::parse::parse_date;
use crate::http::{AppState, ClientLang};
use crate::service::BookingError;
use actix_web::{HttpResponse, web};

/// Every office: hours, closures, booking rules and procedures.
#[utoipa::path(get, path = "/api/v1/offices", tag = "offices",
    responses((status = 200, body = OfficesView)))]
pub async fn list_offices(state: web::Data<AppState>) -> HttpResponse {
    let m = state.booking.municipality();
    HttpResponse::Ok().json(OfficesView {
        municipality: m.name.clone(),
        offices: m.offices.iter().map(OfficeView::of).collect(),
        system_down: m.system_down.iter().map(|r| r.name.clone()).collect(),
    })
}

/// One office.
#[utoipa::path(get, path = "/api/v1/offices/{office_id}", tag = "offices",
    params(("office_id" = String, Path, description = "Office id, e.g. `main`")),
    responses((status = 200, body = OfficeView),
              (status = 404, description = "No such office")))]
pub async fn get_office(
    state: web::Data<AppState>,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let office = state
        .booking
        .municipality()
        .office(&path)
        .ok_or_else(|| ApiError::from_booking(BookingError::OfficeNotFound, lang.0))?;
    Ok(HttpResponse::Ok().json(OfficeView::of(office)))
}

/// The procedure catalogue: what to bring, who may come, where it is offered.
#[utoipa::path(get, path = "/api/v1/procedures", tag = "offices",
    responses((status = 200, body = ProceduresView)))]
pub async fn list_procedures(state: web::Data<AppState>) -> HttpResponse {
    let m = state.booking.municipality();
    HttpResponse::Ok().json(ProceduresView {
        procedures: ProcedureId::ALL
            .into_iter()
            .map(|id| ProcedureView::of(id, m))
            .collect(),
        pin_notice: PIN_NOTICE,
    })
}

/// Bookable slots of a procedure at an office, with the seats that remain. Only days
/// inside the booking window are listed; closed days are listed with their reason.
#[utoipa::path(get, path = "/api/v1/offices/{office_id}/availability", tag = "offices",
    params(("office_id" = String, Path, description = "Office id"), AvailabilityQuery),
    responses((status = 200, body = AvailabilityView),
              (status = 400, description = "Malformed query or range"),
              (status = 404, description = "No such office"),
              (status = 422, description = "Procedure not offered or not bookable here")))]
pub async fn availability(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<AvailabilityQuery>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = OfficeId::parse(&path)
        .map_err(|_| ApiError::from_booking(BookingError::OfficeNotFound, lang))?;
    let mut errors = FieldErrors::default();
    let procedure = errors.optional("procedure", Some(query.procedure.as_str()), |s| {
        s.parse::<ProcedureId>()
    });
    if query.procedure.trim().is_empty() {
        errors.push("procedure", "is required");
    }
    let from = errors.optional("from", query.from.as_deref(), parse_date);
    let to = errors.optional("to", query.to.as_deref(), parse_date);
    errors.into_result(lang)?;
    let Some(procedure) = procedure else {
        return Err(ApiError::invalid_fields(Vec::new(), lang));
    };
    let found = state
        .booking
        .availability(&office, procedure, from, to)
        .await
        .or_problem(lang)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(AvailabilityView {
            office_id: office.to_string(),
            procedure,
            booking_window: WindowView {
                first: found.window.first.to_string(),
                last: found.window.last.to_string(),
            },
            slots: found
                .slots
                .into_iter()
                .map(|s| SlotView {
                    start: to_tokyo_rfc3339(s.start),
                    end: to_tokyo_rfc3339(s.end),
                    capacity: s.capacity,
                    remaining: s.remaining,
                })
                .collect(),
            closed_days: found
                .closed
                .into_iter()
                .map(|(date, c)| ClosedDayView {
                    date: date.to_string(),
                    kind: c.kind,
                    name: c.name,
                })
                .collect(),
        }))
}
