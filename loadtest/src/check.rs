//! The invariant check after a run: reads the PostgreSQL ledger (and the API's view of
//! the queues) and fails loudly when the run broke a promise. It prints what it counted.
//!
//! ```text
//! loadtest check --database-url postgres://… [--host http://…] [--acks acks.jsonl]
//!                [--tolerance-ms 1000] [--export tickets.csv]
//! ```

use crate::acks::{self, Ack};
use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgPoolOptions;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(name = "loadtest check")]
struct Args {
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The running server, to compare its live queues with the ledger.
    #[arg(long)]
    host: Option<String>,
    /// What the load test was told (LOADTEST_ACKS of the run).
    #[arg(long)]
    acks: Option<String>,
    /// How far apart (in server time) an issue and a call must be for the check to say
    /// the issued ticket was already waiting: timestamps are taken before the atomic step.
    #[arg(long, default_value_t = 1000)]
    tolerance_ms: i64,
    /// Writes every ticket as CSV (for plot.py: queue length and waits over the morning).
    #[arg(long)]
    export: Option<String>,
}

#[derive(Debug)]
struct TicketRow {
    id: Uuid,
    office: String,
    line: String,
    day: NaiveDate,
    display: String,
    class: String,
    status: String,
    counter: Option<String>,
    order_key: i64,
    issued_at: DateTime<Utc>,
    called_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

/// Counts what was checked and collects every breach.
#[derive(Default)]
struct Report {
    counts: BTreeMap<&'static str, u64>,
    breaches: Vec<String>,
}

impl Report {
    fn count(&mut self, what: &'static str, n: u64) {
        *self.counts.entry(what).or_default() += n;
    }

    fn breach(&mut self, what: String) {
        if self.breaches.len() < 50 {
            eprintln!("BREACH: {what}");
        }
        self.breaches.push(what);
    }
}

pub async fn main(args: &[String]) -> anyhow::Result<()> {
    let args = Args::parse_from(args);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await
        .context("connecting to PostgreSQL")?;
    let mut report = Report::default();

    check_capacity(&pool, &mut report).await?;
    let tickets = load_tickets(&pool).await?;
    report.count("tickets in the ledger", count(tickets.len()));
    check_numbers(&tickets, &mut report);
    check_calls(&pool, &mut report).await?;
    check_counters(&tickets, &mut report);
    check_order(&tickets, args.tolerance_ms, &mut report);
    if let Some(path) = &args.acks {
        check_acks(&pool, &tickets, path, &mut report).await?;
    }
    if let Some(host) = &args.host {
        check_live_queues(host, &tickets, &mut report).await?;
    }
    if let Some(path) = &args.export {
        export(&tickets, path)?;
    }

    for (what, n) in &report.counts {
        println!("checked {n:>8}  {what}");
    }
    if report.breaches.is_empty() {
        println!("invariants: all held");
        Ok(())
    } else {
        bail!("invariants: {} breach(es)", report.breaches.len())
    }
}

/// No slot holds more active reservations than its capacity.
async fn check_capacity(pool: &sqlx::PgPool, report: &mut Report) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT office_id, procedure, slot_start, count(*) AS taken, max(capacity) AS capacity
           FROM reservations WHERE status IN ('held', 'confirmed')
          GROUP BY office_id, procedure, slot_start",
    )
    .fetch_all(pool)
    .await?;
    let mut active = 0;
    for row in &rows {
        let taken: i64 = row.try_get("taken")?;
        let capacity: i32 = row.try_get("capacity")?;
        active += u64::try_from(taken).unwrap_or(0);
        if taken > i64::from(capacity) {
            let office: String = row.try_get("office_id")?;
            let start: DateTime<Utc> = row.try_get("slot_start")?;
            report.breach(format!(
                "slot {office} {start} holds {taken} > capacity {capacity}"
            ));
        }
    }
    report.count("slots with active reservations", count(rows.len()));
    report.count("active reservations", active);
    Ok(())
}

async fn load_tickets(pool: &sqlx::PgPool) -> anyhow::Result<Vec<TicketRow>> {
    let rows = sqlx::query(
        "SELECT id, office_id, line_id, service_date, display, class, status, counter_id, order_key,
                issued_at, called_at, finished_at
           FROM tickets",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(TicketRow {
                id: r.try_get("id")?,
                office: r.try_get("office_id")?,
                line: r.try_get("line_id")?,
                day: r.try_get("service_date")?,
                display: r.try_get("display")?,
                class: r.try_get("class")?,
                status: r.try_get("status")?,
                counter: r.try_get("counter_id")?,
                order_key: r.try_get("order_key")?,
                issued_at: r.try_get("issued_at")?,
                called_at: r.try_get("called_at")?,
                finished_at: r.try_get("finished_at")?,
            })
        })
        .collect()
}

/// A ticket number is shown once per office and day (the ledger's unique index makes
/// this hold; checked anyway, so a change of schema cannot silently drop it).
fn check_numbers(tickets: &[TicketRow], report: &mut Report) {
    let mut seen = HashSet::new();
    for t in tickets {
        if !seen.insert((&t.office, t.day, &t.display)) {
            report.breach(format!(
                "ticket number {} issued twice at {} on {}",
                t.display, t.office, t.day
            ));
        }
    }
    report.count("ticket numbers", count(seen.len()));
}

/// A ticket is called once, again only after a transfer put it back in a line.
async fn check_calls(pool: &sqlx::PgPool, report: &mut Report) -> anyhow::Result<()> {
    let rows = sqlx::query(
        "SELECT ticket_id,
                count(*) FILTER (WHERE kind = 'called') AS calls,
                count(*) FILTER (WHERE kind = 'transferred') AS transfers
           FROM queue_events WHERE ticket_id IS NOT NULL
          GROUP BY ticket_id HAVING count(*) FILTER (WHERE kind = 'called') > 0",
    )
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let calls: i64 = row.try_get("calls")?;
        let transfers: i64 = row.try_get("transfers")?;
        if calls > transfers + 1 {
            let id: Uuid = row.try_get("ticket_id")?;
            report.breach(format!(
                "ticket {id} called {calls} times after {transfers} transfer(s)"
            ));
        }
    }
    report.count("called tickets", count(rows.len()));
    Ok(())
}

/// A counter serves one resident at a time: the call-to-finish spans at one counter never
/// overlap, and at most one ticket is at a counter now.
fn check_counters(tickets: &[TicketRow], report: &mut Report) {
    let mut by_counter: HashMap<(&str, NaiveDate, &str), Vec<&TicketRow>> = HashMap::new();
    for t in tickets {
        if let (Some(counter), Some(_)) = (&t.counter, t.called_at) {
            by_counter
                .entry((&t.office, t.day, counter))
                .or_default()
                .push(t);
        }
    }
    for ((office, day, counter), mut spans) in by_counter {
        spans.sort_by_key(|t| t.called_at);
        let open = spans
            .iter()
            .filter(|t| matches!(t.status.as_str(), "called" | "serving"))
            .count();
        if open > 1 {
            report.breach(format!(
                "counter {office}/{counter} on {day} has {open} residents at once"
            ));
        }
        for pair in spans.windows(2) {
            let &[a, b] = pair else { continue };
            match a.finished_at {
                Some(end) if Some(end) <= b.called_at => {}
                _ => report.breach(format!(
                    "counter {office}/{counter}: {} called at {:?} while {} was still there",
                    b.display, b.called_at, a.display
                )),
            }
        }
        report.count("counters with calls", 1);
    }
}

/// Within a line and class, tickets are called in their order (docs/QUEUE.md): when a
/// ticket is called, no earlier ticket of its line and class may still be waiting — one
/// issued before the call and called after it (or never, without being cancelled).
///
/// For each ticket in order, a Fenwick tree over issue times gives the latest call among
/// earlier tickets issued before this call: O(n log n) for a morning of tickets.
fn check_order(tickets: &[TicketRow], tolerance_ms: i64, report: &mut Report) {
    let tolerance = chrono::Duration::milliseconds(tolerance_ms);
    let mut groups: HashMap<(&str, &str, NaiveDate, &str), Vec<&TicketRow>> = HashMap::new();
    for t in tickets {
        groups
            .entry((&t.office, &t.line, t.day, &t.class))
            .or_default()
            .push(t);
    }
    let mut checked = 0u64;
    for ((office, line, _, class), mut group) in groups {
        group.sort_by_key(|t| t.order_key);
        let mut issue_times: Vec<DateTime<Utc>> = group.iter().map(|t| t.issued_at).collect();
        issue_times.sort();
        let mut latest = Fenwick::new(issue_times.len());
        for (index, t) in group.iter().enumerate() {
            if let Some(called) = t.called_at {
                // Earlier tickets issued clearly before this call…
                let waiting_before = issue_times.partition_point(|at| *at + tolerance < called);
                // …must all have been called before it (cancelled ones left the line).
                if let Some((end, earlier)) = latest.max_before(waiting_before)
                    && end > called + tolerance
                {
                    report.breach(format!(
                        "{office}/{line} {class}: {} called at {called} while {} (earlier) waited",
                        t.display,
                        group.get(earlier).map_or("?", |e| e.display.as_str())
                    ));
                }
                checked += 1;
            }
            if t.status != "cancelled" {
                let rank = issue_times.partition_point(|at| *at < t.issued_at);
                let end = t.called_at.unwrap_or(DateTime::<Utc>::MAX_UTC);
                latest.raise(rank, (end, index));
            }
        }
    }
    report.count("calls checked for queue order", checked);
}

/// A prefix-maximum tree: raise a position, ask for the maximum below a position.
struct Fenwick {
    tree: Vec<Option<(DateTime<Utc>, usize)>>,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Fenwick {
            tree: vec![None; n + 1],
        }
    }

    #[allow(
        clippy::indexing_slicing,
        reason = "the loop keeps i below the tree's length"
    )]
    fn raise(&mut self, position: usize, value: (DateTime<Utc>, usize)) {
        let mut i = position + 1;
        while i < self.tree.len() {
            if self.tree[i].is_none_or(|v| v.0 < value.0) {
                self.tree[i] = Some(value);
            }
            i += i & i.wrapping_neg();
        }
    }

    /// The maximum over positions `0..end`.
    #[allow(
        clippy::indexing_slicing,
        reason = "i starts below the tree's length and only falls"
    )]
    fn max_before(&self, end: usize) -> Option<(DateTime<Utc>, usize)> {
        let mut i = end.min(self.tree.len() - 1);
        let mut best: Option<(DateTime<Utc>, usize)> = None;
        while i > 0 {
            if let Some(v) = self.tree[i]
                && best.is_none_or(|b| b.0 < v.0)
            {
                best = Some(v);
            }
            i -= i & i.wrapping_neg();
        }
        best
    }
}

/// Every booking and ticket the load test was told about is in the ledger.
async fn check_acks(
    pool: &sqlx::PgPool,
    tickets: &[TicketRow],
    path: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let acks = acks::read(path).with_context(|| format!("reading {path}"))?;
    let references: HashSet<String> =
        sqlx::query_scalar::<_, String>("SELECT reference FROM reservations")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let ticket_ids: HashMap<Uuid, &TicketRow> = tickets.iter().map(|t| (t.id, t)).collect();
    for ack in &acks {
        match ack {
            Ack::Booking { reference } => {
                report.count("acknowledged bookings", 1);
                if !references.contains(reference) {
                    report.breach(format!(
                        "acknowledged booking {reference} is not in the ledger"
                    ));
                }
            }
            Ack::Visitor { .. } => report.count("waiting-room visitors", 1),
            Ack::Ticket { id, number, .. } => {
                report.count("acknowledged tickets", 1);
                // The answer's id is the ticket's public token, which carries its id.
                match madoguchi::service::keys::ticket_id_unverified(id)
                    .and_then(|id| ticket_ids.get(&id))
                {
                    Some(t) if &t.display == number => {}
                    Some(t) => report.breach(format!(
                        "ticket {id} acknowledged as {number}, ledger says {}",
                        t.display
                    )),
                    None => report.breach(format!(
                        "acknowledged ticket {id} ({number}) is not in the ledger"
                    )),
                }
            }
        }
    }
    Ok(())
}

/// The live queues the API shows (Redis) agree with the ledger: waiting counts per line.
async fn check_live_queues(
    host: &str,
    tickets: &[TicketRow],
    report: &mut Report,
) -> anyhow::Result<()> {
    let all: serde_json::Value = reqwest::get(format!("{host}/api/v1/congestion"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let offices = all
        .get("offices")
        .and_then(Value::as_array)
        .context("congestion without offices")?;
    for office in offices {
        let id = office["office_id"].as_str().unwrap_or_default();
        let day = office["updated_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| {
                t.with_timezone(&madoguchi::domain::time::TOKYO)
                    .date_naive()
            })
            .context("congestion without updated_at")?;
        for line in office["lines"].as_array().into_iter().flatten() {
            let line_id = line["line_id"].as_str().unwrap_or_default();
            let live = line["waiting"].as_u64().unwrap_or(u64::MAX);
            let ledger = tickets
                .iter()
                .filter(|t| {
                    t.office == id && t.line == line_id && t.day == day && t.status == "waiting"
                })
                .count();
            let ledger = count(ledger);
            if live != ledger {
                report.breach(format!(
                    "{id}/{line_id}: the API shows {live} waiting, the ledger {ledger}"
                ));
            }
            report.count("live lines compared with the ledger", 1);
        }
    }
    Ok(())
}

fn export(tickets: &[TicketRow], path: &str) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "office,line,day,display,class,status,issued_at,called_at,finished_at"
    )?;
    let stamp = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for t in tickets {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            t.office,
            t.line,
            t.day,
            t.display,
            t.class,
            t.status,
            t.issued_at.to_rfc3339(),
            stamp(t.called_at),
            stamp(t.finished_at)
        )?;
    }
    out.flush()?;
    Ok(())
}

/// A count of rows as the report keeps it.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + minute * 60, 0).expect("in range")
    }

    /// A normal ticket of line a, number `n`, issued at minute `n`.
    fn ticket(n: i64, called: Option<i64>, finished: Option<i64>, counter: &str) -> TicketRow {
        TicketRow {
            id: Uuid::new_v4(),
            office: "main".into(),
            line: "a".into(),
            day: NaiveDate::from_ymd_opt(2027, 1, 12).expect("date"),
            display: format!("A-{n:03}"),
            class: "normal".into(),
            status: if finished.is_some() {
                "done"
            } else if called.is_some() {
                "serving"
            } else {
                "waiting"
            }
            .into(),
            counter: called.map(|_| counter.to_owned()),
            order_key: n,
            issued_at: at(n),
            called_at: called.map(at),
            finished_at: finished.map(at),
        }
    }

    #[test]
    fn calls_in_order_pass_and_a_jump_is_caught() {
        let mut report = Report::default();
        let fair = [
            ticket(1, Some(10), Some(20), "1"),
            ticket(2, Some(11), Some(21), "2"),
            ticket(3, None, None, ""),
        ];
        check_order(&fair, 1000, &mut report);
        assert!(report.breaches.is_empty(), "{:?}", report.breaches);
        assert_eq!(report.counts["calls checked for queue order"], 2);

        // Ticket 3 is called while ticket 2 (issued before that call) still waits.
        let mut report = Report::default();
        let jumped = [
            ticket(1, Some(10), Some(20), "1"),
            ticket(2, None, None, ""),
            ticket(3, Some(12), None, "2"),
        ];
        check_order(&jumped, 1000, &mut report);
        assert_eq!(report.breaches.len(), 1, "{:?}", report.breaches);
        assert!(report.breaches[0].contains("A-003") && report.breaches[0].contains("A-002"));
    }

    #[test]
    fn a_ticket_issued_after_the_call_cannot_have_been_jumped() {
        // Ticket 4 comes first in order (a transfer that kept its place) but reached the
        // line at minute 7, after ticket 5 was called at minute 6.
        let mut report = Report::default();
        let mut transferred = ticket(4, Some(9), None, "1");
        transferred.issued_at = at(7);
        let tickets = [transferred, ticket(5, Some(6), Some(8), "2")];
        check_order(&tickets, 1000, &mut report);
        assert!(report.breaches.is_empty(), "{:?}", report.breaches);
    }

    #[test]
    fn two_residents_at_one_counter_are_caught() {
        let mut report = Report::default();
        check_counters(
            &[
                ticket(1, Some(10), Some(20), "1"),
                ticket(2, Some(21), None, "1"),
            ],
            &mut report,
        );
        assert!(report.breaches.is_empty(), "{:?}", report.breaches);

        let mut report = Report::default();
        check_counters(
            &[
                ticket(1, Some(10), Some(20), "1"),
                ticket(2, Some(15), None, "1"),
            ],
            &mut report,
        );
        assert_eq!(report.breaches.len(), 1, "{:?}", report.breaches);
    }

    #[test]
    fn a_number_shown_twice_is_caught() {
        let mut report = Report::default();
        check_numbers(
            &[ticket(1, None, None, ""), ticket(1, None, None, "")],
            &mut report,
        );
        assert_eq!(report.breaches.len(), 1);
    }
}
