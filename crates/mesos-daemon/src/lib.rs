//! What every Mesos daemon serves beside its own book. In Mesos these are
//! libprocess's shared processes (`files`, `metrics`, `version`,
//! `logging`); here they are modules both `mesos-master` and `mesos-agent`
//! use, so neither depends on the other:
//!
//! * [`files`] — virtual file paths (sandboxes, `/master/log`,
//!   `/slave/log`), confinement to them, the `/files/*` endpoints and the
//!   v1 LIST_FILES / READ_FILE payloads.
//! * [`system`] — the `system/*` metrics, from `/proc`.
//! * [`prometheus`] — the Prometheus text rendering of a metrics snapshot
//!   (`GET /metrics`, our addition).
//! * [`build_info`] — build facts for `/version`.
//! * [`logging`] — the tracing subscriber: stderr, the `--log_dir` file,
//!   and the verbosity SET_LOGGING_LEVEL changes for a while.

pub mod build_info;
pub mod files;
pub mod logging;
pub mod prometheus;
pub mod system;
