//! Where the book tells the operator event stream what happened
//! ([`crate::operator::events`]): each helper is called right where the
//! change is booked, and copies what the event shows only when someone is
//! subscribed.

use super::Master;
use crate::operator::{AgentView, FrameworkView, OperatorEvent, TaskView};
use mesos_types::*;
use std::sync::Arc;

impl Master {
    /// TASK_ADDED: the task was accepted for launch (TASK_STAGING).
    pub(crate) fn operator_task_added(&mut self, fid: &FrameworkID, tid: &TaskID) {
        if self.operator_subscribers.is_empty() {
            return;
        }
        if let Some(t) = self.frameworks.get(fid).and_then(|f| f.tasks.get(tid)) {
            let e = OperatorEvent::TaskAdded(TaskView::of(t));
            self.operator_subscribers.publish(|| e);
        }
    }

    /// TASK_UPDATED: the master booked `status`; `state` is the task's
    /// latest state.
    pub(crate) fn operator_task_updated(
        &mut self,
        fid: &FrameworkID,
        status: &TaskStatus,
        state: TaskState,
    ) {
        self.operator_subscribers
            .publish(|| OperatorEvent::TaskUpdated {
                framework_id: fid.clone(),
                status: Arc::new(status.clone()),
                state,
            });
    }

    /// AGENT_ADDED, once the agent is in the book.
    pub(crate) fn operator_agent_added(&mut self, aid: &AgentID) {
        if self.operator_subscribers.is_empty() {
            return;
        }
        if let Some(a) = self.agents.get(aid) {
            let e = OperatorEvent::AgentAdded(Arc::new(AgentView::take(self, a)));
            self.operator_subscribers.publish(|| e);
        }
    }

    /// AGENT_REMOVED.
    pub(crate) fn operator_agent_removed(&mut self, aid: &AgentID) {
        self.operator_subscribers
            .publish(|| OperatorEvent::AgentRemoved(aid.clone()));
    }

    /// FRAMEWORK_ADDED (`added`) or FRAMEWORK_UPDATED.
    pub(crate) fn operator_framework_changed(&mut self, fid: &FrameworkID, added: bool) {
        if self.operator_subscribers.is_empty() {
            return;
        }
        if let Some(f) = self.frameworks.get(fid) {
            let v = Arc::new(FrameworkView::take(self, f, false));
            let e = if added {
                OperatorEvent::FrameworkAdded(v)
            } else {
                OperatorEvent::FrameworkUpdated(v)
            };
            self.operator_subscribers.publish(|| e);
        }
    }

    /// FRAMEWORK_REMOVED.
    pub(crate) fn operator_framework_removed(&mut self, info: &FrameworkInfo) {
        self.operator_subscribers
            .publish(|| OperatorEvent::FrameworkRemoved(Arc::new(info.clone())));
    }
}
