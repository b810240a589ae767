//! `mesos-bench`: a load generator for the master and end-to-end benchmarks.
//!
//! Layering:
//! * [`sim`] — simulated agents ([`sim::SimAgent`]) that speak the real
//!   master<->agent protocol (`docs/protocol.md`) over loopback, many per
//!   process, with a no-op executor model; and simulated frameworks
//!   ([`sim::framework`]) on the real scheduler API through the Rust SDK.
//! * [`scenarios`] — the benchmarks (`launch`, `register`, `throughput`,
//!   `state`), each returning [`report::Figure`]s.
//! * [`report`] — the one-line figure format
//!   `name value unit (reference value unit, ratio)` and JSON.
//! * [`sys`] — process limits and accounting: `RLIMIT_NOFILE`, RSS, CPU time.
//!
//! The binary (`src/main.rs`) only parses flags and dispatches.

pub mod report;
pub mod scenarios;
pub mod sim;
pub mod sys;
