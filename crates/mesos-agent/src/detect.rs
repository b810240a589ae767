//! The agent's total resources: auto-detected machine resources, overridden
//! per resource name by `--resources`.
//!
//! Detection follows Mesos (src/slave/containerizer/containerizer.cpp):
//! `cpus` = number of CPUs; `mem` = total minus 1 GB when the machine has at
//! least 2 GB, else half; `disk` = size of the work_dir filesystem minus 5 GB
//! when it has at least 10 GB, else half; `ports` = `[31000-32000]`. Any of
//! these named in `--resources` (with any role) replaces the detected value.
//! The policy is a pure function of [`MachineResources`]; [`probe`] reads the
//! real numbers.

use mesos_types::resources::ResourceError;
use mesos_types::{Resource, Resources};
use std::path::Path;

/// Raw machine capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineResources {
    pub cpus: f64,
    pub mem_mb: f64,
    pub disk_mb: f64,
}

/// Reads CPU count, `/proc/meminfo` and the work_dir filesystem size.
pub fn probe(work_dir: &Path) -> MachineResources {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    let mem_mb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| meminfo_total_mb(&t))
        .unwrap_or(0.0);
    let disk_mb = nix::sys::statvfs::statvfs(work_dir)
        .map(|s| (s.blocks() as f64) * (s.fragment_size() as f64) / (1024.0 * 1024.0))
        .unwrap_or(0.0);
    MachineResources {
        cpus,
        mem_mb: mem_mb.floor(),
        disk_mb: disk_mb.floor(),
    }
}

/// `MemTotal` of `/proc/meminfo`, in MB.
pub fn meminfo_total_mb(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Memory offered to tasks: leave 1 GB to the system when there are 2 GB or more.
pub fn usable_mem_mb(total_mb: f64) -> f64 {
    if total_mb >= 2048.0 {
        total_mb - 1024.0
    } else {
        (total_mb / 2.0).floor()
    }
}

/// Disk offered to tasks: leave 5 GB when there are 10 GB or more.
pub fn usable_disk_mb(total_mb: f64) -> f64 {
    if total_mb >= 10240.0 {
        total_mb - 5120.0
    } else {
        (total_mb / 2.0).floor()
    }
}

/// The agent's resources: `--resources` plus detected values for the
/// standard names it does not mention.
pub fn agent_resources(
    machine: &MachineResources,
    flag: Option<&str>,
    default_role: &str,
) -> Result<Resources, ResourceError> {
    let mut resources = match flag {
        Some(text) if !text.trim().is_empty() => Resources::parse(text, default_role)?,
        _ => Resources::new(),
    };
    let has = |r: &Resources, name: &str| r.iter().any(|x| x.name == name);
    let mut detected = Vec::new();
    if !has(&resources, "cpus") {
        detected.push(Resource::scalar("cpus", machine.cpus));
    }
    if !has(&resources, "mem") {
        detected.push(Resource::scalar("mem", usable_mem_mb(machine.mem_mb)));
    }
    if !has(&resources, "disk") {
        detected.push(Resource::scalar("disk", usable_disk_mb(machine.disk_mb)));
    }
    if !has(&resources, "ports") {
        detected.push(Resource::ranges("ports", vec![(31000, 32000)]));
    }
    for mut r in detected {
        r.role = Some(default_role.to_string());
        resources.add_one(r.normalized());
    }
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: MachineResources = MachineResources {
        cpus: 8.0,
        mem_mb: 16000.0,
        disk_mb: 100_000.0,
    };

    #[test]
    fn detection_rules() {
        assert_eq!(usable_mem_mb(16000.0), 14976.0);
        assert_eq!(usable_mem_mb(2048.0), 1024.0);
        assert_eq!(usable_mem_mb(1500.0), 750.0);
        assert_eq!(usable_disk_mb(100_000.0), 94880.0);
        assert_eq!(usable_disk_mb(8000.0), 4000.0);
        assert_eq!(
            meminfo_total_mb("MemTotal:       16384000 kB\nMemFree: 1 kB\n"),
            Some(16000.0)
        );
        assert_eq!(meminfo_total_mb("nothing"), None);
    }

    #[test]
    fn detected_resources_without_flag() {
        let r = agent_resources(&BIG, None, "*").unwrap();
        let m = r.to_map();
        assert_eq!(m["cpus"], 8.0);
        assert_eq!(m["mem"], 14976.0);
        assert_eq!(m["disk"], 94880.0);
        assert_eq!(m["ports"], "[31000-32000]");
        assert!(r.iter().all(|x| x.is_unreserved()));
    }

    #[test]
    fn flag_overrides_per_name() {
        let r = agent_resources(&BIG, Some("cpus:2;mem(ops):512;gpus:1"), "*").unwrap();
        let m = r.to_map();
        assert_eq!(m["cpus"], 2.0);
        assert_eq!(m["mem"], 512.0, "mem named with a role replaces detection");
        assert_eq!(m["disk"], 94880.0);
        assert_eq!(m["gpus"], 1.0);
        assert_eq!(m["ports"], "[31000-32000]");
        assert_eq!(
            r.iter()
                .find(|x| x.name == "mem")
                .unwrap()
                .reservation_role(),
            "ops"
        );
    }

    #[test]
    fn json_flag_and_default_role() {
        let json = r#"[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":9}]}}]"#;
        let r = agent_resources(&BIG, Some(json), "*").unwrap();
        assert_eq!(r.to_map()["ports"], "[1-9]");
        let r = agent_resources(&BIG, Some("cpus:1"), "web").unwrap();
        assert!(r.iter().all(|x| x.reservation_role() == "web"));
        assert!(agent_resources(&BIG, Some("cpus:lots"), "*").is_err());
    }

    #[test]
    fn probe_reads_this_machine() {
        let m = probe(Path::new("/"));
        assert!(m.cpus >= 1.0);
        assert!(m.mem_mb > 0.0);
        assert!(m.disk_mb > 0.0);
    }
}
