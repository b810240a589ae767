//! The hierarchical DRF allocator, as a pure state machine.
//!
//! Inputs are agents (total resources), frameworks (roles, suppression,
//! filters) and recoveries; `allocate(now)` returns which framework gets
//! which agent's free resources for which role. No I/O and no clock: the
//! caller passes `now` (seconds), so tests and benchmarks control time.
//!
//! Fairness follows Mesos: roles are visited in order of weighted dominant
//! share, frameworks within a role in order of dominant share; an agent's
//! free resources usable by a role go whole to the first eligible framework
//! (active, not suppressing the role, not filtering this agent). Shares live
//! in ordered sets updated on every change, so a cycle costs
//! O(agents x log frameworks) rather than a sort per agent.
//!
//! Two kinds of cycle: [`Allocator::allocate`] visits every agent (the
//! `--allocation_interval` batch), [`Allocator::allocate_changed`] only the
//! agents whose free resources grew or whose filters expired since the last
//! cycle, unless something changed for every agent (a framework added,
//! activated or revived, a weight changed). Events such as a decline or a
//! finished task therefore cost O(changed agents), not O(cluster).

mod quota;

pub use quota::RoleQuota;

use mesos_types::values::to_milli;
use mesos_types::{AgentID, FrameworkID, Resources};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// The scalars DRF compares (Mesos: all scalars; these are the standard ones).
const SHARE_NAMES: [&str; 4] = ["cpus", "mem", "disk", "gpus"];

/// Milli-units in 128 bits: agents' totals come from outside and are
/// bounded only per resource (`MAX_SCALAR`, 10^15 milli-units), so 10,000
/// agents could pass `i64::MAX`; 128 bits hold any cluster exactly, and
/// what is added comes off exactly (a saturated sum would not).
type Quantities = [i128; 4];

fn quantities(r: &Resources) -> Quantities {
    let mut q = [0i128; 4];
    for (i, n) in SHARE_NAMES.iter().enumerate() {
        q[i] = i128::from(to_milli(r.scalar(n)));
    }
    q
}

/// The quantities of the unreserved part of `r`: the headroom quota
/// guarantees are kept from (resources reserved for a role are its own,
/// not anyone's headroom).
fn unreserved_q(r: &Resources) -> Quantities {
    let mut q = [0i128; 4];
    for x in r.iter().filter(|x| x.is_unreserved()) {
        if let Some(i) = SHARE_NAMES.iter().position(|n| *n == x.name) {
            q[i] += i128::from(to_milli(x.scalar.unwrap_or_default().value));
        }
    }
    q
}

fn add_q(a: &mut Quantities, b: &Quantities, sign: i128) {
    for i in 0..4 {
        a[i] += b[i] * sign;
    }
}

/// An allocation decision: `resources` (tagged with `role`) of `agent_id` go to `framework_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub framework_id: FrameworkID,
    pub agent_id: AgentID,
    pub role: String,
    pub resources: Resources,
}

#[derive(Debug)]
struct AgentSlot {
    idx: u32,
    total: Resources,
    /// Neither offered nor used (plain, without allocation info). Kept
    /// incrementally so a cycle does not recompute it per agent.
    free: Resources,
    /// Changes whenever `free` does (a stamp: no two agents share one).
    free_stamp: u64,
    active: bool,
    /// Frameworks holding a filter over this whole agent. When every
    /// framework does, the agent is skipped without looking at any of them
    /// (the shape of Mesos's "all offers declined" benchmark, P2).
    whole_filtered_by: u32,
}

/// A framework's offer filters on one agent. A filter covering the agent's
/// whole total is kept as just its expiry, so millions of declines cost a
/// few bytes each; partial filters keep the refused resources.
#[derive(Debug, Default)]
struct FilterSet {
    /// 0 = none; else the expiry of the whole-agent filter.
    whole_until: f64,
    partial: Vec<(Resources, f64)>,
}

#[derive(Debug, Default)]
struct FrameworkSlot {
    idx: u32,
    roles: BTreeSet<String>,
    suppressed: BTreeSet<String>,
    active: bool,
    allocated: HashMap<String, Quantities>,
    /// By agent index.
    filters: HashMap<u32, FilterSet>,
}

/// Ordered set of (share, name) with the current key of each member.
#[derive(Debug, Default)]
struct Sorter<K: Ord + Clone + std::hash::Hash> {
    order: BTreeSet<(u64, K)>,
    keys: HashMap<K, u64>,
}

impl<K: Ord + Clone + std::hash::Hash> Sorter<K> {
    fn set(&mut self, k: &K, share: f64) {
        // Non-negative f64s order like their bit patterns.
        let bits = share.max(0.0).to_bits();
        if let Some(old) = self.keys.insert(k.clone(), bits) {
            self.order.remove(&(old, k.clone()));
        }
        self.order.insert((bits, k.clone()));
    }
    fn remove(&mut self, k: &K) {
        if let Some(old) = self.keys.remove(k) {
            self.order.remove(&(old, k.clone()));
        }
    }
    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Debug)]
pub struct Allocator {
    agents: HashMap<AgentID, AgentSlot>,
    /// A full cycle visits agents in index (registration) order from a
    /// rotating offset, so no agent is always first.
    rotation: usize,
    /// Agent indexes that may have become allocatable since the last cycle.
    changed: BTreeSet<u32>,
    /// Something changed for every agent: the next cycle must be full.
    all_changed: bool,
    frameworks: HashMap<FrameworkID, FrameworkSlot>,
    /// Dense indexes keep filters small: agent and framework by index.
    agent_by_idx: Vec<Option<AgentID>>,
    framework_by_idx: Vec<Option<FrameworkID>>,
    /// Filter expiries (expiry bits, framework idx, agent idx); entries made
    /// stale by REVIVE are skipped when popped.
    expiries: BinaryHeap<Reverse<(u64, u32, u32)>>,
    role_members: HashMap<String, Sorter<FrameworkID>>,
    role_allocated: HashMap<String, Quantities>,
    roles: Sorter<String>,
    weights: HashMap<String, f64>,
    /// Roles with quota (see [`quota`]).
    quotas: HashMap<String, RoleQuota>,
    cluster_total: Quantities,
    /// Every agent's free unreserved resources summed: the headroom quota
    /// guarantees are kept from. Kept only while some role has quota (a
    /// cluster without quota pays nothing for it on every allocation);
    /// counted afresh when the first quota is set.
    free_total: Quantities,
    /// `--min_allocatable_resources` default `cpus:0.01|mem:32`: either suffices.
    min_cpus: i64,
    min_mem: i64,
}

impl Default for Allocator {
    fn default() -> Self {
        Allocator::new()
    }
}

impl Allocator {
    pub fn new() -> Allocator {
        Allocator {
            agents: HashMap::new(),
            rotation: 0,
            changed: BTreeSet::new(),
            all_changed: false,
            frameworks: HashMap::new(),
            agent_by_idx: Vec::new(),
            framework_by_idx: Vec::new(),
            expiries: BinaryHeap::new(),
            role_members: HashMap::new(),
            role_allocated: HashMap::new(),
            roles: Sorter::default(),
            weights: HashMap::new(),
            quotas: HashMap::new(),
            cluster_total: [0; 4],
            free_total: [0; 4],
            min_cpus: 10,
            min_mem: 32_000,
        }
    }

    pub fn set_weight(&mut self, role: &str, weight: f64) {
        if weight > 0.0 {
            self.weights.insert(role.to_string(), weight);
            self.resort_role(role);
            self.all_changed = true;
        }
    }

    /// Adds an agent; `used` are resources already held (re-registration).
    pub fn add_agent(
        &mut self,
        id: AgentID,
        total: Resources,
        used: Vec<(FrameworkID, String, Resources)>,
    ) {
        let q = quantities(&total);
        add_q(&mut self.cluster_total, &q, 1);
        if !self.quotas.is_empty() {
            add_q(&mut self.free_total, &unreserved_q(&total), 1);
        }
        let idx = self.agent_by_idx.len() as u32;
        self.changed.insert(idx);
        self.agent_by_idx.push(Some(id.clone()));
        self.agents.insert(
            id.clone(),
            AgentSlot {
                idx,
                free: total.clone(),
                free_stamp: crate::master::stamped::next_stamp(),
                total,
                active: true,
                whole_filtered_by: 0,
            },
        );
        for (fid, role, r) in used {
            self.track(&fid, &id, &role, &r, 1);
        }
        self.resort_all();
    }

    pub fn remove_agent(&mut self, id: &AgentID) {
        if let Some(a) = self.agents.remove(id) {
            add_q(&mut self.cluster_total, &quantities(&a.total), -1);
            if !self.quotas.is_empty() {
                add_q(&mut self.free_total, &unreserved_q(&a.free), -1);
            }
            self.agent_by_idx[a.idx as usize] = None;
            self.changed.remove(&a.idx);
            for f in self.frameworks.values_mut() {
                f.filters.remove(&a.idx);
            }
            self.resort_all();
        }
    }

    pub fn set_agent_active(&mut self, id: &AgentID, active: bool) {
        if let Some(a) = self.agents.get_mut(id) {
            if active && !a.active {
                self.changed.insert(a.idx);
            }
            a.active = active;
        }
    }

    /// An agent's resources changed kind (reserved, unreserved, made a
    /// volume): its total becomes `total`. Quantities do not change.
    pub fn set_agent_total(&mut self, id: &AgentID, total: Resources) {
        if let Some(a) = self.agents.get_mut(id) {
            a.total = total;
            a.free_stamp = crate::master::stamped::next_stamp();
        }
    }

    /// Takes `r` out of an agent's free resources (held by an operator's
    /// conversion until it is recorded); `false` if they are not free.
    pub fn take_free(&mut self, id: &AgentID, r: &Resources) -> bool {
        let Some(a) = self.agents.get_mut(id) else {
            return false;
        };
        if !a.free.contains(r) {
            return false;
        }
        a.free.subtract(r);
        a.free_stamp = crate::master::stamped::next_stamp();
        if !self.quotas.is_empty() {
            add_q(&mut self.free_total, &unreserved_q(r), -1);
        }
        true
    }

    /// Puts `r` into an agent's free resources (a conversion recorded, or
    /// undone).
    pub fn give_free(&mut self, id: &AgentID, r: &Resources) {
        if let Some(a) = self.agents.get_mut(id) {
            a.free.add(r);
            a.free_stamp = crate::master::stamped::next_stamp();
            if !self.quotas.is_empty() {
                add_q(&mut self.free_total, &unreserved_q(r), 1);
            }
            self.changed.insert(a.idx);
        }
    }

    pub fn has_agent(&self, id: &AgentID) -> bool {
        self.agents.contains_key(id)
    }

    pub fn add_framework(&mut self, id: FrameworkID, roles: Vec<String>, suppressed: Vec<String>) {
        let next_idx = self.framework_by_idx.len() as u32;
        let slot = self
            .frameworks
            .entry(id.clone())
            .or_insert_with(|| FrameworkSlot {
                idx: next_idx,
                ..Default::default()
            });
        if slot.idx == next_idx {
            self.framework_by_idx.push(Some(id.clone()));
        }
        slot.active = true;
        self.all_changed = true;
        let new_roles: BTreeSet<String> = roles.iter().cloned().collect();
        // Roles a re-subscription dropped: no more offers for them (what
        // it still holds in them stays counted until recovered).
        let dropped: Vec<String> = slot.roles.difference(&new_roles).cloned().collect();
        slot.roles = new_roles;
        slot.suppressed = suppressed
            .into_iter()
            .filter(|r| slot.roles.contains(r))
            .collect();
        for role in &roles {
            slot.allocated.entry(role.clone()).or_insert([0; 4]);
        }
        for role in roles {
            self.role_members.entry(role.clone()).or_default();
            self.resort_framework(&id, &role);
            self.resort_role(&role);
        }
        for role in dropped {
            self.leave_role(&id, &role);
        }
    }

    /// Takes `id` out of `role`'s members (the role goes when empty).
    fn leave_role(&mut self, id: &FrameworkID, role: &str) {
        if let Some(s) = self.role_members.get_mut(role) {
            s.remove(id);
            if s.is_empty() {
                self.role_members.remove(role);
                self.roles.remove(&role.to_string());
                return;
            }
        }
        self.resort_role(role);
    }

    /// Counts resources a framework already holds (tasks adopted from
    /// re-registering agents before it subscribed) in its share, without
    /// touching the agents' free resources, which already exclude them.
    pub fn adopt_usage(&mut self, fid: &FrameworkID, role: &str, resources: &Resources) {
        let q = quantities(resources);
        if let Some(f) = self.frameworks.get_mut(fid) {
            add_q(f.allocated.entry(role.to_string()).or_insert([0; 4]), &q, 1);
        }
        self.resort_framework(fid, role);
    }

    /// Forgets a framework. Its resources must have been recovered first.
    pub fn remove_framework(&mut self, id: &FrameworkID) {
        self.clear_filters(id);
        if let Some(slot) = self.frameworks.remove(id) {
            self.framework_by_idx[slot.idx as usize] = None;
            for role in slot.roles {
                self.leave_role(id, &role);
            }
        }
    }

    pub fn set_framework_active(&mut self, id: &FrameworkID, active: bool) {
        if let Some(f) = self.frameworks.get_mut(id) {
            if active && !f.active {
                self.all_changed = true;
            }
            f.active = active;
        }
    }

    /// SUPPRESS: no offers for these roles (empty = all of the framework's).
    pub fn suppress(&mut self, id: &FrameworkID, roles: &[String]) {
        if let Some(f) = self.frameworks.get_mut(id) {
            let target: Vec<String> = if roles.is_empty() {
                f.roles.iter().cloned().collect()
            } else {
                roles.to_vec()
            };
            f.suppressed
                .extend(target.into_iter().filter(|r| f.roles.contains(r)));
        }
    }

    /// REVIVE: clear filters and suppression for these roles (empty = all).
    pub fn revive(&mut self, id: &FrameworkID, roles: &[String]) {
        if let Some(f) = self.frameworks.get_mut(id) {
            if roles.is_empty() {
                f.suppressed.clear();
            } else {
                for r in roles {
                    f.suppressed.remove(r);
                }
            }
            self.all_changed = true;
        }
        self.clear_filters(id);
    }

    fn clear_filters(&mut self, id: &FrameworkID) {
        let Some(f) = self.frameworks.get_mut(id) else {
            return;
        };
        let whole: Vec<u32> = f
            .filters
            .drain()
            .filter(|(_, fs)| fs.whole_until != 0.0)
            .map(|(a, _)| a)
            .collect();
        for aidx in whole {
            self.uncount_whole(aidx);
        }
    }

    fn uncount_whole(&mut self, aidx: u32) {
        if let Some(slot) = self
            .agent_by_idx
            .get(aidx as usize)
            .and_then(|a| a.as_ref())
            .and_then(|id| self.agents.get_mut(id))
        {
            slot.whole_filtered_by = slot.whole_filtered_by.saturating_sub(1);
        }
    }

    fn add_filter(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        resources: Resources,
        expires: f64,
    ) {
        let (Some(f), Some(a)) = (self.frameworks.get_mut(fid), self.agents.get_mut(agent)) else {
            return;
        };
        let fs = f.filters.entry(a.idx).or_default();
        if resources.contains(&a.total) {
            if fs.whole_until == 0.0 {
                a.whole_filtered_by += 1;
            }
            fs.whole_until = fs.whole_until.max(expires);
        } else {
            fs.partial.push((resources, expires));
        }
        self.expiries
            .push(Reverse((expires.max(0.0).to_bits(), f.idx, a.idx)));
    }

    /// Returns resources (offered or used) to the pool. With `refuse_seconds`,
    /// the framework is not offered the same resources on that agent again
    /// until `now + refuse_seconds`. The agent is a candidate for the next
    /// event cycle (resources freed by tasks or executors ending).
    pub fn recover(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: f64,
    ) {
        self.give_back(fid, agent, role, resources, refuse_seconds, now);
        if let Some(a) = self.agents.get(agent) {
            self.changed.insert(a.idx);
        }
    }

    /// Resources a framework handed back (a decline, the unused part of an
    /// accepted offer, a rescinded offer): like [`Allocator::recover`], but
    /// they wait for the next full cycle instead of making their agent a
    /// candidate for the next event cycle. As in Mesos, this bounds how
    /// often an offer nobody wants circulates: with 200 frameworks each
    /// declining, an agent would otherwise be re-offered 200 times in a row,
    /// each time at the cost of an event and a call.
    pub fn hand_back(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: f64,
    ) {
        self.give_back(fid, agent, role, resources, refuse_seconds, now);
    }

    /// What [`Allocator::recover`] and [`Allocator::hand_back`] share: the
    /// resources are free again, optionally behind a filter.
    fn give_back(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        resources: &Resources,
        refuse_seconds: Option<f64>,
        now: f64,
    ) {
        self.track(fid, agent, role, resources, -1);
        if let Some(secs) = refuse_seconds
            && secs > 0.0
            && !resources.is_empty()
        {
            self.add_filter(fid, agent, resources.unallocated(), now + secs);
        }
        self.resort_framework(fid, role);
        self.resort_role(role);
    }

    /// Marks resources as allocated outside a cycle (e.g. tasks re-reported).
    pub fn track_used(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        resources: &Resources,
    ) {
        self.track(fid, agent, role, resources, 1);
        self.resort_framework(fid, role);
        self.resort_role(role);
    }

    fn track(
        &mut self,
        fid: &FrameworkID,
        agent: &AgentID,
        role: &str,
        resources: &Resources,
        sign: i128,
    ) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.free_stamp = crate::master::stamped::next_stamp();
            let headroom = !self.quotas.is_empty();
            let before = if headroom {
                unreserved_q(&a.free)
            } else {
                [0; 4]
            };
            let plain = if resources.iter().any(|r| r.allocation_info.is_some()) {
                std::borrow::Cow::Owned(resources.unallocated())
            } else {
                std::borrow::Cow::Borrowed(resources)
            };
            if sign > 0 {
                a.free.subtract(&plain);
            } else {
                a.free.add(&plain);
                if !a.total.contains(&a.free) {
                    // Recovering more than was allocated would over-commit
                    // the agent; keep free within the total.
                    tracing::error!(agent = %agent, "allocator recovered more than was allocated; clamping");
                    a.free = a.total.minus(&a.total.minus(&a.free));
                }
            }
            if headroom {
                add_q(&mut self.free_total, &before, -1);
                add_q(&mut self.free_total, &unreserved_q(&a.free), 1);
            }
        }
        let q = quantities(resources);
        if let Some(f) = self.frameworks.get_mut(fid) {
            add_q(
                f.allocated.entry(role.to_string()).or_insert([0; 4]),
                &q,
                sign,
            );
        }
        add_q(
            self.role_allocated
                .entry(role.to_string())
                .or_insert([0; 4]),
            &q,
            sign,
        );
    }

    fn share(&self, q: &Quantities, weight: f64) -> f64 {
        let s = q
            .iter()
            .zip(self.cluster_total.iter())
            .filter(|(_, total)| **total > 0)
            .map(|(used, total)| *used as f64 / *total as f64)
            .fold(0.0, f64::max);
        s / weight
    }

    fn resort_framework(&mut self, fid: &FrameworkID, role: &str) {
        // Only roles it is subscribed to: usage left in a dropped role must
        // not put it back among that role's members.
        let Some(q) = self
            .frameworks
            .get(fid)
            .filter(|f| f.roles.contains(role))
            .and_then(|f| f.allocated.get(role))
            .copied()
        else {
            return;
        };
        let share = self.share(&q, 1.0);
        if let Some(s) = self.role_members.get_mut(role) {
            s.set(fid, share);
        }
    }

    fn resort_role(&mut self, role: &str) {
        if !self.role_members.contains_key(role) {
            return;
        }
        let q = self.role_allocated.get(role).copied().unwrap_or([0; 4]);
        let w = self.weights.get(role).copied().unwrap_or(1.0);
        let share = self.share(&q, w);
        self.roles.set(&role.to_string(), share);
    }

    /// Totals changed: every share moves.
    fn resort_all(&mut self) {
        let pairs: Vec<(FrameworkID, String)> = self
            .frameworks
            .iter()
            .flat_map(|(id, f)| f.roles.iter().map(move |r| (id.clone(), r.clone())))
            .collect();
        for (fid, role) in pairs {
            self.resort_framework(&fid, &role);
        }
        let roles: Vec<String> = self.role_members.keys().cloned().collect();
        for r in roles {
            self.resort_role(&r);
        }
    }

    fn allocatable(&self, r: &Resources) -> bool {
        to_milli(r.scalar("cpus")) >= self.min_cpus || to_milli(r.scalar("mem")) >= self.min_mem
    }

    fn eligible(
        &self,
        fid: &FrameworkID,
        role: &str,
        agent: u32,
        offer: &Resources,
        now: f64,
    ) -> bool {
        let Some(f) = self.frameworks.get(fid) else {
            return false;
        };
        if !f.active || f.suppressed.contains(role) {
            return false;
        }
        match f.filters.get(&agent) {
            Some(fs) => {
                fs.whole_until <= now
                    && !fs
                        .partial
                        .iter()
                        .any(|(r, expires)| *expires > now && r.contains(offer))
            }
            None => true,
        }
    }

    /// Free resources of an agent (total minus offered and used).
    pub fn available(&self, agent: &AgentID) -> Option<Resources> {
        self.agents.get(agent).map(|a| a.free.clone())
    }

    /// One scalar of an agent's free resources, without copying them.
    pub fn free_scalar(&self, agent: &AgentID, name: &str) -> Option<f64> {
        self.agents.get(agent).map(|a| a.free.scalar(name))
    }

    /// An agent's free resources, by reference.
    pub fn free(&self, agent: &AgentID) -> Option<&Resources> {
        self.agents.get(agent).map(|a| &a.free)
    }

    /// Changes whenever the agent's [`available`](Self::available) does.
    pub fn available_stamp(&self, agent: &AgentID) -> Option<u64> {
        self.agents.get(agent).map(|a| a.free_stamp)
    }

    /// Runs one allocation cycle over all agents.
    pub fn allocate(&mut self, now: f64) -> Vec<Allocation> {
        self.expire_filters(now);
        self.changed.clear();
        self.all_changed = false;
        let n = self.agent_by_idx.len();
        if n == 0 {
            return Vec::new();
        }
        let start = self.rotation % n;
        self.rotation = self.rotation.wrapping_add(1);
        self.allocate_indexes((0..n).map(|i| ((start + i) % n) as u32), now)
    }

    /// Runs a cycle over the agents that changed since the last cycle
    /// (event-triggered); a full cycle when a change concerns every agent.
    pub fn allocate_changed(&mut self, now: f64) -> Vec<Allocation> {
        if self.all_changed {
            return self.allocate(now);
        }
        self.expire_filters(now);
        let changed = std::mem::take(&mut self.changed);
        self.allocate_indexes(changed.into_iter(), now)
    }

    fn allocate_indexes(&mut self, idxs: impl Iterator<Item = u32>, now: f64) -> Vec<Allocation> {
        let mut out = Vec::new();
        if self.frameworks.is_empty() {
            return out;
        }
        // One role order per cycle; re-read only after an allocation moved it.
        let mut role_order: Vec<String> = Vec::new();
        let mut role_order_stale = true;
        for aidx in idxs {
            // Cheap checks on borrowed state first: most agents of a busy
            // cluster have nothing allocatable and cost no clone.
            let Some(agent) = self
                .agent_by_idx
                .get(aidx as usize)
                .and_then(|a| a.as_ref())
            else {
                continue;
            };
            let Some(slot) = self.agents.get(agent) else {
                continue;
            };
            if !slot.active
                || slot.whole_filtered_by as usize >= self.frameworks.len()
                || !self.allocatable(&slot.free)
            {
                continue;
            }
            let agent = agent.clone();
            let mut available = slot.free.clone();
            if role_order_stale {
                role_order = self.role_order();
                role_order_stale = false;
            }
            for role in &role_order {
                let usable = self.within_quota(role, available.usable_by(role));
                if !self.allocatable(&usable) {
                    continue;
                }
                let chosen = self.role_members.get(role).and_then(|s| {
                    s.order
                        .iter()
                        .map(|(_, f)| f)
                        .find(|f| self.eligible(f, role, aidx, &usable, now))
                        .cloned()
                });
                if let Some(fid) = chosen {
                    self.track(&fid, &agent, role, &usable, 1);
                    self.resort_framework(&fid, role);
                    self.resort_role(role);
                    role_order_stale = true;
                    available.subtract(&usable);
                    out.push(Allocation {
                        framework_id: fid,
                        agent_id: agent.clone(),
                        role: role.clone(),
                        resources: usable.allocated_to(role),
                    });
                    if !self.allocatable(&available) {
                        break;
                    }
                }
            }
        }
        out
    }

    /// Drops filters that expired by `now`: only those, via the heap.
    fn expire_filters(&mut self, now: f64) {
        while let Some(Reverse((bits, fidx, aidx))) = self.expiries.peek().copied() {
            if f64::from_bits(bits) > now {
                break;
            }
            self.expiries.pop();
            let Some(fid) = self.framework_by_idx.get(fidx as usize).cloned().flatten() else {
                continue;
            };
            let Some(f) = self.frameworks.get_mut(&fid) else {
                continue;
            };
            let Some(fs) = f.filters.get_mut(&aidx) else {
                continue;
            };
            let mut uncount = false;
            if fs.whole_until != 0.0 && fs.whole_until <= now {
                fs.whole_until = 0.0;
                uncount = true;
            }
            fs.partial.retain(|(_, e)| *e > now);
            self.changed.insert(aidx);
            if fs.whole_until == 0.0 && fs.partial.is_empty() {
                f.filters.remove(&aidx);
            }
            if uncount {
                self.uncount_whole(aidx);
            }
        }
    }
}

#[cfg(test)]
mod tests;
