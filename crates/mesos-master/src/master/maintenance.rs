//! Maintenance (`mesos.v1.maintenance`): a schedule of windows in which
//! machines will be unavailable, and each machine's mode: UP, DRAINING
//! while it is in the schedule, DOWN after `machine/down` (its agents are
//! shut down and may not register until `machine/up`). The frameworks
//! using an agent on a draining machine get inverse offers asking for it
//! back by the window's start; their answers (ACCEPT_INVERSE_OFFERS,
//! DECLINE_INVERSE_OFFERS) are shown in `/maintenance/status`, and offers
//! of such an agent carry its `unavailability`.
//!
//! Schedule and machine modes are one registry record (`maintenance`),
//! written before they take effect and recovered at start. A machine is
//! named by hostname, IP or both; an agent is on it when every field the
//! operator gave matches the agent's.

use super::Master;
use super::policy::Reply;
use super::registry::{RegistryOp, Then};
use crate::error::ApiError;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::policy::{
    ClusterStatus, DrainingMachine, InverseOffer, InverseOfferState, InverseOfferStatus, MachineID,
    Schedule, TimeInfo, Unavailability,
};
use mesos_types::scheduler::Event;
use mesos_types::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Registry key of the [`MaintenanceRecord`].
pub const MAINTENANCE_KEY: &str = "maintenance";

/// Told to the agents of a machine brought down (and refused later).
pub const MACHINE_DOWN_MESSAGE: &str = "Agent's machine is DOWN for maintenance";

/// How long a declined inverse offer is not sent again, unless the
/// framework's filter says otherwise (Mesos's `Filters` default).
const DEFAULT_REFUSE_SECONDS: f64 = 5.0;

/// What the registry keeps of maintenance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MaintenanceRecord {
    #[serde(default)]
    pub schedule: Schedule,
    /// Machines that are DOWN (all of them in the schedule).
    #[serde(default)]
    pub down: Vec<MachineID>,
}

/// The book's maintenance state.
#[derive(Debug, Default)]
pub struct Maintenance {
    pub record: MaintenanceRecord,
    /// `record` by machine, for lookups in O(1) (it is consulted for every
    /// offer and every agent of a full allocation cycle).
    pub index: MachineIndex,
    /// A change of `record` is being written: another waits (503, retry)
    /// rather than be built on state that may not land.
    pub recording: bool,
    /// Outstanding inverse offers: id -> (framework, agent).
    pub inverse_offers: HashMap<OfferID, (FrameworkID, AgentID)>,
    /// Each framework's latest answer about each agent, with its time.
    pub statuses: HashMap<AgentID, BTreeMap<FrameworkID, (InverseOfferState, f64)>>,
    /// (framework, agent) pairs not to ask again before the time (declined).
    pub declined_until: HashMap<(FrameworkID, AgentID), f64>,
}

/// A machine as the index keys it: hostname (case-insensitive) and IP,
/// either of which may be absent.
type MachineKey = (Option<String>, Option<String>);

fn key(m: &MachineID) -> MachineKey {
    (
        m.hostname.as_ref().map(|h| h.to_ascii_lowercase()),
        m.ip.clone(),
    )
}

/// The keys an agent's machine may be named by: hostname and IP, the
/// hostname alone, the IP alone (every field an operator gives must match).
fn agent_keys(hostname: &str, ip: &str) -> [MachineKey; 3] {
    let h = hostname.to_ascii_lowercase();
    [
        (Some(h.clone()), Some(ip.to_string())),
        (Some(h), None),
        (None, Some(ip.to_string())),
    ]
}

/// Whether `m` names the machine of an agent with this hostname and IP.
pub fn machine_matches(m: &MachineID, hostname: &str, ip: &str) -> bool {
    agent_keys(hostname, ip).contains(&key(m))
}

/// A [`MaintenanceRecord`] by machine.
#[derive(Debug, Default)]
pub struct MachineIndex {
    scheduled: HashMap<MachineKey, Unavailability>,
    down: HashSet<MachineKey>,
}

impl MachineIndex {
    pub fn of(r: &MaintenanceRecord) -> MachineIndex {
        let mut scheduled = HashMap::new();
        for w in &r.schedule.windows {
            for m in &w.machine_ids {
                scheduled.entry(key(m)).or_insert(w.unavailability);
            }
        }
        MachineIndex {
            scheduled,
            down: r.down.iter().map(key).collect(),
        }
    }

    /// The schedule entry naming an agent's machine, with its window.
    fn entry_of(&self, hostname: &str, ip: &str) -> Option<(MachineKey, Unavailability)> {
        agent_keys(hostname, ip)
            .into_iter()
            .find_map(|k| self.scheduled.get(&k).map(|u| (k, *u)))
    }

    /// The window of the machine an agent is on, if it is scheduled.
    pub fn window_of(&self, hostname: &str, ip: &str) -> Option<Unavailability> {
        self.entry_of(hostname, ip).map(|(_, u)| u)
    }

    pub fn is_down(&self, hostname: &str, ip: &str) -> bool {
        agent_keys(hostname, ip)
            .iter()
            .any(|k| self.down.contains(k))
    }

    fn scheduled(&self, m: &MachineID) -> bool {
        self.scheduled.contains_key(&key(m))
    }

    fn down_contains(&self, m: &MachineID) -> bool {
        self.down.contains(&key(m))
    }
}

/// Checks a schedule an operator posts (Mesos's rules, plus IPs must parse).
fn validate_schedule(s: &Schedule, current: &MaintenanceRecord) -> Result<(), ApiError> {
    let mut seen: HashSet<MachineKey> = HashSet::new();
    for (i, w) in s.windows.iter().enumerate() {
        if w.machine_ids.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "Maintenance window {i} lists no machines"
            )));
        }
        if w.unavailability.duration.is_some_and(|d| d.nanoseconds < 0) {
            return Err(ApiError::BadRequest(format!(
                "Maintenance window {i} has a negative duration"
            )));
        }
        for m in &w.machine_ids {
            validate_machine(m)?;
            if !seen.insert(key(m)) {
                return Err(ApiError::BadRequest(format!(
                    "Machine {} appears in more than one maintenance window",
                    describe(m)
                )));
            }
        }
    }
    for m in &current.down {
        if !seen.contains(&key(m)) {
            return Err(ApiError::BadRequest(format!(
                "Machine {} is DOWN and cannot be removed from the schedule; bring it up first",
                describe(m)
            )));
        }
    }
    Ok(())
}

fn validate_machine(m: &MachineID) -> Result<(), ApiError> {
    if m.hostname.as_deref().is_none_or(str::is_empty) && m.ip.as_deref().is_none_or(str::is_empty)
    {
        return Err(ApiError::BadRequest(
            "A machine needs a hostname or an IP".into(),
        ));
    }
    if let Some(ip) = &m.ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(ApiError::BadRequest(format!(
            "Machine IP '{ip}' is not an IP address"
        )));
    }
    Ok(())
}

fn describe(m: &MachineID) -> String {
    format!(
        "'{}' ({})",
        m.hostname.as_deref().unwrap_or(""),
        m.ip.as_deref().unwrap_or("")
    )
}

fn time_info(secs: f64) -> TimeInfo {
    TimeInfo {
        nanoseconds: (secs * 1e9) as i64,
    }
}

impl Master {
    /// UPDATE_MAINTENANCE_SCHEDULE / `POST /maintenance/schedule`.
    pub fn request_update_schedule(&mut self, schedule: Schedule, reply: Reply) {
        let record =
            validate_schedule(&schedule, &self.maintenance.record).map(|()| MaintenanceRecord {
                schedule,
                down: self.maintenance.record.down.clone(),
            });
        self.queue_maintenance(record, reply);
    }

    /// Queues a new maintenance record, or answers why not. One change
    /// at a time: the next is built on the last one written, so a change
    /// made while one is being recorded is refused (503, retry).
    fn queue_maintenance(&mut self, record: Result<MaintenanceRecord, ApiError>, reply: Reply) {
        if self.maintenance.recording {
            let _ = reply.send(Err(ApiError::Unavailable(
                "A maintenance change is being recorded; retry".into(),
            )));
            return;
        }
        match record {
            Ok(record) => {
                self.maintenance.recording = true;
                self.queue_write(
                    RegistryOp::SetMaintenance(Box::new(record)),
                    Then::Apply { reply: Some(reply) },
                );
            }
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
    }

    /// START_MAINTENANCE / `POST /machine/down`: scheduled machines go DOWN.
    pub fn request_machines_down(&mut self, machines: Vec<MachineID>, reply: Reply) {
        let check = || -> Result<MaintenanceRecord, ApiError> {
            if machines.is_empty() {
                return Err(ApiError::BadRequest("No machines given".into()));
            }
            let mut record = self.maintenance.record.clone();
            let mut index = MachineIndex::of(&record);
            for m in &machines {
                validate_machine(m)?;
                if !index.scheduled(m) {
                    return Err(ApiError::BadRequest(format!(
                        "Machine {} is not part of a maintenance schedule",
                        describe(m)
                    )));
                }
                if !index.down.insert(key(m)) {
                    return Err(ApiError::BadRequest(format!(
                        "Machine {} is already DOWN",
                        describe(m)
                    )));
                }
                record.down.push(m.clone());
            }
            Ok(record)
        };
        let record = check();
        self.queue_maintenance(record, reply);
    }

    /// STOP_MAINTENANCE / `POST /machine/up`: DOWN machines are UP again
    /// and leave the schedule.
    pub fn request_machines_up(&mut self, machines: Vec<MachineID>, reply: Reply) {
        let check = || -> Result<MaintenanceRecord, ApiError> {
            if machines.is_empty() {
                return Err(ApiError::BadRequest("No machines given".into()));
            }
            let mut record = self.maintenance.record.clone();
            let index = MachineIndex::of(&record);
            for m in &machines {
                validate_machine(m)?;
                if !index.down_contains(m) {
                    return Err(ApiError::BadRequest(format!(
                        "Machine {} is not DOWN",
                        describe(m)
                    )));
                }
            }
            let up: HashSet<MachineKey> = machines.iter().map(key).collect();
            record.down.retain(|d| !up.contains(&key(d)));
            for w in &mut record.schedule.windows {
                w.machine_ids.retain(|d| !up.contains(&key(d)));
            }
            record
                .schedule
                .windows
                .retain(|w| !w.machine_ids.is_empty());
            Ok(record)
        };
        let record = check();
        self.queue_maintenance(record, reply);
    }

    /// Applies a written maintenance record.
    pub(crate) fn apply_maintenance(&mut self, record: &MaintenanceRecord, now: f64) {
        tracing::info!(
            windows = record.schedule.windows.len(),
            down = record.down.len(),
            "maintenance updated"
        );
        self.maintenance.record = record.clone();
        self.maintenance.index = MachineIndex::of(record);
        // Agents no longer draining: their inverse offers are withdrawn
        // and their answers forgotten.
        let stale: Vec<(OfferID, FrameworkID)> = self
            .maintenance
            .inverse_offers
            .iter()
            .filter(|(_, (_, aid))| self.agent_window(aid).is_none())
            .map(|(id, (fid, _))| (id.clone(), fid.clone()))
            .collect();
        for (id, fid) in stale {
            self.maintenance.inverse_offers.remove(&id);
            self.send_to_framework(&fid, Event::rescind_inverse_offer(id));
        }
        let draining: BTreeSet<AgentID> = self
            .agents
            .keys()
            .filter(|a| self.agent_window(a).is_some())
            .cloned()
            .collect();
        self.maintenance
            .statuses
            .retain(|a, _| draining.contains(a));
        // Agents of machines now DOWN are shut down and removed.
        let down: Vec<AgentID> = self
            .agents
            .values()
            .filter(|a| self.maintenance.index.is_down(&a.info.hostname, &a.ip))
            .map(|a| a.id.clone())
            .collect();
        for aid in down {
            self.machine_down(&aid, now);
        }
        self.send_inverse_offers(now);
        // Offers carry the agents' unavailability: renew them.
        let renew: Vec<OfferID> = self.offers.keys().cloned().collect();
        for id in renew {
            self.rescind_offer(&id, now);
        }
        self.allocation_wanted = true;
    }

    fn machine_down(&mut self, aid: &AgentID, now: f64) {
        let Some(agent) = self.agents.remove(aid) else {
            return;
        };
        tracing::warn!(agent = %aid, hostname = %agent.info.hostname, "agent's machine is DOWN for maintenance; shutting it down");
        if let Some(s) = &agent.subscription {
            s.send(AgentEvent::Shutdown {
                message: MACHINE_DOWN_MESSAGE.into(),
            });
        }
        self.counters.agent_removals += 1;
        self.remove_agent(
            agent,
            TaskState::TASK_GONE_BY_OPERATOR,
            Reason::REASON_AGENT_REMOVED_BY_OPERATOR,
            MACHINE_DOWN_MESSAGE,
            now,
        );
        self.maintenance.statuses.remove(aid);
    }

    /// The unavailability of the machine `aid` is on, if it is draining.
    pub fn agent_window(&self, aid: &AgentID) -> Option<Unavailability> {
        let a = self.agents.get(aid)?;
        let index = &self.maintenance.index;
        if index.scheduled.is_empty() || index.is_down(&a.info.hostname, &a.ip) {
            return None;
        }
        index.window_of(&a.info.hostname, &a.ip)
    }

    /// Whether an agent registering from this host may not (its machine is DOWN).
    pub fn machine_is_down(&self, hostname: &str, ip: &str) -> bool {
        self.maintenance.index.is_down(hostname, ip)
    }

    /// Sends an inverse offer to every connected framework that uses an
    /// agent of a draining machine and has neither an outstanding one for
    /// it, nor accepted, nor declined it recently. Runs with every full
    /// allocation cycle, so frameworks that start using such an agent
    /// later are asked too.
    pub(crate) fn send_inverse_offers(&mut self, now: f64) {
        if self.maintenance.record.schedule.windows.is_empty() {
            return;
        }
        // Outstanding ones of frameworks or agents that left are dropped.
        let (frameworks, agents) = (&self.frameworks, &self.agents);
        self.maintenance
            .inverse_offers
            .retain(|_, (f, a)| frameworks.contains_key(f) && agents.contains_key(a));
        self.maintenance.declined_until.retain(|_, t| *t > now);
        let mut out: BTreeMap<FrameworkID, Vec<InverseOffer>> = BTreeMap::new();
        let mut aids: Vec<&AgentID> = self.agents.keys().collect();
        aids.sort();
        let outstanding: HashSet<(&FrameworkID, &AgentID)> = self
            .maintenance
            .inverse_offers
            .values()
            .map(|(f, a)| (f, a))
            .collect();
        let mut sends = Vec::new();
        for aid in aids {
            let Some(unavailability) = self.agent_window(aid) else {
                continue;
            };
            let Some(agent) = self.agents.get(aid) else {
                continue;
            };
            let mut users: BTreeSet<&FrameworkID> = agent.tasks.iter().map(|(f, _)| f).collect();
            users.extend(
                self.frameworks
                    .iter()
                    .filter(|(_, f)| f.executors.get(aid).is_some_and(|e| !e.is_empty()))
                    .map(|(id, _)| id),
            );
            for fid in users {
                let connected = self.frameworks.get(fid).is_some_and(|f| f.connected());
                let outstanding = outstanding.contains(&(fid, aid));
                let answered = self
                    .maintenance
                    .statuses
                    .get(aid)
                    .and_then(|s| s.get(fid))
                    .is_some_and(|(s, _)| *s == InverseOfferState::ACCEPT);
                let declined = self
                    .maintenance
                    .declined_until
                    .contains_key(&(fid.clone(), aid.clone()));
                if connected && !outstanding && !answered && !declined {
                    sends.push((fid.clone(), aid.clone(), agent.url(), unavailability));
                }
            }
        }
        for (fid, aid, url, unavailability) in sends {
            let id = self.ids.offer();
            self.maintenance
                .inverse_offers
                .insert(id.clone(), (fid.clone(), aid.clone()));
            self.maintenance
                .statuses
                .entry(aid.clone())
                .or_default()
                .entry(fid.clone())
                .or_insert((InverseOfferState::UNKNOWN, now));
            out.entry(fid.clone()).or_default().push(InverseOffer {
                id,
                url: Some(url),
                framework_id: fid,
                agent_id: Some(aid),
                unavailability,
                resources: Vec::new(),
            });
        }
        for (fid, offers) in out {
            tracing::info!(framework = %fid, count = offers.len(), "sending inverse offers");
            self.send_to_framework(&fid, Event::inverse_offers(offers));
        }
    }

    /// ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS from `fid`. Ids that
    /// are not its outstanding inverse offers are ignored, as in Mesos.
    pub fn answer_inverse_offers(
        &mut self,
        fid: &FrameworkID,
        ids: &[OfferID],
        accept: bool,
        refuse_seconds: Option<f64>,
        now: f64,
    ) {
        for id in ids {
            let Some((f, aid)) = self.maintenance.inverse_offers.get(id).cloned() else {
                tracing::warn!(framework = %fid, inverse_offer = %id, "ignoring an answer to an unknown inverse offer");
                continue;
            };
            if &f != fid {
                tracing::warn!(framework = %fid, inverse_offer = %id, "ignoring an answer to another framework's inverse offer");
                continue;
            }
            self.maintenance.inverse_offers.remove(id);
            let state = if accept {
                InverseOfferState::ACCEPT
            } else {
                let secs = refuse_seconds
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .unwrap_or(DEFAULT_REFUSE_SECONDS)
                    .min(31_536_000.0);
                self.maintenance
                    .declined_until
                    .insert((fid.clone(), aid.clone()), now + secs);
                InverseOfferState::DECLINE
            };
            tracing::info!(framework = %fid, agent = %aid, ?state, "inverse offer answered");
            self.maintenance
                .statuses
                .entry(aid)
                .or_default()
                .insert(fid.clone(), (state, now));
        }
    }

    /// `/maintenance/status`, GET_MAINTENANCE_STATUS.
    pub fn maintenance_status(&self) -> ClusterStatus {
        let r = &self.maintenance.record;
        let index = &self.maintenance.index;
        // Each agent under the schedule entry that names its machine.
        let mut by_machine: HashMap<MachineKey, Vec<&AgentID>> = HashMap::new();
        if !index.scheduled.is_empty() {
            for a in self.agents.values() {
                if let Some((k, _)) = index.entry_of(&a.info.hostname, &a.ip) {
                    by_machine.entry(k).or_default().push(&a.id);
                }
            }
        }
        let mut draining = Vec::new();
        for w in &r.schedule.windows {
            for m in &w.machine_ids {
                if index.down_contains(m) {
                    continue;
                }
                let mut statuses = Vec::new();
                for aid in by_machine.get(&key(m)).into_iter().flatten() {
                    for (fid, (state, t)) in
                        self.maintenance.statuses.get(*aid).into_iter().flatten()
                    {
                        statuses.push(InverseOfferStatus {
                            status: *state,
                            framework_id: fid.clone(),
                            timestamp: time_info(*t),
                        });
                    }
                }
                draining.push(DrainingMachine {
                    id: m.clone(),
                    statuses,
                });
            }
        }
        ClusterStatus {
            draining_machines: draining,
            down_machines: r.down.clone(),
        }
    }

    /// The maintenance record from the registry (at start).
    pub fn recover_maintenance(&mut self, record: MaintenanceRecord) {
        self.maintenance.index = MachineIndex::of(&record);
        self.maintenance.record = record;
    }
}
