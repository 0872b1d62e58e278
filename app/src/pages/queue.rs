//! The queue pages: the kiosk (take a number), the ticket's status page (live), and the
//! waiting-room display (live, with a chime and an optional spoken call).

use crate::domain::queue::{TicketStatus, WaitEstimate};
use crate::domain::time::{HhMm, tokyo_naive};
use crate::domain::{OfficeId, procedure::ProcedureId};
use crate::pages::congestion::{OfficeRow, known_office, wait_text};
use crate::pages::csrf::{self, CsrfToken};
use crate::pages::{State, Tr, not_found, page_lang, render, render_with};
use crate::service::queue::{QueueError, TicketInfo, intake_message};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

/// One button of the kiosk: a walk-in procedure, or why its intake is closed.
pub struct KioskChoice {
    pub procedure: &'static str,
    pub name: String,
    pub line: String,
    pub waiting: String,
    pub wait: String,
    /// Set when no ticket can be taken for it now.
    pub closed: Option<String>,
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    tr: Tr,
    office_id: String,
    office_name: String,
    choices: Vec<KioskChoice>,
    csrf: String,
    /// A refusal of the last press (e.g. intake closed meanwhile).
    message: Option<String>,
    /// Whether residents book here, so that the check-in button is shown.
    bookable: bool,
}

async fn kiosk_page(
    state: &State,
    req: &HttpRequest,
    id: &OfficeId,
    message: Option<String>,
    status: actix_web::HttpResponseBuilder,
) -> HttpResponse {
    let (tr, remember) = page_lang(req);
    let Ok(office) = state.queue.office(id) else {
        return not_found(tr);
    };
    let figures = state.queue.congestion(id).await.ok();
    let mut choices = Vec::new();
    for (procedure, op) in &office.procedures {
        if !op.walk_in {
            continue;
        }
        let line = office.line_of(*procedure);
        let live = figures.as_ref().and_then(|f| {
            f.lines
                .iter()
                .find(|l| Some(&l.line.id) == line.map(|l| &l.id))
        });
        choices.push(KioskChoice {
            procedure: procedure.as_str(),
            name: tr.text(&procedure.info().name).to_owned(),
            line: line
                .map(|l| tr.text(&l.name).to_owned())
                .unwrap_or_default(),
            waiting: live.map(|l| tr.people(l.waiting)).unwrap_or_default(),
            wait: wait_text(&tr, &live.and_then(|l| l.estimate)),
            closed: live.and_then(|l| {
                l.intake
                    .as_ref()
                    .err()
                    .map(|c| tr.text(&intake_message(c)).to_owned())
            }),
        });
    }
    let token = CsrfToken::of(req);
    let page = KioskPage {
        office_id: id.to_string(),
        office_name: tr.text(&office.name).to_owned(),
        choices,
        csrf: token.value.clone(),
        message,
        bookable: office.procedures.values().any(|p| p.bookable),
        tr: tr.clone(),
    };
    csrf::form_answer(render_with(&page, &tr, remember, status), token)
}

pub async fn kiosk(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let Some(id) = known_office(&state, &path) else {
        return not_found(page_lang(&req).0);
    };
    kiosk_page(&state, &req, &id, None, HttpResponse::Ok()).await
}

#[derive(Deserialize)]
pub struct KioskForm {
    csrf: String,
    procedure: String,
}

/// A press on a kiosk button: issue, then show the ticket (POST → 303 → GET, so a
/// reload never prints a second number).
pub async fn kiosk_issue(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<KioskForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let Some(id) = known_office(&state, &path) else {
        return not_found(tr);
    };
    if !csrf::verify(&req, &form.csrf) {
        return forbidden(tr);
    }
    let Ok(procedure) = form.procedure.parse::<ProcedureId>() else {
        return kiosk_page(
            &state,
            &req,
            &id,
            Some(tr.plain("kiosk.walk_in_none")),
            HttpResponse::BadRequest(),
        )
        .await;
    };
    match state.queue.issue_walk_in(&id, procedure, false).await {
        Ok(info) => show_ticket(&state, &id, &info, &tr),
        Err(QueueError::IntakeClosed(c)) => {
            let message = tr.text(&intake_message(&c)).to_owned();
            kiosk_page(&state, &req, &id, Some(message), HttpResponse::Conflict()).await
        }
        Err(QueueError::ProcedureNotOffered) => {
            kiosk_page(
                &state,
                &req,
                &id,
                Some(tr.plain("kiosk.walk_in_none")),
                HttpResponse::UnprocessableEntity(),
            )
            .await
        }
        Err(e) => {
            tracing::warn!(error = %e, "kiosk could not issue a ticket");
            crate::pages::unavailable(tr)
        }
    }
}

/// After a press or a check-in: on to the ticket's page (POST → 303 → GET, so a reload
/// never prints a second number).
pub fn show_ticket(state: &State, office: &OfficeId, info: &TicketInfo, tr: &Tr) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!(
                "/kiosk/{office}/ticket/{}?lang={}",
                state.queue.ticket_token(info.ticket.id),
                tr.code()
            ),
        ))
        .finish()
}

/// A ticket as the pages show it.
pub struct TicketRow {
    pub id: String,
    pub office_id: String,
    pub number: String,
    pub procedure: String,
    pub status: &'static str,
    pub status_text: String,
    pub place: Option<String>,
    pub ahead: Option<String>,
    pub wait: Option<String>,
    pub counter: Option<String>,
    pub issued: String,
}

impl TicketRow {
    fn of(info: &TicketInfo, state: &State, tr: &Tr) -> Self {
        let t = &info.ticket;
        let counter = t.counter_id.as_ref().map(|c| {
            state
                .queue
                .office(&t.office_id)
                .ok()
                .and_then(|o| o.counter(c.as_str()))
                .map(|c| tr.text(&c.name).to_owned())
                .unwrap_or_else(|| c.to_string())
        });
        TicketRow {
            id: state.queue.ticket_token(t.id),
            office_id: t.office_id.to_string(),
            number: t.display.clone(),
            procedure: tr.text(&t.procedure.info().name).to_owned(),
            status: t.status.as_str(),
            status_text: tr.plain(status_key(t.status)),
            place: info.position.map(|p| tr.place(p)),
            ahead: info.ahead.map(|a| tr.people(a)),
            wait: info.estimate.map(|e: WaitEstimate| wait_text(tr, &Some(e))),
            counter,
            issued: HhMm(tokyo_naive(t.issued_at).time()).to_string(),
        }
    }
}

pub fn status_key(s: TicketStatus) -> &'static str {
    match s {
        TicketStatus::Waiting => "ticket.waiting",
        TicketStatus::Called => "ticket.called",
        TicketStatus::Serving => "ticket.serving",
        TicketStatus::Done => "ticket.done",
        TicketStatus::NoShow => "ticket.no_show",
        TicketStatus::Cancelled => "ticket.cancelled",
    }
}

#[derive(Template)]
#[template(path = "kiosk_ticket.html")]
struct KioskTicketPage {
    tr: Tr,
    ticket: TicketRow,
    office_name: String,
    qr: String,
    status_url: String,
}

/// The printed (shown) ticket: number, people ahead, wait, QR code to the status page.
pub async fn kiosk_ticket(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let (office, ticket) = path.into_inner();
    let Some(info) = find_ticket(&state, &req, &ticket).await else {
        return not_found(tr);
    };
    if info.ticket.office_id.as_str() != office {
        return not_found(tr);
    }
    let status_url = format!(
        "{}/t/{}?lang={}",
        crate::pages::origin(&req),
        state.queue.ticket_token(info.ticket.id),
        tr.code()
    );
    let office_name = state
        .queue
        .office(&info.ticket.office_id)
        .map(|o| tr.text(&o.name).to_owned())
        .unwrap_or_default();
    let page = KioskTicketPage {
        ticket: TicketRow::of(&info, &state, &tr),
        office_name,
        qr: qr_data_uri(&status_url),
        status_url,
        tr: tr.clone(),
    };
    no_store(render(&page, &tr, false))
}

/// A QR code as an SVG data URI (allowed by the CSP's `img-src data:`).
pub fn qr_data_uri(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            format!(
                "data:image/svg+xml;base64,{}",
                data_encoding::BASE64.encode(svg.as_bytes())
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "no QR code");
            String::new()
        }
    }
}

async fn find_ticket(state: &State, req: &HttpRequest, raw: &str) -> Option<TicketInfo> {
    let client = crate::http::rate_limit::client_of(req);
    let id = state.queue.ticket_of_token(raw, client).ok().flatten()?;
    match state.queue.ticket(id).await {
        Ok(info) => Some(info),
        Err(QueueError::TicketNotFound) => None,
        Err(e) => {
            tracing::warn!(error = %e, "ticket unavailable for a page");
            None
        }
    }
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    tr: Tr,
    ticket: TicketRow,
    office_name: String,
}

/// The resident's ticket page: live place, estimate, and the call when it comes.
pub async fn ticket(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let Some(info) = find_ticket(&state, &req, &path).await else {
        return not_found(tr);
    };
    let office_name = state
        .queue
        .office(&info.ticket.office_id)
        .map(|o| tr.text(&o.name).to_owned())
        .unwrap_or_default();
    let page = TicketPage {
        ticket: TicketRow::of(&info, &state, &tr),
        office_name,
        tr: tr.clone(),
    };
    no_store(render(&page, &tr, remember))
}

pub struct CounterRow {
    pub id: String,
    pub name: String,
    pub number: Option<String>,
    pub paused: bool,
}

#[derive(Template)]
#[template(path = "display.html")]
struct DisplayPage {
    tr: Tr,
    office: OfficeRow,
    counters: Vec<CounterRow>,
    recent: Vec<String>,
}

/// The waiting-room display: numbers called per counter, recent calls, lines.
pub async fn display(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let Some(id) = known_office(&state, &path) else {
        return not_found(tr);
    };
    let Ok(c) = state.queue.congestion(&id).await else {
        return crate::pages::unavailable(tr);
    };
    let counters = c
        .counters
        .iter()
        .map(|k| CounterRow {
            id: k.id.to_string(),
            name: tr.text(&k.name).to_owned(),
            number: k.current.as_ref().map(|t| t.display.clone()),
            paused: k.paused,
        })
        .collect();
    let page = DisplayPage {
        office: OfficeRow::of(&c, &tr),
        counters,
        recent: c.recent.iter().map(|t| t.display.clone()).collect(),
        tr: tr.clone(),
    };
    render(&page, &tr, remember)
}

fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

pub fn forbidden(tr: Tr) -> HttpResponse {
    #[derive(Template)]
    #[template(path = "forbidden.html")]
    struct Forbidden {
        tr: Tr,
    }
    render_with(
        &Forbidden { tr: tr.clone() },
        &tr,
        false,
        HttpResponse::Forbidden(),
    )
}
