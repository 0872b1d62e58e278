//! Booking, holds, and managing a booking with its reference and secret.

use crate::domain::OfficeId;
use crate::domain::identity::{SecondFactor, identity_for};
use crate::domain::reference::ReferenceKey;
use crate::domain::text::Lang;
use crate::domain::text::Text;
use crate::http::booking_input::{book_request, office_and_procedure};
use crate::http::dto::{
    AccessBody, BookingBody, ConfirmBody, HoldBody, RescheduleBody, ReservationView,
};
use crate::http::error::{ApiError, FieldErrors, OrProblem, Problem};
use crate::http::parse::{
    check_birth_date, parse_date, parse_idempotency_key, parse_resident, parse_start,
    reject_unknown,
};
use crate::http::{AppState, ClientLang};
use crate::service::booking::{
    Booked, HoldRequest, IdempotencyKey, Ownership, RescheduleRequest, ResidentInput,
};
use crate::store::Reservation;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// The problem+json answer shape (RFC 9457).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub struct ProblemDetails {
    /// `/problems/<slug>`; GET it for a description.
    #[schema(example = "/problems/slot-full")]
    r#type: String,
    title: String,
    status: u16,
    detail: String,
}

fn idempotency(req: &HttpRequest, lang: Lang) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(raw) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let raw = raw.to_str().unwrap_or("\u{0}");
    parse_idempotency_key(raw)
        .map(|k| Some(IdempotencyKey(k)))
        .map_err(|e| {
            let mut errors = FieldErrors::default();
            errors.push("Idempotency-Key", e);
            ApiError::invalid_fields(errors.0, lang)
        })
}

/// Who claims a booking: its reference (parsed, so a typo is told before any lookup) and
/// the secret of the `X-Reservation-Secret` header.
pub(crate) fn ownership(
    req: &HttpRequest,
    reference: &str,
    lang: Lang,
) -> Result<Ownership, ApiError> {
    let secret = req
        .headers()
        .get("x-reservation-secret")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            ApiError::new(
                Problem::MissingSecret,
                Text::new(
                    "予約時にお知らせした確認コードを X-Reservation-Secret ヘッダーで送ってください。",
                    "Send the secret given at booking in the X-Reservation-Secret header.",
                ),
                lang,
            )
        })?;
    let reference = ReferenceKey::parse(reference).map_err(|e| ApiError::bad_reference(e, lang))?;
    Ok(Ownership {
        reference,
        secret: secret.trim().to_owned(),
        client: crate::http::rate_limit::client_of(req),
    })
}

fn created(booked: Booked, state: &AppState) -> HttpResponse {
    let view = ReservationView::of(
        &booked.reservation,
        Some(booked.secret),
        &state.reservation_parts,
    );
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, view.links.self_.clone()));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if booked.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(view)
}

/// Books a slot. Send an `Idempotency-Key` header (a UUID) so that a retry after a
/// network error returns the same booking instead of failing or booking twice.
#[utoipa::path(post, path = "/api/v1/reservations", tag = "reservations",
    request_body = BookingBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "A unique key per booking attempt; retries with it return the same booking")),
    responses(
        (status = 201, description = "Booked. The `secret` is shown here only.", body = ReservationView),
        (status = 400, description = "Malformed request, invalid field, or a PIN was sent"),
        (status = 409, description = "The slot is full, or the same request is in progress"),
        (status = 422, description = "A booking rule was broken"),
        (status = 503, description = "Temporarily unavailable; retry with the same Idempotency-Key")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    lang: ClientLang,
    body: web::Json<BookingBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let idempotency = idempotency(&req, lang)?;
    let request = book_request(&state.booking, body.into_inner(), idempotency, lang)?;
    let token_for = |room: &str| crate::http::waiting_rooms::admission_token(&req, room);
    let booked = state
        .rooms
        .book_through(&state.booking, request, &token_for)
        .await
        .or_problem(lang)?;
    Ok(created(booked, &state))
}

/// Holds a seat for the configured minutes while the resident fills in the form. Confirm
/// it with `POST /api/v1/reservations/{reference}/confirm`; an unconfirmed hold expires.
#[utoipa::path(post, path = "/api/v1/holds", tag = "reservations",
    request_body = HoldBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with it return the same hold")),
    responses(
        (status = 201, description = "Held", body = ReservationView),
        (status = 409, description = "The slot is full"),
        (status = 422, description = "A booking rule was broken")))]
pub async fn hold(
    state: web::Data<AppState>,
    req: HttpRequest,
    lang: ClientLang,
    body: web::Json<HoldBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    let idempotency = idempotency(&req, lang)?;
    let mut errors = FieldErrors::default();
    let (office, procedure) = office_and_procedure(
        &body.office_id,
        &body.procedure,
        &state.booking,
        &mut errors,
    );
    let start = errors.optional("start", Some(&body.start), parse_start);
    if body.start.trim().is_empty() {
        errors.push("start", "is required");
    }
    errors.into_result(lang)?;
    let (Some(office), Some(procedure), Some(start)) = (office, procedure, start) else {
        return Err(ApiError::invalid_fields(Vec::new(), lang));
    };
    let token_for = |room: &str| crate::http::waiting_rooms::admission_token(&req, room);
    let request = HoldRequest {
        office,
        procedure,
        start,
        idempotency,
    };
    let held = state
        .rooms
        .hold_through(&state.booking, request, &token_for)
        .await
        .or_problem(lang)?;
    Ok(created(held, &state))
}

/// Confirms a hold with the resident's details.
#[utoipa::path(post, path = "/api/v1/reservations/{reference}/confirm", tag = "reservations",
    request_body = ConfirmBody,
    params(("reference" = String, Path), ("X-Reservation-Secret" = String, Header)),
    responses(
        (status = 200, description = "Confirmed", body = ReservationView),
        (status = 404, description = "Unknown reference or wrong secret"),
        (status = 409, description = "The hold expired or is not a hold"),
        (status = 422, description = "A booking rule was broken")))]
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let owner = ownership(&req, &path, lang)?;
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    reject_unknown(&body.resident.unknown, "resident.", lang)?;
    let found = state.booking.find(&owner).await.or_problem(lang)?;
    let now = state.booking.clock().now();
    let mut errors = FieldErrors::default();
    let (name, parts) = parse_resident(
        &body.resident,
        body.notice_number.as_deref(),
        body.birth_date.as_deref(),
        &mut errors,
    );
    let certificate_expiry = errors.optional(
        "certificate_expiry",
        body.certificate_expiry.as_deref(),
        parse_date,
    );
    errors.into_result(lang)?;
    check_birth_date(&parts, now, lang)?;
    let Some(name) = name else {
        return Err(ApiError::invalid_fields(Vec::new(), lang));
    };
    let identity = identity_for(found.procedure.info().identity, &name, &parts)
        .map_err(|fields| ApiError::missing_fields(&fields, lang))?;
    let confirmed = state
        .booking
        .confirm(
            &owner,
            ResidentInput {
                name,
                identity,
                factors: SecondFactor::all_of(&parts),
                proxy: body.proxy,
                lang: lang.code(),
            },
            certificate_expiry,
        )
        .await
        .or_problem(lang)?;
    Ok(owner_view(&state, &confirmed))
}

/// 200 with the reservation as its owner sees it (never cached: it names the resident).
fn owner_view(state: &AppState, reservation: &Reservation) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ReservationView::of(
            reservation,
            None,
            &state.reservation_parts,
        ))
}

/// A reservation, for its owner.
#[utoipa::path(get, path = "/api/v1/reservations/{reference}", tag = "reservations",
    params(("reference" = String, Path), ("X-Reservation-Secret" = String, Header)),
    responses(
        (status = 200, body = ReservationView),
        (status = 400, description = "No secret sent"),
        (status = 404, description = "Unknown reference or wrong secret")))]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let owner = ownership(&req, &path, lang)?;
    let found = state.booking.find(&owner).await.or_problem(lang)?;
    Ok(owner_view(&state, &found))
}

/// Cancels a booking (until the cut-off) or releases a hold. Cancelling twice is fine.
#[utoipa::path(delete, path = "/api/v1/reservations/{reference}", tag = "reservations",
    params(("reference" = String, Path), ("X-Reservation-Secret" = String, Header)),
    responses(
        (status = 200, description = "Cancelled", body = ReservationView),
        (status = 404, description = "Unknown reference or wrong secret"),
        (status = 422, description = "Past the online cancellation cut-off")))]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let owner = ownership(&req, &path, lang)?;
    let cancelled = state.booking.cancel(&owner).await.or_problem(lang)?;
    Ok(owner_view(&state, &cancelled))
}

/// Moves a booking to another slot (same procedure; optionally another office). The
/// new seat is taken before the old one is released, so a failed move keeps the booking.
#[utoipa::path(post, path = "/api/v1/reservations/{reference}/reschedule", tag = "reservations",
    request_body = RescheduleBody,
    params(("reference" = String, Path), ("X-Reservation-Secret" = String, Header)),
    responses(
        (status = 200, description = "Moved", body = ReservationView),
        (status = 404, description = "Unknown reference or wrong secret"),
        (status = 409, description = "The new slot is full, or the booking cannot be moved"),
        (status = 422, description = "A booking rule was broken (e.g. past the change cut-off)")))]
pub async fn reschedule(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
    body: web::Json<RescheduleBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let owner = ownership(&req, &path, lang)?;
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    let mut errors = FieldErrors::default();
    let start = errors.optional("start", Some(&body.start), parse_start);
    if body.start.trim().is_empty() {
        errors.push("start", "is required");
    }
    let office = match body.office_id.as_deref() {
        None => None,
        Some(raw) => match OfficeId::parse(raw) {
            Ok(id) if state.booking.municipality().office(id.as_str()).is_some() => Some(id),
            _ => {
                errors.push(
                    "office_id",
                    "no such office; GET /api/v1/offices lists them",
                );
                None
            }
        },
    };
    let certificate_expiry = errors.optional(
        "certificate_expiry",
        body.certificate_expiry.as_deref(),
        parse_date,
    );
    errors.into_result(lang)?;
    let Some(start) = start else {
        return Err(ApiError::invalid_fields(Vec::new(), lang));
    };
    let moved = state
        .booking
        .reschedule(
            &owner,
            RescheduleRequest {
                office,
                start,
                certificate_expiry,
            },
        )
        .await
        .or_problem(lang)?;
    Ok(owner_view(&state, &moved))
}

/// Opens a booking without its secret, by what the resident gave at booking: the contact
/// (e-mail address or phone number) or the birth date. The answer carries the secret, as
/// at booking, for the calls that follow. Wrong answers are limited per client and, more
/// tightly, per reference (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/reservations/{reference}/access", tag = "reservations",
    request_body = AccessBody,
    params(("reference" = String, Path)),
    responses(
        (status = 200, description = "Opened; `secret` is given again", body = ReservationView),
        (status = 400, description = "Malformed request or field"),
        (status = 404, description = "Unknown reference, or nothing sent matches the booking"),
        (status = 422, description = "Neither a contact nor a birth date was sent, or the birth date cannot be right"),
        (status = 429, description = "Too many wrong answers; retry after the time given")))]
pub async fn access(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
    body: web::Json<AccessBody>,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let reference = ReferenceKey::parse(&path).map_err(|e| ApiError::bad_reference(e, lang))?;
    let body = body.into_inner();
    reject_unknown(&body.unknown, "", lang)?;
    let mut errors = FieldErrors::default();
    let contact = errors.optional("contact", body.contact.as_deref(), SecondFactor::contact);
    let birth_date = errors.optional("birth_date", body.birth_date.as_deref(), parse_date);
    errors.into_result(lang)?;
    let parts = crate::domain::identity::IdentityParts {
        birth_date,
        ..Default::default()
    };
    check_birth_date(&parts, state.booking.clock().now(), lang)?;
    let factors: Vec<SecondFactor> = contact
        .into_iter()
        .chain(birth_date.map(SecondFactor::BirthDate))
        .collect();
    if factors.is_empty() {
        let mut errors = FieldErrors::default();
        errors.push(
            "contact",
            "send the contact or the birth date given at booking",
        );
        errors.into_rule_result(lang)?;
    }
    let client = crate::http::rate_limit::client_of(&req);
    let mut opened = None;
    for factor in &factors {
        opened = Some(
            state
                .booking
                .open_with_factor(&reference, factor, client)
                .await
                .or_problem(lang)?,
        );
    }
    let Some((reservation, owner)) = opened else {
        return Err(ApiError::invalid_fields(Vec::new(), lang));
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ReservationView::of(
            &reservation,
            Some(owner.secret),
            &state.reservation_parts,
        )))
}
