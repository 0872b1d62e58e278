//! The kiosk's 「予約の方はこちら」: a booked resident checks in with the QR code of the
//! confirmation (a keyboard-wedge scanner types its link into the field) or the typed
//! reference, and is shown a numbered ticket like a walk-in's. The kiosk stands in the
//! office, so the reference alone is enough, as at the reception counter; unknown
//! references count as failed guesses of the kiosk's address (`service::guesses`).

use crate::domain::OfficeId;
use crate::domain::reference::ReferenceKey;
use crate::http::error::ApiError;
use crate::pages::congestion::known_office;
use crate::pages::csrf::{self, CsrfToken};
use crate::pages::queue::{forbidden, show_ticket};
use crate::pages::{State, Tr, not_found, page_lang, render_with, unavailable};
use crate::service::BookingError;
use crate::service::queue::QueueError;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "kiosk_check_in.html")]
struct CheckInPage {
    tr: Tr,
    office_id: String,
    office_name: String,
    csrf: String,
    /// What was typed or scanned, shown again with a refusal.
    code: String,
    /// How late a booking keeps its priority here.
    late: String,
    message: Option<String>,
}

fn page(
    state: &State,
    req: &HttpRequest,
    id: &OfficeId,
    (code, message): (String, Option<String>),
    status: HttpResponseBuilder,
) -> HttpResponse {
    let (tr, remember) = page_lang(req);
    let Ok(office) = state.queue.office(id) else {
        return not_found(tr);
    };
    let token = CsrfToken::of(req);
    let page = CheckInPage {
        office_id: id.to_string(),
        office_name: tr.text(&office.name).to_owned(),
        csrf: token.value.clone(),
        code,
        message,
        late: tr.late_grace(office.queue.late_grace_minutes),
        tr: tr.clone(),
    };
    csrf::form_answer(render_with(&page, &tr, remember, status), token)
}

pub async fn form(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(id) = known_office(&state, &path) else {
        return not_found(page_lang(&req).0);
    };
    page(&state, &req, &id, (String::new(), None), HttpResponse::Ok())
}

#[derive(Deserialize)]
pub struct CheckInForm {
    csrf: String,
    code: String,
}

/// A check-in: issue the reservation's ticket, then show it (POST → 303 → GET, as a
/// walk-in's press, so a reload prints nothing twice; a second check-in shows the same
/// ticket).
pub async fn submit(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<CheckInForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let Some(id) = known_office(&state, &path) else {
        return not_found(tr);
    };
    if !csrf::verify(&req, &form.csrf) {
        return forbidden(tr);
    }
    let lang = tr.lang.text_lang();
    let typed = form.code.trim().to_owned();
    let refuse =
        |message: String, status| page(&state, &req, &id, (typed.clone(), Some(message)), status);
    let reference = match ReferenceKey::from_scan(&form.code) {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::bad_reference(e, lang);
            let status = HttpResponse::build(e.problem.describe().1);
            return refuse(tr.text(&e.detail).to_owned(), status);
        }
    };
    let client = crate::http::rate_limit::client_of(&req);
    let guesses = state.booking.guesses();
    if let Err(wait) = guesses.check(client, None) {
        let e = ApiError::too_many_guesses(wait, lang);
        return refuse(
            tr.text(&e.detail).to_owned(),
            HttpResponse::TooManyRequests(),
        );
    }
    match state.queue.check_in_at(&id, &reference, "kiosk").await {
        Ok(info) => show_ticket(&state, &id, &info, &tr),
        Err(QueueError::Booking(BookingError::NotFound)) => {
            guesses.failed(client, None);
            refuse(tr.plain("kiosk.check_in_unknown"), HttpResponse::NotFound())
        }
        Err(e) => {
            let e = ApiError::from_queue(e, lang);
            let status = e.problem.describe().1;
            if status.is_server_error() {
                return unavailable(tr);
            }
            refuse(tr.text(&e.detail).to_owned(), HttpResponse::build(status))
        }
    }
}
