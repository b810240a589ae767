//! Agent command-line flags (spec §7.4) and their validation.
//!
//! Flags are parsed by clap from the argv that `mesos_flags::load` assembles
//! out of `/etc/mesos-slave`, `MESOS_*` variables and the command line.
//! [`AgentFlags::validate`] then checks what clap cannot (the `--master`
//! forms, enumerated values) and produces the typed settings the agent uses.

use clap::Parser;
use mesos_coord::MasterLocation;
use mesos_flags::Duration;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

/// The agent's flags. Names, defaults and spellings follow Mesos.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "mesos-agent",
    version = mesos_types::MESOS_VERSION,
    about = "Mesos agent: runs tasks on behalf of a Mesos master",
    args_override_self = true,
    rename_all = "snake_case"
)]
pub struct AgentFlags {
    /// Master to register with: `host:port` (also `http://host:port`,
    /// `master@host:port`), `zk://[user:pass@]host1:port1,host2:port2/path`
    /// (the leading master of a ZooKeeper group, followed as it changes) or
    /// `file:///path` holding either.
    #[arg(long)]
    pub master: String,
    /// ZooKeeper session timeout when `--master` is `zk://`.
    #[arg(long, default_value = "10secs")]
    pub zk_session_timeout: Duration,
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: IpAddr,
    /// Port to listen on (0 picks a free port).
    #[arg(long, default_value_t = 5051)]
    pub port: u16,
    /// IP address advertised to the master and executors.
    #[arg(long)]
    pub advertise_ip: Option<IpAddr>,
    /// Port advertised to the master and executors.
    #[arg(long)]
    pub advertise_port: Option<u16>,
    /// Hostname reported to the master.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Look up the hostname when `--hostname` is absent (else use the IP).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true)]
    pub hostname_lookup: bool,
    /// Directory for sandboxes (`<work_dir>/slaves/...`).
    #[arg(long)]
    pub work_dir: PathBuf,
    /// Total resources, e.g. `cpus:4;mem:8192;ports:[31000-32000]` or a JSON array.
    #[arg(long)]
    pub resources: Option<String>,
    /// Attributes, e.g. `rack:r1;os:ubuntu`.
    #[arg(long)]
    pub attributes: Option<String>,
    /// Role of resources without an explicit role.
    #[arg(long, default_value = "*")]
    pub default_role: String,
    /// Containerizers to use; only `mesos` is available in this build.
    #[arg(long, default_value = "mesos")]
    pub containerizers: String,
    /// How long an executor may take to subscribe.
    #[arg(long, default_value = "1mins")]
    pub executor_registration_timeout: Duration,
    /// Maximum backoff of re-subscribing executors (`MESOS_SUBSCRIPTION_BACKOFF_MAX`).
    #[arg(long, default_value = "2secs")]
    pub executor_reregistration_timeout: Duration,
    /// How long an executor may take to exit after SHUTDOWN.
    #[arg(long, default_value = "5secs")]
    pub executor_shutdown_grace_period: Duration,
    /// JSON object of variables executors get instead of the agent's environment.
    #[arg(long)]
    pub executor_environment_variables: Option<String>,
    /// Isolators (accepted; this build isolates nothing beyond process groups).
    #[arg(long, default_value = "posix/cpu,posix/mem")]
    pub isolation: String,
    /// Directory holding `mesos-executor` (default: next to this program).
    #[arg(long)]
    pub launcher_dir: Option<PathBuf>,
    /// `reconnect`: recover the checkpoint under `<work_dir>/meta` and
    /// reconnect to the executors of checkpointing frameworks; `cleanup`:
    /// kill the executors found there and start afresh (new agent id).
    #[arg(long, default_value = "reconnect")]
    pub recover: String,
    /// How long checkpointing executors try to re-subscribe (`MESOS_RECOVERY_TIMEOUT`).
    #[arg(long, default_value = "15mins")]
    pub recovery_timeout: Duration,
    /// A corrupt or partial checkpoint stops the agent (false: the damaged
    /// framework, executor run or task is skipped and logged).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true)]
    pub strict: bool,
    /// Run tasks as their user (accepted; tasks run as the agent's user).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true)]
    pub switch_user: bool,
    /// Initial backoff between registration attempts (doubles up to 10 s);
    /// after a leader change the first attempt waits a random part of it.
    #[arg(long, default_value = "1secs")]
    pub registration_backoff_factor: Duration,
    /// First wait before an unacknowledged status update is re-sent to the
    /// master; each further re-send waits twice as long, up to 10 minutes.
    #[arg(long, default_value = "10secs", hide = true)]
    pub status_update_retry_interval: Duration,
    /// Log directory: the log is also written to `<log_dir>/mesos-agent.INFO`
    /// and served as `/slave/log`.
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// Log level: INFO, WARNING or ERROR.
    #[arg(long, default_value = "INFO")]
    pub logging_level: String,
    /// Do not log to stderr (accepted).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub quiet: bool,
    /// Use the HTTP executor API for command executors (always the case here).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub http_command_executor: bool,
    /// Sandbox garbage collection delay (accepted; sandboxes are kept).
    #[arg(long, default_value = "1weeks")]
    pub gc_delay: Duration,
    /// A URI download that makes no progress for this long fails the
    /// task's launch (Mesos's flag and default).
    #[arg(long, default_value = "1mins")]
    pub fetcher_stall_timeout: Duration,
    /// Largest file the fetcher fetches for a task (not a Mesos flag;
    /// Mesos's `--fetcher_cache_size` sizes a cache this agent does not
    /// have). Mesos byte units: `B`, `KB`, `MB`, `GB`, `TB` (powers of 1024).
    #[arg(long, default_value = "10GB")]
    pub fetcher_max_size: Bytes,
}

/// A size in bytes, written as Mesos writes them (`512MB`, `10GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl std::str::FromStr for Bytes {
    type Err = String;

    fn from_str(text: &str) -> Result<Bytes, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let n: u64 = number
            .parse()
            .map_err(|_| format!("invalid size '{text}': expected e.g. 512MB or 10GB"))?;
        let shift = match unit.trim().to_ascii_uppercase().as_str() {
            "B" => 0,
            "KB" => 10,
            "MB" => 20,
            "GB" => 30,
            "TB" => 40,
            _ => {
                return Err(format!(
                    "invalid size unit in '{text}': use B, KB, MB, GB or TB"
                ));
            }
        };
        n.checked_mul(1u64 << shift)
            .map(Bytes)
            .ok_or_else(|| format!("size '{text}' is too large"))
    }
}

impl std::fmt::Display for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let units = [(40, "TB"), (30, "GB"), (20, "MB"), (10, "KB")];
        match units
            .iter()
            .find(|(shift, _)| self.0 != 0 && self.0.is_multiple_of(1u64 << shift))
        {
            Some((shift, unit)) => write!(f, "{}{unit}", self.0 >> shift),
            None => write!(f, "{}B", self.0),
        }
    }
}

/// A flag value that clap accepted but the agent cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlagsError {
    #[error("invalid --master '{0}': {1}")]
    Master(String, String),
    #[error("invalid --recover '{0}': expected 'reconnect' or 'cleanup'")]
    Recover(String),
    #[error("invalid --containerizers '{0}': this build only provides the 'mesos' containerizer")]
    Containerizers(String),
    #[error("invalid --executor_environment_variables: {0}")]
    ExecutorEnvironment(String),
    #[error("invalid --zk_session_timeout '{0}': must be at least 100ms")]
    ZkSessionTimeout(String),
}

/// Parses `--master`: `host:port` (port 5050 when omitted),
/// `http://host:port[/]`, `master@host:port`, `[v6addr]:port`,
/// `zk://[user:pass@]h1:p1,.../path` or `file:///path` holding one of
/// those. The forms are those of every client (`mesos_coord::MasterLocation`);
/// this only names the flag in the error.
pub fn parse_master(text: &str) -> Result<MasterLocation, FlagsError> {
    MasterLocation::parse(text)
        .map_err(|e| FlagsError::Master(mesos_coord::zk::redact(text.trim()), e.to_string()))
}

/// Values derived from the flags once they are known to be usable.
#[derive(Debug, Clone)]
pub struct Validated {
    pub master: MasterLocation,
    /// Replaces the inherited environment of executors when set.
    pub executor_environment: Option<BTreeMap<String, String>>,
}

impl AgentFlags {
    /// Checks the values clap could not check.
    pub fn validate(&self) -> Result<Validated, FlagsError> {
        let master = parse_master(&self.master)?;
        if self.zk_session_timeout.get() < std::time::Duration::from_millis(100) {
            return Err(FlagsError::ZkSessionTimeout(
                self.zk_session_timeout.to_string(),
            ));
        }
        if self.recover != "reconnect" && self.recover != "cleanup" {
            return Err(FlagsError::Recover(self.recover.clone()));
        }
        let containerizers: Vec<&str> = self.containerizers.split(',').map(str::trim).collect();
        if !containerizers.contains(&"mesos") {
            return Err(FlagsError::Containerizers(self.containerizers.clone()));
        }
        let executor_environment = match &self.executor_environment_variables {
            None => None,
            Some(text) => {
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| FlagsError::ExecutorEnvironment(e.to_string()))?;
                let obj = v.as_object().ok_or_else(|| {
                    FlagsError::ExecutorEnvironment("expected a JSON object".into())
                })?;
                let mut env = BTreeMap::new();
                for (k, v) in obj {
                    let v = v.as_str().ok_or_else(|| {
                        FlagsError::ExecutorEnvironment(format!("value of '{k}' must be a string"))
                    })?;
                    env.insert(k.clone(), v.to_string());
                }
                Some(env)
            }
        };
        Ok(Validated {
            master,
            executor_environment,
        })
    }

    /// `--launcher_dir`, defaulting to the directory of the running program.
    pub fn launcher_dir(&self) -> PathBuf {
        self.launcher_dir.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("/usr/libexec/mesos"))
        })
    }
}

/// Loads the flags from the given sources (see `mesos_flags::load`).
pub fn load(
    sources: &mesos_flags::FlagSources,
) -> Result<mesos_flags::Loaded<AgentFlags>, mesos_flags::FlagError> {
    mesos_flags::load::<AgentFlags>("mesos-agent", sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<AgentFlags, mesos_flags::FlagError> {
        let sources = mesos_flags::FlagSources {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        load(&sources).map(|l| l.flags)
    }

    #[test]
    fn byte_sizes_use_mesos_units() {
        let b = |t: &str| t.parse::<Bytes>();
        assert_eq!(b("512MB"), Ok(Bytes(512 << 20)));
        assert_eq!(b("10GB").map(|b| b.to_string()), Ok("10GB".into()));
        assert_eq!(b("1000B").map(|b| b.to_string()), Ok("1000B".into()));
        for bad in ["", "GB", "10XB", "-1MB", "99999999999TB"] {
            assert!(b(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_follow_mesos() {
        let f = parse(&["--master=m:5050", "--work_dir=/w"]).unwrap();
        assert_eq!(f.port, 5051);
        assert_eq!(f.ip.to_string(), "127.0.0.1");
        assert_eq!(f.default_role, "*");
        assert_eq!(f.executor_registration_timeout.to_string(), "1mins");
        assert_eq!(f.fetcher_stall_timeout.to_string(), "1mins");
        assert_eq!(f.fetcher_max_size, Bytes(10 << 30));
        assert_eq!(f.executor_shutdown_grace_period.to_string(), "5secs");
        assert_eq!(f.status_update_retry_interval.to_string(), "10secs");
        assert_eq!(f.registration_backoff_factor.to_string(), "1secs");
        assert!(f.strict && f.switch_user && f.hostname_lookup);
        assert!(f.validate().is_ok());
    }

    #[test]
    fn required_and_unknown_flags_are_errors() {
        assert!(
            parse(&["--work_dir=/w"])
                .unwrap_err()
                .to_string()
                .contains("--master")
        );
        assert!(
            parse(&["--master=m:1"])
                .unwrap_err()
                .to_string()
                .contains("--work_dir")
        );
        assert!(
            parse(&["--master=m:1", "--work_dir=/w", "--bogus=1"])
                .unwrap_err()
                .to_string()
                .contains("--bogus")
        );
        let f = parse(&[
            "--master=m:1",
            "--work_dir=/w",
            "--no-switch_user",
            "--port=0",
        ])
        .unwrap();
        assert!(!f.switch_user);
        assert_eq!(f.port, 0);
    }

    /// The forms themselves are tested with the parser they share
    /// (`mesos_coord::MasterLocation`); here, that the agent takes each
    /// kind and names its flag in errors.
    #[test]
    fn master_forms() {
        let direct = |host: &str, port| MasterLocation::Direct {
            host: host.into(),
            port,
        };
        assert_eq!(parse_master("10.0.0.1:5050"), Ok(direct("10.0.0.1", 5050)));
        assert_eq!(parse_master("http://h:6000/"), Ok(direct("h", 6000)));
        assert_eq!(parse_master("master@h:7000"), Ok(direct("h", 7000)));
        assert_eq!(parse_master("h"), Ok(direct("h", 5050)));
        assert_eq!(
            parse_master("[::1]:5050")
                .unwrap()
                .direct_endpoint()
                .as_deref(),
            Some("[::1]:5050")
        );
        let zk = parse_master("zk://u:p@a:2181,b:2181/mesos").unwrap();
        let MasterLocation::ZooKeeper(url) = &zk else {
            panic!("{zk:?}")
        };
        assert_eq!(url.servers, vec!["a:2181", "b:2181"]);
        assert_eq!(url.path, "/mesos");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master");
        std::fs::write(&file, "zk://a:2181/mesos\n").unwrap();
        assert!(matches!(
            parse_master(&format!("file://{}", file.display())),
            Ok(MasterLocation::ZooKeeper(_))
        ));
        for (bad, why) in [
            ("h:notaport", "bad port"),
            ("", "empty master address"),
            ("zk://a:2181", "missing znode path"),
            ("zk://a:2181/", "root"),
        ] {
            let e = parse_master(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid --master '{bad}'")), "{e}");
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn a_session_timeout_too_short_to_connect_and_a_password_in_errors_are_refused() {
        let f = parse(&[
            "--master=zk://z1/mesos",
            "--work_dir=/w",
            "--zk_session_timeout=0secs",
        ])
        .unwrap();
        let e = f.validate().unwrap_err().to_string();
        assert!(e.contains("--zk_session_timeout"), "{e}");
        let e = parse_master("zk://u:secret@z1:x/mesos")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
        assert!(e.contains("bad port"), "{e}");
    }

    #[test]
    fn zookeeper_masters_are_taken_with_their_session_timeout() {
        let f = parse(&["--master=zk://z1:2181,z2:2181/mesos", "--work_dir=/w"]).unwrap();
        assert_eq!(f.zk_session_timeout.to_string(), "10secs");
        assert!(matches!(
            f.validate().unwrap().master,
            MasterLocation::ZooKeeper(_)
        ));
        let f = parse(&[
            "--master=zk://z1/mesos",
            "--work_dir=/w",
            "--zk_session_timeout=3secs",
        ])
        .unwrap();
        assert_eq!(
            f.zk_session_timeout.get(),
            std::time::Duration::from_secs(3)
        );
    }

    #[test]
    fn value_validation() {
        let mut f = parse(&["--master=m:1", "--work_dir=/w"]).unwrap();
        f.recover = "never".into();
        assert!(matches!(f.validate(), Err(FlagsError::Recover(_))));
        f.recover = "cleanup".into();
        f.containerizers = "docker".into();
        assert!(matches!(f.validate(), Err(FlagsError::Containerizers(_))));
        f.containerizers = "docker,mesos".into();
        f.executor_environment_variables = Some(r#"{"PATH":"/bin"}"#.into());
        assert_eq!(
            f.validate().unwrap().executor_environment.unwrap()["PATH"],
            "/bin"
        );
        f.executor_environment_variables = Some("[1]".into());
        assert!(f.validate().is_err());
    }
}
