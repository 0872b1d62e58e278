//! Madoguchi (窓口): reservations and queues for municipal service counters.
//!
//! Layers, from the inside out: [`domain`] (pure rules), [`store`] (the durable ledger
//! and the hot state behind traits), [`service`] (use cases that combine them), [`http`]
//! (the JSON API), [`config`], [`telemetry`] and [`startup`].

pub mod domain;
