//! JSON of the read-only endpoints: `/state` (spec §6.6), `/flags`,
//! `/version` and `/metrics/snapshot`. Pure functions of the core.

use crate::core::{Core, Executor, ExecutorState, Framework, Task};
use crate::runtime::Facts;
use mesos_types::task_state::is_terminal;
use mesos_types::{AgentID, FrameworkID, Resources, TaskInfo, TaskState, TaskStatus};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use mesos_daemon::build_info::{self, BUILD_DATE, BUILD_TIME, BUILD_USER};

/// `/version` (the facts `mesos-daemon`'s build script recorded).
pub fn render_version() -> Value {
    build_info::version()
}

/// `/flags`.
pub fn render_flags(facts: &Facts) -> Value {
    json!({"flags": facts.flags})
}

/// `/state`.
pub fn render_state(core: &Core, facts: &Facts) -> Value {
    let info = core.info();
    let total = Resources::from_wire(info.resources.clone());
    let (reserved, unreserved) = split_by_reservation(&total);
    let (reserved_used, unreserved_used) = split_by_reservation(&allocated(core));
    let attributes: Map<String, Value> = info
        .attributes
        .iter()
        .map(|a| (a.name.clone(), a.json_value()))
        .collect();
    let agent_id = core.agent_id().cloned().unwrap_or_default();
    let mut state = json!({
        "version": mesos_types::MESOS_VERSION,
        "build_date": BUILD_DATE,
        "build_time": BUILD_TIME,
        "build_user": BUILD_USER,
        "start_time": facts.start_time,
        "pid": facts.pid,
        "hostname": info.hostname,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        "resources": total.to_map(),
        "reserved_resources": reserved.iter().map(|(k, v)| (k.clone(), Value::Object(v.to_map()))).collect::<Map<_, _>>(),
        "unreserved_resources": unreserved.to_map(),
        "reserved_resources_full": reserved.iter().map(|(k, v)| (k.clone(), json!(v.to_wire(true)))).collect::<Map<_, _>>(),
        "unreserved_resources_full": unreserved.to_wire(true),
        "reserved_resources_allocated": reserved_used.iter().map(|(k, v)| (k.clone(), Value::Object(v.to_map()))).collect::<Map<_, _>>(),
        "unreserved_resources_allocated": unreserved_used.to_map(),
        "resource_providers": [],
        "attributes": attributes,
        "flags": facts.flags,
        "frameworks": core.frameworks().map(|f| framework_json(f, &agent_id)).collect::<Vec<_>>(),
        "completed_frameworks": core.completed_frameworks().map(|f| framework_json(f, &agent_id)).collect::<Vec<_>>(),
    });
    if let Some(id) = core.agent_id() {
        state["id"] = json!(id.value);
    }
    if let Some(m) = core.master() {
        state["master_hostname"] = json!(
            m.hostname
                .clone()
                .or_else(|| m.address.as_ref().and_then(|a| a.hostname.clone()))
        );
    }
    if let Some(dir) = facts.flags.get("log_dir") {
        state["log_dir"] = json!(dir);
    }
    for (k, v) in [
        ("git_sha", build_info::GIT_SHA),
        ("git_branch", build_info::GIT_BRANCH),
    ] {
        if let Some(v) = v {
            state[k] = json!(v);
        }
    }
    state
}

/// Resources by reservation role, and the unreserved rest.
fn split_by_reservation(resources: &Resources) -> (BTreeMap<String, Resources>, Resources) {
    let mut reserved: BTreeMap<String, Resources> = BTreeMap::new();
    let mut unreserved = Resources::new();
    for r in resources.iter() {
        if r.is_unreserved() {
            unreserved.add_one(r.clone());
        } else {
            reserved
                .entry(r.reservation_role().to_string())
                .or_default()
                .add_one(r.clone());
        }
    }
    (reserved, unreserved)
}

/// Resources in use: live tasks, plus the resources of custom executors.
fn allocated(core: &Core) -> Resources {
    let mut used = Resources::new();
    for ex in core.frameworks().flat_map(|f| f.executors.values()) {
        if !ex.command_executor {
            used.add(&Resources::from_wire(ex.info.resources.clone()));
        }
        for t in ex.tasks.values().filter(|t| !is_terminal(t.state)) {
            used.add(&Resources::from_wire(t.info.resources.clone()));
        }
        for t in &ex.queued_tasks {
            used.add(&Resources::from_wire(t.resources.clone()));
        }
    }
    used.unallocated()
}

fn framework_json(fw: &Framework, agent_id: &AgentID) -> Value {
    let i = &fw.info;
    let mut v = json!({
        "id": fw.id.value,
        "name": i.name,
        "user": i.user,
        "failover_timeout": i.failover_timeout,
        "checkpoint": i.checkpoint,
        "hostname": i.hostname.clone().unwrap_or_default(),
        "executors": fw.executors.values().map(|e| executor_json(e, fw, agent_id)).collect::<Vec<_>>(),
        "completed_executors": fw.completed_executors.iter().map(|e| executor_json(e, fw, agent_id)).collect::<Vec<_>>(),
    });
    if i.capabilities
        .iter()
        .any(|c| c.kind == Some(mesos_types::FrameworkCapability::MULTI_ROLE))
    {
        v["roles"] = json!(i.roles);
    } else {
        v["role"] = json!(i.role.clone().unwrap_or_else(|| "*".into()));
    }
    if let Some(p) = &i.principal {
        v["principal"] = json!(p);
    }
    v
}

fn executor_json(ex: &Executor, fw: &Framework, agent_id: &AgentID) -> Value {
    let resources = Resources::from_wire(ex.info.resources.clone());
    let mut v = json!({
        "id": ex.id.value,
        "name": ex.info.name.clone().unwrap_or_default(),
        "source": ex.info.source.clone().unwrap_or_default(),
        "container": ex.container_id.value,
        "directory": ex.directory.display().to_string(),
        "resources": resources.to_map(),
        "role": role_of(&ex.info.resources, fw),
        "tasks": ex.tasks.values().map(|t| task_json(t, ex, fw, agent_id)).collect::<Vec<_>>(),
        "queued_tasks": ex.queued_tasks.iter().map(|t| queued_task_json(t, &fw.id, ex, fw, agent_id)).collect::<Vec<_>>(),
        "completed_tasks": ex.completed_tasks.iter().map(|t| task_json(t, ex, fw, agent_id)).collect::<Vec<_>>(),
    });
    if let Some(kind) = ex.info.kind {
        v["type"] = json!(kind.as_str());
    }
    if let Some(labels) = &ex.info.labels {
        v["labels"] = labels
            .get("labels")
            .cloned()
            .unwrap_or_else(|| labels.clone());
    }
    v
}

/// The allocation role of a task or executor's resources.
fn role_of(resources: &[mesos_types::Resource], fw: &Framework) -> String {
    resources
        .iter()
        .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()))
        .or_else(|| fw.info.role.clone())
        .or_else(|| fw.info.roles.first().cloned())
        .unwrap_or_else(|| "*".into())
}

fn executor_id_for_task(ex: &Executor) -> String {
    if ex.command_executor {
        String::new()
    } else {
        ex.id.value.clone()
    }
}

fn task_json(t: &Task, ex: &Executor, fw: &Framework, agent_id: &AgentID) -> Value {
    let mut v = json!({
        "id": t.info.task_id.value,
        "name": t.info.name,
        "framework_id": t.framework_id.value,
        "executor_id": executor_id_for_task(ex),
        "slave_id": agent_id.value,
        "state": t.state.as_str(),
        "resources": Resources::from_wire(t.info.resources.clone()).to_map(),
        "role": role_of(&t.info.resources, fw),
        "statuses": t.statuses.iter().map(status_json).collect::<Vec<_>>(),
    });
    copy_optional(&mut v, &t.info);
    v
}

fn queued_task_json(
    t: &TaskInfo,
    fid: &FrameworkID,
    ex: &Executor,
    fw: &Framework,
    agent_id: &AgentID,
) -> Value {
    let mut v = json!({
        "id": t.task_id.value,
        "name": t.name,
        "framework_id": fid.value,
        "executor_id": executor_id_for_task(ex),
        "slave_id": agent_id.value,
        "state": TaskState::TASK_STAGING.as_str(),
        "resources": Resources::from_wire(t.resources.clone()).to_map(),
        "role": role_of(&t.resources, fw),
    });
    if let Some(c) = &t.command {
        v["command"] = json!(c);
    }
    copy_optional(&mut v, t);
    v
}

fn copy_optional(v: &mut Value, t: &TaskInfo) {
    if let Some(l) = &t.labels {
        v["labels"] = l.get("labels").cloned().unwrap_or_else(|| l.clone());
    }
    if let Some(d) = &t.discovery {
        v["discovery"] = d.clone();
    }
    if let Some(c) = &t.container {
        v["container"] = c.clone();
    }
    if let Some(h) = &t.health_check {
        v["health_check"] = h.clone();
    }
}

fn status_json(s: &TaskStatus) -> Value {
    let mut v = json!({"state": s.state.as_str(), "timestamp": s.timestamp.unwrap_or(0.0)});
    if let Some(cs) = &s.container_status {
        v["container_status"] = json!(cs);
    }
    if let Some(h) = s.healthy {
        v["healthy"] = json!(h);
    }
    if let Some(l) = &s.labels {
        v["labels"] = l.get("labels").cloned().unwrap_or_else(|| l.clone());
    }
    v
}

/// The agent's part of `/metrics/snapshot` (spec 6.7), read under the
/// core's lock: gauges from the live executors and tasks, counters from
/// [`crate::core::Counters`] (terminal task counts never go down when
/// completed tasks are pruned). `system/*` is added without the lock.
pub fn render_metrics(core: &Core, facts: &Facts) -> Map<String, Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let total = Resources::from_wire(core.info().resources.clone());
    let used = allocated(core);
    let (mut registering, mut running, mut terminating) = (0u64, 0u64, 0u64);
    let mut live: BTreeMap<TaskState, u64> = BTreeMap::new();
    for ex in core.frameworks().flat_map(|f| f.executors.values()) {
        match ex.state {
            ExecutorState::Launching | ExecutorState::Registering => registering += 1,
            ExecutorState::Running => running += 1,
            ExecutorState::Terminating | ExecutorState::Terminated => terminating += 1,
        }
        *live.entry(TaskState::TASK_STAGING).or_default() += ex.queued_tasks.len() as u64;
    }
    let all = core
        .frameworks()
        .flat_map(|f| f.executors.values().chain(f.completed_executors.iter()));
    for t in all
        .flat_map(|e| e.tasks.values())
        .filter(|t| !is_terminal(t.state))
    {
        *live.entry(t.state).or_default() += 1;
    }
    let c = core.counters();
    let mut m = Map::new();
    let mut put = |k: &str, v: f64| {
        m.insert(k.to_string(), json!(v));
    };
    put(
        "slave/registered",
        if core.is_registered() { 1.0 } else { 0.0 },
    );
    put("slave/uptime_secs", (now - facts.start_time).max(0.0));
    put("slave/frameworks_active", core.frameworks().count() as f64);
    put("slave/executors_registering", registering as f64);
    put("slave/executors_running", running as f64);
    put("slave/executors_terminating", terminating as f64);
    put("slave/executors_terminated", c.executors_terminated as f64);
    // Nothing preempts executors here (no oversubscription yet).
    put("slave/executors_preempted", 0.0);
    for s in [
        TaskState::TASK_STAGING,
        TaskState::TASK_STARTING,
        TaskState::TASK_RUNNING,
        TaskState::TASK_KILLING,
    ] {
        put(&task_key(s), live.get(&s).copied().unwrap_or(0) as f64);
    }
    for s in [
        TaskState::TASK_FINISHED,
        TaskState::TASK_FAILED,
        TaskState::TASK_KILLED,
        TaskState::TASK_LOST,
        TaskState::TASK_GONE,
    ] {
        put(&task_key(s), c.ended(s) as f64);
    }
    put("slave/valid_status_updates", c.valid_status_updates as f64);
    put(
        "slave/invalid_status_updates",
        c.invalid_status_updates as f64,
    );
    put(
        "slave/container_launch_errors",
        c.container_launch_errors as f64,
    );
    // Recovery reads the checkpoint before serving; it either succeeds or
    // the agent does not start.
    put("slave/recovery_errors", 0.0);
    for r in ["cpus", "gpus", "mem", "disk"] {
        let (t, u) = (total.scalar(r), used.scalar(r));
        put(&format!("slave/{r}_total"), t);
        put(&format!("slave/{r}_used"), u);
        put(
            &format!("slave/{r}_percent"),
            if t > 0.0 { u / t } else { 0.0 },
        );
        // No revocable resources: oversubscription is not built.
        for k in ["total", "used", "percent"] {
            put(&format!("slave/{r}_revocable_{k}"), 0.0);
        }
    }
    m
}

/// `slave/tasks_<state>` for `TASK_<STATE>`.
fn task_key(s: TaskState) -> String {
    format!(
        "slave/tasks_{}",
        s.as_str().trim_start_matches("TASK_").to_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::CoreConfig;
    use mesos_types::agent_protocol::AgentEvent;
    use mesos_types::{AgentInfo, CommandInfo, FrameworkInfo, MasterInfo, TaskInfo};
    use std::path::PathBuf;
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn state_has_the_spec_keys() {
        let config = CoreConfig {
            work_dir: PathBuf::from("/w"),
            launcher_dir: PathBuf::from("/l"),
            ip: "127.0.0.1".parse().unwrap(),
            port: 5051,
            executor_registration_timeout: Duration::from_secs(60),
            executor_shutdown_grace_period: Duration::from_secs(5),
            executor_reregistration_timeout: Duration::from_secs(2),
            recovery_timeout: Duration::from_secs(900),
            status_update_retry_interval: Duration::from_secs(10),
            executor_environment: None,
            checkpoint: false,
            fetch_limits: Default::default(),
        };
        let resources = Resources::parse("cpus:4;mem(web):512", "*")
            .unwrap()
            .into_vec();
        let mut core = Core::new(
            config,
            AgentInfo {
                hostname: "h".into(),
                resources,
                ..Default::default()
            },
        );
        let master = MasterInfo {
            id: "M".into(),
            hostname: Some("mh".into()),
            ..Default::default()
        };
        core.handle_event(
            AgentEvent::Registered {
                agent_id: "A".into(),
                master_info: master,
            },
            Instant::now(),
        );
        let task = TaskInfo {
            name: "t".into(),
            task_id: "t".into(),
            command: Some(CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            resources: Resources::parse("cpus:1", "*").unwrap().into_vec(),
            ..Default::default()
        };
        let framework_info = FrameworkInfo {
            id: Some("F".into()),
            name: "fw".into(),
            ..Default::default()
        };
        core.handle_event(
            AgentEvent::RunTask {
                framework_info,
                task,
            },
            Instant::now(),
        );
        let facts = Facts {
            flags: BTreeMap::from([("port".into(), "5051".into())]),
            start_time: 1.0,
            pid: "slave(1)@127.0.0.1:5051".into(),
            log_file: None,
            logging: mesos_daemon::logging::Logging::detached(),
        };
        let state = render_state(&core, &facts);
        for key in [
            "version",
            "build_date",
            "build_time",
            "build_user",
            "start_time",
            "id",
            "pid",
            "hostname",
            "capabilities",
            "resources",
            "reserved_resources",
            "unreserved_resources",
            "reserved_resources_full",
            "unreserved_resources_full",
            "reserved_resources_allocated",
            "unreserved_resources_allocated",
            "resource_providers",
            "attributes",
            "master_hostname",
            "flags",
            "frameworks",
            "completed_frameworks",
        ] {
            assert!(state.get(key).is_some(), "missing {key}");
        }
        assert_eq!(state["id"], "A");
        assert_eq!(state["master_hostname"], "mh");
        assert_eq!(state["reserved_resources"]["web"]["mem"], 512.0);
        assert_eq!(state["unreserved_resources"]["cpus"], 4.0);
        assert_eq!(state["unreserved_resources_allocated"]["cpus"], 1.0);
        let fw = &state["frameworks"][0];
        assert_eq!(
            (fw["id"].as_str(), fw["role"].as_str()),
            (Some("F"), Some("*"))
        );
        let ex = &fw["executors"][0];
        for key in [
            "id",
            "name",
            "source",
            "container",
            "directory",
            "resources",
            "tasks",
            "queued_tasks",
            "completed_tasks",
        ] {
            assert!(ex.get(key).is_some(), "executor lacks {key}");
        }
        assert_eq!(ex["queued_tasks"][0]["id"], "t");
        assert_eq!(ex["queued_tasks"][0]["resources"]["cpus"], 1.0);
        let metrics = render_metrics(&core, &facts);
        assert_eq!(metrics["slave/tasks_finished"], 0.0);
        assert_eq!(metrics["slave/registered"], 1.0);
        assert_eq!(metrics["slave/cpus_used"], 1.0);
        assert_eq!(metrics["slave/tasks_staging"], 1.0);
        assert_eq!(render_flags(&facts)["flags"]["port"], "5051");
        assert_eq!(render_version()["version"], "1.11.0");
        assert!(render_version()["build_time"].as_f64().unwrap() > 0.0);
    }
}
