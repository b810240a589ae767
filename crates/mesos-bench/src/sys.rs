//! Process limits and accounting for the benchmarks: raising
//! `RLIMIT_NOFILE`, reading a process's RSS and CPU time from `/proc`, and
//! counting its open descriptors.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns `(soft, hard)`
/// as they are afterwards. Raising the hard limit itself needs
/// `CAP_SYS_RESOURCE`, which containers usually drop; we try and keep going.
pub fn raise_nofile_limit() -> (u64, u64) {
    let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return (0, 0);
    };
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((0, 0))
}

/// Resident set size of `pid` (`None` = this process) in bytes, from `VmRSS`.
pub fn rss_bytes(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".into(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    parse_vm_rss(&text)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// User + system CPU seconds consumed by `pid` (`None` = this process).
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    parse_stat_cpu_ticks(&text).map(|t| t as f64 / ticks)
}

/// `utime + stime` (fields 14 and 15) of a `/proc/<pid>/stat` line; the
/// command name (field 2) may contain spaces, so fields count from its `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Open file descriptors of `pid` (`None` = this process).
pub fn open_fds(pid: Option<u32>) -> usize {
    let path = match pid {
        Some(p) => format!("/proc/{p}/fd"),
        None => "/proc/self/fd".into(),
    };
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

/// The local port range (`net.ipv4.ip_local_port_range`) as a count.
pub fn ephemeral_ports() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|s| s.parse::<u32>());
    let (Some(Ok(lo)), Some(Ok(hi))) = (it.next(), it.next()) else {
        return None;
    };
    Some(hi.saturating_sub(lo) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_fields() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t  1024 kB\n"),
            Some(1024 * 1024)
        );
        let stat = "42 (a b) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn reads_this_process() {
        assert!(rss_bytes(None).unwrap_or(0) > 0);
        assert!(cpu_secs(None).is_some());
        assert!(open_fds(None) > 0);
        let (soft, hard) = raise_nofile_limit();
        assert_eq!(soft, hard);
    }
}
