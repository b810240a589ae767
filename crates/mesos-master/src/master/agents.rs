//! Agent admission, re-registration and disconnection.

use super::{Master, Subscription, TaskEntry};
use mesos_types::agent_protocol::{AgentEvent, AgentTask};
use mesos_types::scheduler::Event;
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::HashSet;

#[derive(Debug)]
pub struct AgentEntry {
    pub id: AgentID,
    pub info: AgentInfo,
    /// The address the agent is reached at (`ip:port` from its registration).
    pub ip: String,
    pub version: String,
    pub total: Resources,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    pub subscription: Option<Subscription<AgentEvent>>,
    pub tasks: HashSet<(FrameworkID, TaskID)>,
    pub offers: super::stamped::OfferIds,
    /// Last time the agent registered, answered a PING or called.
    pub last_seen: f64,
    /// What `/master/state` shows of the agent that is not the allocator's
    /// (all but used/offered/active), until [`AgentEntry::changed`].
    pub rendered: std::sync::OnceLock<std::sync::Arc<crate::state_json::RenderedAgent>>,
}

impl AgentEntry {
    /// Must follow every change of id, info, ip, version, total or times.
    pub fn changed(&mut self) {
        self.rendered = Default::default();
    }

    pub fn pid(&self) -> String {
        format!("slave(1)@{}:{}", self.ip, self.info.port)
    }

    pub fn url(&self) -> URL {
        URL {
            scheme: "http".into(),
            address: Address {
                hostname: Some(self.info.hostname.clone()),
                ip: Some(self.ip.clone()),
                port: self.info.port,
            },
            path: Some("/slave(1)".into()),
        }
    }

    pub fn connected(&self) -> bool {
        self.subscription.is_some()
    }

    /// Resources held by non-terminal tasks and custom executors on this agent.
    pub fn used_resources(&self, m: &Master) -> Resources {
        let mut used = Resources::new();
        for (fid, tid) in &self.tasks {
            if let Some(t) = m.frameworks.get(fid).and_then(|f| f.tasks.get(tid))
                && !t.resources_released
            {
                used.add(&t.resources);
            }
        }
        for f in m.frameworks.values() {
            if let Some(execs) = f.executors.get(&self.id) {
                for (_, r, _) in execs.values() {
                    used.add(r);
                }
            }
        }
        used
    }
}

/// The registration request, already validated by the HTTP layer.
#[derive(Debug, Clone)]
pub struct Registration {
    pub info: AgentInfo,
    pub ip: String,
    pub version: String,
    pub tasks: Vec<AgentTask>,
    /// The `FrameworkInfo` of every framework the agent runs tasks of (as
    /// the framework gave it at launch): a framework known only from
    /// re-registering agents keeps its `user`, `checkpoint` and
    /// capabilities until it re-subscribes.
    pub frameworks: Vec<FrameworkInfo>,
    /// The agent asked to keep an id it had before.
    pub reregister: bool,
    /// Dynamic reservations and volumes the agent has checkpointed.
    pub checkpointed: Vec<Resource>,
}

impl Master {
    /// Admits a new agent or re-admits a known one. `id` is the id to use
    /// (freshly generated and already persisted in the registry by the
    /// caller, or the agent's own on re-registration).
    pub fn admit_agent(
        &mut self,
        id: AgentID,
        reg: Registration,
        tx: crate::event_queue::EventSender<AgentEvent>,
        now: f64,
    ) -> String {
        let stream_id = uuid::Uuid::new_v4().to_string();
        let subscription = Subscription {
            stream_id: stream_id.clone(),
            tx,
        };
        let mut info = reg.info;
        info.id = Some(id.clone());
        let (total, resend_checkpoint) = self.registered_total(&id, &info, &reg.checkpointed);
        self.recovering_agents.remove(&id);

        let mut kills: Vec<(FrameworkID, TaskID)> = Vec::new();
        let mut tell: Vec<(FrameworkID, TaskStatus)> = Vec::new();
        let mut missing: Vec<(FrameworkID, TaskID)> = Vec::new();
        let mut resumed: Vec<(FrameworkID, TaskID, TaskState)> = Vec::new();
        // Back from unreachable (its registry mark cleared only once it has
        // heard the kills below).
        let mut returned = false;
        // Removed frameworks the agent still runs something of.
        let mut shutdown: std::collections::BTreeSet<FrameworkID> = reg
            .frameworks
            .iter()
            .filter_map(|f| f.id.clone())
            .filter(|fid| self.removed_frameworks.contains(fid))
            .collect();
        if let Some(agent) = self.agents.get_mut(&id) {
            agent.subscription = Some(subscription.clone());
            agent.reregistered_time = Some(now);
            agent.last_seen = now;
            agent.version = reg.version;
            agent.ip = reg.ip;
            agent.changed();
            self.counters.agent_reregistrations += 1;
            // Tasks we believe run there but the agent no longer reports
            // (a launch lost with the old connection, a restart without
            // recovery) would otherwise stay RUNNING forever.
            let reported: HashSet<(FrameworkID, TaskID)> = reg
                .tasks
                .iter()
                .map(|t| (t.framework_id.clone(), t.task.task_id.clone()))
                .collect();
            missing = agent
                .tasks
                .iter()
                .filter(|k| !reported.contains(*k))
                .cloned()
                .collect();
            // Tasks it still runs that the book does not hold live: the
            // book ended them (e.g. reported lost while it was unreachable;
            // the kills sent then may not have reached it, and the
            // completed list is bounded): killed again.
            for t in reg.tasks.iter().filter(|t| !is_terminal(t.state)) {
                let ended = self
                    .frameworks
                    .get(&t.framework_id)
                    .is_some_and(|f| !f.tasks.contains_key(&t.task.task_id));
                if ended {
                    kills.push((t.framework_id.clone(), t.task.task_id.clone()));
                }
            }
            self.allocator.set_agent_active(&id, true);
            tracing::info!(agent = %id, "agent re-registered");
        } else {
            let reregistering = reg.reregister;
            let mut entry = AgentEntry {
                id: id.clone(),
                info: info.clone(),
                ip: reg.ip,
                version: reg.version,
                total: total.clone(),
                registered_time: now,
                reregistered_time: None,
                subscription: Some(subscription.clone()),
                tasks: HashSet::new(),
                offers: Default::default(),
                last_seen: now,
                rendered: Default::default(),
            };
            // Frameworks the agent runs tasks of, as it reports them: one
            // this master does not know yet (it restarted) is booked with
            // that FrameworkInfo until it re-subscribes, so its user,
            // checkpointing and partition-awareness hold meanwhile.
            // Only frameworks it runs tasks of, and only FrameworkInfos a
            // SUBSCRIBE would pass: an agent cannot inject frameworks.
            let running: HashSet<&FrameworkID> =
                reg.tasks.iter().map(|t| &t.framework_id).collect();
            for info in &reg.frameworks {
                if let Some(fid) = &info.id
                    && running.contains(fid)
                    && !self.removed_frameworks.contains(fid)
                    && !self.frameworks.contains_key(fid)
                {
                    let info = match super::validation::validate_framework_info(info) {
                        Ok(()) => info.clone(),
                        Err(e) => {
                            tracing::warn!(agent = %id, framework = %fid, "ignoring an invalid FrameworkInfo the agent reported: {e}");
                            FrameworkInfo {
                                id: Some(fid.clone()),
                                ..Default::default()
                            }
                        }
                    };
                    self.frameworks
                        .insert(fid.clone(), super::FrameworkEntry::recovered(info, now));
                }
            }
            // Tasks the agent still runs. After a master restart: adopt
            // them (their frameworks will re-subscribe). After this agent
            // was marked unreachable: partition-aware tasks resume; the
            // other frameworks' tasks were lost, and stay lost.
            let was_unreachable = self.unreachable_agents.remove(&id).is_some();
            returned = was_unreachable;

            let mut reported_lost = self.lost_by_reconciliation.remove(&id).unwrap_or_default();
            let mut used = Vec::new();
            for t in reg.tasks {
                if self.removed_frameworks.contains(&t.framework_id) {
                    // Removed (torn down, or past its failover timeout): its
                    // tasks are killed, never adopted.
                    shutdown.insert(t.framework_id.clone());
                    continue;
                }
                let res = Resources::from_wire(t.task.resources.clone());
                let role = res
                    .iter()
                    .find_map(|r| r.allocation_info.as_ref().and_then(|a| a.role.clone()))
                    .unwrap_or_else(|| "*".into());
                let fw = self
                    .frameworks
                    .entry(t.framework_id.clone())
                    .or_insert_with(|| {
                        super::FrameworkEntry::recovered(
                            FrameworkInfo {
                                id: Some(t.framework_id.clone()),
                                ..Default::default()
                            },
                            now,
                        )
                    });
                let completed = fw
                    .completed_tasks
                    .iter()
                    .any(|c| c.info.task_id == t.task.task_id);
                let terminal = is_terminal(t.state);
                // A task of a framework that is not partition-aware, on an
                // agent the registry marks unreachable, that the book does
                // not hold: its framework was told TASK_LOST (by the master
                // that marked the agent, or by reconciliation since), or
                // may be at any time. Whatever number of master restarts
                // happened since, the registry's mark says so: book it as
                // lost (killed if live; no later update contradicts it) and
                // say LOST again unless reconciliation just did. A repeated
                // LOST is harmless; a framework hearing of a task it was
                // told is lost is not.
                let told = reported_lost.remove(&t.task.task_id);
                // (Reconciliation's word holds even if the framework has
                // since become partition-aware.)
                if (told.is_some() || (was_unreachable && !fw.partition_aware()))
                    && !fw.tasks.contains_key(&t.task.task_id)
                    && !completed
                {
                    let status = match told {
                        Some((_, status)) => status,
                        None => {
                            let s = super::master_status(
                                t.task.task_id.clone(),
                                TaskState::TASK_LOST,
                                Reason::REASON_AGENT_REMOVED,
                                "Task was lost while its agent was unreachable",
                                Some(id.clone()),
                                now,
                            );
                            tell.push((t.framework_id.clone(), s.clone()));
                            // Ends here, on this master's word.
                            self.counters.tasks_ended.count(TaskState::TASK_LOST);
                            s
                        }
                    };
                    let mut lost = TaskEntry::new(
                        t.task.clone(),
                        t.framework_id.clone(),
                        id.clone(),
                        TaskState::TASK_LOST,
                        role.clone(),
                        res.clone(),
                        None,
                    );
                    lost.statuses.push(status);
                    lost.resources_released = true;
                    fw.push_completed(lost, self.config.max_completed_tasks_per_framework);
                    if !terminal {
                        kills.push((t.framework_id.clone(), t.task.task_id.clone()));
                    }
                    continue;
                }
                // Already completed in the book (e.g. reported lost while
                // this agent was unreachable): a terminal report's pending
                // update is settled when it arrives; a live one is killed.
                if completed && terminal {
                    continue;
                }
                if !terminal && (was_unreachable || completed) {
                    let unreachable = fw
                        .tasks
                        .get(&t.task.task_id)
                        .is_some_and(|x| x.state == TaskState::TASK_UNREACHABLE);
                    // After a master restart the book holds none of its
                    // tasks; a partition-aware framework's resume all the
                    // same (its framework was told UNREACHABLE at most).
                    let adoptable = was_unreachable
                        && !completed
                        && fw.partition_aware()
                        && !fw.tasks.contains_key(&t.task.task_id);
                    if !unreachable && !adoptable {
                        kills.push((t.framework_id.clone(), t.task.task_id.clone()));
                        continue;
                    }
                    resumed.push((t.framework_id.clone(), t.task.task_id.clone(), t.state));
                }
                entry
                    .tasks
                    .insert((t.framework_id.clone(), t.task.task_id.clone()));
                if !terminal {
                    used.push((t.framework_id.clone(), role.clone(), res.unallocated()));
                }
                let mut task = TaskEntry::new(
                    t.task,
                    t.framework_id.clone(),
                    id.clone(),
                    t.state,
                    role,
                    res,
                    None,
                );
                // A terminal task awaiting its acknowledgement holds nothing.
                task.resources_released = terminal;
                // Reconciliation answers what the framework hears next, not
                // a later state its retried updates would then contradict.
                task.status_update_state = t.status_update_state;
                // A task the book held live that ended while its agent was
                // away ends now, in the counters too (its status update,
                // which follows, finds it terminal already).
                let was_live =
                    (fw.tasks.get(&task.info.task_id)).is_some_and(|x| !is_terminal(x.state));
                if terminal && was_live {
                    self.counters.tasks_ended.count(task.state);
                }
                fw.tasks.insert(task.info.task_id.clone(), task);
            }
            self.agents.insert(id.clone(), entry);
            self.allocator.add_agent(id.clone(), total, used);
            self.operator_agent_added(&id);
            if reregistering {
                self.counters.agent_reregistrations += 1;
            } else {
                self.counters.agent_registrations += 1;
            }
            tracing::info!(agent = %id, hostname = %info.hostname, "agent registered");
        }
        subscription.send(AgentEvent::Registered {
            agent_id: id.clone(),
            master_info: self.info.clone(),
        });
        for framework_id in shutdown {
            tracing::info!(agent = %id, framework = %framework_id, "shutting down a removed framework the agent still runs");
            subscription.send(AgentEvent::ShutdownFramework { framework_id });
        }
        for (framework_id, task_id) in kills {
            tracing::info!(agent = %id, task = %task_id, "killing a task that was reported lost while its agent was unreachable");
            subscription.send(AgentEvent::KillTask {
                framework_id,
                task_id,
                kill_policy: None,
            });
        }
        if returned || self.reachable_on_pong.contains_key(&id) {
            self.ping_for_reachability(&id);
        }
        for (fid, tid) in missing {
            let live = self
                .frameworks
                .get(&fid)
                .and_then(|f| f.tasks.get(&tid))
                .is_some_and(|t| !is_terminal(t.state));
            if live {
                let pa = self
                    .frameworks
                    .get(&fid)
                    .is_some_and(|f| f.partition_aware());
                let state = if pa {
                    TaskState::TASK_GONE
                } else {
                    TaskState::TASK_LOST
                };
                self.task_failed_by_master(
                    &fid,
                    &tid,
                    state,
                    Reason::REASON_AGENT_RESTARTED,
                    "Task is unknown to the agent after it re-registered".into(),
                    now,
                );
            }
        }
        for (fid, status) in tell {
            self.send_to_framework(&fid, Event::update(status));
        }
        for (fid, tid, state) in resumed {
            self.master_update(
                &fid,
                tid,
                Some(id.clone()),
                state,
                Reason::REASON_AGENT_REREGISTERED,
                "Agent re-registered".into(),
                now,
            );
        }
        if resend_checkpoint {
            // It checkpointed something other than what the registry
            // records (it missed an update while the master was away).
            self.send_checkpoint(&id);
        }
        self.allocation_wanted = true;
        stream_id
    }

    pub fn check_agent_stream(
        &self,
        aid: &AgentID,
        stream_id: Option<&str>,
    ) -> Result<(), crate::error::ApiError> {
        use crate::error::ApiError;
        let a = self
            .agents
            .get(aid)
            .ok_or_else(|| ApiError::BadRequest(format!("Agent {aid} is not registered")))?;
        match (&a.subscription, stream_id) {
            (Some(s), Some(id)) if s.stream_id == id => Ok(()),
            (None, _) => Err(ApiError::Forbidden(format!("Agent {aid} is not connected"))),
            _ => Err(ApiError::BadRequest(
                "Missing or wrong 'Mesos-Stream-Id'".into(),
            )),
        }
    }

    /// The agent's event stream closed: no more offers from it until it
    /// re-registers; its outstanding offers are rescinded. Tasks are kept
    /// (agent health checking decides when they are lost).
    pub fn agent_disconnected(&mut self, aid: &AgentID, stream_id: &str, now: f64) {
        let Some(a) = self.agents.get_mut(aid) else {
            return;
        };
        if a.subscription.as_ref().map(|s| s.stream_id.as_str()) != Some(stream_id) {
            return;
        }
        a.subscription = None;
        let offers: Vec<OfferID> = a.offers.iter().cloned().collect();
        self.allocator.set_agent_active(aid, false);
        for oid in offers {
            self.rescind_offer(&oid, now);
        }
        tracing::warn!(agent = %aid, "agent disconnected");
    }
}
