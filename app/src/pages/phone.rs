//! The phone desk (電話予約の代行, `/staff/{office}/phone`): staff book for a resident who
//! calls, by the same rules and the same form as a resident's own booking, with the
//! caller's consent noted, and read the reference back; and find (by the reference, or
//! by name and birth date), move or cancel a caller's booking. Staff change a booking
//! after the online deadline (that is what the phone is for), never after its slot.
//! Every step is an audit event naming the staff token: `booked` (with the consent),
//! `viewed`, `rescheduled`, `cancelled`.

use crate::domain::OfficeId;
use crate::domain::identity::{ResidentIdentity, ResidentName};
use crate::domain::procedure::ProcedureId;
use crate::domain::reference::ReferenceKey;
use crate::domain::time::{HhMm, tokyo_date, tokyo_naive};
use crate::http::error::ApiError;
use crate::pages::booking::{
    BookingForm, Confirmation, FormTarget, ManageAs, ManagedBooking, blank_form, confirmation,
    form_page, managed_booking, parse_local, refusal, when_text,
};
use crate::pages::csrf::{self, CsrfToken};
use crate::pages::lang::PageLang;
use crate::pages::staff::staff_of;
use crate::pages::{State, Tr, not_found, origin, page_lang, render_with, unavailable};
use crate::service::booking::CallerConsent;
use crate::service::staff::StaffPrincipal;
use crate::store::Reservation;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

/// A free time of the chosen day: the form's link, the time, the seats left.
pub struct FreeTime {
    pub href: String,
    pub time: String,
    pub remaining: u16,
}

/// A booking found by name and birth date.
pub struct FoundBooking {
    pub reference: String,
    pub when: String,
    pub procedure: String,
}

#[derive(Template)]
#[template(path = "staff_phone.html")]
struct DeskPage {
    tr: Tr,
    office_id: String,
    office_name: String,
    csrf: String,
    message: Option<String>,
    done: Option<String>,
    /// The caller's booking, opened: its summary, moves and cancel step.
    booking: Option<ManagedBooking>,
    /// Found by name and birth date.
    found: Option<Vec<FoundBooking>>,
    /// The bookable procedures of the office: (id, name, chosen).
    procedures: Vec<(String, String, bool)>,
    date: String,
    /// The chosen day's free times, once a procedure and a day are chosen.
    times: Option<Vec<FreeTime>>,
    /// What the find forms keep on a refusal.
    reference: String,
}

#[derive(Template)]
#[template(path = "staff_phone_done.html")]
struct DonePage {
    tr: Tr,
    office_id: String,
    done: Confirmation,
    /// The reference a character at a time, with how to say it.
    spelled: Vec<(char, &'static str)>,
    emailed: bool,
}

/// How to say a reference's symbol over the phone: kana letter names in Japanese (ケー,
/// なな), the ICAO spelling alphabet in English. References have no I, L, O or U.
fn spoken(c: char, lang: PageLang) -> &'static str {
    const JA: [&str; 36] = [
        "ゼロ",
        "いち",
        "に",
        "さん",
        "よん",
        "ご",
        "ろく",
        "なな",
        "はち",
        "きゅう",
        "エー",
        "ビー",
        "シー",
        "ディー",
        "イー",
        "エフ",
        "ジー",
        "エイチ",
        "アイ",
        "ジェー",
        "ケー",
        "エル",
        "エム",
        "エヌ",
        "オー",
        "ピー",
        "キュー",
        "アール",
        "エス",
        "ティー",
        "ユー",
        "ブイ",
        "ダブリュー",
        "エックス",
        "ワイ",
        "ゼット",
    ];
    const EN: [&str; 36] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "Alfa",
        "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliett",
        "Kilo", "Lima", "Mike", "November", "Oscar", "Papa", "Quebec", "Romeo", "Sierra", "Tango",
        "Uniform", "Victor", "Whiskey", "X-ray", "Yankee", "Zulu",
    ];
    let index = c.to_digit(36).and_then(|d| usize::try_from(d).ok());
    let table = if lang == PageLang::En { &EN } else { &JA };
    index.and_then(|i| table.get(i)).copied().unwrap_or("")
}

#[derive(Default, Deserialize)]
pub struct DeskQuery {
    #[serde(default)]
    procedure: String,
    #[serde(default)]
    date: String,
}

#[derive(Default, Deserialize)]
pub struct DeskForm {
    #[serde(default)]
    csrf: String,
    /// view (open or page through moves), find_person, cancel, cancel_confirmed, reschedule
    #[serde(default)]
    action: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    certificate_expiry: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birth_date: String,
}

/// What the desk shows besides its forms.
#[derive(Default)]
struct DeskView {
    message: Option<String>,
    done: Option<String>,
    booking: Option<ManagedBooking>,
    found: Option<Vec<FoundBooking>>,
    reference: String,
}

async fn desk_page(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    office_id: &OfficeId,
    query: &DeskQuery,
    view: DeskView,
    status: HttpResponseBuilder,
) -> HttpResponse {
    let Some(office) = state.booking.municipality().office(office_id.as_str()) else {
        return not_found(tr);
    };
    let chosen = query.procedure.parse::<ProcedureId>().ok();
    let today = tokyo_date(state.booking.clock().now());
    let date = NaiveDate::parse_from_str(query.date.trim(), "%Y-%m-%d").ok();
    let mut times = None;
    if let (Some(procedure), Some(day)) = (chosen, date)
        && let Ok(a) = state
            .booking
            .availability(office_id, procedure, Some(day), Some(day))
            .await
    {
        times = Some(
            a.slots
                .iter()
                .filter(|s| s.remaining > 0)
                .map(|s| {
                    let local = tokyo_naive(s.start);
                    FreeTime {
                        href: format!(
                            "/staff/{office_id}/phone/{procedure}/form?start={}&lang={}",
                            local.format("%Y-%m-%dT%H:%M"),
                            tr.code()
                        ),
                        time: HhMm(local.time()).to_string(),
                        remaining: s.remaining,
                    }
                })
                .collect(),
        );
    }
    let procedures = office
        .procedures
        .iter()
        .filter(|(_, p)| p.bookable)
        .map(|(id, _)| {
            let name = tr.text(&id.info().name).to_owned();
            (id.as_str().to_owned(), name, Some(*id) == chosen)
        })
        .collect();
    let token = CsrfToken::of(req);
    let page = DeskPage {
        office_id: office_id.to_string(),
        office_name: tr.text(&office.name).to_owned(),
        csrf: token.value.clone(),
        message: view.message,
        done: view.done,
        booking: view.booking,
        found: view.found,
        procedures,
        date: date.unwrap_or(today).to_string(),
        times,
        reference: view.reference,
        tr: tr.clone(),
    };
    let mut response = csrf::form_answer(render_with(&page, &tr, false, status), token);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The desk: find a caller's booking, or choose a procedure and a day to book.
pub async fn desk(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DeskQuery>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let (office_id, _) =
        match staff_of(&state, &req, &tr, &path, HttpResponse::Unauthorized()).await {
            Ok(signed_in) => signed_in,
            Err(page) => return page,
        };
    desk_page(
        &state,
        &req,
        tr,
        &office_id,
        &query,
        DeskView::default(),
        HttpResponse::Ok(),
    )
    .await
}

/// Open, move or cancel a caller's booking, or find it by name and birth date.
pub async fn desk_submit(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<DeskForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let (office_id, staff) =
        match staff_of(&state, &req, &tr, &path, HttpResponse::Unauthorized()).await {
            Ok(signed_in) => signed_in,
            Err(page) => return page,
        };
    let desk = Desk {
        state: &state,
        tr: &tr,
        office_id: &office_id,
        staff: &staff,
    };
    let outcome = if form.action == "find_person" {
        desk.find_person(&form).await
    } else {
        desk.act(&form).await
    };
    match outcome {
        Some((view, status)) => {
            let query = DeskQuery::default();
            desk_page(&state, &req, tr, &office_id, &query, view, status).await
        }
        None => unavailable(tr),
    }
}

/// One step of the desk for a signed-in staff member: what to show, or `None` when a
/// backend is unavailable.
struct Desk<'a> {
    state: &'a State,
    tr: &'a Tr,
    office_id: &'a OfficeId,
    staff: &'a StaffPrincipal,
}

impl Desk<'_> {
    async fn find_person(&self, form: &DeskForm) -> Option<(DeskView, HttpResponseBuilder)> {
        let tr = self.tr;
        let born = NaiveDate::parse_from_str(form.birth_date.trim(), "%Y-%m-%d").ok();
        let Some((name, birth_date)) = ResidentName::parse(&form.name).ok().zip(born) else {
            let view = DeskView {
                message: Some(tr.plain("phone.bad_person")),
                ..DeskView::default()
            };
            return Some((view, HttpResponse::UnprocessableEntity()));
        };
        let identity = ResidentIdentity::person(&name, birth_date);
        let found = self
            .state
            .booking
            .find_for_caller(self.staff, &identity)
            .await
            .ok()?;
        let found = found
            .iter()
            .map(|r| FoundBooking {
                reference: r.reference.clone(),
                when: when_text(tr, r.slot_start, r.slot_end),
                procedure: tr.text(&r.procedure.info().name).to_owned(),
            })
            .collect();
        let view = DeskView {
            found: Some(found),
            ..DeskView::default()
        };
        Some((view, HttpResponse::Ok()))
    }

    /// Open (`view`, also paging through the moves), ask to cancel, cancel or move.
    async fn act(&self, form: &DeskForm) -> Option<(DeskView, HttpResponseBuilder)> {
        let (tr, staff) = (self.tr, self.staff);
        let lang = tr.lang.text_lang();
        let reference = match ReferenceKey::parse(&form.reference) {
            Ok(reference) => reference,
            Err(e) => {
                let view = DeskView {
                    message: Some(tr.text(&ApiError::bad_reference(e, lang).detail).to_owned()),
                    reference: form.reference.trim().to_owned(),
                    ..DeskView::default()
                };
                return Some((view, HttpResponse::BadRequest()));
            }
        };
        let booking = &self.state.booking;
        let result = match form.action.as_str() {
            "cancel_confirmed" => booking
                .cancel_for_caller(staff, &reference)
                .await
                .map(|r| (r, Some("manage.done_cancel"))),
            "reschedule" => match parse_local(&form.start) {
                Some(start) => {
                    let expiry =
                        NaiveDate::parse_from_str(form.certificate_expiry.trim(), "%Y-%m-%d").ok();
                    booking
                        .reschedule_for_caller(staff, &reference, start, expiry)
                        .await
                        .map(|r| (r, Some("manage.done_move")))
                }
                None => booking
                    .open_for_caller(staff, &reference)
                    .await
                    .map(|r| (r, None)),
            },
            _ => booking
                .open_for_caller(staff, &reference)
                .await
                .map(|r| (r, None)),
        };
        match result {
            Ok((r, done)) => {
                let from = NaiveDate::parse_from_str(form.from.trim(), "%Y-%m-%d").ok();
                let asking = form.action == "cancel";
                let view = DeskView {
                    booking: Some(self.opened(&r, (from, asking)).await),
                    done: done.map(|k| tr.plain(k)),
                    ..DeskView::default()
                };
                Some((view, HttpResponse::Ok()))
            }
            Err(e) => {
                let refused = ApiError::from_booking(e, lang);
                let status = refused.problem.describe().1;
                if status.is_server_error() {
                    return None;
                }
                // A refused move or cancellation shows the booking again, as it is now.
                let again = match form.action.as_str() {
                    "reschedule" | "cancel_confirmed" => {
                        booking.open_for_caller(staff, &reference).await.ok()
                    }
                    _ => None,
                };
                let shown = match &again {
                    Some(r) => Some(self.opened(r, (None, false)).await),
                    None => None,
                };
                let view = DeskView {
                    message: Some(tr.text(&refused.detail).to_owned()),
                    booking: shown,
                    reference: reference.as_str().to_owned(),
                    ..DeskView::default()
                };
                Some((view, HttpResponse::build(status)))
            }
        }
    }

    /// The caller's booking as the desk shows it: moves from `from`, or the cancel step.
    async fn opened(
        &self,
        r: &Reservation,
        (from, asking_to_cancel): (Option<NaiveDate>, bool),
    ) -> ManagedBooking {
        let by = ManageAs {
            secret: "",
            post_to: format!("/staff/{}/phone?lang={}", self.office_id, self.tr.code()),
            for_caller: true,
        };
        managed_booking(self.state, self.tr, r, by, from, asking_to_cancel).await
    }
}

fn procedure_of(raw: &str) -> Option<ProcedureId> {
    raw.parse().ok()
}

#[derive(Deserialize)]
pub struct CallerFormQuery {
    start: Option<String>,
}

/// The booking form for a caller: the resident's form, with the consent box and the
/// language of the caller's e-mails.
pub async fn caller_form(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<CallerFormQuery>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let (office, procedure) = path.into_inner();
    let (office_id, _) =
        match staff_of(&state, &req, &tr, &office, HttpResponse::Unauthorized()).await {
            Ok(signed_in) => signed_in,
            Err(page) => return page,
        };
    let Some(procedure) = procedure_of(&procedure) else {
        return not_found(tr);
    };
    let target = FormTarget {
        office: &office_id,
        procedure,
        for_caller: true,
    };
    blank_form(&state, &req, tr, target, query.start.clone())
}

/// Books for the caller, by the same parsing and rules as the resident's form; the
/// consent box must be ticked.
pub async fn caller_book(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<BookingForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let form = form.into_inner();
    let (office, procedure) = path.into_inner();
    if !csrf::verify(&req, form.csrf()) {
        return crate::pages::queue::forbidden(tr);
    }
    let (office_id, staff) =
        match staff_of(&state, &req, &tr, &office, HttpResponse::Unauthorized()).await {
            Ok(signed_in) => signed_in,
            Err(page) => return page,
        };
    let (Some(procedure), Some(start)) = (procedure_of(&procedure), form.start()) else {
        return not_found(tr);
    };
    let target = FormTarget {
        office: &office_id,
        procedure,
        for_caller: true,
    };
    let lang = tr.lang.text_lang();
    let body = form.body(&office_id, procedure, start);
    let parsed =
        crate::http::booking_input::book_request(&state.booking, body, form.idempotency(), lang);
    let consent = CallerConsent::given(form.consented());
    let no_consent = (String::from("consent"), tr.plain("phone.consent_needed"));
    match (parsed, consent) {
        (Ok(mut request), Some(consent)) => {
            request.resident.lang = form.mail_lang().unwrap_or("ja");
            match state
                .booking
                .book_for_caller(&staff, request, consent)
                .await
            {
                Ok(b) => {
                    let emailed = b.reservation.contact_email.is_some();
                    let done = confirmation(
                        state.booking.municipality(),
                        &tr,
                        &origin(&req),
                        &b.reservation,
                        b.secret,
                    );
                    let page = DonePage {
                        office_id: office_id.to_string(),
                        spelled: done
                            .reference
                            .chars()
                            .filter(char::is_ascii_alphanumeric)
                            .map(|c| (c, spoken(c, tr.lang)))
                            .collect(),
                        done,
                        emailed,
                        tr: tr.clone(),
                    };
                    let mut response = render_with(&page, &tr, false, HttpResponse::Created());
                    response.headers_mut().insert(
                        header::CACHE_CONTROL,
                        header::HeaderValue::from_static("no-store"),
                    );
                    response
                }
                Err(e) => {
                    let e = ApiError::from_booking(e, lang);
                    let status = e.problem.describe().1;
                    if status.is_server_error() {
                        return unavailable(tr);
                    }
                    let refused = refusal(&tr, &e);
                    form_page(
                        &state,
                        &req,
                        tr,
                        target,
                        form,
                        refused,
                        HttpResponse::build(status),
                    )
                }
            }
        }
        (Ok(_), None) => {
            let message = Some(tr.plain("form.fix"));
            let refused = (message, vec![no_consent]);
            form_page(
                &state,
                &req,
                tr,
                target,
                form,
                refused,
                HttpResponse::UnprocessableEntity(),
            )
        }
        (Err(e), consent) => {
            let status = e.problem.describe().1;
            let (message, mut errors) = refusal(&tr, &e);
            if consent.is_none() {
                errors.push(no_consent);
            }
            form_page(
                &state,
                &req,
                tr,
                target,
                form,
                (message, errors),
                HttpResponse::build(status),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_symbol_of_a_reference_has_a_reading_in_both_alphabets() {
        for c in crate::domain::reference::SYMBOLS.chars() {
            assert!(!spoken(c, PageLang::Ja).is_empty(), "{c}");
            assert!(!spoken(c, PageLang::En).is_empty(), "{c}");
        }
        assert_eq!(spoken('K', PageLang::Ja), "ケー");
        assert_eq!(spoken('7', PageLang::Ja), "なな");
        assert_eq!(spoken('X', PageLang::En), "X-ray");
        assert_eq!(spoken('-', PageLang::Ja), "");
    }
}
