//! What the service acknowledged during a run (bookings answered 201, tickets answered
//! 201), written as JSON lines so the invariant check can look each one up in the ledger.

use serde::{Deserialize, Serialize};
use std::io::{BufWriter, Write};
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ack {
    Booking {
        reference: String,
    },
    Ticket {
        id: String,
        office: String,
        number: String,
        /// The P50 estimate the resident was shown, in minutes.
        estimate_p50: Option<u64>,
    },
    /// One visitor of the waiting room: when they joined, their position, when the server
    /// admitted them (from the admission token), and how their visit ended.
    Visitor {
        joined_ms: i64,
        position: u64,
        admitted_ms: Option<i64>,
        /// booked, closed (told every seat is taken), expired, gave_up
        outcome: String,
        /// When they were told the seats were gone (closed only).
        told_closed_ms: Option<i64>,
        booked_ms: Option<i64>,
    },
}

fn writer() -> &'static Mutex<Option<BufWriter<std::fs::File>>> {
    static WRITER: OnceLock<Mutex<Option<BufWriter<std::fs::File>>>> = OnceLock::new();
    WRITER.get_or_init(|| {
        let file = std::env::var("LOADTEST_ACKS").ok().and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        });
        Mutex::new(file.map(BufWriter::new))
    })
}

pub fn record(ack: &Ack) {
    let mut guard = writer().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = guard.as_mut()
        && let Ok(line) = serde_json::to_string(ack)
    {
        let _ = writeln!(w, "{line}");
    }
}

pub fn flush() {
    if let Some(w) = writer().lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        let _ = w.flush();
    }
}

pub fn read(path: &str) -> anyhow::Result<Vec<Ack>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(Into::into))
        .collect()
}
