//! The agent's state as the v1 operator API shows it
//! (`mesos.v1.agent.Response`: GetTasks, GetExecutors, GetFrameworks,
//! GetState, GetAgent). Pure functions of the core, rendered under its
//! lock; the agent's state is small (one machine's tasks), so copying it
//! first would cost more than it saves.
//!
//! As stout renders protobuf: unset optional fields and empty repeated
//! fields are left out, ids are `{"value": ...}` objects.

use crate::core::{Core, Executor, Task};
use mesos_types::task_state::is_terminal;
use mesos_types::{AgentID, TaskInfo, TaskState};
use serde_json::{Map, Value, json};

fn put<T: serde::Serialize>(o: &mut Map<String, Value>, key: &str, v: &T) {
    if let Ok(v) = serde_json::to_value(v) {
        let empty = v.is_null() || v.as_array().is_some_and(Vec::is_empty);
        if !empty {
            o.insert(key.to_string(), v);
        }
    }
}

/// `mesos.v1.Task` of a task the agent knows by its `TaskInfo`: a command
/// task (no `executor` in its info) has no `executor_id`, as in Mesos's
/// `protobuf::createTask`.
fn task_json(
    info: &TaskInfo,
    state: TaskState,
    statuses: &[mesos_types::TaskStatus],
    ex: &Executor,
    agent_id: &AgentID,
) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", &info.name);
    put(&mut o, "task_id", &info.task_id);
    put(&mut o, "framework_id", &ex.framework_id);
    if !ex.command_executor {
        put(&mut o, "executor_id", &ex.id);
    }
    put(&mut o, "agent_id", agent_id);
    put(&mut o, "state", &state);
    put(&mut o, "resources", &info.resources);
    put(&mut o, "statuses", &statuses);
    if let Some(last) = statuses.last() {
        put(&mut o, "status_update_state", &last.state);
        put(&mut o, "status_update_uuid", &last.uuid);
    }
    put(&mut o, "labels", &info.labels);
    put(&mut o, "discovery", &info.discovery);
    put(&mut o, "container", &info.container);
    put(&mut o, "health_check", &info.health_check);
    put(&mut o, "check", &info.check);
    put(&mut o, "kill_policy", &info.kill_policy);
    Value::Object(o)
}

fn launched(t: &Task, ex: &Executor, agent_id: &AgentID) -> Value {
    task_json(&t.info, t.state, &t.statuses, ex, agent_id)
}

fn with_lists(lists: Vec<(&str, Vec<Value>)>) -> Value {
    let mut o = Map::new();
    for (k, v) in lists {
        if !v.is_empty() {
            o.insert(k.into(), Value::Array(v));
        }
    }
    Value::Object(o)
}

/// GetTasks: `queued_tasks` (waiting for their executor to subscribe),
/// `launched_tasks` (handed to it, not terminal), `terminated_tasks`
/// (terminal, update not acknowledged yet), `completed_tasks`. The agent
/// has no `pending_tasks` (nothing waits for authorization here).
pub fn get_tasks(core: &Core) -> Value {
    let agent_id = core.agent_id().cloned().unwrap_or_default();
    let (mut queued, mut live, mut terminated, mut completed) = (vec![], vec![], vec![], vec![]);
    let all = core.frameworks().chain(core.completed_frameworks());
    for ex in all.flat_map(|f| f.executors.values().chain(f.completed_executors.iter())) {
        for t in &ex.queued_tasks {
            queued.push(task_json(t, TaskState::TASK_STAGING, &[], ex, &agent_id));
        }
        for t in ex.tasks.values() {
            let v = launched(t, ex, &agent_id);
            if is_terminal(t.state) {
                terminated.push(v);
            } else {
                live.push(v);
            }
        }
        completed.extend(
            ex.completed_tasks
                .iter()
                .map(|t| launched(t, ex, &agent_id)),
        );
    }
    with_lists(vec![
        ("queued_tasks", queued),
        ("launched_tasks", live),
        ("terminated_tasks", terminated),
        ("completed_tasks", completed),
    ])
}

/// GetExecutors: `executors` and `completed_executors`, each `{executor_info}`.
pub fn get_executors(core: &Core) -> Value {
    let (mut live, mut done) = (vec![], vec![]);
    for fw in core.frameworks().chain(core.completed_frameworks()) {
        live.extend(
            fw.executors
                .values()
                .map(|e| json!({"executor_info": e.info})),
        );
        done.extend(
            fw.completed_executors
                .iter()
                .map(|e| json!({"executor_info": e.info})),
        );
    }
    with_lists(vec![("executors", live), ("completed_executors", done)])
}

/// GetFrameworks: `frameworks` and `completed_frameworks`, each `{framework_info}`.
pub fn get_frameworks(core: &Core) -> Value {
    let info = |f: &crate::core::Framework| json!({"framework_info": f.info});
    with_lists(vec![
        ("frameworks", core.frameworks().map(info).collect()),
        (
            "completed_frameworks",
            core.completed_frameworks().map(info).collect(),
        ),
    ])
}

/// GetState: the three above.
pub fn get_state(core: &Core) -> Value {
    json!({
        "get_tasks": get_tasks(core),
        "get_executors": get_executors(core),
        "get_frameworks": get_frameworks(core),
    })
}

/// GetAgent: `{agent_info}`.
pub fn get_agent(core: &Core) -> Value {
    json!({"agent_info": core.info()})
}
