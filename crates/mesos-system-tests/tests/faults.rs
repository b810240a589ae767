//! Fault injection with the real binaries, killed with SIGKILL.

use mesos_system_tests::*;
use mesos_types::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_killed_for_good_its_task_is_lost_and_relaunched_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _master = Proc(
        Command::new(bin("mesos-master"))
            .args([
                format!("--port={port}"),
                "--registry=in_memory".into(),
                "--agent_ping_timeout=200ms".into(),
                "--max_agent_ping_timeouts=5".into(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let master = format!("127.0.0.1:{port}");
    let mut agents: Vec<(Proc, u16)> = (0..2)
        .map(|i| {
            let p = free_port();
            let child = Command::new(bin("mesos-agent"))
                .args([
                    format!("--master={master}"),
                    format!("--port={p}"),
                    format!("--work_dir={}/a{i}", dir.path().display()),
                    "--resources=cpus:1;mem:256".into(),
                ])
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            (Proc(child), p)
        })
        .collect();
    wait_for_agents(&master, 2, "agents never registered").await;

    let info = FrameworkInfo {
        user: "root".into(),
        name: "relauncher".into(),
        ..Default::default()
    };
    let sub = mesos_scheduler::subscribe(&master, info).await.unwrap();
    let mut fw = Fw::new(sub);
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let offer = fw.offer_not_from(None).await;
    let first_agent = offer.agent_id.clone();
    fw.launch_running(
        offer.id,
        marked_task("web-1", &first_agent, "sleep 1000", &marker),
    )
    .await;

    // Which process is that agent? Ask each for its id.
    let victim = {
        let mut found = None;
        for (i, (_, p)) in agents.iter().enumerate() {
            let st: serde_json::Value = reqwest::get(format!("http://127.0.0.1:{p}/state"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if st["id"] == first_agent.value.as_str() {
                found = Some(i);
            }
        }
        found.expect("the task's agent")
    };
    let killed_at = Instant::now();
    agents[victim].0.kill9();

    // TASK_LOST within the configured health timeout (5 x 200 ms), plus slack.
    let lost = fw
        .update_where(|s| s.task_id.value == "web-1" && s.state != TaskState::TASK_RUNNING)
        .await;
    let detected = killed_at.elapsed();
    assert_eq!(lost.state, TaskState::TASK_LOST);
    assert_eq!(lost.reason, Some(Reason::REASON_AGENT_REMOVED));
    eprintln!("agent loss detected after {detected:?} (configured 1 s)");

    // Relaunch on the surviving agent.
    let offer = fw.offer_not_from(Some(&first_agent)).await;
    let survivor = offer.agent_id.clone();
    let running = fw
        .launch_running(
            offer.id,
            marked_task(
                "web-2",
                &survivor,
                "sleep 1000",
                &format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4()),
            ),
        )
        .await;
    assert_eq!(running.agent_id.as_ref(), Some(&survivor));
    // The dead agent's task (no checkpointing) is killed by its executor
    // once the agent is gone: nothing of web-1 is left running.
    wait_for_no_process_with(
        &marker,
        Duration::from_secs(30),
        "orphaned task of the killed agent survived",
    )
    .await;
    fw.sub.caller.teardown().await.unwrap();
}

fn start_master(port: u16, work_dir: &std::path::Path) -> Proc {
    Proc(
        Command::new(bin("mesos-master"))
            .args([
                format!("--port={port}"),
                format!("--work_dir={}", work_dir.display()),
                "--allocation_interval=100ms".into(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_restart_keeps_running_tasks_and_reconciles_them() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let mut m = start_master(port, &dir.path().join("master"));
    let _agent = Proc(
        Command::new(bin("mesos-agent"))
            .args([
                format!("--master={master}"),
                format!("--port={}", free_port()),
                format!("--work_dir={}/agent", dir.path().display()),
                "--resources=cpus:1;mem:256".into(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_agents(&master, 1, "agent never registered").await;
    let info = FrameworkInfo {
        user: "root".into(),
        name: "survivor".into(),
        failover_timeout: 3600.0,
        checkpoint: true,
        ..Default::default()
    };
    let sub = mesos_scheduler::subscribe(&master, info.clone())
        .await
        .unwrap();
    let mut fw = Fw::new(sub);
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let offer = fw.offer_not_from(None).await;
    // `exec`: one process from the start, whose pid the test follows
    // (a shell forking `sleep` would add a pid after the snapshot).
    fw.launch_running(
        offer.id,
        marked_task("db-1", &offer.agent_id, "exec sleep 1000", &marker),
    )
    .await;
    let pids_before = processes_with_env(&marker);
    assert!(!pids_before.is_empty());
    let framework_id = fw.sub.caller.framework_id.clone();

    m.kill9();
    m = start_master(port, &dir.path().join("master"));
    // The agent re-registers with its id and its running task.
    let s = wait_for_agents(&master, 1, "agent never re-registered").await;
    assert_eq!(
        s["slaves"][0]["id"],
        offer.agent_id.value.as_str(),
        "the agent keeps its id"
    );

    // The scheduler re-subscribes with its framework id and reconciles.
    let mut again = info.clone();
    again.id = Some(framework_id.clone());
    let sub = mesos_scheduler::subscribe(&master, again).await.unwrap();
    assert_eq!(sub.caller.framework_id, framework_id);
    let mut fw = Fw::new(sub);
    fw.sub.caller.reconcile(vec![]).await.unwrap();
    let st = fw.update_where(|s| s.task_id.value == "db-1").await;
    assert_eq!(st.state, TaskState::TASK_RUNNING, "{st:?}");
    assert_eq!(st.reason, Some(Reason::REASON_RECONCILIATION));
    assert_eq!(
        processes_with_env(&marker),
        pids_before,
        "the same task process kept running"
    );
    fw.sub.caller.teardown().await.unwrap();
    drop(m);
}

/// The operator's `MARK_AGENT_GONE` (as curl would send it): the agent is
/// shut down (its task too, though the framework checkpoints), the
/// framework is told, and the machine can only come back as a new agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_marked_gone_by_the_operator_stops_and_comes_back_as_a_new_agent() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _m = start_master(port, &dir.path().join("master"));
    let agent_port = free_port();
    let work_dir = dir.path().join("agent");
    let mut agent = start_agent(&master, agent_port, &work_dir, Stdio::null());
    wait_for_agents(&master, 1, "agent never registered").await;
    let info = FrameworkInfo {
        user: "root".into(),
        name: "operator-victim".into(),
        checkpoint: true,
        ..Default::default()
    };
    let mut fw = Fw::new(mesos_scheduler::subscribe(&master, info).await.unwrap());
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let offer = fw.offer_not_from(None).await;
    let gone = offer.agent_id.clone();
    fw.launch_running(offer.id, marked_task("job-1", &gone, "sleep 1000", &marker))
        .await;
    assert!(!processes_with_env(&marker).is_empty());

    let r = reqwest::Client::new()
        .post(format!("http://{master}/api/v1"))
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"type":"MARK_AGENT_GONE","mark_agent_gone":{{"agent_id":{{"value":"{}"}}}}}}"#,
            gone.value
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lost = fw
        .update_where(|s| s.task_id.value == "job-1" && s.state != TaskState::TASK_RUNNING)
        .await;
    assert_eq!(lost.state, TaskState::TASK_LOST);
    assert_eq!(lost.reason, Some(Reason::REASON_AGENT_REMOVED_BY_OPERATOR));

    // The agent stops by itself, killing the task and forgetting its id.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = agent.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the gone agent kept running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        processes_with_env(&marker).is_empty(),
        "the gone agent's task survived it"
    );
    assert!(!work_dir.join("meta").exists(), "the checkpoint was kept");

    // Started again on the same work_dir, it registers as a new agent.
    agent = start_agent(&master, agent_port, &work_dir, Stdio::null());
    let s = wait_for_agents(&master, 1, "the machine never came back").await;
    assert_ne!(s["slaves"][0]["id"], gone.value.as_str());
    fw.sub.caller.teardown().await.unwrap();
    drop(agent);
}
