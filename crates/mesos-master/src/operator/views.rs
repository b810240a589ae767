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
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// `mesos.v1.Task`, written straight to the output: GET_STATE and
/// GET_TASKS serialize 200k of these without building a value tree.
impl serde::Serialize for TaskView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut o = s.serialize_map(None)?;
        // Keys in the order a `serde_json::Map` keeps them (sorted), as
        // this view used to be rendered; absent and empty ones left out.
        fn opt<M: SerializeMap, T: serde::Serialize>(
            o: &mut M,
            k: &str,
            v: &Option<T>,
        ) -> Result<(), M::Error> {
            match v {
                Some(v) => o.serialize_entry(k, v),
                None => Ok(()),
            }
        }
        o.serialize_entry("agent_id", &self.agent_id)?;
        opt(&mut o, "check", &self.check)?;
        opt(&mut o, "container", &self.container)?;
        opt(&mut o, "discovery", &self.discovery)?;
        opt(&mut o, "executor_id", &self.executor_id)?;
        o.serialize_entry("framework_id", &self.framework_id)?;
        opt(&mut o, "health_check", &self.health_check)?;
        opt(&mut o, "kill_policy", &self.kill_policy)?;
        opt(&mut o, "labels", &self.labels)?;
        o.serialize_entry("name", &self.name)?;
        if !self.resources.is_empty() {
            o.serialize_entry("resources", self.resources.as_slice())?;
        }
        o.serialize_entry("state", &self.state)?;
        opt(&mut o, "status_update_state", &self.status_update_state)?;
        opt(&mut o, "status_update_uuid", &self.status_update_uuid)?;
        if !self.statuses.is_empty() {
            o.serialize_entry("statuses", &self.statuses)?;
        }
        o.serialize_entry("task_id", &self.task_id)?;
        opt(&mut o, "user", &self.user)?;
        o.end()
    }
}

/// `Response.GetTasks`, serialized as it is written.
pub struct TasksBody<'a> {
    live: Vec<&'a TaskView>,
    unreachable: Vec<&'a TaskView>,
    completed: Vec<&'a TaskView>,
}

impl serde::Serialize for TasksBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut o = s.serialize_map(None)?;
        for (k, v) in [
            ("completed_tasks", &self.completed),
            ("tasks", &self.live),
            ("unreachable_tasks", &self.unreachable),
        ] {
            if !v.is_empty() {
                o.serialize_entry(k, v)?;
            }
        }
        o.end()
    }
}

/// `Response.GetState`: the tasks streamed, the rest as values.
pub struct StateBody<'a> {
    tasks: TasksBody<'a>,
    executors: Json,
    frameworks: Json,
    agents: Json,
}

impl serde::Serialize for StateBody<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut o = s.serialize_map(Some(4))?;
        o.serialize_entry("get_agents", &self.agents)?;
        o.serialize_entry("get_executors", &self.executors)?;
        o.serialize_entry("get_frameworks", &self.frameworks)?;
        o.serialize_entry("get_tasks", &self.tasks)?;
        o.end()
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
    pub fn tasks_body(&self) -> TasksBody<'_> {
        let (unreachable, live): (Vec<&TaskView>, Vec<&TaskView>) = self
            .tasks
            .iter()
            .map(|t| &**t)
            .partition(|t| t.state == TaskState::TASK_UNREACHABLE);
        TasksBody {
            live,
            unreachable,
            completed: self.completed_tasks.iter().map(|t| &**t).collect(),
        }
    }

    /// `Response.GetTasks` as a value.
    pub fn tasks_json(&self) -> Json {
        serde_json::to_value(self.tasks_body()).unwrap_or_default()
    }

    /// `Response.GetState`, to be serialized.
    pub fn state_body(&self) -> StateBody<'_> {
        StateBody {
            tasks: self.tasks_body(),
            executors: self.executors_json(),
            frameworks: self.frameworks_json(),
            agents: self.agents_json(),
        }
    }

    /// `Response.GetState` as a value.
    pub fn state_json(&self) -> Json {
        serde_json::to_value(self.state_body()).unwrap_or_default()
    }
}
