//! Resource usage of the running executors: `/monitor/statistics`,
//! `/containers` and the v1 GET_CONTAINERS call (spec §6.6, §5.3).
//!
//! Mesos's posix isolators report a container's usage as the sum over its
//! process tree; so do we: the executor and all its descendants (the
//! command executor puts its task in another process group, which the tree
//! still reaches through the parent links), read from `/proc/<pid>/stat`.
//! Limits come from the executor's resources plus those of its tasks.
//! cgroups accounting replaces this when the containerizer gains them.
//!
//! Three steps keep the agent responsive: [`targets`] copies what is needed
//! under the core's lock (no I/O), [`measure`] reads `/proc` on a blocking
//! thread without any lock, and the `render_*` functions are pure.

use crate::core::Core;
use crate::proc_tree::{self, ProcStat};
use crate::runtime::Shared;
use mesos_types::task_state::is_terminal;
use mesos_types::{ContainerID, ExecutorID, FrameworkID, Resources};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Clock ticks per second of `/proc/<pid>/stat` times, when `sysconf`
/// cannot say (it is 100 on every Linux ABI).
const DEFAULT_CLK_TCK: u64 = 100;
const DEFAULT_PAGE_SIZE: u64 = 4096;

/// One executor to measure, copied out of the core.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub framework_id: FrameworkID,
    pub executor_id: ExecutorID,
    pub executor_name: String,
    pub source: String,
    pub container_id: ContainerID,
    pub pid: u32,
    pub cpus_limit: Option<f64>,
    pub mem_limit_bytes: Option<u64>,
    /// `mesos.v1.ContainerStatus` of the container.
    pub status: Value,
}

/// Usage of one process tree.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    pub cpus_user_time_secs: f64,
    pub cpus_system_time_secs: f64,
    pub mem_rss_bytes: u64,
    pub processes: u32,
    pub threads: u32,
}

/// A target with its usage, read at `timestamp` (epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub target: Target,
    pub usage: Usage,
    pub timestamp: f64,
}

/// The executors with a process, and their limits. Under the core's lock:
/// copies only.
pub fn targets(core: &Core) -> Vec<Target> {
    let ip = core.config().ip;
    let protocol = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
    let mut out = Vec::new();
    for fw in core.frameworks() {
        for ex in fw.executors.values() {
            let Some(pid) = ex.pid else { continue };
            let mut resources = Resources::from_wire(ex.info.resources.clone());
            for t in ex.tasks.values().filter(|t| !is_terminal(t.state)) {
                resources.add(&Resources::from_wire(t.info.resources.clone()));
            }
            for t in &ex.queued_tasks {
                resources.add(&Resources::from_wire(t.resources.clone()));
            }
            let (cpus, mem) = (resources.scalar("cpus"), resources.scalar("mem"));
            out.push(Target {
                framework_id: fw.id.clone(),
                executor_id: ex.id.clone(),
                executor_name: ex.info.name.clone().unwrap_or_default(),
                source: ex.info.source.clone().unwrap_or_default(),
                container_id: ex.container_id.clone(),
                pid,
                cpus_limit: (cpus > 0.0).then_some(cpus),
                mem_limit_bytes: (mem > 0.0).then_some((mem * 1024.0 * 1024.0) as u64),
                status: json!({
                    "container_id": {"value": ex.container_id.value},
                    "executor_pid": pid,
                    "network_infos": [{"ip_addresses": [{"protocol": protocol, "ip_address": ip.to_string()}]}],
                }),
            });
        }
    }
    out
}

/// Sums the usage of the tree rooted at `root`; `None` if `root` is gone.
pub fn tree_usage(procs: &[ProcStat], root: u32, clk_tck: u64, page_size: u64) -> Option<Usage> {
    let root = i32::try_from(root).ok()?;
    if !procs.iter().any(|p| p.pid == root && p.state != 'Z') {
        return None;
    }
    let (pids, _) = proc_tree::tree(procs, root);
    let mut usage = Usage::default();
    let (mut utime, mut stime) = (0u64, 0u64);
    for p in procs.iter().filter(|p| pids.contains(&p.pid)) {
        utime = utime.saturating_add(p.utime);
        stime = stime.saturating_add(p.stime);
        usage.mem_rss_bytes = usage
            .mem_rss_bytes
            .saturating_add(p.rss_pages.saturating_mul(page_size));
        usage.processes += 1;
        usage.threads = usage
            .threads
            .saturating_add(u32::try_from(p.threads).unwrap_or(u32::MAX));
    }
    let tck = clk_tck.max(1) as f64;
    usage.cpus_user_time_secs = utime as f64 / tck;
    usage.cpus_system_time_secs = stime as f64 / tck;
    Some(usage)
}

fn sysconf_or(var: nix::unistd::SysconfVar, default: u64) -> u64 {
    match nix::unistd::sysconf(var) {
        Ok(Some(v)) if v > 0 => v as u64,
        _ => default,
    }
}

/// Reads `/proc` once and measures every target whose process still
/// exists. Blocking: run it on a blocking thread, with no lock held.
pub fn measure(proc_root: &Path, targets: Vec<Target>) -> Vec<Measured> {
    let procs = proc_tree::snapshot(proc_root);
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let clk_tck = sysconf_or(nix::unistd::SysconfVar::CLK_TCK, DEFAULT_CLK_TCK);
    let page_size = sysconf_or(nix::unistd::SysconfVar::PAGE_SIZE, DEFAULT_PAGE_SIZE);
    targets
        .into_iter()
        .filter_map(|target| {
            let usage = tree_usage(&procs, target.pid, clk_tck, page_size)?;
            Some(Measured {
                target,
                usage,
                timestamp,
            })
        })
        .collect()
}

/// Copies the targets under the lock, then measures them on a blocking
/// thread (no lock held while `/proc` is read).
pub async fn collect(shared: &Shared) -> Vec<Measured> {
    let targets = shared.read(targets);
    if targets.is_empty() {
        return Vec::new();
    }
    tokio::task::spawn_blocking(move || measure(Path::new("/proc"), targets))
        .await
        .unwrap_or_default()
}

/// `mesos.v1.ResourceStatistics` JSON.
pub fn statistics_json(m: &Measured) -> Value {
    let u = &m.usage;
    let mut o = Map::new();
    o.insert("timestamp".into(), json!(m.timestamp));
    o.insert("processes".into(), json!(u.processes));
    o.insert("threads".into(), json!(u.threads));
    o.insert("cpus_user_time_secs".into(), json!(u.cpus_user_time_secs));
    o.insert(
        "cpus_system_time_secs".into(),
        json!(u.cpus_system_time_secs),
    );
    if let Some(c) = m.target.cpus_limit {
        o.insert("cpus_limit".into(), json!(c));
    }
    o.insert("mem_rss_bytes".into(), json!(u.mem_rss_bytes));
    if let Some(b) = m.target.mem_limit_bytes {
        o.insert("mem_limit_bytes".into(), json!(b));
    }
    Value::Object(o)
}

fn legacy_entry(m: &Measured) -> Map<String, Value> {
    let t = &m.target;
    let mut o = Map::new();
    o.insert("executor_id".into(), json!(t.executor_id.value));
    o.insert("executor_name".into(), json!(t.executor_name));
    o.insert("framework_id".into(), json!(t.framework_id.value));
    o.insert("source".into(), json!(t.source));
    o.insert("statistics".into(), statistics_json(m));
    o
}

/// `/monitor/statistics`.
pub fn render_statistics(measured: &[Measured]) -> Value {
    Value::Array(
        measured
            .iter()
            .map(|m| Value::Object(legacy_entry(m)))
            .collect(),
    )
}

/// `/containers`: the statistics entries with `container_id` and `status`.
pub fn render_containers(measured: &[Measured]) -> Value {
    Value::Array(
        measured
            .iter()
            .map(|m| {
                let mut o = legacy_entry(m);
                o.insert("container_id".into(), json!(m.target.container_id.value));
                o.insert("status".into(), m.target.status.clone());
                Value::Object(o)
            })
            .collect(),
    )
}

/// GET_CONTAINERS: `{"containers": [{framework_id, executor_id,
/// executor_name, container_id, container_status, resource_statistics}]}`.
pub fn render_v1(measured: &[Measured]) -> Value {
    let containers: Vec<Value> = measured
        .iter()
        .map(|m| {
            let t = &m.target;
            json!({
                "framework_id": {"value": t.framework_id.value},
                "executor_id": {"value": t.executor_id.value},
                "executor_name": t.executor_name,
                "container_id": {"value": t.container_id.value},
                "container_status": t.status,
                "resource_statistics": statistics_json(m),
            })
        })
        .collect();
    let mut o = Map::new();
    if !containers.is_empty() {
        o.insert("containers".into(), Value::Array(containers));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, state: char, utime: u64, stime: u64, rss: u64) -> ProcStat {
        ProcStat {
            pid,
            state,
            ppid,
            pgrp: pid,
            utime,
            stime,
            threads: 2,
            rss_pages: rss,
        }
    }

    #[test]
    fn the_whole_tree_is_summed() {
        let procs = [
            p(10, 1, 'S', 100, 50, 10), // executor
            p(11, 10, 'R', 250, 0, 5),  // task, another group
            p(12, 11, 'S', 1, 1, 1),    // its child
            p(13, 11, 'Z', 999, 999, 0),
            p(20, 1, 'R', 7777, 7777, 7777), // unrelated
        ];
        let u = tree_usage(&procs, 10, 100, 4096).unwrap();
        assert_eq!(u.cpus_user_time_secs, 3.51);
        assert_eq!(u.cpus_system_time_secs, 0.51);
        assert_eq!(u.mem_rss_bytes, 16 * 4096);
        assert_eq!((u.processes, u.threads), (3, 6));
        assert_eq!(tree_usage(&procs, 99, 100, 4096), None, "gone");
        assert_eq!(tree_usage(&procs, 13, 100, 4096), None, "zombie");
        assert_eq!(tree_usage(&procs, u32::MAX, 100, 4096), None);
    }

    #[test]
    fn renderings_have_the_mesos_keys() {
        let m = Measured {
            target: Target {
                framework_id: "F".into(),
                executor_id: "E".into(),
                executor_name: "n".into(),
                source: "s".into(),
                container_id: ContainerID {
                    value: "C".into(),
                    parent: None,
                },
                pid: 10,
                cpus_limit: Some(1.1),
                mem_limit_bytes: Some(32 << 20),
                status: json!({"container_id": {"value": "C"}, "executor_pid": 10}),
            },
            usage: Usage {
                cpus_user_time_secs: 1.0,
                cpus_system_time_secs: 0.5,
                mem_rss_bytes: 4096,
                processes: 2,
                threads: 3,
            },
            timestamp: 5.0,
        };
        let stats = &render_statistics(std::slice::from_ref(&m))[0];
        for k in ["executor_id", "executor_name", "framework_id", "source"] {
            assert!(stats[k].is_string(), "{k}");
        }
        let s = &stats["statistics"];
        for k in [
            "timestamp",
            "cpus_user_time_secs",
            "cpus_system_time_secs",
            "cpus_limit",
        ] {
            assert!(s[k].is_f64(), "{k}: {s}");
        }
        for k in ["mem_rss_bytes", "mem_limit_bytes", "processes", "threads"] {
            assert!(s[k].is_u64(), "{k}: {s}");
        }
        let c = &render_containers(std::slice::from_ref(&m))[0];
        assert_eq!(c["container_id"], "C");
        assert_eq!(c["status"]["executor_pid"], 10);
        let v1 = render_v1(std::slice::from_ref(&m));
        let c = &v1["containers"][0];
        assert_eq!(c["container_id"]["value"], "C");
        assert_eq!(c["resource_statistics"]["processes"], 2);
        assert_eq!(render_v1(&[]), json!({}));
    }

    #[test]
    fn measures_this_process() {
        let me = std::process::id();
        let target = Target {
            framework_id: "F".into(),
            executor_id: "E".into(),
            executor_name: String::new(),
            source: String::new(),
            container_id: ContainerID {
                value: "C".into(),
                parent: None,
            },
            pid: me,
            cpus_limit: None,
            mem_limit_bytes: None,
            status: Value::Null,
        };
        let m = measure(Path::new("/proc"), vec![target]);
        assert_eq!(m.len(), 1);
        assert!(m[0].usage.mem_rss_bytes > 0);
        assert!(m[0].usage.threads >= 1);
    }
}
