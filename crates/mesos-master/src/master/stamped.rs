//! A framework's live and completed tasks and an agent's offers, each
//! collection carrying a stamp that changes with every mutable access to it.
//!
//! `/master/state` keeps a framework's rendered task arrays until their
//! collection's stamp changes (`state_json`), so the read views cost
//! O(what changed) instead of O(all tasks). The collections only lend their
//! contents read-only (`Deref`); every way to change them goes through a
//! method here that takes a new stamp first, so a cached rendering cannot
//! outlive the state it shows. Stamps come from one process-wide counter:
//! two collections never share one, whatever was dropped or rebuilt.

use super::TaskEntry;
use mesos_types::{OfferID, TaskID};
use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_STAMP: AtomicU64 = AtomicU64::new(1);

/// A stamp no one has had (process-wide, only grows).
pub fn next_stamp() -> u64 {
    NEXT_STAMP.fetch_add(1, Ordering::Relaxed)
}

/// A framework's live tasks by id.
#[derive(Debug)]
pub struct LiveTasks {
    map: HashMap<TaskID, TaskEntry>,
    stamp: u64,
}

impl Default for LiveTasks {
    fn default() -> LiveTasks {
        LiveTasks {
            map: HashMap::new(),
            stamp: next_stamp(),
        }
    }
}

impl Deref for LiveTasks {
    type Target = HashMap<TaskID, TaskEntry>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl LiveTasks {
    /// Changes whenever the collection or any task in it may have changed.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    pub fn get_mut(&mut self, id: &TaskID) -> Option<&mut TaskEntry> {
        self.stamp = next_stamp();
        self.map.get_mut(id)
    }

    pub fn insert(&mut self, id: TaskID, task: TaskEntry) -> Option<TaskEntry> {
        self.stamp = next_stamp();
        self.map.insert(id, task)
    }

    pub fn remove(&mut self, id: &TaskID) -> Option<TaskEntry> {
        self.stamp = next_stamp();
        self.map.remove(id)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&TaskID, &mut TaskEntry)> {
        self.stamp = next_stamp();
        self.map.iter_mut()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut TaskEntry> {
        self.stamp = next_stamp();
        self.map.values_mut()
    }
}

/// A framework's completed tasks, oldest first.
///
/// Tasks are only appended and dropped from the front, so each has a fixed
/// position in the sequence of all tasks ever appended: renderings can be
/// kept per block of positions, valid while the [`generation`] stays.
///
/// [`generation`]: CompletedTasks::generation
#[derive(Debug)]
pub struct CompletedTasks {
    queue: VecDeque<TaskEntry>,
    stamp: u64,
    /// Tasks ever appended: the position after the newest.
    appended: u64,
    /// Changes when tasks may have changed in place.
    generation: u64,
}

impl Default for CompletedTasks {
    fn default() -> CompletedTasks {
        CompletedTasks {
            queue: VecDeque::new(),
            stamp: next_stamp(),
            appended: 0,
            generation: next_stamp(),
        }
    }
}

impl Deref for CompletedTasks {
    type Target = VecDeque<TaskEntry>;

    fn deref(&self) -> &Self::Target {
        &self.queue
    }
}

impl CompletedTasks {
    /// Changes whenever the collection may have changed.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    /// Position of the oldest task kept (`self[i]` is at `first() + i`).
    pub fn first(&self) -> u64 {
        self.appended - self.queue.len() as u64
    }

    /// Changes whenever a task kept may have changed in place; appending
    /// and dropping the oldest leave it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Appends `task`, dropping the oldest beyond `max`.
    pub fn push_capped(&mut self, task: TaskEntry, max: usize) {
        self.stamp = next_stamp();
        self.appended += 1;
        self.queue.push_back(task);
        while self.queue.len() > max {
            self.queue.pop_front();
        }
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut TaskEntry> {
        self.stamp = next_stamp();
        self.generation = next_stamp();
        self.queue.iter_mut()
    }
}

/// An agent's outstanding offers.
#[derive(Debug)]
pub struct OfferIds {
    set: HashSet<OfferID>,
    stamp: u64,
}

impl Default for OfferIds {
    fn default() -> OfferIds {
        OfferIds {
            set: HashSet::new(),
            stamp: next_stamp(),
        }
    }
}

impl Deref for OfferIds {
    type Target = HashSet<OfferID>;

    fn deref(&self) -> &Self::Target {
        &self.set
    }
}

impl OfferIds {
    /// Changes whenever the set may have changed.
    pub fn stamp(&self) -> u64 {
        self.stamp
    }

    pub fn insert(&mut self, id: OfferID) -> bool {
        self.stamp = next_stamp();
        self.set.insert(id)
    }

    pub fn remove(&mut self, id: &OfferID) -> bool {
        self.stamp = next_stamp();
        self.set.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_types::*;

    fn task(id: &str) -> TaskEntry {
        TaskEntry::new(
            TaskInfo {
                task_id: TaskID::new(id),
                ..Default::default()
            },
            FrameworkID::new("f"),
            AgentID::new("a"),
            TaskState::TASK_RUNNING,
            "*".into(),
            Resources::new(),
            None,
        )
    }

    #[test]
    fn every_mutable_access_takes_a_new_stamp() {
        let mut live = LiveTasks::default();
        let mut seen = vec![live.stamp()];
        let mut saw = |s: u64| {
            assert!(!seen.contains(&s), "stamp {s} reused");
            seen.push(s);
        };
        live.insert(TaskID::new("t"), task("t"));
        saw(live.stamp());
        let _ = live.get_mut(&TaskID::new("t"));
        saw(live.stamp());
        let _ = live.iter_mut().count();
        saw(live.stamp());
        let _ = live.values_mut().count();
        saw(live.stamp());
        let _ = live.get_mut(&TaskID::new("absent"));
        saw(live.stamp());
        live.remove(&TaskID::new("t"));
        saw(live.stamp());
        // Reading leaves it.
        let before = live.stamp();
        let _ = live.get(&TaskID::new("t"));
        assert_eq!(live.stamp(), before);

        let mut done = CompletedTasks::default();
        saw(done.stamp());
        done.push_capped(task("a"), 1);
        saw(done.stamp());
        let generation = done.generation();
        done.push_capped(task("b"), 1);
        saw(done.stamp());
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].info.task_id.value, "b");
        assert_eq!(done.first(), 1, "b is the second task ever appended");
        assert_eq!(done.generation(), generation, "appending keeps positions");
        let _ = done.iter_mut().count();
        saw(done.stamp());
        assert_ne!(done.generation(), generation);
    }

    #[test]
    fn collections_never_share_a_stamp() {
        let a = LiveTasks::default();
        let b = LiveTasks::default();
        let c = CompletedTasks::default();
        let mut o = OfferIds::default();
        assert_ne!(a.stamp(), b.stamp());
        assert_ne!(a.stamp(), c.stamp());
        let before = o.stamp();
        o.insert(OfferID::new("o"));
        assert_ne!(o.stamp(), before);
        let before = o.stamp();
        o.remove(&OfferID::new("o"));
        assert_ne!(o.stamp(), before);
    }
}
