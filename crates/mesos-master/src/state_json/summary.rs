//! `/master/state-summary` (spec 6.1): every agent (the state's agent
//! object) and every registered framework (a summary without task lists),
//! each with how many of its tasks are in each state and which frameworks
//! or agents it shares tasks with.
//!
//! As for `/master/state`, the snapshot taken under the book's lock holds
//! each task by reference (its cached [`RenderedTask`], which carries its
//! state, agent and resources); counting, summing and writing happen
//! outside the lock.

use super::rope::{Obj, Rope};
use super::snapshot::AgentSnap;
use super::{RenderedTask, ResMap, capability_names};
use crate::master::Master;
use mesos_types::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The states counted, in the order Mesos writes them.
const COUNTED: [TaskState; 10] = [
    TaskState::TASK_STAGING,
    TaskState::TASK_STARTING,
    TaskState::TASK_RUNNING,
    TaskState::TASK_KILLING,
    TaskState::TASK_FINISHED,
    TaskState::TASK_KILLED,
    TaskState::TASK_FAILED,
    TaskState::TASK_LOST,
    TaskState::TASK_ERROR,
    TaskState::TASK_UNREACHABLE,
];

/// Tasks per counted state.
#[derive(Default)]
struct Counts([u64; COUNTED.len()]);

impl Counts {
    fn add(&mut self, s: TaskState) {
        if let Some(i) = COUNTED.iter().position(|c| *c == s) {
            self.0[i] += 1;
        }
    }

    fn write(&self, o: &mut Obj) {
        for (s, n) in COUNTED.iter().zip(self.0) {
            o.entry(s.as_str(), &n);
        }
    }
}

struct FrameworkPart {
    id: FrameworkID,
    info: FrameworkInfo,
    connected: bool,
    recovered: bool,
    /// Live and completed tasks, each with whether it still holds its
    /// resources.
    tasks: Vec<(Arc<RenderedTask>, bool)>,
    /// Executors' agents and resources.
    executors: Vec<(AgentID, Resources)>,
    offered: Vec<Resources>,
}

/// What `/master/state-summary` shows, taken under the lock.
pub struct SummarySnapshot {
    hostname: String,
    agents: Vec<AgentSnap>,
    frameworks: Vec<FrameworkPart>,
}

impl SummarySnapshot {
    pub fn take(m: &Master) -> SummarySnapshot {
        SummarySnapshot {
            hostname: m.info.hostname.clone().unwrap_or_default(),
            agents: m.agents.values().map(|a| AgentSnap::take(m, a)).collect(),
            frameworks: m
                .frameworks
                .values()
                .map(|f| FrameworkPart {
                    id: f.id.clone(),
                    info: f.info.clone(),
                    connected: f.connected(),
                    recovered: f.recovered,
                    tasks: (f.tasks.values())
                        .map(|t| (RenderedTask::of(t), !t.resources_released))
                        .chain((f.completed_tasks.iter()).map(|t| (RenderedTask::of(t), false)))
                        .collect(),
                    executors: (f.executors.iter())
                        .flat_map(|(aid, e)| e.values().map(|(_, r, _)| (aid.clone(), r.clone())))
                        .collect(),
                    offered: (f.offers.iter())
                        .filter_map(|oid| m.offers.get(oid))
                        .map(|o| o.resources.clone())
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn write(mut self, cluster: Option<&str>) -> Vec<u8> {
        self.agents.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        self.frameworks.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        // Per agent: task counts and the frameworks with tasks or
        // executors there.
        let mut per_agent: BTreeMap<&AgentID, (Counts, BTreeSet<&str>)> = BTreeMap::new();
        for f in &self.frameworks {
            for (t, _) in &f.tasks {
                let e = per_agent.entry(&t.agent).or_default();
                e.0.add(t.state);
                e.1.insert(&f.id.value);
            }
            for (aid, _) in &f.executors {
                per_agent.entry(aid).or_default().1.insert(&f.id.value);
            }
        }
        let size = 4096 + self.agents.iter().map(AgentSnap::size_hint).sum::<usize>();
        let mut out = Rope::with_capacity(size + 1024 * self.frameworks.len());
        let mut o = Obj::new(&mut out);
        o.entry("hostname", &self.hostname);
        if let Some(c) = cluster {
            o.entry("cluster", c);
        }
        let none = (Counts::default(), BTreeSet::new());
        o.array("slaves", &self.agents, |out, a| {
            let (counts, fids) = per_agent.get(a.id()).unwrap_or(&none);
            a.write_with(out, |o| {
                counts.write(o);
                o.entry("framework_ids", fids);
            });
        });
        o.array("frameworks", &self.frameworks, write_framework);
        o.end();
        out.into_vec()
    }
}

/// A framework's summary: spec 6.4's head, task counts and `slave_ids`.
fn write_framework(out: &mut Rope, f: &FrameworkPart) {
    let mut counts = Counts::default();
    let mut agents: BTreeSet<&str> = BTreeSet::new();
    let mut used = ResMap::default();
    for (t, holds) in &f.tasks {
        counts.add(t.state);
        agents.insert(&t.agent.value);
        if *holds {
            t.res.add_to(&mut used);
        }
    }
    for (aid, r) in &f.executors {
        agents.insert(&aid.value);
        used.extend(r.iter());
    }
    let offered = ResMap::of(f.offered.iter().flat_map(|r| r.iter()));
    let info = &f.info;
    let mut o = Obj::new(out);
    o.entry("id", &f.id.value);
    o.entry("name", &info.name);
    o.entry("used_resources", &used);
    o.entry("offered_resources", &offered);
    o.entry("capabilities", &capability_names(info));
    o.entry("hostname", info.hostname.as_deref().unwrap_or(""));
    o.entry("webui_url", info.webui_url.as_deref().unwrap_or(""));
    o.entry("active", &f.connected);
    o.entry("connected", &f.connected);
    o.entry("recovered", &f.recovered);
    counts.write(&mut o);
    o.entry("slave_ids", &agents);
    o.end();
}
