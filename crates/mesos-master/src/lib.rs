//! The Mesos master.
//!
//! * [`allocator`]: pure hierarchical DRF.
//! * [`master`]: the synchronous book of frameworks, agents, tasks, offers.
//! * [`operator`]: the v1 operator API's views and event stream.
//! * [`http`]: the HTTP shell (scheduler API, agent protocol, read endpoints).
//! * [`ui`]: the web UI at `/` and `/ui/`.
//! * [`leadership`]: ZooKeeper election, and what non-leaders answer.
//! * [`flags`]: command-line flags; [`server`]: wiring and timers.

pub mod allocator;
pub mod error;
pub mod event_queue;
pub mod flags;
pub mod http;
pub mod leadership;
pub mod master;
pub mod operator;
pub mod server;
pub mod state_json;
pub mod ui;

pub use flags::MasterFlags;
pub use server::{MasterHandle, start, start_with_logging};
