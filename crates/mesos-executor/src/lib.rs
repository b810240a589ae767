//! The Mesos command executor (`mesos-executor`, spec §4.5).
//!
//! The agent starts one per command task. It subscribes to the agent's
//! executor HTTP API (`/api/v1/executor`), forks the task's command in its own
//! process group, reports `TASK_STARTING`, `TASK_RUNNING` and one terminal
//! update, kills the process group on `KILL`/`SHUTDOWN`, and exits once the
//! agent acknowledged the terminal update.
//!
//! Layering: [`machine`] is a pure state machine (inputs in, actions out) and
//! holds every protocol rule; [`driver`] performs its actions (HTTP, fork,
//! signals, timers); [`config`] reads the `MESOS_*` environment; [`status`]
//! words exit statuses the way Mesos does.

pub mod config;
pub mod driver;
pub mod machine;
pub mod status;
