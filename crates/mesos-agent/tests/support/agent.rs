//! The agent's own test setup (not shared with the executor's tests, which
//! include `support` by path).

#![allow(dead_code)]

use crate::support::*;
use mesos_agent::AgentFlags;
use mesos_types::{CommandInfo, FrameworkInfo, TaskInfo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

/// An in-process agent (stub `mesos-executor`: `exec sleep 1000`) against a
/// fake master, with an HTTP client for its endpoints.
pub struct Setup {
    pub master: FakeMaster,
    pub agent: mesos_agent::AgentHandle,
    pub base: String,
    pub http: reqwest::Client,
    /// `--work_dir` and `--launcher_dir`.
    pub dirs: (tempfile::TempDir, tempfile::TempDir),
}

pub async fn setup(extra: &[&str]) -> Setup {
    setup_with_executor(extra, "#!/bin/sh\nexec sleep 1000\n").await
}

/// [`setup`] with `script` as the agent's `mesos-executor`.
pub async fn setup_with_executor(extra: &[&str], script: &str) -> Setup {
    let master = FakeMaster::start().await;
    let work = tempfile::tempdir().unwrap();
    let launcher = tempfile::tempdir().unwrap();
    let stub = launcher.path().join("mesos-executor");
    std::fs::write(&stub, script).unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut args = vec![
        "mesos-agent".to_string(),
        format!("--master={}", master.addr),
        format!("--work_dir={}", work.path().display()),
        format!("--launcher_dir={}", launcher.path().display()),
        "--port=0".into(),
        "--hostname=testhost".into(),
        "--resources=cpus:2;mem:1024;disk:1000".into(),
        "--attributes=rack:r1".into(),
        "--registration_backoff_factor=100ms".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let flags = <AgentFlags as clap::Parser>::try_parse_from(&args).unwrap();
    let effective = BTreeMap::from([("work_dir".to_string(), work.path().display().to_string())]);
    let agent = mesos_agent::start(flags, effective).await.unwrap();
    let base = format!("http://{}", agent.addr);
    Setup {
        master,
        agent,
        base,
        http: reqwest::Client::new(),
        dirs: (work, launcher),
    }
}

pub fn framework() -> FrameworkInfo {
    FrameworkInfo {
        id: Some("F1".into()),
        name: "test".into(),
        user: "nobody".into(),
        ..Default::default()
    }
}

pub fn command_task(id: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: id.into(),
        agent_id: "M-S0".into(),
        command: Some(CommandInfo {
            value: Some("echo hi".into()),
            ..Default::default()
        }),
        resources: vec![mesos_types::Resource::scalar("cpus", 1.0)],
        ..Default::default()
    }
}

impl Setup {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn call(&self, body: Value) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}/api/v1/executor", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Waits until the agent has forked executor `eid` (`/containers`
    /// lists only executors with a process). A test playing the executor
    /// must subscribe after this: the agent refuses a subscription of an
    /// executor it has not forked yet.
    pub async fn forked(&self, eid: &str) {
        eventually("the executor to be forked", async || {
            let (_, containers) = self.get("/containers").await;
            containers
                .as_array()?
                .iter()
                .any(|c| c["executor_id"] == eid)
                .then_some(())
        })
        .await
    }

    /// The sandbox directory of executor `eid`, once the agent reports it.
    pub async fn sandbox(&self, eid: &str) -> String {
        eventually("the executor in /state", async || {
            let (_, state) = self.get("/state").await;
            let executors = state["frameworks"][0]["executors"].as_array()?.clone();
            executors
                .iter()
                .find(|e| e["id"] == eid)
                .map(|e| e["directory"].as_str().unwrap().to_string())
        })
        .await
    }
}
