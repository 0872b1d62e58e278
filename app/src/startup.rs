//! Building and running the application: connect the stores, load the hot state from the
//! ledger (the one rebuild path, on every start), start the maintenance loop, and serve
//! HTTP. Tests build it on port 0 with a clock they drive.

use crate::config::Settings;
use crate::domain::office::Municipality;
use crate::domain::time::Clock;
use crate::http::{self, AppState, observe, openapi, rate_limit::Limiter};
use crate::service::BookingError;
use crate::service::booking::{BookingService, BookingTimings};
use crate::service::keys::{Keys, generate_master_key, parse_master_key};
use crate::service::maintenance::{Maintenance, MaintenanceReport};
use crate::store::memory::MemoryHotState;
use crate::store::postgres::PgLedger;
use crate::store::redis::RedisHotState;
use crate::store::{HotState, Ledger};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use madoguchi_sqlite::SqliteLedger;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The ledger the settings name, migrated and ready.
async fn open_ledger(settings: &Settings) -> anyhow::Result<(Arc<dyn Ledger>, String)> {
    match &settings.database_url {
        Some(url) if is_postgres(url.expose()) => {
            let pg = PgLedger::connect_lazy(url.expose(), settings.database_pool_size)?;
            if settings.migrate {
                pg.migrate().await?;
            }
            Ok((Arc::new(pg), "PostgreSQL ledger".to_owned()))
        }
        Some(url) if url.expose().starts_with("sqlite:") => {
            let sqlite = SqliteLedger::open_url(url.expose()).await?;
            Ok((Arc::new(sqlite), "SQLite ledger".to_owned()))
        }
        Some(_) => anyhow::bail!("DATABASE_URL must be a postgres:// or sqlite: URL"),
        None => {
            let sqlite = SqliteLedger::open(&settings.sqlite_path).await?;
            Ok((
                Arc::new(sqlite),
                format!("SQLite ledger at {}", settings.sqlite_path.display()),
            ))
        }
    }
}

/// The Prometheus recorder is process-global; tests build several applications.
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .clone()
}

pub struct Application {
    port: u16,
    server: Server,
    booking: Arc<BookingService>,
    maintenance: Arc<Maintenance>,
    stop: watch::Sender<bool>,
    background: Option<tokio::task::JoinHandle<()>>,
    backends: String,
}

impl Application {
    /// Builds the application on the backends the settings name: PostgreSQL or SQLite
    /// for the ledger, Redis or in-process for the hot state.
    pub async fn build(
        settings: Settings,
        municipality: Municipality,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let (ledger, ledger_name) = open_ledger(&settings).await?;
        let (hot, hot_name): (Arc<dyn HotState>, String) = match &settings.redis_url {
            Some(url) => (
                Arc::new(
                    RedisHotState::connect(
                        url.expose(),
                        &settings.redis_prefix,
                        std::time::Duration::from_millis(settings.redis_timeout_ms),
                    )
                    .await?,
                ),
                "Redis hot state".to_owned(),
            ),
            None => {
                if settings
                    .database_url
                    .as_ref()
                    .is_some_and(|u| is_postgres(u.expose()))
                {
                    tracing::warn!(
                        "REDIS_URL is not set: the hot state is in process, so run a single instance"
                    );
                }
                (
                    Arc::new(MemoryHotState::new()),
                    "in-process hot state".to_owned(),
                )
            }
        };
        let backends = format!("{ledger_name} + {hot_name}");
        Self::assemble(settings, municipality, clock, ledger, hot, backends).await
    }

    /// Builds the application on given stores (tests use this to inject faults).
    pub async fn assemble(
        settings: Settings,
        municipality: Municipality,
        clock: Arc<dyn Clock>,
        ledger: Arc<dyn Ledger>,
        hot: Arc<dyn HotState>,
        backends: String,
    ) -> anyhow::Result<Self> {
        crate::domain::calendar::warm_up();
        let master = match &settings.secret_key {
            Some(key) => parse_master_key(key.expose()).map_err(anyhow::Error::msg)?,
            None => {
                tracing::warn!(
                    "MADOGUCHI_SECRET_KEY is not set: using a key generated once and kept in the ledger"
                );
                ledger
                    .secret("master-key-v1", &generate_master_key())
                    .await
                    .context("reading the master key from the ledger")?
            }
        };
        let booking = Arc::new(BookingService::new(
            Arc::new(municipality),
            ledger,
            hot,
            clock,
            Arc::new(Keys::derive(&master)),
            BookingTimings {
                claim_deadline: chrono::Duration::seconds(settings.claim_deadline_secs as i64),
            },
        ));
        booking
            .rebuild_all(true)
            .await
            .map_err(|e| anyhow::anyhow!("loading the hot state from the ledger: {e}"))?;
        let maintenance = Arc::new(Maintenance::new(booking.clone(), settings.retention_days));
        let (stop, stopped) = watch::channel(false);
        let background = (settings.maintenance_interval_secs > 0).then(|| {
            let loop_ = Maintenance::new(booking.clone(), settings.retention_days);
            tokio::spawn(loop_.run(
                std::time::Duration::from_secs(settings.maintenance_interval_secs),
                std::time::Duration::from_secs(settings.reconcile_interval_secs.max(1)),
                stopped,
            ))
        });

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            booking: booking.clone(),
            metrics: metrics_handle(),
        });
        let limiter = Limiter::new(settings.rate_limit, settings.trusted_proxies.clone())?;
        let openapi = openapi::ApiDoc::openapi();
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer"))
                        .add(("X-Frame-Options", "DENY")),
                )
                .wrap(from_fn(observe::observe))
                .app_data(state.clone())
                .configure(|cfg| http::configure(cfg, &limiter))
                .route("/api/openapi.json", web::get().to(openapi::openapi_json))
                .service(
                    SwaggerUi::new("/docs/{_:.*}").url("/api/openapi-ui.json", openapi.clone()),
                )
                .default_service(web::to(http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(10);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            booking,
            maintenance,
            stop,
            background,
            backends,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn backends(&self) -> &str {
        &self.backends
    }

    pub fn booking(&self) -> Arc<BookingService> {
        self.booking.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// One maintenance pass, as the background loop runs it.
    pub fn maintenance(&self) -> Arc<Maintenance> {
        self.maintenance.clone()
    }

    pub async fn run_maintenance(&self) -> Result<MaintenanceReport, BookingError> {
        self.maintenance.run_once().await
    }

    /// Serves until the server is stopped (signal or handle), then stops the loop.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        let _ = self.stop.send(true);
        if let Some(task) = self.background {
            let _ = task.await;
        }
        result.context("HTTP server")
    }
}
