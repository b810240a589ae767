//! The status update manager (spec §3.2): per task an ordered queue of
//! updates; only the head is in flight to the master and it is re-sent until
//! the master's ACKNOWLEDGE with its uuid arrives: first after the retry
//! interval (`--status_update_retry_interval`, 10 s), then after twice the
//! previous wait, up to [`MAX_RETRY_INTERVAL`] (10 min), as Mesos does.
//!
//! Pure bookkeeping: callers pass `now` and decide what to do with the
//! updates it says are due.

use mesos_types::task_state::is_terminal;
use mesos_types::{FrameworkID, TaskID, TaskStatus};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// The longest wait between two sends of the same update.
pub const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(600);

#[derive(Debug, Default)]
struct Stream {
    pending: VecDeque<TaskStatus>,
    /// When the head was last sent (None = not sent yet).
    sent_at: Option<Instant>,
    /// Re-sends of the current head so far (the backoff exponent).
    resends: u32,
    /// Every uuid this stream accepted, to drop duplicates.
    seen: HashSet<String>,
    /// A terminal update was accepted; later ones are ignored.
    terminated: bool,
}

/// What [`UpdateManager::push`] did with an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Pushed {
    /// Same uuid seen before: acknowledge again, forward nothing.
    Duplicate,
    /// The task already had a terminal update: dropped.
    AfterTerminal,
    /// Queued; `send` is the update to forward now (it became the head).
    Queued { send: Option<Box<TaskStatus>> },
}

/// What [`UpdateManager::acknowledge`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Acked {
    /// No update with this uuid at the head of that task's stream.
    Unexpected,
    /// The head was removed; `terminal` = the stream is finished and gone;
    /// `next` = the new head, to forward now.
    Done {
        terminal: bool,
        next: Option<Box<TaskStatus>>,
    },
}

/// Status update streams keyed by framework and task.
#[derive(Debug, Default)]
pub struct UpdateManager {
    streams: BTreeMap<(FrameworkID, TaskID), Stream>,
}

impl UpdateManager {
    /// Queues `status` (which must carry a uuid). `connected` = the master link
    /// is up, so a new head can be sent right away.
    pub fn push(
        &mut self,
        framework_id: &FrameworkID,
        status: TaskStatus,
        connected: bool,
        now: Instant,
    ) -> Pushed {
        let key = (framework_id.clone(), status.task_id.clone());
        let stream = self.streams.entry(key).or_default();
        let uuid = status.uuid.clone().unwrap_or_default();
        if !stream.seen.insert(uuid) {
            return Pushed::Duplicate;
        }
        if stream.terminated {
            return Pushed::AfterTerminal;
        }
        stream.terminated = is_terminal(status.state);
        stream.pending.push_back(status);
        let send = if stream.pending.len() == 1 && connected {
            stream.sent_at = Some(now);
            stream.resends = 0;
            stream.pending.front().cloned().map(Box::new)
        } else {
            None
        };
        Pushed::Queued { send }
    }

    /// Whether `uuid` was already accepted for this task.
    pub fn is_duplicate(&self, framework_id: &FrameworkID, task_id: &TaskID, uuid: &str) -> bool {
        self.streams
            .get(&(framework_id.clone(), task_id.clone()))
            .is_some_and(|s| s.seen.contains(uuid))
    }

    /// Handles the master's acknowledgement of `uuid`.
    pub fn acknowledge(
        &mut self,
        framework_id: &FrameworkID,
        task_id: &TaskID,
        uuid: &str,
        connected: bool,
        now: Instant,
    ) -> Acked {
        let key = (framework_id.clone(), task_id.clone());
        let Some(stream) = self.streams.get_mut(&key) else {
            return Acked::Unexpected;
        };
        if stream.pending.front().and_then(|s| s.uuid.as_deref()) != Some(uuid) {
            return Acked::Unexpected;
        }
        let acked = stream.pending.pop_front();
        stream.sent_at = None;
        stream.resends = 0;
        if acked.is_some_and(|s| is_terminal(s.state)) {
            self.streams.remove(&key);
            return Acked::Done {
                terminal: true,
                next: None,
            };
        }
        let next = match (stream.pending.front(), connected) {
            (Some(head), true) => {
                stream.sent_at = Some(now);
                Some(Box::new(head.clone()))
            }
            _ => None,
        };
        Acked::Done {
            terminal: false,
            next,
        }
    }

    /// Heads not sent yet, or whose backoff passed: `interval` after the
    /// first send, doubling with every re-send up to [`MAX_RETRY_INTERVAL`].
    /// Marks them sent.
    pub fn due(&mut self, now: Instant, interval: Duration) -> Vec<(FrameworkID, TaskStatus)> {
        let mut out = Vec::new();
        for ((fid, _), s) in self.streams.iter_mut() {
            let Some(head) = s.pending.front() else {
                continue;
            };
            let wait = interval
                .saturating_mul(1u32 << s.resends.min(16))
                .min(MAX_RETRY_INTERVAL.max(interval));
            match s.sent_at {
                None => {}
                Some(t) if now.saturating_duration_since(t) >= wait => s.resends += 1,
                Some(_) => continue,
            }
            s.sent_at = Some(now);
            out.push((fid.clone(), head.clone()));
        }
        out
    }

    /// Every head, to send right after (re-)registering (a new master link
    /// starts the backoff afresh); marks them sent.
    pub fn all_heads(&mut self, now: Instant) -> Vec<(FrameworkID, TaskStatus)> {
        for s in self.streams.values_mut() {
            s.sent_at = None;
            s.resends = 0;
        }
        self.due(now, Duration::ZERO)
    }

    /// Takes back update `uuid` of a task (it could not be made durable):
    /// as if it had never been pushed, so that the executor's re-send is
    /// queued afresh. Returns whether it was there.
    pub fn forget(&mut self, framework_id: &FrameworkID, task_id: &TaskID, uuid: &str) -> bool {
        let key = (framework_id.clone(), task_id.clone());
        let Some(stream) = self.streams.get_mut(&key) else {
            return false;
        };
        let Some(pos) = stream
            .pending
            .iter()
            .position(|s| s.uuid.as_deref() == Some(uuid))
        else {
            return false;
        };
        if let Some(gone) = stream.pending.remove(pos) {
            stream.terminated &= !is_terminal(gone.state);
        }
        stream.seen.remove(uuid);
        if pos == 0 {
            stream.sent_at = None;
            stream.resends = 0;
        }
        if stream.pending.is_empty() && stream.seen.is_empty() {
            self.streams.remove(&key);
        }
        true
    }

    /// Drops the streams of a framework that is being removed.
    pub fn remove_framework(&mut self, framework_id: &FrameworkID) {
        self.streams.retain(|(f, _), _| f != framework_id);
    }

    /// The state of the task's oldest unacknowledged update, if any.
    pub fn head_state(
        &self,
        framework_id: &FrameworkID,
        task_id: &TaskID,
    ) -> Option<mesos_types::TaskState> {
        self.streams
            .get(&(framework_id.clone(), task_id.clone()))
            .and_then(|s| s.pending.front())
            .map(|u| u.state)
    }

    /// Number of queued updates of one task (tests and metrics).
    pub fn pending(&self, framework_id: &FrameworkID, task_id: &TaskID) -> usize {
        self.streams
            .get(&(framework_id.clone(), task_id.clone()))
            .map_or(0, |s| s.pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_types::TaskState::{self, *};

    fn status(task: &str, state: TaskState, uuid: &str) -> TaskStatus {
        let mut s = TaskStatus::new(task.into(), state);
        s.uuid = Some(uuid.into());
        s
    }

    #[test]
    fn only_the_head_is_in_flight_and_acks_advance() {
        let f = FrameworkID::new("f");
        let mut m = UpdateManager::default();
        let now = Instant::now();
        let Pushed::Queued { send: Some(first) } =
            m.push(&f, status("t", TASK_RUNNING, "u1"), true, now)
        else {
            panic!()
        };
        assert_eq!(first.uuid.as_deref(), Some("u1"));
        assert_eq!(
            m.push(&f, status("t", TASK_FINISHED, "u2"), true, now),
            Pushed::Queued { send: None }
        );
        assert_eq!(
            m.push(&f, status("t", TASK_FINISHED, "u2"), true, now),
            Pushed::Duplicate
        );
        assert_eq!(
            m.push(&f, status("t", TASK_FAILED, "u3"), true, now),
            Pushed::AfterTerminal
        );
        assert_eq!(
            m.acknowledge(&f, &"t".into(), "u2", true, now),
            Acked::Unexpected
        );
        let Acked::Done {
            terminal: false,
            next: Some(n),
        } = m.acknowledge(&f, &"t".into(), "u1", true, now)
        else {
            panic!()
        };
        assert_eq!(n.uuid.as_deref(), Some("u2"));
        assert_eq!(
            m.acknowledge(&f, &"t".into(), "u2", true, now),
            Acked::Done {
                terminal: true,
                next: None
            }
        );
        assert_eq!(m.pending(&f, &"t".into()), 0);
    }

    #[test]
    fn heads_are_retried_after_the_interval_and_on_reconnect() {
        let f = FrameworkID::new("f");
        let mut m = UpdateManager::default();
        let t0 = Instant::now();
        // Disconnected: queued but not sent.
        assert_eq!(
            m.push(&f, status("t", TASK_RUNNING, "u1"), false, t0),
            Pushed::Queued { send: None }
        );
        assert_eq!(m.all_heads(t0).len(), 1, "sent on registration");
        let interval = Duration::from_secs(10);
        assert!(m.due(t0 + Duration::from_secs(9), interval).is_empty());
        assert_eq!(m.due(t0 + Duration::from_secs(10), interval).len(), 1);
        assert!(m.due(t0 + Duration::from_secs(11), interval).is_empty());
        m.remove_framework(&f);
        assert!(m.all_heads(t0).is_empty());
    }

    #[test]
    fn retries_back_off_doubling_up_to_ten_minutes_and_reset_per_head() {
        let f = FrameworkID::new("f");
        let mut m = UpdateManager::default();
        let t0 = Instant::now();
        let interval = Duration::from_secs(10);
        m.push(&f, status("t", TASK_RUNNING, "u1"), true, t0);
        m.push(&f, status("t", TASK_FINISHED, "u2"), true, t0);
        // Re-sends of u1 at +10, +30 (20 later), +70 (40 later), ...
        let mut at = t0;
        let mut waits = Vec::new();
        for _ in 0..9 {
            let mut next = at + Duration::from_secs(1);
            while m.due(next, interval).is_empty() {
                next += Duration::from_secs(1);
            }
            waits.push((next - at).as_secs());
            at = next;
        }
        assert_eq!(waits, vec![10, 20, 40, 80, 160, 320, 600, 600, 600]);
        // The acknowledgement's next head starts from the interval again.
        let Acked::Done { next: Some(_), .. } = m.acknowledge(&f, &"t".into(), "u1", true, at)
        else {
            panic!("u2 becomes the head")
        };
        assert!(m.due(at + Duration::from_secs(9), interval).is_empty());
        assert_eq!(m.due(at + Duration::from_secs(10), interval).len(), 1);
    }
}
