//! The SSE fan-out test: many displays and phones hold the congestion stream of one
//! office; a ticket is issued (a change) and each client's delay until it sees the new
//! state is measured, with the server's resident memory.
//!
//! ```text
//! loadtest sse --host http://127.0.0.1:8080 --office main --clients 10000 --changes 20 --pid <server pid>
//! ```
//!
//! Clients are raw TCP connections (one small task each), so the generator itself stays
//! light enough to run on the same two cores as the server.

use anyhow::{Context, bail};
use clap::Parser;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(name = "loadtest sse")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    host: String,
    #[arg(long, default_value = "main")]
    office: String,
    #[arg(long, default_value = "cert_renewal")]
    procedure: String,
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    #[arg(long, default_value_t = 20)]
    changes: u64,
    /// The server's process id, to read its resident memory.
    #[arg(long)]
    pid: Option<u32>,
    /// Fails (exit 1) when the p99 delivery delay is above this many milliseconds.
    #[arg(long, default_value_t = 1000)]
    max_p99_ms: u64,
}

struct Shared {
    /// The change being measured (0 = none yet) and when it was made.
    change: AtomicU64,
    triggered: Mutex<Vec<Instant>>,
    connected: AtomicUsize,
    /// Clients that have seen the current change.
    delivered: AtomicUsize,
    delays: Mutex<Vec<Duration>>,
}

pub async fn main(args: &[String]) -> anyhow::Result<()> {
    let args = Args::parse_from(args);
    let address = args
        .host
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let shared = Arc::new(Shared {
        change: AtomicU64::new(0),
        triggered: Mutex::new(vec![Instant::now()]),
        connected: AtomicUsize::new(0),
        delivered: AtomicUsize::new(0),
        delays: Mutex::new(Vec::new()),
    });
    let rss_before = rss_kib(args.pid);

    let opened = Instant::now();
    for _ in 0..args.clients {
        let (address, office, shared) = (address.clone(), args.office.clone(), shared.clone());
        tokio::spawn(async move {
            if let Err(e) = client(&address, &office, &shared).await {
                eprintln!("client: {e}");
            }
        });
    }
    // Everyone must hold a stream (having received the first state) before measuring.
    while shared.connected.load(Ordering::SeqCst) < args.clients {
        if opened.elapsed() > Duration::from_secs(120) {
            bail!(
                "only {} of {} streams opened",
                shared.connected.load(Ordering::SeqCst),
                args.clients
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{} streams open in {:.1} s",
        args.clients,
        opened.elapsed().as_secs_f64()
    );
    let rss_open = rss_kib(args.pid);

    let http = reqwest::Client::new();
    let mut missed = 0usize;
    for change in 1..=args.changes {
        shared.delivered.store(0, Ordering::SeqCst);
        shared
            .triggered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now());
        shared.change.store(change, Ordering::SeqCst);
        let response = http
            .post(format!(
                "{}/api/v1/offices/{}/tickets",
                args.host, args.office
            ))
            .header(
                "X-Forwarded-For",
                format!("10.250.{}.{}", change / 250, 1 + change % 250),
            )
            .json(&serde_json::json!({ "procedure": args.procedure }))
            .send()
            .await?;
        if response.status() != 201 {
            bail!(
                "issuing a ticket to make a change answered {}",
                response.status()
            );
        }
        let started = Instant::now();
        while shared.delivered.load(Ordering::SeqCst) < args.clients
            && started.elapsed() < Duration::from_secs(10)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        missed += args.clients - shared.delivered.load(Ordering::SeqCst).min(args.clients);
    }
    let rss_end = rss_kib(args.pid);

    let mut delays = shared
        .delays
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    delays.sort();
    #[allow(
        clippy::as_conversions,
        reason = "a quantile's rank among at most millions of delays"
    )]
    let at = |q: f64| {
        delays
            .get(((delays.len() as f64 * q) as usize).min(delays.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let (p50, p99, max) = (
        at(0.50),
        at(0.99),
        delays.last().copied().unwrap_or_default(),
    );
    println!(
        "deliveries {} (missed {missed}); delay p50 {} ms, p99 {} ms, max {} ms",
        delays.len(),
        p50.as_millis(),
        p99.as_millis(),
        max.as_millis()
    );
    if let (Some(before), Some(open), Some(end)) = (rss_before, rss_open, rss_end) {
        println!(
            "server RSS: {} MiB idle, {} MiB with streams open, {} MiB at the end",
            before / 1024,
            open / 1024,
            end / 1024
        );
    }
    if missed > 0 || p99 > Duration::from_millis(args.max_p99_ms) {
        bail!("SSE fan-out missed its target");
    }
    Ok(())
}

async fn client(address: &str, office: &str, shared: &Shared) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(address).await.context("connect")?;
    let request = format!(
        "GET /api/v1/offices/{office}/congestion/stream HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    let mut first = true;
    let mut seen = 0u64;
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            bail!("stream closed");
        }
        pending.extend_from_slice(buffer.get(..n).unwrap_or_default());
        let events = count_events(&mut pending);
        if events == 0 {
            continue;
        }
        if first {
            first = false;
            shared.connected.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let change = shared.change.load(Ordering::SeqCst);
        if change > seen {
            seen = change;
            let at = usize::try_from(change).ok().and_then(|i| {
                let triggered = shared.triggered.lock().unwrap_or_else(|e| e.into_inner());
                triggered.get(i).copied()
            });
            let Some(at) = at else { continue };
            shared
                .delays
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(at.elapsed());
            shared.delivered.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Counts the complete `congestion` events in `pending` and drops what was consumed.
fn count_events(pending: &mut Vec<u8>) -> usize {
    const MARK: &[u8] = b"event: congestion";
    let mut count = 0;
    let mut consumed = 0;
    while let Some(at) = pending
        .get(consumed..)
        .unwrap_or_default()
        .windows(MARK.len())
        .position(|w| w == MARK)
    {
        count += 1;
        consumed += at + MARK.len();
    }
    // Keep a tail in case a mark is split across reads.
    let keep_from = consumed.max(pending.len().saturating_sub(MARK.len()));
    pending.drain(..keep_from);
    count
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
