//! Use cases: each combines the pure domain with the two stores. HTTP handlers call these
//! and nothing below them.

pub mod audit;
pub mod booking;
pub mod demo;
pub mod guesses;
pub mod keys;
pub mod maintenance;
pub mod queue;
pub mod room_tokens;
pub mod rooms;
pub mod staff;

pub use booking::{BookingError, BookingService};
