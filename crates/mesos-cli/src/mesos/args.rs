//! The `mesos` command line: clap definitions and the parsing of the
//! values operators type (`--master`, `cpus=1,mem=512`, `HOST[:IP]`).
//! Pure, so every rule is unit-tested without a cluster.

use clap::{Args, Parser, Subcommand};
use mesos_coord::MasterLocation;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// Where `--master` points when neither the flag nor `MESOS_MASTER` is set.
pub const DEFAULT_MASTER: &str = "127.0.0.1:5050";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "mesos",
    version = mesos_types::MESOS_VERSION,
    about = "Operate a Mesos cluster: agents, frameworks, tasks, maintenance and quota",
    after_help = "Exit status: 0 on success, 1 on any error (one line on stderr)."
)]
pub struct Cli {
    /// Master as `host:port`, `http://host:port`, `zk://host:2181/mesos`
    /// (its leading master) or `file:///path` holding one (default:
    /// $MESOS_MASTER, then 127.0.0.1:5050).
    #[arg(long, global = true)]
    pub master: Option<String>,
    /// Print the JSON the master answered instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Agents of the cluster.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Frameworks registered with the master.
    #[command(subcommand)]
    Framework(FrameworkCommand),
    /// Tasks: list, read their sandbox logs, kill them.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Maintenance schedule, status, and machines down/up.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// Quota of roles: list (no subcommand), set, remove.
    Quota(QuotaArgs),
}

#[derive(Subcommand, Debug, Clone)]
pub enum AgentCommand {
    /// List the agents.
    List,
}

#[derive(Subcommand, Debug, Clone)]
pub enum FrameworkCommand {
    /// List the active frameworks.
    List {
        /// Include inactive and completed frameworks.
        #[arg(short, long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum TaskCommand {
    /// List the tasks that have not ended.
    List {
        /// Include completed tasks.
        #[arg(short, long)]
        all: bool,
    },
    /// Print a task's stdout (or stderr) from its sandbox.
    Log {
        task: String,
        /// Keep printing new output until interrupted or the task ends.
        #[arg(short, long)]
        follow: bool,
        /// Which sandbox file.
        #[arg(long, value_enum, default_value = "stdout")]
        file: LogFile,
        #[command(flatten)]
        select: FrameworkSelect,
    },
    /// Kill a running task (through its agent's KILL_CONTAINER).
    Kill {
        task: String,
        #[command(flatten)]
        select: FrameworkSelect,
    },
    /// Run a command in a task's container (not supported yet).
    Exec {
        task: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Attach to a task's stdio (not supported yet).
    Attach { task: String },
}

/// Task ids are unique only within a framework.
#[derive(Args, Debug, Clone, Default)]
pub struct FrameworkSelect {
    /// The task's framework, when several frameworks have a task of that id.
    #[arg(long)]
    pub framework: Option<String>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFile {
    Stdout,
    Stderr,
}

impl LogFile {
    pub fn name(self) -> &'static str {
        match self {
            LogFile::Stdout => "stdout",
            LogFile::Stderr => "stderr",
        }
    }
}

#[derive(Subcommand, Debug, Clone)]
pub enum MaintenanceCommand {
    /// Show the schedule; with --file, replace it.
    Schedule {
        /// Schedule JSON to set (`-` reads stdin), as `/maintenance/schedule` takes it.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Machines draining and down.
    Status,
    /// Take machines down (they must be in the schedule).
    Down {
        /// `HOST`, `HOST:IP` or `:IP`.
        #[arg(required = true)]
        machines: Vec<String>,
    },
    /// Bring machines back up.
    Up {
        #[arg(required = true)]
        machines: Vec<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct QuotaArgs {
    #[command(subcommand)]
    pub command: Option<QuotaCommand>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum QuotaCommand {
    /// List quota (the default).
    List,
    /// Set a role's quota (UPDATE_QUOTA).
    Set {
        role: String,
        /// Guaranteed resources, e.g. `cpus=1,mem=512`.
        #[arg(long, default_value = "")]
        guarantee: String,
        /// Limits, e.g. `cpus=4,mem=4096`.
        #[arg(long, default_value = "")]
        limit: String,
        /// Set it even if the cluster cannot satisfy the guarantee now.
        #[arg(long)]
        force: bool,
    },
    /// Remove a role's quota.
    Remove { role: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    #[error("{0}")]
    Invalid(String),
}

/// Where the master is, from `--master`, else `MESOS_MASTER`, else
/// [`DEFAULT_MASTER`]: any form every Mesos client takes
/// (`mesos_coord::MasterLocation`: `host:port`, `http://host:port`,
/// `zk://...`, `file:///path`).
pub fn master_location<'a>(
    flag: Option<&'a str>,
    env: Option<&'a str>,
) -> Result<MasterLocation, ArgError> {
    let given = |v: Option<&'a str>| v.map(str::trim).filter(|t| !t.is_empty());
    let text = given(flag).or(given(env)).unwrap_or(DEFAULT_MASTER);
    MasterLocation::parse(text).map_err(|e| ArgError::Invalid(format!("--master: {e}")))
}

/// `cpus=1,mem=512` (also `cpus:1;mem:512`, the agent's `--resources`
/// syntax) as the v1 quota map `{"cpus": {"value": 1}, "mem": {"value": 512}}`.
pub fn quota_map(text: &str) -> Result<Map<String, Value>, ArgError> {
    let mut out = Map::new();
    for item in text
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let Some((name, value)) = item.split_once(['=', ':']) else {
            return Err(ArgError::Invalid(format!(
                "invalid resource '{item}': expected name=value, e.g. cpus=1,mem=512"
            )));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        {
            return Err(ArgError::Invalid(format!("invalid resource name '{name}'")));
        }
        let v: f64 = value.parse().map_err(|_| {
            ArgError::Invalid(format!(
                "invalid value '{value}' for '{name}': expected a number"
            ))
        })?;
        if !v.is_finite() || v < 0.0 {
            return Err(ArgError::Invalid(format!(
                "invalid value '{value}' for '{name}': expected a non-negative number"
            )));
        }
        if out
            .insert(name.to_string(), json!({ "value": v }))
            .is_some()
        {
            return Err(ArgError::Invalid(format!("resource '{name}' given twice")));
        }
    }
    Ok(out)
}

/// `HOST`, `HOST:IP` or `:IP` as a maintenance `MachineID`. The IP is
/// what follows the first colon, so an IPv6 address needs no brackets.
pub fn machine_id(text: &str) -> Result<Value, ArgError> {
    let (host, ip) = match text.split_once(':') {
        Some((h, ip)) => (h.trim(), Some(ip.trim())),
        None => (text.trim(), None),
    };
    let mut m = Map::new();
    if !host.is_empty() {
        m.insert("hostname".into(), json!(host));
    }
    match ip {
        Some(ip) if ip.parse::<std::net::IpAddr>().is_err() => {
            return Err(ArgError::Invalid(format!(
                "invalid machine '{text}': '{ip}' is not an IP address"
            )));
        }
        Some(ip) => {
            m.insert("ip".into(), json!(ip));
        }
        None => {}
    }
    if m.is_empty() {
        return Err(ArgError::Invalid(format!(
            "invalid machine '{text}': expected HOST, HOST:IP or :IP"
        )));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The forms themselves are tested with the parser every client
    /// shares (`mesos_coord::MasterLocation`); here, which source wins and
    /// that errors name the flag and the problem.
    #[test]
    fn master_address_forms() {
        let ok = |f: Option<&str>, e: Option<&str>| {
            master_location(f, e)
                .unwrap()
                .direct_endpoint()
                .unwrap_or_default()
        };
        assert_eq!(ok(None, None), "127.0.0.1:5050");
        assert_eq!(ok(None, Some("m:1")), "m:1");
        assert_eq!(ok(Some("a:2"), Some("m:1")), "a:2");
        assert_eq!(ok(Some("http://a:2/"), None), "a:2");
        assert_eq!(ok(Some("a"), None), "a:5050");
        assert_eq!(ok(Some("[::1]:5051"), None), "[::1]:5051");
        assert_eq!(ok(Some(" "), Some("m:1")), "m:1");
        for (bad, why) in [
            ("a:x", "bad port 'x'"),
            ("a:99999", "bad port '99999'"),
            ("http://a:1/path", "without a path"),
            ("::1", "bracket IPv6"),
            ("u@a:1", "only 'master@'"),
            ("https://a:1", "https is not supported"),
            ("zk://z1:2181", "missing znode path"),
        ] {
            let e = master_location(Some(bad), None).unwrap_err().to_string();
            assert!(e.starts_with("--master: "), "{bad}: {e}");
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(matches!(
            master_location(Some("zk://z1:2181,z2:2181/mesos"), None),
            Ok(MasterLocation::ZooKeeper(_))
        ));
        assert!(matches!(
            master_location(None, Some("zk://z1/mesos")),
            Ok(MasterLocation::ZooKeeper(_))
        ));
    }

    #[test]
    fn quota_resources() {
        let m = quota_map("cpus=1, mem=512.5;disk:10").unwrap();
        assert_eq!(
            Value::Object(m),
            json!({"cpus": {"value": 1.0}, "mem": {"value": 512.5}, "disk": {"value": 10.0}})
        );
        assert!(quota_map("").unwrap().is_empty());
        for bad in [
            "cpus",
            "cpus=x",
            "cpus=-1",
            "=1",
            "cpus=1,cpus=2",
            "cpus=inf",
            "a b=1",
        ] {
            assert!(quota_map(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn machines() {
        assert_eq!(machine_id("h1").unwrap(), json!({"hostname": "h1"}));
        assert_eq!(
            machine_id("h1:10.0.0.1").unwrap(),
            json!({"hostname": "h1", "ip": "10.0.0.1"})
        );
        assert_eq!(machine_id(":::1").unwrap(), json!({"ip": "::1"}));
        assert!(machine_id("h1:nope").is_err());
        assert!(machine_id(":").is_err());
        assert!(machine_id("").is_err());
    }

    #[test]
    fn command_line() {
        let cli = Cli::try_parse_from([
            "mesos", "task", "log", "t1", "--follow", "--file", "stderr", "--json",
        ])
        .unwrap();
        assert!(cli.json);
        match cli.command {
            Command::Task(TaskCommand::Log {
                task, follow, file, ..
            }) => {
                assert_eq!((task.as_str(), follow, file), ("t1", true, LogFile::Stderr));
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["mesos", "--master=m:1", "quota"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Quota(QuotaArgs { command: None })
        ));
        assert!(Cli::try_parse_from(["mesos", "maintenance", "down"]).is_err());
        assert!(Cli::try_parse_from(["mesos", "task", "log", "t", "--file", "other"]).is_err());
    }
}
