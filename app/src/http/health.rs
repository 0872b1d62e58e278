//! Liveness, readiness (both backends reachable) and Prometheus metrics.

use crate::http::dto::HealthView;
use crate::http::error::ApiError;
use crate::http::{AppState, ClientLang};
use actix_web::{HttpResponse, web};
use std::collections::BTreeMap;

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations",
    responses((status = 200, body = HealthView)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthView {
        status: "ok",
        checks: BTreeMap::new(),
    })
}

/// The ledger and the hot state both answer.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, body = HealthView),
              (status = 503, description = "A backend does not answer")))]
pub async fn ready(state: web::Data<AppState>, lang: ClientLang) -> Result<HttpResponse, ApiError> {
    let booking = &state.booking;
    let (ledger, hot) = tokio::join!(booking.ledger().ping(), booking.hot().ping());
    let mut checks = BTreeMap::new();
    checks.insert("ledger", if ledger.is_ok() { "ok" } else { "unavailable" });
    checks.insert("hot_state", if hot.is_ok() { "ok" } else { "unavailable" });
    if ledger.is_ok() && hot.is_ok() {
        Ok(HttpResponse::Ok().json(HealthView {
            status: "ready",
            checks,
        }))
    } else {
        if let Err(e) = &ledger {
            tracing::warn!(error = %e, "readiness: ledger unavailable");
        }
        if let Err(e) = &hot {
            tracing::warn!(error = %e, "readiness: hot state unavailable");
        }
        Err(ApiError::unavailable(lang.0).with("checks", serde_json::json!(checks)))
    }
}

/// Prometheus text format. Keep it off the public internet (block it at the proxy).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
pub async fn metrics(
    state: web::Data<AppState>,
    limiter: Option<web::Data<crate::http::rate_limit::Limiter>>,
) -> HttpResponse {
    // Gauges of this instance's own state are read when scraped, not only when a
    // background sweep last ran (the limiter's read 0 just after 60 refusals).
    if let Some(limiter) = limiter {
        metrics::gauge!("madoguchi_rate_limit_clients")
            .set(crate::num::f64_of(limiter.remembered()));
    }
    match &state.metrics {
        Some(handle) => {
            handle.run_upkeep();
            HttpResponse::Ok()
                .content_type("text/plain; version=0.0.4")
                .body(handle.render())
        }
        None => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(""),
    }
}
