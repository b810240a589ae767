//! Agent health: agents answer the master's PINGs; one silent for
//! `--agent_ping_timeout` x `--max_agent_ping_timeouts` is marked
//! unreachable (after the registry records it): its offers are rescinded,
//! its tasks become TASK_UNREACHABLE for partition-aware frameworks and
//! TASK_LOST for the others (REASON_AGENT_REMOVED), and every framework gets
//! a FAILURE event for it.

use super::Master;
use mesos_types::scheduler::{Event, Failure};
use mesos_types::task_state::is_terminal;
use mesos_types::*;

impl Master {
    /// Any sign of life from the agent.
    pub fn agent_seen(&mut self, aid: &AgentID, now: f64) {
        if let Some(a) = self.agents.get_mut(aid) {
            a.last_seen = now;
        }
    }

    /// A PONG on the agent's current stream: it received every event
    /// queued before the PING carrying `nonce`.
    pub fn agent_ponged(&mut self, aid: &AgentID, nonce: Option<u64>, now: f64) {
        self.agent_seen(aid, now);
        if nonce.is_some() && self.reachable_on_pong.get(aid).copied() == nonce {
            self.reachable_on_pong.remove(aid);
            self.queue_reachable(aid);
        }
    }

    /// For an agent back from unreachable: a PING with a fresh nonce after
    /// everything queued so far on its stream (see `reachable_on_pong`).
    pub(crate) fn ping_for_reachability(&mut self, aid: &AgentID) {
        self.ping_nonce += 1;
        let nonce = self.ping_nonce;
        self.reachable_on_pong.insert(aid.clone(), nonce);
        self.send_to_agent(
            aid,
            mesos_types::agent_protocol::AgentEvent::Ping { nonce: Some(nonce) },
        );
    }

    /// Finds agents past the health timeout, and agents from the registry
    /// that did not re-register within `--agent_reregister_timeout` of this
    /// master's start, not already being marked, and queues their
    /// unreachable marks for the registrar (returned, for tests). Called
    /// every `period` seconds.
    ///
    /// A check that comes more than a whole period late means the master
    /// itself did not run meanwhile (a paused VM, stolen CPU, a stopped
    /// process): it could not hear any agent then, so that time is not
    /// counted as the agents' silence (Mesos likewise counts missed ping
    /// rounds, not wall-clock time).
    pub fn silent_agents(&mut self, now: f64, period: f64) -> Vec<AgentID> {
        if let Some(last) = self.last_health_check {
            // Lateness up to a quarter of the timeout is ordinary load and
            // counts; only the rest is credited, so a master that is late
            // on every check still marks a dead agent eventually.
            let allowed = period.max(self.config.agent_health_timeout / 4.0);
            let paused = now - last - period - allowed;
            if paused > 0.0 {
                tracing::warn!(
                    paused_secs = paused,
                    "the master did not run for a while; not counting that against the agents"
                );
                for a in self.agents.values_mut() {
                    a.last_seen = (a.last_seen + paused).min(now);
                }
            }
        }
        self.last_health_check = Some(now);
        self.counters.health_checks += 1;
        let timeout = self.config.agent_health_timeout;
        let mut silent: Vec<AgentID> = self
            .agents
            .values()
            .filter(|a| now - a.last_seen > timeout && !self.marking_unreachable.contains(&a.id))
            .map(|a| a.id.clone())
            .collect();
        if now - self.start_time > self.config.agent_reregister_timeout {
            silent.extend(
                self.recovering_agents
                    .iter()
                    .filter(|a| !self.marking_unreachable.contains(*a))
                    .cloned(),
            );
        }
        self.marking_unreachable.extend(silent.iter().cloned());
        self.counters.unreachable_scheduled += silent.len() as u64;
        for id in &silent {
            self.queue_write(
                super::RegistryOp::MarkUnreachable {
                    id: id.clone(),
                    time: now,
                },
                super::registry::Then::Unreachable(id.clone()),
            );
        }
        silent
    }

    /// Removes a silent agent (the registry already records it as
    /// unreachable). Returns false, doing nothing, if it spoke up meanwhile
    /// (the caller then has the mark undone).
    pub fn mark_unreachable(&mut self, aid: &AgentID, now: f64) -> bool {
        self.marking_unreachable.remove(aid);
        if self.recovering_agents.remove(aid) {
            // Never came back after a master restart: nothing of it is in
            // the book, so only its status changes (reconciliation answers
            // for its tasks now say unreachable instead of waiting).
            tracing::warn!(agent = %aid, "agent did not re-register in time; marking it unreachable");
            self.unreachable_agents.insert(aid.clone(), now);
            self.counters.agents_marked_unreachable += 1;
            self.counters.agent_removals += 1;
            self.counters.agent_removals_unhealthy += 1;
            self.counters.recovery_agent_removals += 1;
            return true;
        }
        let timeout = self.config.agent_health_timeout;
        if !self
            .agents
            .get(aid)
            .is_some_and(|a| now - a.last_seen > timeout)
        {
            self.counters.unreachable_canceled += 1;
            return false;
        }
        let Some(agent) = self.agents.remove(aid) else {
            self.counters.unreachable_canceled += 1;
            return false;
        };
        self.counters.agent_removals += 1;
        self.counters.agent_removals_unhealthy += 1;
        tracing::warn!(agent = %aid, hostname = %agent.info.hostname, "agent failed health checks; marking it unreachable");
        // Marked anew: the mark stays until it returns and answers again.
        self.reachable_on_pong.remove(aid);
        let message = format!(
            "Agent {} removed: health check timed out",
            agent.info.hostname
        );
        self.remove_agent(
            agent,
            TaskState::TASK_UNREACHABLE,
            Reason::REASON_AGENT_REMOVED,
            &message,
            now,
        );
        self.unreachable_agents.insert(aid.clone(), now);
        self.counters.agents_marked_unreachable += 1;
        true
    }

    /// Takes a removed agent's resources and tasks out of the book: its
    /// offers are rescinded, each live task gets `pa_state` (for
    /// partition-aware frameworks) or TASK_LOST (for the others) from the
    /// master, and every framework gets a FAILURE event for the agent.
    /// Tasks whose new state is terminal are completed; TASK_UNREACHABLE
    /// ones stay, since the agent may come back with them. Dropping `agent`
    /// drops its event sender: its stream ends.
    pub(crate) fn remove_agent(
        &mut self,
        agent: super::AgentEntry,
        pa_state: TaskState,
        reason: Reason,
        message: &str,
        now: f64,
    ) {
        let aid = &agent.id;
        for oid in agent.offers.iter() {
            if let Some(o) = self.remove_offer(oid) {
                self.send_to_framework(&o.framework_id, Event::rescind(oid.clone()));
            }
        }
        self.allocator.remove_agent(aid);
        let mut ended = Vec::new();
        for (fid, tid) in &agent.tasks {
            let Some(fw) = self.frameworks.get_mut(fid) else {
                continue;
            };
            let pa = fw.partition_aware();
            let Some(t) = fw.tasks.get_mut(tid) else {
                continue;
            };
            if is_terminal(t.state) {
                continue;
            }
            let state = if pa { pa_state } else { TaskState::TASK_LOST };
            let mut s =
                super::master_status(tid.clone(), state, reason, message, Some(aid.clone()), now);
            if state == TaskState::TASK_UNREACHABLE {
                s.unreachable_time = Some(serde_json::json!({"nanoseconds": (now * 1e9) as i64}));
            }
            t.set_state(state, &mut self.counters.tasks_ended);
            t.statuses.push(s.clone());
            t.resources_released = true; // they left with the agent
            t.changed();
            if is_terminal(state) {
                ended.push((fid.clone(), tid.clone()));
            }
            self.operator_task_updated(fid, &s, state);
            self.send_to_framework(fid, Event::update(s));
        }
        for (fid, tid) in ended {
            self.complete_task(&fid, &tid);
        }
        for fw in self.frameworks.values_mut() {
            fw.executors.remove(aid);
        }
        // Its tasks' updates first, as in Mesos.
        self.operator_agent_removed(aid);
        let failure = Event::failure(Failure {
            agent_id: Some(aid.clone()),
            executor_id: None,
            status: None,
        });
        for fw in self.frameworks.values() {
            if let Some(s) = &fw.subscription {
                s.send(failure.clone());
            }
        }
        self.allocation_wanted = true;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AgentEntry, MasterConfig};
    use super::*;

    fn master_with_agent(last_seen: f64) -> Master {
        let config = MasterConfig {
            agent_health_timeout: 1.0,
            ..Default::default()
        };
        let mut m = Master::new(MasterInfo::default(), config, 0.0);
        let id = AgentID::new("A");
        m.agents.insert(
            id.clone(),
            AgentEntry {
                id,
                info: AgentInfo::default(),
                ip: "127.0.0.1".into(),
                version: String::new(),
                total: Resources::default(),
                registered_time: 0.0,
                reregistered_time: None,
                subscription: None,
                tasks: Default::default(),
                offers: Default::default(),
                last_seen,
                rendered: Default::default(),
            },
        );
        m
    }

    /// Runs the health check every `period` from `from` to `to`; the first
    /// time it marks the agent.
    fn first_marked(m: &mut Master, from: f64, to: f64, period: f64) -> Option<f64> {
        first_marked_every(m, from, to, period, period)
    }

    /// As [`first_marked`], checking every `step` though the period is `period`.
    fn first_marked_every(
        m: &mut Master,
        from: f64,
        to: f64,
        step: f64,
        period: f64,
    ) -> Option<f64> {
        let mut now = from;
        while now <= to {
            if !m.silent_agents(now, period).is_empty() {
                return Some(now);
            }
            now += step;
        }
        None
    }

    #[test]
    fn a_silent_agent_is_marked_after_the_health_timeout() {
        let mut m = master_with_agent(0.0);
        let marked = first_marked(&mut m, 0.0, 3.0, 0.1).expect("marked");
        assert!((1.0..1.2).contains(&marked), "{marked}");
    }

    #[test]
    fn time_the_master_itself_did_not_run_is_not_the_agents_silence() {
        let mut m = master_with_agent(0.0);
        assert!(m.silent_agents(0.5, 0.1).is_empty());
        // The master stalls for 4 s: its next check is late, and the
        // agent (which it could not hear meanwhile) is not marked.
        assert!(m.silent_agents(4.5, 0.1).is_empty());
        // Real silence after the stall still counts (with the allowed
        // lateness of 0.25 s): it is marked soon after.
        let marked = first_marked(&mut m, 4.6, 8.0, 0.1).expect("marked");
        assert!((4.6..4.9).contains(&marked), "{marked}");
    }

    #[test]
    fn a_master_late_on_every_check_still_marks_a_dead_agent() {
        let mut m = master_with_agent(0.0);
        // Every check comes 0.5 s late (period 0.1 s).
        let marked = first_marked_every(&mut m, 0.0, 30.0, 0.6, 0.1).expect("marked");
        assert!(marked < 5.0, "{marked}");
    }
}
