//! The executor's configuration, read from the `MESOS_*` environment the
//! agent sets up (spec §4.1).
//!
//! Parsing takes the variables as an iterator so tests never touch the
//! process environment.

use mesos_flags::Duration;
use mesos_types::{ExecutorID, FrameworkID};
use std::collections::HashMap;
use std::path::PathBuf;

/// Everything the command executor needs from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `ip:port` of the agent (`MESOS_AGENT_ENDPOINT`).
    pub agent_endpoint: String,
    pub framework_id: FrameworkID,
    pub executor_id: ExecutorID,
    /// Working directory of the task (`MESOS_SANDBOX`, else `MESOS_DIRECTORY`).
    pub sandbox: PathBuf,
    /// `MESOS_CHECKPOINT == "1"`: survive agent restarts by re-subscribing.
    pub checkpoint: bool,
    pub shutdown_grace_period: std::time::Duration,
    pub recovery_timeout: std::time::Duration,
    pub subscription_backoff_max: std::time::Duration,
}

/// A missing or malformed variable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("expecting '{0}' to be set in the environment")]
    Missing(&'static str),
    #[error("failed to parse '{name}': {message}")]
    Invalid { name: &'static str, message: String },
}

impl Config {
    /// Reads the configuration from `vars` (e.g. `std::env::vars()`).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let get = |name: &'static str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));
        let duration =
            |name: &'static str, default: &str| -> Result<std::time::Duration, ConfigError> {
                let text = get(name).unwrap_or_else(|| default.to_string());
                text.parse::<Duration>()
                    .map(Duration::get)
                    .map_err(|message| ConfigError::Invalid { name, message })
            };
        let agent_endpoint = required("MESOS_AGENT_ENDPOINT")?;
        let sandbox = get("MESOS_SANDBOX")
            .or_else(|| get("MESOS_DIRECTORY"))
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .ok_or(ConfigError::Missing("MESOS_SANDBOX"))?;
        Ok(Config {
            agent_endpoint,
            framework_id: FrameworkID::new(required("MESOS_FRAMEWORK_ID")?),
            executor_id: ExecutorID::new(required("MESOS_EXECUTOR_ID")?),
            sandbox,
            checkpoint: get("MESOS_CHECKPOINT").as_deref() == Some("1"),
            shutdown_grace_period: duration("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs")?,
            recovery_timeout: duration("MESOS_RECOVERY_TIMEOUT", "15mins")?,
            subscription_backoff_max: duration("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs")?,
        })
    }

    /// `http://<endpoint>/api/v1/executor`.
    pub fn executor_url(&self) -> String {
        let endpoint = self
            .agent_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/');
        format!("http://{endpoint}/api/v1/executor")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_agent_environment() {
        let c = Config::from_vars(vars(&[
            ("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"),
            ("MESOS_FRAMEWORK_ID", "f1"),
            ("MESOS_EXECUTOR_ID", "t1"),
            ("MESOS_DIRECTORY", "/d"),
            ("MESOS_SANDBOX", "/s"),
            ("MESOS_CHECKPOINT", "1"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "7secs"),
        ]))
        .unwrap();
        assert_eq!(c.executor_url(), "http://127.0.0.1:5051/api/v1/executor");
        assert_eq!(c.sandbox, PathBuf::from("/s"));
        assert!(c.checkpoint);
        assert_eq!(c.shutdown_grace_period.as_secs(), 7);
        assert_eq!(c.recovery_timeout.as_secs(), 900);
        assert_eq!(c.subscription_backoff_max.as_secs(), 2);
    }

    #[test]
    fn checkpoint_only_when_one_and_ids_required() {
        let base = [
            ("MESOS_AGENT_ENDPOINT", "h:1"),
            ("MESOS_FRAMEWORK_ID", "f"),
            ("MESOS_EXECUTOR_ID", "e"),
            ("MESOS_CHECKPOINT", "0"),
        ];
        assert!(!Config::from_vars(vars(&base)).unwrap().checkpoint);
        let e = Config::from_vars(vars(&base[..2])).unwrap_err();
        assert_eq!(e, ConfigError::Missing("MESOS_EXECUTOR_ID"));
        let mut bad = base.to_vec();
        bad.push(("MESOS_RECOVERY_TIMEOUT", "soon"));
        assert!(matches!(
            Config::from_vars(vars(&bad)),
            Err(ConfigError::Invalid { .. })
        ));
    }
}
