//! Congestion: live figures, a server-sent-event stream for displays, typical congestion
//! by weekday and hour, and the history as open data (CSV and JSON).

use crate::domain::OfficeId;
use crate::domain::time::{to_tokyo_rfc3339, tokyo_date};
use crate::http::error::{ApiError, FieldErrors, OrProblem};
use crate::http::parse::parse_date;
use crate::http::queue_dto::{
    CongestionListView, CongestionView, HistoryQuery, HistoryRow, HistoryView, TypicalView,
};
use crate::http::{AppState, ClientLang};
use crate::service::BookingError;
use crate::service::queue::TYPICAL_WEEKS;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use chrono::{Duration, NaiveDate};
use tokio::sync::watch;

/// Displays hear a comment this often, so proxies keep the connection open.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);
/// The longest history one request may ask for.
pub const MAX_HISTORY_DAYS: i64 = 92;

fn office(
    state: &AppState,
    raw: &str,
    lang: crate::domain::text::Lang,
) -> Result<OfficeId, ApiError> {
    OfficeId::parse(raw)
        .ok()
        .filter(|o| state.booking.municipality().office(o.as_str()).is_some())
        .ok_or_else(|| ApiError::from_booking(BookingError::OfficeNotFound, lang))
}

/// The office's congestion now: per line people waiting, numbers called, counters open,
/// observed service times, the wait for someone arriving now (P50/P90), the level
/// (text and icon), and whether walk-in intake is open.
#[utoipa::path(get, path = "/api/v1/offices/{office_id}/congestion", tag = "congestion",
    params(("office_id" = String, Path)),
    responses((status = 200, body = CongestionView),
              (status = 404, description = "No such office")))]
pub async fn office_congestion(
    state: web::Data<AppState>,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = office(&state, &path, lang)?;
    let c = state.queue.congestion(&office).await.or_problem(lang)?;
    let json = state.live.page_json(&c).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise congestion");
        ApiError::internal(lang)
    })?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .content_type("application/json")
        .body(json))
}

/// Every office's congestion now.
#[utoipa::path(get, path = "/api/v1/congestion", tag = "congestion",
    responses((status = 200, body = CongestionListView)))]
pub async fn all_congestion(
    state: web::Data<AppState>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let mut offices = Vec::new();
    for o in &state.booking.municipality().offices {
        let c = state.queue.congestion(&o.id).await.or_problem(lang)?;
        offices.push(CongestionView::of(&c));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(CongestionListView { offices }))
}

/// Streams hand an event to actix in pieces of at most this size: the HTTP/1 writer
/// buffers pieces up to `STREAM_WRITE_BUFFER` before writing, so a connection's buffer
/// never grows to hold a whole event (12 KiB for an office of a hundred counters), which
/// it would then keep for as long as the display stays connected.
const PIECE: usize = 2048;

/// The HTTP/1 write buffer size of the server (see `PIECE`): a piece is appended while
/// the buffer holds less than this, so it stays within its initial 8 KiB.
pub const STREAM_WRITE_BUFFER: usize = 4096;

/// Server-sent events: the office's congestion (the same JSON as the congestion
/// endpoint) at once and on every change, from any instance; a keep-alive comment every
/// 15 s. The stream ends when the server shuts down.
#[utoipa::path(get, path = "/api/v1/offices/{office_id}/congestion/stream", tag = "congestion",
    params(("office_id" = String, Path)),
    responses((status = 200, description = "`text/event-stream` of `congestion` events", content_type = "text/event-stream"),
              (status = 404, description = "No such office")))]
pub async fn stream(
    state: web::Data<AppState>,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = office(&state, &path, lang)?;
    let Some(figures) = state.live.watch(&office) else {
        return Err(ApiError::from_booking(BookingError::OfficeNotFound, lang));
    };
    if figures.borrow().is_none() {
        state.live.refresh(&state.queue, &office).await;
    }
    metrics::gauge!("madoguchi_sse_clients").increment(1.0);
    let guard = ClientGuard;
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.reset(); // the first tick would fire at once
    let initial = State {
        figures,
        shutdown: state.shutdown.clone(),
        keep_alive,
        first: true,
        rest: Bytes::new(),
        _guard: guard,
    };
    let body = futures_util::stream::unfold(initial, |mut s| async move {
        if !s.rest.is_empty() {
            let piece = s.rest.split_to(s.rest.len().min(PIECE));
            return Some((Ok::<_, actix_web::Error>(piece), s));
        }
        if *s.shutdown.borrow() {
            return None;
        }
        let next = if s.first {
            s.first = false;
            Some(s.figures.borrow_and_update().clone())
        } else {
            tokio::select! {
                changed = s.figures.changed() => {
                    changed.ok()?;
                    Some(s.figures.borrow_and_update().clone())
                }
                _ = s.keep_alive.tick() => None,
                _ = s.shutdown.changed() => return None,
            }
        };
        let bytes = match next {
            Some(Some(event)) => event,
            Some(None) => Bytes::from_static(b": waiting\n\n"),
            None => Bytes::from_static(b": keep-alive\n\n"),
        };
        s.rest = bytes;
        let piece = s.rest.split_to(s.rest.len().min(PIECE));
        Some((Ok(piece), s))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

struct State {
    figures: watch::Receiver<Option<Bytes>>,
    shutdown: watch::Receiver<bool>,
    keep_alive: tokio::time::Interval,
    first: bool,
    /// What is left of the event being sent (a shared slice, not a copy).
    rest: Bytes,
    _guard: ClientGuard,
}

/// Counts open streams for the metrics.
struct ClientGuard;

impl Drop for ClientGuard {
    fn drop(&mut self) {
        metrics::gauge!("madoguchi_sse_clients").decrement(1.0);
    }
}

/// Typical congestion by weekday and hour over the last eight weeks, from the snapshots
/// taken every few minutes: when residents can expect it to be quiet.
#[utoipa::path(get, path = "/api/v1/offices/{office_id}/congestion/typical", tag = "congestion",
    params(("office_id" = String, Path)),
    responses((status = 200, body = TypicalView),
              (status = 404, description = "No such office")))]
pub async fn typical(
    state: web::Data<AppState>,
    path: web::Path<String>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let lang = lang.0;
    let office = office(&state, &path, lang)?;
    let cells = state
        .queue
        .typical(&office, TYPICAL_WEEKS)
        .await
        .or_problem(lang)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(TypicalView::of(office.as_str(), TYPICAL_WEEKS, &cells)))
}

async fn history_rows(
    state: &AppState,
    query: &HistoryQuery,
    lang: crate::domain::text::Lang,
) -> Result<Vec<HistoryRow>, ApiError> {
    let mut errors = FieldErrors::default();
    let from = errors.optional("from", query.from.as_deref(), parse_date);
    let to = errors.optional("to", query.to.as_deref(), parse_date);
    errors.into_result(lang)?;
    let office = match &query.office_id {
        Some(raw) => Some(office(state, raw, lang)?),
        None => None,
    };
    let to: NaiveDate = to.unwrap_or_else(|| tokyo_date(state.queue.clock().now()));
    let from = from.unwrap_or(to - Duration::days(6));
    if to < from || (to - from).num_days() >= MAX_HISTORY_DAYS {
        return Err(ApiError::from_booking(
            BookingError::BadRange("from ≤ to, at most 92 days"),
            lang,
        ));
    }
    let rows = state
        .queue
        .history(office.as_ref(), from, to)
        .await
        .or_problem(lang)?;
    Ok(rows
        .into_iter()
        .map(|r| HistoryRow {
            office_id: r.office_id.to_string(),
            line_id: r.line_id.to_string(),
            taken_at: to_tokyo_rfc3339(r.taken_at),
            waiting: r.waiting,
            counters_open: r.counters_open,
            wait_p50_minutes: r.wait_p50,
            wait_p90_minutes: r.wait_p90,
            level: r.level,
        })
        .collect())
}

/// Congestion history as open data (CSV, UTF-8, header row; columns as in the JSON).
#[utoipa::path(get, path = "/api/v1/congestion/history.csv", tag = "congestion",
    params(HistoryQuery),
    responses((status = 200, description = "CSV: office_id,line_id,taken_at,waiting,counters_open,wait_p50_minutes,wait_p90_minutes,level", content_type = "text/csv"),
              (status = 400, description = "Bad dates or range")))]
pub async fn history_csv(
    state: web::Data<AppState>,
    query: web::Query<HistoryQuery>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let rows = history_rows(&state, &query, lang.0).await?;
    let mut csv = String::from(
        "office_id,line_id,taken_at,waiting,counters_open,wait_p50_minutes,wait_p90_minutes,level\n",
    );
    for r in rows {
        let opt = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.office_id,
            r.line_id,
            r.taken_at,
            r.waiting,
            r.counters_open,
            opt(r.wait_p50_minutes),
            opt(r.wait_p90_minutes),
            r.level.as_str()
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "inline; filename=\"congestion-history.csv\"",
        ))
        .body(csv))
}

/// Congestion history as open data (JSON).
#[utoipa::path(get, path = "/api/v1/congestion/history.json", tag = "congestion",
    params(HistoryQuery),
    responses((status = 200, body = HistoryView),
              (status = 400, description = "Bad dates or range")))]
pub async fn history_json(
    state: web::Data<AppState>,
    query: web::Query<HistoryQuery>,
    lang: ClientLang,
) -> Result<HttpResponse, ApiError> {
    let rows = history_rows(&state, &query, lang.0).await?;
    Ok(HttpResponse::Ok().json(HistoryView { rows }))
}
