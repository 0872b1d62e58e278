//! The outbox page for an office's administrators: the residents' messages of the
//! office's bookings, sent or waiting, as they read. Without SMTP configured (the
//! embedded default) this is where the messages are: nothing is sent. The management
//! link is masked: staff see the message, not the key to the booking.

use crate::domain::time::tokyo_naive;
use crate::pages::congestion::known_office;
use crate::pages::staff::{principal, sign_in_page};
use crate::pages::{State, Tr, not_found, page_lang, render_with, unavailable};
use crate::store::mail::OutboxEntry;
use crate::store::queue::StaffRole;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// Messages shown, newest first.
const SHOWN: i64 = 50;

pub struct MessageRow {
    pub created: String,
    pub kind: String,
    pub state: String,
    pub attempts: u32,
    pub error: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "staff_outbox.html")]
struct OutboxPage {
    tr: Tr,
    office_name: String,
    sends: bool,
    messages: Vec<MessageRow>,
}

fn state_of(tr: &Tr, e: &OutboxEntry) -> String {
    let key = if e.sent_at.is_some() {
        "outbox.sent"
    } else if e.dropped_at.is_some() {
        "outbox.dropped"
    } else if e.last_error.is_some() {
        "outbox.retrying"
    } else {
        "outbox.waiting"
    };
    tr.plain(key)
}

pub async fn page(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let Some(office) = known_office(&state, &path) else {
        return not_found(tr);
    };
    match principal(&state, &req).await {
        Some(p) if p.may_act_for(&office) && p.role == StaffRole::Admin => {}
        Some(_) => {
            let message = Some(tr.plain("outbox.admins_only"));
            return sign_in_page(&req, tr, message, HttpResponse::Forbidden());
        }
        None => return sign_in_page(&req, tr, None, HttpResponse::Ok()),
    }
    let Ok(entries) = state
        .mailer
        .outbox()
        .outbox_of(office.as_str(), SHOWN)
        .await
    else {
        return unavailable(tr);
    };
    let mut messages = Vec::with_capacity(entries.len());
    for e in &entries {
        let Ok(preview) = state.mailer.preview(e, true).await else {
            return unavailable(tr);
        };
        let (to, subject, text) = preview
            .map(|(to, m)| (to, m.subject, m.text))
            .unwrap_or_default();
        messages.push(MessageRow {
            created: tokyo_naive(e.created_at)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            kind: tr.plain(&format!("outbox.kind.{}", e.kind.as_str())),
            state: state_of(&tr, e),
            attempts: e.attempts,
            error: e.last_error.clone().unwrap_or_default(),
            to,
            subject,
            text,
        });
    }
    let office_name = state
        .booking
        .municipality()
        .office(office.as_str())
        .map(|o| tr.text(&o.name).to_owned())
        .unwrap_or_default();
    let page = OutboxPage {
        tr: tr.clone(),
        office_name,
        sends: state.mailer.sends(),
        messages,
    };
    render_with(&page, &tr, false, HttpResponse::Ok())
}
