//! Framework failover with a real scheduler process (issue 4, must-show d):
//! an unmodified pymesos scheduler is SIGKILLed (so it never sends
//! TEARDOWN) and comes back with its framework id, once within
//! `failover_timeout` and once after it.

use mesos_system_tests::*;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Polls the master's view of framework `fid` until `pred` holds on it.
/// The view is `(framework, completed)`; `completed` says in which list
/// the framework was found.
fn framework_where(
    c: &LocalCluster,
    fid: &str,
    what: &str,
    pred: impl Fn(&Value, bool) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = c.get(&format!("/master/frameworks?framework_id={fid}"));
        for (list, completed) in [("frameworks", false), ("completed_frameworks", true)] {
            for f in state[list].as_array().into_iter().flatten() {
                if f["id"] == fid && pred(f, completed) {
                    return f.clone();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "framework {fid} never {what}: {state}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn task_state(fw: &Value, list: &str, task: &str) -> Option<String> {
    fw[list]
        .as_array()?
        .iter()
        .find(|t| t["id"] == task)
        .and_then(|t| t["state"].as_str())
        .map(str::to_string)
}

#[test]
fn killed_scheduler_fails_over_within_timeout_and_is_removed_after_it() {
    let Some(py) = python() else { return };
    let c = LocalCluster::start(1, &[]);
    let marker = format!("MESOS_FAILOVER_TEST={}-{}", std::process::id(), free_port());

    // A new framework (failover_timeout 60 s) launches a long task.
    let mut first = PyScript::start(&py, "failover_scheduler.py", &[&c.master, "60", &marker]);
    let running = first.line_where("TASK_RUNNING", |v| v["state"] == "TASK_RUNNING");
    let fid = running["framework_id"].as_str().unwrap().to_string();
    let task = running["task_id"].as_str().unwrap().to_string();
    let pids = processes_with_env(&marker);
    assert!(!pids.is_empty(), "no process carries {marker}");

    // SIGKILL: the master sees the stream end, keeps the framework
    // (disconnected) and its task for the failover timeout.
    first.proc.kill9();
    let fw = framework_where(&c, &fid, "disconnected", |f, completed| {
        !completed && f["connected"] == false
    });
    assert_eq!(
        task_state(&fw, "tasks", &task).as_deref(),
        Some("TASK_RUNNING"),
        "{fw}"
    );
    assert_eq!(
        processes_with_env(&marker),
        pids,
        "the task must keep running"
    );

    // Within the timeout: the same framework id is accepted, the task is
    // reconciled as still RUNNING and is the same process. The new
    // scheduler lowers failover_timeout to 2 s (a re-subscription may).
    let mut second = PyScript::start(
        &py,
        "failover_scheduler.py",
        &[&c.master, "2", &marker, &fid, &task],
    );
    let reconciled = second.line_where("reconciliation answer", |v| v["reregistered"] == true);
    assert_eq!(reconciled["framework_id"], fid.as_str(), "{reconciled}");
    assert_eq!(reconciled["state"], "TASK_RUNNING", "{reconciled}");
    let fw = framework_where(&c, &fid, "re-subscribed", |f, completed| {
        !completed && f["connected"] == true
    });
    assert_eq!(fw["failover_timeout"], 2.0, "{fw}");
    assert_eq!(
        processes_with_env(&marker),
        pids,
        "the task was not relaunched"
    );

    // Killed again and not back within 2 s: the framework is removed, its
    // task killed (by the agent, process group and all).
    second.proc.kill9();
    let fw = framework_where(&c, &fid, "removed", |_, completed| completed);
    assert_eq!(
        task_state(&fw, "completed_tasks", &task).as_deref(),
        Some("TASK_KILLED"),
        "{fw}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !processes_with_env(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "task processes {:?} outlived their removed framework",
            processes_with_env(&marker)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // After the timeout the id is refused with a clear error.
    let mut third = PyScript::start(
        &py,
        "failover_scheduler.py",
        &[&c.master, "2", &marker, &fid, &task],
    );
    let refused = third.line_where("error", |v| v.get("error").is_some());
    assert_eq!(refused["error"], "Framework has been removed", "{refused}");
    let status = third.proc.0.wait().expect("wait");
    assert!(status.success(), "{status}");
    let state = c.get("/master/frameworks");
    assert!(
        state["frameworks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["id"] != fid.as_str()),
        "a refused re-subscription must not bring the framework back: {state}"
    );
}
