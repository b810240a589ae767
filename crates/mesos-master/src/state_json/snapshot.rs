//! Snapshots of what the legacy views show, taken while the book is locked
//! and written to bytes after it is released.
//!
//! Taking one is cheap: tasks are shared by reference (their JSON is
//! rendered once per change, [`RenderedTask`]); agents, frameworks, offers
//! and executors are copied, since there are few of them and copying is
//! cheaper than rendering. Sorting, summing resources and all the writing
//! happen in [`StateSnapshot::write`] and its siblings, without the lock.
//!
//! The bytes are what serde_json's compact writer makes of the same views
//! (the order of every object's keys and of every array is kept; a test
//! compares with a direct rendering).

pub use super::rope::{Document, Rope};
use super::rope::{Obj, put};
use super::task_arrays::{CompletedPart, LivePart, TaskArraysCache};
use super::{RenderedTask, ResMap, capability_names, labels};
use crate::master::{AgentEntry, FrameworkEntry, Master};
use mesos_types::*;
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

fn raw_task(out: &mut Vec<u8>, t: &Arc<RenderedTask>) {
    out.extend_from_slice(t.json().get().as_bytes());
}

/// What state shows of an agent that only changes with the agent itself
/// (kept in [`AgentEntry::rendered`] until [`AgentEntry::changed`]): the
/// JSON around the allocator's part, and the total that part needs.
#[derive(Debug)]
pub struct RenderedAgent {
    id: AgentID,
    total: Resources,
    /// `"id":...` to `"resources":{...}`.
    head: Box<str>,
    /// `"reserved_resources":...,"unreserved_resources":...`.
    reserved: Box<str>,
    /// `"version":...,"capabilities":[...]`.
    tail: Box<str>,
    /// `"used_resources":...,"offered_resources":...` as last written,
    /// with the stamps of the allocator's free resources and of the
    /// agent's offers it was computed from.
    usage: Mutex<Option<(u64, u64, Arc<str>)>>,
}

impl RenderedAgent {
    fn of(a: &AgentEntry) -> Arc<RenderedAgent> {
        a.rendered
            .get_or_init(|| Arc::new(RenderedAgent::render(a)))
            .clone()
    }

    fn render(a: &AgentEntry) -> RenderedAgent {
        let attrs: Map<String, Json> = a
            .info
            .attributes
            .iter()
            .map(|x| (x.name.clone(), x.json_value()))
            .collect();
        let mut reserved: BTreeMap<&str, ResMap> = BTreeMap::new();
        for r in a.total.iter().filter(|r| !r.is_unreserved()) {
            reserved.entry(r.reservation_role()).or_default().add(r);
        }
        let unreserved = ResMap::of(a.total.iter().filter(|r| r.is_unreserved()));
        RenderedAgent {
            id: a.id.clone(),
            total: a.total.clone(),
            head: entries(|o| {
                o.entry("id", &a.id.value);
                o.entry("hostname", &a.info.hostname);
                o.entry("port", &a.info.port);
                o.entry("attributes", &attrs);
                o.entry("pid", &a.pid());
                o.entry("registered_time", &a.registered_time);
                if let Some(t) = a.reregistered_time {
                    o.entry("reregistered_time", &t);
                }
                o.entry("resources", &ResMap::of(a.total.iter()));
            }),
            reserved: entries(|o| {
                o.entry("reserved_resources", &reserved);
                o.entry("unreserved_resources", &unreserved);
                let (full, unreserved_full) = full_resources(&a.total);
                o.entry("reserved_resources_full", &full);
                o.entry("unreserved_resources_full", &unreserved_full);
            }),
            tail: entries(|o| {
                o.entry("version", &a.version);
                o.entry(
                    "capabilities",
                    &["MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"],
                );
            }),
            usage: Mutex::new(None),
        }
    }
}

/// `reserved_resources_full` (role -> the reserved resources, as Mesos
/// protobuf JSON) and `unreserved_resources_full`.
pub(super) fn full_resources(total: &Resources) -> (BTreeMap<&str, Vec<Resource>>, Vec<Resource>) {
    let mut reserved: BTreeMap<&str, Vec<Resource>> = BTreeMap::new();
    let mut unreserved = Vec::new();
    for r in total.iter() {
        if r.is_unreserved() {
            unreserved.push(r.clone());
        } else {
            reserved
                .entry(r.reservation_role())
                .or_default()
                .push(r.clone());
        }
    }
    (reserved, unreserved)
}

/// The entries `f` writes, without the braces.
fn entries(f: impl FnOnce(&mut Obj)) -> Box<str> {
    let mut out = Rope::with_capacity(256);
    let mut o = Obj::new(&mut out);
    f(&mut o);
    let text = String::from_utf8(out.into_vec()).unwrap_or_default();
    text.get(1..).unwrap_or("").into()
}

/// What an agent's used and offered resources are in a snapshot.
enum AgentUsage {
    /// Unchanged since the last rendering.
    Cached(Arc<str>),
    /// Changed: free, as the allocator keeps it (incrementally, so used =
    /// total - free - offered needs no walk over the agent's tasks), the
    /// offered resources, and the stamps they were taken at.
    Fresh {
        free: Resources,
        offered: Resources,
        stamps: (u64, u64),
    },
}

/// An agent as `/slaves` and state show it (spec 6.3).
pub(super) struct AgentSnap {
    rendered: Arc<RenderedAgent>,
    usage: AgentUsage,
    active: bool,
    /// Deactivation and drain, when an operator set them (rare: cloned).
    operator_state: Option<crate::master::drain::AgentOperatorState>,
}

impl AgentSnap {
    pub(super) fn take(m: &Master, a: &AgentEntry) -> AgentSnap {
        let rendered = RenderedAgent::of(a);
        let stamps = (
            m.allocator.available_stamp(&a.id).unwrap_or(0),
            a.offers.stamp(),
        );
        let cached = match &*rendered.usage.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((f, o, json)) if (*f, *o) == stamps => Some(json.clone()),
            _ => None,
        };
        let usage = match cached {
            Some(json) => AgentUsage::Cached(json),
            None => {
                let mut offered = Resources::new();
                for o in a.offers.iter().filter_map(|oid| m.offers.get(oid)) {
                    offered.add(&o.resources.unallocated());
                }
                AgentUsage::Fresh {
                    free: m.allocator.available(&a.id).unwrap_or_default(),
                    offered,
                    stamps,
                }
            }
        };
        AgentSnap {
            rendered,
            usage,
            active: a.connected(),
            operator_state: m.agent_states.get(&a.id).cloned(),
        }
    }

    pub(super) fn id(&self) -> &AgentID {
        &self.rendered.id
    }

    /// Its total resources.
    pub(super) fn total(&self) -> &Resources {
        &self.rendered.total
    }

    /// About the length of its JSON.
    pub(super) fn size_hint(&self) -> usize {
        let r = &self.rendered;
        r.head.len() + r.reserved.len() + r.tail.len() + 512
    }

    /// Its used and offered resources' JSON, computed now if they changed
    /// since the last rendering.
    fn usage(&self) -> Arc<str> {
        let (free, offered, stamps) = match &self.usage {
            AgentUsage::Cached(json) => return json.clone(),
            AgentUsage::Fresh {
                free,
                offered,
                stamps,
            } => (free, offered, *stamps),
        };
        let r = &self.rendered;
        let used_full = r.total.minus(free).minus(offered);
        let json: Arc<str> = entries(|o| {
            o.entry("used_resources", &ResMap::of(used_full.iter()));
            o.entry("offered_resources", &ResMap::of(offered.iter()));
            o.entry("used_resources_full", used_full.as_slice());
            o.entry("offered_resources_full", offered.as_slice());
        })
        .into();
        let mut cached = r.usage.lock().unwrap_or_else(|p| p.into_inner());
        // Stamps only grow: a slower rendering of an older snapshot keeps
        // the newer one.
        if cached
            .as_ref()
            .is_none_or(|(f, o, _)| *f <= stamps.0 && *o <= stamps.1)
        {
            *cached = Some((stamps.0, stamps.1, json.clone()));
        }
        json
    }

    fn write(&self, out: &mut Rope) {
        self.write_with(out, |_| {});
    }

    /// Its object, with the entries `more` writes at the end.
    pub(super) fn write_with(&self, out: &mut Rope, more: impl FnOnce(&mut Obj)) {
        let r = &self.rendered;
        let usage = self.usage();
        let mut o = Obj::new(out);
        o.raw(&r.head);
        o.raw(&usage);
        o.raw(&r.reserved);
        o.entry("active", &self.active);
        let state = self.operator_state.as_ref();
        o.entry("deactivated", &state.is_some_and(|s| s.deactivated));
        if let Some(d) = state.and_then(|s| s.drain_info.as_ref()) {
            o.entry("drain_info", d);
        }
        o.raw(&r.tail);
        more(&mut o);
        o.end();
    }
}

struct OfferSnap {
    id: OfferID,
    agent_id: AgentID,
    role: String,
    resources: Resources,
}

struct ExecutorSnap {
    agent_id: AgentID,
    info: ExecutorInfo,
    resources: Resources,
    role: String,
}

/// A framework as `/frameworks` and state show it (spec 6.4).
struct FrameworkSnap {
    id: FrameworkID,
    info: FrameworkInfo,
    connected: bool,
    recovered: bool,
    registered_time: f64,
    unregistered_time: f64,
    reregistered_time: Option<f64>,
    tasks: LivePart,
    completed: CompletedPart,
    cache: TaskArraysCache,
    offers: Vec<OfferSnap>,
    executors: Vec<ExecutorSnap>,
}

impl FrameworkSnap {
    fn take(m: &Master, f: &FrameworkEntry) -> FrameworkSnap {
        let (tasks, completed) = (LivePart::take(f), CompletedPart::take(f));
        FrameworkSnap {
            id: f.id.clone(),
            info: f.info.clone(),
            connected: f.connected(),
            recovered: f.recovered,
            registered_time: f.registered_time,
            unregistered_time: f.unregistered_time,
            reregistered_time: f.reregistered_time,
            tasks,
            completed,
            cache: f.rendered.clone(),
            offers: f
                .offers
                .iter()
                .filter_map(|oid| m.offers.get(oid))
                .map(|o| OfferSnap {
                    id: o.offer.id.clone(),
                    agent_id: o.agent_id.clone(),
                    role: o.role.clone(),
                    resources: o.resources.clone(),
                })
                .collect(),
            executors: f
                .executors
                .iter()
                .flat_map(|(aid, e)| {
                    e.values().map(move |(info, r, role)| ExecutorSnap {
                        agent_id: aid.clone(),
                        info: info.clone(),
                        resources: r.clone(),
                        role: role.clone(),
                    })
                })
                .collect(),
        }
    }

    /// About the length of its JSON.
    fn size_hint(&self) -> usize {
        self.tasks.size_hint()
            + self.completed.size_hint()
            + 512 * (self.offers.len() + self.executors.len())
            + 4096
    }

    fn write(&mut self, out: &mut Rope) {
        let live = self.tasks.array(&self.cache);
        let mut used = live.used.clone();
        used.extend(self.executors.iter().flat_map(|e| e.resources.iter()));
        let offered = ResMap::of(self.offers.iter().flat_map(|o| o.resources.iter()));
        let mut total = ResMap::default();
        total.merge(&used);
        total.merge(&offered);
        let (f, fid) = (&self.info, &self.id.value);

        let mut o = Obj::new(out);
        o.entry("id", fid);
        o.entry("name", &f.name);
        o.entry("used_resources", &used);
        o.entry("offered_resources", &offered);
        o.entry("resources", &total);
        o.entry("capabilities", &capability_names(f));
        o.entry("hostname", f.hostname.as_deref().unwrap_or(""));
        o.entry("webui_url", f.webui_url.as_deref().unwrap_or(""));
        o.entry("active", &self.connected);
        o.entry("connected", &self.connected);
        // A framework known only from tasks re-reported by agents.
        o.entry("recovered", &self.recovered);
        o.entry("user", &f.user);
        o.entry("failover_timeout", &f.failover_timeout);
        o.entry("checkpoint", &f.checkpoint);
        o.entry("registered_time", &self.registered_time);
        o.entry("unregistered_time", &self.unregistered_time);
        if let Some(t) = self.reregistered_time {
            o.entry("reregistered_time", &t);
        }
        if let Some(p) = &f.principal {
            o.entry("principal", p);
        }
        if f.has_capability(FrameworkCapability::MULTI_ROLE) {
            o.entry("roles", &f.roles);
        } else {
            o.entry("role", f.role.as_deref().unwrap_or("*"));
        }
        o.shared("tasks", &live.json);
        o.shared("unreachable_tasks", &live.unreachable);
        self.completed.write(&self.cache, o.key("completed_tasks"));
        o.array("offers", &self.offers, |out, x| {
            put(
                out,
                &json!({"id": x.id.value, "framework_id": fid, "allocation_info": {"role": x.role},
                        "slave_id": x.agent_id.value, "resources": ResMap::of(x.resources.iter())}),
            )
        });
        o.array("executors", &self.executors, |out, x| {
            let e = &x.info;
            put(
                out,
                &json!({"executor_id": e.executor_id.value, "name": e.name.clone().unwrap_or_default(), "framework_id": fid,
                        "command": e.command, "resources": ResMap::of(x.resources.iter()), "role": x.role, "slave_id": x.agent_id.value,
                        "type": e.kind.map(|k| k.as_str()).unwrap_or("CUSTOM")}),
            )
        });
        if let Some(l) = &f.labels {
            o.entry("labels", labels(l));
        }
        o.entry("offer_constraints", &json!({}));
        o.end();
    }
}

/// `/master/state` (spec 6.2).
pub struct StateSnapshot {
    start_time: f64,
    elected_time: Option<f64>,
    leader: Option<MasterInfo>,
    info: MasterInfo,
    unreachable: usize,
    agents: Vec<AgentSnap>,
    recovered: Vec<AgentID>,
    frameworks: Vec<FrameworkSnap>,
    completed_frameworks: Vec<FrameworkSnap>,
}

impl StateSnapshot {
    pub fn take(m: &Master) -> StateSnapshot {
        StateSnapshot {
            start_time: m.start_time,
            elected_time: m.elected_time,
            leader: m.leader.clone(),
            info: m.info.clone(),
            unreachable: m.unreachable_agents.len(),
            agents: m.agents.values().map(|a| AgentSnap::take(m, a)).collect(),
            recovered: m.recovering_agents.iter().cloned().collect(),
            frameworks: m
                .frameworks
                .values()
                .map(|f| FrameworkSnap::take(m, f))
                .collect(),
            completed_frameworks: m
                .completed_frameworks
                .iter()
                .map(|f| FrameworkSnap::take(m, f))
                .collect(),
        }
    }

    pub fn write(mut self, flags: &BTreeMap<String, String>, cluster: Option<&str>) -> Document {
        self.agents.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        self.frameworks.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        let activated = self.agents.iter().filter(|a| a.active).count();
        let i = &self.info;
        let recovered: Vec<Json> = self
            .recovered
            .iter()
            .map(|id| json!({"id": id.value}))
            .collect();

        // Sized up front: growing an 80 MiB buffer by doubling copies it
        // about twice over.
        let size = 64 * 1024
            + self.agents.iter().map(AgentSnap::size_hint).sum::<usize>()
            + (self.frameworks.iter())
                .chain(&self.completed_frameworks)
                .map(FrameworkSnap::size_hint)
                .sum::<usize>();
        let mut out = Rope::with_capacity(size);
        let mut o = Obj::new(&mut out);
        o.entry("version", MESOS_VERSION);
        for (k, v) in [
            ("git_sha", super::GIT_SHA),
            ("git_branch", super::GIT_BRANCH),
        ] {
            if let Some(v) = v {
                o.entry(k, v);
            }
        }
        o.entry("build_date", super::BUILD_DATE);
        o.entry("build_time", &super::BUILD_TIME);
        o.entry("build_user", super::BUILD_USER);
        o.entry("start_time", &self.start_time);
        if let Some(t) = &self.elected_time {
            o.entry("elected_time", t);
        }
        o.entry("id", &i.id);
        o.entry("pid", &i.pid);
        o.entry("hostname", &i.hostname);
        o.entry(
            "capabilities",
            &["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"],
        );
        o.entry("activated_slaves", &activated);
        o.entry("deactivated_slaves", &(self.agents.len() - activated));
        o.entry("unreachable_slaves", &self.unreachable);
        if let Some(l) = &self.leader {
            o.entry("leader", &l.pid);
            o.entry("leader_info", &super::leader_info(l));
        }
        if let Some(c) = cluster {
            o.entry("cluster", c);
        }
        // Where `/master/log` is read from (the web UI offers the link).
        if let Some(d) = flags.get("log_dir") {
            o.entry("log_dir", d);
        }
        o.entry("flags", flags);
        o.array("slaves", &self.agents, |out, a| a.write(out));
        o.entry("recovered_slaves", &recovered);
        o.array("frameworks", &mut self.frameworks, |out, f| f.write(out));
        o.array(
            "completed_frameworks",
            &mut self.completed_frameworks,
            |out, f| f.write(out),
        );
        o.entry("orphan_tasks", &[(); 0]);
        o.entry("unregistered_frameworks", &[(); 0]);
        o.end();
        out.finish()
    }
}

/// `/master/frameworks` (all, or the one asked for), in the book's order.
pub struct FrameworksSnapshot {
    frameworks: Vec<FrameworkSnap>,
    completed: Vec<FrameworkSnap>,
}

impl FrameworksSnapshot {
    pub fn take(m: &Master, only: Option<&str>) -> FrameworksSnapshot {
        let keep = |f: &&FrameworkEntry| only.is_none_or(|id| id == f.id.value);
        FrameworksSnapshot {
            frameworks: m
                .frameworks
                .values()
                .filter(keep)
                .map(|f| FrameworkSnap::take(m, f))
                .collect(),
            completed: m
                .completed_frameworks
                .iter()
                .filter(keep)
                .map(|f| FrameworkSnap::take(m, f))
                .collect(),
        }
    }

    pub fn write(mut self) -> Vec<u8> {
        let size = (self.frameworks.iter())
            .chain(&self.completed)
            .map(FrameworkSnap::size_hint)
            .sum::<usize>();
        let mut out = Rope::with_capacity(size + 1024);
        let mut o = Obj::new(&mut out);
        o.array("frameworks", &mut self.frameworks, |out, f| f.write(out));
        o.array("completed_frameworks", &mut self.completed, |out, f| {
            f.write(out)
        });
        o.entry("unregistered_frameworks", &[(); 0]);
        o.end();
        out.into_vec()
    }
}

/// `/master/slaves` (all, or the one asked for), in the book's order.
pub struct AgentsSnapshot {
    agents: Vec<AgentSnap>,
}

impl AgentsSnapshot {
    pub fn take(m: &Master, only: Option<&str>) -> AgentsSnapshot {
        AgentsSnapshot {
            agents: m
                .agents
                .values()
                .filter(|a| only.is_none_or(|id| id == a.id.value))
                .map(|a| AgentSnap::take(m, a))
                .collect(),
        }
    }

    pub fn write(self) -> Vec<u8> {
        let mut out = Rope::with_capacity(self.agents.iter().map(AgentSnap::size_hint).sum());
        let mut o = Obj::new(&mut out);
        o.array("slaves", &self.agents, |out, a| a.write(out));
        o.entry("recovered_slaves", &[(); 0]);
        o.end();
        out.into_vec()
    }
}

/// The parameters of `/master/tasks`.
#[derive(Debug, Clone)]
pub struct TasksQuery {
    framework_id: Option<String>,
    task_id: Option<String>,
    limit: usize,
    offset: usize,
    asc: bool,
}

impl TasksQuery {
    /// `framework_id=&task_id=&limit=100&offset=0&order=desc`.
    pub fn parse(q: &BTreeMap<String, String>) -> Result<TasksQuery, String> {
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
        Ok(TasksQuery {
            framework_id: q.get("framework_id").cloned(),
            task_id: q.get("task_id").cloned(),
            limit,
            offset,
            asc,
        })
    }
}

/// `/master/tasks`: the tasks asked for, live and completed, of live and
/// completed frameworks.
pub struct TasksSnapshot {
    tasks: Vec<Arc<RenderedTask>>,
    query: TasksQuery,
}

impl TasksSnapshot {
    pub fn take(m: &Master, q: &TasksQuery) -> TasksSnapshot {
        let mut tasks = Vec::new();
        for f in m.frameworks.values().chain(m.completed_frameworks.iter()) {
            if q.framework_id.as_ref().is_some_and(|id| id != &f.id.value) {
                continue;
            }
            tasks.extend(
                f.tasks
                    .values()
                    .chain(f.completed_tasks.iter())
                    .filter(|t| {
                        q.task_id
                            .as_ref()
                            .is_none_or(|id| id == &t.info.task_id.value)
                    })
                    .map(RenderedTask::of),
            );
        }
        TasksSnapshot {
            tasks,
            query: q.clone(),
        }
    }

    pub fn write(mut self) -> Vec<u8> {
        // By first status, then id; ties keep the book's order (stable).
        self.tasks.sort_by(|a, b| {
            a.first_status
                .total_cmp(&b.first_status)
                .then_with(|| a.id().cmp(&b.id()))
        });
        if !self.query.asc {
            self.tasks.reverse();
        }
        let shown: Vec<_> = self
            .tasks
            .into_iter()
            .skip(self.query.offset)
            .take(self.query.limit)
            .collect();
        let mut out = Rope::with_capacity(shown.iter().map(|t| t.json().get().len() + 1).sum());
        let mut o = Obj::new(&mut out);
        o.array("tasks", &shown, |out, t| raw_task(out, t));
        o.end();
        out.into_vec()
    }
}
