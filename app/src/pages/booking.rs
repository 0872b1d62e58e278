//! The booking pages: the home page, an office's bookable procedures, a calendar of
//! slots (remaining seats, quiet hours from typical congestion), the booking form with
//! its short eligibility check, the confirmation (reference, secret, what to bring, map
//! link, hours, an `.ics` file, the PIN warning), and managing a booking (view, cancel,
//! reschedule) with reference + secret. The form goes through the same parsing as the
//! JSON API (`http::booking_input::book_request`), so a page cannot accept what the API refuses.

use crate::domain::OfficeId;
use crate::domain::identity::SecondFactor;
use crate::domain::office::{Municipality, Office};
use crate::domain::procedure::{IdentityKind, ProcedureId};
use crate::domain::queue::Level;
use crate::domain::reference::ReferenceKey;
use crate::domain::time::{HhMm, tokyo_naive};
use crate::http::dto::{BookingBody, ResidentBody};
use crate::http::error::{ApiError, OrProblem, Problem};
use crate::pages::csrf::{self, CsrfToken};
use crate::pages::heatmap;
use crate::pages::{State, Tr, not_found, origin, page_lang, render_with, unavailable};
use crate::service::booking::{IdempotencyKey, Ownership, RescheduleRequest};
use crate::service::queue::TYPICAL_WEEKS;
use crate::store::{Reservation, ReservationStatus};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

pub struct OfficeLink {
    pub id: String,
    pub name: String,
    pub address: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    tr: Tr,
    offices: Vec<OfficeLink>,
}

pub async fn home(state: State, req: HttpRequest) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let offices = state
        .booking
        .municipality()
        .offices
        .iter()
        .map(|o| OfficeLink {
            id: o.id.to_string(),
            name: tr.text(&o.name).to_owned(),
            address: tr.text(&o.address).to_owned(),
        })
        .collect();
    render_with(
        &HomePage {
            tr: tr.clone(),
            offices,
        },
        &tr,
        remember,
        HttpResponse::Ok(),
    )
}

pub struct ProcedureLink {
    pub id: &'static str,
    pub name: String,
    pub bookable: bool,
    pub walk_in: bool,
}

#[derive(Template)]
#[template(path = "book_office.html")]
struct OfficePage {
    tr: Tr,
    office: OfficeLink,
    phone: Option<String>,
    procedures: Vec<ProcedureLink>,
}

pub async fn office(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let Some(o) = OfficeId::parse(&path)
        .ok()
        .and_then(|id| state.booking.municipality().office(id.as_str()))
    else {
        return not_found(tr);
    };
    let procedures = o
        .procedures
        .iter()
        .map(|(id, p)| ProcedureLink {
            id: id.as_str(),
            name: tr.text(&id.info().name).to_owned(),
            bookable: p.bookable,
            walk_in: p.walk_in,
        })
        .collect();
    let page = OfficePage {
        office: OfficeLink {
            id: o.id.to_string(),
            name: tr.text(&o.name).to_owned(),
            address: tr.text(&o.address).to_owned(),
        },
        phone: o.phone.clone(),
        procedures,
        tr: tr.clone(),
    };
    render_with(&page, &tr, remember, HttpResponse::Ok())
}

pub struct SlotCell {
    pub time: String,
    /// The form's address, when seats remain.
    pub href: Option<String>,
    pub remaining: u16,
    pub quiet: bool,
}

pub struct DayColumn {
    pub label: String,
    /// Seats left that day, as text ("空き 12" / "12 free").
    pub free: String,
    /// Shown unfolded: the first day with a free seat.
    pub open: bool,
    pub slots: Vec<SlotCell>,
    pub closed: Option<String>,
}

#[derive(Template)]
#[template(path = "book_calendar.html")]
struct CalendarPage {
    tr: Tr,
    office_id: String,
    office_name: String,
    procedure_name: String,
    days: Vec<DayColumn>,
    earlier: Option<String>,
    later: Option<String>,
    window: String,
}

#[derive(Deserialize)]
pub struct CalendarQuery {
    from: Option<String>,
}

pub fn day_label(tr: &Tr, d: NaiveDate) -> String {
    let weekday = tr.plain(&format!("weekday.{}", d.weekday().num_days_from_monday()));
    match tr.lang {
        crate::pages::PageLang::En => format!("{weekday} {}", d.format("%-d %b")),
        _ => format!("{}月{}日({weekday})", d.month(), d.day()),
    }
}

/// Slots of two weeks, with the quiet hours of the typical week marked.
pub async fn calendar(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<CalendarQuery>,
) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let Some((id, procedure)) = office_procedure(&path) else {
        return not_found(tr);
    };
    let Some(o) = state.booking.municipality().office(id.as_str()) else {
        return not_found(tr);
    };
    let from = query
        .from
        .as_deref()
        .and_then(|f| NaiveDate::parse_from_str(f, "%Y-%m-%d").ok());
    let availability = match state
        .booking
        .availability(&id, procedure, from, from.map(|f| f + Duration::days(13)))
        .await
    {
        Ok(a) => a,
        Err(crate::service::BookingError::Rule(_)) => return not_found(tr),
        Err(e) => {
            tracing::warn!(error = %e, "availability unavailable for a page");
            return unavailable(tr);
        }
    };
    let quiet: Vec<(u32, u32)> = state
        .queue
        .typical(&id, TYPICAL_WEEKS)
        .await
        .map(|cells| {
            heatmap::office_cells(&cells)
                .into_iter()
                .filter(|c| c.level == Level::Quiet)
                .map(|c| (c.weekday, c.hour))
                .collect()
        })
        .unwrap_or_default();
    let mut days: BTreeMap<NaiveDate, DayColumn> = BTreeMap::new();
    for s in &availability.slots {
        let local = tokyo_naive(s.start);
        let column = days.entry(local.date()).or_insert_with(|| DayColumn {
            label: day_label(&tr, local.date()),
            free: String::new(),
            open: false,
            slots: Vec::new(),
            closed: None,
        });
        column.slots.push(SlotCell {
            time: HhMm(local.time()).to_string(),
            href: (s.remaining > 0).then(|| {
                format!(
                    "/book/{id}/{procedure}/form?start={}&lang={}",
                    local.format("%Y-%m-%dT%H:%M"),
                    tr.code()
                )
            }),
            remaining: s.remaining,
            quiet: quiet.contains(&(local.date().weekday().num_days_from_monday(), local.hour())),
        });
    }
    for (date, closure) in &availability.closed {
        days.entry(*date).or_insert_with(|| DayColumn {
            label: day_label(&tr, *date),
            free: String::new(),
            open: false,
            slots: Vec::new(),
            closed: Some(tr.text(&closure.name).to_owned()),
        });
    }
    for day in days.values_mut() {
        if day.closed.is_none() {
            let seats: u32 = day.slots.iter().map(|s| u32::from(s.remaining)).sum();
            day.free = match tr.lang {
                crate::pages::PageLang::En => format!("{seats} free"),
                _ => format!("空き {seats}"),
            };
        }
    }
    if let Some(first) = days
        .values_mut()
        .find(|d| d.slots.iter().any(|s| s.href.is_some()))
    {
        first.open = true;
    }
    let shown_from = days.keys().next().copied();
    let shown_to = days.keys().last().copied();
    let link = |d: NaiveDate| format!("/book/{id}/{procedure}?from={d}&lang={}", tr.code());
    let page = CalendarPage {
        office_id: id.to_string(),
        office_name: tr.text(&o.name).to_owned(),
        procedure_name: tr.text(&procedure.info().name).to_owned(),
        earlier: shown_from
            .filter(|f| *f > availability.window.first)
            .map(|f| link((f - Duration::days(14)).max(availability.window.first))),
        later: shown_to
            .filter(|t| *t < availability.window.last)
            .map(|t| link(t + Duration::days(1))),
        window: format!(
            "{} – {}",
            day_label(&tr, availability.window.first),
            day_label(&tr, availability.window.last)
        ),
        days: days.into_values().collect(),
        tr: tr.clone(),
    };
    render_with(&page, &tr, remember, HttpResponse::Ok())
}

/// What the booking form asks, and what the resident typed (kept on a refusal).
#[derive(Default, Deserialize)]
pub struct BookingForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    certificate_expiry: String,
    #[serde(default)]
    notice_number: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    proxy: Option<String>,
    /// The phone desk's form only: the caller agreed, and the language of their e-mails.
    #[serde(default)]
    consent: Option<String>,
    #[serde(default)]
    mail_lang: String,
    /// Anything else the form carried: handed to the API's rules with the rest, which
    /// refuse a PIN-like field with the fraud warning and any other unknown field.
    #[serde(flatten)]
    unknown: BTreeMap<String, String>,
}

#[derive(Template)]
#[template(path = "book_form.html")]
struct FormPage {
    tr: Tr,
    action: String,
    calendar: String,
    office_name: String,
    procedure_name: String,
    slot: String,
    start: String,
    needs_expiry: bool,
    needs_notice: bool,
    proxy_allowed: bool,
    /// Staff book for a caller (the phone desk): the consent box and the e-mail language.
    for_caller: bool,
    form: BookingForm,
    idempotency_key: String,
    csrf: String,
    message: Option<String>,
    /// Field name → message, shown beside the field and in the summary.
    errors: Vec<(String, String)>,
}

impl FormPage {
    /// The id of a field's input, for the error summary's links.
    pub fn anchor(&self, field: &str) -> String {
        format!("f-{}", field.replace('.', "-"))
    }

    pub fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Deserialize)]
pub struct FormQuery {
    start: Option<String>,
}

pub(crate) fn parse_local(raw: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M").ok()
}

/// Which booking form: the resident's own, or the phone desk's for a caller.
#[derive(Clone, Copy)]
pub(crate) struct FormTarget<'a> {
    pub office: &'a OfficeId,
    pub procedure: ProcedureId,
    pub for_caller: bool,
}

pub(crate) fn form_page(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    target: FormTarget<'_>,
    form: BookingForm,
    (message, errors): (Option<String>, Vec<(String, String)>),
    status: HttpResponseBuilder,
) -> HttpResponse {
    let FormTarget {
        office,
        procedure,
        for_caller,
    } = target;
    let Some(o) = state.booking.municipality().office(office.as_str()) else {
        return not_found(tr);
    };
    let Some(op) = o.procedures.get(&procedure).filter(|p| p.bookable) else {
        return not_found(tr);
    };
    let Some(start) = parse_local(&form.start) else {
        return not_found(tr);
    };
    let token = CsrfToken::of(req);
    let key = if form.idempotency_key.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        form.idempotency_key.clone()
    };
    let info = procedure.info();
    let (action, calendar) = if for_caller {
        (
            format!("/staff/{office}/phone/{procedure}/form?lang={}", tr.code()),
            format!(
                "/staff/{office}/phone?procedure={procedure}&date={}&lang={}",
                start.date(),
                tr.code()
            ),
        )
    } else {
        (
            format!("/book/{office}/{procedure}/form?lang={}", tr.code()),
            format!("/book/{office}/{procedure}?lang={}", tr.code()),
        )
    };
    let page = FormPage {
        action,
        calendar,
        office_name: tr.text(&o.name).to_owned(),
        procedure_name: tr.text(&info.name).to_owned(),
        slot: format!("{} {}", day_label(&tr, start.date()), HhMm(start.time())),
        start: form.start.clone(),
        needs_expiry: info.needs_certificate_expiry,
        needs_notice: info.identity == IdentityKind::NoticeAndBirthDate,
        proxy_allowed: op.proxy,
        for_caller,
        idempotency_key: key,
        csrf: token.value.clone(),
        form,
        message,
        errors,
        tr: tr.clone(),
    };
    csrf::form_answer(render_with(&page, &tr, false, status), token)
}

fn office_procedure(raw: &(String, String)) -> Option<(OfficeId, ProcedureId)> {
    Some((OfficeId::parse(&raw.0).ok()?, raw.1.parse().ok()?))
}

pub async fn form(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<FormQuery>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let Some((office, procedure)) = office_procedure(&path) else {
        return not_found(tr);
    };
    let target = FormTarget {
        office: &office,
        procedure,
        for_caller: false,
    };
    blank_form(&state, &req, tr, target, query.start.clone())
}

/// The form for the slot starting at `start`, empty.
pub(crate) fn blank_form(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    target: FormTarget<'_>,
    start: Option<String>,
) -> HttpResponse {
    let form = BookingForm::starting(start.unwrap_or_default());
    form_page(
        state,
        req,
        tr,
        target,
        form,
        (None, Vec::new()),
        HttpResponse::Ok(),
    )
}

impl BookingForm {
    /// An empty form for the slot starting at `start` (`YYYY-MM-DDTHH:MM`, Tokyo).
    pub(crate) fn starting(start: String) -> Self {
        BookingForm {
            start,
            ..BookingForm::default()
        }
    }

    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }

    pub(crate) fn start(&self) -> Option<NaiveDateTime> {
        parse_local(&self.start)
    }

    pub(crate) fn consented(&self) -> bool {
        self.consent.is_some()
    }

    /// The e-mail language the phone desk chose for the caller.
    pub(crate) fn mail_lang(&self) -> Option<&'static str> {
        crate::pages::lang::PageLang::parse(&self.mail_lang).map(|l| l.code())
    }

    pub(crate) fn idempotency(&self) -> Option<IdempotencyKey> {
        crate::http::parse::parse_idempotency_key(&self.idempotency_key)
            .ok()
            .map(IdempotencyKey)
    }

    /// The form as the API's booking body, so that it goes through the same parsing.
    pub(crate) fn body(
        &self,
        office: &OfficeId,
        procedure: ProcedureId,
        start: NaiveDateTime,
    ) -> BookingBody {
        let optional = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        BookingBody {
            office_id: office.to_string(),
            procedure: procedure.as_str().to_owned(),
            start: format!("{}+09:00", start.format("%Y-%m-%dT%H:%M:00")),
            resident: ResidentBody {
                name: self.name.clone(),
                email: optional(&self.email),
                phone: optional(&self.phone),
                unknown: Default::default(),
            },
            proxy: self.proxy.is_some(),
            notice_number: optional(&self.notice_number),
            birth_date: optional(&self.birth_date),
            certificate_expiry: optional(&self.certificate_expiry),
            unknown: self
                .unknown
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        }
    }
}

/// The page's message for a field the API refused (the API's own text is English).
fn field_message(tr: &Tr, field: &str, api: &str) -> String {
    let label = tr.plain(&format!("form.{}", field.trim_start_matches("resident.")));
    match tr.lang {
        crate::pages::PageLang::En => format!("{label}: {api}"),
        _ => format!("{label}: {}", tr.plain("form.check")),
    }
}

pub(crate) fn refusal(tr: &Tr, e: &ApiError) -> (Option<String>, Vec<(String, String)>) {
    let fields: Vec<(String, String)> = e
        .extensions
        .get("errors")
        .and_then(|v| v.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|item| {
                    let field = item.get("field")?.as_str()?.to_owned();
                    let message = item.get("message")?.as_str().unwrap_or("").to_owned();
                    let shown = field_message(tr, &field, &message);
                    Some((field, shown))
                })
                .collect()
        })
        .unwrap_or_default();
    let message = if fields.is_empty() {
        Some(tr.text(&e.detail).to_owned())
    } else {
        Some(tr.plain("form.fix"))
    };
    (message, fields)
}

pub struct Confirmation {
    pub reference: String,
    pub secret: String,
    /// When to come: check-in opens before the slot, the priority ends after the grace.
    pub arrival: String,
    /// Opens the booking on the manage page (`manage_link`).
    pub manage_link: String,
    pub office_name: String,
    pub address: String,
    pub phone: Option<String>,
    pub map: String,
    pub procedure_name: String,
    pub when: String,
    /// The office's opening hours that day, e.g. "08:30–17:15".
    pub hours: String,
    pub bring: Vec<String>,
    pub renewal: bool,
    /// The last day of online changes and cancellation.
    pub change_until: String,
}

/// The last day a booking can be changed or cancelled online (then by phone or at the
/// counter).
pub fn change_until(tr: &Tr, office: &Office, slot_start: DateTime<Utc>) -> String {
    let days = chrono::Duration::days(i64::from(office.booking.cancel_days_before));
    day_label(tr, tokyo_naive(slot_start).date() - days)
}

#[derive(Template)]
#[template(path = "book_done.html")]
struct DonePage {
    tr: Tr,
    done: Confirmation,
    /// The management link as a QR code, and the booking as a calendar file (data URIs):
    /// only the page shows them.
    manage_qr: String,
    ics: String,
}

pub fn when_text(tr: &Tr, start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    let s = tokyo_naive(start);
    format!(
        "{} {}–{}",
        day_label(tr, s.date()),
        HhMm(s.time()),
        HhMm(tokyo_naive(end).time())
    )
}

/// The link that opens a booking on the manage page. The reference and the secret travel
/// in the fragment, which browsers never send (`static/manage.js` reads it), so no server
/// or proxy log holds the secret.
pub fn manage_link(origin: &str, tr: &Tr, reference: &str, secret: &str) -> String {
    format!(
        "{origin}/manage?lang={}#r={reference}&k={secret}",
        tr.code()
    )
}

/// What the confirmation tells (the page, and the e-mails).
pub fn confirmation(
    municipality: &Municipality,
    tr: &Tr,
    origin: &str,
    r: &Reservation,
    secret: String,
) -> Confirmation {
    let link = manage_link(origin, tr, &r.reference, &secret);
    let o = municipality.office(r.office_id.as_str());
    let address = o
        .map(|o| tr.text(&o.address).to_owned())
        .unwrap_or_default();
    let info = r.procedure.info();
    let bring = if r.proxy {
        info.bring_proxy
    } else {
        info.bring
    };
    Confirmation {
        reference: r.reference.clone(),
        secret,
        arrival: o.map_or_else(String::new, |o| {
            let grace = chrono::Duration::minutes(i64::from(o.queue.late_grace_minutes));
            let until = HhMm(tokyo_naive(r.slot_start + grace).time());
            tr.arrival(o.queue.early_check_in_minutes, until)
        }),
        manage_link: link,
        office_name: o.map(|o| tr.text(&o.name).to_owned()).unwrap_or_default(),
        map: format!(
            "https://www.openstreetmap.org/search?query={}",
            percent(&address)
        ),
        address,
        phone: o.and_then(|o| o.phone.clone()),
        procedure_name: tr.text(&info.name).to_owned(),
        when: when_text(tr, r.slot_start, r.slot_end),
        hours: o
            .map(
                |o| match municipality.day_plan(o, tokyo_naive(r.slot_start).date()) {
                    crate::domain::calendar::DayPlan::Open(plan) => plan
                        .windows
                        .iter()
                        .map(|w| format!("{}–{}", HhMm(w.start), HhMm(w.end)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    crate::domain::calendar::DayPlan::Closed(_) => String::new(),
                },
            )
            .unwrap_or_default(),
        bring: bring.iter().map(|t| tr.text(t).to_owned()).collect(),
        change_until: o
            .map(|o| change_until(tr, o, r.slot_start))
            .unwrap_or_default(),
        renewal: r.procedure == ProcedureId::CertRenewal,
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An iCalendar event (RFC 5545, written by the `icalendar` crate, which folds long
/// lines): the page's download (a data URI, so the secret never travels in a URL) and the
/// e-mails' attachment. Times in UTC; no personal data in it.
pub fn ics(
    summary: &str,
    location: &str,
    reference: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    use icalendar::{Calendar, Component, Event, EventLike};
    let event = Event::new()
        .uid(&format!("{reference}@madoguchi"))
        .timestamp(now)
        .starts(start)
        .ends(end)
        .summary(summary)
        .location(location)
        .done();
    let mut calendar = Calendar::new();
    calendar.push(event);
    calendar.to_string()
}

/// The booking as an iCalendar event (the page's download, the e-mail's attachment).
pub fn reservation_ics(
    municipality: &Municipality,
    tr: &Tr,
    r: &Reservation,
    now: DateTime<Utc>,
) -> String {
    let o = municipality.office(r.office_id.as_str());
    let summary = format!(
        "{} — {}",
        tr.text(&r.procedure.info().name),
        o.map(|o| tr.text(&o.name)).unwrap_or_default()
    );
    let location = o.map(|o| tr.text(&o.address)).unwrap_or_default();
    ics(
        &summary,
        location,
        &r.reference,
        r.slot_start,
        r.slot_end,
        now,
    )
}

/// Books from the form; the confirmation is the answer itself (no redirect: the secret
/// must not go into a URL). A resubmission carries the same idempotency key, so it shows
/// the same booking instead of booking twice.
pub async fn submit(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<BookingForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let form = form.into_inner();
    let Some((office, procedure)) = office_procedure(&path) else {
        return not_found(tr);
    };
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let Some(start) = form.start() else {
        return not_found(tr);
    };
    let body = form.body(&office, procedure, start);
    let lang = tr.lang.text_lang();
    let idempotency = form.idempotency();
    // A release behind a waiting room is booked through the room; the refusal says so.
    let token_for = |room: &str| crate::http::waiting_rooms::admission_token(&req, room);
    let booked =
        match crate::http::booking_input::book_request(&state.booking, body, idempotency, lang) {
            Ok(mut request) => {
                // The messages speak the page's language, やさしい日本語 included.
                request.resident.lang = tr.code();
                state
                    .rooms
                    .book_through(&state.booking, request, &token_for)
                    .await
                    .or_problem(lang)
            }
            Err(e) => Err(e),
        };
    match booked {
        Ok(b) => {
            let municipality = state.booking.municipality();
            let now = state.booking.clock().now();
            let done = confirmation(municipality, &tr, &origin(&req), &b.reservation, b.secret);
            let ics = reservation_ics(municipality, &tr, &b.reservation, now);
            let page = DonePage {
                manage_qr: crate::pages::queue::qr_data_uri(&done.manage_link),
                ics: format!(
                    "data:text/calendar;charset=utf-8;base64,{}",
                    data_encoding::BASE64.encode(ics.as_bytes())
                ),
                done,
                tr: tr.clone(),
            };
            let mut response = render_with(&page, &tr, false, HttpResponse::Created());
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                header::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(e)
            if e.problem == Problem::ServiceUnavailable
                || e.problem.describe().1.is_server_error() =>
        {
            tracing::warn!(error = %e, "a booking from the page failed");
            unavailable(tr)
        }
        Err(e) => {
            let status = e.problem.describe().1;
            let target = FormTarget {
                office: &office,
                procedure,
                for_caller: false,
            };
            form_page(
                &state,
                &req,
                tr.clone(),
                target,
                form,
                refusal(&tr, &e),
                HttpResponse::build(status),
            )
        }
    }
}

// ------------------------------------------------------------------ manage

#[derive(Default, Deserialize)]
pub struct ManageForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    secret: String,
    /// Without the secret: the contact or the birth date given at booking.
    #[serde(default)]
    contact: String,
    #[serde(default)]
    birth_date: String,
    /// view (default), cancel, reschedule
    #[serde(default)]
    action: String,
    #[serde(default)]
    start: String,
    /// Renewals booked before the expiry was kept with the booking give it again.
    #[serde(default)]
    certificate_expiry: String,
    /// The first day of the two weeks of free slots shown to move to.
    #[serde(default)]
    from: String,
}

pub struct ManagedBooking {
    pub reference: String,
    /// Empty on the phone desk, where the staff token stands for it.
    pub secret: String,
    /// Where the booking's forms post (the manage page, or the phone desk).
    pub post_to: String,
    /// The resident's name, for the phone desk to check with the caller (not on `/manage`).
    pub name: Option<String>,
    pub status: String,
    pub active: bool,
    pub office_name: String,
    pub procedure_name: String,
    pub when: String,
    /// Two weeks of other free slots of the same office and procedure, by day: (day,
    /// [(value, time)]).
    pub moves: Vec<(String, Vec<(String, String)>)>,
    /// The weeks before and after (`YYYY-MM-DD` of their first day), within the window.
    pub earlier: Option<String>,
    pub later: Option<String>,
    /// The two weeks shown, e.g. "1月4日(月)〜1月17日(日)".
    pub span: String,
    /// A move asks for the certificate expiry (renewals booked before it was kept).
    pub needs_expiry: bool,
    /// Cancel was pressed: the page asks to confirm it.
    pub asking_to_cancel: bool,
    /// The last day of online changes and cancellation (then by phone or at the counter).
    pub change_until: String,
}

#[derive(Template)]
#[template(path = "manage.html")]
struct ManagePage {
    tr: Tr,
    csrf: String,
    booking: Option<ManagedBooking>,
    reference: String,
    message: Option<String>,
    done: Option<String>,
}

/// What the manage page shows.
#[derive(Default)]
struct ManageView<'a> {
    /// The booking, with the secret that opened it.
    found: Option<(&'a Reservation, &'a str)>,
    /// The reference to show in the empty form.
    reference: String,
    message: Option<String>,
    done: Option<String>,
    /// The resident pressed cancel: ask before cancelling.
    asking_to_cancel: bool,
    /// The first day of the free slots shown.
    from: Option<NaiveDate>,
}

async fn manage_page(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    view: ManageView<'_>,
    status: HttpResponseBuilder,
) -> HttpResponse {
    let ManageView {
        found,
        reference,
        message,
        done,
        asking_to_cancel,
        from,
    } = view;
    let mut booking = None;
    if let Some((r, secret)) = found {
        let by = ManageAs {
            secret,
            post_to: format!("/manage?lang={}", tr.code()),
            for_caller: false,
        };
        booking = Some(managed_booking(state, &tr, r, by, from, asking_to_cancel).await);
    }
    let token = CsrfToken::of(req);
    let page = ManagePage {
        csrf: token.value.clone(),
        booking,
        reference,
        message,
        done,
        tr: tr.clone(),
    };
    csrf::form_answer(render_with(&page, &tr, false, status), token)
}

/// Who manages a booking: its resident (with the secret, on `/manage`) or the phone desk
/// for a caller, which may change it after the online deadline.
pub(crate) struct ManageAs<'a> {
    pub secret: &'a str,
    pub post_to: String,
    pub for_caller: bool,
}

/// A booking as the manage forms show it: its summary, two weeks of free slots of the
/// same office and procedure to move to (from `from`), and the cancel step.
pub(crate) async fn managed_booking(
    state: &State,
    tr: &Tr,
    r: &Reservation,
    by: ManageAs<'_>,
    from: Option<NaiveDate>,
    asking_to_cancel: bool,
) -> ManagedBooking {
    let active = r.status == ReservationStatus::Confirmed;
    let mut moves: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let (mut earlier, mut later, mut span) = (None, None, String::new());
    let to = from.map(|f| f + Duration::days(13));
    if active
        && let Ok(a) = state
            .booking
            .availability(&r.office_id, r.procedure, from, to)
            .await
    {
        let first = from.unwrap_or(a.window.first).max(a.window.first);
        let last = (first + Duration::days(13)).min(a.window.last);
        span = format!("{}〜{}", day_label(tr, first), day_label(tr, last));
        let back = (first - Duration::days(14)).max(a.window.first);
        earlier = (first > a.window.first).then(|| back.to_string());
        later = (last < a.window.last).then(|| (last + Duration::days(1)).to_string());
        for s in a
            .slots
            .iter()
            .filter(|s| s.remaining > 0 && s.start != r.slot_start)
        {
            let local = tokyo_naive(s.start);
            let day = day_label(tr, local.date());
            let slot = (
                local.format("%Y-%m-%dT%H:%M").to_string(),
                HhMm(local.time()).to_string(),
            );
            match moves.last_mut() {
                Some((d, slots)) if *d == day => slots.push(slot),
                _ => moves.push((day, vec![slot])),
            }
        }
    }
    let office = state.booking.municipality().office(r.office_id.as_str());
    ManagedBooking {
        reference: r.reference.clone(),
        secret: by.secret.to_owned(),
        name: r.resident_name.clone().filter(|_| by.for_caller),
        post_to: by.post_to,
        status: tr.plain(match r.status {
            ReservationStatus::Confirmed => "manage.confirmed",
            ReservationStatus::Cancelled => "manage.cancelled",
            _ => "manage.other",
        }),
        active,
        office_name: office
            .map(|o| tr.text(&o.name).to_owned())
            .unwrap_or_default(),
        procedure_name: tr.text(&r.procedure.info().name).to_owned(),
        when: when_text(tr, r.slot_start, r.slot_end),
        moves,
        earlier,
        later,
        span,
        needs_expiry: r.procedure.info().needs_certificate_expiry && r.certificate_expiry.is_none(),
        asking_to_cancel: asking_to_cancel && active,
        // The phone desk changes until the slot; the online deadline is the resident's.
        change_until: office
            .filter(|_| !by.for_caller)
            .map(|o| change_until(tr, o, r.slot_start))
            .unwrap_or_default(),
    }
}

pub async fn manage(state: State, req: HttpRequest) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    manage_page(&state, &req, tr, ManageView::default(), HttpResponse::Ok()).await
}

/// The second factor of the find form: the contact if one is typed, else the birth date;
/// `Err` is the message key.
fn second_factor(form: &ManageForm) -> Result<SecondFactor, &'static str> {
    let contact = form.contact.trim();
    let birth_date = form.birth_date.trim();
    if !contact.is_empty() {
        SecondFactor::contact(contact).map_err(|_| "manage.bad_contact")
    } else if !birth_date.is_empty() {
        NaiveDate::parse_from_str(birth_date, "%Y-%m-%d")
            .map(SecondFactor::BirthDate)
            .map_err(|_| "manage.need_factor")
    } else {
        Err("manage.need_factor")
    }
}

/// View, cancel or move a booking; reference and secret come in the form body each time.
pub async fn manage_submit(
    state: State,
    req: HttpRequest,
    form: web::Form<ManageForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let lang = tr.lang.text_lang();
    let reference = match ReferenceKey::parse(&form.reference) {
        Ok(reference) => reference,
        Err(e) => {
            let message = tr.text(&ApiError::bad_reference(e, lang).detail).to_owned();
            let view = ManageView {
                reference: form.reference.trim().to_owned(),
                message: Some(message),
                ..ManageView::default()
            };
            return manage_page(&state, &req, tr, view, HttpResponse::BadRequest()).await;
        }
    };
    let client = crate::http::rate_limit::client_of(&req);
    let owner = if form.secret.trim().is_empty() {
        match second_factor(&form) {
            Ok(factor) => match state
                .booking
                .open_with_factor(&reference, &factor, client)
                .await
            {
                Ok((_, owner)) => owner,
                Err(e) => {
                    let e = ApiError::from_booking(e, lang);
                    let status = e.problem.describe().1;
                    if status.is_server_error() {
                        return unavailable(tr);
                    }
                    let view = ManageView {
                        reference: reference.as_str().to_owned(),
                        message: Some(tr.text(&e.detail).to_owned()),
                        ..ManageView::default()
                    };
                    return manage_page(&state, &req, tr, view, HttpResponse::build(status)).await;
                }
            },
            Err(key) => {
                let view = ManageView {
                    reference: reference.as_str().to_owned(),
                    message: Some(tr.plain(key)),
                    ..ManageView::default()
                };
                return manage_page(&state, &req, tr, view, HttpResponse::BadRequest()).await;
            }
        }
    } else {
        Ownership {
            reference,
            secret: form.secret.trim().to_owned(),
            client,
        }
    };
    let result = match form.action.as_str() {
        // Cancel asks first (the page shows the booking and a confirming button).
        "cancel_confirmed" => state
            .booking
            .cancel(&owner)
            .await
            .map(|r| (r, Some("manage.done_cancel"))),
        "reschedule" => match parse_local(&form.start) {
            Some(start) => state
                .booking
                .reschedule(
                    &owner,
                    RescheduleRequest {
                        office: None,
                        start,
                        certificate_expiry: NaiveDate::parse_from_str(
                            form.certificate_expiry.trim(),
                            "%Y-%m-%d",
                        )
                        .ok(),
                    },
                )
                .await
                .map(|r| (r, Some("manage.done_move"))),
            None => state.booking.find(&owner).await.map(|r| (r, None)),
        },
        _ => state.booking.find(&owner).await.map(|r| (r, None)),
    };
    match result {
        Ok((r, done)) => {
            let view = ManageView {
                found: Some((&r, &owner.secret)),
                done: done.map(|k| tr.plain(k)),
                asking_to_cancel: form.action == "cancel",
                from: NaiveDate::parse_from_str(form.from.trim(), "%Y-%m-%d").ok(),
                ..ManageView::default()
            };
            manage_page(&state, &req, tr, view, HttpResponse::Ok()).await
        }
        Err(e) => {
            let e = ApiError::from_booking(e, lang);
            if e.problem.describe().1.is_server_error() {
                return unavailable(tr);
            }
            let status = e.problem.describe().1;
            // A wrong secret and an unknown reference read the same (as in the API).
            let found = if e.problem == Problem::ReservationNotFound {
                None
            } else {
                state.booking.find(&owner).await.ok()
            };
            let view = ManageView {
                found: found.as_ref().map(|r| (r, owner.secret.as_str())),
                reference: owner.reference.as_str().to_owned(),
                message: Some(tr.text(&e.detail).to_owned()),
                ..ManageView::default()
            };
            manage_page(&state, &req, tr, view, HttpResponse::build(status)).await
        }
    }
}
