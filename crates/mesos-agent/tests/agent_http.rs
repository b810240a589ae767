//! An in-process agent against a fake master; the test itself plays the
//! executor over the executor HTTP API, and reads the sandbox through
//! `/files`. The agent's "mesos-executor" is a stub script that just sleeps.

#[path = "support/agent.rs"]
mod agent_setup;
mod support;

use agent_setup::*;
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::executor::Event;
use mesos_types::{ExecutorEventType, Reason, Source, TaskState};
use serde_json::{Value, json};
use support::*;

fn update(task: &str, state: &str, uuid: &str) -> Value {
    json!({
        "type": "UPDATE",
        "framework_id": {"value": "F1"},
        "executor_id": {"value": task},
        "update": {"status": {"task_id": {"value": task}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": uuid, "timestamp": 1.5}}
    })
}

const UUID1: &str = "AAECAwQFBgcICQoLDA0ODw==";
const UUID2: &str = "EBESExQVFhcYGRobHB0eHw==";

#[tokio::test]
async fn executor_api_status_updates_state_and_files() {
    let mut s = setup(&[]).await;
    let register = s
        .master
        .next_call(|c| matches!(c, AgentCall::Register { .. }).then_some(c))
        .await;
    let AgentCall::Register {
        agent_info,
        version,
        ..
    } = register
    else {
        unreachable!()
    };
    assert_eq!(
        (agent_info.hostname.as_str(), version.as_str()),
        ("testhost", "1.11.0")
    );
    assert_eq!(agent_info.port, i32::from(s.agent.addr.port()));
    assert_eq!(s.agent.registered().await.value, "M-S0");

    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: command_task("t1"),
    });
    let dir = s.sandbox("t1").await;
    assert!(
        dir.contains("/slaves/M-S0/frameworks/F1/executors/t1/runs/"),
        "{dir}"
    );

    // The executor's processes, found by the sandbox in their environment.
    let in_sandbox = || {
        let entry = format!("MESOS_SANDBOX={dir}");
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .filter(|e| {
                let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
                let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                let zombie = state
                    .rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim().starts_with('Z'));
                !zombie && environ.split(|b| *b == 0).any(|v| v == entry.as_bytes())
            })
            .count()
    };
    // The agent forks the (stub) executor on its own path, and this test
    // plays the executor: an executor that subscribes before its process
    // is forked makes the agent drop the launch (it is no longer wanted),
    // so wait for the fork before subscribing.
    eventually("the executor process", async || {
        (in_sandbox() > 0).then_some(())
    })
    .await;

    // Errors before subscribing.
    let (code, text) = s.call(update("t1", "TASK_RUNNING", UUID1)).await;
    assert_eq!((code, text.as_str()), (403, "Executor is not subscribed"));
    let (code, _) = s.call(json!({"type": "SUBSCRIBE", "framework_id": {"value": "nope"}, "executor_id": {"value": "t1"}, "subscribe": {}})).await;
    assert_eq!(code, 400);
    let r = s
        .http
        .post(format!("{}/api/v1/executor", s.base))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert!(r.text().await.unwrap().contains("text/plain"));
    assert_eq!(
        s.http
            .get(format!("{}/api/v1/executor", s.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        405
    );
    let big = "x".repeat(5 * 1024 * 1024);
    let r = s
        .http
        .post(format!("{}/api/v1/executor", s.base))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    // Subscribe through the C++ library's spelling of the URL.
    s.forked("t1").await;
    let r = s
        .http
        .post(format!("{}/slave(1)/api/v1/executor", s.base))
        .header("content-type", "application/json")
        .body(json!({"type": "SUBSCRIBE", "framework_id": {"value": "F1"}, "executor_id": {"value": "t1"}, "subscribe": {}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut events = records::<Event>(r);
    let subscribed = next(&mut events).await;
    assert_eq!(subscribed.kind, ExecutorEventType::SUBSCRIBED);
    let sub = subscribed.subscribed.unwrap();
    assert_eq!(sub.framework_info.id, Some("F1".into()));
    assert_eq!(sub.executor_info.executor_id.value, "t1");
    assert_eq!(sub.agent_info.id, Some("M-S0".into()));
    let launch = next(&mut events).await;
    assert_eq!(launch.kind, ExecutorEventType::LAUNCH);
    assert_eq!(launch.launch.unwrap().task.task_id.value, "t1");

    // Invalid updates are refused with a reason.
    let (code, text) = s.call(update("t1", "TASK_RUNNING", "AAEC")).await;
    assert_eq!(code, 400, "{text}");
    let (code, _) = s.call(update("t1", "TASK_STAGING", UUID1)).await;
    assert_eq!(code, 400);

    // A good update: 202, acknowledged on the stream, forwarded to the master.
    let (code, _) = s.call(update("t1", "TASK_RUNNING", UUID1)).await;
    assert_eq!(code, 202);
    let ack = next(&mut events).await;
    assert_eq!(ack.kind, ExecutorEventType::ACKNOWLEDGED);
    assert_eq!(ack.acknowledged.unwrap().uuid, UUID1);
    let forwarded = s.master.next_update().await;
    assert_eq!(forwarded.state, TaskState::TASK_RUNNING);
    assert_eq!(forwarded.uuid.as_deref(), Some(UUID1));
    assert_eq!(forwarded.agent_id, Some("M-S0".into()));
    assert_eq!(forwarded.executor_id, Some("t1".into()));
    let cs = forwarded.container_status.unwrap();
    assert_eq!(
        cs.network_infos[0]["ip_addresses"][0]["ip_address"],
        "127.0.0.1"
    );
    // The fork is reported to the agent's core on its own path, so an
    // update may race it (under load even the second did): the shutdown
    // check below finds the executor by its sandbox instead.
    let _ = cs.executor_pid;
    let (code, _) = s.call(json!({"type": "HEARTBEAT", "framework_id": {"value": "F1"}, "executor_id": {"value": "t1"}})).await;
    assert_eq!(code, 202);

    // The next update waits for the master's acknowledgement of the first.
    assert_eq!(s.call(update("t1", "TASK_FINISHED", UUID2)).await.0, 202);
    s.master.send(AgentEvent::Acknowledge {
        framework_id: "F1".into(),
        task_id: "t1".into(),
        uuid: UUID1.into(),
    });
    let second = s.master.next_update().await;
    assert_eq!(
        (second.state, second.uuid.as_deref()),
        (TaskState::TASK_FINISHED, Some(UUID2))
    );
    assert!(in_sandbox() > 0, "no executor process runs in {dir}");

    // State.
    let (code, state) = s.get("/slave(1)/state").await;
    assert_eq!(code, 200);
    assert_eq!(state["id"], "M-S0");
    assert_eq!(state["hostname"], "testhost");
    assert_eq!(state["resources"]["cpus"], 2.0);
    assert_eq!(state["attributes"]["rack"], "r1");
    assert_eq!(state["master_hostname"], "fake-master");
    assert_eq!(
        state["flags"]["work_dir"],
        s.dirs.0.path().display().to_string()
    );
    let fw = &state["frameworks"][0];
    assert_eq!(fw["id"], "F1");
    let ex = &fw["executors"][0];
    assert_eq!(
        ex["name"],
        "Command Executor (Task: t1) (Command: sh -c 'echo hi')"
    );
    assert_eq!(ex["tasks"][0]["state"], "TASK_FINISHED");
    assert_eq!(ex["tasks"][0]["executor_id"], "");
    assert_eq!(ex["tasks"][0]["statuses"].as_array().unwrap().len(), 2);
    let (_, flags) = s.get("/flags").await;
    assert!(flags["flags"].is_object());
    let r = s
        .http
        .get(format!("{}/state.json?jsonp=cb", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/javascript");
    assert!(r.text().await.unwrap().starts_with("cb({"));
    assert_eq!(
        s.http
            .get(format!("{}/health", s.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(s.get("/version").await.1["version"], "1.11.0");
    assert_eq!(s.get("/nope").await.0, 404);

    // Files.
    std::fs::write(format!("{dir}/stdout"), "hello world\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", format!("{dir}/passwd")).unwrap();
    let (code, read) = s
        .get(&format!("/files/read?path={dir}/stdout&offset=0"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        read,
        json!({"data": "hello world\n", "offset": 0, "length": 12})
    );
    let (_, read) = s.get("/files/read.json?path=/frameworks/F1/executors/t1/runs/latest/stdout&offset=6&length=5").await;
    assert_eq!(read, json!({"data": "world", "offset": 6, "length": 5}));
    let (_, end) = s
        .get(&format!("/files/read?path={dir}/stdout&offset=-1"))
        .await;
    assert_eq!(end["offset"], 12);
    let (code, body) = s
        .get(&format!("/files/read?path={dir}/passwd&offset=0"))
        .await;
    assert_eq!(code, 403, "{body}");
    assert!(body["message"].is_string());
    assert_eq!(s.get("/files/read?path=/etc/passwd&offset=0").await.0, 404);
    assert_eq!(
        s.get(&format!(
            "/files/read?path={dir}/../../../../../../etc/passwd"
        ))
        .await
        .0,
        403
    );
    assert_eq!(
        s.get(&format!("/files/read?path={dir}&offset=0")).await.0,
        400
    );
    assert_eq!(s.get("/files/read").await.0, 400);
    let (code, listing) = s.get(&format!("/files/browse?path={dir}")).await;
    assert_eq!(code, 200);
    assert!(
        listing
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == format!("{dir}/stdout"))
    );
    let r = s
        .http
        .get(format!("{}/files/download?path={dir}/stdout", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"stdout\""
    );
    assert_eq!(r.text().await.unwrap(), "hello world\n");
    let (_, debug) = s.get("/files/debug").await;
    assert_eq!(debug[&dir], dir);

    // Shutting the agent down kills its executors.
    s.agent.shutdown().await;
    eventually("the executor process to be gone", async || {
        (in_sandbox() == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn executor_that_never_subscribes_times_out() {
    let mut s = setup(&["--executor_registration_timeout=500ms"]).await;
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: command_task("t2"),
    });
    let failed = s.master.next_update().await;
    assert_eq!(failed.state, TaskState::TASK_FAILED);
    assert_eq!(
        failed.reason,
        Some(Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT)
    );
    assert_eq!(failed.source, Some(Source::SOURCE_AGENT));
    assert_eq!(
        failed.message.as_deref(),
        Some("Executor did not register within 500ms")
    );
    // Unacknowledged: re-sent after the master reconnects, with the same uuid.
    s.master.drop_stream();
    s.master
        .next_call(|c| matches!(c, AgentCall::Register { .. }).then_some(()))
        .await;
    let again = s.master.next_update().await;
    assert_eq!(again.uuid, failed.uuid);
    s.agent.shutdown().await;
}

#[tokio::test]
async fn kill_before_subscription_and_ping() {
    let mut s = setup(&[]).await;
    s.agent.registered().await;
    s.master.send(AgentEvent::Ping { nonce: None });
    s.master
        .next_call(|c| matches!(c, AgentCall::Pong { .. }).then_some(()))
        .await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: command_task("t3"),
    });
    s.sandbox("t3").await;
    s.master.send(AgentEvent::KillTask {
        framework_id: "F1".into(),
        task_id: "t3".into(),
        kill_policy: None,
    });
    let killed = s.master.next_update().await;
    assert_eq!(killed.state, TaskState::TASK_KILLED);
    assert_eq!(killed.source, Some(Source::SOURCE_AGENT));
    s.agent.shutdown().await;
}
