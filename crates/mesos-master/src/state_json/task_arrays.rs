//! A framework's `tasks` and `completed_tasks` arrays, rendered once and
//! kept until what they show changes, so that `/master/state` at 200k
//! tasks costs O(what changed) rather than O(all tasks), under the book's
//! lock and after it.
//!
//! * Live tasks change anywhere, but a framework's set changes as a whole
//!   rarely: the array is kept whole, with the stamp of the collection
//!   ([`LiveTasks::stamp`]).
//! * Completed tasks are only appended and dropped from the front, and a
//!   busy framework adds some every second: the array is kept in blocks of
//!   [`BLOCK_TASKS`] positions ([`CompletedTasks::first`]); a full block is
//!   rendered once, the oldest block is cut where the oldest kept task
//!   starts, and only the newest, partly filled block is written again.
//!
//! The cache sits in the framework's entry. Snapshots read it under the
//! lock and take references to the tasks of whatever is missing; the
//! writers, outside the lock, render those parts and store them.
//!
//! [`LiveTasks::stamp`]: crate::master::stamped::LiveTasks::stamp
//! [`CompletedTasks::first`]: crate::master::stamped::CompletedTasks::first

use super::snapshot::Rope;
use super::{RenderedTask, ResMap};
use crate::master::FrameworkEntry;
use bytes::Bytes;
use mesos_types::TaskState;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Completed tasks per block. A block is kept once all its tasks were
/// seen together, so it must be well under the number of completed tasks
/// kept per framework (`--max_completed_tasks_per_framework`, default
/// 1,000); small blocks cost a chunk each in the response.
const BLOCK_TASKS: u64 = 64;
/// Tiny in tests, so that a few tasks span blocks.
#[cfg(not(test))]
const BLOCK: u64 = BLOCK_TASKS;
#[cfg(test)]
const BLOCK: u64 = 3;

/// A framework's rendered arrays (see the module's documentation).
#[derive(Debug, Default, Clone)]
pub struct TaskArraysCache(Arc<Mutex<CachedArrays>>);

#[derive(Debug, Default)]
struct CachedArrays {
    live: Option<(u64, Arc<LiveArray>)>,
    /// Full blocks of completed tasks by block number, valid for one
    /// generation of the collection.
    blocks_generation: u64,
    blocks: BTreeMap<u64, Arc<Block>>,
}

impl TaskArraysCache {
    fn lock(&self) -> MutexGuard<'_, CachedArrays> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A framework's live tasks as state shows them: the arrays' JSON (tasks
/// whose agent is unreachable apart, as Mesos lists them) and the
/// resources of the tasks that still hold theirs.
#[derive(Debug)]
pub(super) struct LiveArray {
    pub json: Bytes,
    pub unreachable: Bytes,
    pub used: ResMap,
}

/// A framework's live tasks in a snapshot.
pub(super) enum LivePart {
    Cached(Arc<LiveArray>),
    /// Changed since the last rendering: each task, with whether its
    /// resources were released, and the stamp they were taken at.
    Fresh(u64, Vec<(Arc<RenderedTask>, bool)>),
}

impl LivePart {
    pub fn take(f: &FrameworkEntry) -> LivePart {
        let stamp = f.tasks.stamp();
        if let Some((s, a)) = &f.rendered.lock().live
            && *s == stamp
        {
            return LivePart::Cached(a.clone());
        }
        LivePart::Fresh(
            stamp,
            f.tasks
                .values()
                .map(|t| (RenderedTask::of(t), t.resources_released))
                .collect(),
        )
    }

    /// About the length of its JSON.
    pub fn size_hint(&self) -> usize {
        match self {
            LivePart::Cached(a) => a.json.len(),
            LivePart::Fresh(_, t) => t.iter().map(|(t, _)| t.json().get().len() + 1).sum(),
        }
    }

    /// The array, rendered now if it changed since the last rendering
    /// (live tasks are shown ordered by id) and kept in `cache`.
    pub fn array(&mut self, cache: &TaskArraysCache) -> Arc<LiveArray> {
        let (stamp, mut tasks) = match self {
            LivePart::Cached(a) => return a.clone(),
            LivePart::Fresh(stamp, tasks) => (*stamp, std::mem::take(tasks)),
        };
        tasks.sort_unstable_by(|a, b| a.0.id().cmp(&b.0.id()));
        let mut used = ResMap::default();
        for (t, released) in &tasks {
            if !released {
                t.res.add_to(&mut used);
            }
        }
        let (unreachable, reachable): (Vec<_>, Vec<_>) = tasks
            .iter()
            .map(|(t, _)| t)
            .partition(|t| t.state == TaskState::TASK_UNREACHABLE);
        let array = |tasks: Vec<&Arc<RenderedTask>>| {
            let mut json =
                Vec::with_capacity(2 + tasks.iter().map(|t| json_len(t) + 1).sum::<usize>());
            json.push(b'[');
            join(&mut json, tasks.into_iter());
            json.push(b']');
            Bytes::from(json)
        };
        let array = Arc::new(LiveArray {
            json: array(reachable),
            unreachable: array(unreachable),
            used,
        });
        let mut cached = cache.lock();
        // A slower rendering of an older snapshot keeps the newer one
        // (stamps only grow).
        if cached.live.as_ref().is_none_or(|(s, _)| *s < stamp) {
            cached.live = Some((stamp, array.clone()));
        }
        drop(cached);
        *self = LivePart::Cached(array.clone());
        array
    }
}

/// Completed tasks' JSON, each preceded by a comma (so that segments are
/// sent one after the other as they are, the first one's comma cut), and
/// where each task's JSON ends.
#[derive(Debug)]
pub(super) struct Block {
    json: Bytes,
    ends: Vec<usize>,
}

impl Block {
    fn render(tasks: &[Arc<RenderedTask>]) -> Block {
        let mut json = Vec::with_capacity(tasks.iter().map(|t| json_len(t) + 1).sum());
        let mut ends = Vec::with_capacity(tasks.len());
        for t in tasks {
            json.push(b',');
            json.extend_from_slice(t.json().get().as_bytes());
            ends.push(json.len());
        }
        Block {
            json: Bytes::from(json),
            ends,
        }
    }

    /// The JSON of tasks `from..to` of the block, with its leading comma.
    fn slice(&self, from: usize, to: usize) -> Bytes {
        let start = match from {
            0 => 0,
            // Where the previous task ends, the comma starts.
            i => self.ends.get(i - 1).copied().unwrap_or(self.json.len()),
        };
        let end = to
            .checked_sub(1)
            .and_then(|i| self.ends.get(i))
            .copied()
            .unwrap_or(0);
        if start >= end {
            return Bytes::new();
        }
        self.json.slice(start..end)
    }
}

/// One block's worth of a snapshot's completed tasks.
enum BlockPart {
    /// Tasks `from..to` of a block rendered before.
    Cached {
        block: Arc<Block>,
        from: usize,
        to: usize,
    },
    /// Tasks to render; `keep` names the block number when they are a
    /// whole block, to be kept.
    Fresh {
        tasks: Vec<Arc<RenderedTask>>,
        keep: Option<u64>,
    },
}

/// A framework's completed tasks in a snapshot, oldest first.
pub(super) struct CompletedPart {
    generation: u64,
    /// Block of the oldest task shown.
    first_block: u64,
    parts: Vec<BlockPart>,
}

impl CompletedPart {
    pub fn take(f: &FrameworkEntry) -> CompletedPart {
        let done = &f.completed_tasks;
        let generation = done.generation();
        let cached = f.rendered.lock();
        let blocks = (cached.blocks_generation == generation).then_some(&cached.blocks);
        let (first, end) = (done.first(), done.first() + done.len() as u64);
        let mut parts = Vec::new();
        let mut pos = first;
        while pos < end {
            let number = pos / BLOCK;
            let (start, stop) = (number * BLOCK, ((number + 1) * BLOCK).min(end));
            let from = (pos - start) as usize;
            let to = (stop - start) as usize;
            let full = stop == start + BLOCK;
            match blocks.and_then(|b| b.get(&number)) {
                Some(block) if full => parts.push(BlockPart::Cached {
                    block: block.clone(),
                    from,
                    to,
                }),
                _ => parts.push(BlockPart::Fresh {
                    tasks: (pos..stop)
                        .filter_map(|p| done.get((p - first) as usize))
                        .map(RenderedTask::of)
                        .collect(),
                    keep: (full && from == 0).then_some(number),
                }),
            }
            pos = stop;
        }
        CompletedPart {
            generation,
            first_block: first / BLOCK,
            parts,
        }
    }

    /// About the length of its JSON.
    pub fn size_hint(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                BlockPart::Cached { block, .. } => block.json.len(),
                BlockPart::Fresh { tasks, .. } => tasks.iter().map(|t| json_len(t) + 1).sum(),
            })
            .sum()
    }

    /// Writes the array, rendering what is missing and keeping new full
    /// blocks in `cache`.
    pub fn write(&mut self, cache: &TaskArraysCache, out: &mut Rope) {
        let mut kept = Vec::new();
        let mut segments = Vec::with_capacity(self.parts.len());
        for part in &mut self.parts {
            match part {
                BlockPart::Cached { block, from, to } => segments.push(block.slice(*from, *to)),
                BlockPart::Fresh { tasks, keep } => {
                    let block = Block::render(tasks);
                    segments.push(block.json.clone());
                    if let Some(number) = *keep {
                        kept.push((number, Arc::new(block)));
                    }
                }
            }
        }
        out.push(b'[');
        let mut segments = segments.into_iter().filter(|s| !s.is_empty());
        if let Some(first) = segments.next() {
            // Every segment starts with a comma; the array's first does not.
            out.shared(&first.slice(1..));
        }
        for s in segments {
            out.shared(&s);
        }
        out.push(b']');
        self.keep(cache, kept);
    }

    fn keep(&self, cache: &TaskArraysCache, kept: Vec<(u64, Arc<Block>)>) {
        let mut cached = cache.lock();
        // Generations are stamps: they only grow.
        if self.generation < cached.blocks_generation {
            // Tasks changed in place after this snapshot was taken.
            return;
        }
        if self.generation > cached.blocks_generation {
            cached.blocks.clear();
            cached.blocks_generation = self.generation;
        }
        cached.blocks.extend(kept);
        // Blocks of tasks dropped since are of no use any more.
        cached.blocks = cached.blocks.split_off(&self.first_block);
    }
}

fn json_len(t: &RenderedTask) -> usize {
    t.json().get().len()
}

/// Appends the tasks' JSON separated by commas.
fn join<'a>(out: &mut Vec<u8>, tasks: impl Iterator<Item = &'a Arc<RenderedTask>>) {
    for (i, t) in tasks.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(t.json().get().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::TaskEntry;
    use mesos_types::*;

    fn task(n: usize) -> TaskEntry {
        TaskEntry::new(
            TaskInfo {
                name: format!("t{n}"),
                task_id: TaskID::new(format!("t{n}")),
                ..Default::default()
            },
            FrameworkID::new("f"),
            AgentID::new("a"),
            TaskState::TASK_FINISHED,
            "*".into(),
            Resources::new(),
            None,
        )
    }

    /// What the array must be: every kept task's JSON, oldest first.
    fn expected(f: &FrameworkEntry) -> String {
        let tasks: Vec<_> = f.completed_tasks.iter().map(RenderedTask::of).collect();
        let mut out = vec![b'['];
        join(&mut out, tasks.iter());
        out.push(b']');
        String::from_utf8(out).expect("utf-8")
    }

    fn write(part: &mut CompletedPart, cache: &TaskArraysCache) -> String {
        let mut rope = Rope::with_capacity(0);
        part.write(cache, &mut rope);
        String::from_utf8(rope.into_vec()).expect("utf-8")
    }

    fn render(f: &FrameworkEntry) -> String {
        write(&mut CompletedPart::take(f), &f.rendered)
    }

    #[test]
    fn completed_tasks_render_the_same_from_blocks_as_from_scratch() {
        let mut f = FrameworkEntry::recovered(FrameworkInfo::default(), 0.0);
        assert_eq!(render(&f), "[]");
        let max = 8;
        for n in 0..40 {
            f.push_completed(task(n), max);
            assert_eq!(render(&f), expected(&f), "after {} tasks", n + 1);
            // Rendered again from what was kept.
            assert_eq!(render(&f), expected(&f), "again after {} tasks", n + 1);
            let cached = f.rendered.lock();
            assert!(
                cached.blocks.len() as u64 <= (max as u64).div_ceil(BLOCK) + 1,
                "blocks of dropped tasks are let go: {} kept",
                cached.blocks.len()
            );
        }
        assert!(!f.rendered.lock().blocks.is_empty(), "full blocks are kept");
    }

    #[test]
    fn blocks_are_kept_at_the_default_number_of_completed_tasks() {
        let max = crate::master::MasterConfig::default().max_completed_tasks_per_framework as u64;
        assert!(
            BLOCK_TASKS * 4 <= max,
            "a block of {BLOCK_TASKS} tasks is rarely whole with {max} kept"
        );
    }

    #[test]
    fn tasks_changed_in_place_are_rendered_again() {
        let mut f = FrameworkEntry::recovered(FrameworkInfo::default(), 0.0);
        for n in 0..10 {
            f.push_completed(task(n), 100);
        }
        assert_eq!(render(&f), expected(&f));
        for t in f.completed_tasks.iter_mut() {
            t.info.name = format!("renamed {}", t.info.name);
            t.changed();
        }
        let now = render(&f);
        assert!(now.contains("renamed t0"), "{now}");
        assert_eq!(now, expected(&f));
    }

    #[test]
    fn an_older_snapshot_written_late_does_not_replace_newer_blocks() {
        let mut f = FrameworkEntry::recovered(FrameworkInfo::default(), 0.0);
        for n in 0..9 {
            f.push_completed(task(n), 100);
        }
        let mut old = CompletedPart::take(&f);
        let old_expected = expected(&f);
        for t in f.completed_tasks.iter_mut() {
            t.info.name = "new".into();
            t.changed();
        }
        assert_eq!(render(&f), expected(&f));
        // The old snapshot still shows what it took...
        assert_eq!(write(&mut old, &f.rendered), old_expected);
        // ...and the next rendering still shows the new names.
        assert_eq!(render(&f), expected(&f));
    }

    #[test]
    fn live_tasks_render_again_only_when_they_changed() {
        let mut f = FrameworkEntry::recovered(FrameworkInfo::default(), 0.0);
        for n in 0..5 {
            f.tasks.insert(TaskID::new(format!("t{n}")), task(n));
        }
        let first = LivePart::take(&f).array(&f.rendered);
        let again = LivePart::take(&f);
        assert!(matches!(again, LivePart::Cached(ref a) if Arc::ptr_eq(a, &first)));
        if let Some(t) = f.tasks.get_mut(&TaskID::new("t3")) {
            t.info.name = "renamed".into();
            t.changed();
        }
        let changed = LivePart::take(&f).array(&f.rendered);
        assert!(!Arc::ptr_eq(&changed, &first));
        assert!(String::from_utf8_lossy(&changed.json).contains("renamed"));
    }
}
