//! Command-line tools: `mesos-execute` ([`execute`], spec 10) and the
//! `mesos` operator CLI ([`mesos`], modelled on Mesos 1.x's `cli_new`).
//!
//! The pure parts of both live in this library and are unit-tested; the
//! binaries in `src/bin/` only wire them to the process (arguments,
//! environment, terminal, exit code).

pub mod execute;
pub mod mesos;

pub use execute::*;
