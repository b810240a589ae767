//! Test harness of the `mesos` CLI: a real master and agent in this
//! process (executors are real processes: this crate's `mesos-executor`
//! example), a framework on the scheduler SDK that runs command tasks,
//! and helpers that run the CLI's commands or its binary.

#![allow(dead_code)]

use mesos_agent::AgentHandle;
use mesos_cli::mesos::{CliError, Context, args::Cli, run};
use mesos_master::{MasterFlags, MasterHandle};
use mesos_scheduler::Subscription;
use mesos_types::scheduler::EventType;
use mesos_types::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every wait in these tests ends here at the latest (a hang is a failure).
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct Cluster {
    pub master: MasterHandle,
    pub agent: AgentHandle,
    pub work: tempfile::TempDir,
}

/// Where cargo put this crate's examples (the `mesos-executor` one).
pub fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/examples
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples");
    assert!(
        dir.join("mesos-executor").exists(),
        "{} has no mesos-executor: `cargo test`/`cargo nextest run` build this crate's \
         examples with its tests, but not when one test target is picked \
         (`--test cluster`); `cargo build -p mesos-cli --examples` builds it",
        dir.display()
    );
    dir
}

impl Cluster {
    pub async fn start() -> Cluster {
        let work = tempfile::tempdir().expect("tempdir");
        let flags = <MasterFlags as clap::Parser>::parse_from([
            "mesos-master",
            "--ip=127.0.0.1",
            "--port=0",
            "--registry=in_memory",
            "--allocation_interval=50ms",
        ]);
        let master = mesos_master::start(flags, Default::default())
            .await
            .expect("master starts");
        let args = vec![
            format!("--master={}", master.endpoint()),
            "--ip=127.0.0.1".into(),
            "--port=0".into(),
            format!("--work_dir={}", work.path().join("agent").display()),
            format!("--launcher_dir={}", examples_dir().display()),
            "--resources=cpus:2;mem:1024;disk:1024".into(),
            "--no-switch_user".into(),
        ];
        let sources = mesos_flags::FlagSources {
            args,
            ..Default::default()
        };
        let loaded = mesos_agent::flags::load(&sources).expect("agent flags");
        let agent = mesos_agent::start(loaded.flags, loaded.effective)
            .await
            .expect("agent starts");
        tokio::time::timeout(DEADLINE, agent.registered())
            .await
            .expect("agent registers");
        Cluster {
            master,
            agent,
            work,
        }
    }

    pub fn master(&self) -> String {
        self.master.endpoint()
    }

    pub async fn stop(self) {
        self.agent.shutdown().await;
        self.master.stop().await;
    }

    /// Runs `mesos <args>` against this cluster through the library.
    pub async fn cli(&self, args: &[&str]) -> Result<String, CliError> {
        cli_at(&self.master(), args).await
    }

    /// `GET` a master endpoint's JSON.
    pub async fn get(&self, path: &str) -> serde_json::Value {
        reqwest::get(format!("http://{}{path}", self.master()))
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }
}

/// `mesos --master=<master> <args>` through the library; the output.
pub async fn cli_at(master: &str, args: &[&str]) -> Result<String, CliError> {
    let mut argv = vec!["mesos".to_string(), format!("--master={master}")];
    argv.extend(args.iter().map(|a| a.to_string()));
    let cli = <Cli as clap::Parser>::try_parse_from(argv).expect("valid command line");
    let mut out = Vec::new();
    let ctx = Context {
        master_env: None,
        width: None,
        leader_timeout: None,
    };
    tokio::time::timeout(DEADLINE, run(cli, &ctx, &mut out))
        .await
        .expect("the command finishes")?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The built `mesos` binary run with `args`: (exit code, stdout, stderr).
pub async fn binary(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mesos"));
    cmd.args(args).env_remove("MESOS_MASTER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("mesos exits")
        .expect("mesos runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A framework on the scheduler SDK that launches command tasks and
/// acknowledges every update.
pub struct Framework {
    pub sub: Subscription,
    /// Latest state of each task seen so far.
    pub states: std::collections::HashMap<String, TaskState>,
    offers: Vec<Offer>,
}

impl Framework {
    pub async fn start(master: &str, name: &str) -> Framework {
        let info = FrameworkInfo {
            user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
            name: name.into(),
            // Survives a short disconnect, so nothing is torn down under a test.
            failover_timeout: 600.0,
            ..Default::default()
        };
        let sub = tokio::time::timeout(DEADLINE, mesos_scheduler::subscribe(master, info))
            .await
            .expect("subscribes in time")
            .expect("subscribes");
        Framework {
            sub,
            states: Default::default(),
            offers: Vec::new(),
        }
    }

    pub fn id(&self) -> String {
        self.sub.caller.framework_id.value.clone()
    }

    /// Launches `command` as task `id` on an offer held or the next one.
    pub async fn launch(&mut self, id: &str, command: &str) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let offer = loop {
            if let Some(offer) = self.offers.pop() {
                break offer;
            }
            let event = self.next_event(deadline).await;
            self.handle(event).await;
        };
        let task = TaskInfo {
            name: id.into(),
            task_id: TaskID::new(id.to_string()),
            agent_id: offer.agent_id.clone(),
            resources: Resources::parse("cpus:0.1;mem:32", "*")
                .expect("resources")
                .to_wire(true),
            command: Some(CommandInfo {
                value: Some(command.into()),
                shell: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        // The rest of the offer comes back in a later one.
        self.sub
            .caller
            .launch(vec![offer.id.clone()], vec![task], None)
            .await
            .expect("launch");
    }

    /// Waits until task `id` is in a state `pred` accepts.
    pub async fn wait_for(&mut self, id: &str, pred: impl Fn(TaskState) -> bool) -> TaskState {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(&s) = self.states.get(id)
                && pred(s)
            {
                return s;
            }
            let event = self.next_event(deadline).await;
            self.handle(event).await;
        }
    }

    async fn next_event(&mut self, deadline: tokio::time::Instant) -> scheduler::Event {
        tokio::time::timeout_at(deadline, self.sub.events.recv())
            .await
            .expect("an event in time")
            .expect("the event stream stays open")
    }

    /// Acknowledges updates (noting the state) and keeps offers for the
    /// next launch (declined ones would be filtered for seconds).
    async fn handle(&mut self, event: scheduler::Event) {
        match event.kind {
            EventType::UPDATE => {
                if let Some(status) = event.update.map(|u| u.status) {
                    self.states
                        .insert(status.task_id.value.clone(), status.state);
                    let _ = self.sub.caller.acknowledge(&status).await;
                }
            }
            EventType::OFFERS => {
                self.offers
                    .extend(event.offers.map(|o| o.offers).unwrap_or_default());
            }
            EventType::RESCIND => {
                if let Some(r) = event.rescind {
                    self.offers.retain(|o| o.id != r.offer_id);
                }
            }
            _ => {}
        }
    }
}

/// Polls `f` until it gives `Some`, or fails the test at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
