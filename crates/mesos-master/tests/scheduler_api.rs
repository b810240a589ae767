//! In-process tests of the scheduler API: a real master on a free port, a
//! fake agent on the real agent protocol, schedulers over real HTTP.

mod common;

use common::*;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::EventType;
use mesos_types::*;
use serde_json::json;

#[tokio::test]
async fn launch_update_acknowledge_roundtrip() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:4;mem:1024;ports:[31000-32000]").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("rt"))
        .await
        .unwrap();
    assert!(sub.subscribed.framework_id.value.ends_with("-0000"));
    assert_eq!(sub.subscribed.heartbeat_interval_seconds, Some(15.0));

    let offers = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers;
    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.agent_id, agent.id);
    assert!(o.id.value.contains("-O"));
    let offered = Resources::from_wire(o.resources.clone());
    assert_eq!(offered.scalar("cpus"), 4.0);
    assert!(
        o.resources.iter().all(|r| r.role.as_deref() == Some("*")),
        "pre-refinement format for this framework"
    );

    sub.caller
        .launch(
            vec![o.id.clone()],
            vec![command_task("t1", &agent.id, "cpus:1;mem:128")],
            None,
        )
        .await
        .unwrap();
    let (fid, tid) = match agent.next().await {
        AgentEvent::RunTask {
            framework_info,
            task,
        } => (framework_info.id.unwrap(), task.task_id),
        other => panic!("expected RUN_TASK, got {other:?}"),
    };
    assert_eq!(tid.value, "t1");

    let uuid = agent.update(&fid, &tid, TaskState::TASK_RUNNING).await;
    let st = next_status(&mut sub).await;
    assert_eq!(st.state, TaskState::TASK_RUNNING);
    assert_eq!(st.uuid.as_deref(), Some(uuid.as_str()));
    assert_eq!(
        st.agent_id.as_ref(),
        Some(&agent.id),
        "pymesos needs agent_id whenever uuid is set"
    );

    sub.caller.acknowledge(&st).await.unwrap();
    match agent.next().await {
        AgentEvent::Acknowledge {
            task_id, uuid: u, ..
        } => {
            assert_eq!(task_id, tid);
            assert_eq!(u, uuid);
        }
        other => panic!("expected ACKNOWLEDGE, got {other:?}"),
    }

    // The remaining 3 cpus come back as a new offer after the 5 s default
    // filter... unless revived; REVIVE clears filters.
    sub.caller.revive().await.unwrap();
    let again = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers;
    assert_eq!(
        Resources::from_wire(again[0].resources.clone()).scalar("cpus"),
        3.0
    );

    let state: serde_json::Value = master_state(&m).await;
    let task = &state["frameworks"][0]["tasks"][0];
    assert_eq!(task["id"], "t1");
    assert_eq!(task["state"], "TASK_RUNNING");
    assert_eq!(task["resources"]["cpus"], 1.0);
    assert_eq!(state["slaves"][0]["used_resources"]["cpus"], 1.0);
    assert_eq!(state["activated_slaves"], 1);
}

#[tokio::test]
async fn terminal_update_frees_resources_and_completes_task() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:1;mem:256").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("fin"))
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("t", &agent.id, "cpus:1;mem:256")],
            None,
        )
        .await
        .unwrap();
    let fid = sub.caller.framework_id.clone();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!("no launch")
    };
    agent
        .update(&fid, &TaskID::new("t"), TaskState::TASK_FINISHED)
        .await;
    let st = next_status(&mut sub).await;
    sub.caller.acknowledge(&st).await.unwrap();
    // Freed resources are re-offered (the filter from ACCEPT covered nothing left).
    let o2 = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    assert_eq!(Resources::from_wire(o2.resources).scalar("cpus"), 1.0);
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(
        state["frameworks"][0]["completed_tasks"][0]["state"],
        "TASK_FINISHED"
    );
    assert_eq!(state["frameworks"][0]["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn invalid_launches_become_task_errors_not_crashes() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("bad"))
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);

    // More than offered, a duplicate id, and a task with neither command nor executor.
    let too_big = command_task("big", &agent.id, "cpus:64;mem:512");
    let ok = command_task("ok", &agent.id, "cpus:1;mem:64");
    let dup = command_task("ok", &agent.id, "cpus:0.5;mem:64");
    let mut neither = command_task("neither", &agent.id, "cpus:0.1;mem:32");
    neither.command = None;
    sub.caller
        .launch(vec![o.id.clone()], vec![too_big, ok, dup, neither], None)
        .await
        .unwrap();

    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..3 {
        let s = next_status(&mut sub).await;
        assert_eq!(s.state, TaskState::TASK_ERROR);
        assert_eq!(s.reason, Some(Reason::REASON_TASK_INVALID));
        assert!(s.uuid.is_none(), "master-generated updates need no ack");
        seen.insert(s.message.clone().unwrap(), s.task_id.value);
    }
    assert!(
        seen.keys().any(|m| m.contains("more resources")),
        "{seen:?}"
    );
    assert!(seen.keys().any(|m| m.contains("duplicate ID")), "{seen:?}");
    assert!(
        seen.keys()
            .any(|m| m.contains("CommandInfo or ExecutorInfo")),
        "{seen:?}"
    );
    match agent.next().await {
        AgentEvent::RunTask { task, .. } => assert_eq!(task.task_id.value, "ok"),
        other => panic!("{other:?}"),
    }

    // The same offer again: it was consumed, so the task is LOST (not PA).
    sub.caller
        .launch(
            vec![o.id.clone()],
            vec![command_task("late", &agent.id, "cpus:0.1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_LOST);
    assert_eq!(s.reason, Some(Reason::REASON_INVALID_OFFERS));
    assert!(s.message.unwrap().contains("is no longer valid"));
}

#[tokio::test]
async fn foreign_offer_is_rejected_for_partition_aware_as_dropped() {
    let m = master(&[]).await;
    let agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut a = mesos_scheduler::subscribe(&m.endpoint(), framework_info("a"))
        .await
        .unwrap();
    let offer = next_event(&mut a, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    let mut info = framework_info("b");
    info.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    let mut b = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    b.caller
        .launch(
            vec![offer.id.clone()],
            vec![command_task("steal", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let s = next_status(&mut b).await;
    assert_eq!(s.state, TaskState::TASK_DROPPED);
    assert_eq!(s.reason, Some(Reason::REASON_INVALID_OFFERS));
    // The owner can still use its offer.
    a.caller
        .launch(
            vec![offer.id],
            vec![command_task("mine", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_requests_get_4xx_with_json_message_and_master_keeps_serving() {
    let m = master(&["--max_request_body_bytes=4096"]).await;
    let url = format!("http://{}/api/v1/scheduler", m.addr);
    let sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("x"))
        .await
        .unwrap();
    let fid = sub.caller.framework_id.value.clone();
    let sid = sub.caller.stream_id.clone();
    let client = reqwest::Client::new();

    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("malformed json", client.post(&url).header("Content-Type", "application/json").body("{not json"), 400),
        ("unknown call type", client.post(&url).header("Content-Type", "application/json").body(r#"{"type":"FLY"}"#), 400),
        (
            "missing stream id",
            client.post(&url).header("Content-Type", "application/json").body(json!({"type":"REVIVE","framework_id":{"value":fid}}).to_string()),
            400,
        ),
        (
            "wrong stream id",
            client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Mesos-Stream-Id", "00000000-0000-0000-0000-000000000000")
                .body(json!({"type":"REVIVE","framework_id":{"value":fid}}).to_string()),
            400,
        ),
        (
            "stream id on subscribe",
            client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Mesos-Stream-Id", &sid)
                .body(json!({"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}).to_string()),
            400,
        ),
        (
            "unknown framework",
            client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Mesos-Stream-Id", &sid)
                .body(json!({"type":"REVIVE","framework_id":{"value":"nope"}}).to_string()),
            400,
        ),
        (
            "ack with a bad uuid",
            client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Mesos-Stream-Id", &sid)
                .body(json!({"type":"ACKNOWLEDGE","framework_id":{"value":fid},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAAA"}}).to_string()),
            400,
        ),
        ("body too large", client.post(&url).header("Content-Type", "application/json").body("x".repeat(10_000)), 413),
        ("garbage protobuf", client.post(&url).header("Content-Type", "application/x-protobuf").body(vec![0u8; 4]), 400),
        ("text content type", client.post(&url).header("Content-Type", "text/plain").body("{}"), 415),
        ("no content type", client.post(&url).body("{}"), 400),
        ("GET", client.get(&url), 405),
        ("unknown path", client.get(format!("http://{}/master/nope", m.addr)), 404),
    ];
    for (name, req, want) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "{name}");
        let body: serde_json::Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: body is not JSON: {e}"));
        assert!(
            body["message"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: {body}"
        );
    }
    // Still serving, and the framework is still subscribed.
    sub.caller.revive().await.unwrap();
    let state: serde_json::Value = reqwest::get(format!("http://{}/state", m.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["frameworks"][0]["active"], true);
}

#[tokio::test]
async fn refused_subscription_gets_error_event() {
    let m = master(&["--roles=web"]).await;
    let mut info = framework_info("r");
    info.role = Some("batch".into());
    match mesos_scheduler::subscribe(&m.endpoint(), info).await {
        Err(mesos_scheduler::SchedulerError::Refused(msg)) => {
            assert!(msg.contains("--roles"), "{msg}")
        }
        other => panic!("expected refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn teardown_kills_tasks_and_forbids_resubscribe() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("td"))
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("t", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!()
    };
    sub.caller.teardown().await.unwrap();
    match agent.next().await {
        AgentEvent::ShutdownFramework { framework_id } => {
            assert_eq!(framework_id, sub.caller.framework_id)
        }
        other => panic!("{other:?}"),
    }
    let mut info = framework_info("td");
    info.id = Some(sub.caller.framework_id.clone());
    match mesos_scheduler::subscribe(&m.endpoint(), info).await {
        Err(mesos_scheduler::SchedulerError::Refused(msg)) => {
            assert_eq!(msg, "Framework has been removed")
        }
        other => panic!("{other:?}"),
    }
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(
        state["completed_frameworks"][0]["completed_tasks"][0]["state"],
        "TASK_KILLED"
    );
}

#[tokio::test]
async fn failover_resubscribe_keeps_tasks_and_closes_old_stream() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut info = framework_info("fo");
    info.failover_timeout = 60.0;
    let mut first = mesos_scheduler::subscribe(&m.endpoint(), info.clone())
        .await
        .unwrap();
    let o = next_event(&mut first, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    first
        .caller
        .launch(
            vec![o.id],
            vec![command_task("keep", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!()
    };
    info.id = Some(first.caller.framework_id.clone());
    let second = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    assert_eq!(second.caller.framework_id, first.caller.framework_id);
    assert_ne!(second.caller.stream_id, first.caller.stream_id);
    let e = next_event(&mut first, EventType::ERROR).await;
    assert_eq!(e.error.unwrap().message, "Framework failed over");
    // The old stream id no longer works; the new one does.
    assert!(first.caller.revive().await.is_err());
    second.caller.reconcile(vec![]).await.unwrap();
    let mut second = second;
    let s = next_status(&mut second).await;
    assert_eq!(s.task_id.value, "keep");
    assert_eq!(s.reason, Some(Reason::REASON_RECONCILIATION));
}

#[tokio::test]
async fn kill_and_reconcile_unknown_task() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("k"))
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("victim", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!()
    };
    sub.caller.kill(TaskID::new("victim"), None).await.unwrap();
    match agent.next().await {
        AgentEvent::KillTask { task_id, .. } => assert_eq!(task_id.value, "victim"),
        other => panic!("{other:?}"),
    }
    sub.caller.kill(TaskID::new("ghost"), None).await.unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!(s.task_id.value, "ghost");
    assert_eq!(s.state, TaskState::TASK_LOST);
    assert_eq!(s.reason, Some(Reason::REASON_RECONCILIATION));
}

#[tokio::test]
async fn agent_disconnect_rescinds_its_offers() {
    // Short pings make the master write to the agent stream, so a closed
    // connection is noticed promptly.
    let m = master(&["--agent_ping_timeout=100ms"]).await;
    let agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("dc"))
        .await
        .unwrap();
    let offer = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    agent.disconnect();
    let r = next_event(&mut sub, EventType::RESCIND)
        .await
        .rescind
        .unwrap();
    assert_eq!(r.offer_id, offer.id);
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(state["deactivated_slaves"], 1);
    assert_eq!(state["slaves"][0]["active"], false);
}

#[tokio::test]
async fn offer_timeout_rescinds_unanswered_offers() {
    let m = master(&["--offer_timeout=200ms"]).await;
    let _agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("slow"))
        .await
        .unwrap();
    let offer = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    let r = next_event(&mut sub, EventType::RESCIND)
        .await
        .rescind
        .unwrap();
    assert_eq!(r.offer_id, offer.id);
    // The resources come back in a new offer.
    let again = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    assert_ne!(again.id, offer.id);
}

fn running_task(
    fid: &FrameworkID,
    name: &str,
    agent: &AgentID,
) -> mesos_types::agent_protocol::AgentTask {
    let mut task = command_task(name, agent, "cpus:1;mem:32");
    task.resources = Resources::parse("cpus:1;mem:32", "*")
        .unwrap()
        .allocated_to("*")
        .into_vec();
    mesos_types::agent_protocol::AgentTask {
        framework_id: fid.clone(),
        task,
        state: TaskState::TASK_RUNNING,
        status_update_state: None,
    }
}

async fn silent_agent_with_task(
    m: &mesos_master::MasterHandle,
    info: FrameworkInfo,
) -> (FakeAgent, mesos_scheduler::Subscription) {
    let mut agent = FakeAgent::connect(m, "cpus:2;mem:512", None, vec![], false).await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("t", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!("no launch")
    };
    agent
        .update(
            &sub.caller.framework_id,
            &TaskID::new("t"),
            TaskState::TASK_RUNNING,
        )
        .await;
    (agent, sub)
}

#[tokio::test]
async fn silent_agent_is_marked_unreachable_and_its_tasks_lost() {
    let m = master(&["--agent_ping_timeout=50ms", "--max_agent_ping_timeouts=3"]).await;
    let (agent, mut sub) = silent_agent_with_task(&m, framework_info("hc")).await;
    let s = loop {
        let s = next_status(&mut sub).await;
        if s.state != TaskState::TASK_RUNNING {
            break s;
        }
    };
    assert_eq!(s.state, TaskState::TASK_LOST);
    assert_eq!(s.reason, Some(Reason::REASON_AGENT_REMOVED));
    assert!(s.message.unwrap().contains("health check timed out"));
    assert!(s.uuid.is_none());
    let f = next_event(&mut sub, EventType::FAILURE)
        .await
        .failure
        .unwrap();
    assert_eq!(f.agent_id, Some(agent.id.clone()));
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(state["unreachable_slaves"], 1);
    assert_eq!(state["slaves"].as_array().unwrap().len(), 0);

    // It comes back still running the task: the task was already reported
    // lost, so the master has it killed.
    let fid = sub.caller.framework_id.clone();
    let mut back = FakeAgent::connect(
        &m,
        "cpus:2;mem:512",
        Some(agent.id.clone()),
        vec![running_task(&fid, "t", &agent.id)],
        true,
    )
    .await;
    match back.next().await {
        AgentEvent::KillTask { task_id, .. } => assert_eq!(task_id.value, "t"),
        other => panic!("expected KILL_TASK, got {other:?}"),
    }
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(state["unreachable_slaves"], 0);
    assert_eq!(state["activated_slaves"], 1);
}

/// Health checks have their own beat: an operator's long allocation batch
/// does not delay marking a dead agent.
#[tokio::test]
async fn silent_agent_is_marked_even_with_a_long_allocation_interval() {
    let m = master(&[
        "--allocation_interval=1hrs",
        "--agent_ping_timeout=50ms",
        "--max_agent_ping_timeouts=3",
    ])
    .await;
    let (agent, mut sub) = silent_agent_with_task(&m, framework_info("slow-batch")).await;
    let f = next_event(&mut sub, EventType::FAILURE)
        .await
        .failure
        .unwrap();
    assert_eq!(f.agent_id, Some(agent.id.clone()));
}

#[tokio::test]
async fn partition_aware_tasks_go_unreachable_and_resume() {
    let m = master(&["--agent_ping_timeout=50ms", "--max_agent_ping_timeouts=3"]).await;
    let mut info = framework_info("pa");
    info.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    let (agent, mut sub) = silent_agent_with_task(&m, info).await;
    let s = loop {
        let s = next_status(&mut sub).await;
        if s.state != TaskState::TASK_RUNNING {
            break s;
        }
    };
    assert_eq!(s.state, TaskState::TASK_UNREACHABLE);
    assert!(s.unreachable_time.is_some());
    let fid = sub.caller.framework_id.clone();
    let _back = FakeAgent::connect(
        &m,
        "cpus:2;mem:512",
        Some(agent.id.clone()),
        vec![running_task(&fid, "t", &agent.id)],
        true,
    )
    .await;
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_RUNNING);
    assert_eq!(s.reason, Some(Reason::REASON_AGENT_REREGISTERED));
}

#[tokio::test]
async fn agents_answering_pings_stay_registered() {
    let m = master(&["--agent_ping_timeout=100ms", "--max_agent_ping_timeouts=5"]).await;
    let _agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    // Many health-check rounds pass (30 of 100 ms); each would mark a
    // silent agent. Wait for rounds, not for time.
    let rounds = || m.shared.read(|m| m.counters.health_checks);
    let start = rounds();
    while rounds() < start + 30 {
        // Polling pace only; the loop waits for rounds, not for time.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mm = metrics(&m).await;
    assert_eq!(mm["master/slaves_unreachable"], 0.0);
    assert_eq!(mm["master/slaves_active"], 1.0);
}

async fn metrics(m: &mesos_master::MasterHandle) -> serde_json::Value {
    reqwest::get(format!("http://{}/metrics/snapshot", m.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn scheduler_gone_past_failover_timeout_is_removed() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut info = framework_info("short-lived");
    info.failover_timeout = 0.3;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), info.clone())
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("t", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!()
    };
    let fid = sub.caller.framework_id.clone();
    drop(sub); // the scheduler process dies
    match agent.next().await {
        AgentEvent::ShutdownFramework { framework_id } => assert_eq!(framework_id, fid),
        other => panic!("expected SHUTDOWN_FRAMEWORK after the failover timeout, got {other:?}"),
    }
    info.id = Some(fid);
    match mesos_scheduler::subscribe(&m.endpoint(), info).await {
        Err(mesos_scheduler::SchedulerError::Refused(msg)) => {
            assert_eq!(msg, "Framework has been removed")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn scheduler_back_within_failover_timeout_keeps_its_tasks() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut info = framework_info("resilient");
    info.failover_timeout = 3600.0;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), info.clone())
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("t", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!()
    };
    let fid = sub.caller.framework_id.clone();
    drop(sub);
    // The agent's update arrives while the scheduler is away.
    agent
        .update(&fid, &TaskID::new("t"), TaskState::TASK_RUNNING)
        .await;
    info.id = Some(fid.clone());
    let mut back = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    assert_eq!(back.caller.framework_id, fid);
    back.caller.reconcile(vec![]).await.unwrap();
    let s = next_status(&mut back).await;
    assert_eq!(s.task_id.value, "t");
    assert_eq!(s.state, TaskState::TASK_RUNNING);
}

#[tokio::test]
async fn agents_that_never_reregister_after_a_restart_become_unreachable_and_stay_lost() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let registry_flags = [
        "--registry=replicated_log",
        wd.as_str(),
        "--agent_reregister_timeout=300ms",
    ];
    let m1 = master(&registry_flags).await;
    let agent = FakeAgent::register(&m1, "cpus:1;mem:128").await;
    let gone = agent.id.clone();
    drop(agent);
    m1.stop().await;

    let m2 = master(&registry_flags).await;
    let mut sub = mesos_scheduler::subscribe(&m2.endpoint(), framework_info("late"))
        .await
        .unwrap();
    // While the agent may still come back, the master stays silent about
    // its tasks; once the re-registration window closes it answers.
    let ask = mesos_types::scheduler::ReconcileTask {
        task_id: TaskID::new("on-gone-agent"),
        agent_id: Some(gone.clone()),
    };
    let s = loop {
        sub.caller.reconcile(vec![ask.clone()]).await.unwrap();
        match tokio::time::timeout(std::time::Duration::from_millis(200), sub.events.recv()).await {
            Ok(Some(e)) if e.kind == EventType::UPDATE => break e.update.unwrap().status,
            Ok(Some(_)) | Err(_) => continue,
            Ok(None) => panic!("stream closed"),
        }
    };
    assert_eq!(s.state, TaskState::TASK_LOST);
    assert_eq!(
        s.message.as_deref(),
        Some("Reconciliation: Task is unreachable")
    );
    let state: serde_json::Value = master_state(&m2).await;
    assert_eq!(state["unreachable_slaves"], 1);

    // The agent comes back after all, still running the task that
    // reconciliation reported lost: the master kills it and acknowledges
    // the resulting TASK_KILLED itself, so the framework never hears a
    // second terminal state for it.
    let fid = sub.caller.framework_id.clone();
    let tid = TaskID::new("on-gone-agent");
    let mut back = return_with_lost_task(&m2, "cpus:1;mem:128", &fid, &gone, &tid).await;
    let killed = back.update(&fid, &tid, TaskState::TASK_KILLED).await;
    expect_master_acks(&mut back, &[killed]).await;
    sub.caller.reconcile(vec![ask]).await.unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!((s.task_id, s.state), (tid, TaskState::TASK_LOST));
}

#[tokio::test]
async fn task_missing_from_a_reregistering_agent_is_lost_not_left_running() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("gap"))
        .await
        .unwrap();
    let o = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0);
    sub.caller
        .launch(
            vec![o.id],
            vec![command_task("vanished", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let AgentEvent::RunTask { .. } = agent.next().await else {
        panic!()
    };
    // The agent's connection breaks and it comes back without the task
    // (the launch was lost with the old connection).
    let id = agent.id.clone();
    drop(agent);
    let _back = FakeAgent::connect(&m, "cpus:2;mem:512", Some(id), vec![], true).await;
    let s = next_status(&mut sub).await;
    assert_eq!(s.task_id.value, "vanished");
    assert_eq!(s.state, TaskState::TASK_LOST);
    assert_eq!(s.reason, Some(Reason::REASON_AGENT_RESTARTED));
    let state: serde_json::Value = master_state(&m).await;
    assert_eq!(state["frameworks"][0]["tasks"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn agent_back_from_unreachable_after_a_master_restart_cannot_revive_a_lost_task() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let flags = [
        "--registry=replicated_log",
        wd.as_str(),
        "--agent_ping_timeout=50ms",
        "--max_agent_ping_timeouts=3",
    ];
    let m1 = master(&flags).await;
    let mut info = framework_info("not-partition-aware");
    info.failover_timeout = 3600.0;
    let (agent, mut sub) = silent_agent_with_task(&m1, info.clone()).await;
    let fid = sub.caller.framework_id.clone();
    let lost = loop {
        let s = next_status(&mut sub).await;
        if s.state == TaskState::TASK_LOST {
            break s;
        }
    };
    assert_eq!(lost.reason, Some(Reason::REASON_AGENT_REMOVED));
    let gone = agent.id.clone();
    drop(agent);
    drop(sub);
    m1.stop().await;

    // A new master knows the agent only as unreachable (registry) and the
    // task not at all. The framework comes back; then the agent, still
    // running the task the framework was told is lost.
    let m2 = master(&flags).await;
    info.id = Some(fid.clone());
    let mut sub = mesos_scheduler::subscribe(&m2.endpoint(), info)
        .await
        .unwrap();
    let tid = TaskID::new("t");
    let mut back = return_with_lost_task(&m2, "cpus:2;mem:512", &fid, &gone, &tid).await;
    let s = next_status(&mut sub).await;
    assert_eq!(
        (s.task_id.value.as_str(), s.state),
        ("t", TaskState::TASK_LOST)
    );
    // The kill's TASK_KILLED (and any stale live state) is settled by the
    // master, never forwarded.
    let running = back.update(&fid, &tid, TaskState::TASK_RUNNING).await;
    let killed = back.update(&fid, &tid, TaskState::TASK_KILLED).await;
    expect_master_acks(&mut back, &[running, killed]).await;
    sub.caller
        .reconcile(vec![mesos_types::scheduler::ReconcileTask {
            task_id: tid,
            agent_id: Some(gone),
        }])
        .await
        .unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_LOST, "{s:?}");
    assert_eq!(s.reason, Some(Reason::REASON_RECONCILIATION));
}

/// Agent `agent`, marked unreachable earlier, re-registers still running
/// `task`, which its framework was told is lost: the master kills it.
async fn return_with_lost_task(
    m: &mesos_master::MasterHandle,
    resources: &str,
    fid: &FrameworkID,
    agent: &AgentID,
    task: &TaskID,
) -> FakeAgent {
    let mut back = FakeAgent::connect(
        m,
        resources,
        Some(agent.clone()),
        vec![running_task(fid, &task.value, agent)],
        true,
    )
    .await;
    match back.next().await {
        AgentEvent::KillTask { task_id, .. } => assert_eq!(&task_id, task),
        other => panic!("expected KILL_TASK for the lost task, got {other:?}"),
    }
    back
}

/// The master itself acknowledges exactly these updates, in order (they
/// are settled, not forwarded to the framework).
async fn expect_master_acks(agent: &mut FakeAgent, uuids: &[String]) {
    for uuid in uuids {
        match agent.next().await {
            AgentEvent::Acknowledge { uuid: acked, .. } => assert_eq!(&acked, uuid),
            other => panic!("expected the master to acknowledge, got {other:?}"),
        }
    }
}

/// The registry records removed frameworks before the master acts: after
/// a master restart neither a torn-down framework nor one past its
/// failover timeout can come back with its id.
#[tokio::test]
async fn removed_frameworks_stay_removed_across_a_master_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let flags = ["--registry=replicated_log", wd.as_str()];
    let m = master(&flags).await;
    let torn_down = mesos_scheduler::subscribe(&m.endpoint(), framework_info("torn-down"))
        .await
        .unwrap();
    torn_down.caller.teardown().await.unwrap();
    let mut info = framework_info("timed-out");
    info.failover_timeout = 0.0;
    let timed_out = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    let timed_out_id = timed_out.caller.framework_id.clone();
    drop(timed_out);
    // Removed once the timer notices the disconnection and the registry
    // records it.
    while master_state(&m).await["completed_frameworks"]
        .as_array()
        .unwrap()
        .len()
        < 2
    {
        // Polling pace only; the loop waits for the removal itself.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    m.stop().await;

    let m = master(&flags).await;
    for (name, id) in [
        ("torn-down", torn_down.caller.framework_id.clone()),
        ("timed-out", timed_out_id),
    ] {
        let mut info = framework_info(name);
        info.id = Some(id);
        match mesos_scheduler::subscribe(&m.endpoint(), info).await {
            Err(mesos_scheduler::SchedulerError::Refused(msg)) => {
                assert_eq!(msg, "Framework has been removed")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // A framework the master never removed still fails over as before.
    let mut info = framework_info("unknown-to-this-master");
    info.id = Some(FrameworkID::new("some-other-master-0001"));
    assert!(
        mesos_scheduler::subscribe(&m.endpoint(), info)
            .await
            .is_ok()
    );
}
