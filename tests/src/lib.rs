//! Test harness: the real service on port 0 against real PostgreSQL and Redis, with a
//! fresh database and a unique Redis key prefix per test, and a clock the test drives.
//!
//! `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) names a
//! database the tests may connect to in order to create and drop their own;
//! `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

pub mod chaos;
pub mod ledger_rows;
pub mod smtp;

use chrono::{DateTime, Utc};
use madoguchi::config::settings::{RateLimit, Secret};
use madoguchi::config::{Settings, parse_municipality, sample_municipality};
use madoguchi::domain::office::Municipality;
use madoguchi::domain::time::ManualClock;
use madoguchi::service::BookingService;
use madoguchi::startup::Application;
use madoguchi::store::memory::MemoryHotState;
use madoguchi_sqlite::SqliteLedger;
use redis::AsyncCommands;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

pub const SECRET_KEY: &str = "6d61646f67756368692d746573742d6b65792d3031323334353637383961626364";

pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Log lines of every app in this test process, so tests can check what was logged.
pub fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = madoguchi::telemetry::subscriber(
            "madoguchi=debug,info",
            madoguchi::config::settings::LogFormat::Json,
            move || Capture(sink.clone()),
        );
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn logs_text() -> String {
    String::from_utf8_lossy(&captured_logs().lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// A database that exists for one test and is dropped afterwards, even if it panics.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> Self {
        let admin = database_url();
        let name = format!("mdg_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("connect to TEST_DATABASE_URL");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        TestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; a small runtime on a plain thread does the cleanup.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut conn = PgConnection::connect(&database_url())
                    .await
                    .map_err(std::io::Error::other)?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map_err(std::io::Error::other)?;
                Ok::<(), std::io::Error>(())
            })
        })
        .join();
    }
}

/// Removes a test's Redis keys afterwards.
pub struct TestRedis {
    pub prefix: String,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        let _ = std::thread::spawn(move || {
            let client = redis::Client::open(redis_url()).ok()?;
            let mut conn = client.get_connection().ok()?;
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query(&mut conn)
                .ok()?;
            if !keys.is_empty() {
                let _: () = redis::cmd("DEL").arg(keys).query(&mut conn).ok()?;
            }
            Some(())
        })
        .join();
    }
}

/// Which pair of stores a test runs on. The behaviour suite runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL ledger + Redis hot state.
    Production,
    /// SQLite ledger + in-process hot state.
    Embedded,
}

/// A SQLite file that exists for one test (or outlives one app, for restart tests).
pub struct TestFile {
    pub path: PathBuf,
}

impl TestFile {
    pub fn new() -> Self {
        TestFile {
            path: std::env::temp_dir()
                .join(format!("mdg-test-{}.db", uuid::Uuid::new_v4().simple())),
        }
    }
}

impl Default for TestFile {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The stores of a test app, for assertions that look behind the API.
pub enum Stores {
    Production {
        pool: PgPool,
        redis: redis::aio::MultiplexedConnection,
        prefix: String,
        _keys: TestRedis,
        _db: TestDb,
    },
    Embedded {
        pool: SqlitePool,
        memory: Arc<MemoryHotState>,
        _file: Arc<TestFile>,
    },
}

/// 2026-12-01 (a Tuesday) 10:00 in Tokyo: with the sample city, bookings are open from
/// Friday 4 December to 15 January.
pub fn default_now() -> DateTime<Utc> {
    "2026-12-01T10:00:00+09:00"
        .parse::<DateTime<chrono::FixedOffset>>()
        .unwrap()
        .with_timezone(&Utc)
}

pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub booking: Arc<BookingService>,
    pub queue: Arc<madoguchi::service::queue::QueueService>,
    pub staff: Arc<madoguchi::service::staff::StaffService>,
    pub maintenance: Arc<madoguchi::service::maintenance::Maintenance>,
    pub mailer: Arc<madoguchi::mail::Mailer>,
    pub handle: actix_web::dev::ServerHandle,
    pub shutdown: madoguchi::startup::ShutdownHandle,
    // Dropped last: the server must stop before the database goes.
    pub stores: Stores,
}

pub struct Options {
    pub backend: Backend,
    /// Embedded only: the SQLite file to use (to restart an app on the same data).
    pub sqlite_file: Option<Arc<TestFile>>,
    pub municipality: Municipality,
    pub now: DateTime<Utc>,
    pub settings: Box<dyn FnOnce(&mut Settings)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backend: Backend::Production,
            sqlite_file: None,
            municipality: sample_municipality().expect("the sample city is valid"),
            now: default_now(),
            settings: Box::new(|_| {}),
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(Options {
        backend,
        ..Options::default()
    })
    .await
}

/// A municipality file given as TOML (for tests that need other capacities or rules).
pub fn city(toml: &str) -> Municipality {
    parse_municipality(toml, "test").expect("the test city is valid")
}

fn test_settings() -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        secret_key: Some(Secret::new(SECRET_KEY)),
        rate_limit: RateLimit {
            per_minute: 1_000_000,
            burst: 1_000_000,
            exempt: Vec::new(),
        },
        database_pool_size: 8,
        maintenance_interval_secs: 0,
        workers: Some(2),
        // Tests run the sender's passes themselves.
        mail: madoguchi::config::settings::MailSettings {
            poll_interval_ms: 0,
            public_url: "https://yoyaku.example.jp".into(),
            ..Default::default()
        },
        ..Settings::default()
    }
}

pub async fn spawn_with(options: Options) -> TestApp {
    captured_logs();
    let clock = Arc::new(ManualClock::new(options.now));
    let mut settings = test_settings();
    let (app, stores) = match options.backend {
        Backend::Production => {
            let db = TestDb::create().await;
            let keys = TestRedis {
                prefix: format!("t-{}", uuid::Uuid::new_v4().simple()),
            };
            settings.database_url = Some(Secret::new(db.url.clone()));
            settings.redis_url = Some(Secret::new(redis_url()));
            settings.redis_prefix = keys.prefix.clone();
            (options.settings)(&mut settings);
            let app = Application::build(settings, options.municipality, clock.clone())
                .await
                .expect("the application starts");
            let pool = PgPool::connect(&db.url)
                .await
                .expect("connect to the test database");
            let redis = redis::Client::open(redis_url())
                .expect("redis url")
                // A loaded CI machine runs many tests at once: the defaults (1 s to
                // connect, 500 ms to answer) would fail a test on a slow machine, not on
                // a wrong answer.
                .get_multiplexed_async_connection_with_config(
                    &redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(std::time::Duration::from_secs(10)))
                        .set_response_timeout(Some(std::time::Duration::from_secs(10))),
                )
                .await
                .expect("connect to redis");
            let prefix = keys.prefix.clone();
            (
                app,
                Stores::Production {
                    pool,
                    redis,
                    prefix,
                    _keys: keys,
                    _db: db,
                },
            )
        }
        Backend::Embedded => {
            let file = options.sqlite_file.unwrap_or_default();
            (options.settings)(&mut settings);
            let ledger = Arc::new(
                SqliteLedger::open(&file.path)
                    .await
                    .expect("open the SQLite ledger"),
            );
            let pool = ledger.pool().clone();
            let memory = Arc::new(MemoryHotState::new());
            let stores = madoguchi::startup::Stores::of(
                ledger,
                memory.clone(),
                "SQLite ledger + in-process hot state".into(),
            );
            let app = Application::assemble(settings, options.municipality, clock.clone(), stores)
                .await
                .expect("the application starts");
            (
                app,
                Stores::Embedded {
                    pool,
                    memory,
                    _file: file,
                },
            )
        }
    };
    let port = app.port();
    let handle = app.handle();
    let shutdown = app.shutdown_handle();
    let booking = app.booking();
    let queue = app.queue();
    let staff = app.staff();
    let maintenance = app.maintenance();
    let mailer = app.mailer();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        backend: options.backend,
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client"),
        clock,
        booking,
        queue,
        staff,
        maintenance,
        mailer,
        handle,
        shutdown,
        stores,
    }
}

/// A successful booking's reference and secret.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub reference: String,
    pub secret: String,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn book(&self, body: &Value) -> reqwest::Response {
        self.post_json("/api/v1/reservations", body).await
    }

    /// Books and expects success.
    pub async fn book_ok(&self, body: &Value) -> Ticket {
        let response = self.book(body).await;
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 201, "booking failed: {body}");
        Ticket {
            reference: body["reference"].as_str().unwrap().to_owned(),
            secret: body["secret"].as_str().unwrap().to_owned(),
            body,
        }
    }

    pub fn with_secret(
        &self,
        method: reqwest::Method,
        path: &str,
        secret: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-Reservation-Secret", secret)
    }

    /// Remaining seats of each slot, keyed by start time.
    pub async fn remaining(&self, office: &str, procedure: &str, day: &str) -> Vec<(String, u64)> {
        let response = self
            .get(&format!(
                "/api/v1/offices/{office}/availability?procedure={procedure}&from={day}&to={day}"
            ))
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["slots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["start"].as_str().unwrap().to_owned(),
                    s["remaining"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    pub async fn remaining_at(&self, office: &str, procedure: &str, start: &str) -> u64 {
        let day = &start[..10];
        self.remaining(office, procedure, day)
            .await
            .into_iter()
            .find(|(s, _)| s == start)
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no slot at {start}"))
    }

    /// Active rows of a slot in the ledger.
    pub async fn active_rows(&self, office: &str, procedure: &str, start: &str) -> i64 {
        let start: DateTime<Utc> = start
            .parse::<DateTime<chrono::FixedOffset>>()
            .unwrap()
            .with_timezone(&Utc);
        const ACTIVE: &str = "SELECT count(*) FROM reservations WHERE office_id = $1 AND procedure = $2 AND slot_start = $3 AND status IN ('held','confirmed')";
        match &self.stores {
            Stores::Production { pool, .. } => sqlx::query_scalar::<_, i64>(ACTIVE)
                .bind(office)
                .bind(procedure)
                .bind(start)
                .fetch_one(pool)
                .await
                .unwrap(),
            Stores::Embedded { pool, .. } => sqlx::query_scalar::<_, i64>(ACTIVE)
                .bind(office)
                .bind(procedure)
                .bind(start.timestamp_millis())
                .fetch_one(pool)
                .await
                .unwrap(),
        }
    }

    /// The seats of all confirmed reservations, in order.
    pub async fn confirmed_seats(&self) -> Vec<i64> {
        const SEATS: &str = "SELECT CAST(seat AS BIGINT) FROM reservations WHERE status = 'confirmed' ORDER BY seat";
        match &self.stores {
            Stores::Production { pool, .. } => {
                sqlx::query_scalar(SEATS).fetch_all(pool).await.unwrap()
            }
            Stores::Embedded { pool, .. } => {
                sqlx::query_scalar(SEATS).fetch_all(pool).await.unwrap()
            }
        }
    }

    pub async fn reservation_count(&self) -> i64 {
        const COUNT: &str = "SELECT count(*) FROM reservations";
        match &self.stores {
            Stores::Production { pool, .. } => {
                sqlx::query_scalar(COUNT).fetch_one(pool).await.unwrap()
            }
            Stores::Embedded { pool, .. } => {
                sqlx::query_scalar(COUNT).fetch_one(pool).await.unwrap()
            }
        }
    }

    /// The audit trail of a reservation: its event kinds in order.
    pub async fn event_kinds(&self, reference: &str) -> Vec<String> {
        const KINDS: &str = "SELECT t.kind FROM reservation_trail t JOIN reservations r ON r.id = t.reservation_id WHERE r.reference = $1 ORDER BY t.source, t.seq";
        match &self.stores {
            Stores::Production { pool, .. } => sqlx::query_scalar(KINDS)
                .bind(reference)
                .fetch_all(pool)
                .await
                .unwrap(),
            Stores::Embedded { pool, .. } => sqlx::query_scalar(KINDS)
                .bind(reference)
                .fetch_all(pool)
                .await
                .unwrap(),
        }
    }

    /// The audit trail of a reservation: (kind, actor, detail as JSON text) in order.
    pub async fn trail(&self, reference: &str) -> Vec<(String, String, Option<String>)> {
        const TRAIL: &str = "SELECT t.kind, t.actor, CAST(t.detail AS TEXT) FROM reservation_trail t JOIN reservations r ON r.id = t.reservation_id WHERE r.reference = $1 ORDER BY t.source, t.seq";
        match &self.stores {
            Stores::Production { pool, .. } => sqlx::query_as(TRAIL)
                .bind(reference)
                .fetch_all(pool)
                .await
                .unwrap(),
            Stores::Embedded { pool, .. } => sqlx::query_as(TRAIL)
                .bind(reference)
                .fetch_all(pool)
                .await
                .unwrap(),
        }
    }

    /// The hot state loses everything: Redis restarted empty, or the process restarted.
    pub async fn lose_hot_state(&mut self) {
        match &mut self.stores {
            Stores::Production { redis, prefix, .. } => {
                let keys: Vec<String> = redis.keys(format!("{prefix}:*")).await.unwrap();
                if !keys.is_empty() {
                    let _: () = redis.del(keys).await.unwrap();
                }
            }
            Stores::Embedded { memory, .. } => memory.clear(),
        }
    }

    /// The hot state forgets seats of a slot (it drifted from the ledger).
    pub async fn forget_seats(&mut self, slot: &madoguchi::domain::slots::SlotRef, seats: &[u16]) {
        match &mut self.stores {
            Stores::Production { redis, prefix, .. } => {
                let key = format!(
                    "{prefix}:{{o:{}}}:seats:{}:{}",
                    slot.office,
                    slot.procedure.as_str(),
                    slot.date.format("%Y%m%d")
                );
                let fields: Vec<String> = seats
                    .iter()
                    .map(|s| format!("{}:{s}", slot.time_key()))
                    .collect();
                let _: () = redis.hdel(key, fields).await.unwrap();
            }
            Stores::Embedded { memory, .. } => memory.forget_seats(slot, seats),
        }
    }

    /// The hot state forgets an office's idempotency and resident marks.
    pub async fn forget_marks(&mut self, office: &str) {
        match &mut self.stores {
            Stores::Production { redis, prefix, .. } => {
                let _: () = redis
                    .del(format!("{prefix}:{{o:{office}}}:marks"))
                    .await
                    .unwrap();
            }
            Stores::Embedded { memory, .. } => {
                memory.forget_marks(&madoguchi::domain::OfficeId::parse(office).unwrap());
            }
        }
    }

    pub async fn hot_state_loaded(&self, office: &str) -> bool {
        let office = madoguchi::domain::OfficeId::parse(office).unwrap();
        self.booking.hot().is_loaded(&office).await.unwrap()
    }

    /// A staff token of an office (created as the CLI would).
    pub async fn staff_token(
        &self,
        office: &str,
        role: madoguchi::store::queue::StaffRole,
    ) -> String {
        let office = madoguchi::domain::OfficeId::parse(office).unwrap();
        self.staff.create(office, role, "test").await.unwrap().1
    }

    /// A kiosk ticket.
    pub async fn take_ticket(&self, office: &str, procedure: &str) -> reqwest::Response {
        self.post_json(
            &format!("/api/v1/offices/{office}/tickets"),
            &json!({ "procedure": procedure }),
        )
        .await
    }

    /// `n` kiosk tickets at once; their numbers, each expected to be issued (201).
    pub async fn take_tickets_at_once(
        &self,
        office: &str,
        procedure: &str,
        n: usize,
    ) -> Vec<String> {
        let requests = (0..n).map(|_| async move {
            self.take_ticket_ok(office, procedure).await["number"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        futures_util::future::join_all(requests).await
    }

    pub async fn take_ticket_ok(&self, office: &str, procedure: &str) -> Value {
        let response = self.take_ticket(office, procedure).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "ticket refused: {body}");
        body
    }

    /// A counter action by staff: `call-next`, `recall`, `start`, `finish`, `no-show`, …
    pub async fn counter(
        &self,
        token: &str,
        office: &str,
        counter: &str,
        action: &str,
    ) -> reqwest::Response {
        self.client
            .post(self.url(&format!(
                "/api/v1/offices/{office}/counters/{counter}/{action}"
            )))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Calls next and returns the called number (None when nobody waits).
    pub async fn call_next(&self, token: &str, office: &str, counter: &str) -> Option<String> {
        let response = self.counter(token, office, counter, "call-next").await;
        match response.status().as_u16() {
            204 => None,
            200 => Some(
                response.json::<Value>().await.unwrap()["number"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            other => panic!(
                "call-next answered {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }

    pub async fn ticket(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/tickets/{id}"))
            .await
            .json()
            .await
            .unwrap()
    }

    /// Queue audit events of an office, in order: (ticket id, kind, actor).
    pub async fn queue_events(&self, office: &str) -> Vec<(Option<uuid::Uuid>, String, String)> {
        let office = madoguchi::domain::OfficeId::parse(office).unwrap();
        let since: chrono::DateTime<Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
        let until: chrono::DateTime<Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
        self.queue
            .ledger()
            .queue_events(&office, since, until)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.ticket_id, e.kind, e.actor))
            .collect()
    }

    /// Stops the server and waits until it has (for restart tests).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server (without waiting) so it lets go of the database.
        drop(self.handle.stop(false));
    }
}

/// A renewal booking body for `start`, for a resident identified by `email`: each address
/// (in any case) stands for one person, 山田 太郎 born on [`birth_date_of`] it.
pub fn renewal(office: &str, start: &str, email: &str) -> Value {
    json!({
        "office_id": office,
        "procedure": "cert_renewal",
        "start": start,
        "resident": { "name": "山田 太郎", "email": email },
        "birth_date": birth_date_of(email),
        "certificate_expiry": "2027-01-31",
    })
}

/// A birth date that stands for `email`'s resident (FNV-1a of the address in lower case,
/// a day of 1930–2003): a test that books as several addresses books as several people.
pub fn birth_date_of(email: &str) -> String {
    let hash = email
        .to_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let first = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).unwrap_or_default();
    (first + chrono::Duration::days((hash % 27_000) as i64)).to_string()
}

/// A card-pickup booking body.
pub fn pickup(office: &str, start: &str, notice: &str) -> Value {
    json!({
        "office_id": office,
        "procedure": "card_pickup",
        "start": start,
        "resident": { "name": "佐藤 花子" },
        "notice_number": notice,
        "birth_date": "1985-06-15",
    })
}

/// The fields a problem's `errors` list names, sorted.
pub fn error_fields(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

/// Asserts a problem+json answer with the given status and type slug; returns the body.
pub async fn assert_problem(response: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "not problem+json"
    );
    let got = response.status().as_u16();
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(got, status, "{body}");
    assert_eq!(body["type"], format!("/problems/{slug}"), "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    body
}

/// Runs each named `async fn(Backend)` as two tests, `<name>::production` and
/// `<name>::embedded`: one behaviour suite, both backends.
#[macro_export]
macro_rules! on_both_backends {
    (multi_thread: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn production() {
                super::$name($crate::Backend::Production).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                super::$name($crate::Backend::Embedded).await
            }
        }
    )+};
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn production() {
                super::$name($crate::Backend::Production).await
            }
            #[tokio::test]
            async fn embedded() {
                super::$name($crate::Backend::Embedded).await
            }
        }
    )+};
}
