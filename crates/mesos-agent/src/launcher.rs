//! Starting executor processes (the posix launcher of this agent).
//!
//! A [`LaunchSpec`] is produced by the agent core; [`launch`] creates the
//! sandbox, fetches URIs, and spawns the executor in its own process group
//! with stdout/stderr going to the sandbox files `stdout` and `stderr`. The
//! executor environment (spec §4.1) is built by the pure [`executor_env`].

use crate::fetcher;
use mesos_types::{CommandInfo, ContainerID, ExecutorID, FrameworkID, URI};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// Everything needed to start one executor.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub framework_id: FrameworkID,
    pub executor_id: ExecutorID,
    pub container_id: ContainerID,
    /// The sandbox (`runs/<container_id>`).
    pub directory: PathBuf,
    /// The `runs/latest` symlink to point at `directory`.
    pub latest: PathBuf,
    /// What to run.
    pub command: CommandInfo,
    /// Variables set on top of the inherited environment.
    pub env: BTreeMap<String, String>,
    /// Inherit the agent's environment (false with `--executor_environment_variables`).
    pub inherit_env: bool,
    /// Fetched into the sandbox first.
    pub uris: Vec<URI>,
    pub fetch_limits: fetcher::FetchLimits,
    /// Persistent volumes: (the volume's directory on the agent, where it
    /// appears in the sandbox).
    pub volumes: Vec<(PathBuf, String)>,
}

/// Inputs of [`executor_env`].
#[derive(Debug, Clone)]
pub struct EnvParams<'a> {
    pub framework_id: &'a str,
    pub executor_id: &'a str,
    pub agent_id: &'a str,
    pub directory: &'a Path,
    /// `ip:port` of the agent's HTTP server.
    pub agent_endpoint: &'a str,
    pub checkpoint: bool,
    pub http_command_executor: bool,
    pub shutdown_grace_period: Duration,
    pub recovery_timeout: Duration,
    pub subscription_backoff_max: Duration,
}

/// The environment the agent gives every executor (spec §4.1).
pub fn executor_env(p: &EnvParams<'_>) -> BTreeMap<String, String> {
    let dir = p.directory.display().to_string();
    let flag = |b: bool| if b { "1" } else { "0" }.to_string();
    let duration = |d: Duration| mesos_flags::Duration(d).to_string();
    BTreeMap::from([
        ("MESOS_FRAMEWORK_ID".into(), p.framework_id.to_string()),
        ("MESOS_EXECUTOR_ID".into(), p.executor_id.to_string()),
        ("MESOS_DIRECTORY".into(), dir.clone()),
        ("MESOS_SANDBOX".into(), dir),
        ("MESOS_AGENT_ENDPOINT".into(), p.agent_endpoint.to_string()),
        (
            "MESOS_SLAVE_PID".into(),
            format!("slave(1)@{}", p.agent_endpoint),
        ),
        ("MESOS_SLAVE_ID".into(), p.agent_id.to_string()),
        ("MESOS_CHECKPOINT".into(), flag(p.checkpoint)),
        (
            "MESOS_HTTP_COMMAND_EXECUTOR".into(),
            flag(p.http_command_executor),
        ),
        (
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD".into(),
            duration(p.shutdown_grace_period),
        ),
        (
            "MESOS_RECOVERY_TIMEOUT".into(),
            duration(p.recovery_timeout),
        ),
        (
            "MESOS_SUBSCRIPTION_BACKOFF_MAX".into(),
            duration(p.subscription_backoff_max),
        ),
        ("LIBPROCESS_PORT".into(), "0".into()),
    ])
}

/// The variables of a `CommandInfo.environment` that carry a plain value.
pub fn command_env(command: &CommandInfo) -> BTreeMap<String, String> {
    command
        .environment
        .iter()
        .flat_map(|e| e.variables.iter())
        .filter_map(|v| v.value.as_ref().map(|val| (v.name.clone(), val.clone())))
        .collect()
}

/// The program, its arguments and `argv[0]` for a `CommandInfo`.
pub fn argv(command: &CommandInfo) -> Result<(String, Vec<String>, Option<String>), String> {
    let value = command
        .value
        .clone()
        .filter(|v| !v.is_empty())
        .ok_or("the executor command has no 'value'")?;
    if command.shell {
        Ok(("/bin/sh".into(), vec!["-c".into(), value], None))
    } else {
        Ok((
            value,
            command.arguments.iter().skip(1).cloned().collect(),
            command.arguments.first().cloned(),
        ))
    }
}

/// Creates the sandbox, fetches URIs and spawns the executor. Errors are
/// worded for a TASK_FAILED message.
pub async fn launch(
    spec: &LaunchSpec,
    client: &reqwest::Client,
) -> Result<tokio::process::Child, String> {
    prepare(spec, client).await?.spawn()
}

/// An executor ready to be forked: its sandbox made, its URIs fetched.
pub struct Prepared {
    cmd: tokio::process::Command,
    program: String,
}

impl Prepared {
    /// Forks the executor (synchronous: no await between a caller's last
    /// check and the fork).
    pub fn spawn(mut self) -> Result<tokio::process::Child, String> {
        let program = self.program;
        self.cmd
            .spawn()
            .map_err(|e| format!("Failed to launch executor '{program}': {e}"))
    }
}

/// Creates the sandbox and fetches URIs: everything before the fork.
/// Dropping the future stops a download in progress (the partial file stays
/// in the sandbox). Errors are worded for a TASK_FAILED message.
pub async fn prepare(spec: &LaunchSpec, client: &reqwest::Client) -> Result<Prepared, String> {
    crate::paths::create_run_dir(&spec.directory, &spec.latest).map_err(|e| {
        format!(
            "Failed to create sandbox '{}': {e}",
            spec.directory.display()
        )
    })?;
    link_volumes(&spec.directory, &spec.volumes)?;
    let open = |name: &str| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec.directory.join(name))
            .map_err(|e| format!("Failed to open sandbox file '{name}': {e}"))
    };
    let mut log = open("stderr")?;
    for uri in &spec.uris {
        let _ = writeln!(log, "Fetching URI '{}'", uri.value);
        match fetcher::fetch(uri, &spec.directory, client, &spec.fetch_limits).await {
            Ok(dest) => {
                let _ = writeln!(log, "Fetched '{}' to '{}'", uri.value, dest.display());
            }
            Err(e) => {
                let _ = writeln!(log, "Failed to fetch '{}': {e}", uri.value);
                return Err(format!(
                    "Failed to fetch all URIs for container '{}': {e}",
                    spec.container_id.value
                ));
            }
        }
    }
    let (program, args, arg0) = argv(&spec.command)?;
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&args);
    if let Some(arg0) = arg0 {
        cmd.arg0(arg0);
    }
    if !spec.inherit_env {
        cmd.env_clear();
    }
    cmd.envs(&spec.env)
        .current_dir(&spec.directory)
        .stdin(Stdio::null())
        .stdout(open("stdout")?)
        .stderr(open("stderr")?)
        .process_group(0)
        .kill_on_drop(false);
    Ok(Prepared { cmd, program })
}

/// Makes each persistent volume appear at its container path in the
/// sandbox. Without a mount namespace this is a symlink, as Mesos's
/// `filesystem/posix` isolator does; removing the sandbox later removes
/// the link, never the volume.
fn link_volumes(sandbox: &Path, volumes: &[(PathBuf, String)]) -> Result<(), String> {
    for (dir, path) in volumes {
        mesos_types::conversions::validate_container_path(path)?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("Failed to create volume '{}': {e}", dir.display()))?;
        let link = sandbox.join(path);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("Failed to create '{}': {e}", parent.display()))?;
        }
        if std::fs::symlink_metadata(&link).is_ok() {
            continue;
        }
        std::os::unix::fs::symlink(dir, &link).map_err(|e| {
            format!(
                "Failed to mount volume '{}' at '{path}': {e}",
                dir.display()
            )
        })?;
    }
    Ok(())
}

/// Waits for `child` to exit, runs `on_exit` with its pid and exit status
/// while it is still unreaped, then reaps it. An exited but unreaped
/// process keeps its pid, and so the id of the process group it led, from
/// being reused: `on_exit` can kill what is left of the group (or the tree)
/// without hitting a newcomer that got the same id.
pub async fn wait_then_reap<F>(
    mut child: tokio::process::Child,
    on_exit: impl FnOnce(u32, std::process::ExitStatus) -> F,
) -> std::io::Result<std::process::ExitStatus>
where
    F: std::future::Future<Output = ()>,
{
    let Some(pid) = child.id() else {
        return child.wait().await;
    };
    // A thread of its own rather than the blocking pool: it lives as long
    // as the executor, which may outlive the agent's runtime (a
    // checkpointed executor), and a runtime waits for its blocking pool.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("wait-{pid}"))
        .spawn(move || {
            let _ = tx.send(wait_unreaped(pid));
        })?;
    let waited = rx.await.map_err(std::io::Error::other)?;
    match waited {
        Ok(status) => {
            on_exit(pid, status).await;
            child.wait().await?;
            Ok(status)
        }
        // Not waitable without reaping: fall back to the plain wait.
        Err(_) => {
            let status = child.wait().await?;
            on_exit(pid, status).await;
            Ok(status)
        }
    }
}

/// Blocks until child `pid` has exited, leaving it unreaped (`WNOWAIT`).
fn wait_unreaped(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    use std::os::unix::process::ExitStatusExt;
    let raw = i32::try_from(pid).map_err(std::io::Error::other)?;
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(nix::unistd::Pid::from_raw(raw)), flags) {
            Ok(WaitStatus::Exited(_, code)) => {
                return Ok(std::process::ExitStatus::from_raw((code & 0xff) << 8));
            }
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                let core = if core { 0x80 } else { 0 };
                return Ok(std::process::ExitStatus::from_raw(signal as i32 | core));
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn on_exit_runs_while_the_exited_child_is_still_unreaped() {
        let child = tokio::process::Command::new("/bin/sh")
            .args(["-c", "exit 3"])
            .process_group(0)
            .spawn()
            .unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let record = seen.clone();
        let status = wait_then_reap(child, |pid, _| async move {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            *record.lock().unwrap() = stat.and_then(|s| crate::proc_tree::parse_stat(&s));
        })
        .await
        .unwrap();
        assert_eq!(status.code(), Some(3));
        let state = seen.lock().unwrap().map(|s| s.state);
        assert_eq!(
            state,
            Some('Z'),
            "on_exit ran after the child was reaped: its pid and process group id may already name other processes"
        );
    }

    #[test]
    fn environment_has_every_spec_variable() {
        let env = executor_env(&EnvParams {
            framework_id: "F-0001",
            executor_id: "task-1",
            agent_id: "M-S0",
            directory: Path::new("/w/run"),
            agent_endpoint: "10.0.0.5:5051",
            checkpoint: false,
            http_command_executor: true,
            shutdown_grace_period: Duration::from_secs(5),
            recovery_timeout: Duration::from_secs(900),
            subscription_backoff_max: Duration::from_secs(2),
        });
        let expect = [
            ("MESOS_FRAMEWORK_ID", "F-0001"),
            ("MESOS_EXECUTOR_ID", "task-1"),
            ("MESOS_DIRECTORY", "/w/run"),
            ("MESOS_SANDBOX", "/w/run"),
            ("MESOS_AGENT_ENDPOINT", "10.0.0.5:5051"),
            ("MESOS_SLAVE_PID", "slave(1)@10.0.0.5:5051"),
            ("MESOS_SLAVE_ID", "M-S0"),
            ("MESOS_CHECKPOINT", "0"),
            ("MESOS_HTTP_COMMAND_EXECUTOR", "1"),
            ("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs"),
            ("MESOS_RECOVERY_TIMEOUT", "15mins"),
            ("MESOS_SUBSCRIPTION_BACKOFF_MAX", "2secs"),
            ("LIBPROCESS_PORT", "0"),
        ];
        for (k, v) in expect {
            assert_eq!(env.get(k).map(String::as_str), Some(v), "{k}");
        }
    }

    #[test]
    fn argv_for_shell_and_plain_commands() {
        let shell = CommandInfo {
            value: Some("echo hi".into()),
            ..Default::default()
        };
        assert_eq!(
            argv(&shell).unwrap(),
            ("/bin/sh".into(), vec!["-c".into(), "echo hi".into()], None)
        );
        let plain = CommandInfo {
            shell: false,
            value: Some("/usr/bin/python3".into()),
            arguments: vec!["python3".into(), "exec.py".into()],
            ..Default::default()
        };
        assert_eq!(
            argv(&plain).unwrap(),
            (
                "/usr/bin/python3".into(),
                vec!["exec.py".into()],
                Some("python3".into())
            )
        );
        assert!(argv(&CommandInfo::default()).is_err());
    }

    #[tokio::test]
    async fn launch_runs_in_the_sandbox_with_output_files() {
        let d = tempfile::tempdir().unwrap();
        let spec = LaunchSpec {
            framework_id: "f".into(),
            executor_id: "e".into(),
            container_id: ContainerID {
                value: "c".into(),
                parent: None,
            },
            directory: d.path().join("runs/c"),
            latest: d.path().join("runs/latest"),
            command: CommandInfo {
                value: Some("echo out-$GREETING; echo err >&2; pwd".into()),
                ..Default::default()
            },
            env: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
            inherit_env: true,
            uris: vec![],
            fetch_limits: fetcher::FetchLimits::default(),
            volumes: vec![(d.path().join("volumes/db/v1"), "data/v1".into())],
        };
        let mut child = launch(&spec, &reqwest::Client::new()).await.unwrap();
        assert!(child.wait().await.unwrap().success());
        let out = std::fs::read_to_string(d.path().join("runs/latest/stdout")).unwrap();
        assert!(out.starts_with("out-hello\n"), "{out}");
        assert!(out.trim_end().ends_with("runs/c"), "{out}");
        assert_eq!(
            std::fs::read_to_string(d.path().join("runs/c/stderr")).unwrap(),
            "err\n"
        );

        let mut bad = spec.clone();
        bad.uris = vec![URI {
            value: "/no/such/file".into(),
            ..Default::default()
        }];
        let e = launch(&bad, &reqwest::Client::new()).await.unwrap_err();
        assert!(e.contains("Failed to fetch"), "{e}");

        // The volume appears in the sandbox, and what is written there
        // lands in the volume, which outlives the sandbox.
        std::fs::write(d.path().join("runs/c/data/v1/kept"), "x").unwrap();
        std::fs::remove_dir_all(d.path().join("runs/c")).unwrap();
        assert!(d.path().join("volumes/db/v1/kept").exists());
    }
}
