//! The views as they were rendered before snapshots: borrowing from the
//! locked book and writing straight to bytes, all while the lock is held.
//! Not served: the reference the snapshots' output is compared with, byte
//! for byte (tests, tasks rendered afresh), and the "before" of the P11
//! benchmark (tasks' cached JSON copied, as the endpoint used to).

use super::{
    BUILD_DATE, BUILD_TIME, BUILD_USER, GIT_BRANCH, GIT_SHA, RenderTask, ResMap, Seq,
    capability_names, labels,
};
use crate::master::{AgentEntry, FrameworkEntry, Master, TaskEntry};
use mesos_types::*;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// A task: its cached JSON, or rendered afresh (`fresh`).
pub struct TaskView<'a>(pub &'a TaskEntry, pub bool);

impl Serialize for TaskView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.1 {
            RenderTask(self.0, &ResMap::of(self.0.resources.iter())).serialize(s)
        } else {
            super::RenderedTask::of(self.0).json().serialize(s)
        }
    }
}

/// A framework (spec 6.4).
pub struct FrameworkView<'a> {
    pub m: &'a Master,
    pub f: &'a FrameworkEntry,
    pub fresh: bool,
}

impl Serialize for FrameworkView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (m, f, fresh) = (self.m, self.f, self.fresh);
        let mut used = ResMap::of(
            f.tasks
                .values()
                .filter(|t| !t.resources_released)
                .flat_map(|t| t.resources.iter()),
        );
        used.extend(
            f.executors
                .values()
                .flat_map(|e| e.values())
                .flat_map(|(_, r, _)| r.iter()),
        );
        let offers: Vec<_> = f
            .offers
            .iter()
            .filter_map(|oid| m.offers.get(oid))
            .collect();
        let offered = ResMap::of(offers.iter().flat_map(|o| o.resources.iter()));
        let mut total = ResMap::default();
        total.merge(&used);
        total.merge(&offered);
        let mut tasks: Vec<&TaskEntry> = f.tasks.values().collect();
        tasks.sort_unstable_by(|a, b| a.info.task_id.cmp(&b.info.task_id));

        let mut o = s.serialize_map(None)?;
        o.serialize_entry("id", &f.id.value)?;
        o.serialize_entry("name", &f.info.name)?;
        o.serialize_entry("used_resources", &used)?;
        o.serialize_entry("offered_resources", &offered)?;
        o.serialize_entry("resources", &total)?;
        o.serialize_entry("capabilities", &capability_names(&f.info))?;
        o.serialize_entry("hostname", f.info.hostname.as_deref().unwrap_or(""))?;
        o.serialize_entry("webui_url", f.info.webui_url.as_deref().unwrap_or(""))?;
        o.serialize_entry("active", &f.connected())?;
        o.serialize_entry("connected", &f.connected())?;
        // A framework known only from tasks re-reported by agents.
        o.serialize_entry("recovered", &f.recovered)?;
        o.serialize_entry("user", &f.info.user)?;
        o.serialize_entry("failover_timeout", &f.info.failover_timeout)?;
        o.serialize_entry("checkpoint", &f.info.checkpoint)?;
        o.serialize_entry("registered_time", &f.registered_time)?;
        o.serialize_entry("unregistered_time", &f.unregistered_time)?;
        if let Some(t) = f.reregistered_time {
            o.serialize_entry("reregistered_time", &t)?;
        }
        if let Some(p) = &f.info.principal {
            o.serialize_entry("principal", p)?;
        }
        if f.info.has_capability(FrameworkCapability::MULTI_ROLE) {
            o.serialize_entry("roles", &f.info.roles)?;
        } else {
            o.serialize_entry("role", f.info.role.as_deref().unwrap_or("*"))?;
        }
        // Tasks of a partition-aware framework whose agent is unreachable
        // are listed apart, as in Mesos.
        let unreachable = |t: &&&TaskEntry| t.state == TaskState::TASK_UNREACHABLE;
        o.serialize_entry(
            "tasks",
            &Seq(tasks
                .iter()
                .filter(|t| !unreachable(t))
                .map(|t| TaskView(t, fresh))),
        )?;
        o.serialize_entry(
            "unreachable_tasks",
            &Seq(tasks.iter().filter(unreachable).map(|t| TaskView(t, fresh))),
        )?;
        o.serialize_entry(
            "completed_tasks",
            &Seq(f.completed_tasks.iter().map(|t| TaskView(t, fresh))),
        )?;
        let offer_views: Vec<Json> = offers
            .iter()
            .map(|x| {
                json!({"id": x.offer.id.value, "framework_id": f.id.value, "allocation_info": {"role": x.role},
                       "slave_id": x.agent_id.value, "resources": ResMap::of(x.resources.iter())})
            })
            .collect();
        o.serialize_entry("offers", &offer_views)?;
        let execs: Vec<Json> = f
            .executors
            .iter()
            .flat_map(|(aid, e)| {
                e.values().map(move |(e, r, role)| {
                    json!({"executor_id": e.executor_id.value, "name": e.name.clone().unwrap_or_default(), "framework_id": f.id.value,
                           "command": e.command, "resources": ResMap::of(r.iter()), "role": role, "slave_id": aid.value,
                           "type": e.kind.map(|k| k.as_str()).unwrap_or("CUSTOM")})
                })
            })
            .collect();
        o.serialize_entry("executors", &execs)?;
        if let Some(l) = &f.info.labels {
            o.serialize_entry("labels", labels(l))?;
        }
        o.serialize_entry("offer_constraints", &json!({}))?;
        o.end()
    }
}

/// An agent (spec 6.3).
pub struct AgentView<'a> {
    pub m: &'a Master,
    pub a: &'a AgentEntry,
}

impl Serialize for AgentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (m, a) = (self.m, self.a);
        // The allocator keeps each agent's free resources incrementally, so
        // used = total - free - offered needs no walk over the agent's tasks.
        let mut offered_res = Resources::new();
        for o in a.offers.iter().filter_map(|oid| m.offers.get(oid)) {
            offered_res.add(&o.resources.unallocated());
        }
        let free = m.allocator.available(&a.id).unwrap_or_default();
        let used_full = a.total.minus(&free).minus(&offered_res);
        let used = ResMap::of(used_full.iter());
        let offered = ResMap::of(offered_res.iter());
        let mut reserved: BTreeMap<&str, ResMap> = BTreeMap::new();
        for r in a.total.iter().filter(|r| !r.is_unreserved()) {
            reserved.entry(r.reservation_role()).or_default().add(r);
        }
        let unreserved = ResMap::of(a.total.iter().filter(|r| r.is_unreserved()));
        let attrs: Map<String, Json> = a
            .info
            .attributes
            .iter()
            .map(|x| (x.name.clone(), x.json_value()))
            .collect();

        let mut o = s.serialize_map(None)?;
        o.serialize_entry("id", &a.id.value)?;
        o.serialize_entry("hostname", &a.info.hostname)?;
        o.serialize_entry("port", &a.info.port)?;
        o.serialize_entry("attributes", &attrs)?;
        o.serialize_entry("pid", &a.pid())?;
        o.serialize_entry("registered_time", &a.registered_time)?;
        if let Some(t) = a.reregistered_time {
            o.serialize_entry("reregistered_time", &t)?;
        }
        o.serialize_entry("resources", &ResMap::of(a.total.iter()))?;
        o.serialize_entry("used_resources", &used)?;
        o.serialize_entry("offered_resources", &offered)?;
        o.serialize_entry("used_resources_full", used_full.as_slice())?;
        o.serialize_entry("offered_resources_full", offered_res.as_slice())?;
        o.serialize_entry("reserved_resources", &reserved)?;
        o.serialize_entry("unreserved_resources", &unreserved)?;
        let (full, unreserved_full) = super::snapshot::full_resources(&a.total);
        o.serialize_entry("reserved_resources_full", &full)?;
        o.serialize_entry("unreserved_resources_full", &unreserved_full)?;
        o.serialize_entry("active", &a.connected())?;
        let state = m.agent_states.get(&a.id);
        o.serialize_entry("deactivated", &state.is_some_and(|s| s.deactivated))?;
        if let Some(d) = state.and_then(|s| s.drain_info.as_ref()) {
            o.serialize_entry("drain_info", d)?;
        }
        o.serialize_entry("version", &a.version)?;
        o.serialize_entry(
            "capabilities",
            &["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
        )?;
        o.end()
    }
}

/// `/master/state` (spec 6.2), serialized to bytes.
pub fn state(
    m: &Master,
    flags: &BTreeMap<String, String>,
    cluster: Option<&str>,
    fresh: bool,
) -> Vec<u8> {
    let mut agents: Vec<&AgentEntry> = m.agents.values().collect();
    agents.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let mut fws: Vec<&FrameworkEntry> = m.frameworks.values().collect();
    fws.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let activated = agents.iter().filter(|a| a.connected()).count();
    let recovered: Vec<Json> = m
        .recovering_agents
        .iter()
        .map(|id| json!({"id": id.value}))
        .collect();

    let mut out = Vec::with_capacity(1 << 20);
    let mut ser = serde_json::Serializer::new(&mut out);
    let write = |ser: &mut serde_json::Serializer<&mut Vec<u8>>| -> Result<(), serde_json::Error> {
        let mut o = ser.serialize_map(None)?;
        o.serialize_entry("version", MESOS_VERSION)?;
        for (k, v) in [("git_sha", GIT_SHA), ("git_branch", GIT_BRANCH)] {
            if let Some(v) = v {
                o.serialize_entry(k, v)?;
            }
        }
        o.serialize_entry("build_date", BUILD_DATE)?;
        o.serialize_entry("build_time", &BUILD_TIME)?;
        o.serialize_entry("build_user", BUILD_USER)?;
        o.serialize_entry("start_time", &m.start_time)?;
        if let Some(t) = &m.elected_time {
            o.serialize_entry("elected_time", t)?;
        }
        o.serialize_entry("id", &m.info.id)?;
        o.serialize_entry("pid", &m.info.pid)?;
        o.serialize_entry("hostname", &m.info.hostname)?;
        o.serialize_entry(
            "capabilities",
            &["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        )?;
        o.serialize_entry("activated_slaves", &activated)?;
        o.serialize_entry("deactivated_slaves", &(agents.len() - activated))?;
        o.serialize_entry("unreachable_slaves", &m.unreachable_agents.len())?;
        if let Some(l) = &m.leader {
            o.serialize_entry("leader", &l.pid)?;
            o.serialize_entry("leader_info", &super::leader_info(l))?;
        }
        if let Some(c) = cluster {
            o.serialize_entry("cluster", c)?;
        }
        if let Some(d) = flags.get("log_dir") {
            o.serialize_entry("log_dir", d)?;
        }
        o.serialize_entry("flags", flags)?;
        o.serialize_entry("slaves", &Seq(agents.iter().map(|a| AgentView { m, a })))?;
        o.serialize_entry("recovered_slaves", &recovered)?;
        o.serialize_entry(
            "frameworks",
            &Seq(fws.iter().map(|f| FrameworkView { m, f, fresh })),
        )?;
        o.serialize_entry(
            "completed_frameworks",
            &Seq(m
                .completed_frameworks
                .iter()
                .map(|f| FrameworkView { m, f, fresh })),
        )?;
        o.serialize_entry("orphan_tasks", &[(); 0])?;
        o.serialize_entry("unregistered_frameworks", &[(); 0])?;
        SerializeMap::end(o)
    };
    if let Err(e) = write(&mut ser) {
        tracing::error!("rendering state failed: {e}");
    }
    out
}

#[derive(Serialize)]
struct FrameworksBody<'a> {
    frameworks: Vec<FrameworkView<'a>>,
    completed_frameworks: Vec<FrameworkView<'a>>,
    unregistered_frameworks: [(); 0],
}

#[derive(Serialize)]
struct AgentsBody<'a> {
    slaves: Vec<AgentView<'a>>,
    recovered_slaves: [(); 0],
}

#[derive(Serialize)]
struct TasksBody<'a> {
    tasks: Vec<TaskView<'a>>,
}

fn to_bytes(v: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|e| {
        tracing::error!("rendering failed: {e}");
        b"{}".to_vec()
    })
}

/// `/master/frameworks?framework_id=`.
pub fn frameworks(m: &Master, only: Option<&str>, fresh: bool) -> Vec<u8> {
    let keep = |id: &str| only.is_none_or(|f| f == id);
    to_bytes(&FrameworksBody {
        frameworks: m
            .frameworks
            .values()
            .filter(|f| keep(&f.id.value))
            .map(|f| FrameworkView { m, f, fresh })
            .collect(),
        completed_frameworks: m
            .completed_frameworks
            .iter()
            .filter(|f| keep(&f.id.value))
            .map(|f| FrameworkView { m, f, fresh })
            .collect(),
        unregistered_frameworks: [],
    })
}

/// `/master/slaves?slave_id=`.
pub fn agents(m: &Master, only: Option<&str>) -> Vec<u8> {
    let keep = |id: &str| only.is_none_or(|f| f == id);
    to_bytes(&AgentsBody {
        slaves: m
            .agents
            .values()
            .filter(|a| keep(&a.id.value))
            .map(|a| AgentView { m, a })
            .collect(),
        recovered_slaves: [],
    })
}

/// `/master/tasks?framework_id=&task_id=&limit=100&offset=0&order=desc`.
pub fn tasks(m: &Master, q: &BTreeMap<String, String>, fresh: bool) -> Result<Vec<u8>, String> {
    let limit: usize = q
        .get("limit")
        .map(|v| v.parse().map_err(|_| format!("invalid limit '{v}'")))
        .transpose()?
        .unwrap_or(100);
    let offset: usize = q
        .get("offset")
        .map(|v| v.parse().map_err(|_| format!("invalid offset '{v}'")))
        .transpose()?
        .unwrap_or(0);
    let asc = match q.get("order").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => return Err(format!("invalid order '{o}': expected 'asc' or 'desc'")),
    };
    let mut all: Vec<&TaskEntry> = Vec::new();
    for f in m.frameworks.values().chain(m.completed_frameworks.iter()) {
        if q.get("framework_id").is_some_and(|id| id != &f.id.value) {
            continue;
        }
        all.extend(f.tasks.values().chain(f.completed_tasks.iter()));
    }
    if let Some(tid) = q.get("task_id") {
        all.retain(|t| &t.info.task_id.value == tid);
    }
    let first = |t: &TaskEntry| {
        t.statuses
            .first()
            .and_then(|s| s.timestamp)
            .unwrap_or(f64::MAX)
    };
    all.sort_by(|a, b| {
        first(a)
            .total_cmp(&first(b))
            .then_with(|| a.info.task_id.cmp(&b.info.task_id))
    });
    if !asc {
        all.reverse();
    }
    Ok(to_bytes(&TasksBody {
        tasks: all
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|t| TaskView(t, fresh))
            .collect(),
    }))
}
