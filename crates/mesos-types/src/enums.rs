//! Protobuf enums, rendered by name as stout's JSON mapping does.
//!
//! Mesos drops an unknown enum name on an optional field instead of failing
//! the request; [`lenient`] gives `Option<Enum>` fields that behaviour.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $(stringify!($variant) => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).ok_or_else(|| serde::de::Error::custom(
                    format!("unknown {} value '{}'", stringify!($name), s)))
            }
        }

        impl lenient::Named for $name {
            fn from_name(s: &str) -> Option<Self> { $name::parse(s) }
        }
    };
}

/// `Option<Enum>` fields that ignore unknown names, as stout does.
pub mod lenient {
    use serde::{Deserialize, Deserializer};

    pub trait Named: Sized {
        fn from_name(s: &str) -> Option<Self>;
    }

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Named,
    {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        Ok(match v {
            Some(serde_json::Value::String(s)) => T::from_name(&s),
            _ => None,
        })
    }
}

wire_enum!(
    /// `mesos.v1.TaskState`.
    TaskState {
        TASK_STAGING, TASK_STARTING, TASK_RUNNING, TASK_KILLING, TASK_FINISHED, TASK_FAILED,
        TASK_KILLED, TASK_ERROR, TASK_LOST, TASK_DROPPED, TASK_UNREACHABLE, TASK_GONE,
        TASK_GONE_BY_OPERATOR, TASK_UNKNOWN,
    }
);

wire_enum!(
    /// `mesos.v1.OperationState`.
    OperationState {
        OPERATION_UNSUPPORTED, OPERATION_PENDING, OPERATION_FINISHED, OPERATION_FAILED,
        OPERATION_ERROR, OPERATION_DROPPED, OPERATION_UNREACHABLE, OPERATION_GONE_BY_OPERATOR,
        OPERATION_RECOVERING, OPERATION_UNKNOWN,
    }
);

wire_enum!(
    /// `TaskStatus.Source`.
    Source { SOURCE_MASTER, SOURCE_AGENT, SOURCE_EXECUTOR }
);

wire_enum!(
    /// `TaskStatus.Reason`.
    Reason {
        REASON_COMMAND_EXECUTOR_FAILED, REASON_CONTAINER_LAUNCH_FAILED, REASON_CONTAINER_LIMITATION,
        REASON_CONTAINER_LIMITATION_DISK, REASON_CONTAINER_LIMITATION_MEMORY,
        REASON_CONTAINER_PREEMPTED, REASON_CONTAINER_UPDATE_FAILED,
        REASON_MAX_COMPLETION_TIME_REACHED, REASON_EXECUTOR_REGISTRATION_TIMEOUT,
        REASON_EXECUTOR_REREGISTRATION_TIMEOUT, REASON_EXECUTOR_TERMINATED,
        REASON_EXECUTOR_UNREGISTERED, REASON_FRAMEWORK_REMOVED, REASON_GC_ERROR,
        REASON_INVALID_FRAMEWORKID, REASON_INVALID_OFFERS, REASON_IO_SWITCHBOARD_EXITED,
        REASON_MASTER_DISCONNECTED, REASON_RECONCILIATION, REASON_RESOURCES_UNKNOWN,
        REASON_AGENT_DISCONNECTED, REASON_AGENT_DRAINING, REASON_AGENT_REMOVED,
        REASON_AGENT_REMOVED_BY_OPERATOR, REASON_AGENT_REREGISTERED, REASON_AGENT_RESTARTED,
        REASON_AGENT_UNKNOWN, REASON_TASK_KILLED_DURING_LAUNCH, REASON_TASK_CHECK_STATUS_UPDATED,
        REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, REASON_TASK_GROUP_INVALID,
        REASON_TASK_GROUP_UNAUTHORIZED, REASON_TASK_INVALID, REASON_TASK_UNAUTHORIZED,
        REASON_TASK_UNKNOWN,
    }
);

wire_enum!(
    /// `FrameworkInfo.Capability.Type`.
    FrameworkCapability {
        UNKNOWN, REVOCABLE_RESOURCES, TASK_KILLING_STATE, GPU_RESOURCES, SHARED_RESOURCES,
        PARTITION_AWARE, MULTI_ROLE, RESERVATION_REFINEMENT, REGION_AWARE,
    }
);

wire_enum!(
    /// `Value.Type`.
    ValueType { SCALAR, RANGES, SET, TEXT }
);

wire_enum!(
    /// `Offer.Operation.Type`.
    OperationType {
        UNKNOWN, LAUNCH, LAUNCH_GROUP, RESERVE, UNRESERVE, CREATE, DESTROY, GROW_VOLUME,
        SHRINK_VOLUME, CREATE_DISK, DESTROY_DISK,
    }
);

wire_enum!(
    /// `ExecutorInfo.Type`.
    ExecutorType { UNKNOWN, DEFAULT, CUSTOM }
);

wire_enum!(
    /// `ReservationInfo.Type`.
    ReservationType { UNKNOWN, STATIC, DYNAMIC }
);

wire_enum!(
    /// `Environment.Variable.Type`.
    EnvVarType { UNKNOWN, VALUE, SECRET }
);

wire_enum!(
    /// `scheduler.Call.Type`.
    CallType {
        UNKNOWN, SUBSCRIBE, TEARDOWN, ACCEPT, DECLINE, ACCEPT_INVERSE_OFFERS, DECLINE_INVERSE_OFFERS,
        REVIVE, KILL, SHUTDOWN, ACKNOWLEDGE, ACKNOWLEDGE_OPERATION_STATUS, RECONCILE,
        RECONCILE_OPERATIONS, MESSAGE, REQUEST, SUPPRESS, UPDATE_FRAMEWORK,
    }
);

wire_enum!(
    /// `scheduler.Event.Type`.
    EventType {
        UNKNOWN, SUBSCRIBED, OFFERS, INVERSE_OFFERS, RESCIND, RESCIND_INVERSE_OFFER, UPDATE,
        UPDATE_OPERATION_STATUS, MESSAGE, FAILURE, ERROR, HEARTBEAT,
    }
);

wire_enum!(
    /// `executor.Call.Type`.
    ExecutorCallType { UNKNOWN, SUBSCRIBE, UPDATE, MESSAGE, HEARTBEAT }
);

wire_enum!(
    /// `mesos.v1.master.Call.Type`: the operator API's calls.
    OperatorCallType {
        UNKNOWN, GET_HEALTH, GET_FLAGS, GET_VERSION, GET_METRICS, GET_LOGGING_LEVEL,
        SET_LOGGING_LEVEL, LIST_FILES, READ_FILE, GET_STATE, GET_AGENTS, GET_FRAMEWORKS,
        GET_EXECUTORS, GET_OPERATIONS, GET_TASKS, GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS,
        GET_MASTER, SUBSCRIBE, RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES,
        DESTROY_VOLUMES, GROW_VOLUME, SHRINK_VOLUME, GET_MAINTENANCE_STATUS,
        GET_MAINTENANCE_SCHEDULE, UPDATE_MAINTENANCE_SCHEDULE, START_MAINTENANCE,
        STOP_MAINTENANCE, DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT, GET_QUOTA,
        UPDATE_QUOTA, SET_QUOTA, REMOVE_QUOTA, TEARDOWN, MARK_AGENT_GONE
    }
);

wire_enum!(
    /// `mesos.v1.agent.Call.Type`: the agent's operator API calls.
    AgentCallType {
        UNKNOWN, GET_HEALTH, GET_FLAGS, GET_VERSION, GET_METRICS, GET_LOGGING_LEVEL,
        SET_LOGGING_LEVEL, LIST_FILES, READ_FILE, GET_STATE, GET_CONTAINERS, GET_FRAMEWORKS,
        GET_EXECUTORS, GET_OPERATIONS, GET_TASKS, GET_AGENT, GET_RESOURCE_PROVIDERS,
        LAUNCH_NESTED_CONTAINER, WAIT_NESTED_CONTAINER, KILL_NESTED_CONTAINER,
        REMOVE_NESTED_CONTAINER, LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_INPUT,
        ATTACH_CONTAINER_OUTPUT, LAUNCH_CONTAINER, WAIT_CONTAINER, KILL_CONTAINER,
        REMOVE_CONTAINER, ADD_RESOURCE_PROVIDER_CONFIG, UPDATE_RESOURCE_PROVIDER_CONFIG,
        REMOVE_RESOURCE_PROVIDER_CONFIG, MARK_RESOURCE_PROVIDER_GONE, PRUNE_IMAGES,
    }
);

wire_enum!(
    /// `executor.Event.Type`.
    ExecutorEventType {
        UNKNOWN, SUBSCRIBED, LAUNCH, LAUNCH_GROUP, KILL, ACKNOWLEDGED, MESSAGE, ERROR, SHUTDOWN,
        HEARTBEAT,
    }
);
