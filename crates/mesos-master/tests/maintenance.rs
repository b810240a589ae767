//! Maintenance and draining: a window sends inverse offers to the
//! framework using the agent, its answer shows in `/maintenance/status`,
//! `machine/down` shuts the agent down and keeps it out until
//! `machine/up`; DRAIN_AGENT kills tasks with the capped grace period and
//! keeps the agent out of offers until REACTIVATE_AGENT. Bad requests are
//! refused with nothing changed; the schedule survives a master restart.

mod common;

use common::{operator_call as op, request as send, *};
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::scheduler::{Call, CallType, EventType, InverseOfferReply};
use mesos_types::*;
use serde_json::{Value as Json, json};
use std::time::Duration;

const MACHINE: &str = r#"{"hostname":"fake-agent","ip":"127.0.0.1"}"#;

/// Polls `path` until `ok` holds (10 s at most).
async fn until(m: &mesos_master::MasterHandle, path: &str, ok: impl Fn(&Json) -> bool) -> Json {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, v) = send(m, "GET", path, "").await;
        if ok(&v) {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never matched: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A framework with one RUNNING task `name` on `agent`.
async fn running_task(
    m: &mesos_master::MasterHandle,
    agent: &mut FakeAgent,
    tasks: Vec<TaskInfo>,
) -> mesos_scheduler::Subscription {
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("fw"))
        .await
        .unwrap();
    let o = next_offer_on(&mut sub, &agent.id).await;
    let n = tasks.len();
    let ids: Vec<TaskID> = tasks.iter().map(|t| t.task_id.clone()).collect();
    sub.caller.launch(vec![o.id], tasks, None).await.unwrap();
    let mut launched = 0;
    while launched < n {
        if let AgentEvent::RunTask { .. } = agent.next().await {
            launched += 1;
        }
    }
    let fid = sub.caller.framework_id.clone();
    for id in &ids {
        agent.update(&fid, id, TaskState::TASK_RUNNING).await;
        let s = next_status(&mut sub).await;
        sub.caller.acknowledge(&s).await.unwrap();
    }
    sub
}

#[tokio::test]
async fn a_maintenance_window_drains_an_agent_through_inverse_offers() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:256").await;
    let web = command_task("web", &agent.id, "cpus:1;mem:64");
    let mut sub = running_task(&m, &mut agent, vec![web]).await;
    let fid = sub.caller.framework_id.clone();

    let start = 2_000_000_000_000_000_000i64;
    let schedule = format!(
        r#"{{"windows":[{{"machine_ids":[{MACHINE}],
            "unavailability":{{"start":{{"nanoseconds":{start}}},"duration":{{"nanoseconds":3600000000000}}}}}}]}}"#
    );
    let (s, v) = send(&m, "POST", "/maintenance/schedule", &schedule).await;
    assert_eq!(s, 200, "{v}");
    let (_, got) = send(&m, "GET", "/maintenance/schedule", "").await;
    assert_eq!(
        got["windows"][0]["machine_ids"][0]["hostname"],
        "fake-agent"
    );

    // The framework using the agent is asked for it back.
    let e = next_event(&mut sub, EventType::INVERSE_OFFERS).await;
    let inverse = e.inverse_offers.unwrap().inverse_offers;
    assert_eq!(inverse.len(), 1);
    assert_eq!(inverse[0].agent_id.as_ref(), Some(&agent.id));
    assert_eq!(inverse[0].unavailability.start.nanoseconds, start);
    let status = until(&m, "/maintenance/status", |v| {
        v["draining_machines"][0]["statuses"][0]["status"] == "UNKNOWN"
    })
    .await;
    assert_eq!(status["draining_machines"][0]["id"]["ip"], "127.0.0.1");
    // Offers of the agent say when it goes away.
    let o = next_offer_on(&mut sub, &agent.id).await;
    assert_eq!(o.unavailability.unwrap().start.nanoseconds, start);

    // Accepting it shows in the status.
    let mut call = Call::new(CallType::ACCEPT_INVERSE_OFFERS, Some(fid.clone()));
    call.accept_inverse_offers = Some(InverseOfferReply {
        inverse_offer_ids: vec![inverse[0].id.clone()],
        filters: None,
    });
    sub.caller.call(call).await.unwrap();
    let status = until(&m, "/maintenance/status", |v| {
        v["draining_machines"][0]["statuses"][0]["status"] == "ACCEPT"
    })
    .await;
    assert_eq!(
        status["draining_machines"][0]["statuses"][0]["framework_id"]["value"],
        fid.value.as_str()
    );

    // Down: the agent is told to shut down, its task is gone.
    let (s, v) = send(&m, "POST", "/machine/down", &format!("[{MACHINE}]")).await;
    assert_eq!(s, 200, "{v}");
    loop {
        match agent.next().await {
            AgentEvent::Shutdown { message } => {
                assert!(message.contains("DOWN"), "{message}");
                break;
            }
            _ => continue,
        }
    }
    let st = next_status(&mut sub).await;
    assert_eq!(st.task_id.value, "web");
    assert_eq!(st.state, TaskState::TASK_LOST, "not partition-aware");
    let (_, status) = send(&m, "GET", "/maintenance/status", "").await;
    assert_eq!(status["down_machines"][0]["hostname"], "fake-agent");
    assert!(status.get("draining_machines").is_none(), "{status}");
    let state = master_state(&m).await;
    assert_eq!(state["slaves"].as_array().unwrap().len(), 0);

    // An agent of a DOWN machine is refused and told to shut down.
    let register = serde_json::to_value(AgentCall::Register {
        agent_info: AgentInfo {
            hostname: "fake-agent".into(),
            port: 5051,
            resources: Resources::parse("cpus:1;mem:64", "*")
                .unwrap()
                .to_wire(true),
            ..Default::default()
        },
        version: MESOS_VERSION.into(),
        tasks: vec![],
        frameworks: vec![],
        checkpointed_resources: vec![],
    })
    .unwrap();
    let url = format!("http://{}/master/api/v1/agent", m.addr);
    let body = post_json(&url, &register, &[]).await.text().await.unwrap();
    assert!(body.contains("SHUTDOWN") && body.contains("DOWN"), "{body}");

    // Up: out of the schedule, agents welcome again.
    let (s, v) = send(&m, "POST", "/machine/up", &format!("[{MACHINE}]")).await;
    assert_eq!(s, 200, "{v}");
    let (_, status) = send(&m, "GET", "/maintenance/status", "").await;
    assert_eq!(status, json!({}));
    let (_, schedule) = send(&m, "GET", "/maintenance/schedule", "").await;
    assert_eq!(schedule, json!({"windows": []}));
    let back = FakeAgent::register(&m, "cpus:1;mem:64").await;
    assert!(!back.id.value.is_empty());
}

#[tokio::test]
async fn bad_maintenance_requests_change_nothing_and_the_schedule_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let flags = ["--registry=replicated_log", wd.as_str()];
    let m = master(&flags).await;
    let schedule = format!(
        r#"{{"windows":[{{"machine_ids":[{MACHINE}],"unavailability":{{"start":{{"nanoseconds":1}}}}}}]}}"#
    );
    let (s, _) = send(&m, "POST", "/maintenance/schedule", &schedule).await;
    assert_eq!(s, 200);
    let (s, _) = send(&m, "POST", "/machine/down", &format!("[{MACHINE}]")).await;
    assert_eq!(s, 200);
    let before = send(&m, "GET", "/maintenance/schedule", "").await.1;

    for (path, body, why) in [
        ("/maintenance/schedule", r#"{"windows":[]}"#, "DOWN"),
        (
            "/maintenance/schedule",
            r#"{"windows":[{"machine_ids":[],"unavailability":{"start":{"nanoseconds":1}}}]}"#,
            "no machines",
        ),
        (
            "/maintenance/schedule",
            r#"{"windows":[{"machine_ids":[{"ip":"not-an-ip"}],"unavailability":{"start":{"nanoseconds":1}}}]}"#,
            "not an IP",
        ),
        (
            "/maintenance/schedule",
            r#"{"windows":[{"machine_ids":[{"hostname":"a"},{"hostname":"A"}],"unavailability":{"start":{"nanoseconds":1}}}]}"#,
            "more than one",
        ),
        ("/maintenance/schedule", "{", "Failed to parse"),
        (
            "/machine/down",
            r#"[{"hostname":"elsewhere"}]"#,
            "not part of",
        ),
        ("/machine/down", &format!("[{MACHINE}]"), "already DOWN"),
        ("/machine/up", r#"[{"hostname":"elsewhere"}]"#, "not DOWN"),
        ("/machine/up", "[]", "No machines"),
        ("/machine/down", r#"[{}]"#, "hostname or an IP"),
    ] {
        let (s, v) = send(&m, "POST", path, body).await;
        assert_eq!(s, 400, "{path} {body}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{path} {body}: {msg}");
    }
    let (s, _) = send(&m, "PUT", "/machine/down", "[]").await;
    assert_eq!(s, 405);
    assert_eq!(send(&m, "GET", "/maintenance/schedule", "").await.1, before);

    m.stop().await;
    let m = master(&flags).await;
    assert_eq!(
        send(&m, "GET", "/maintenance/schedule", "").await.1,
        before,
        "kept across a restart"
    );
    let (_, v) = op(&m, json!({"type":"GET_MAINTENANCE_STATUS"})).await;
    assert_eq!(
        v["get_maintenance_status"]["status"]["down_machines"][0]["ip"],
        "127.0.0.1"
    );
}

#[tokio::test]
async fn draining_kills_tasks_with_the_capped_grace_period_and_keeps_offers_away() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:256").await;
    let mut slow = command_task("slow", &agent.id, "cpus:0.5;mem:32");
    slow.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 30_000_000_000,
        }),
    });
    let plain = command_task("plain", &agent.id, "cpus:0.5;mem:32");
    let mut sub = running_task(&m, &mut agent, vec![slow, plain]).await;
    let fid = sub.caller.framework_id.clone();
    let aid = agent.id.value.clone();

    let (s, v) = op(
        &m,
        json!({"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":aid},
               "max_grace_period":{"nanoseconds":1000000000}}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mut kills = std::collections::BTreeMap::new();
    while kills.len() < 2 {
        if let AgentEvent::KillTask {
            task_id,
            kill_policy,
            ..
        } = agent.next().await
        {
            kills.insert(task_id.value, kill_policy);
        }
    }
    assert_eq!(
        kills["slow"].as_ref().and_then(|p| p.grace_period),
        Some(DurationInfo {
            nanoseconds: 1_000_000_000
        }),
        "a longer grace period is capped"
    );
    assert_eq!(
        kills["plain"], None,
        "no kill policy: the executor's default"
    );
    let state = master_state(&m).await;
    let a = &state["slaves"][0];
    assert_eq!(a["deactivated"], true);
    assert_eq!(a["drain_info"]["state"], "DRAINING");

    for t in ["slow", "plain"] {
        agent
            .update(&fid, &TaskID::new(t), TaskState::TASK_KILLED)
            .await;
    }
    until(&m, "/master/state", |v| {
        v["slaves"][0]["drain_info"]["state"] == "DRAINED"
    })
    .await;
    // A drained agent's freed resources are not offered.
    let (_, agents) = op(&m, json!({"type":"GET_AGENTS"})).await;
    let ga = &agents["get_agents"]["agents"][0];
    assert_eq!(ga["deactivated"], true);
    assert_eq!(ga["drain_info"]["state"], "DRAINED");

    let (s, v) = op(
        &m,
        json!({"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":aid}}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // Offered again once reactivated.
    let o = next_offer_on(&mut sub, &agent.id).await;
    assert_eq!(Resources::from_wire(o.resources).scalar("cpus"), 2.0);
    let state = master_state(&m).await;
    assert_eq!(state["slaves"][0]["deactivated"], false);
    assert!(state["slaves"][0].get("drain_info").is_none());

    // Bad calls.
    let (s, _) = op(
        &m,
        json!({"type":"REACTIVATE_AGENT","reactivate_agent":{"agent_id":{"value":aid}}}),
    )
    .await;
    assert_eq!(s, 400, "not deactivated");
    let (s, _) = op(
        &m,
        json!({"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":"nope"}}}),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = op(&m, json!({"type":"DRAIN_AGENT"})).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn a_deactivated_agent_gets_no_offers_and_a_drain_can_mark_it_gone() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:1;mem:64").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("fw"))
        .await
        .unwrap();
    let o = next_offer_on(&mut sub, &agent.id).await;
    let aid = agent.id.value.clone();
    let (s, _) = op(
        &m,
        json!({"type":"DEACTIVATE_AGENT","deactivate_agent":{"agent_id":{"value":aid}}}),
    )
    .await;
    assert_eq!(s, 200);
    let e = next_event(&mut sub, EventType::RESCIND).await;
    assert_eq!(
        e.rescind.unwrap().offer_id,
        o.id,
        "outstanding offer rescinded"
    );

    let (s, v) = op(
        &m,
        json!({"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":aid},"mark_gone":true}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // No tasks: drained at once, then marked gone and shut down.
    loop {
        if let AgentEvent::Shutdown { .. } = agent.next().await {
            break;
        }
    }
    let state = master_state(&m).await;
    assert_eq!(state["slaves"].as_array().unwrap().len(), 0);
}

/// Operators changing maintenance at the same moment: each change is
/// either recorded (200, and still there at the end) or refused with 503
/// to retry; none is answered 200 and then lost.
#[tokio::test]
async fn concurrent_maintenance_changes_are_never_lost() {
    let m = master(&[]).await;
    let machines: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"hostname":"h{i}"}}"#))
        .collect();
    let schedule = format!(
        r#"{{"windows":[{{"machine_ids":[{}],"unavailability":{{"start":{{"nanoseconds":1}}}}}}]}}"#,
        machines.join(",")
    );
    assert_eq!(
        send(&m, "POST", "/maintenance/schedule", &schedule).await.0,
        200
    );
    let bodies: Vec<String> = machines.iter().map(|mach| format!("[{mach}]")).collect();
    let downs = bodies.iter().map(|b| send(&m, "POST", "/machine/down", b));
    let answers = futures::future::join_all(downs).await;
    let (_, status) = send(&m, "GET", "/maintenance/status", "").await;
    let down: Vec<String> = status["down_machines"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["hostname"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    for (i, (code, v)) in answers.iter().enumerate() {
        match code {
            200 => assert!(
                down.contains(&format!("h{i}")),
                "h{i} acknowledged but not down: {status}"
            ),
            503 => assert!(v["message"].as_str().unwrap().contains("retry"), "{v}"),
            other => panic!("h{i}: {other} {v}"),
        }
    }
}
