//! Tickets (kiosk and resident), check-in, and counter operations (staff).

use crate::domain::OfficeId;
use crate::domain::procedure::ProcedureId;
use crate::domain::queue::LineId;
use crate::domain::reference::ReferenceKey;
use crate::domain::text::{Lang, Text};
use crate::http::error::{ApiError, FieldErrors, OrProblem, Problem};
use crate::http::parse::reject_unknown;
use crate::http::queue_dto::{
    AuditEntryView, AuditQuery, AuditView, CheckInBody, TicketBody, TicketView, TransferBody,
};
use crate::http::staff::{Staff, authenticate, bearer};
use crate::http::{AppState, ClientLang};
use crate::service::BookingError;
use crate::service::queue::{QueueError, TicketInfo};
use crate::store::queue::TicketAction;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

fn office_id(raw: &str, lang: Lang) -> Result<OfficeId, ApiError> {
    OfficeId::parse(raw).map_err(|_| ApiError::from_booking(BookingError::OfficeNotFound, lang))
}

/// The ticket a path's public token names (an id without its MAC names none).
fn ticket_id(state: &AppState, req: &HttpRequest, raw: &str, lang: Lang) -> Result<Uuid, ApiError> {
    match state
        .queue
        .ticket_of_token(raw, crate::http::rate_limit::client_of(req))
    {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(ApiError::from_queue(QueueError::TicketNotFound, lang)),
        Err(wait) => Err(ApiError::too_many_guesses(wait, lang)),
    }
}

fn ticket_response(
    status: actix_web::http::StatusCode,
    info: &TicketInfo,
    state: &AppState,
) -> HttpResponse {
    let view = TicketView::of(
        info,
        state.queue.municipality(),
        state.queue.ticket_token(info.ticket.id),
    );
    HttpResponse::build(status)
        .insert_header((header::LOCATION, view.status_url.clone()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view)
}

/// Takes a numbered ticket (the kiosk). Intake closes by itself (本日の受付終了) outside
/// walk-in hours, on reservation-only days, and when the queue cannot be served before
/// closing: 409 `intake-closed` with the reason.
#[utoipa::path(post, path = "/api/v1/offices/{office_id}/tickets", tag = "queue",
    params(("office_id" = String, Path)),
    request_body = TicketBody,
    responses(
        (status = 201, description = "Issued; durable before this answer", body = TicketView),
        (status = 403, description = "Priority tickets need a staff token"),
        (status = 404, description = "No such office"),
        (status = 409, description = "Intake is closed (with `reason`)"),
        (status = 422, description = "The office does not offer the procedure")))]
pub async fn issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
    body: web::Json<TicketBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = office_id(&path, lang)?;
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    let procedure = body.procedure.parse::<ProcedureId>().map_err(|e| {
        let mut errors = FieldErrors::default();
        errors.push("procedure", e);
        ApiError::invalid_fields(errors.0, lang)
    })?;
    if body.needs_assistance {
        let staff = authenticate(
            &state,
            bearer(&req),
            crate::http::rate_limit::client_of(&req),
            lang,
        )
        .await
        .map_err(|_| {
            ApiError::new(
                Problem::Forbidden,
                Text::new(
                    "優先の整理券は職員がお渡しします。案内係にお声がけください。",
                    "Priority tickets are issued by staff: please ask at reception.",
                ),
                lang,
            )
        })?;
        if !staff.may_act_for(&office) {
            return Err(ApiError::from_queue(QueueError::Forbidden, lang));
        }
    }
    let info = state
        .queue
        .issue_walk_in(&office, procedure, body.needs_assistance)
        .await
        .or_problem(lang)?;
    Ok(ticket_response(
        actix_web::http::StatusCode::CREATED,
        &info,
        &state,
    ))
}

/// A ticket's status: place in line, estimate, and the counter once called.
#[utoipa::path(get, path = "/api/v1/tickets/{ticket_id}", tag = "queue",
    params(("ticket_id" = String, Path, description = "The ticket's public id (`id` of its answers): 256 bits, 128 of them a MAC")),
    responses(
        (status = 200, body = TicketView),
        (status = 404, description = "No such ticket")))]
pub async fn get_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let id = ticket_id(&state, &req, &path, lang)?;
    let info = state.queue.ticket(id).await.or_problem(lang)?;
    Ok(ticket_response(
        actix_web::http::StatusCode::OK,
        &info,
        &state,
    ))
}

/// The resident leaves the line. Only a waiting ticket can be cancelled.
#[utoipa::path(delete, path = "/api/v1/tickets/{ticket_id}", tag = "queue",
    params(("ticket_id" = String, Path)),
    responses(
        (status = 200, description = "Cancelled", body = TicketView),
        (status = 404, description = "No such ticket"),
        (status = 409, description = "Already called or finished")))]
pub async fn cancel_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let id = ticket_id(&state, &req, &path, lang)?;
    let info = state.queue.cancel_ticket(id).await.or_problem(lang)?;
    Ok(ticket_response(
        actix_web::http::StatusCode::OK,
        &info,
        &state,
    ))
}

/// The resident checks in on the day of the reservation (with its secret) and enters the
/// line: ahead of walk-ins when on time (予約優先), as a walk-in when more than the grace
/// period late. Checking in twice answers with the same ticket.
#[utoipa::path(post, path = "/api/v1/reservations/{reference}/check-in", tag = "queue",
    params(("reference" = String, Path), ("X-Reservation-Secret" = String, Header)),
    responses(
        (status = 201, description = "Checked in", body = TicketView),
        (status = 200, description = "Already checked in", body = TicketView),
        (status = 404, description = "Unknown reference or wrong secret"),
        (status = 409, description = "Not a confirmed booking"),
        (status = 422, description = "Too early, another day, or the day has passed")))]
pub async fn check_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let owner = crate::http::reservations::ownership(&req, &path, lang)?;
    let reservation = state.booking.find(&owner).await.or_problem(lang)?;
    let info = state
        .queue
        .check_in(&reservation, "resident")
        .await
        .or_problem(lang)?;
    let status = if info.existing {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    Ok(ticket_response(status, &info, &state))
}

/// Staff check a resident in by the reservation reference.
#[utoipa::path(post, path = "/api/v1/offices/{office_id}/check-ins", tag = "counters",
    params(("office_id" = String, Path)),
    request_body = CheckInBody,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Checked in", body = TicketView),
        (status = 200, description = "Already checked in", body = TicketView),
        (status = 403, description = "Staff of another office"),
        (status = 404, description = "No such reservation"),
        (status = 409, description = "Not a confirmed booking"),
        (status = 422, description = "Too early, another day, or the day has passed")))]
pub async fn staff_check_in(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    lang: ClientLang,
    body: web::Json<CheckInBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = office_id(&path, lang)?;
    if !staff.0.may_act_for(&office) {
        return Err(ApiError::from_queue(QueueError::Forbidden, lang));
    }
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    let reference =
        ReferenceKey::parse(&body.reference).map_err(|e| ApiError::bad_reference(e, lang))?;
    let info = state
        .queue
        .check_in_at(&office, &reference, &staff.0.actor())
        .await
        .or_problem(lang)?;
    let status = if info.existing {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::CREATED
    };
    Ok(ticket_response(status, &info, &state))
}

/// Calls the next resident to this counter: the best waiting ticket across the lines it
/// serves, atomically (two counters never get the same ticket). 204 when nobody waits.
#[utoipa::path(post, path = "/api/v1/offices/{office_id}/counters/{counter_id}/call-next", tag = "counters",
    params(("office_id" = String, Path), ("counter_id" = String, Path)),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Called", body = TicketView),
        (status = 204, description = "Nobody is waiting"),
        (status = 403, description = "Staff of another office"),
        (status = 404, description = "No such counter"),
        (status = 409, description = "The counter is busy or paused")))]
pub async fn call_next(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let (office, counter) = path.into_inner();
    let office = office_id(&office, lang)?;
    match state
        .queue
        .call_next(&staff.0, &office, &counter)
        .await
        .or_problem(lang)?
    {
        Some(ticket) => {
            let info = TicketInfo {
                ticket,
                position: None,
                ahead: None,
                estimate: None,
                existing: false,
            };
            Ok(ticket_response(
                actix_web::http::StatusCode::OK,
                &info,
                &state,
            ))
        }
        None => Ok(HttpResponse::NoContent().finish()),
    }
}

/// An action on the resident at this counter: `recall` (call again), `start` (arrived),
/// `finish`, `no-show`, or `pause` / `resume` the counter (transfers have their own
/// path). No body: a body other than `{}` is refused. Every action is written to the
/// audit trail.
#[utoipa::path(post, path = "/api/v1/offices/{office_id}/counters/{counter_id}/{action}", tag = "counters",
    params(("office_id" = String, Path), ("counter_id" = String, Path),
           ("action" = String, Path, description = "recall, start, finish, no-show, pause or resume")),
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Done; the ticket's new state", body = TicketView),
        (status = 204, description = "Paused or resumed"),
        (status = 400, description = "A body was sent; these actions take none"),
        (status = 403, description = "Staff of another office"),
        (status = 404, description = "No such counter or action"),
        (status = 409, description = "Not possible in the ticket's state, or no resident at the counter")))]
pub async fn counter_action(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String, String)>,
    lang: ClientLang,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let (office, counter, action) = path.into_inner();
    let office_id = office_id(&office, lang)?;
    // A nonsense body ({"keep_place":"","line_id":{}}) was answered 200: nothing is
    // taken from one, so only none (or an empty object) is accepted.
    let empty = body.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body)
            .is_ok_and(|m| m.is_empty());
    if !empty {
        return Err(ApiError::new(
            Problem::MalformedRequest,
            Text::new("この操作に本文は不要です。", "This action takes no body."),
            lang,
        ));
    }
    let action = match action.as_str() {
        "recall" => TicketAction::Recall,
        "start" => TicketAction::Start,
        "finish" => TicketAction::Finish,
        "no-show" => TicketAction::NoShow,
        "pause" | "resume" => {
            state
                .queue
                .set_paused(&staff.0, &office_id, &counter, action == "pause")
                .await
                .or_problem(lang)?;
            return Ok(HttpResponse::NoContent().finish());
        }
        _ => {
            return Err(ApiError::new(
                Problem::NotFound,
                Text::new(
                    "操作は recall, start, finish, no-show, transfer, pause, resume のいずれかです。",
                    "The action is one of recall, start, finish, no-show, transfer, pause, resume.",
                ),
                lang,
            ));
        }
    };
    act(&state, &staff, &office_id, &counter, action, lang).await
}

/// Moves the resident at this counter to another line, keeping their place or going last
/// (the office's rule when `keep_place` is omitted).
#[utoipa::path(post, path = "/api/v1/offices/{office_id}/counters/{counter_id}/transfer", tag = "counters",
    params(("office_id" = String, Path), ("counter_id" = String, Path)),
    request_body = TransferBody,
    security(("staff_token" = [])),
    responses(
        (status = 200, description = "Moved; the ticket's new state", body = TicketView),
        (status = 403, description = "Staff of another office"),
        (status = 404, description = "No such counter or line"),
        (status = 409, description = "Not possible in the ticket's state, or no resident at the counter")))]
pub async fn transfer(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
    lang: ClientLang,
    body: web::Json<TransferBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let (office, counter) = path.into_inner();
    let office_id = office_id(&office, lang)?;
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    let to = LineId::parse(&body.line_id)
        .map_err(|_| ApiError::from_queue(QueueError::LineNotFound, lang))?;
    let default_keep = state
        .queue
        .office(&office_id)
        .map(|o| o.queue.transfer_keeps_place)
        .or_problem(lang)?;
    let action = TicketAction::Transfer {
        to,
        keep_place: body.keep_place.unwrap_or(default_keep),
    };
    act(&state, &staff, &office_id, &counter, action, lang).await
}

async fn act(
    state: &AppState,
    staff: &Staff,
    office_id: &OfficeId,
    counter: &str,
    action: TicketAction,
    lang: Lang,
) -> Result<HttpResponse, ApiError> {
    let ticket = state
        .queue
        .counter_action(&staff.0, office_id, counter, action)
        .await
        .or_problem(lang)?;
    let info = TicketInfo {
        ticket,
        position: None,
        ahead: None,
        estimate: None,
        existing: false,
    };
    Ok(ticket_response(
        actix_web::http::StatusCode::OK,
        &info,
        state,
    ))
}

/// The office's audit trail for a day: every counter action and ticket change, and
/// staff's events on bookings (phone bookings, openings, moves, cancellations), who did
/// it and when. Administrators only.
#[utoipa::path(get, path = "/api/v1/offices/{office_id}/audit", tag = "counters",
    params(("office_id" = String, Path), AuditQuery),
    security(("staff_token" = [])),
    responses(
        (status = 200, body = AuditView),
        (status = 400, description = "Bad date"),
        (status = 403, description = "Not an administrator of this office")))]
pub async fn audit(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = office_id(&path, lang)?;
    let mut errors = FieldErrors::default();
    let date = errors.optional(
        "date",
        query.date.as_deref(),
        crate::http::parse::parse_date,
    );
    errors.into_result(lang)?;
    let date = date.unwrap_or_else(|| crate::domain::time::tokyo_date(state.queue.clock().now()));
    let events = state
        .queue
        .audit(&staff.0, &office, date)
        .await
        .or_problem(lang)?;
    let booking_events = state
        .queue
        .booking_audit(&staff.0, &office, date)
        .await
        .or_problem(lang)?;
    let verification = state.audit.verify(&office, date).await.or_problem(lang)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AuditView {
            office_id: office.to_string(),
            date: date.to_string(),
            events: events
                .into_iter()
                .map(|e| AuditEntryView {
                    at: crate::domain::time::to_tokyo_rfc3339(e.at),
                    kind: e.kind,
                    actor: e.actor,
                    ticket_id: e.ticket_id.map(|t| t.to_string()),
                    counter_id: e.counter_id,
                })
                .collect(),
            booking_events: booking_events
                .into_iter()
                .map(|e| crate::http::queue_dto::BookingAuditView {
                    at: crate::domain::time::to_tokyo_rfc3339(e.at),
                    kind: e.kind,
                    actor: e.actor,
                    reservation_id: e.subject,
                    detail: e.detail.and_then(|d| serde_json::from_str(&d).ok()),
                })
                .collect(),
            verification,
        }))
}
