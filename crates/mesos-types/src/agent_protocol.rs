//! Our master <-> agent protocol (documented in `docs/protocol.md`).
//!
//! It is shaped like the scheduler API so one set of tools serves both: the
//! agent POSTs `REGISTER` to `/master/api/v1/agent` and keeps the chunked
//! RecordIO response open as its event stream (identified by the
//! `Mesos-Stream-Id` header); every other agent call is a separate POST
//! carrying that header. Messages are JSON.

use crate::ids::*;
use crate::messages::*;
use crate::resources::Resource;
use serde::{Deserialize, Serialize};

/// A task the agent reports when it (re-)registers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentTask {
    pub framework_id: FrameworkID,
    pub task: TaskInfo,
    /// The task's latest state.
    pub state: crate::TaskState,
    /// The state of its oldest unacknowledged update, if any (Mesos's
    /// `Task.status_update_state`): what the framework is to hear next, so
    /// reconciliation answers that rather than a state the framework would
    /// then hear go backwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_update_state: Option<crate::TaskState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
// One per request and short-lived: boxing the large variant would buy
// nothing but an allocation.
#[allow(clippy::large_enum_variant)]
pub enum AgentCall {
    /// Opens the event stream. `agent_info.id` set = re-registration.
    Register {
        agent_info: AgentInfo,
        /// Agent version string, reported in `/master/state`.
        version: String,
        #[serde(default)]
        tasks: Vec<AgentTask>,
        #[serde(default)]
        frameworks: Vec<FrameworkInfo>,
        /// Dynamic reservations and persistent volumes the agent has
        /// checkpointed (Mesos's `checkpointed_resources`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        checkpointed_resources: Vec<Resource>,
    },
    /// A status update from an executor (or the agent itself). `uuid` set =
    /// reliable: retried until the master sends `ACKNOWLEDGE` back.
    Update {
        agent_id: AgentID,
        framework_id: FrameworkID,
        status: TaskStatus,
    },
    /// Executor -> scheduler bytes.
    Message {
        agent_id: AgentID,
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        data: String,
    },
    /// An executor process ended; `status` is its wait status.
    ExecutorExited {
        agent_id: AgentID,
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        #[serde(deserialize_with = "crate::json::de::scalar")]
        status: i32,
    },
    /// Answer to `PING`, echoing its `nonce`.
    Pong {
        agent_id: AgentID,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::json::de::opt"
        )]
        nonce: Option<u64>,
    },
}

// Events are built, serialized once and dropped; boxing the launch payloads
// would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AgentEvent {
    Registered {
        agent_id: AgentID,
        master_info: MasterInfo,
    },
    /// Launch `task` (with `executor` for custom executors; none = command task).
    RunTask {
        framework_info: FrameworkInfo,
        task: TaskInfo,
    },
    /// Launch a task group under a DEFAULT executor.
    RunTaskGroup {
        framework_info: FrameworkInfo,
        executor: ExecutorInfo,
        task_group: TaskGroupInfo,
    },
    KillTask {
        framework_id: FrameworkID,
        task_id: TaskID,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kill_policy: Option<KillPolicy>,
    },
    /// The scheduler acknowledged update `uuid` of `task_id`.
    Acknowledge {
        framework_id: FrameworkID,
        task_id: TaskID,
        uuid: String,
    },
    ShutdownFramework {
        framework_id: FrameworkID,
    },
    ShutdownExecutor {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
    },
    /// Scheduler -> executor bytes.
    Message {
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        data: String,
    },
    /// The agent's dynamic reservations and persistent volumes, all of
    /// them: it checkpoints this set, creates the directories of new
    /// volumes and removes those of destroyed ones (Mesos's
    /// `CheckpointResourcesMessage`).
    CheckpointResources {
        resources: Vec<Resource>,
    },
    /// Liveness probe. A `nonce` asks the agent to echo it in its PONG:
    /// the master then knows the agent read every event queued before this
    /// one (the stream is in order).
    Ping {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<u64>,
    },
    Error {
        message: String,
    },
    /// The master will not have this agent any more (it was marked gone by
    /// an operator): kill every executor, forget the checkpointed agent id
    /// and stop. Mesos's `ShutdownMessage`.
    Shutdown {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_json_shape() {
        let e = AgentEvent::KillTask {
            framework_id: "f".into(),
            task_id: "t".into(),
            kill_policy: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "KILL_TASK");
        assert_eq!(v["task_id"]["value"], "t");
        let back: AgentEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }
}
