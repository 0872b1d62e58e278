//! The waiting rooms' API: list, join, status. The place token travels in the
//! `Waiting-Room-Token` header or the room's cookie; the admission token, once given, in
//! the `Waiting-Room-Admission` header of the booking request. See docs/WAITING_ROOM.md.

use crate::config::municipality::RoomDefinition;
use crate::domain::text::{Lang, Text};
use crate::domain::time::to_tokyo_rfc3339;
use crate::domain::waiting_room::{RoomPhase, WaitingRoom};
use crate::http::error::{ApiError, OrProblem};
use crate::http::staff::Staff;
use crate::http::{AppState, ClientLang};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

pub const PLACE_HEADER: &str = "waiting-room-token";
pub const ADMISSION_HEADER: &str = "waiting-room-admission";
pub const PROOF_HEADER: &str = "waiting-room-proof";

fn cookie_name(room: &str) -> String {
    format!("wr_{room}")
}

/// The place token of a request: the header, else the room's cookie.
pub fn place_token(req: &HttpRequest, room: &str) -> Option<String> {
    req.headers()
        .get(PLACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .or_else(|| req.cookie(&cookie_name(room)).map(|c| c.value().to_owned()))
}

#[derive(Serialize, ToSchema)]
pub struct RoomView {
    pub id: String,
    pub name: Text,
    /// scheduled, prequeue, open or ended.
    pub phase: &'static str,
    pub joinable_from: String,
    pub opens_at: String,
    pub closes_at: String,
    pub offices: Vec<String>,
    pub procedures: Vec<String>,
    pub first_date: String,
    pub last_date: String,
    pub next_release: Option<Text>,
    /// Set for a room that switches on by itself past this many booking attempts a
    /// minute (its phase stays "scheduled" until then).
    pub trigger_per_minute: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct RoomListView {
    pub rooms: Vec<RoomView>,
}

/// A room as the API shows it, in its phase now.
async fn room_view(state: &AppState, r: &WaitingRoom, lang: Lang) -> Result<RoomView, ApiError> {
    let (phase, opened) = state
        .rooms
        .phase_of(r, state.rooms.now())
        .await
        .or_problem(lang)?;
    Ok(RoomView {
        id: r.id.clone(),
        name: r.name.clone(),
        phase: phase.as_str(),
        joinable_from: to_tokyo_rfc3339(opened - r.prequeue),
        opens_at: to_tokyo_rfc3339(opened),
        closes_at: to_tokyo_rfc3339(r.closes_at),
        offices: r.offices.iter().map(|o| o.to_string()).collect(),
        procedures: r.procedures.iter().map(|p| p.as_str().to_owned()).collect(),
        first_date: r.first_date.to_string(),
        last_date: r.last_date.to_string(),
        next_release: r.next_release.clone(),
        trigger_per_minute: r.trigger_per_minute,
    })
}

/// Active and scheduled waiting rooms (ended ones are left out).
#[utoipa::path(get, path = "/api/v1/waiting-rooms", tag = "waiting rooms",
    responses((status = 200, body = RoomListView)))]
pub async fn list(state: web::Data<AppState>, lang: ClientLang) -> Result<HttpResponse, ApiError> {
    let mut rooms = Vec::new();
    for r in state.rooms.rooms().iter() {
        let view = room_view(&state, r, lang.0).await?;
        if view.phase != RoomPhase::Ended.as_str() {
            rooms.push(view);
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=5"))
        .json(RoomListView { rooms }))
}

/// One waiting room, ended ones included.
#[utoipa::path(get, path = "/api/v1/waiting-rooms/{room_id}", tag = "waiting rooms",
    params(("room_id" = String, Path)),
    responses((status = 200, body = RoomView),
              (status = 404, description = "No such room")))]
pub async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let room = state.rooms.room(&path).or_problem(lang.0)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=5"))
        .json(room_view(&state, &room, lang.0).await?))
}

/// Defines a waiting room, or changes one defined here before (administrators; a room
/// may cover only the token's office, which it covers when `offices` is omitted). The
/// body has the fields of a `[[waiting_rooms]]` entry of the municipality file, checked
/// by the same rules. Once the room's line has begun, its release (offices, procedures,
/// dates, opening, pre-queue, trigger) is fixed; its pace, `closes_at` (end it early),
/// texts and proof of work may still change. Every instance picks the change up within
/// one maintenance interval (5 s by default); this one at once.
#[utoipa::path(put, path = "/api/v1/waiting-rooms/{room_id}", tag = "waiting rooms",
    params(("room_id" = String, Path)),
    request_body = RoomDefinition,
    security(("staff_token" = [])),
    responses(
        (status = 201, description = "Created", body = RoomView),
        (status = 200, description = "Replaced", body = RoomView),
        (status = 400, description = "Invalid definition (every field listed)"),
        (status = 403, description = "Not an administrator of every office the room covers"),
        (status = 409, description = "Defined in the municipality file, its line has begun (fields listed), or the id belonged to a deleted room")))]
pub async fn put(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    body: web::Json<RoomDefinition>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let (room, created) = state
        .rooms
        .define(&staff.0, &path, body.into_inner())
        .await
        .or_problem(lang.0)?;
    let view = room_view(&state, &room, lang.0).await?;
    let mut response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::LOCATION,
            format!("/api/v1/waiting-rooms/{}", room.id),
        ))
        .json(view))
}

/// Deletes a room defined through this API (administrators of its office). A room whose
/// line is running is not deleted: end it first by setting `closes_at`. Its id is never
/// given to another room.
#[utoipa::path(delete, path = "/api/v1/waiting-rooms/{room_id}", tag = "waiting rooms",
    params(("room_id" = String, Path)),
    security(("staff_token" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not an administrator of the room's office"),
        (status = 404, description = "No such room"),
        (status = 409, description = "Defined in the municipality file, or its line is running")))]
pub async fn delete(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    state
        .rooms
        .remove(&staff.0, &path)
        .await
        .or_problem(lang.0)?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct JoinView {
    /// Your place: after the opening, your position in line; before it, your join number
    /// (the opening draw gives the pre-queue its positions).
    pub position: u64,
    /// Your place token: send it in `Waiting-Room-Token` (it is also set as a cookie).
    pub token: String,
}

/// Joins the line. A client that already holds a valid place token of this room gets the
/// same place back (200) instead of a second one.
#[utoipa::path(post, path = "/api/v1/waiting-rooms/{room_id}/join", tag = "waiting rooms",
    params(("room_id" = String, Path)),
    responses(
        (status = 201, description = "Joined", body = JoinView),
        (status = 200, description = "Already in line: the same place", body = JoinView),
        (status = 404, description = "No such room"),
        (status = 409, description = "Not joinable yet, or ended")))]
pub async fn join(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let existing = place_token(&req, &room);
    let proof = req
        .headers()
        .get(PROOF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let (place, token, new) = state
        .rooms
        .join(&room, existing.as_deref(), proof)
        .await
        .or_problem(lang.0)?;
    let cookie = Cookie::build(cookie_name(&room), token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    let mut response = if new {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .cookie(cookie)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(JoinView {
            position: place,
            token,
        }))
}

#[derive(Serialize, ToSchema)]
pub struct ChallengeView {
    /// Find a nonce such that SHA-256(`<challenge>:<nonce>`) starts with `bits` zero
    /// bits, then join with `Waiting-Room-Proof: <challenge>:<nonce>`. Valid 5 minutes,
    /// one join. Null when the room asks for no proof.
    pub challenge: Option<String>,
    pub bits: u8,
}

/// A proof-of-work challenge for joining (Hashcash with SHA-256), when the room asks
/// for one: it makes joining many times from one machine costly, not one visit.
#[utoipa::path(get, path = "/api/v1/waiting-rooms/{room_id}/challenge", tag = "waiting rooms",
    params(("room_id" = String, Path)),
    responses((status = 200, body = ChallengeView),
              (status = 404, description = "No such room")))]
pub async fn challenge(
    state: web::Data<AppState>,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let c = state.rooms.challenge(&path).or_problem(lang.0)?;
    let (challenge, bits) = match c {
        Some((c, bits)) => (Some(c), bits),
        None => (None, 0),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ChallengeView { challenge, bits }))
}

#[derive(Serialize, ToSchema)]
pub struct StatusView {
    /// waiting, admitted, closed (every seat taken) or expired (you stopped polling).
    pub state: &'static str,
    /// Your position once the line is drawn (null in the pre-queue).
    pub position: Option<u64>,
    pub ahead: Option<u64>,
    pub eta_seconds: Option<u64>,
    /// Once admitted: send it in `Waiting-Room-Admission` with your booking (one booking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission_token: Option<String>,
    pub opens_at: String,
    pub remaining_seats: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_release: Option<Text>,
}

/// Your place, the people ahead and the estimate; the admission token when your turn
/// comes; "closed" as soon as every seat of the release is taken. Poll every few
/// seconds: a place that stops polling for a minute is given up.
#[utoipa::path(get, path = "/api/v1/waiting-rooms/{room_id}/status", tag = "waiting rooms",
    params(("room_id" = String, Path), ("Waiting-Room-Token" = Option<String>, Header)),
    responses(
        (status = 200, body = StatusView),
        (status = 401, description = "No valid place token"),
        (status = 404, description = "No such room")))]
pub async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let lang = lang.0;
    let token = place_token(&req, &room).unwrap_or_default();
    let s = state.rooms.status(&room, &token).await.or_problem(lang)?;
    let next_release = if s.state == "closed" {
        state
            .rooms
            .room(&room)
            .ok()
            .and_then(|r| r.next_release.clone())
    } else {
        None
    };
    Ok(HttpResponse::Ok()
        // Per visitor, and thousands poll: a browser may reuse an answer for 2 s.
        .insert_header((header::CACHE_CONTROL, "private, max-age=2"))
        .json(StatusView {
            state: s.state,
            position: s.position,
            ahead: s.ahead,
            eta_seconds: s.eta_seconds,
            admission_token: s.admission_token,
            opens_at: to_tokyo_rfc3339(s.opens_at),
            remaining_seats: s.remaining_seats,
            next_release,
        }))
}

/// The admission token of a booking request: the header, else the room's admission
/// cookie (set by the status answer that admits a browser).
pub fn admission_token(req: &HttpRequest, room: &str) -> Option<String> {
    req.headers()
        .get(ADMISSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
        .or_else(|| {
            req.cookie(&admission_cookie_name(room))
                .map(|c| c.value().to_owned())
        })
}

/// A browser carries its admission to the booking form in a cookie (for as long as the
/// admission is valid).
pub fn admission_cookie(
    state: &AppState,
    room: &str,
    status: &crate::service::rooms::RoomStatus,
) -> Option<Cookie<'static>> {
    let admission = status.admission_token.as_ref()?;
    let ttl = state
        .rooms
        .room(room)
        .map(|r| r.policy.admission_ttl.num_seconds())
        .unwrap_or(600);
    Some(
        Cookie::build(admission_cookie_name(room), admission.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(ttl))
            .finish(),
    )
}

fn admission_cookie_name(room: &str) -> String {
    format!("wra_{room}")
}
