//! A booking's body parsed into the service's request, shared by the API and the booking
//! page, so that a page cannot accept what the API refuses: every field error at once,
//! then the identity the procedure needs.

use crate::domain::OfficeId;
use crate::domain::identity::{SecondFactor, identity_for};
use crate::domain::procedure::ProcedureId;
use crate::domain::text::Lang;
use crate::http::dto::BookingBody;
use crate::http::error::{ApiError, FieldErrors};
use crate::http::parse::{
    check_birth_date, parse_date, parse_resident, parse_start, reject_unknown,
};
use crate::service::BookingService;
use crate::service::booking::{BookRequest, IdempotencyKey, ResidentInput};

pub fn office_and_procedure(
    office: &str,
    procedure: &str,
    booking: &BookingService,
    errors: &mut FieldErrors,
) -> (Option<OfficeId>, Option<ProcedureId>) {
    let office = match OfficeId::parse(office) {
        Ok(id) if booking.municipality().office(id.as_str()).is_some() => Some(id),
        _ => {
            errors.push(
                "office_id",
                "no such office; GET /api/v1/offices lists them",
            );
            None
        }
    };
    let procedure = match procedure.parse::<ProcedureId>() {
        Ok(p) => Some(p),
        Err(e) => {
            errors.push("procedure", e);
            None
        }
    };
    (office, procedure)
}

/// A booking body parsed into the service's request (shared by the API and the booking
/// page): every field error at once, then the identity the procedure needs.
pub fn book_request(
    booking: &BookingService,
    body: BookingBody,
    idempotency: Option<IdempotencyKey>,
    lang: Lang,
) -> Result<BookRequest, ApiError> {
    reject_unknown(&body.unknown, "", lang)?;
    reject_unknown(&body.resident.unknown, "resident.", lang)?;
    let now = booking.clock().now();
    let mut errors = FieldErrors::default();
    let (office, procedure) =
        office_and_procedure(&body.office_id, &body.procedure, booking, &mut errors);
    let start = errors.optional("start", Some(&body.start), parse_start);
    if body.start.trim().is_empty() {
        errors.push("start", "is required");
    }
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
    let (Some(office), Some(procedure), Some(start), Some(name)) = (office, procedure, start, name)
    else {
        return Err(ApiError::invalid_fields(Vec::new(), lang));
    };
    let identity = identity_for(procedure.info().identity, &name, &parts)
        .map_err(|fields| ApiError::missing_fields(&fields, lang))?;
    Ok(BookRequest {
        office,
        procedure,
        start,
        resident: ResidentInput {
            name,
            identity,
            factors: SecondFactor::all_of(&parts),
            proxy: body.proxy,
            lang: lang.code(),
        },
        certificate_expiry,
        idempotency,
    })
}
