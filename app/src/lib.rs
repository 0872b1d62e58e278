//! Madoguchi (窓口): reservations and queues for municipal service counters.
//!
//! Layers, from the inside out: [`domain`] (pure rules), [`store`] (the durable ledger
//! and the hot state behind traits), [`service`] (use cases that combine them), [`http`]
//! (the JSON API), [`config`], [`telemetry`] and [`startup`].

#![deny(clippy::as_conversions, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::as_conversions, clippy::indexing_slicing))]

pub mod config;
pub use madoguchi_core::domain;
pub mod http;
pub mod mail;
pub mod num;
pub mod pages;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;

/// The PostgreSQL migrations, for tests that prepare their own databases.
pub use store::postgres::MIGRATOR;
