//! `application/x-protobuf` end to end, on real processes: `mesos-execute`
//! in both content types against `mesos-local`, and a Rust scheduler
//! speaking protobuf that launches a real command task, acknowledges its
//! updates and reconciles.

use mesos_scheduler::ContentType;
use mesos_system_tests::*;
use mesos_types::scheduler::ReconcileTask;
use mesos_types::*;
use std::process::Command;
use std::time::Duration;

fn execute(c: &LocalCluster, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin("mesos-execute"));
    cmd.arg(format!("--master={}", c.master)).args(args);
    run(&mut cmd, Duration::from_secs(60))
}

#[test]
fn mesos_execute_runs_a_task_in_either_content_type() {
    let c = LocalCluster::start(1, &[]);
    for ct in ["protobuf", "json"] {
        let name = format!("hello-{ct}");
        let out = execute(
            &c,
            &[
                &format!("--name={name}"),
                "--command=echo hi",
                &format!("--content_type={ct}"),
            ],
        );
        assert_eq!(
            out.code,
            Some(0),
            "{ct}\nstdout:\n{}\nstderr:\n{}",
            out.stdout,
            out.stderr
        );
        assert!(
            out.stdout.starts_with("Subscribed with ID "),
            "{}",
            out.stdout
        );
        for s in ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"] {
            assert!(
                out.stdout
                    .contains(&format!("Received status update {s} for task '{name}'")),
                "{ct}: {s} missing:\n{}",
                out.stdout
            );
        }
        assert!(
            out.stdout
                .contains("  message: 'Command exited with status 0'"),
            "{}",
            out.stdout
        );
    }
    let out = execute(&c, &["--name=x", "--command=true", "--content_type=xml"]);
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("--content_type"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protobuf_scheduler_runs_a_real_task_acknowledges_and_reconciles() {
    let c = LocalCluster::start(1, &[]);
    let info = FrameworkInfo {
        user: std::env::var("USER").unwrap_or_else(|_| "root".into()),
        name: "protobuf-fw".into(),
        ..Default::default()
    };
    let sub = mesos_scheduler::subscribe_with(&c.master, info, ContentType::Protobuf)
        .await
        .expect("subscribed over protobuf");
    let mut fw = Fw::new(sub);
    let offer = fw.offer().await;
    let task = TaskInfo {
        name: "pb".into(),
        task_id: TaskID::new("pb"),
        agent_id: offer.agent_id.clone(),
        resources: Resources::parse("cpus:0.1;mem:32", "*")
            .unwrap()
            .to_wire(false),
        command: Some(CommandInfo {
            value: Some("echo protobuf".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Every update is acknowledged by `Fw` as it arrives (over protobuf).
    fw.launch_running(offer.id, task).await;
    let done = fw
        .update_where(|s| s.task_id.value == "pb" && s.state == TaskState::TASK_FINISHED)
        .await;
    assert_eq!(
        done.message.as_deref(),
        Some("Command exited with status 0")
    );
    assert_eq!(done.source, Some(Source::SOURCE_EXECUTOR));
    assert!(done.uuid.is_some());
    let states: Vec<TaskState> = fw.updates.iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            TaskState::TASK_STARTING,
            TaskState::TASK_RUNNING,
            TaskState::TASK_FINISHED
        ]
    );

    // Explicit reconciliation answers with the latest state, without uuid.
    fw.sub
        .caller
        .reconcile(vec![ReconcileTask {
            task_id: TaskID::new("pb"),
            agent_id: Some(done.agent_id.clone().unwrap()),
        }])
        .await
        .unwrap();
    let r = fw
        .update_where(|s| s.reason == Some(Reason::REASON_RECONCILIATION))
        .await;
    assert_eq!(r.task_id.value, "pb");
    assert!(r.uuid.is_none());

    // The acknowledged task is completed in the master's state.
    let mut completed = false;
    for _ in 0..200 {
        let state = master_state(&c.master).await.expect("master state");
        completed = state["frameworks"][0]["completed_tasks"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["id"] == "pb"));
        if completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(completed, "the acknowledged task is completed");
    fw.sub.caller.teardown().await.unwrap();
}
