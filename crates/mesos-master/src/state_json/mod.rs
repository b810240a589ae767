//! The legacy JSON views of the master: `/master/state`, `/frameworks`,
//! `/slaves`, `/tasks` and `/metrics/snapshot` (spec 6.1-6.7).
//!
//! Field names follow Mesos's `src/common/http.cpp`. The big views are not
//! rendered while the book is locked (P11: at 10k agents and 200k tasks
//! `/master/state` is ~80 MiB): under the lock a [`Snapshot`] takes what
//! the views show, in time close to the number of things that changed since
//! the last request (each task's JSON is cached until the task changes and
//! shared by reference; agents and frameworks are copied, they are few),
//! and the document is written from the snapshot outside the lock, on a
//! blocking thread ([`serve`]). Concurrent `/master/state` requests share
//! one rendering.

mod metrics;
mod roles;
mod rope;
mod serve;
mod snapshot;
mod summary;
mod task_arrays;

/// The views as they were rendered before snapshots (under the lock):
/// the reference for tests and for the P11 benchmark.
#[doc(hidden)]
pub mod direct;
#[cfg(test)]
mod tests;

pub use mesos_daemon::system::system as system_metrics;
pub use metrics::{metrics, task_counts};
pub use roles::{RolesSnapshot, weights};
pub use serve::{
    rendering_slot, serve_agents, serve_frameworks, serve_roles, serve_state, serve_summary,
    serve_tasks,
};
pub use snapshot::{
    AgentsSnapshot, Document, FrameworksSnapshot, RenderedAgent, StateSnapshot, TasksQuery,
    TasksSnapshot,
};
pub use summary::SummarySnapshot;
pub use task_arrays::TaskArraysCache;

/// `leader_info` of `/master/state`: the leader's `MasterInfo` as JSON.
pub(crate) fn leader_info(leader: &mesos_types::MasterInfo) -> Json {
    serde_json::to_value(leader).unwrap_or_default()
}

use crate::master::{Master, TaskEntry};
use mesos_types::values::{Ranges, from_milli, to_milli};
use mesos_types::*;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::Value as Json;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use mesos_daemon::build_info::{
    BUILD_DATE, BUILD_TIME, BUILD_USER, GIT_BRANCH, GIT_SHA, version,
};

/// The legacy resource map, accumulated from borrowed resources: always
/// `cpus`, `gpus`, `mem`, `disk`; other scalars by name; ranges as
/// `"[a-b, c-d]"`; sets as `"{a, b}"`; revocable ones under `<name>_revocable`.
///
/// Sums are exact (scalars in thousandths, ranges and sets as unions), so
/// adding resources one by one or merging partial maps gives the same map.
#[derive(Debug, Default, Clone)]
pub struct ResMap {
    standard: [i64; 4],
    scalars: BTreeMap<String, i64>,
    ranges: BTreeMap<String, Ranges>,
    sets: BTreeMap<String, BTreeSet<String>>,
}

const STANDARD: [&str; 4] = ["cpus", "gpus", "mem", "disk"];

impl ResMap {
    pub fn of<'a>(items: impl IntoIterator<Item = &'a Resource>) -> ResMap {
        let mut m = ResMap::default();
        m.extend(items);
        m
    }

    pub fn extend<'a>(&mut self, items: impl IntoIterator<Item = &'a Resource>) {
        for r in items {
            self.add(r);
        }
    }

    fn add(&mut self, r: &Resource) {
        let revocable = r.revocable.is_some();
        match r.kind {
            ValueType::SCALAR => {
                let v = to_milli(r.scalar.unwrap_or_default().value);
                match STANDARD.iter().position(|n| *n == r.name) {
                    Some(i) if !revocable => self.standard[i] += v,
                    _ => *self.scalars.entry(key(r, revocable)).or_default() += v,
                }
            }
            ValueType::RANGES => {
                let e = self.ranges.entry(key(r, revocable)).or_default();
                *e = e.add(r.ranges.as_ref().unwrap_or(&Ranges::default()));
            }
            ValueType::SET => {
                self.sets
                    .entry(key(r, revocable))
                    .or_default()
                    .extend(r.set.iter().flat_map(|s| s.item.iter().cloned()));
            }
            ValueType::TEXT => {}
        }
    }

    pub fn merge(&mut self, other: &ResMap) {
        for i in 0..4 {
            self.standard[i] += other.standard[i];
        }
        self.merge_named(other);
    }

    /// Merges all but the standard scalars.
    fn merge_named(&mut self, other: &ResMap) {
        for (k, v) in &other.scalars {
            *self.scalars.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.ranges {
            let e = self.ranges.entry(k.clone()).or_default();
            *e = e.add(v);
        }
        for (k, v) in &other.sets {
            self.sets
                .entry(k.clone())
                .or_default()
                .extend(v.iter().cloned());
        }
    }

    fn only_standard(&self) -> bool {
        self.scalars.is_empty() && self.ranges.is_empty() && self.sets.is_empty()
    }
}

fn key(r: &Resource, revocable: bool) -> String {
    if revocable {
        format!("{}_revocable", r.name)
    } else {
        r.name.clone()
    }
}

impl Serialize for ResMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (i, n) in STANDARD.iter().enumerate() {
            m.serialize_entry(n, &from_milli(self.standard[i]))?;
        }
        for (k, v) in &self.scalars {
            m.serialize_entry(k, &from_milli(*v))?;
        }
        for (k, v) in &self.ranges {
            m.serialize_entry(k, &v.render())?;
        }
        for (k, v) in &self.sets {
            m.serialize_entry(
                k,
                &format!("{{{}}}", v.iter().cloned().collect::<Vec<_>>().join(", ")),
            )?;
        }
        m.end()
    }
}

/// A task's resources as a [`ResMap`], compact for the common case of
/// standard scalars only (every cached task keeps one).
#[derive(Debug)]
struct TaskRes {
    standard: [i64; 4],
    other: Option<Box<ResMap>>,
}

impl TaskRes {
    fn new(m: ResMap) -> TaskRes {
        TaskRes {
            standard: m.standard,
            other: (!m.only_standard()).then(|| Box::new(m)),
        }
    }

    fn add_to(&self, m: &mut ResMap) {
        for i in 0..4 {
            m.standard[i] += self.standard[i];
        }
        if let Some(o) = &self.other {
            m.merge_named(o);
        }
    }
}

/// `labels` as the legacy endpoints show them: the array inside `Labels`.
fn labels(v: &Json) -> &Json {
    v.get("labels").unwrap_or(v)
}

struct StatusView<'a>(&'a TaskStatus);

impl Serialize for StatusView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("state", st.state.as_str())?;
        m.serialize_entry("timestamp", &st.timestamp.unwrap_or(0.0))?;
        if let Some(c) = &st.container_status {
            m.serialize_entry("container_status", c)?;
        }
        if let Some(h) = st.healthy {
            m.serialize_entry("healthy", &h)?;
        }
        if let Some(l) = &st.labels {
            m.serialize_entry("labels", labels(l))?;
        }
        m.end()
    }
}

/// A task's legacy JSON (spec 6.5), rendered once and kept in
/// [`TaskEntry::rendered`] until the task changes, with what the views need
/// of the task besides (its id, its first status's time and its resources),
/// so that a snapshot holds the task by reference and nothing else.
#[derive(Debug)]
pub struct RenderedTask {
    json: Box<RawValue>,
    /// End of the id's JSON string in `json`, which starts `{"id":"`.
    id_end: u32,
    /// Whether the id has characters JSON escapes.
    escaped: bool,
    /// Time of the first status, the order of `/tasks`.
    first_status: f64,
    res: TaskRes,
    /// What `/state-summary` and `/roles` count and sum by.
    state: TaskState,
    agent: AgentID,
    role: String,
}

/// Where the id's JSON string starts in a task's JSON (`{"id":`).
const ID_START: usize = 6;

impl RenderedTask {
    /// The task's JSON, cached in the task until it changes.
    pub fn of(t: &TaskEntry) -> Arc<RenderedTask> {
        t.rendered
            .get_or_init(|| Arc::new(RenderedTask::render(t)))
            .clone()
    }

    fn render(t: &TaskEntry) -> RenderedTask {
        let res = ResMap::of(t.resources.iter());
        let json = serde_json::to_string(&RenderTask(t, &res))
            .and_then(RawValue::from_string)
            .unwrap_or_else(|e| {
                tracing::error!(task = %t.info.task_id, "rendering a task failed: {e}");
                let id = Json::String(t.info.task_id.value.clone());
                RawValue::from_string(format!("{{\"id\":{id}}}")).unwrap_or_default()
            });
        let id = &t.info.task_id.value;
        let escaped = id.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
        let quoted = if escaped {
            Json::String(id.clone()).to_string().len()
        } else {
            id.len() + 2
        };
        RenderedTask {
            json,
            id_end: (ID_START + quoted) as u32,
            escaped,
            first_status: t
                .statuses
                .first()
                .and_then(|s| s.timestamp)
                .unwrap_or(f64::MAX),
            res: TaskRes::new(res),
            state: t.state,
            agent: t.agent_id.clone(),
            role: t.role.clone(),
        }
    }

    pub fn json(&self) -> &RawValue {
        &self.json
    }

    /// The task id, as rendered.
    pub fn id(&self) -> Cow<'_, str> {
        let quoted = (self.json.get())
            .get(ID_START..self.id_end as usize)
            .unwrap_or("\"\"");
        if self.escaped {
            Cow::Owned(serde_json::from_str(quoted).unwrap_or_default())
        } else {
            Cow::Borrowed(quoted.get(1..quoted.len() - 1).unwrap_or(""))
        }
    }
}

/// Renders a task from scratch (its resources already summed in `res`).
struct RenderTask<'a>(&'a TaskEntry, &'a ResMap);

impl Serialize for RenderTask<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &t.info.task_id.value)?;
        m.serialize_entry("name", &t.info.name)?;
        m.serialize_entry("framework_id", &t.framework_id.value)?;
        m.serialize_entry(
            "executor_id",
            t.info
                .executor
                .as_ref()
                .map(|e| e.executor_id.value.as_str())
                .unwrap_or(""),
        )?;
        m.serialize_entry("slave_id", &t.agent_id.value)?;
        m.serialize_entry("state", t.state.as_str())?;
        m.serialize_entry("resources", self.1)?;
        m.serialize_entry("role", &t.role)?;
        m.serialize_entry("statuses", &Seq(t.statuses.iter().map(StatusView)))?;
        if let Some(u) = &t.user {
            m.serialize_entry("user", u)?;
        }
        if let Some(l) = &t.info.labels {
            m.serialize_entry("labels", labels(l))?;
        }
        for (k, v) in [
            ("discovery", &t.info.discovery),
            ("container", &t.info.container),
            ("health_check", &t.info.health_check),
        ] {
            if let Some(v) = v {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// Serializes an iterator as a JSON array without collecting it.
struct Seq<I>(I);

impl<I> Serialize for Seq<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for x in self.0.clone() {
            seq.serialize_element(&x)?;
        }
        seq.end()
    }
}

fn capability_names(info: &FrameworkInfo) -> Vec<&'static str> {
    info.capabilities
        .iter()
        .filter_map(|c| c.kind)
        .map(|k| k.as_str())
        .collect()
}

/// `/master/state` (spec 6.2), serialized to bytes (snapshot and write in
/// one go: for benchmarks and tests; the endpoint writes outside the lock).
pub fn state(m: &Master, flags: &BTreeMap<String, String>, cluster: Option<&str>) -> Vec<u8> {
    StateSnapshot::take(m).write(flags, cluster).to_vec()
}

/// `/master/frameworks?framework_id=`.
pub fn frameworks(m: &Master, only: Option<&str>) -> Vec<u8> {
    FrameworksSnapshot::take(m, only).write()
}

/// `/master/slaves?slave_id=`.
pub fn agents(m: &Master, only: Option<&str>) -> Vec<u8> {
    AgentsSnapshot::take(m, only).write()
}

/// `/master/tasks?framework_id=&task_id=&limit=100&offset=0&order=desc`.
pub fn tasks(m: &Master, q: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    Ok(TasksSnapshot::take(m, &TasksQuery::parse(q)?).write())
}
