//! The morning rush: goose scenarios against a running Madoguchi, an SSE fan-out test,
//! and the invariant check that runs after every load.
//!
//! ```text
//! loadtest [goose options]            run scenarios (see loadtest/README.md)
//! loadtest check --database-url …     check the invariants after a run
//! loadtest sse --host … --clients …   hold SSE streams and measure delivery
//! ```
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "a load-test tool fails loudly"
)]
#![deny(clippy::as_conversions, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::as_conversions, clippy::indexing_slicing))]

/// As in the server: the generator shares the two cores with what it measures, and
/// glibc's malloc/free took a large share of its CPU (`perf`, docs/perf/journal/2026-11-22-to-12-01.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod acks;
mod check;
mod scenarios;
mod sse;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("check") => check::main(args.get(1..).unwrap_or_default()).await,
        Some("sse") => sse::main(args.get(1..).unwrap_or_default()).await,
        _ => scenarios::run().await,
    }
}
