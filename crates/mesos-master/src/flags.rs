//! `mesos-master` flags (spec 7.2-7.3). Accepted-but-inert flags are listed
//! so existing configurations keep starting; they are documented as such.

use clap::Parser;
use mesos_coord::zk::ZkUrl;
use mesos_flags::Duration;

#[derive(Parser, Debug, Clone)]
#[command(name = "mesos-master", version = mesos_types::MESOS_VERSION, args_override_self = true, rename_all = "snake_case")]
pub struct MasterFlags {
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: String,
    /// Port to listen on.
    #[arg(long, default_value_t = 5050)]
    pub port: u16,
    /// IP address advertised to agents and frameworks.
    #[arg(long)]
    pub advertise_ip: Option<String>,
    /// Port advertised to agents and frameworks.
    #[arg(long)]
    pub advertise_port: Option<u16>,
    /// Hostname advertised (defaults to the advertised IP).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Whether to look up the hostname (accepted; we advertise the IP unless --hostname is set).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true)]
    pub hostname_lookup: bool,
    /// Directory for the registry (required for --registry=replicated_log).
    #[arg(long)]
    pub work_dir: Option<String>,
    /// Human readable cluster name.
    #[arg(long)]
    pub cluster: Option<String>,
    /// `replicated_log` (here: the embedded store under --work_dir) or `in_memory`.
    #[arg(long, default_value = "replicated_log")]
    pub registry: String,
    /// ZooKeeper URL for leader election and the registry
    /// (`zk://[user:pass@]host:port[,host:port...]/path`, or `file:///path`
    /// holding one).
    #[arg(long)]
    pub zk: Option<String>,
    /// ZooKeeper session timeout: a leader cut off from ZooKeeper this long
    /// stops acting as leader.
    #[arg(long, default_value = "10secs")]
    pub zk_session_timeout: Duration,
    /// The registry's write quorum: a strict majority of the masters
    /// (2 of 3). Required with `--zk` and `--registry=replicated_log`. The
    /// registry lives in ZooKeeper, whose own majority acknowledges every
    /// write; the value is checked so a layout that could elect two leaders
    /// is refused, as Mesos refuses it.
    #[arg(long)]
    pub quorum: Option<u32>,
    /// How many masters this cluster runs (a count, or their `host:port`
    /// list); `--quorum` is checked against it. Default: the number of
    /// ZooKeeper servers in `--zk`, the usual one-master-per-server layout.
    #[arg(long)]
    pub masters: Option<String>,
    /// Accept a `--quorum` that is not a strict majority (e.g. 1 of 2).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub quorum_unsafe: bool,
    #[arg(long, default_value = "1secs")]
    pub allocation_interval: Duration,
    #[arg(long)]
    pub offer_timeout: Option<Duration>,
    #[arg(long, alias = "slave_ping_timeout", default_value = "15secs")]
    pub agent_ping_timeout: Duration,
    #[arg(long, alias = "max_slave_ping_timeouts", default_value_t = 5)]
    pub max_agent_ping_timeouts: u32,
    #[arg(long, default_value = "10mins")]
    pub agent_reregister_timeout: Duration,
    /// Comma-separated role whitelist (deprecated in Mesos, still honoured).
    #[arg(long)]
    pub roles: Option<String>,
    /// `role1=2,role2=1`.
    #[arg(long)]
    pub weights: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub max_completed_frameworks: usize,
    #[arg(long, default_value_t = 1000)]
    pub max_completed_tasks_per_framework: usize,
    /// Most concurrent operator API SUBSCRIBE streams; a new one ends the oldest.
    #[arg(long, default_value_t = 1000)]
    pub max_operator_event_stream_subscribers: usize,
    #[arg(long, default_value = "/usr/share/mesos/webui")]
    pub webui_dir: String,
    #[arg(long)]
    pub log_dir: Option<String>,
    #[arg(long, default_value = "INFO")]
    pub logging_level: String,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub quiet: bool,
    #[arg(long, default_value = "HierarchicalDRF")]
    pub allocator: String,
    #[arg(long, default_value = "cpus:0.01|mem:32")]
    pub min_allocatable_resources: String,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub authenticate_http_readonly: bool,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub authenticate_http_readwrite: bool,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub authenticate_http_frameworks: bool,
    /// Largest accepted request body.
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    pub max_request_body_bytes: usize,
}

impl MasterFlags {
    /// Parses `--weights=role1=2,role2=1`.
    pub fn parse_weights(&self) -> Result<Vec<(String, f64)>, String> {
        let Some(w) = &self.weights else {
            return Ok(vec![]);
        };
        w.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let (r, v) = p.split_once('=').ok_or_else(|| {
                    format!("invalid --weights entry '{p}': expected role=weight")
                })?;
                let v: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid weight in '{p}'"))?;
                if !(v > 0.0 && v.is_finite()) {
                    return Err(format!("weight in '{p}' must be positive"));
                }
                Ok((r.trim().to_string(), v))
            })
            .collect()
    }

    /// `--zk`, parsed (a `file://` value names a file holding the URL).
    pub fn zk_url(&self) -> Result<Option<ZkUrl>, String> {
        let Some(zk) = &self.zk else {
            return Ok(None);
        };
        let text = match zk.trim().strip_prefix("file://") {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("--zk: cannot read '{path}': {e}"))?,
            None => zk.clone(),
        };
        ZkUrl::parse(text.trim())
            .map(Some)
            .map_err(|e| format!("--zk: {e}"))
    }

    /// `--masters` as a count.
    fn masters_count(&self) -> Result<Option<u32>, String> {
        let Some(m) = &self.masters else {
            return Ok(None);
        };
        let m = m.trim();
        if let Ok(n) = m.parse::<u32>() {
            return if n == 0 {
                Err("--masters must be at least 1".into())
            } else {
                Ok(Some(n))
            };
        }
        let list: Vec<&str> = m.split(',').map(str::trim).collect();
        if list.iter().any(|e| e.is_empty() || !e.contains(':')) {
            return Err(format!(
                "--masters '{m}': expected a count or a host:port list"
            ));
        }
        Ok(Some(list.len() as u32))
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.registry != "in_memory" && self.registry != "replicated_log" {
            return Err(format!(
                "'{}' is not a supported registry (in_memory, replicated_log)",
                self.registry
            ));
        }
        let zk = self.zk_url()?;
        if self.registry == "replicated_log" && self.work_dir.is_none() && zk.is_none() {
            return Err("--work_dir is required with --registry=replicated_log (or use --registry=in_memory)".into());
        }
        if zk.is_some() && self.registry == "replicated_log" && self.quorum.is_none() {
            return Err("--quorum is required with --zk and --registry=replicated_log: a strict majority of the masters (2 of 3, 3 of 5)".into());
        }
        let masters = self.masters_count()?;
        validate_quorum(zk.as_ref(), self.quorum, masters, self.quorum_unsafe)?;
        if self.zk_session_timeout.get() < std::time::Duration::from_millis(100) {
            return Err("--zk_session_timeout must be at least 100ms".into());
        }
        self.parse_weights()?;
        self.ip
            .parse::<std::net::IpAddr>()
            .map_err(|_| format!("--ip '{}' is not an IP address", self.ip))?;
        Ok(())
    }
}

/// Checks `--quorum` against the masters (`--masters`, else one per
/// ZooKeeper server in `--zk`): it must be a strict majority, or two
/// halves of a partition could each elect a leader and accept writes.
pub fn validate_quorum(
    zk: Option<&ZkUrl>,
    quorum: Option<u32>,
    masters: Option<u32>,
    quorum_unsafe: bool,
) -> Result<(), String> {
    let Some(zk) = zk else {
        if let Some(q) = quorum.filter(|q| *q != 1) {
            return Err(format!(
                "--quorum={q} needs --zk: a standalone master is a quorum of one"
            ));
        }
        if masters.is_some_and(|n| n > 1) {
            return Err("--masters needs --zk: without ZooKeeper a master runs alone".into());
        }
        return Ok(());
    };
    let Some(q) = quorum else {
        return Ok(());
    };
    let n = masters.unwrap_or(zk.servers.len() as u32);
    let counted = if masters.is_some() {
        "--masters"
    } else {
        "the ZooKeeper servers in --zk"
    };
    // Counting ZooKeeper servers is a guess at the layout (one master per
    // server); say how to state the real number.
    let hint = if masters.is_some() {
        ""
    } else {
        ". If this cluster runs another number of masters than ZooKeeper servers, say how many with --masters=N"
    };
    if q == 0 {
        return Err("--quorum must be at least 1".into());
    }
    if q > n {
        return Err(format!(
            "--quorum={q} is more than the {n} masters ({counted}): no registry write could ever be acknowledged{hint}"
        ));
    }
    if q * 2 <= n && !quorum_unsafe {
        let why = if n == 2 && q == 1 {
            "--quorum=1 with 2 masters is not a majority: each side of a partition could elect its own leader and accept writes (split brain). Use --quorum=2, or pass --quorum_unsafe to accept the risk".to_string()
        } else {
            format!(
                "--quorum={q} is not a strict majority of {n} masters ({counted}); use --quorum={} or more, or pass --quorum_unsafe to accept the risk of two leaders{hint}",
                n / 2 + 1
            )
        };
        return Err(why);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn flags(args: &[&str]) -> Result<(), String> {
        let mut argv = vec!["mesos-master"];
        argv.extend_from_slice(args);
        MasterFlags::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .validate()
    }

    /// Every `--zk`/`--quorum` layout an operator might write, and what
    /// the master says about it.
    #[test]
    fn zk_and_quorum_forms() {
        let dir = tempfile::tempdir().unwrap();
        let zk_file = dir.path().join("zk");
        std::fs::write(&zk_file, "zk://z1:2181,z2:2181,z3:2181/mesos\n").unwrap();
        let zk_file_arg = format!("--zk=file://{}", zk_file.display());
        let bad_file = dir.path().join("bad");
        std::fs::write(&bad_file, "not-a-url").unwrap();
        let bad_file_arg = format!("--zk=file://{}", bad_file.display());
        let missing_arg = format!("--zk=file://{}/missing", dir.path().display());
        let three = "--zk=zk://z1:2181,z2:2181,z3:2181/mesos";
        let ok: &[&[&str]] = &[
            &["--registry=in_memory"],
            &["--work_dir=/tmp/x"],
            &["--work_dir=/tmp/x", "--quorum=1"],
            &[three, "--quorum=2"],
            &[three, "--quorum=3"],
            &["--zk=zk://u:p@z1,z2,z3/mesos", "--quorum=2"],
            &["--zk=zk://z1:2181/mesos", "--quorum=1"],
            &[three, "--quorum=2", "--masters=3"],
            &[three, "--quorum=3", "--masters=5"],
            &[three, "--quorum=2", "--masters=m1:5050,m2:5050,m3:5050"],
            // Three masters on one ZooKeeper server, three on five.
            &["--zk=zk://z1:2181/mesos", "--quorum=2", "--masters=3"],
            &[
                "--zk=zk://z1,z2,z3,z4,z5/mesos",
                "--quorum=2",
                "--masters=3",
            ],
            &["--zk=zk://z1,z2/mesos", "--quorum=1", "--quorum_unsafe"],
            &[three, "--registry=in_memory"],
            &[zk_file_arg.as_str(), "--quorum=2"],
            &[three, "--quorum=2", "--zk_session_timeout=2secs"],
        ];
        for args in ok {
            assert_eq!(flags(args), Ok(()), "{args:?}");
        }
        let bad: &[(&[&str], &str)] = &[
            (&["--zk=zk://z1:2181/mesos"], "--quorum is required"),
            (&["--zk=zk://z1,z2/mesos", "--quorum=1"], "not a majority"),
            (&["--zk=zk://z1:2181/mesos", "--quorum=2"], "--masters=N"),
            (
                &[three, "--quorum=2", "--masters=1"],
                "more than the 1 masters",
            ),
            (&[three, "--quorum=1"], "not a strict majority of 3"),
            (&[three, "--quorum=4"], "more than the 3 masters"),
            (&[three, "--quorum=0"], "at least 1"),
            (
                &[three, "--quorum=2", "--masters=5"],
                "not a strict majority of 5",
            ),
            (
                &[three, "--quorum=2", "--masters=0"],
                "--masters must be at least 1",
            ),
            (&[three, "--quorum=2", "--masters=m1,m2"], "host:port list"),
            (&["--work_dir=/tmp/x", "--quorum=2"], "needs --zk"),
            (&["--work_dir=/tmp/x", "--masters=3"], "needs --zk"),
            (&["--zk=zk://z1:2181"], "missing znode path"),
            (&["--zk=zk://z1:2181/", "--quorum=1"], "root"),
            (&["--zk=zk://z1:abc/mesos", "--quorum=1"], "bad port"),
            (&["--zk=zk://z1,,z2/mesos", "--quorum=1"], "empty server"),
            (&["--zk=zk://user@z1/mesos", "--quorum=1"], "credentials"),
            (&["--zk=z1:2181/mesos", "--quorum=1"], "zk://"),
            (&[bad_file_arg.as_str(), "--quorum=1"], "zk://"),
            (&[missing_arg.as_str(), "--quorum=1"], "cannot read"),
            (
                &[three, "--quorum=2", "--zk_session_timeout=10ms"],
                "at least 100ms",
            ),
            (&[], "--work_dir is required"),
        ];
        for (args, want) in bad {
            let got = flags(args).expect_err(&format!("{args:?} should be refused"));
            assert!(got.contains(want), "{args:?}: {got}");
        }
    }
}
