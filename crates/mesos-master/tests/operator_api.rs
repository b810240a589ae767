//! The v1 operator API (`POST /api/v1`): `MARK_AGENT_GONE` end to end with
//! a fake agent and real schedulers, durability across a master restart,
//! and the answers to bad calls.

mod common;

use common::*;
use futures::StreamExt;
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::scheduler::{EventType, ReconcileTask};
use mesos_types::*;
use serde_json::json;

fn partition_aware(name: &str) -> FrameworkInfo {
    let mut info = framework_info(name);
    info.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    info
}

/// Subscribes `info`, launches task `name` on `agent` and plays it RUNNING.
async fn running_task_of(
    m: &mesos_master::MasterHandle,
    agent: &mut FakeAgent,
    info: FrameworkInfo,
    name: &str,
) -> mesos_scheduler::Subscription {
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    // Other agents' offers may come first; the task goes on `agent`.
    let o = next_offer_on(&mut sub, &agent.id).await;
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task(name, &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    while !matches!(agent.next().await, AgentEvent::RunTask { .. }) {}
    let fid = sub.caller.framework_id.clone();
    agent
        .update(&fid, &TaskID::new(name), TaskState::TASK_RUNNING)
        .await;
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_RUNNING);
    sub
}

async fn mark_gone(m: &mesos_master::MasterHandle, agent: &AgentID) -> reqwest::Response {
    let call =
        json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent.value}}});
    post_json(&format!("http://{}/api/v1", m.addr), &call, &[]).await
}

/// Registers as agent `id` and returns every event of the answer, which
/// for a gone agent ends after its one SHUTDOWN.
async fn register_as(m: &mesos_master::MasterHandle, id: &AgentID) -> Vec<AgentEvent> {
    let call = AgentCall::Register {
        agent_info: AgentInfo {
            hostname: "fake-agent".into(),
            port: 5051,
            id: Some(id.clone()),
            ..Default::default()
        },
        version: MESOS_VERSION.into(),
        tasks: vec![],
        frameworks: vec![],
        checkpointed_resources: vec![],
    };
    let url = format!("http://{}/master/api/v1/agent", m.addr);
    let resp = post_json(&url, &serde_json::to_value(&call).unwrap(), &[]).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut dec = mesos_types::recordio::Decoder::default();
    let mut events = Vec::new();
    let read = async {
        while let Some(Ok(chunk)) = body.next().await {
            dec.feed(&chunk);
            while let Ok(Some(rec)) = dec.next_record() {
                events.push(serde_json::from_slice(&rec).unwrap());
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the answer to a gone agent ends");
    events
}

async fn reconcile_one(
    sub: &mut mesos_scheduler::Subscription,
    task: &str,
    agent: &AgentID,
) -> TaskStatus {
    let ask = ReconcileTask {
        task_id: TaskID::new(task),
        agent_id: Some(agent.clone()),
    };
    sub.caller.reconcile(vec![ask]).await.unwrap();
    next_status(sub).await
}

fn shutdown_event() -> AgentEvent {
    AgentEvent::Shutdown {
        message: "Agent has been marked gone".into(),
    }
}

#[tokio::test]
async fn agent_marked_gone_is_shut_down_its_tasks_end_and_it_never_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let flags = ["--registry=replicated_log", wd.as_str()];
    let m = master(&flags).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let idle = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let mut pa = running_task_of(&m, &mut agent, partition_aware("pa"), "pa-task").await;
    let mut legacy = running_task_of(&m, &mut agent, framework_info("legacy"), "legacy-task").await;

    let r = mark_gone(&m, &agent.id).await;
    assert_eq!(r.status(), 200);

    // Partition-aware frameworks learn the task is gone; others that it is lost.
    for (sub, task, state) in [
        (&mut pa, "pa-task", TaskState::TASK_GONE_BY_OPERATOR),
        (&mut legacy, "legacy-task", TaskState::TASK_LOST),
    ] {
        let s = next_status(sub).await;
        assert_eq!((s.task_id.value.as_str(), s.state), (task, state));
        assert_eq!(s.reason, Some(Reason::REASON_AGENT_REMOVED_BY_OPERATOR));
        assert_eq!(s.message.as_deref(), Some("Agent has been marked gone"));
        assert!(s.uuid.is_none(), "master updates need no acknowledgement");
        let f = next_event(sub, EventType::FAILURE).await.failure.unwrap();
        assert_eq!(f.agent_id.as_ref(), Some(&agent.id));
    }
    // The agent is told to shut down, then its stream ends.
    let shutdown = loop {
        match agent.next().await {
            AgentEvent::Acknowledge { .. } => continue,
            other => break other,
        }
    };
    assert_eq!(shutdown, shutdown_event());

    let state: serde_json::Value = master_state(&m).await;
    let ids: Vec<&str> = state["slaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![idle.id.value.as_str()]);
    let ended: Vec<(String, String)> = state["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["completed_tasks"].as_array().unwrap().clone())
        .map(|t| {
            (
                t["id"].as_str().unwrap().into(),
                t["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        ended.contains(&("pa-task".into(), "TASK_GONE_BY_OPERATOR".into())),
        "{ended:?}"
    );
    assert!(
        ended.contains(&("legacy-task".into(), "TASK_LOST".into())),
        "{ended:?}"
    );

    // Reconciliation about the gone agent.
    let s = reconcile_one(&mut pa, "other", &agent.id).await;
    assert_eq!(s.state, TaskState::TASK_GONE_BY_OPERATOR);
    assert_eq!(s.message.as_deref(), Some("Reconciliation: Task is gone"));
    let s = reconcile_one(&mut legacy, "other", &agent.id).await;
    assert_eq!(s.state, TaskState::TASK_LOST);

    // It may never register again; marking it again is harmless.
    assert_eq!(register_as(&m, &agent.id).await, vec![shutdown_event()]);
    assert_eq!(mark_gone(&m, &agent.id).await.status(), 200);

    // After a master restart the registry still knows: the gone agent is
    // refused, and an agent still recovering can be marked gone too.
    let gone = agent.id.clone();
    let recovering = idle.id.clone();
    drop((agent, idle, pa, legacy));
    m.stop().await;
    let m = master(&flags).await;
    assert_eq!(register_as(&m, &gone).await, vec![shutdown_event()]);
    assert_eq!(mark_gone(&m, &recovering).await.status(), 200);
    assert_eq!(register_as(&m, &recovering).await, vec![shutdown_event()]);
}

#[tokio::test]
async fn unreachable_agent_marked_gone_ends_its_unreachable_tasks() {
    let m = master(&["--agent_ping_timeout=50ms", "--max_agent_ping_timeouts=3"]).await;
    let mut agent = FakeAgent::connect(&m, "cpus:2;mem:512", None, vec![], false).await;
    let mut sub = running_task_of(&m, &mut agent, partition_aware("pa"), "t").await;
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_UNREACHABLE);

    assert_eq!(mark_gone(&m, &agent.id).await.status(), 200);
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_GONE_BY_OPERATOR);
    assert_eq!(s.reason, Some(Reason::REASON_AGENT_REMOVED_BY_OPERATOR));
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(state["unreachable_slaves"], 0);
    assert_eq!(
        state["frameworks"][0]["completed_tasks"][0]["state"],
        "TASK_GONE_BY_OPERATOR"
    );
    assert_eq!(state["frameworks"][0]["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn bad_operator_calls_get_a_clear_4xx_and_change_nothing() {
    let m = master(&[]).await;
    let agent = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let url = format!("http://{}/api/v1", m.addr);
    let client = reqwest::Client::new();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            client.post(&url).header("Content-Type", "application/json").body("{not json"),
            400,
            "Failed to parse",
        ),
        (
            client.post(&url).header("Content-Type", "application/json").body(r#"{"type":"NO_SUCH_CALL"}"#),
            400,
            "Failed to parse",
        ),
        (
            client.post(&url).header("Content-Type", "application/json").body(r#"{"type":"MARK_AGENT_GONE"}"#),
            400,
            "Expecting 'mark_agent_gone' to be present",
        ),
        (
            client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(r#"{"type":"MARK_AGENT_GONE","mark_agent_gone":{"agent_id":{"value":"no-such-agent"}}}"#),
            404,
            "Agent 'no-such-agent' not found",
        ),
        (
            client.post(&url).header("Content-Type", "application/json").body(r#"{"type":"GROW_VOLUME"}"#),
            501,
            "GROW_VOLUME",
        ),
        (
            client.post(&url).header("Content-Type", "text/plain").body(vec![8u8, 1]),
            415,
            "text/plain",
        ),
        (
            // A truncated protobuf body: nothing is done.
            client.post(&url).header("Content-Type", "application/x-protobuf").body(vec![8u8, 32, 0x8a, 1, 5, 10]),
            400,
            "master::Call",
        ),
        (client.get(&url), 405, "Expecting 'POST'"),
    ];
    for (req, status, words) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status);
        let body: serde_json::Value = r.json().await.unwrap();
        let message = body["message"].as_str().expect("a JSON message");
        assert!(message.contains(words), "{status}: {message}");
    }
    // pymesos posts operator calls to /api/v1/operator: same endpoint.
    let r = post_json(
        &format!("http://{}/api/v1/operator", m.addr),
        &json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "nope"}}}),
        &[],
    )
    .await;
    assert_eq!(r.status(), 404);

    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(state["activated_slaves"], 1);
    assert_eq!(state["slaves"][0]["id"], agent.id.value.as_str());
}
