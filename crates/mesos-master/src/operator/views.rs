//! The v1 operator API's views of the book (`mesos.v1.master.Response`):
//! copied out of the book under its lock by the `take` functions (clones
//! and resource sums, no JSON; a task's view is copied once per change and
//! shared, [`TaskView::of`]), rendered as v1 JSON after the lock is
//! released. Field names and omissions follow the v1 protos as stout
//! renders them: unset optional fields and empty repeated fields are left
//! out, times are `TimeInfo {nanoseconds}`.

use crate::master::{AgentEntry, FrameworkEntry, Master, TaskEntry};
use mesos_types::*;
use serde_json::{Map, Value as Json, json};
use std::sync::Arc;

/// `mesos.v1.TimeInfo` for epoch seconds.
pub fn time_info(secs: f64) -> Json {
    json!({ "nanoseconds": (secs * 1e9) as i64 })
}

fn put<T: serde::Serialize>(o: &mut Map<String, Json>, key: &str, v: &T) {
    if let Ok(v) = serde_json::to_value(v) {
        let empty = matches!(&v, Json::Null) || matches!(&v, Json::Array(a) if a.is_empty());
        if !empty {
            o.insert(key.to_string(), v);
        }
    }
}

fn wire(r: &Resources) -> Vec<Resource> {
    r.to_wire(true)
}

/// What `mesos.v1.Task` shows of a task: the fields of its `TaskInfo` a
/// `Task` carries (not its command, executor or data), copied under the lock.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub name: String,
    pub task_id: TaskID,
    pub framework_id: FrameworkID,
    pub executor_id: Option<ExecutorID>,
    pub agent_id: AgentID,
    pub state: TaskState,
    pub resources: Resources,
    pub statuses: Vec<TaskStatus>,
    pub status_update_state: Option<TaskState>,
    pub status_update_uuid: Option<String>,
    pub labels: Option<Json>,
    pub discovery: Option<Json>,
    pub container: Option<Json>,
    pub health_check: Option<Json>,
    pub check: Option<Json>,
    pub kill_policy: Option<KillPolicy>,
    pub user: Option<String>,
}

impl TaskView {
    /// The task's view, copied once per change ([`TaskEntry::changed`]).
    pub fn of(t: &TaskEntry) -> Arc<TaskView> {
        t.operator_view
            .get_or_init(|| Arc::new(TaskView::take(t)))
            .clone()
    }

    pub fn take(t: &TaskEntry) -> TaskView {
        let i = &t.info;
        TaskView {
            name: i.name.clone(),
            task_id: i.task_id.clone(),
            framework_id: t.framework_id.clone(),
            executor_id: i.executor.as_ref().map(|e| e.executor_id.clone()),
            agent_id: t.agent_id.clone(),
            state: t.state,
            resources: t.resources.clone(),
            statuses: t.statuses.clone(),
            status_update_state: t.status_update_state,
            status_update_uuid: t.status_update_uuid.clone(),
            labels: i.labels.clone(),
            discovery: i.discovery.clone(),
            container: i.container.clone(),
            health_check: i.health_check.clone(),
            check: i.check.clone(),
            kill_policy: i.kill_policy.clone(),
            user: t.user.clone(),
        }
    }

    /// `mesos.v1.Task`.
    pub fn json(&self) -> Json {
        let mut o = Map::new();
        put(&mut o, "name", &self.name);
        put(&mut o, "task_id", &self.task_id);
        put(&mut o, "framework_id", &self.framework_id);
        put(&mut o, "executor_id", &self.executor_id);
        put(&mut o, "agent_id", &self.agent_id);
        put(&mut o, "state", &self.state);
        put(&mut o, "resources", &wire(&self.resources));
        put(&mut o, "statuses", &self.statuses);
        put(&mut o, "status_update_state", &self.status_update_state);
        put(&mut o, "status_update_uuid", &self.status_update_uuid);
        put(&mut o, "labels", &self.labels);
        put(&mut o, "discovery", &self.discovery);
        put(&mut o, "container", &self.container);
        put(&mut o, "health_check", &self.health_check);
        put(&mut o, "check", &self.check);
        put(&mut o, "kill_policy", &self.kill_policy);
        put(&mut o, "user", &self.user);
        Json::Object(o)
    }
}

/// What `GetAgents.Agent` shows of one agent.
#[derive(Debug, Clone)]
pub struct AgentView {
    pub info: AgentInfo,
    pub active: bool,
    pub version: String,
    pub pid: String,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    pub total: Resources,
    pub allocated: Resources,
    pub offered: Resources,
    pub operator_state: Option<crate::master::drain::AgentOperatorState>,
}

impl AgentView {
    pub fn take(m: &Master, a: &AgentEntry) -> AgentView {
        let mut info = a.info.clone();
        info.id = Some(a.id.clone());
        let mut offered = Resources::new();
        for oid in a.offers.iter() {
            if let Some(o) = m.offers.get(oid) {
                offered.add(&o.resources);
            }
        }
        AgentView {
            info,
            active: a.connected(),
            version: a.version.clone(),
            pid: a.pid(),
            registered_time: a.registered_time,
            reregistered_time: a.reregistered_time,
            total: a.total.clone(),
            allocated: a.used_resources(m),
            offered,
            operator_state: m.agent_states.get(&a.id).cloned(),
        }
    }

    /// `GetAgents.Agent`.
    pub fn json(&self) -> Json {
        let mut o = Map::new();
        put(&mut o, "agent_info", &self.info);
        o.insert("active".into(), Json::Bool(self.active));
        let state = self.operator_state.as_ref();
        o.insert(
            "deactivated".into(),
            Json::Bool(state.is_some_and(|s| s.deactivated)),
        );
        if let Some(d) = state.and_then(|s| s.drain_info.as_ref()) {
            put(&mut o, "drain_info", d);
        }
        put(&mut o, "version", &self.version);
        put(&mut o, "pid", &self.pid);
        o.insert("registered_time".into(), time_info(self.registered_time));
        if let Some(t) = self.reregistered_time {
            o.insert("reregistered_time".into(), time_info(t));
        }
        put(&mut o, "total_resources", &wire(&self.total));
        put(&mut o, "allocated_resources", &wire(&self.allocated));
        put(&mut o, "offered_resources", &wire(&self.offered));
        Json::Object(o)
    }
}

/// What `GetFrameworks.Framework` shows of one framework.
#[derive(Debug, Clone)]
pub struct FrameworkView {
    pub info: FrameworkInfo,
    pub connected: bool,
    pub recovered: bool,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    /// Set for completed frameworks.
    pub unregistered_time: Option<f64>,
    pub offers: Vec<Offer>,
    pub allocated: Resources,
    pub offered: Resources,
}

impl FrameworkView {
    pub fn take(m: &Master, f: &FrameworkEntry, completed: bool) -> FrameworkView {
        let mut info = f.info.clone();
        info.id = Some(f.id.clone());
        let mut allocated = Resources::new();
        for t in f.tasks.values().filter(|t| !t.resources_released) {
            allocated.add(&t.resources);
        }
        for execs in f.executors.values() {
            for (_, r, _) in execs.values() {
                allocated.add(r);
            }
        }
        let mut offers = Vec::new();
        let mut offered = Resources::new();
        for o in f.offers.iter().filter_map(|id| m.offers.get(id)) {
            offered.add(&o.resources);
            offers.push(o.offer.clone());
        }
        FrameworkView {
            info,
            connected: f.subscription.is_some(),
            recovered: f.recovered,
            registered_time: f.registered_time,
            reregistered_time: f.reregistered_time,
            unregistered_time: completed.then_some(f.unregistered_time),
            offers,
            allocated,
            offered,
        }
    }

    /// `GetFrameworks.Framework`.
    pub fn json(&self) -> Json {
        let mut o = Map::new();
        put(&mut o, "framework_info", &self.info);
        o.insert("active".into(), Json::Bool(self.connected));
        o.insert("connected".into(), Json::Bool(self.connected));
        o.insert("recovered".into(), Json::Bool(self.recovered));
        o.insert("registered_time".into(), time_info(self.registered_time));
        if let Some(t) = self.reregistered_time {
            o.insert("reregistered_time".into(), time_info(t));
        }
        if let Some(t) = self.unregistered_time {
            o.insert("unregistered_time".into(), time_info(t));
        }
        put(&mut o, "offers", &self.offers);
        put(&mut o, "allocated_resources", &wire(&self.allocated));
        put(&mut o, "offered_resources", &wire(&self.offered));
        Json::Object(o)
    }
}

/// Everything `GET_STATE` (and SUBSCRIBED) shows, copied under the lock.
#[derive(Debug, Clone, Default)]
pub struct StateView {
    pub agents: Vec<AgentView>,
    pub frameworks: Vec<FrameworkView>,
    pub completed_frameworks: Vec<FrameworkView>,
    /// Custom executors: (agent, info).
    pub executors: Vec<(AgentID, ExecutorInfo)>,
    /// Shared with the tasks' entries (copied once per change).
    pub tasks: Vec<Arc<TaskView>>,
    pub completed_tasks: Vec<Arc<TaskView>>,
}

/// Which parts of the state a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub agents: bool,
    pub frameworks: bool,
    pub executors: bool,
    pub tasks: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        agents: true,
        frameworks: true,
        executors: true,
        tasks: true,
    };
}

impl StateView {
    /// Copies the `parts` asked for; runs under the book's lock.
    pub fn take(m: &Master, parts: Parts) -> StateView {
        let mut v = StateView::default();
        if parts.agents {
            v.agents = m.agents.values().map(|a| AgentView::take(m, a)).collect();
        }
        if parts.frameworks {
            v.frameworks = m
                .frameworks
                .values()
                .map(|f| FrameworkView::take(m, f, false))
                .collect();
            v.completed_frameworks = m
                .completed_frameworks
                .iter()
                .map(|f| FrameworkView::take(m, f, true))
                .collect();
        }
        if parts.executors {
            for f in m.frameworks.values() {
                for (aid, execs) in &f.executors {
                    for (info, _, _) in execs.values() {
                        let mut info = info.clone();
                        info.framework_id = Some(f.id.clone());
                        v.executors.push((aid.clone(), info));
                    }
                }
            }
        }
        if parts.tasks {
            for f in m.frameworks.values() {
                v.tasks.extend(f.tasks.values().map(TaskView::of));
                v.completed_tasks
                    .extend(f.completed_tasks.iter().map(TaskView::of));
            }
            for f in &m.completed_frameworks {
                v.completed_tasks
                    .extend(f.completed_tasks.iter().map(TaskView::of));
            }
        }
        v
    }

    pub fn agents_json(&self) -> Json {
        let mut o = Map::new();
        let agents: Vec<Json> = self.agents.iter().map(AgentView::json).collect();
        put(&mut o, "agents", &agents);
        Json::Object(o)
    }

    pub fn frameworks_json(&self) -> Json {
        let mut o = Map::new();
        let live: Vec<Json> = self.frameworks.iter().map(FrameworkView::json).collect();
        let done: Vec<Json> = self
            .completed_frameworks
            .iter()
            .map(FrameworkView::json)
            .collect();
        put(&mut o, "frameworks", &live);
        put(&mut o, "completed_frameworks", &done);
        Json::Object(o)
    }

    pub fn executors_json(&self) -> Json {
        let mut o = Map::new();
        let execs: Vec<Json> = self
            .executors
            .iter()
            .map(|(aid, info)| json!({"executor_info": info, "agent_id": aid}))
            .collect();
        put(&mut o, "executors", &execs);
        Json::Object(o)
    }

    /// Live tasks go to `tasks`, or to `unreachable_tasks` while their
    /// agent is unreachable.
    pub fn tasks_json(&self) -> Json {
        let (unreachable, live): (Vec<&TaskView>, Vec<&TaskView>) = self
            .tasks
            .iter()
            .map(|t| &**t)
            .partition(|t| t.state == TaskState::TASK_UNREACHABLE);
        let mut o = Map::new();
        let render = |ts: Vec<&TaskView>| ts.into_iter().map(TaskView::json).collect::<Vec<_>>();
        put(&mut o, "tasks", &render(live));
        put(&mut o, "unreachable_tasks", &render(unreachable));
        put(
            &mut o,
            "completed_tasks",
            &render(self.completed_tasks.iter().map(|t| &**t).collect()),
        );
        Json::Object(o)
    }

    /// `Response.GetState`.
    pub fn state_json(&self) -> Json {
        json!({
            "get_tasks": self.tasks_json(),
            "get_executors": self.executors_json(),
            "get_frameworks": self.frameworks_json(),
            "get_agents": self.agents_json(),
        })
    }
}
