//! The `madoguchi` command: `serve` (the default) and `check-config`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use madoguchi::config::{Settings, load_municipality, sample_municipality};
use madoguchi::domain::time::SystemClock;
use madoguchi::startup::Application;
use std::path::PathBuf;
use std::sync::Arc;

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
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings =
        Settings::load(cli.settings.as_deref()).map_err(|e| anyhow::anyhow!("settings: {e}"))?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::CheckConfig { file } => check_config(file.or(settings.config)),
        Command::Serve => serve(settings).await,
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
    println!("ok");
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    madoguchi::telemetry::init(settings.log_format);
    let municipality = match &settings.config {
        Some(path) => load_municipality(path)?,
        None => sample_municipality()?,
    };
    let app = Application::build(settings.clone(), municipality, Arc::new(SystemClock))
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
    app.run_until_stopped().await
}
