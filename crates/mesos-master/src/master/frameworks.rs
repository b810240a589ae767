//! Framework lifecycle: SUBSCRIBE (new, failover), disconnect, failover
//! timeout, TEARDOWN, and the offer-shaping calls (DECLINE, REVIVE, SUPPRESS).

use super::stamped::{CompletedTasks, LiveTasks};
use super::{HEARTBEAT_INTERVAL_SECS, Master, Subscription, TaskEntry};
use crate::error::ApiError;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::{Event, Subscribe, Subscribed};
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::{HashMap, HashSet};

#[derive(Debug)]
pub struct FrameworkEntry {
    pub id: FrameworkID,
    pub info: FrameworkInfo,
    pub subscription: Option<Subscription<Event>>,
    pub registered_time: f64,
    pub reregistered_time: Option<f64>,
    pub unregistered_time: f64,
    pub disconnected_at: Option<f64>,
    pub tasks: LiveTasks,
    pub completed_tasks: CompletedTasks,
    /// The last `/master/state` rendering of `tasks` and `completed_tasks`,
    /// by their stamps (see `state_json`).
    pub rendered: crate::state_json::TaskArraysCache,
    pub offers: HashSet<OfferID>,
    /// Custom executors per agent, with the resources they hold.
    pub executors: HashMap<AgentID, HashMap<ExecutorID, (ExecutorInfo, Resources, String)>>,
    pub suppressed_roles: HashSet<String>,
    /// Known only from re-registering agents (this master restarted): not
    /// subscribed since, so not known to the allocator yet.
    pub recovered: bool,
}

impl FrameworkEntry {
    /// A framework known only from an agent's report, with the
    /// `FrameworkInfo` the agent has for it (a subscription then sets its
    /// stream and clears `recovered`).
    pub fn recovered(info: FrameworkInfo, now: f64) -> FrameworkEntry {
        FrameworkEntry {
            id: info.id.clone().unwrap_or_default(),
            info,
            subscription: None,
            registered_time: now,
            reregistered_time: None,
            unregistered_time: 0.0,
            disconnected_at: None,
            tasks: LiveTasks::default(),
            completed_tasks: CompletedTasks::default(),
            rendered: Default::default(),
            offers: HashSet::new(),
            executors: HashMap::new(),
            suppressed_roles: HashSet::new(),
            recovered: true,
        }
    }

    /// Keeps `task` among the completed ones, the oldest beyond `max` dropped.
    pub fn push_completed(&mut self, task: TaskEntry, max: usize) {
        self.completed_tasks.push_capped(task, max);
    }

    pub fn connected(&self) -> bool {
        self.subscription.is_some()
    }

    pub fn partition_aware(&self) -> bool {
        self.info
            .has_capability(FrameworkCapability::PARTITION_AWARE)
    }
}

/// What a SUBSCRIBE produced.
#[derive(Debug)]
pub enum SubscribeOutcome {
    /// Stream opened; SUBSCRIBED and HEARTBEAT are already queued.
    Subscribed {
        framework_id: FrameworkID,
        stream_id: String,
    },
    /// The framework is refused: answer 200 with one ERROR event, then close.
    Refused(String),
}

/// Mesos role-name rules (`src/common/roles.cpp`).
pub(crate) fn validate_role(role: &str) -> Result<(), String> {
    if role == "*" {
        return Ok(());
    }
    if role.is_empty() || role == "." || role == ".." || role.starts_with('-') {
        return Err(format!("Role '{role}' is invalid"));
    }
    if role.chars().any(|c| {
        c.is_whitespace() || c.is_control() || c == '\\' || c == '/' && role.ends_with('/')
    }) {
        return Err(format!(
            "Role '{role}' cannot include whitespace, control characters or backslashes"
        ));
    }
    if role
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == ".." || p == "*")
    {
        return Err(format!("Role '{role}' has an invalid path component"));
    }
    Ok(())
}

impl Master {
    /// SUBSCRIBE. `top_level_id` is the call's `framework_id`.
    pub fn subscribe(
        &mut self,
        sub: Subscribe,
        top_level_id: Option<FrameworkID>,
        tx: crate::event_queue::EventSender<Event>,
        now: f64,
    ) -> Result<SubscribeOutcome, ApiError> {
        let mut info = sub.framework_info;
        if top_level_id != info.id {
            return Err(ApiError::BadRequest(
                "'framework_id' differs from 'subscribe.framework_info.id'".into(),
            ));
        }
        if info.user.is_empty() || info.name.is_empty() {
            return Err(ApiError::BadRequest(
                "Missing required fields: framework_info.user, framework_info.name".into(),
            ));
        }
        let multi_role = info.has_capability(FrameworkCapability::MULTI_ROLE);
        if multi_role && info.role.is_some() {
            return Ok(SubscribeOutcome::Refused(
                "'FrameworkInfo.role' must not be set when the MULTI_ROLE capability is present"
                    .into(),
            ));
        }
        if !multi_role && !info.roles.is_empty() {
            return Ok(SubscribeOutcome::Refused(
                "'FrameworkInfo.roles' is set but the MULTI_ROLE capability is missing".into(),
            ));
        }
        if let Err(e) = super::validation::validate_framework_info(&info) {
            return Ok(SubscribeOutcome::Refused(e));
        }
        let roles = info.effective_roles();
        for r in &roles {
            if let Err(e) = validate_role(r) {
                return Ok(SubscribeOutcome::Refused(e));
            }
            if let Some(wl) = &self.config.roles
                && r != "*"
                && !wl.contains(r)
            {
                return Ok(SubscribeOutcome::Refused(format!(
                    "Role '{r}' is not present in the master's --roles"
                )));
            }
        }
        for r in &sub.suppressed_roles {
            if !roles.contains(r) {
                return Ok(SubscribeOutcome::Refused(format!(
                    "Suppressed role '{r}' is not contained in the list of roles"
                )));
            }
        }

        let stream_id = uuid::Uuid::new_v4().to_string();
        let subscription = Subscription {
            stream_id: stream_id.clone(),
            tx,
        };
        let framework_id = match info.id.clone() {
            Some(id) if self.removed_frameworks.contains(&id) => {
                return Ok(SubscribeOutcome::Refused(
                    "Framework has been removed".into(),
                ));
            }
            Some(id) if self.removing_frameworks.contains(&id) => {
                return Ok(SubscribeOutcome::Refused(
                    "Framework is being removed".into(),
                ));
            }
            Some(id) if self.frameworks.contains_key(&id) => {
                // Failover: the new connection replaces the old one.
                let old_offers: Vec<OfferID> =
                    self.frameworks[&id].offers.iter().cloned().collect();
                for oid in old_offers {
                    self.rescind_offer(&oid, now);
                }
                let fw = self.frameworks.get_mut(&id).expect("checked above");
                if let Some(old) = fw.subscription.take() {
                    old.send(Event::error("Framework failed over"));
                }
                let recovered = std::mem::take(&mut fw.recovered);
                if !recovered {
                    // `user` and `checkpoint` cannot change on
                    // re-subscription. (A framework known only from its
                    // agents' reports brings its own FrameworkInfo back.)
                    info.user = fw.info.user.clone();
                    info.checkpoint = fw.info.checkpoint;
                }
                fw.info = info.clone();
                fw.subscription = Some(subscription.clone());
                fw.reregistered_time = Some(now);
                fw.disconnected_at = None;
                fw.suppressed_roles = sub.suppressed_roles.iter().cloned().collect();
                self.allocator
                    .add_framework(id.clone(), roles, sub.suppressed_roles.clone());
                if recovered {
                    // Its adopted tasks count in its DRF share from now on
                    // (the agents' resources already account for them).
                    for t in fw.tasks.values().filter(|t| !t.resources_released) {
                        self.allocator.adopt_usage(&id, &t.role, &t.resources);
                    }
                    for (_, r, role) in fw.executors.values().flat_map(|e| e.values()) {
                        self.allocator.adopt_usage(&id, role, r);
                    }
                }
                tracing::info!(framework = %id, name = %info.name, "framework re-subscribed");
                // Operators already saw a framework known only from its
                // agents (in SUBSCRIBED's state): to them it is updated, as
                // Mesos announces a re-subscription after a failover.
                self.operator_framework_changed(&id, false);
                id
            }
            maybe_id => {
                let id = maybe_id.unwrap_or_else(|| self.ids.framework());
                info.id = Some(id.clone());
                let mut entry = FrameworkEntry::recovered(info.clone(), now);
                entry.subscription = Some(subscription.clone());
                entry.suppressed_roles = sub.suppressed_roles.iter().cloned().collect();
                entry.recovered = false;
                self.frameworks.insert(id.clone(), entry);
                self.allocator
                    .add_framework(id.clone(), roles, sub.suppressed_roles.clone());
                tracing::info!(framework = %id, name = %info.name, "framework subscribed");
                self.operator_framework_changed(&id, true);
                id
            }
        };
        subscription.send(Event::subscribed(Subscribed {
            framework_id: framework_id.clone(),
            heartbeat_interval_seconds: Some(HEARTBEAT_INTERVAL_SECS),
            master_info: Some(self.info.clone()),
        }));
        subscription.send(Event::heartbeat());
        self.allocation_wanted = true;
        Ok(SubscribeOutcome::Subscribed {
            framework_id,
            stream_id,
        })
    }

    /// Checks a non-SUBSCRIBE call's framework and `Mesos-Stream-Id`.
    pub fn check_stream(&self, fid: &FrameworkID, stream_id: Option<&str>) -> Result<(), ApiError> {
        let Some(fw) = self.frameworks.get(fid) else {
            return Err(ApiError::BadRequest("Framework cannot be found".into()));
        };
        let Some(sub) = &fw.subscription else {
            return Err(ApiError::Forbidden("Framework is not subscribed".into()));
        };
        match stream_id {
            None => Err(ApiError::BadRequest(
                "All non-subscribe calls should include the 'Mesos-Stream-Id' header".into(),
            )),
            Some(s) if s != sub.stream_id => Err(ApiError::BadRequest(format!(
                "The stream ID '{s}' included in this request didn't match the stream ID currently associated with framework ID {fid}"
            ))),
            Some(_) => Ok(()),
        }
    }

    /// The subscription stream `stream_id` of `fid` closed.
    pub fn framework_disconnected(&mut self, fid: &FrameworkID, stream_id: &str, now: f64) {
        let Some(fw) = self.frameworks.get_mut(fid) else {
            return;
        };
        if fw.subscription.as_ref().map(|s| s.stream_id.as_str()) != Some(stream_id) {
            return; // an older, superseded stream
        }
        fw.subscription = None;
        fw.disconnected_at = Some(now);
        let offers: Vec<OfferID> = fw.offers.iter().cloned().collect();
        let timeout = fw.info.failover_timeout;
        self.allocator.set_framework_active(fid, false);
        for oid in offers {
            self.rescind_offer(&oid, now);
        }
        // With no failover timeout the next timer round (within a second)
        // removes it, after the registry records the removal.
        tracing::info!(framework = %fid, failover_timeout = timeout, "framework disconnected");
    }

    /// Queues the removal of disconnected frameworks past their failover
    /// timeout, not already being removed (acted on once the registry
    /// records it). Returns them, for tests.
    pub fn expire_frameworks(&mut self, now: f64) -> Vec<FrameworkID> {
        let expired: Vec<FrameworkID> = self
            .frameworks
            .values()
            .filter(|f| {
                f.subscription.is_none()
                    && f.disconnected_at
                        .is_some_and(|t| now - t >= f.info.failover_timeout)
                    && !self.removing_frameworks.contains(&f.id)
            })
            .map(|f| f.id.clone())
            .collect();
        for fid in &expired {
            tracing::info!(framework = %fid, "framework failover timeout expired; removing it");
            self.request_remove_framework(fid, None, now);
        }
        expired
    }

    /// Reserves `fid` for removal while the registry records it; false if
    /// it is unknown or already being removed. Meanwhile it cannot
    /// re-subscribe.
    pub(crate) fn begin_remove_framework(&mut self, fid: &FrameworkID) -> bool {
        self.frameworks.contains_key(fid) && self.removing_frameworks.insert(fid.clone())
    }

    /// The registry records `fid` as removed (`Ok`), or could not (`Err`:
    /// the framework stays, and an expired one is tried again).
    pub(crate) fn finish_remove_framework(&mut self, fid: &FrameworkID, recorded: bool, now: f64) {
        self.removing_frameworks.remove(fid);
        if recorded {
            self.removed_frameworks.insert(fid.clone());
            self.remove_framework(fid, now);
        }
    }

    /// TEARDOWN, or failover timeout: kill everything, keep a completed record.
    pub fn remove_framework(&mut self, fid: &FrameworkID, now: f64) {
        let offers: Vec<OfferID> = match self.frameworks.get(fid) {
            Some(f) => f.offers.iter().cloned().collect(),
            None => return,
        };
        for oid in offers {
            self.withdraw_offer(&oid, now);
        }
        let Some(mut fw) = self.frameworks.remove(fid) else {
            return;
        };
        let task_ids: Vec<TaskID> = fw.tasks.keys().cloned().collect();
        for tid in task_ids {
            let Some(mut t) = fw.tasks.remove(&tid) else {
                continue;
            };
            if !t.resources_released {
                self.allocator
                    .recover(fid, &t.agent_id, &t.role, &t.resources, None, now);
                t.resources_released = true;
            }
            if !is_terminal(t.state) {
                let s = super::master_status(
                    tid.clone(),
                    TaskState::TASK_KILLED,
                    Reason::REASON_FRAMEWORK_REMOVED,
                    "Framework removed",
                    Some(t.agent_id.clone()),
                    now,
                );
                t.set_state(TaskState::TASK_KILLED, &mut self.counters.tasks_ended);
                t.statuses.push(s.clone());
                t.changed();
                self.operator_subscribers
                    .publish(|| crate::operator::OperatorEvent::TaskUpdated {
                        framework_id: fid.clone(),
                        status: std::sync::Arc::new(s),
                        state: TaskState::TASK_KILLED,
                    });
            }
            if let Some(a) = self.agents.get_mut(&t.agent_id) {
                a.tasks.remove(&(fid.clone(), tid.clone()));
            }
            fw.push_completed(t, self.config.max_completed_tasks_per_framework);
        }
        for (aid, execs) in &fw.executors {
            for (_, res, role) in execs.values() {
                self.allocator.recover(fid, aid, role, res, None, now);
            }
        }
        // Every agent, as Mesos does: whatever its executors claimed (a task
        // booked finished may still run), nothing of the framework may
        // survive it. Agents away now are told when they re-register.
        for a in self.agents.values() {
            if let Some(s) = &a.subscription {
                s.send(AgentEvent::ShutdownFramework {
                    framework_id: fid.clone(),
                });
            }
        }
        self.allocator.remove_framework(fid);
        fw.subscription = None; // dropping the sender ends the stream
        fw.unregistered_time = now;
        tracing::info!(framework = %fid, "framework removed");
        self.operator_framework_removed(&fw.info);
        self.completed_frameworks.push_back(fw);
        while self.completed_frameworks.len() > self.config.max_completed_frameworks {
            self.completed_frameworks.pop_front();
        }
        self.allocation_wanted = true;
    }

    /// DECLINE: offers back with a filter (default 5 s, capped at a year).
    pub fn decline(
        &mut self,
        fid: &FrameworkID,
        offer_ids: &[OfferID],
        filters: Option<Filters>,
        now: f64,
    ) {
        let refuse = filters
            .unwrap_or_default()
            .refuse_seconds
            .clamp(0.0, MAX_REFUSE_SECONDS);
        for oid in offer_ids {
            match self.offers.get(oid) {
                Some(o) if &o.framework_id == fid => {
                    let o = self.remove_offer(oid).expect("present");
                    self.allocator.hand_back(
                        fid,
                        &o.agent_id,
                        &o.role,
                        &o.resources,
                        Some(refuse),
                        now,
                    );
                }
                _ => {
                    tracing::warn!(framework = %fid, offer = %oid, "ignoring decline of unknown or foreign offer")
                }
            }
        }
    }

    pub fn revive(&mut self, fid: &FrameworkID, roles: &[String]) {
        self.allocator.revive(fid, roles);
        if let Some(f) = self.frameworks.get_mut(fid) {
            if roles.is_empty() {
                f.suppressed_roles.clear();
            } else {
                for r in roles {
                    f.suppressed_roles.remove(r);
                }
            }
        }
        self.allocation_wanted = true;
    }

    pub fn suppress(&mut self, fid: &FrameworkID, roles: &[String]) {
        self.allocator.suppress(fid, roles);
        if let Some(f) = self.frameworks.get_mut(fid) {
            let all = f.info.effective_roles();
            let target = if roles.is_empty() {
                all
            } else {
                roles.to_vec()
            };
            f.suppressed_roles.extend(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_rules() {
        assert!(validate_role("*").is_ok());
        assert!(validate_role("web").is_ok());
        assert!(validate_role("eng/web").is_ok());
        for bad in ["", ".", "..", "-x", "a b", "a//b", "a/", "a\\b"] {
            assert!(validate_role(bad).is_err(), "{bad}");
        }
    }
}
