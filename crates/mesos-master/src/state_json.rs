//! The legacy JSON views of the master: `/master/state`, `/frameworks`,
//! `/slaves`, `/tasks` and `/metrics/snapshot` (spec 6.1-6.7). Rendered from
//! the book on request; field names follow Mesos's `src/common/http.cpp`.

use crate::master::{AgentEntry, FrameworkEntry, Master, TaskEntry};
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// Build facts reported by `/version` and state.
pub const BUILD_DATE: &str = "2026-11-21 00:00:00";
pub const BUILD_TIME: f64 = 1_795_219_200.0;
pub const BUILD_USER: &str = "rust";

pub fn version() -> Json {
    json!({"version": MESOS_VERSION, "build_date": BUILD_DATE, "build_time": BUILD_TIME, "build_user": BUILD_USER})
}

fn map(r: &Resources) -> Json {
    Json::Object(r.to_map())
}

pub fn task(t: &TaskEntry) -> Json {
    let mut o = Map::new();
    o.insert("id".into(), json!(t.info.task_id.value));
    o.insert("name".into(), json!(t.info.name));
    o.insert("framework_id".into(), json!(t.framework_id.value));
    o.insert(
        "executor_id".into(),
        json!(
            t.info
                .executor
                .as_ref()
                .map(|e| e.executor_id.value.clone())
                .unwrap_or_default()
        ),
    );
    o.insert("slave_id".into(), json!(t.agent_id.value));
    o.insert("state".into(), json!(t.state.as_str()));
    o.insert("resources".into(), map(&t.resources.unallocated()));
    o.insert("role".into(), json!(t.role));
    let statuses: Vec<Json> = t
        .statuses
        .iter()
        .map(|s| {
            let mut x = Map::new();
            x.insert("state".into(), json!(s.state.as_str()));
            x.insert("timestamp".into(), json!(s.timestamp.unwrap_or(0.0)));
            if let Some(c) = &s.container_status {
                x.insert(
                    "container_status".into(),
                    serde_json::to_value(c).unwrap_or(Json::Null),
                );
            }
            if let Some(h) = s.healthy {
                x.insert("healthy".into(), json!(h));
            }
            if let Some(l) = &s.labels {
                x.insert(
                    "labels".into(),
                    l.get("labels").cloned().unwrap_or_else(|| l.clone()),
                );
            }
            Json::Object(x)
        })
        .collect();
    o.insert("statuses".into(), Json::Array(statuses));
    if let Some(u) = &t.user {
        o.insert("user".into(), json!(u));
    }
    for (k, v) in [
        ("labels", &t.info.labels),
        ("discovery", &t.info.discovery),
        ("container", &t.info.container),
        ("health_check", &t.info.health_check),
    ] {
        if let Some(v) = v {
            let v = if k == "labels" {
                v.get("labels").cloned().unwrap_or_else(|| v.clone())
            } else {
                v.clone()
            };
            o.insert(k.into(), v);
        }
    }
    Json::Object(o)
}

fn capabilities(info: &FrameworkInfo) -> Json {
    Json::Array(
        info.capabilities
            .iter()
            .filter_map(|c| c.kind)
            .map(|k| json!(k.as_str()))
            .collect(),
    )
}

pub fn framework(m: &Master, f: &FrameworkEntry) -> Json {
    let mut used = Resources::new();
    for t in f.tasks.values().filter(|t| !t.resources_released) {
        used.add(&t.resources.unallocated());
    }
    for execs in f.executors.values() {
        for (_, r, _) in execs.values() {
            used.add(&r.unallocated());
        }
    }
    let mut offered = Resources::new();
    let offers: Vec<Json> = f
        .offers
        .iter()
        .filter_map(|oid| m.offers.get(oid))
        .map(|o| {
            offered.add(&o.resources.unallocated());
            json!({"id": o.offer.id.value, "framework_id": f.id.value, "allocation_info": {"role": o.role},
                   "slave_id": o.agent_id.value, "resources": map(&o.resources.unallocated())})
        })
        .collect();
    let mut o = Map::new();
    o.insert("id".into(), json!(f.id.value));
    o.insert("name".into(), json!(f.info.name));
    o.insert("used_resources".into(), map(&used));
    o.insert("offered_resources".into(), map(&offered));
    o.insert("resources".into(), map(&used.plus(&offered)));
    o.insert("capabilities".into(), capabilities(&f.info));
    o.insert(
        "hostname".into(),
        json!(f.info.hostname.clone().unwrap_or_default()),
    );
    o.insert(
        "webui_url".into(),
        json!(f.info.webui_url.clone().unwrap_or_default()),
    );
    o.insert("active".into(), json!(f.connected()));
    o.insert("connected".into(), json!(f.connected()));
    o.insert("recovered".into(), json!(f.info.name.is_empty()));
    o.insert("user".into(), json!(f.info.user));
    o.insert("failover_timeout".into(), json!(f.info.failover_timeout));
    o.insert("checkpoint".into(), json!(f.info.checkpoint));
    o.insert("registered_time".into(), json!(f.registered_time));
    o.insert("unregistered_time".into(), json!(f.unregistered_time));
    if let Some(t) = f.reregistered_time {
        o.insert("reregistered_time".into(), json!(t));
    }
    if let Some(p) = &f.info.principal {
        o.insert("principal".into(), json!(p));
    }
    if f.info.has_capability(FrameworkCapability::MULTI_ROLE) {
        o.insert("roles".into(), json!(f.info.roles));
    } else {
        o.insert(
            "role".into(),
            json!(f.info.role.clone().unwrap_or_else(|| "*".into())),
        );
    }
    let mut tasks: Vec<&TaskEntry> = f.tasks.values().collect();
    tasks.sort_by(|a, b| a.info.task_id.cmp(&b.info.task_id));
    o.insert(
        "tasks".into(),
        Json::Array(tasks.into_iter().map(task).collect()),
    );
    o.insert("unreachable_tasks".into(), json!([]));
    o.insert(
        "completed_tasks".into(),
        Json::Array(f.completed_tasks.iter().map(task).collect()),
    );
    o.insert("offers".into(), Json::Array(offers));
    let execs: Vec<Json> = f
        .executors
        .iter()
        .flat_map(|(aid, m)| {
            m.values().map(move |(e, r, role)| {
                json!({"executor_id": e.executor_id.value, "name": e.name.clone().unwrap_or_default(), "framework_id": f.id.value,
                       "command": e.command, "resources": map(&r.unallocated()), "role": role, "slave_id": aid.value,
                       "type": e.kind.map(|k| k.as_str()).unwrap_or("CUSTOM")})
            })
        })
        .collect();
    o.insert("executors".into(), Json::Array(execs));
    if let Some(l) = &f.info.labels {
        o.insert(
            "labels".into(),
            l.get("labels").cloned().unwrap_or_else(|| l.clone()),
        );
    }
    o.insert("offer_constraints".into(), json!({}));
    Json::Object(o)
}

pub fn agent(m: &Master, a: &AgentEntry) -> Json {
    let used = a.used_resources(m).unallocated();
    let mut offered = Resources::new();
    for oid in &a.offers {
        if let Some(o) = m.offers.get(oid) {
            offered.add(&o.resources.unallocated());
        }
    }
    let mut reserved: BTreeMap<String, Resources> = BTreeMap::new();
    let mut unreserved = Resources::new();
    for r in a.total.iter() {
        if r.is_unreserved() {
            unreserved.add_one(r.clone());
        } else {
            reserved
                .entry(r.reservation_role().to_string())
                .or_default()
                .add_one(r.clone());
        }
    }
    let attrs: Map<String, Json> = a
        .info
        .attributes
        .iter()
        .map(|x| (x.name.clone(), x.json_value()))
        .collect();
    let mut o = Map::new();
    o.insert("id".into(), json!(a.id.value));
    o.insert("hostname".into(), json!(a.info.hostname));
    o.insert("port".into(), json!(a.info.port));
    o.insert("attributes".into(), Json::Object(attrs));
    o.insert("pid".into(), json!(a.pid()));
    o.insert("registered_time".into(), json!(a.registered_time));
    if let Some(t) = a.reregistered_time {
        o.insert("reregistered_time".into(), json!(t));
    }
    o.insert("resources".into(), map(&a.total));
    o.insert("used_resources".into(), map(&used));
    o.insert("offered_resources".into(), map(&offered));
    o.insert(
        "reserved_resources".into(),
        Json::Object(reserved.iter().map(|(k, v)| (k.clone(), map(v))).collect()),
    );
    o.insert("unreserved_resources".into(), map(&unreserved));
    o.insert("active".into(), json!(a.connected()));
    o.insert("deactivated".into(), json!(false));
    o.insert("version".into(), json!(a.version));
    o.insert(
        "capabilities".into(),
        json!(["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"]),
    );
    Json::Object(o)
}

fn leader_info(m: &Master) -> Json {
    json!({"id": m.info.id, "pid": m.info.pid, "port": m.info.port, "hostname": m.info.hostname})
}

pub fn state(m: &Master, flags: &BTreeMap<String, String>, cluster: Option<&str>) -> Json {
    let mut agents: Vec<&AgentEntry> = m.agents.values().collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    let mut fws: Vec<&FrameworkEntry> = m.frameworks.values().collect();
    fws.sort_by(|a, b| a.id.cmp(&b.id));
    let activated = agents.iter().filter(|a| a.connected()).count();
    let mut o = Map::new();
    if let Json::Object(v) = version() {
        o.extend(v);
    }
    o.insert("start_time".into(), json!(m.start_time));
    o.insert("elected_time".into(), json!(m.elected_time));
    o.insert("id".into(), json!(m.info.id));
    o.insert("pid".into(), json!(m.info.pid));
    o.insert("hostname".into(), json!(m.info.hostname));
    o.insert(
        "capabilities".into(),
        json!(["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]),
    );
    o.insert("activated_slaves".into(), json!(activated));
    o.insert("deactivated_slaves".into(), json!(agents.len() - activated));
    o.insert("unreachable_slaves".into(), json!(0));
    o.insert("leader".into(), json!(m.info.pid));
    o.insert("leader_info".into(), leader_info(m));
    if let Some(c) = cluster {
        o.insert("cluster".into(), json!(c));
    }
    o.insert("flags".into(), json!(flags));
    o.insert(
        "slaves".into(),
        Json::Array(agents.iter().map(|a| agent(m, a)).collect()),
    );
    o.insert(
        "recovered_slaves".into(),
        Json::Array(
            m.recovering_agents
                .iter()
                .map(|id| json!({"id": id.value}))
                .collect(),
        ),
    );
    o.insert(
        "frameworks".into(),
        Json::Array(fws.iter().map(|f| framework(m, f)).collect()),
    );
    o.insert(
        "completed_frameworks".into(),
        Json::Array(
            m.completed_frameworks
                .iter()
                .map(|f| framework(m, f))
                .collect(),
        ),
    );
    o.insert("orphan_tasks".into(), json!([]));
    o.insert("unregistered_frameworks".into(), json!([]));
    Json::Object(o)
}

/// `/master/tasks?framework_id=&task_id=&limit=100&offset=0&order=desc`.
pub fn tasks(m: &Master, q: &BTreeMap<String, String>) -> Result<Json, String> {
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
    Ok(json!({"tasks": all.into_iter().skip(offset).take(limit).map(task).collect::<Vec<_>>()}))
}

pub fn metrics(m: &Master, now: f64) -> Json {
    let mut o = Map::new();
    let mut put = |k: &str, v: f64| {
        o.insert(k.to_string(), json!(v));
    };
    put("master/elected", 1.0);
    put("master/uptime_secs", now - m.start_time);
    let active = m.agents.values().filter(|a| a.connected()).count() as f64;
    put("master/slaves_active", active);
    put("master/slaves_connected", active);
    put("master/slaves_inactive", m.agents.len() as f64 - active);
    put("master/slaves_disconnected", m.agents.len() as f64 - active);
    put("master/slaves_unreachable", 0.0);
    let fa = m.frameworks.values().filter(|f| f.connected()).count() as f64;
    put("master/frameworks_active", fa);
    put("master/frameworks_connected", fa);
    put("master/frameworks_inactive", m.frameworks.len() as f64 - fa);
    put(
        "master/frameworks_disconnected",
        m.frameworks.len() as f64 - fa,
    );
    put("master/outstanding_offers", m.offers.len() as f64);
    let mut counts: BTreeMap<&'static str, f64> = BTreeMap::new();
    for s in TaskState::ALL {
        counts.insert(s.as_str(), 0.0);
    }
    for f in m.frameworks.values().chain(m.completed_frameworks.iter()) {
        for t in f.tasks.values().chain(f.completed_tasks.iter()) {
            *counts.entry(t.state.as_str()).or_default() += 1.0;
        }
    }
    for (k, v) in counts {
        put(
            &format!(
                "master/tasks_{}",
                k.trim_start_matches("TASK_").to_lowercase()
            ),
            v,
        );
    }
    let (total, used, _) = m.cluster_resources();
    for r in ["cpus", "gpus", "mem", "disk"] {
        let (t, u) = (total.scalar(r), used.scalar(r));
        put(&format!("master/{r}_total"), t);
        put(&format!("master/{r}_used"), u);
        put(
            &format!("master/{r}_percent"),
            if t > 0.0 { u / t } else { 0.0 },
        );
    }
    let c = &m.counters;
    put("master/valid_status_updates", c.valid_status_updates as f64);
    put(
        "master/invalid_status_updates",
        c.invalid_status_updates as f64,
    );
    put(
        "master/valid_status_update_acknowledgements",
        c.valid_acks as f64,
    );
    put(
        "master/invalid_status_update_acknowledgements",
        c.invalid_acks as f64,
    );
    put("master/messages_launch_tasks", c.launched_tasks as f64);
    put("master/slave_registrations", c.agent_registrations as f64);
    put(
        "master/slave_reregistrations",
        c.agent_reregistrations as f64,
    );
    put("allocator/mesos/allocation_runs", c.allocation_runs as f64);
    let live = m
        .frameworks
        .values()
        .flat_map(|f| f.tasks.values())
        .filter(|t| !is_terminal(t.state))
        .count();
    put("master/tasks_active", live as f64);
    Json::Object(o)
}
