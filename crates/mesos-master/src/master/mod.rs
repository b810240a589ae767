//! The master's book-keeping: frameworks, agents, tasks and offers, and the
//! rules that change them. Synchronous and I/O-free: callers pass `now`
//! (epoch seconds) and the book pushes events into bounded per-connection
//! queues ([`crate::event_queue`]: pushes never block, so the lock around the
//! book is never held across I/O). The HTTP layer in `crate::http` is a thin shell around it.

mod agents;
pub mod drain;
mod frameworks;
mod gone;
mod health;
mod launch;
pub mod maintenance;
mod operator_events;
pub mod policy;
pub mod registry;
pub mod reservations;
pub mod stamped;
mod updates;
mod validation;

use crate::allocator::Allocator;
use crate::event_queue::EventSender;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::Event;
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

pub use agents::{AgentEntry, Registration};

/// Builds a [`Registration`] (kept as a function so the HTTP layer does not
/// depend on the struct's layout).
pub fn agents_registration(
    info: AgentInfo,
    ip: String,
    version: String,
    tasks: Vec<mesos_types::agent_protocol::AgentTask>,
    frameworks: Vec<FrameworkInfo>,
    reregister: bool,
) -> Registration {
    Registration {
        info,
        ip,
        version,
        tasks,
        frameworks,
        reregister,
        checkpointed: Vec::new(),
    }
}
pub use frameworks::{FrameworkEntry, SubscribeOutcome};
pub use gone::{AgentRefusal, GONE_MESSAGE, GoneCheck};
pub use registry::{AgentAdmission, RegistryBatch, RegistryOp};

/// Heartbeat period announced in SUBSCRIBED (Mesos: 15 s).
pub const HEARTBEAT_INTERVAL_SECS: f64 = 15.0;

/// Master settings the book needs (a subset of the flags).
#[derive(Debug, Clone)]
pub struct MasterConfig {
    /// `--roles` whitelist; `None` = any role.
    pub roles: Option<HashSet<String>>,
    pub weights: BTreeMap<String, f64>,
    pub max_completed_frameworks: usize,
    pub max_completed_tasks_per_framework: usize,
    /// `--max_operator_event_stream_subscribers`.
    pub max_operator_subscribers: usize,
    /// `--offer_timeout` in seconds; `None` = offers never expire.
    pub offer_timeout: Option<f64>,
    /// `--agent_ping_timeout` x `--max_agent_ping_timeouts`, in seconds.
    pub agent_health_timeout: f64,
    /// `--agent_reregister_timeout`: how long after a master start agents
    /// known from the registry may take to re-register.
    pub agent_reregister_timeout: f64,
}

impl Default for MasterConfig {
    fn default() -> Self {
        MasterConfig {
            roles: None,
            weights: BTreeMap::new(),
            max_completed_frameworks: 50,
            max_completed_tasks_per_framework: 1000,
            max_operator_subscribers: 1000,
            offer_timeout: None,
            agent_health_timeout: 75.0,
            agent_reregister_timeout: 600.0,
        }
    }
}

/// One subscriber's event channel and the stream id it was issued.
#[derive(Debug, Clone)]
pub struct Subscription<E> {
    pub stream_id: String,
    pub tx: EventSender<E>,
}

impl<E> Subscription<E> {
    pub fn send(&self, e: E) {
        self.tx.send(e);
    }
}

/// A task as the master tracks it.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    pub info: TaskInfo,
    pub framework_id: FrameworkID,
    pub agent_id: AgentID,
    pub state: TaskState,
    pub statuses: Vec<TaskStatus>,
    pub status_update_state: Option<TaskState>,
    pub status_update_uuid: Option<String>,
    pub role: String,
    /// Allocated resources (with allocation role), returned on a terminal state.
    pub resources: Resources,
    pub resources_released: bool,
    pub user: Option<String>,
    /// This task's legacy JSON, rendered once and shared by `/master/state`
    /// snapshots until the task changes (see [`TaskEntry::changed`]).
    pub rendered: std::sync::OnceLock<std::sync::Arc<crate::state_json::RenderedTask>>,
    /// What the operator API shows of it (`mesos.v1.Task`), copied once and
    /// shared by GET_STATE/GET_TASKS and the event stream until the task
    /// changes (see [`TaskEntry::changed`]).
    pub operator_view: std::sync::OnceLock<std::sync::Arc<crate::operator::TaskView>>,
}

impl TaskEntry {
    /// A task the master just learned of (launched: STAGING; re-reported by
    /// an agent: its current state).
    pub fn new(
        info: TaskInfo,
        framework_id: FrameworkID,
        agent_id: AgentID,
        state: TaskState,
        role: String,
        resources: Resources,
        user: Option<String>,
    ) -> TaskEntry {
        TaskEntry {
            info,
            framework_id,
            agent_id,
            state,
            statuses: Vec::new(),
            status_update_state: None,
            status_update_uuid: None,
            role,
            resources,
            resources_released: false,
            user,
            rendered: std::sync::OnceLock::new(),
            operator_view: std::sync::OnceLock::new(),
        }
    }

    /// Must follow every change of what the legacy JSON shows.
    pub fn changed(&mut self) {
        self.rendered = std::sync::OnceLock::new();
        self.operator_view = std::sync::OnceLock::new();
    }

    /// Moves the task to `state`, counting it in `ended` when it ends now
    /// (every change of a booked task's state goes through here).
    pub fn set_state(&mut self, state: TaskState, ended: &mut TerminalCounts) {
        if !is_terminal(self.state) && is_terminal(state) {
            ended.count(state);
        }
        self.state = state;
    }
}

/// The terminal states `/metrics/snapshot` counts (`master/tasks_<state>`).
pub const TERMINAL_STATES: [TaskState; 8] = [
    TaskState::TASK_FINISHED,
    TaskState::TASK_FAILED,
    TaskState::TASK_KILLED,
    TaskState::TASK_LOST,
    TaskState::TASK_ERROR,
    TaskState::TASK_DROPPED,
    TaskState::TASK_GONE,
    TaskState::TASK_GONE_BY_OPERATOR,
];

/// How many tasks reached each terminal state on this master, counted as
/// they reach it: monotonic, unlike the bounded completed-task lists
/// (`--max_completed_tasks_per_framework`), as Mesos's counters are.
#[derive(Debug, Default, Clone)]
pub struct TerminalCounts([u64; TERMINAL_STATES.len()]);

impl TerminalCounts {
    /// Counts one task ending in `state` (non-terminal states are ignored).
    pub fn count(&mut self, state: TaskState) {
        if let Some(i) = TERMINAL_STATES.iter().position(|s| *s == state) {
            self.0[i] += 1;
        }
    }

    pub fn get(&self, state: TaskState) -> u64 {
        TERMINAL_STATES
            .iter()
            .position(|s| *s == state)
            .map_or(0, |i| self.0[i])
    }
}

/// An outstanding offer.
#[derive(Debug, Clone)]
pub struct OfferEntry {
    pub offer: Offer,
    pub framework_id: FrameworkID,
    pub agent_id: AgentID,
    pub role: String,
    pub resources: Resources,
    pub created: f64,
}

/// Counters for `/metrics/snapshot`.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub valid_status_updates: u64,
    pub invalid_status_updates: u64,
    pub valid_acks: u64,
    pub invalid_acks: u64,
    pub launched_tasks: u64,
    pub agent_registrations: u64,
    pub agents_marked_unreachable: u64,
    pub agent_reregistrations: u64,
    pub allocation_runs: u64,
    /// Rounds of the agent health check (not a Mesos metric; tests wait
    /// for rounds rather than for time).
    pub health_checks: u64,
    /// Tasks that ended, by terminal state.
    pub tasks_ended: TerminalCounts,
    /// Agents removed from the book (`master/slave_removals`), and of
    /// those: for failing health checks (or not re-registering after a
    /// master restart), `reason_unhealthy`; not re-registering after a
    /// restart, `recovery_slave_removals`.
    pub agent_removals: u64,
    pub agent_removals_unhealthy: u64,
    pub recovery_agent_removals: u64,
    /// Unreachable marks queued for the registrar, and those given up
    /// because the agent spoke up meanwhile or the write failed.
    pub unreachable_scheduled: u64,
    pub unreachable_canceled: u64,
    /// Scheduler calls taken, by the name of Mesos's
    /// `master/messages_<name>` counter they count towards.
    pub scheduler_messages: BTreeMap<&'static str, u64>,
}

impl Counters {
    /// Counts one scheduler call of `kind` in its `master/messages_*` key.
    pub fn scheduler_call(&mut self, kind: mesos_types::scheduler::CallType) {
        use mesos_types::scheduler::CallType as C;
        let name = match kind {
            C::SUBSCRIBE => "register_framework",
            C::TEARDOWN => "unregister_framework",
            C::ACCEPT => "accept_offers",
            C::DECLINE => "decline_offers",
            C::REVIVE => "revive_offers",
            C::SUPPRESS => "suppress_offers",
            C::KILL => "kill_task",
            C::SHUTDOWN => "shutdown_executor",
            C::ACKNOWLEDGE => "status_update_acknowledgement",
            C::RECONCILE => "reconcile_tasks",
            C::MESSAGE => "framework_to_executor",
            C::ACCEPT_INVERSE_OFFERS | C::DECLINE_INVERSE_OFFERS => "inverse_offers",
            _ => return,
        };
        *self.scheduler_messages.entry(name).or_default() += 1;
    }
}

pub struct Master {
    pub ids: IdGenerator,
    pub info: MasterInfo,
    pub config: MasterConfig,
    pub start_time: f64,
    /// When this master was elected; `None` while it does not lead.
    pub elected_time: Option<f64>,
    /// The leading master (this one when it leads), as `/master/state`
    /// reports it; `None` while no leader is known.
    pub leader: Option<MasterInfo>,
    pub frameworks: HashMap<FrameworkID, FrameworkEntry>,
    pub completed_frameworks: VecDeque<FrameworkEntry>,
    pub agents: HashMap<AgentID, AgentEntry>,
    /// Agents the registry records as admitted (`agents/<id>`).
    pub admitted_agents: HashSet<AgentID>,
    /// Durable changes queued for the registrar, in order, with what to do
    /// once each is written (see [`registry`]).
    pub registry: registry::RegistryQueue,
    /// Agents admitted in the registry by an earlier master run that have
    /// not re-registered yet (reconciliation stays silent about them).
    pub recovering_agents: HashSet<AgentID>,
    pub offers: HashMap<OfferID, OfferEntry>,
    /// Agents removed for failing health checks, with the time.
    pub unreachable_agents: HashMap<AgentID, f64>,
    /// Silent agents whose unreachable record is being written.
    pub marking_unreachable: HashSet<AgentID>,
    /// Agents back from unreachable whose registry mark is cleared when
    /// they answer the PING with this nonce, queued on their stream right
    /// after the events of their re-admission (kills of tasks reported
    /// lost): the stream is in order, so that PONG proves they arrived.
    pub reachable_on_pong: HashMap<AgentID, u64>,
    /// The last PING nonce issued.
    pub ping_nonce: u64,
    /// Agents an operator marked gone (in the registry), with the time.
    pub gone_agents: HashMap<AgentID, f64>,
    /// Agents whose gone record is being written.
    pub marking_gone: HashSet<AgentID>,
    /// Frameworks removed (torn down or past their failover timeout), as
    /// the registry records them: they may never subscribe again, even
    /// after a master restart.
    pub removed_frameworks: HashSet<FrameworkID>,
    /// Frameworks whose removal is being written to the registry.
    pub removing_frameworks: HashSet<FrameworkID>,
    /// Tasks this master never knew (it restarted) that reconciliation
    /// reported TASK_LOST to a non-partition-aware framework because their
    /// agent was unreachable, by agent. If the agent comes back the tasks
    /// are treated as already ended: a live one is killed and no later
    /// terminal update contradicts the TASK_LOST.
    pub lost_by_reconciliation: HashMap<AgentID, HashMap<TaskID, (FrameworkID, TaskStatus)>>,
    /// When `silent_agents` last ran.
    pub last_health_check: Option<f64>,
    pub allocator: Allocator,
    pub counters: Counters,
    /// Set when something freed resources or added demand; the shell runs
    /// an allocation soon instead of waiting for the next interval.
    pub allocation_wanted: bool,
    /// The operator API's SUBSCRIBE streams (see [`crate::operator::events`]).
    pub operator_subscribers: crate::operator::Subscribers,
    /// Agents an operator deactivated or drains (see [`drain`]).
    pub agent_states: HashMap<AgentID, drain::AgentOperatorState>,
    /// Agents whose operator state is being recorded (one change at a
    /// time: the next is built on the last one written).
    pub recording_agent_states: HashSet<AgentID>,
    /// Each agent's checkpointed resources as the registry records them.
    pub agent_resources: HashMap<AgentID, Vec<Resource>>,
    /// An operator's conversion being recorded, by agent (one at a time).
    pub converting: HashMap<AgentID, mesos_types::conversions::Conversion>,
    /// Maintenance schedule, machine modes and inverse offers.
    pub maintenance: maintenance::Maintenance,
    /// Quota by role, as the registry records it (see [`policy`]).
    pub quotas: BTreeMap<String, mesos_types::policy::QuotaConfig>,
}

impl Master {
    pub fn new(info: MasterInfo, config: MasterConfig, now: f64) -> Master {
        let mut allocator = Allocator::new();
        for (role, w) in &config.weights {
            allocator.set_weight(role, *w);
        }
        let operator_subscribers =
            crate::operator::Subscribers::new(config.max_operator_subscribers);
        Master {
            ids: IdGenerator::new(info.id.clone()),
            info,
            config,
            start_time: now,
            elected_time: None,
            leader: None,
            frameworks: HashMap::new(),
            completed_frameworks: VecDeque::new(),
            agents: HashMap::new(),
            admitted_agents: HashSet::new(),
            registry: Default::default(),
            recovering_agents: HashSet::new(),
            offers: HashMap::new(),
            unreachable_agents: HashMap::new(),
            marking_unreachable: HashSet::new(),
            reachable_on_pong: HashMap::new(),
            ping_nonce: 0,
            gone_agents: HashMap::new(),
            marking_gone: HashSet::new(),
            removed_frameworks: HashSet::new(),
            removing_frameworks: HashSet::new(),
            lost_by_reconciliation: HashMap::new(),
            last_health_check: None,
            allocator,
            counters: Counters::default(),
            allocation_wanted: false,
            operator_subscribers,
            quotas: BTreeMap::new(),
            maintenance: Default::default(),
            agent_states: HashMap::new(),
            agent_resources: HashMap::new(),
            converting: HashMap::new(),
            recording_agent_states: HashSet::new(),
        }
    }

    pub(crate) fn send_to_framework(&self, fid: &FrameworkID, e: Event) {
        if let Some(s) = self
            .frameworks
            .get(fid)
            .and_then(|f| f.subscription.as_ref())
        {
            s.send(e);
        }
    }

    pub(crate) fn send_to_agent(&self, aid: &AgentID, e: AgentEvent) -> bool {
        match self.agents.get(aid).and_then(|a| a.subscription.as_ref()) {
            Some(s) => {
                s.send(e);
                true
            }
            None => false,
        }
    }

    /// Runs a full allocation cycle (every agent) and sends the offers.
    pub fn allocate(&mut self, now: f64) {
        let allocations = self.allocator.allocate(now);
        self.send_allocations(allocations, now);
        self.send_inverse_offers(now);
    }

    /// Runs an event-triggered cycle over the agents that changed since
    /// the last one (see [`Allocator::allocate_changed`]).
    pub fn allocate_changed(&mut self, now: f64) {
        let allocations = self.allocator.allocate_changed(now);
        self.send_allocations(allocations, now);
    }

    fn send_allocations(&mut self, allocations: Vec<crate::allocator::Allocation>, now: f64) {
        self.allocation_wanted = false;
        self.counters.allocation_runs += 1;
        let mut by_framework: BTreeMap<FrameworkID, Vec<Offer>> = BTreeMap::new();
        for a in allocations {
            let unavailability = self.agent_window(&a.agent_id);
            let (Some(fw), Some(agent)) = (
                self.frameworks.get_mut(&a.framework_id),
                self.agents.get_mut(&a.agent_id),
            ) else {
                // Stale allocation (removed meanwhile): hand it straight back.
                self.allocator.recover(
                    &a.framework_id,
                    &a.agent_id,
                    &a.role,
                    &a.resources,
                    None,
                    now,
                );
                continue;
            };
            let refinement = fw
                .info
                .has_capability(FrameworkCapability::RESERVATION_REFINEMENT);
            let multi_role = fw.info.has_capability(FrameworkCapability::MULTI_ROLE);
            let wire_resources = if multi_role {
                a.resources.clone()
            } else {
                a.resources.unallocated()
            };
            let id = self.ids.offer();
            let executor_ids: Vec<ExecutorID> = fw
                .executors
                .get(&a.agent_id)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            let offer = Offer {
                id: id.clone(),
                framework_id: a.framework_id.clone(),
                agent_id: a.agent_id.clone(),
                hostname: agent.info.hostname.clone(),
                url: Some(agent.url()),
                resources: wire_resources.to_wire(refinement),
                attributes: agent.info.attributes.clone(),
                executor_ids,
                allocation_info: multi_role.then(|| OfferAllocationInfo {
                    role: Some(a.role.clone()),
                }),
                unavailability,
            };
            fw.offers.insert(id.clone());
            agent.offers.insert(id.clone());
            by_framework
                .entry(a.framework_id.clone())
                .or_default()
                .push(offer.clone());
            self.offers.insert(
                id,
                OfferEntry {
                    offer,
                    framework_id: a.framework_id,
                    agent_id: a.agent_id,
                    role: a.role,
                    resources: a.resources,
                    created: now,
                },
            );
        }
        for (fid, offers) in by_framework {
            self.send_to_framework(&fid, Event::offers(offers));
        }
    }

    /// Takes an offer off the book and returns its resources to the pool
    /// (no filter, no event).
    pub(crate) fn withdraw_offer(&mut self, oid: &OfferID, now: f64) -> Option<OfferEntry> {
        let o = self.remove_offer(oid)?;
        self.allocator.hand_back(
            &o.framework_id,
            &o.agent_id,
            &o.role,
            &o.resources,
            None,
            now,
        );
        Some(o)
    }

    /// Withdraws an offer: RESCIND to the framework, resources back to the pool.
    pub fn rescind_offer(&mut self, oid: &OfferID, now: f64) {
        if let Some(o) = self.withdraw_offer(oid, now) {
            self.send_to_framework(&o.framework_id, Event::rescind(oid.clone()));
        }
    }

    /// Removes an offer from every index without recovering its resources.
    pub(crate) fn remove_offer(&mut self, oid: &OfferID) -> Option<OfferEntry> {
        let o = self.offers.remove(oid)?;
        if let Some(f) = self.frameworks.get_mut(&o.framework_id) {
            f.offers.remove(oid);
        }
        if let Some(a) = self.agents.get_mut(&o.agent_id) {
            a.offers.remove(oid);
        }
        Some(o)
    }

    /// Expires old offers (`--offer_timeout`) and queues the removal of
    /// frameworks past their failover timeout.
    pub fn tick(&mut self, now: f64) {
        self.expire_frameworks(now);
        if let Some(timeout) = self.config.offer_timeout {
            let old: Vec<OfferID> = self
                .offers
                .values()
                .filter(|o| now - o.created >= timeout)
                .map(|o| o.offer.id.clone())
                .collect();
            for oid in old {
                self.rescind_offer(&oid, now);
            }
        }
    }

    /// Total, used and offered resources across active agents.
    pub fn cluster_resources(&self) -> (Resources, Resources, Resources) {
        let mut total = Resources::new();
        let mut used = Resources::new();
        let mut offered = Resources::new();
        for a in self.agents.values() {
            total.add(&a.total);
            used.add(&a.used_resources(self).unallocated());
        }
        for o in self.offers.values() {
            offered.add(&o.resources.unallocated());
        }
        (total, used, offered)
    }
}

/// A status update the master itself generates (agent lost, framework
/// removed, reconciliation, invalid launch): no uuid, so nobody
/// acknowledges it.
pub(crate) fn master_status(
    task_id: TaskID,
    state: TaskState,
    reason: Reason,
    message: impl Into<String>,
    agent_id: Option<AgentID>,
    now: f64,
) -> TaskStatus {
    let mut s = TaskStatus::new(task_id, state);
    s.source = Some(Source::SOURCE_MASTER);
    s.reason = Some(reason);
    s.message = Some(message.into());
    s.agent_id = agent_id;
    s.timestamp = Some(now);
    s
}

/// The master's clock: epoch seconds as the wall clock read once, advanced
/// by the monotonic clock since. Every timeout (offers, failover, agent
/// health) is measured on it, so a wall clock stepped by NTP or an operator
/// neither fires them early (a jump forward used to make every agent look
/// silent) nor stalls them; reported times stay epoch seconds, off by at
/// most the steps taken since the master started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    anchor_wall: f64,
    anchor: std::time::Instant,
}

impl Clock {
    /// A clock reading `wall` now.
    pub fn anchored_at(wall: f64) -> Clock {
        Clock {
            anchor_wall: wall,
            anchor: std::time::Instant::now(),
        }
    }

    pub fn now(&self) -> f64 {
        self.anchor_wall + self.anchor.elapsed().as_secs_f64()
    }
}

/// The wall clock as epoch seconds.
pub fn wall_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Current time on the process's [`Clock`] (the shell's clock; the book
/// never reads it).
pub fn now_secs() -> f64 {
    static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(|| Clock::anchored_at(wall_secs())).now()
}

/// Random 16-byte UUID, base64 as Mesos JSON renders `bytes`.
pub fn is_valid_uuid_b64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map(|b| b.len() == 16)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;
