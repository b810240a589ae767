//! Killing an executor with everything it started.
//!
//! Executors run in their own process group, and the command executor puts
//! its task in yet another group. Destroying a container therefore kills
//! the process groups of the executor and of all its descendants (found by
//! walking `/proc`), then the descendants themselves — the equivalent of the
//! posix launcher's `killtree`. The walk is a pure function over parsed
//! `/proc/<pid>/stat` records so it can be tested on fixtures. What escaped
//! the tree (reparented after its executor died) is found by the sandbox
//! its environment names ([`kill_by_sandbox`]).

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The fields of `/proc/<pid>/stat` we need: the tree (to kill it) and
/// its usage (for `/monitor/statistics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// CPU time in user and kernel mode, in clock ticks (fields 14, 15).
    pub utime: u64,
    pub stime: u64,
    /// Field 20.
    pub threads: u64,
    /// Resident set size in pages (field 24).
    pub rss_pages: u64,
}

/// Parses one `/proc/<pid>/stat` line. The command name is in parentheses
/// and may itself contain spaces and parentheses, so fields are read after
/// the last `)`. The usage fields are 0 when a line is too short to hold
/// them (fixtures; the tree fields are all a kill needs).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, tail) = text.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let fields: Vec<&str> = tail.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let pgrp = fields.get(2)?.parse().ok()?;
    // `fields[0]` is field 3 of the line.
    let at = |field: usize| -> u64 {
        fields
            .get(field - 3)
            .and_then(|f| f.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcStat {
        pid,
        state,
        ppid,
        pgrp,
        utime: at(14),
        stime: at(15),
        threads: at(20),
        rss_pages: at(24),
    })
}

/// Field 22 of a `/proc/<pid>/stat` line, the process start time in clock
/// ticks since boot, or `None` for a zombie or dead process. A pid and its
/// start time name one process: pids are reused, start times (with the pid)
/// are not.
pub fn parse_live_start_time(text: &str) -> Option<u64> {
    let (_, tail) = text.rsplit_once(')')?;
    let mut fields = tail.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `state` was field 3; the start time is field 22.
    fields.nth(22 - 4)?.parse().ok()
}

/// The start time of live process `pid` (see [`parse_live_start_time`]).
pub fn live_start_time(pid: u32) -> Option<u64> {
    parse_live_start_time(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Whether `pid` is alive and is still the process that had `start_time`.
/// Without a recorded start time (a checkpoint of an older agent) only
/// liveness can be checked.
pub fn is_same_live_process(pid: u32, start_time: Option<u64>) -> bool {
    match (live_start_time(pid), start_time) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(now), Some(then)) => now == then,
    }
}

/// All processes under `proc_root` (normally `/proc`).
pub fn snapshot(proc_root: &Path) -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|t| parse_stat(&t))
        .collect()
}

/// `root` and its live descendants, and the process groups they lead or belong to.
pub fn tree(procs: &[ProcStat], root: i32) -> (BTreeSet<i32>, BTreeSet<i32>) {
    let mut children: BTreeMap<i32, Vec<&ProcStat>> = BTreeMap::new();
    for p in procs {
        children.entry(p.ppid).or_default().push(p);
    }
    let mut pids = BTreeSet::new();
    let mut groups = BTreeSet::from([root]);
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        if !pids.insert(pid) {
            continue;
        }
        for c in children.get(&pid).into_iter().flatten() {
            if c.state != 'Z' {
                groups.insert(c.pgrp);
                todo.push(c.pid);
            }
        }
    }
    (pids, groups)
}

/// SIGKILLs the process tree rooted at `pid` and all its process groups,
/// never the agent's own group.
pub fn kill_tree(pid: u32) {
    let Ok(root) = i32::try_from(pid) else { return };
    if root <= 1 {
        return;
    }
    let own_group = getpgrp().as_raw();
    let (pids, groups) = tree(&snapshot(Path::new("/proc")), root);
    for g in groups.into_iter().filter(|g| *g > 1 && *g != own_group) {
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
    for p in pids.into_iter().filter(|p| *p > 1) {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
}

/// Whether a `/proc/<pid>/environ` image holds exactly `entry` (`KEY=value`).
pub fn environ_has(environ: &[u8], entry: &str) -> bool {
    environ.split(|b| *b == 0).any(|v| v == entry.as_bytes())
}

/// SIGKILLs every process under `proc_root` whose environment holds
/// `MESOS_SANDBOX=<sandbox>` for one of `sandboxes`: what is left of those
/// containers wherever it was reparented (a process a task put in a group
/// or session of its own, whose executor died, is in no executor's tree).
/// Repeats while it finds some, as a process may fork while being killed.
pub fn kill_by_sandbox(proc_root: &Path, sandboxes: &[std::path::PathBuf]) {
    let entries: Vec<String> = sandboxes
        .iter()
        .map(|s| format!("MESOS_SANDBOX={}", s.display()))
        .collect();
    if entries.is_empty() {
        return;
    }
    let me = std::process::id();
    for _ in 0..10 {
        let Ok(dir) = std::fs::read_dir(proc_root) else {
            return;
        };
        let found: Vec<i32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid > 1 && *pid != me)
            .filter(|pid| {
                std::fs::read(proc_root.join(pid.to_string()).join("environ"))
                    .is_ok_and(|env| entries.iter().any(|e| environ_has(&env, e)))
            })
            .filter_map(|pid| i32::try_from(pid).ok())
            .collect();
        if found.is_empty() {
            return;
        }
        for pid in found {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// SIGKILLs whatever is left in the process group `pgid` (after its leader exited).
pub fn kill_group(pgid: u32) {
    let Ok(g) = i32::try_from(pgid) else { return };
    if g > 1 && g != getpgrp().as_raw() {
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let s = parse_stat("1234 (sleep) S 1200 1234 1200 0 -1 4194560 96 0 0 0").unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 1234,
                state: 'S',
                ppid: 1200,
                pgrp: 1234,
                ..Default::default()
            }
        );
        let full = "9 (busy loop) R 1 9 9 0 -1 4194304 10 0 0 0 250 30 0 0 20 0 3 0 555 8192 42";
        let s = parse_stat(full).unwrap();
        assert_eq!((s.utime, s.stime, s.threads, s.rss_pages), (250, 30, 3, 42));
        let s = parse_stat("77 (we (ird) name) R 1 77 77 0").unwrap();
        assert_eq!((s.pid, s.state, s.ppid, s.pgrp), (77, 'R', 1, 77));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn start_time_is_field_22_and_absent_for_zombies() {
        let line =
            "1234 (a ) b) S 1200 1234 1200 0 -1 4194560 96 0 0 0 5 3 0 0 20 0 1 0 987654 8192 100";
        assert_eq!(parse_live_start_time(line), Some(987_654));
        let zombie = line.replacen(") S ", ") Z ", 1);
        assert_eq!(parse_live_start_time(&zombie), None);
        assert_eq!(parse_live_start_time("1 (short) S 0 1"), None);
    }

    #[test]
    fn own_process_is_recognised_only_with_its_own_start_time() {
        let me = std::process::id();
        let start = live_start_time(me).expect("this process is alive");
        assert!(is_same_live_process(me, Some(start)));
        assert!(is_same_live_process(me, None));
        // The same pid with another start time is a reused pid.
        assert!(!is_same_live_process(me, Some(start + 1)));
    }

    #[test]
    fn environ_entries_match_whole() {
        let env = b"A=1\0MESOS_SANDBOX=/w/runs/c1\0B=2\0";
        assert!(environ_has(env, "MESOS_SANDBOX=/w/runs/c1"));
        assert!(!environ_has(env, "MESOS_SANDBOX=/w/runs/c"));
        assert!(!environ_has(env, "MESOS_SANDBOX=/w/runs/c10"));
        assert!(!environ_has(b"", "MESOS_SANDBOX=/w/runs/c1"));
    }

    #[test]
    fn tree_collects_descendants_and_their_groups() {
        let p = |pid, ppid, pgrp, state| ProcStat {
            pid,
            state,
            ppid,
            pgrp,
            ..Default::default()
        };
        let procs = [
            p(10, 1, 10, 'S'),  // executor
            p(11, 10, 11, 'S'), // task (own group)
            p(12, 11, 11, 'S'), // task child
            p(13, 11, 11, 'Z'), // zombie: ignored
            p(20, 1, 20, 'S'),  // unrelated
        ];
        let (pids, groups) = tree(&procs, 10);
        assert_eq!(pids, BTreeSet::from([10, 11, 12]));
        assert_eq!(groups, BTreeSet::from([10, 11]));
    }

    #[test]
    fn kill_tree_kills_children_in_other_groups() {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 1000 & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id();
        // Wait for the background sleep to appear.
        let mut seen = false;
        for _ in 0..100 {
            if tree(&snapshot(Path::new("/proc")), pid as i32).0.len() >= 2 {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(seen);
        kill_tree(pid);
        let status = child.wait().unwrap();
        assert!(!status.success());
    }
}
