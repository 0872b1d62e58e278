//! The core of Madoguchi: the pure domain and the storage traits.
//!
//! A crate of its own so that ledger implementations can live in other crates (sqlx's
//! compile-time checked queries support one kind of database per crate).

// Toward the workspace's lints, crate by crate: the core first (no `as`, no indexing
// that could panic; tests may index).
#![deny(clippy::as_conversions, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::as_conversions, clippy::indexing_slicing))]

pub mod domain;
pub mod store;
