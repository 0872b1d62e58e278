//! API tests: the real server, real PostgreSQL, real Redis.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod audit;
mod booking;
mod concurrency;
mod congestion;
mod errors;
mod faults;
mod group_commit;
mod guesses;
mod health;
mod holds;
mod hot_state_model;
mod idempotency;
mod ledger_contract;
mod mail;
mod manage;
mod offices;
mod outage;
mod pages;
mod phone;
mod privacy;
mod queue;
mod queue_model;
mod rate_limit;
mod recovery;
mod reload;
mod room_admin;
mod room_model;
mod slow_clients;
mod waiting_room;
