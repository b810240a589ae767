//! `mesos-master` flags (spec 7.2-7.3). Accepted-but-inert flags are listed
//! so existing configurations keep starting; they are documented as such.

use clap::Parser;
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
    /// ZooKeeper URL for leader election (`zk://host:port/path`).
    #[arg(long)]
    pub zk: Option<String>,
    /// Replicated-log quorum size (accepted for compatibility).
    #[arg(long)]
    pub quorum: Option<u32>,
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

    pub fn validate(&self) -> Result<(), String> {
        if self.registry != "in_memory" && self.registry != "replicated_log" {
            return Err(format!(
                "'{}' is not a supported registry (in_memory, replicated_log)",
                self.registry
            ));
        }
        if self.registry == "replicated_log" && self.work_dir.is_none() {
            return Err("--work_dir is required with --registry=replicated_log (or use --registry=in_memory)".into());
        }
        if self.zk.is_some() {
            return Err("--zk: ZooKeeper leader election is not available in this build yet; run a standalone master".into());
        }
        self.parse_weights()?;
        self.ip
            .parse::<std::net::IpAddr>()
            .map_err(|_| format!("--ip '{}' is not an IP address", self.ip))?;
        Ok(())
    }
}
