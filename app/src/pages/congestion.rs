//! The public congestion pages: every office now, one office with its typical week
//! (heatmap, best times, advice), and a small widget for municipal homepages.

use crate::domain::OfficeId;
use crate::domain::queue::{Level, WaitEstimate};
use crate::domain::time::{tokyo_date, tokyo_naive};
use crate::pages::heatmap::{self, HourCell};
use crate::pages::{State, Tr, not_found, page_lang, render, render_with};
use crate::service::queue::OfficeCongestion;
use crate::service::queue::TYPICAL_WEEKS;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Datelike;
use std::sync::Arc;

/// One line (or office) as the pages show it.
pub struct LineRow {
    pub name: String,
    pub prefix: String,
    pub waiting: u32,
    pub wait: Option<WaitEstimate>,
    pub wait_text: String,
    pub level: Level,
    pub level_text: String,
    pub intake_open: bool,
    pub now_calling: Vec<String>,
    pub counters_open: u32,
}

pub struct OfficeRow {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub level_label: String,
    pub symbol: &'static str,
    pub waiting: u32,
    /// The longest P50–P90 of its lines.
    pub wait: Option<WaitEstimate>,
    pub wait_text: String,
    pub updated: String,
    pub lines: Vec<LineRow>,
}

impl OfficeRow {
    pub fn of(c: &OfficeCongestion, tr: &Tr) -> Self {
        let lines: Vec<LineRow> = c
            .lines
            .iter()
            .map(|l| LineRow {
                name: tr.text(&l.line.name).to_owned(),
                prefix: l.line.prefix.clone(),
                waiting: l.waiting,
                wait: l.estimate,
                wait_text: wait_text(tr, &l.estimate),
                level: l.level,
                level_text: level_text(tr, l.level),
                intake_open: l.intake.is_ok(),
                now_calling: l.now_calling.clone(),
                counters_open: l.counters_open,
            })
            .collect();
        let wait = lines
            .iter()
            .filter_map(|l| l.wait)
            .max_by_key(|w| (w.p90_minutes, w.p50_minutes));
        OfficeRow {
            id: c.office.to_string(),
            name: tr.text(&c.name).to_owned(),
            level: c.level,
            level_label: tr.text(&c.level.label()).to_owned(),
            symbol: heatmap::symbol(c.level),
            waiting: lines.iter().map(|l| l.waiting).sum(),
            wait,
            wait_text: wait_text(tr, &wait),
            updated: tokyo_naive(c.updated_at).format("%H:%M:%S").to_string(),
            lines,
        }
    }
}

/// The level as words and a symbol (never colour alone).
pub fn level_text(tr: &Tr, level: Level) -> String {
    format!("{} {}", heatmap::symbol(level), tr.text(&level.label()))
}

pub fn wait_text(tr: &Tr, wait: &Option<WaitEstimate>) -> String {
    // The estimate reads "12–25 min": P50 to P90.
    match wait {
        Some(w) if w.p50_minutes == w.p90_minutes => tr.minutes(w.p50_minutes),
        Some(w) => format!(
            "{}{}{}",
            tr.minutes(w.p50_minutes),
            tr.plain("wait.range"),
            tr.minutes(w.p90_minutes)
        ),
        None => tr.plain("wait.unknown"),
    }
}

fn best_text(tr: &Tr, b: &HourCell) -> String {
    format!(
        "{} {}:00–{}:00 — {}",
        tr.plain(&format!("weekday.{}", b.weekday.min(6))),
        b.hour,
        b.hour + 1,
        level_text(tr, b.level)
    )
}

async fn figures(state: &State, id: &OfficeId) -> Option<Arc<OfficeCongestion>> {
    match state.queue.congestion(id).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, office = %id, "congestion unavailable for a page");
            None
        }
    }
}

#[derive(Template)]
#[template(path = "congestion_list.html")]
struct ListPage {
    tr: Tr,
    offices: Vec<OfficeRow>,
}

pub async fn list(state: State, req: HttpRequest) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let mut offices = Vec::new();
    for o in &state.booking.municipality().offices {
        if let Some(c) = figures(&state, &o.id).await {
            offices.push(OfficeRow::of(&c, &tr));
        }
    }
    no_cache(render(
        &ListPage {
            tr: tr.clone(),
            offices,
        },
        &tr,
        remember,
    ))
}

#[derive(Template)]
#[template(path = "congestion_office.html")]
struct OfficePage {
    tr: Tr,
    office: OfficeRow,
    heatmap: String,
    /// The quietest hours left this week, as text.
    best: Vec<String>,
    mornings_busy: bool,
    history_csv: String,
    history_json: String,
}

pub async fn office(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, remember) = page_lang(&req);
    let Some(id) = known_office(&state, &path) else {
        return not_found(tr);
    };
    let Some(c) = figures(&state, &id).await else {
        return unavailable(tr);
    };
    let cells = match state.queue.typical(&id, TYPICAL_WEEKS).await {
        Ok(cells) => heatmap::office_cells(&cells),
        Err(e) => {
            tracing::warn!(error = %e, "typical congestion unavailable for a page");
            Vec::new()
        }
    };
    let today = tokyo_date(state.queue.clock().now())
        .weekday()
        .num_days_from_monday();
    let page = OfficePage {
        office: OfficeRow::of(&c, &tr),
        heatmap: heatmap::svg(&cells, &tr, "heatmap-title"),
        best: heatmap::best_times(&cells, today, 3)
            .iter()
            .map(|b| best_text(&tr, b))
            .collect(),
        mornings_busy: heatmap::mornings_are_busy(&cells),
        history_csv: format!("/api/v1/congestion/history.csv?office_id={id}"),
        history_json: format!("/api/v1/congestion/history.json?office_id={id}"),
        tr: tr.clone(),
    };
    no_cache(render(&page, &tr, remember))
}

#[derive(Template)]
#[template(path = "congestion_widget.html")]
struct WidgetPage {
    tr: Tr,
    office: OfficeRow,
}

/// A small page to embed in an iframe: level, people waiting, wait, link to the page.
pub async fn widget(state: State, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let (tr, _) = page_lang(&req);
    let Some(id) = known_office(&state, &path) else {
        return not_found(tr);
    };
    let Some(c) = figures(&state, &id).await else {
        return unavailable(tr);
    };
    let page = WidgetPage {
        office: OfficeRow::of(&c, &tr),
        tr: tr.clone(),
    };
    let mut response = render(&page, &tr, false);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::pages::WIDGET_CSP),
    );
    // Homepages embed it; a short public cache keeps them from hammering us.
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=15"),
    );
    response
}

pub fn known_office(state: &State, raw: &str) -> Option<OfficeId> {
    OfficeId::parse(raw)
        .ok()
        .filter(|o| state.booking.municipality().office(o.as_str()).is_some())
}

fn no_cache(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

pub fn unavailable(tr: Tr) -> HttpResponse {
    #[derive(Template)]
    #[template(path = "unavailable.html")]
    struct Unavailable {
        tr: Tr,
    }
    render_with(
        &Unavailable { tr: tr.clone() },
        &tr,
        false,
        HttpResponse::ServiceUnavailable(),
    )
}
