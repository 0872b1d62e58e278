//! The `madoguchi` command: `serve` (the default) and `check-config`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use madoguchi::config::{Settings, load_municipality, sample_municipality};
use madoguchi::domain::OfficeId;
use madoguchi::domain::time::{Clock, SystemClock};
use madoguchi::service::staff::StaffService;
use madoguchi::startup::{Application, open_stores};
use madoguchi::store::queue::StaffRole;
use std::path::PathBuf;
use std::sync::Arc;

/// jemalloc instead of glibc's malloc: a request allocates ~100 small blocks, and glibc
/// spent a large share of the server's CPU in malloc/free (fastbin consolidation
/// included; docs/perf/journal/2026-11-22-to-12-01.md); mimalloc was faster too but broke
/// the SSE memory target.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "madoguchi",
    version,
    about = "Reservations and queues for municipal service counters"
)]
struct Cli {
    /// Settings file (TOML); the environment overrides it.
    #[arg(long, env = "MADOGUCHI_SETTINGS", global = true)]
    settings: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Validate a municipality file and print what it describes.
    CheckConfig {
        /// The municipality file; the bundled sample city when omitted.
        file: Option<PathBuf>,
    },
    /// Manage staff bearer tokens (stored hashed; shown once at creation).
    #[command(subcommand)]
    StaffToken(StaffTokenCommand),
    /// Check the tamper-evident audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write a made-up congestion history (demos and browser tests only): snapshots every
    /// quarter hour of the open hours of the past weeks, following a typical day's curve.
    DemoHistory {
        #[arg(long, default_value_t = 8)]
        weeks: i64,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute every seal of an office's day from the ledger: exit 0 if the chain holds
    /// (or nothing is sealed yet), 1 if an event or a seal was changed or removed.
    Verify {
        #[arg(long)]
        office: String,
        /// The Tokyo day, YYYY-MM-DD; today when omitted.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum StaffTokenCommand {
    /// Create a token for one office and print it once.
    Create {
        #[arg(long)]
        office: String,
        /// staff (counter operations) or admin.
        #[arg(long, default_value = "staff")]
        role: String,
        /// A note to recognise it by, e.g. the counter or the person.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by its id (see `list`).
    Revoke { id: uuid::Uuid },
    /// List tokens (ids, offices, roles, labels; never the tokens).
    List,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings =
        Settings::load(cli.settings.as_deref()).map_err(|e| anyhow::anyhow!("settings: {e}"))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig { file } => check_config(file.or(settings.config)),
        Command::Serve => serve(settings).await,
        Command::StaffToken(command) => staff_token(settings, command).await,
        Command::DemoHistory { weeks } => demo_history(settings, weeks).await,
        Command::Audit(AuditCommand::Verify { office, date }) => {
            audit_verify(settings, office, date).await
        }
    }
}

fn check_config(file: Option<PathBuf>) -> anyhow::Result<()> {
    let m = match &file {
        Some(path) => load_municipality(path)?,
        None => sample_municipality()?,
    };
    println!("{} / {}: {} offices", m.name.ja, m.name.en, m.offices.len());
    for o in &m.offices {
        let procedures: Vec<String> = o
            .procedures
            .iter()
            .map(|(id, p)| format!("{id}{}", if p.bookable { "" } else { " (walk-in only)" }))
            .collect();
        println!(
            "  {} {} ({} counters): {}",
            o.id,
            o.name.ja,
            o.counters.len(),
            procedures.join(", ")
        );
        for line in &o.lines {
            let counters: Vec<&str> = o.counters_of(&line.id).map(|c| c.as_str()).collect();
            let procedures: Vec<&str> = line.procedures.iter().map(|p| p.as_str()).collect();
            println!(
                "    line {} ({}-…): {}; called by counters {}",
                line.id,
                line.prefix,
                procedures.join(", "),
                counters.join(", ")
            );
        }
    }
    for r in &m.waiting_rooms {
        println!(
            "  waiting room {} {}: opens {}, {}–{}, {} admissions/min",
            r.id,
            r.name.ja,
            madoguchi::domain::time::to_tokyo_rfc3339(r.opens_at),
            r.first_date,
            r.last_date,
            r.policy.per_minute
        );
    }
    println!("ok");
    Ok(())
}

async fn demo_history(settings: Settings, weeks: i64) -> anyhow::Result<()> {
    let municipality = match &settings.config {
        Some(path) => load_municipality(path)?,
        None => sample_municipality()?,
    };
    let now = match &settings.clock {
        Some(spec) => madoguchi::domain::time::ScaledClock::parse(spec)
            .map_err(anyhow::Error::msg)?
            .now(),
        None => SystemClock.now(),
    };
    let rows = madoguchi::service::demo::demo_snapshots(&municipality, now, weeks);
    let stores = open_stores(&settings).await?;
    for chunk in rows.chunks(1000) {
        stores.queue_ledger.insert_snapshots(chunk).await?;
    }
    eprintln!(
        "wrote {} made-up congestion snapshots ({weeks} weeks)",
        rows.len()
    );
    Ok(())
}

async fn audit_verify(
    settings: Settings,
    office: String,
    date: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let municipality = match &settings.config {
        Some(path) => load_municipality(path)?,
        None => sample_municipality()?,
    };
    let office = OfficeId::parse(&office).map_err(anyhow::Error::msg)?;
    if municipality.office(office.as_str()).is_none() {
        anyhow::bail!("no office {office} in the municipality file");
    }
    let stores = open_stores(&settings).await?;
    let keys = madoguchi::startup::keys(&settings, &stores).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let date = date.unwrap_or_else(|| madoguchi::domain::time::tokyo_date(clock.now()));
    let chain = madoguchi::service::audit::AuditChain::new(
        Arc::new(municipality),
        stores.queue_ledger,
        Arc::new(keys),
        clock,
    );
    let v = chain.verify(&office, date).await?;
    println!(
        "{office} {date}: {} — {} seals, {} events sealed{}, {} not yet sealed",
        v.status,
        v.seals,
        v.sealed_events,
        v.sealed_through
            .as_deref()
            .map(|t| format!(" through {t}"))
            .unwrap_or_default(),
        v.unsealed_events
    );
    if let Some(hash) = &v.last_hash {
        println!("last seal: {hash}");
    }
    if let Some(problem) = &v.problem {
        println!("problem: {problem}");
        std::process::exit(1);
    }
    Ok(())
}

async fn staff_token(settings: Settings, command: StaffTokenCommand) -> anyhow::Result<()> {
    let municipality = match &settings.config {
        Some(path) => load_municipality(path)?,
        None => sample_municipality()?,
    };
    let stores = open_stores(&settings).await?;
    let staff = StaffService::new(
        stores.queue_ledger,
        Arc::new(SystemClock),
        Arc::new(madoguchi::service::guesses::Guesses::default()),
    );
    match command {
        StaffTokenCommand::Create {
            office,
            role,
            label,
        } => {
            let office = OfficeId::parse(&office).map_err(anyhow::Error::msg)?;
            if municipality.office(office.as_str()).is_none() {
                anyhow::bail!("no office {office} in the municipality file");
            }
            let role = StaffRole::parse(&role).context("--role must be staff or admin")?;
            let (token, plain) = staff.create(office, role, &label).await?;
            eprintln!(
                "token {} for office {} ({}) — shown once, keep it safe:",
                token.id,
                token.office_id,
                role.as_str()
            );
            println!("{plain}");
        }
        StaffTokenCommand::Revoke { id } => {
            if staff.revoke(id).await? {
                println!("revoked {id}");
            } else {
                anyhow::bail!("no active token {id}");
            }
        }
        StaffTokenCommand::List => {
            for t in staff.list().await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.office_id,
                    t.role.as_str(),
                    state,
                    t.label
                );
            }
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    madoguchi::telemetry::init(settings.log_format);
    let municipality = match &settings.config {
        Some(path) => load_municipality(path)?,
        None => sample_municipality()?,
    };
    let clock: Arc<dyn madoguchi::domain::time::Clock> = match &settings.clock {
        Some(spec) => {
            let clock =
                madoguchi::domain::time::ScaledClock::parse(spec).map_err(anyhow::Error::msg)?;
            tracing::warn!(clock = %spec, "SIMULATED CLOCK: for load tests and demos only");
            eprintln!("warning: simulated clock {spec} (load tests and demos only)");
            Arc::new(clock)
        }
        None => Arc::new(SystemClock),
    };
    let app = Application::build(settings.clone(), municipality, clock)
        .await
        .context("starting Madoguchi")?;
    tracing::info!(bind = %settings.bind, port = app.port(), backends = app.backends(), "listening");
    println!(
        "Madoguchi listening on http://{}:{} ({}) — API docs at /docs",
        settings
            .bind
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("127.0.0.1"),
        app.port(),
        app.backends()
    );
    let shutdown = app.shutdown_handle();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: ending live streams, draining requests");
        shutdown.shutdown().await;
    });
    app.run_until_stopped().await
}

/// Ctrl-C, or SIGTERM (what container runtimes send).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
