//! End to end without a real master: an in-process `mesos-agent` (fake
//! master from the agent's test support) launching this crate's real
//! `mesos-executor` binary for command tasks.

#[path = "../../mesos-agent/tests/support/mod.rs"]
mod support;

use mesos_types::agent_protocol::AgentEvent;
use mesos_types::{
    Capability, CommandInfo, FrameworkCapability, FrameworkInfo, Source, TaskInfo, TaskState,
    TaskStatus,
};
use std::path::Path;
use support::*;

async fn agent(master: &FakeMaster, work: &Path) -> mesos_agent::AgentHandle {
    let launcher_dir = Path::new(env!("CARGO_BIN_EXE_mesos-executor"))
        .parent()
        .unwrap();
    let args = [
        format!("--master={}", master.addr),
        format!("--work_dir={}", work.display()),
        format!("--launcher_dir={}", launcher_dir.display()),
        "--port=0".into(),
        "--resources=cpus:2;mem:1024".into(),
    ];
    let sources = mesos_flags::FlagSources {
        args: args.to_vec(),
        ..Default::default()
    };
    let loaded = mesos_agent::flags::load(&sources).unwrap();
    mesos_agent::start(loaded.flags, loaded.effective)
        .await
        .unwrap()
}

fn framework(killing: bool) -> FrameworkInfo {
    FrameworkInfo {
        id: Some("F1".into()),
        name: "e2e".into(),
        user: "nobody".into(),
        capabilities: if killing {
            vec![Capability {
                kind: Some(FrameworkCapability::TASK_KILLING_STATE),
            }]
        } else {
            vec![]
        },
        ..Default::default()
    }
}

fn task(id: &str, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: id.into(),
        agent_id: "M-S0".into(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        resources: vec![mesos_types::Resource::scalar("cpus", 0.5)],
        ..Default::default()
    }
}

/// Next update, acknowledged like a scheduler would.
async fn next_acked(master: &mut FakeMaster) -> TaskStatus {
    let s = master.next_update().await;
    master.send(AgentEvent::Acknowledge {
        framework_id: "F1".into(),
        task_id: s.task_id.clone(),
        uuid: s.uuid.clone().unwrap(),
    });
    s
}

#[tokio::test]
async fn command_task_runs_through_the_real_executor() {
    let mut master = FakeMaster::start().await;
    let work = tempfile::tempdir().unwrap();
    let agent = agent(&master, work.path()).await;
    agent.registered().await;
    master.send(AgentEvent::RunTask {
        framework_info: framework(false),
        task: task("hello", "echo hello-from-task"),
    });

    let starting = next_acked(&mut master).await;
    assert_eq!(starting.state, TaskState::TASK_STARTING);
    assert_eq!(starting.source, Some(Source::SOURCE_EXECUTOR));
    assert!(
        starting
            .container_status
            .as_ref()
            .and_then(|c| c.container_id.as_ref())
            .is_some()
    );
    assert_eq!(next_acked(&mut master).await.state, TaskState::TASK_RUNNING);
    let done = next_acked(&mut master).await;
    assert_eq!(done.state, TaskState::TASK_FINISHED);
    assert_eq!(
        done.message.as_deref(),
        Some("Command exited with status 0")
    );

    let http = reqwest::Client::new();
    let url = format!(
        "http://{}/files/read?path=/frameworks/F1/executors/hello/runs/latest/stdout&offset=0",
        agent.addr
    );
    let read: serde_json::Value = http.get(url).send().await.unwrap().json().await.unwrap();
    assert!(
        read["data"].as_str().unwrap().contains("hello-from-task"),
        "{read}"
    );

    // The executor exits after its terminal update; the framework is then done.
    let state_url = format!("http://{}/state", agent.addr);
    eventually("the framework to complete", async || {
        let state: serde_json::Value = http.get(&state_url).send().await.ok()?.json().await.ok()?;
        let done = &state["completed_frameworks"][0]["completed_executors"][0];
        (done["completed_tasks"][0]["state"] == "TASK_FINISHED").then_some(())
    })
    .await;
    agent.shutdown().await;
}

#[tokio::test]
async fn kill_goes_through_killing_to_killed() {
    let mut master = FakeMaster::start().await;
    let work = tempfile::tempdir().unwrap();
    let agent = agent(&master, work.path()).await;
    agent.registered().await;
    master.send(AgentEvent::RunTask {
        framework_info: framework(true),
        task: task("sleeper", "sleep 1000 & sleep 1000"),
    });
    assert_eq!(
        next_acked(&mut master).await.state,
        TaskState::TASK_STARTING
    );
    assert_eq!(next_acked(&mut master).await.state, TaskState::TASK_RUNNING);
    master.send(AgentEvent::KillTask {
        framework_id: "F1".into(),
        task_id: "sleeper".into(),
        kill_policy: None,
    });
    assert_eq!(next_acked(&mut master).await.state, TaskState::TASK_KILLING);
    let killed = next_acked(&mut master).await;
    assert_eq!(killed.state, TaskState::TASK_KILLED);
    assert_eq!(
        killed.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    agent.shutdown().await;
}
