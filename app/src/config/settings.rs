//! Service settings, layered: built-in defaults, then an optional settings file (TOML,
//! `MADOGUCHI_SETTINGS` or `--settings`), then the environment, which wins.
//!
//! Environment names: `DATABASE_URL`, `REDIS_URL`, `MADOGUCHI_BIND`, `MADOGUCHI_CONFIG`
//! (the municipality file), and `MADOGUCHI_<FIELD>` for every other field below, with
//! `__` between nested names (e.g. `MADOGUCHI_RATE_LIMIT__PER_MINUTE=60`).

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A string that must never be printed: database URLs carry passwords, keys are keys.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub bind: String,
    /// The durable ledger: a `postgres://` URL (production) or a `sqlite:` URL. Unset:
    /// the SQLite file at `sqlite_path` (the embedded mode).
    pub database_url: Option<Secret>,
    /// The hot state: a `redis://` URL (production). Unset: in process (embedded mode;
    /// then run a single instance).
    pub redis_url: Option<Secret>,
    /// The embedded ledger's file when `database_url` is unset.
    pub sqlite_path: PathBuf,
    /// Prefix of every Redis key, so that several deployments (or tests) share a server.
    pub redis_prefix: String,
    /// The municipality file; the bundled sample city when unset.
    pub config: Option<PathBuf>,
    /// Key for resident-identity hashes and reservation secrets: 32+ bytes as hex or
    /// base64. Unset: one is generated once and kept in the ledger (fine for a single
    /// site; set it explicitly in production so a database dump alone is not enough).
    pub secret_key: Option<Secret>,
    /// `json` (default) or `pretty` logs.
    pub log_format: LogFormat,
    pub rate_limit: RateLimit,
    /// Failed guesses of secrets and tokens allowed per client and per target
    /// (`service::guesses`).
    pub guesses: GuessLimits,
    /// Reverse proxies whose `X-Forwarded-For` is trusted for the client address.
    pub trusted_proxies: Vec<IpAddr>,
    /// Connections to PostgreSQL per instance.
    pub database_pool_size: u32,
    /// How long a statement waits for a pooled PostgreSQL connection (ms) before the
    /// answer is 503. Once the database is known to be down, calls fail at once instead.
    pub database_acquire_timeout_ms: u64,
    /// How long a request's head (5 s) and then its body may take to arrive (ms); a
    /// slow client past it gets 408 and its connection is closed.
    pub request_body_timeout_ms: u64,
    /// How long an idle HTTP/1.1 connection is kept open. Longer than any page's polling
    /// interval (the waiting room polls every 3 s), so a poll delayed by a rush does not
    /// race the server closing its connection.
    pub keep_alive_secs: u64,
    /// Writer tasks per kind of new row (bookings, tickets) that group concurrent inserts
    /// into one commit (PostgreSQL; docs/PERFORMANCE.md).
    pub ledger_writers: usize,
    /// Unset: the Redis hot path shares one multiplexed connection (the default, see
    /// docs/PERFORMANCE.md); a number: a deadpool pool of that size instead.
    pub redis_pool_size: Option<usize>,
    /// A simulated clock `<RFC 3339 start>@<speed>` for load tests and demos (an hour of
    /// the morning in a minute at speed 60). Never in production.
    pub clock: Option<String>,
    /// How long a Redis command may take before it counts as a failure.
    pub redis_timeout_ms: u64,
    /// How often the maintenance loop runs (reaper, hold expiry, lapsing past bookings).
    pub maintenance_interval_secs: u64,
    /// A seat claim without a ledger row is returned after this long (crash repair).
    pub claim_deadline_secs: u64,
    /// How often the hot state is rebuilt from the ledger even when nothing looks wrong.
    pub reconcile_interval_secs: u64,
    /// How often congestion is written to the ledger (typical congestion, open data).
    pub snapshot_interval_secs: u64,
    /// Names of residents are removed this many days after their slot.
    pub retention_days: u32,
    /// HTTP worker threads; defaults to the number of cores.
    pub workers: Option<usize>,
    /// Run database migrations at start-up.
    pub migrate: bool,
    /// Residents' e-mail (confirmation, reminder, change notices).
    pub mail: MailSettings,
}

/// Residents' e-mail. Without `smtp_url` messages are kept in the outbox (the staff
/// outbox page shows them) and nothing is sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// `smtp://host:port` (a local relay, no TLS), `smtp://user:password@host?tls=required`
    /// (STARTTLS on 587) or `smtps://user:password@host` (TLS on 465).
    pub smtp_url: Option<Secret>,
    /// The sender, e.g. `マイナンバーカード窓口 <madoguchi@city.example.jp>`.
    pub from: String,
    /// The site's public address, for the management link in the messages.
    pub public_url: String,
    /// The reminder goes this many days before the booked day, at `reminder_time`
    /// (Tokyo time, `HH:MM`).
    pub reminder_days_before: u32,
    pub reminder_time: String,
    /// How often the sender looks for due messages; 0: never (tests run its passes).
    pub poll_interval_ms: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "マイナンバーカード窓口 <madoguchi@localhost>".to_owned(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            reminder_days_before: 1,
            reminder_time: "12:00".to_owned(),
            poll_interval_ms: 1_000,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Json,
    Pretty,
}

/// Per-client limit on every write, pages and API alike (GCRA: a steady rate plus a
/// burst).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
    /// Client addresses that are not limited: a town hall's kiosks (one device issues
    /// every walk-in ticket of the morning) and its counters' network.
    pub exempt: Vec<IpAddr>,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_minute: 30,
            burst: 10,
            exempt: Vec::new(),
        }
    }
}

/// Failures before a client (or a reservation reference) must wait, and how often one
/// more is allowed then.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct GuessLimits {
    pub client_burst: u32,
    pub client_every_secs: u64,
    pub target_burst: u32,
    pub target_every_secs: u64,
}

impl Default for GuessLimits {
    fn default() -> Self {
        Self {
            client_burst: crate::service::guesses::CLIENT_BURST,
            client_every_secs: crate::service::guesses::CLIENT_EVERY.as_secs(),
            target_burst: crate::service::guesses::TARGET_BURST,
            target_every_secs: crate::service::guesses::TARGET_EVERY.as_secs(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".to_owned(),
            database_url: None,
            redis_url: None,
            sqlite_path: PathBuf::from("madoguchi.db"),
            redis_prefix: "mdg".to_owned(),
            config: None,
            secret_key: None,
            log_format: LogFormat::Json,
            rate_limit: RateLimit::default(),
            guesses: GuessLimits::default(),
            trusted_proxies: Vec::new(),
            database_pool_size: 16,
            database_acquire_timeout_ms: 3_000,
            request_body_timeout_ms: 5_000,
            ledger_writers: 2,
            keep_alive_secs: 30,
            redis_pool_size: None,
            clock: None,
            redis_timeout_ms: 2_000,
            maintenance_interval_secs: 5,
            claim_deadline_secs: 60,
            reconcile_interval_secs: 900,
            snapshot_interval_secs: 300,
            retention_days: 30,
            workers: None,
            migrate: true,
            mail: MailSettings::default(),
        }
    }
}

impl Settings {
    /// Defaults, then `file` (if any), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
            .merge(
                Env::prefixed("MADOGUCHI_")
                    .ignore(&["settings", "log"])
                    .split("__"),
            )
            .merge(Env::raw().only(&["database_url", "redis_url"]))
            .extract::<Settings>()
            .map(Settings::normalised)
            .map_err(Box::new)
    }

    /// Empty URLs mean "not set": `DATABASE_URL= madoguchi` must not try to connect to "".
    fn normalised(mut self) -> Self {
        if self
            .database_url
            .as_ref()
            .is_some_and(|u| u.expose().trim().is_empty())
        {
            self.database_url = None;
        }
        if self
            .redis_url
            .as_ref()
            .is_some_and(|u| u.expose().trim().is_empty())
        {
            self.redis_url = None;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail closures return figment::Error"
    )]
    fn environment_wins_over_the_file_which_wins_over_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "settings.toml",
                "bind = \"0.0.0.0:9000\"\nredis_prefix = \"town\"\n[rate_limit]\nper_minute = 5\n",
            )?;
            jail.set_env("MADOGUCHI_BIND", "127.0.0.1:7000");
            jail.set_env("MADOGUCHI_RATE_LIMIT__BURST", "3");
            jail.set_env("DATABASE_URL", "postgres://u:secret@db/madoguchi");
            jail.set_env("REDIS_URL", "");
            jail.set_env("MADOGUCHI_CONFIG", "/etc/madoguchi/city.toml");
            let s = Settings::load(Some(Path::new("settings.toml"))).map_err(|e| *e)?;
            assert_eq!(s.bind, "127.0.0.1:7000");
            assert_eq!(s.redis_prefix, "town");
            assert_eq!(
                s.rate_limit,
                RateLimit {
                    per_minute: 5,
                    burst: 3,
                    exempt: Vec::new(),
                }
            );
            assert_eq!(
                s.database_url.as_ref().map(Secret::expose),
                Some("postgres://u:secret@db/madoguchi")
            );
            assert_eq!(s.redis_url, None);
            assert_eq!(s.config, Some(PathBuf::from("/etc/madoguchi/city.toml")));
            assert!(
                !format!("{s:?}").contains("secret@"),
                "Debug must not print secrets"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail closures return figment::Error"
    )]
    fn unknown_settings_are_refused_with_their_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("settings.toml", "bnid = \"0.0.0.0:9000\"\n")?;
            let err = Settings::load(Some(Path::new("settings.toml"))).unwrap_err();
            assert!(err.to_string().contains("bnid"), "{err}");
            Ok(())
        });
    }
}
