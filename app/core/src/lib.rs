//! The core of Madoguchi: the pure domain and the storage traits.
//!
//! A crate of its own so that ledger implementations can live in other crates (sqlx's
//! compile-time checked queries support one kind of database per crate).

pub mod domain;
pub mod store;
