//! The host's `system/*` metrics (spec 6.7), from `/proc`, as both daemons
//! report them. Blocking (it reads files): call it without holding a lock,
//! off the async workers when that matters.

use serde_json::{Map, Value as Json, json};

/// The host's `system/*` metrics, from `/proc` (keys whose file cannot be
/// read are left out, as Mesos leaves out metrics that fail).
pub fn system() -> Map<String, Json> {
    let mut o = Map::new();
    let cpus = std::fs::read_to_string("/proc/stat")
        .ok()
        .map(|s| cpus_online(&s))
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()));
    if let Some(n) = cpus {
        o.insert("system/cpus_total".into(), json!(n as f64));
    }
    if let Some(l) = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| load_averages(&s))
    {
        for (k, v) in ["system/load_1min", "system/load_5min", "system/load_15min"]
            .into_iter()
            .zip(l)
        {
            o.insert(k.into(), json!(v));
        }
    }
    if let Ok(s) = std::fs::read_to_string("/proc/meminfo") {
        // `MemFree`, as stout's `os::memory()` reports free memory.
        for (field, key) in [
            ("MemTotal", "system/mem_total_bytes"),
            ("MemFree", "system/mem_free_bytes"),
        ] {
            if let Some(kb) = meminfo_kb(&s, field) {
                o.insert(key.into(), json!((kb * 1024) as f64));
            }
        }
    }
    o
}

/// Online CPUs: the `cpuN` lines of `/proc/stat`.
fn cpus_online(stat: &str) -> usize {
    stat.lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count()
}

/// The three load averages of `/proc/loadavg`.
fn load_averages(s: &str) -> Option<[f64; 3]> {
    let mut it = s.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// A `/proc/meminfo` field in kB.
fn meminfo_kb(s: &str, field: &str) -> Option<u64> {
    s.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == field)
            .then(|| v.split_whitespace().next()?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        assert_eq!(
            cpus_online("cpu  1 2 3\ncpu0 1 2 3\ncpu1 4 5 6\nintr 7\n"),
            2
        );
        assert_eq!(
            load_averages("0.50 1.25 2.00 1/234 5678\n"),
            Some([0.5, 1.25, 2.0])
        );
        assert_eq!(load_averages("garbage"), None);
        let meminfo = "MemTotal:       16384 kB\nMemFree:         2048 kB\n";
        assert_eq!(meminfo_kb(meminfo, "MemTotal"), Some(16384));
        assert_eq!(meminfo_kb(meminfo, "MemFree"), Some(2048));
        assert_eq!(meminfo_kb(meminfo, "MemAvailable"), None);
    }
}
