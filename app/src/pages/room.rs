//! The waiting-room page (`/wait/{room}`): join with one button, then watch the place,
//! the people ahead and the estimate move without reloading; when admitted the page
//! goes on to slot selection by itself; when the seats are gone it says so at once.

use crate::domain::time::{HhMm, tokyo_naive};
use crate::http::waiting_rooms::place_token;
use crate::pages::booking::day_label;
use crate::pages::csrf::{self, CsrfToken};
use crate::pages::{State, Tr, not_found, page_lang, render_with, unavailable};
use crate::service::rooms::{RoomError, RoomStatus};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "wait.html")]
struct WaitPage {
    tr: Tr,
    room_id: String,
    name: String,
    release: String,
    opens: String,
    phase: &'static str,
    /// Zero bits of proof of work joining needs (0: none).
    proof_bits: u8,
    status: Option<RoomStatus>,
    /// Where an admitted visitor goes: the release's first office and procedure.
    next: String,
    next_release: Option<String>,
    csrf: String,
    message: Option<String>,
}

pub async fn page(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    show(&state, &req, tr, remember, &path, None).await
}

async fn show(
    state: &State,
    req: &HttpRequest,
    tr: Tr,
    remember: bool,
    room_id: &str,
    message: Option<String>,
) -> HttpResponse {
    let Ok(room) = state.rooms.room(room_id) else {
        return not_found(tr);
    };
    let now = state.rooms.now();
    let (phase, opened) = match state.rooms.phase_of(&room, now).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "waiting-room phase unavailable for a page");
            return unavailable(tr);
        }
    };
    let token = place_token(req, room_id);
    let status = match &token {
        Some(t) => match state.rooms.status(room_id, t).await {
            Ok(s) => Some(s),
            Err(RoomError::Token(_)) | Err(RoomError::Ended) => None,
            Err(e) => {
                tracing::warn!(error = %e, "waiting-room status unavailable for a page");
                return unavailable(tr);
            }
        },
        None => None,
    };
    let next = match (room.offices.first(), room.procedures.first()) {
        (Some(o), Some(p)) => format!("/book/{o}/{p}?from={}&lang={}", room.first_date, tr.code()),
        _ => format!("/?lang={}", tr.code()),
    };
    let admission = status
        .as_ref()
        .and_then(|s| crate::http::waiting_rooms::admission_cookie(state, room_id, s));
    let csrf = CsrfToken::of(req);
    let page = WaitPage {
        room_id: room.id.clone(),
        name: tr.text(&room.name).to_owned(),
        release: format!(
            "{} – {}",
            day_label(&tr, room.first_date),
            day_label(&tr, room.last_date)
        ),
        opens: {
            let t = tokyo_naive(opened);
            format!("{} {}", day_label(&tr, t.date()), HhMm(t.time()))
        },
        phase: phase.as_str(),
        proof_bits: room.proof_bits,
        status,
        next,
        next_release: room.next_release.as_ref().map(|t| tr.text(t).to_owned()),
        csrf: csrf.value.clone(),
        message,
        tr: tr.clone(),
    };
    let mut response = render_with(&page, &tr, remember, HttpResponse::Ok());
    for cookie in csrf.new_cookie.into_iter().chain(admission) {
        let _ = response.add_cookie(&cookie);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[derive(Deserialize)]
pub struct JoinForm {
    csrf: String,
    /// `<challenge>:<nonce>`, filled in by wait.js when the room asks for a proof.
    #[serde(default)]
    proof: String,
}

/// The join button: a place (kept in the room's cookie), then back to the page.
pub async fn join(
    state: State,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<JoinForm>,
) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    if !csrf::verify(&req, &form.csrf) {
        return crate::pages::queue::forbidden(tr);
    }
    let room_id = path.into_inner();
    let existing = place_token(&req, &room_id);
    let proof = Some(form.proof.as_str()).filter(|p| !p.is_empty());
    match state.rooms.join(&room_id, existing.as_deref(), proof).await {
        Ok((_, token, _)) => {
            let mut response = HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/wait/{room_id}?lang={}", tr.code()),
                ))
                .finish();
            let _ = response.add_cookie(
                &Cookie::build(format!("wr_{room_id}"), token)
                    .path("/")
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .finish(),
            );
            response
        }
        Err(RoomError::NotFound) => not_found(tr),
        Err(
            e @ (RoomError::NotYetOpen(_)
            | RoomError::Ended
            | RoomError::ProofRequired
            | RoomError::ProofInvalid),
        ) => {
            let message = crate::http::error::ApiError::from_room(e, tr.lang.text_lang());
            let message = tr.text(&message.detail).to_owned();
            show(&state, &req, tr, false, &room_id, Some(message)).await
        }
        Err(e) => {
            tracing::warn!(error = %e, "joining a waiting room failed");
            unavailable(tr)
        }
    }
}
