//! Building and running the application: choose and open the stores, load the hot state
//! from the ledger (the one rebuild path, on every start), start the maintenance loop and
//! the live-congestion broadcaster, and serve HTTP. Tests build it on port 0 with a clock
//! they drive.

use crate::config::Settings;
use crate::domain::office::Municipality;
use crate::domain::time::Clock;
use crate::http::live::LiveCongestion;
use crate::http::{self, AppState, observe, openapi, rate_limit::Limiter};
use crate::pages;
use crate::service::BookingError;
use crate::service::booking::{BookingService, BookingTimings};
use crate::service::keys::{Keys, generate_master_key, parse_master_key};
use crate::service::maintenance::{Maintenance, MaintenanceReport};
use crate::service::queue::QueueService;
use crate::service::staff::StaffService;
use crate::store::memory::MemoryHotState;
use crate::store::postgres::PgLedger;
use crate::store::queue::{QueueHotState, QueueLedger};
use crate::store::redis::RedisHotState;
use crate::store::{HotState, Ledger};
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use madoguchi_sqlite::SqliteLedger;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use tokio::sync::watch;
use utoipa_swagger_ui::SwaggerUi;

/// The stores of one deployment: each backend implements both the booking and the queue
/// traits.
#[derive(Clone)]
pub struct Stores {
    pub ledger: Arc<dyn Ledger>,
    pub queue_ledger: Arc<dyn QueueLedger>,
    pub hot: Arc<dyn HotState>,
    pub queue_hot: Arc<dyn QueueHotState>,
    pub rooms: Arc<dyn crate::store::room::RoomStore>,
    pub room_ledger: Arc<dyn crate::store::room::RoomLedger>,
    pub mail_ledger: Arc<dyn crate::store::mail::MailLedger>,
    /// For the start-up line: which backends are in use.
    pub description: String,
}

impl Stores {
    pub fn of<L, H>(ledger: Arc<L>, hot: Arc<H>, description: String) -> Self
    where
        L: Ledger + QueueLedger + crate::store::room::RoomLedger + crate::store::mail::MailLedger,
        H: HotState + QueueHotState + crate::store::room::RoomStore,
    {
        Stores {
            ledger: ledger.clone(),
            queue_ledger: ledger.clone(),
            mail_ledger: ledger.clone(),
            room_ledger: ledger,
            hot: hot.clone(),
            queue_hot: hot.clone(),
            rooms: hot,
            description,
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The purpose keys, from the configured master key or the one kept in the ledger.
pub async fn keys(settings: &Settings, stores: &Stores) -> anyhow::Result<Keys> {
    let master = match &settings.secret_key {
        Some(key) => parse_master_key(key.expose()).map_err(anyhow::Error::msg)?,
        None => {
            tracing::warn!(
                "MADOGUCHI_SECRET_KEY is not set: using a key generated once and kept in the ledger"
            );
            stores
                .ledger
                .secret("master-key-v1", &generate_master_key())
                .await
                .context("reading the master key from the ledger")?
        }
    };
    Ok(Keys::derive(&master))
}

/// Opens the stores the settings name: PostgreSQL or SQLite for the ledger (migrated),
/// Redis or in-process for the hot state.
pub async fn open_stores(settings: &Settings) -> anyhow::Result<Stores> {
    let (pg, sqlite, ledger_name) = match &settings.database_url {
        Some(url) if is_postgres(url.expose()) => {
            let pg = PgLedger::connect_lazy(
                url.expose(),
                settings.database_pool_size,
                settings.ledger_writers,
                std::time::Duration::from_millis(settings.database_acquire_timeout_ms.max(1)),
            )?;
            if settings.migrate {
                pg.migrate().await?;
            }
            (Some(Arc::new(pg)), None, "PostgreSQL ledger".to_owned())
        }
        Some(url) if url.expose().starts_with("sqlite:") => (
            None,
            Some(Arc::new(SqliteLedger::open_url(url.expose()).await?)),
            "SQLite ledger".to_owned(),
        ),
        Some(_) => anyhow::bail!("DATABASE_URL must be a postgres:// or sqlite: URL"),
        None => (
            None,
            Some(Arc::new(SqliteLedger::open(&settings.sqlite_path).await?)),
            format!("SQLite ledger at {}", settings.sqlite_path.display()),
        ),
    };
    let (redis, memory, hot_name) = match &settings.redis_url {
        Some(url) => {
            let redis = RedisHotState::connect_with(
                url.expose(),
                &settings.redis_prefix,
                std::time::Duration::from_millis(settings.redis_timeout_ms),
                settings.redis_pool_size,
            )?;
            (Some(Arc::new(redis)), None, "Redis hot state")
        }
        None => {
            if pg.is_some() {
                tracing::warn!(
                    "REDIS_URL is not set: the hot state is in process, so run a single instance"
                );
            }
            (
                None,
                Some(Arc::new(MemoryHotState::new())),
                "in-process hot state",
            )
        }
    };
    let description = format!("{ledger_name} + {hot_name}");
    type Durable = (
        Arc<dyn Ledger>,
        Arc<dyn QueueLedger>,
        Arc<dyn crate::store::room::RoomLedger>,
        Arc<dyn crate::store::mail::MailLedger>,
    );
    let (ledger, queue_ledger, room_ledger, mail_ledger): Durable = match (pg, sqlite) {
        (Some(pg), _) => (pg.clone(), pg.clone(), pg.clone(), pg),
        (None, Some(sqlite)) => (sqlite.clone(), sqlite.clone(), sqlite.clone(), sqlite),
        (None, None) => anyhow::bail!("no ledger configured"),
    };
    type Hot = (
        Arc<dyn HotState>,
        Arc<dyn QueueHotState>,
        Arc<dyn crate::store::room::RoomStore>,
    );
    let (hot, queue_hot, rooms): Hot = match (redis, memory) {
        (Some(redis), _) => (redis.clone(), redis.clone(), redis),
        (None, Some(memory)) => (memory.clone(), memory.clone(), memory),
        (None, None) => anyhow::bail!("no hot state configured"),
    };
    Ok(Stores {
        ledger,
        queue_ledger,
        room_ledger,
        mail_ledger,
        hot,
        queue_hot,
        rooms,
        description,
    })
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

/// Stops the server cleanly: long-lived streams end first, then in-flight requests drain.
#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Arc<watch::Sender<bool>>,
    server: ServerHandle,
}

impl ShutdownHandle {
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.server.stop(true).await;
    }
}

pub struct Application {
    port: u16,
    server: Server,
    booking: Arc<BookingService>,
    queue: Arc<QueueService>,
    staff: Arc<StaffService>,
    maintenance: Arc<Maintenance>,
    mailer: Arc<crate::mail::Mailer>,
    stop: Arc<watch::Sender<bool>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    backends: String,
}

impl Application {
    /// Builds the application on the backends the settings name.
    pub async fn build(
        settings: Settings,
        municipality: Municipality,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let stores = open_stores(&settings).await?;
        Self::assemble(settings, municipality, clock, stores).await
    }

    /// Builds the application on given stores (tests use this to reach into them).
    pub async fn assemble(
        settings: Settings,
        municipality: Municipality,
        clock: Arc<dyn Clock>,
        stores: Stores,
    ) -> anyhow::Result<Self> {
        crate::domain::calendar::warm_up();
        let keys = Arc::new(keys(&settings, &stores).await?);
        let municipality = Arc::new(municipality);
        let deadline = chrono::Duration::seconds(
            i64::try_from(settings.claim_deadline_secs).unwrap_or(i64::MAX),
        );
        let reminder = crate::service::booking::Reminder {
            days_before: settings.mail.reminder_days_before,
            at: chrono::NaiveTime::parse_from_str(&settings.mail.reminder_time, "%H:%M")
                .context("mail.reminder_time must be HH:MM, e.g. 12:00")?,
        };
        let booking = Arc::new(BookingService::new(
            municipality.clone(),
            stores.ledger.clone(),
            stores.hot.clone(),
            clock.clone(),
            keys.clone(),
            BookingTimings {
                claim_deadline: deadline,
                reminder,
            },
            Arc::new(crate::service::guesses::Guesses::new(
                (
                    settings.guesses.client_burst,
                    std::time::Duration::from_secs(settings.guesses.client_every_secs.max(1)),
                ),
                (
                    settings.guesses.target_burst,
                    std::time::Duration::from_secs(settings.guesses.target_every_secs.max(1)),
                ),
            )),
        ));
        let queue = Arc::new(QueueService::new(
            municipality.clone(),
            stores.queue_ledger.clone(),
            stores.queue_hot.clone(),
            stores.hot.clone(),
            booking.clone(),
            clock.clone(),
            deadline,
        ));
        let staff = Arc::new(StaffService::new(
            stores.queue_ledger.clone(),
            clock.clone(),
            booking.guesses().clone(),
        ));
        let rooms = Arc::new(crate::service::rooms::RoomService::new(
            municipality.waiting_rooms.clone(),
            stores.room_ledger.clone(),
            stores.rooms.clone(),
            booking.clone(),
            keys.clone(),
            clock.clone(),
        ));
        rooms
            .reload()
            .await
            .context("loading the waiting rooms defined through the admin API")?;
        booking
            .rebuild_all(true)
            .await
            .map_err(|e| anyhow::anyhow!("loading the hot state from the ledger: {e}"))?;
        queue
            .rebuild_all(true)
            .await
            .map_err(|e| anyhow::anyhow!("loading today's queues from the ledger: {e}"))?;
        let audit = Arc::new(crate::service::audit::AuditChain::new(
            municipality.clone(),
            stores.queue_ledger.clone(),
            keys.clone(),
            clock.clone(),
        ));
        let maintenance = Arc::new(Maintenance::new(
            booking.clone(),
            queue.clone(),
            rooms.clone(),
            audit.clone(),
            settings.retention_days,
        ));
        let (stop, stopped) = watch::channel(false);
        let stop = Arc::new(stop);
        let live = LiveCongestion::new(municipality.offices.iter().map(|o| o.id.clone()));
        let mut background = vec![tokio::spawn(
            live.clone().run(queue.clone(), stopped.clone()),
        )];
        if settings.maintenance_interval_secs > 0 {
            let loop_ = Maintenance::new(
                booking.clone(),
                queue.clone(),
                rooms.clone(),
                audit.clone(),
                settings.retention_days,
            );
            background.push(tokio::spawn(loop_.run(
                std::time::Duration::from_secs(settings.maintenance_interval_secs),
                std::time::Duration::from_secs(settings.reconcile_interval_secs.max(1)),
                std::time::Duration::from_secs(settings.snapshot_interval_secs.max(1)),
                stopped.clone(),
            )));
        }

        let mailer = Arc::new(crate::mail::Mailer::new(
            &crate::mail::MailConfig {
                smtp_url: settings
                    .mail
                    .smtp_url
                    .as_ref()
                    .map(|u| u.expose().to_owned()),
                from: settings.mail.from.clone(),
                public_url: settings.mail.public_url.clone(),
                reminder,
            },
            stores.mail_ledger.clone(),
            stores.ledger.clone(),
            municipality.clone(),
            keys.clone(),
            clock.clone(),
        )?);
        if !mailer.sends() {
            tracing::warn!(
                "MADOGUCHI_MAIL__SMTP_URL is not set: residents' e-mails are kept in the outbox and shown at /staff/outbox; none is sent"
            );
        }
        if settings.mail.poll_interval_ms > 0 {
            background.push(tokio::spawn(mailer.clone().run(
                std::time::Duration::from_millis(settings.mail.poll_interval_ms),
                stopped.clone(),
            )));
        }

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            booking: booking.clone(),
            queue: queue.clone(),
            staff: staff.clone(),
            audit: audit.clone(),
            rooms,
            live,
            shutdown: stopped.clone(),
            metrics: metrics_handle(),
            reservation_parts: Arc::new(http::dto::ReservationParts::new(booking.municipality())),
            mailer: mailer.clone(),
        });
        let limiter = web::Data::new(
            Limiter::new(&settings.rate_limit, settings.trusted_proxies.clone())?
                .with_page(pages::too_many),
        );
        background.push(tokio::spawn(
            limiter
                .get_ref()
                .clone()
                .forget_idle_every(std::time::Duration::from_secs(60), stopped),
        ));
        let body_timeout = web::Data::new(http::input::BodyTimeout(
            std::time::Duration::from_millis(settings.request_body_timeout_ms.max(1)),
        ));
        let document = web::Data::new(openapi::ServedDocument(web::Bytes::from(
            serde_json::to_vec(&http::openapi_shapes::document(booking.municipality()))?,
        )));
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http::input::refuse_control_characters))
                .wrap(from_fn(http::rate_limit::limit_writes))
                .wrap(from_fn(pages::security_headers))
                .wrap(from_fn(observe::observe))
                .app_data(state.clone())
                .app_data(limiter.clone())
                .app_data(document.clone())
                .app_data(body_timeout.clone())
                .configure(http::configure)
                .configure(pages::routes)
                .service(
                    http::Endpoint::new("/api/openapi.json")
                        .get(openapi::openapi_json)
                        .done(),
                )
                .service(
                    // The UI reads the served document, so it shows what clients get.
                    SwaggerUi::new("/docs/{_:.*}")
                        .config(utoipa_swagger_ui::Config::from("/api/openapi.json")),
                )
                .default_service(web::to(http::not_found))
        })
        // Streams send events in pieces that fit the first write buffer (see PIECE).
        .h1_write_buffer_size(crate::http::congestion::STREAM_WRITE_BUFFER)
        .keep_alive(std::time::Duration::from_secs(
            settings.keep_alive_secs.max(1),
        ))
        // A request's head must arrive within 5 s (then its body within
        // `request_body_timeout_ms`, `http::input`), and a client that stopped reading
        // is let go after a second.
        .client_request_timeout(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .listen(listener)?
        // Signals are handled by the caller (see `shutdown_handle`), so that live streams
        // end before the server waits for in-flight requests.
        .disable_signals()
        .shutdown_timeout(10);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            booking,
            queue,
            staff,
            maintenance,
            mailer,
            stop,
            background,
            backends: stores.description,
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

    pub fn queue(&self) -> Arc<QueueService> {
        self.queue.clone()
    }

    pub fn staff(&self) -> Arc<StaffService> {
        self.staff.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: self.stop.clone(),
            server: self.server.handle(),
        }
    }

    /// The outbox's sender (tests run its passes themselves).
    pub fn mailer(&self) -> Arc<crate::mail::Mailer> {
        self.mailer.clone()
    }

    /// One maintenance pass, as the background loop runs it.
    pub fn maintenance(&self) -> Arc<Maintenance> {
        self.maintenance.clone()
    }

    pub async fn run_maintenance(&self) -> Result<MaintenanceReport, BookingError> {
        self.maintenance.run_once().await
    }

    /// Serves until the server is stopped, then stops the background tasks.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let result = self.server.await;
        let _ = self.stop.send(true);
        for task in self.background {
            let _ = task.await;
        }
        result.context("HTTP server")
    }
}
