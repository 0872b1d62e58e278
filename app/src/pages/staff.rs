//! The staff console (`/staff/{office}/counter/{counter}`): sign in with the staff token,
//! call next, recall, start, finish, no-show, transfer, pause/resume; the current
//! resident and the lines this counter calls from. The token travels once in a form
//! body and then lives in an HttpOnly, SameSite=Strict cookie scoped to `/staff`: never
//! in a URL, never logged (access logs carry route patterns only).

use crate::domain::OfficeId;
use crate::domain::queue::{LineId, TicketClass};
use crate::domain::reception::ReceptionQuery;
use crate::domain::reference::ReferenceKey;
use crate::http::error::ApiError;
use crate::pages::congestion::{LineRow, OfficeRow, known_office};
use crate::pages::csrf::{self, CsrfToken};
use crate::pages::queue::status_key;
use crate::pages::{State, Tr, not_found, page_lang, render_with, unavailable};
use crate::service::queue::QueueError;
use crate::service::staff::{AuthError, StaffPrincipal};
use crate::store::queue::TicketAction;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use serde::Deserialize;

pub const STAFF_COOKIE: &str = "staff_token";

/// The resident at the counter, as the console shows it.
pub struct CurrentRow {
    pub number: String,
    pub procedure: String,
    /// 予約 / 当日 / 優先
    pub kind: String,
    pub status: &'static str,
    pub status_text: String,
}

pub struct LineChoice {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "staff_console.html")]
struct ConsolePage {
    tr: Tr,
    office_id: String,
    office_name: String,
    counter_id: String,
    counter_name: String,
    paused: bool,
    current: Option<CurrentRow>,
    lines: Vec<LineRow>,
    transfer_to: Vec<LineChoice>,
    csrf: String,
    message: Option<String>,
    found: Option<Found>,
}

/// Reception's search: what was typed, and today's bookings that match.
pub struct Found {
    pub query: String,
    pub rows: Vec<FoundRow>,
}

pub struct FoundRow {
    pub time: String,
    pub name: String,
    pub procedure: String,
    pub reference: String,
}

#[derive(Template)]
#[template(path = "staff_sign_in.html")]
struct SignInPage {
    tr: Tr,
    next: String,
    csrf: String,
    message: Option<String>,
}

pub(super) async fn principal(state: &State, req: &HttpRequest) -> Option<StaffPrincipal> {
    let token = req.cookie(STAFF_COOKIE)?;
    let client = crate::http::rate_limit::client_of(req);
    match state.staff.authenticate(token.value(), client).await {
        Ok(p) => Some(p),
        Err(AuthError::Unauthenticated | AuthError::TooManyGuesses(_)) => None,
        Err(AuthError::Store(e)) => {
            tracing::warn!(error = %e, "staff sign-in check failed");
            None
        }
    }
}

/// The signed-in staff of `office`, or the page to answer instead: not found, the sign-in
/// page (with `unsigned` as its status), or the sign-in page saying the token is for
/// another office (403). Nothing of the office is shown to anyone else.
pub(super) async fn staff_of(
    state: &State,
    req: &HttpRequest,
    tr: &Tr,
    office: &str,
    unsigned: HttpResponseBuilder,
) -> Result<(OfficeId, StaffPrincipal), HttpResponse> {
    let Some(office_id) = known_office(state, office) else {
        return Err(not_found(tr.clone()));
    };
    match principal(state, req).await {
        Some(p) if p.may_act_for(&office_id) => Ok((office_id, p)),
        Some(_) => {
            let message = Some(tr.plain("staff.other_office"));
            Err(sign_in_page(
                req,
                tr.clone(),
                message,
                HttpResponse::Forbidden(),
            ))
        }
        None => Err(sign_in_page(req, tr.clone(), None, unsigned)),
    }
}

pub(super) fn sign_in_page(
    req: &HttpRequest,
    tr: Tr,
    message: Option<String>,
    status: HttpResponseBuilder,
) -> HttpResponse {
    let token = CsrfToken::of(req);
    let page = SignInPage {
        next: req.path().to_owned(),
        csrf: token.value.clone(),
        message,
        tr: tr.clone(),
    };
    csrf::form_answer(render_with(&page, &tr, false, status), token)
}

async fn console_page(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    office_id: &OfficeId,
    counter_id: &str,
    (message, found): (Option<String>, Option<Found>),
    status: HttpResponseBuilder,
) -> HttpResponse {
    let Ok(office) = state.queue.office(office_id) else {
        return not_found(tr);
    };
    let Some(counter) = office.counter(counter_id) else {
        return not_found(tr);
    };
    let Ok(figures) = state.queue.congestion(office_id).await else {
        return unavailable(tr);
    };
    let row = OfficeRow::of(&figures, &tr);
    let here = figures.counters.iter().find(|c| c.id == counter.id);
    let current = here.and_then(|c| c.current.as_ref()).map(|t| CurrentRow {
        number: t.display.clone(),
        procedure: tr.text(&t.procedure.info().name).to_owned(),
        kind: tr.plain(match t.class {
            TicketClass::Reserved => "staff.reserved",
            TicketClass::Priority => "staff.priority",
            TicketClass::Normal => "staff.walk_in",
        }),
        status: t.status.as_str(),
        status_text: tr.plain(status_key(t.status)),
    });
    let lines = figures
        .lines
        .iter()
        .zip(row.lines)
        .filter(|(l, _)| counter.lines.contains(&l.line.id))
        .map(|(_, r)| r)
        .collect();
    let token = CsrfToken::of(req);
    let page = ConsolePage {
        office_id: office_id.to_string(),
        office_name: row.name,
        counter_id: counter.id.to_string(),
        counter_name: tr.text(&counter.name).to_owned(),
        paused: here.is_some_and(|c| c.paused),
        current,
        lines,
        transfer_to: office
            .lines
            .iter()
            .map(|l| LineChoice {
                id: l.id.to_string(),
                name: format!("{} {}", l.prefix, tr.text(&l.name)),
            })
            .collect(),
        csrf: token.value.clone(),
        message,
        found,
        tr: tr.clone(),
    };
    csrf::form_answer(render_with(&page, &tr, false, status), token)
}

pub async fn console(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let (office, counter) = path.into_inner();
    let (office_id, _) = match staff_of(&state, &req, &tr, &office, HttpResponse::Ok()).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    console_page(
        &state,
        &req,
        tr,
        &office_id,
        &counter,
        (None, None),
        HttpResponse::Ok(),
    )
    .await
}

/// Where a sign-in may go back to: only a console page of ours (no open redirect), and
/// only as visible ASCII, so the Location header can always be written.
fn console_path(next: &str) -> Option<&str> {
    let ok = next.starts_with("/staff/")
        && !next.contains("//")
        && !next.contains('\\')
        && next.bytes().all(|b| (0x21..=0x7e).contains(&b));
    ok.then_some(next)
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    token: String,
    next: String,
}

/// Checks the token, keeps it in the staff cookie, and goes back to the console.
pub async fn sign_in(state: State, req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let next = console_path(&form.next).unwrap_or("/staff").to_owned();
    let client = crate::http::rate_limit::client_of(&req);
    match state.staff.authenticate(form.token.trim(), client).await {
        Ok(_) => {
            let cookie = Cookie::build(STAFF_COOKIE, form.token.trim().to_owned())
                .path("/staff")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(req.connection_info().scheme() == "https")
                .max_age(CookieDuration::hours(12))
                .finish();
            let mut response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, next))
                .finish();
            let _ = response.add_cookie(&cookie);
            response
        }
        Err(AuthError::Unauthenticated) => {
            let message = Some(tr.plain("staff.bad_token"));
            sign_in_page(&req, tr, message, HttpResponse::Unauthorized())
        }
        Err(AuthError::TooManyGuesses(wait)) => {
            let message = Some(tr.plain("staff.too_many"));
            let mut status = HttpResponse::TooManyRequests();
            status.insert_header((
                header::RETRY_AFTER,
                crate::http::rate_limit::retry_after_secs(wait).to_string(),
            ));
            sign_in_page(&req, tr, message, status)
        }
        Err(AuthError::Store(e)) => {
            tracing::warn!(error = %e, "staff sign-in failed");
            unavailable(tr)
        }
    }
}

#[derive(Deserialize)]
pub struct SignOutForm {
    csrf: String,
}

pub async fn sign_out(req: HttpRequest, form: web::Form<SignOutForm>) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let mut gone = Cookie::build(STAFF_COOKIE, "").path("/staff").finish();
    gone.make_removal();
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/staff"))
        .finish();
    let _ = response.add_cookie(&gone);
    response
}

/// An office and its counters (id, name), for the console picker.
pub struct OfficeCounters {
    pub id: String,
    pub name: String,
    pub counters: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "staff_home.html")]
struct StaffHome {
    tr: Tr,
    offices: Vec<OfficeCounters>,
}

/// Which counter are you at? Links to every console.
pub async fn home(state: State, req: HttpRequest) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let offices = state
        .booking
        .municipality()
        .offices
        .iter()
        .map(|o| OfficeCounters {
            id: o.id.to_string(),
            name: tr.text(&o.name).to_owned(),
            counters: o
                .counters
                .iter()
                .map(|c| (c.id.to_string(), tr.text(&c.name).to_owned()))
                .collect(),
        })
        .collect();
    render_with(
        &StaffHome {
            tr: tr.clone(),
            offices,
        },
        &tr,
        false,
        HttpResponse::Ok(),
    )
}

#[derive(Deserialize)]
pub struct ActionForm {
    csrf: String,
    action: String,
    #[serde(default)]
    line_id: Option<String>,
    /// For `check-in`: the booking's reference, as the resident reads it out.
    #[serde(default)]
    reference: Option<String>,
    /// For `find`: a name or a booked time.
    #[serde(default)]
    q: Option<String>,
}

/// One button of the console; back to the console (303) when done, or the console with
/// the reason when refused.
pub async fn act(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let (office, counter) = path.into_inner();
    if known_office(&state, &office).is_none() {
        return not_found(tr);
    }
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let unsigned = HttpResponse::Unauthorized();
    let (office_id, staff) = match staff_of(&state, &req, &tr, &office, unsigned).await {
        Ok(signed_in) => signed_in,
        Err(page) => return page,
    };
    if form.action == "check-in" {
        let reference = form.reference.as_deref().unwrap_or_default();
        return reception(&state, &req, tr, (&staff, &office_id, &counter), reference).await;
    }
    if form.action == "find" {
        let query = form.q.as_deref().unwrap_or_default();
        return find(&state, &req, tr, (&office_id, &counter), query).await;
    }
    let queue = &state.queue;
    let result: Result<(), QueueError> = match form.action.as_str() {
        "call-next" => queue
            .call_next(&staff, &office_id, &counter)
            .await
            .map(|_| ()),
        "pause" | "resume" => {
            queue
                .set_paused(&staff, &office_id, &counter, form.action == "pause")
                .await
        }
        other => {
            let action = match other {
                "recall" => Some(TicketAction::Recall),
                "start" => Some(TicketAction::Start),
                "finish" => Some(TicketAction::Finish),
                "no-show" => Some(TicketAction::NoShow),
                "transfer" => form
                    .line_id
                    .as_deref()
                    .and_then(|l| LineId::parse(l).ok())
                    .map(|to| TicketAction::Transfer {
                        to,
                        keep_place: queue
                            .office(&office_id)
                            .map(|o| o.queue.transfer_keeps_place)
                            .unwrap_or(true),
                    }),
                _ => None,
            };
            match action {
                Some(a) => queue
                    .counter_action(&staff, &office_id, &counter, a)
                    .await
                    .map(|_| ()),
                None => Err(QueueError::LineNotFound),
            }
        }
    };
    match result {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/staff/{office_id}/counter/{counter}?lang={}", tr.code()),
            ))
            .finish(),
        Err(e) => {
            let refusal = ApiError::from_queue(e, tr.lang.text_lang());
            let status = refusal.problem.describe().1;
            let message = Some(tr.text(&refusal.detail).to_owned());
            let status = if status.is_server_error() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                status
            };
            console_page(
                &state,
                &req,
                tr,
                &office_id,
                &counter,
                (message, None),
                HttpResponse::build(status),
            )
            .await
        }
    }
}

/// Reception without the reference: today's bookings of the office by name or booked
/// time, each with its check-in button.
async fn find(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    (office_id, counter): (&OfficeId, &str),
    query: &str,
) -> HttpResponse {
    let parsed = ReceptionQuery::parse(query);
    let Ok(bookings) = state.booking.find_for_reception(office_id, &parsed).await else {
        return unavailable(tr);
    };
    let rows = bookings
        .iter()
        .map(|r| FoundRow {
            time: crate::pages::booking::when_text(&tr, r.slot_start, r.slot_end),
            name: r.resident_name.clone().unwrap_or_default(),
            procedure: tr.text(&r.procedure.info().name).to_owned(),
            reference: r.reference.clone(),
        })
        .collect();
    let found = Found {
        query: query.trim().to_owned(),
        rows,
    };
    console_page(
        state,
        req,
        tr,
        office_id,
        counter,
        (None, Some(found)),
        HttpResponse::Ok(),
    )
    .await
}

/// Reception at the counter: a booked resident reads out the reference (or shows the
/// confirmation) and staff check the booking in; the console answers with the ticket.
async fn reception(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    (staff, office_id, counter): (&StaffPrincipal, &OfficeId, &str),
    reference: &str,
) -> HttpResponse {
    let lang = tr.lang.text_lang();
    let checked_in = match ReferenceKey::parse(reference) {
        Ok(key) => state
            .queue
            .check_in_at(office_id, &key, &staff.actor())
            .await
            .map_err(|e| ApiError::from_queue(e, lang)),
        Err(e) => Err(ApiError::bad_reference(e, lang)),
    };
    let (message, status) = match checked_in {
        Ok(info) => {
            let kind = tr.plain(match info.ticket.class {
                TicketClass::Reserved => "staff.reserved",
                TicketClass::Priority => "staff.priority",
                TicketClass::Normal => "staff.walk_in",
            });
            let message = format!(
                "{} {} ({kind})",
                tr.plain("staff.checked_in"),
                info.ticket.display
            );
            (message, StatusCode::OK)
        }
        Err(refusal) => {
            let status = refusal.problem.describe().1;
            let status = if status.is_server_error() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                status
            };
            (tr.text(&refusal.detail).to_owned(), status)
        }
    };
    console_page(
        state,
        req,
        tr,
        office_id,
        counter,
        (Some(message), None),
        HttpResponse::build(status),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::console_path;

    #[test]
    fn sign_in_goes_back_only_to_a_console_page_that_fits_a_header() {
        assert_eq!(
            console_path("/staff/main/counter/1"),
            Some("/staff/main/counter/1")
        );
        assert_eq!(console_path("https://evil.example/"), None);
        assert_eq!(console_path("/staff//evil.example"), None);
        assert_eq!(console_path("/staff/\\evil.example"), None);
        assert_eq!(console_path("/staff/\r\nSet-Cookie: x=1"), None);
        assert_eq!(console_path("/staff/ä"), None);
        assert_eq!(console_path("/staff/a b"), None);
    }
}
