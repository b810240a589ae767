//! Wire-level types of the Mesos v1 HTTP APIs and the pure logic around them.
//!
//! Everything here is plain data and plain functions: no sockets, no clocks, no
//! tokio. JSON field names and enum spellings follow the Mesos protobuf
//! definitions exactly (see `shared/spec/mesos-api.md`), because they are the
//! contract with unmodified clients such as pymesos.

pub mod agent_protocol;
pub mod conversions;
pub mod enums;
pub mod executor;
pub mod ids;
pub mod json;
pub mod messages;
pub mod operator;
pub mod policy;
pub mod recordio;
pub mod resources;
pub mod scheduler;
pub mod task_state;
pub mod values;

pub use enums::*;
pub use ids::*;
pub use messages::*;
pub use resources::{Resource, Resources};

/// The version we report everywhere (`/version`, `MasterInfo.version`). Purely
/// numeric and dotted because pymesos splits it on `.` and calls `int()`.
pub const MESOS_VERSION: &str = "1.11.0";
