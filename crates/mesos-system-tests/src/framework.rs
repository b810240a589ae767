//! Shared pieces of the fault tests: a process killed with SIGKILL when
//! dropped, and a framework over the Rust SDK that keeps its offers,
//! acknowledges and records every update.

use mesos_types::scheduler::{Event, EventType};
use mesos_types::*;
use std::process::Child;
use std::time::Duration;

/// A daemon process; SIGKILLed (and reaped) when dropped.
pub struct Proc(pub Child);

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The framework side: every offer is kept until used (so no agent stays
/// offered-but-forgotten), every update is acknowledged and recorded.
pub struct Fw {
    pub sub: mesos_scheduler::Subscription,
    pub offers: Vec<Offer>,
    pub updates: Vec<TaskStatus>,
}

impl Fw {
    pub fn new(sub: mesos_scheduler::Subscription) -> Fw {
        Fw {
            sub,
            offers: Vec::new(),
            updates: Vec::new(),
        }
    }

    pub async fn next(&mut self) -> Event {
        let e = tokio::time::timeout(Duration::from_secs(60), self.sub.events.recv())
            .await
            .expect("an event within 60 s")
            .expect("stream open");
        match e.kind {
            EventType::OFFERS => self
                .offers
                .extend(e.offers.clone().unwrap_or_default().offers),
            EventType::RESCIND => {
                let id = e.rescind.clone().unwrap().offer_id;
                self.offers.retain(|o| o.id != id);
            }
            EventType::UPDATE => {
                let s = e.update.clone().unwrap().status;
                self.sub.caller.acknowledge(&s).await.unwrap();
                self.updates.push(s);
            }
            _ => {}
        }
        e
    }

    /// The next offer from any agent.
    pub async fn offer(&mut self) -> Offer {
        self.offer_not_from(None).await
    }

    /// The next offer from an agent other than `not`.
    pub async fn offer_not_from(&mut self, not: Option<&AgentID>) -> Offer {
        loop {
            if let Some(i) = self.offers.iter().position(|o| Some(&o.agent_id) != not) {
                return self.offers.remove(i);
            }
            self.next().await;
        }
    }

    /// Launches `task` on `offer` and waits for its TASK_RUNNING.
    pub async fn launch_running(&mut self, offer: OfferID, task: TaskInfo) -> TaskStatus {
        let id = task.task_id.clone();
        self.sub
            .caller
            .launch(vec![offer], vec![task], None)
            .await
            .unwrap();
        self.update_where(|s| s.task_id == id && s.state == TaskState::TASK_RUNNING)
            .await
    }

    pub async fn update_where(&mut self, pred: impl Fn(&TaskStatus) -> bool) -> TaskStatus {
        loop {
            let e = self.next().await;
            if let Some(s) = e.update.map(|u| u.status)
                && pred(&s)
            {
                return s;
            }
        }
    }
}

/// A command task (0.1 cpus, 32 MB) named and identified `name`.
pub fn command_task(name: &str, agent: &AgentID, command: &str) -> TaskInfo {
    TaskInfo {
        name: name.into(),
        task_id: TaskID::new(name),
        agent_id: agent.clone(),
        resources: Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_wire(false),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A [`command_task`] whose processes carry `marker` (`NAME=value`) in
/// their environment, so tests can find them in /proc.
pub fn marked_task(name: &str, agent: &AgentID, command: &str, marker: &str) -> TaskInfo {
    let (k, v) = marker.split_once('=').unwrap();
    let mut task = command_task(name, agent, command);
    if let Some(c) = task.command.as_mut() {
        c.environment = Some(Environment {
            variables: vec![EnvVariable {
                name: k.into(),
                value: Some(v.into()),
                ..Default::default()
            }],
        });
    }
    task
}

/// `/master/state`, or `None` while the master does not answer.
pub async fn master_state(master: &str) -> Option<serde_json::Value> {
    reqwest::get(format!("http://{master}/master/state"))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// Polls `/master/state` until the master answers and counts `n` activated
/// agents; returns that state. Panics naming `what` after a minute.
pub async fn wait_for_agents(master: &str, n: u64, what: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = master_state(master).await
            && s["activated_slaves"] == n
        {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `mesos-agent` process with 1 cpu and 256 MB on `port`, its log to
/// `stderr`.
pub fn start_agent(
    master: &str,
    port: u16,
    work_dir: &std::path::Path,
    stderr: std::process::Stdio,
) -> Proc {
    Proc(
        std::process::Command::new(crate::bin("mesos-agent"))
            .args([
                format!("--master={master}"),
                format!("--port={port}"),
                format!("--work_dir={}", work_dir.display()),
                "--resources=cpus:1;mem:256".into(),
            ])
            .stderr(stderr)
            .spawn()
            .unwrap(),
    )
}

/// Waits up to `timeout` until no live process carries `marker` in its
/// environment; panics with `what` and the survivors' pids otherwise.
pub async fn wait_for_no_process_with(marker: &str, timeout: Duration, what: &str) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = crate::processes_with_env(marker);
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
