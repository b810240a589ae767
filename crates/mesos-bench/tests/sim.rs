//! The simulator is faithful: a simulated agent's registration, offers and
//! status updates go through the same master endpoints and validation as a
//! real agent's (not timed).

use mesos_bench::sim::{SimAgent, SimConfig, SimError, SimPool};
use mesos_types::agent_protocol::AgentCall;
use mesos_types::scheduler::{Event, EventType};
use mesos_types::*;
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

const RESOURCES: &str = "cpus:8;mem:32768;disk:100000;ports:[31000-32000]";

async fn master() -> mesos_master::MasterHandle {
    let flags = <mesos_master::MasterFlags as clap::Parser>::parse_from([
        "mesos-master",
        "--port=0",
        "--registry=in_memory",
        "--allocation_interval=50ms",
    ]);
    mesos_master::start(flags, Default::default())
        .await
        .expect("master starts")
}

fn pool(m: &mesos_master::MasterHandle, config: SimConfig) -> Arc<SimPool> {
    SimPool::new(m.addr, config).expect("pool")
}

async fn get(m: &mesos_master::MasterHandle, path: &str) -> Json {
    reqwest::get(format!("http://{}{path}", m.addr))
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON")
}

fn slave<'a>(state: &'a Json, id: &AgentID) -> &'a Json {
    state["slaves"]
        .as_array()
        .expect("slaves")
        .iter()
        .find(|s| s["id"] == id.value.as_str())
        .unwrap_or_else(|| panic!("agent {id} not in /master/state: {state}"))
}

async fn next_event(sub: &mut mesos_scheduler::Subscription, kind: EventType) -> Event {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.events.recv()).await {
            Ok(Some(e)) if e.kind == kind => return e,
            Ok(Some(_)) => continue,
            other => panic!("no {kind} event: {other:?}"),
        }
    }
}

async fn next_update(sub: &mut mesos_scheduler::Subscription) -> TaskStatus {
    next_event(sub, EventType::UPDATE)
        .await
        .update
        .expect("update")
        .status
}

/// Disconnects the agent, then stops the master (bounded: a scheduler's
/// stream may hold its connection until the next heartbeat).
async fn stop(m: mesos_master::MasterHandle, sim: SimAgent) {
    drop(sim);
    let _ = tokio::time::timeout(Duration::from_secs(2), m.stop()).await;
}

fn framework(name: &str) -> FrameworkInfo {
    mesos_bench::sim::framework::framework_info(name)
}

fn task(name: &str, agent: &AgentID) -> TaskInfo {
    TaskInfo {
        name: name.into(),
        task_id: TaskID::new(name),
        agent_id: agent.clone(),
        resources: Resources::parse("cpus:1;mem:128", "*")
            .unwrap()
            .to_wire(false),
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn registers_and_appears_in_state_like_a_real_agent() {
    let m = master().await;
    let p = pool(&m, SimConfig::default());
    let sim = SimAgent::register(&p, 7, vec![]).await.expect("registers");

    // A real agent with the same resources, for comparison.
    let dir = tempfile::tempdir().unwrap();
    let aflags = <mesos_agent::AgentFlags as clap::Parser>::parse_from([
        "mesos-agent".to_string(),
        format!("--master={}", m.addr),
        "--port=0".into(),
        format!("--work_dir={}", dir.path().display()),
        format!("--resources={RESOURCES}"),
    ]);
    let real = mesos_agent::start(aflags, Default::default())
        .await
        .expect("real agent starts");
    let real_id = real.registered().await;

    let state = get(&m, "/master/state").await;
    let s = slave(&state, &sim.id);
    assert_eq!(s["hostname"], "sim-7");
    assert_eq!(s["active"], true);
    assert_eq!(s["resources"]["cpus"], 8.0);
    assert_eq!(s["resources"]["mem"], 32768.0);
    assert_eq!(s["resources"]["disk"], 100000.0);
    assert_eq!(s["resources"]["ports"], "[31000-32000]");
    let r = slave(&state, &real_id);
    assert_eq!(s["resources"], r["resources"]);
    let keys = |v: &Json| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(s), keys(r), "same /master/state shape as a real agent");
    let metrics = get(&m, "/metrics/snapshot").await;
    assert_eq!(metrics["master/slave_registrations"], 2.0);
    assert_eq!(metrics["master/slaves_active"], 2.0);
    real.shutdown().await;
    stop(m, sim).await;
}

#[tokio::test]
async fn offers_launches_updates_and_acks_flow_through_the_master() {
    let m = master().await;
    let p = pool(&m, SimConfig::default());
    let sim = SimAgent::register(&p, 0, vec![]).await.expect("registers");
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework("sim-test"))
        .await
        .expect("subscribes");
    let fid = sub.caller.framework_id.clone();
    let offer = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers[0]
        .clone();
    assert_eq!(offer.agent_id, sim.id);
    assert_eq!(offer.hostname, "sim-0");
    sub.caller
        .launch(
            vec![offer.id],
            vec![task("t1", &sim.id), task("t2", &sim.id)],
            None,
        )
        .await
        .expect("ACCEPT");

    // Each task: STARTING; RUNNING only after STARTING is acknowledged.
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let s = next_update(&mut sub).await;
        assert_eq!(s.agent_id.as_ref(), Some(&sim.id));
        assert_eq!(s.source, Some(Source::SOURCE_EXECUTOR));
        assert!(s.uuid.is_some(), "reliable update");
        seen.push((s.task_id.value.clone(), s.state));
        sub.caller.acknowledge(&s).await.expect("ACKNOWLEDGE");
    }
    for t in ["t1", "t2"] {
        let states: Vec<TaskState> = seen
            .iter()
            .filter(|(x, _)| x == t)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(states, [TaskState::TASK_STARTING, TaskState::TASK_RUNNING]);
    }
    let both = vec![
        (fid.clone(), TaskID::new("t1")),
        (fid.clone(), TaskID::new("t2")),
    ];
    let view = sim.view(both.clone()).await;
    assert_eq!(view.live_tasks, both);

    // Finished on command; killed by the scheduler.
    sim.finish(&fid, &TaskID::new("t1"), TaskState::TASK_FINISHED);
    let s = next_update(&mut sub).await;
    assert_eq!(
        (s.task_id.value.as_str(), s.state),
        ("t1", TaskState::TASK_FINISHED)
    );
    sub.caller.acknowledge(&s).await.unwrap();
    sub.caller
        .kill(TaskID::new("t2"), Some(sim.id.clone()))
        .await
        .unwrap();
    let s = next_update(&mut sub).await;
    assert_eq!(
        (s.task_id.value.as_str(), s.state),
        ("t2", TaskState::TASK_KILLED)
    );
    sub.caller.acknowledge(&s).await.unwrap();

    // Every acknowledgement reached the simulated agent.
    let mut view = sim.view(both.clone()).await;
    for _ in 0..100 {
        if view.acks == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        view = sim.view(both.clone()).await;
    }
    assert_eq!(view.acks, 6);
    assert_eq!(view.pending_updates, 0);
    assert!(view.live_tasks.is_empty());
    let metrics = get(&m, "/metrics/snapshot").await;
    assert_eq!(metrics["master/valid_status_updates"], 6.0);
    assert_eq!(metrics["master/valid_status_update_acknowledgements"], 6.0);
    assert_eq!(metrics["master/tasks_finished"], 1.0);
    assert_eq!(metrics["master/tasks_killed"], 1.0);
    stop(m, sim).await;
}

#[tokio::test]
async fn unacknowledged_updates_are_resent_until_acknowledged() {
    let m = master().await;
    let p = pool(
        &m,
        SimConfig {
            retry_interval: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let sim = SimAgent::register(&p, 0, vec![]).await.expect("registers");
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework("retry-test"))
        .await
        .unwrap();
    let offer = next_event(&mut sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers[0]
        .clone();
    sub.caller
        .launch(vec![offer.id], vec![task("t", &sim.id)], None)
        .await
        .unwrap();
    let first = next_update(&mut sub).await;
    let again = next_update(&mut sub).await;
    assert_eq!(first.state, TaskState::TASK_STARTING);
    assert_eq!(
        again.uuid, first.uuid,
        "the head is re-sent, not the next update"
    );
    sub.caller.acknowledge(&again).await.unwrap();
    loop {
        let s = next_update(&mut sub).await;
        if s.state == TaskState::TASK_RUNNING {
            break;
        }
        assert_eq!(
            s.uuid, first.uuid,
            "only retries of STARTING before RUNNING"
        );
    }
    stop(m, sim).await;
}

#[tokio::test]
async fn reported_running_tasks_are_adopted() {
    let m = master().await;
    let p = pool(&m, SimConfig::default());
    let res = Resources::parse("cpus:0.1;mem:32", "*")
        .unwrap()
        .to_wire(false);
    let tasks = mesos_bench::scenarios::running_tasks(3, 4, &res);
    let sim = SimAgent::register(&p, 3, tasks).await.expect("registers");
    let metrics = get(&m, "/metrics/snapshot").await;
    assert_eq!(metrics["master/tasks_running"], 4.0);
    let state = get(&m, "/master/state").await;
    let used = &slave(&state, &sim.id)["used_resources"];
    assert!(
        (used["cpus"].as_f64().unwrap() - 0.4).abs() < 1e-9,
        "{used}"
    );
    stop(m, sim).await;
}

/// POSTs a REGISTER exactly as `mesos-agent` does (master_link).
async fn raw_register(m: &mesos_master::MasterHandle, info: AgentInfo) -> (u16, String) {
    let call = AgentCall::Register {
        agent_info: info,
        version: MESOS_VERSION.into(),
        tasks: vec![],
        frameworks: vec![],
        checkpointed_resources: vec![],
    };
    let r = reqwest::Client::new()
        .post(format!("http://{}/master/api/v1/agent", m.addr))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .json(&call)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn invalid_registrations_are_rejected_like_a_real_agents() {
    let m = master().await;
    let p = pool(&m, SimConfig::default());
    let good = Resources::parse(RESOURCES, "*").unwrap().to_wire(true);
    let mut negative = good.clone();
    negative.push(Resource::scalar("gpus", -1.0));
    let cases = [
        AgentInfo {
            hostname: "".into(),
            port: 5051,
            resources: good.clone(),
            ..Default::default()
        },
        AgentInfo {
            hostname: "sim-bad".into(),
            port: 5051,
            resources: negative,
            ..Default::default()
        },
        AgentInfo {
            hostname: "sim-bad".into(),
            port: 0,
            resources: good,
            ..Default::default()
        },
    ];
    for info in cases {
        let err = SimAgent::register_with(&p, 0, info.clone(), vec![])
            .await
            .expect_err("rejected");
        let SimError::Status { status, body } = err else {
            panic!("expected an HTTP status, got {err:?}");
        };
        assert_eq!(status, 400, "{body}");
        assert_eq!(raw_register(&m, info).await, (status, body));
    }
    let metrics = get(&m, "/metrics/snapshot").await;
    assert_eq!(metrics["master/slave_registrations"], 0.0);
    m.stop().await;
}
