//! Compatibility: the unmodified pymesos 0.3.15 scheduler, executor and
//! operator drivers (PyPI, in the test virtualenv) against our master and
//! agent.

use mesos_system_tests::*;
use std::process::Command;
use std::time::Duration;

fn run_py(py: &std::path::Path, script: &str, args: &[&str]) -> serde_json::Value {
    let out = run(
        Command::new(py).arg(python_script(script)).args(args),
        Duration::from_secs(120),
    );
    assert_eq!(
        out.code,
        Some(0),
        "{script} failed:\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let last = out.stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "{script}: no JSON summary ({e}):\n{}\n{}",
            out.stdout, out.stderr
        )
    })
}

#[test]
fn pymesos_hello_world_scheduler_launches_acks_and_suppresses() {
    let Some(py) = python() else { return };
    let c = LocalCluster::start(2, &[]);
    let summary = run_py(&py, "hello_scheduler.py", &[&c.master, "4"]);
    assert_eq!(summary["completed"], true, "{summary}");
    assert_eq!(summary["suppressed"], true);
    let states = summary["states"].as_object().unwrap();
    assert_eq!(states.len(), 4, "{summary}");
    for (task, seq) in states {
        let seq: Vec<&str> = seq
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(seq.last(), Some(&"TASK_FINISHED"), "{task}: {seq:?}");
        assert!(seq.contains(&"TASK_RUNNING"), "{task}: {seq:?}");
    }
    // pymesos acknowledged every update implicitly: nothing is left
    // outstanding in the master's view, and the tasks are completed.
    let fid = summary["framework_id"].as_str().unwrap();
    let fw = c.get(&format!("/master/frameworks?framework_id={fid}"));
    let all: Vec<&serde_json::Value> = fw["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(fw["completed_frameworks"].as_array().unwrap())
        .collect();
    assert_eq!(all.len(), 1, "{fw}");
    assert_eq!(
        all[0]["completed_tasks"].as_array().unwrap().len(),
        4,
        "{fw}"
    );
    let m = c.get("/metrics/snapshot");
    assert!(
        m["master/valid_status_update_acknowledgements"]
            .as_f64()
            .unwrap()
            >= 12.0,
        "{m}"
    );
}

#[test]
fn pymesos_executor_driver_runs_a_task_and_exchanges_messages() {
    let Some(py) = python() else { return };
    let c = LocalCluster::start(1, &[]);
    let summary = run_py(&py, "executor_scheduler.py", &[&c.master]);
    assert_eq!(summary["completed"], true, "{summary}");
    let updates = summary["updates"].as_array().unwrap();
    let last = updates.last().unwrap();
    assert_eq!(last["state"], "TASK_FINISHED", "{summary}");
    assert_eq!(last["message"], "pymesos executor done");
    assert_eq!(last["source"], "SOURCE_EXECUTOR");
    let msgs: Vec<&str> = summary["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(msgs.contains(&"data:payload-from-scheduler"), "{msgs:?}");
    assert!(msgs.contains(&"pong"), "{msgs:?}");
}

#[test]
fn pymesos_operator_driver_receives_the_event_stream() {
    let Some(py) = python() else { return };
    let c = LocalCluster::start(1, &[]);
    let summary = run_py(&py, "operator_watch.py", &[&c.master]);
    for flag in ["subscribed", "task_ended", "framework_removed"] {
        assert_eq!(summary[flag], true, "{flag}: {summary}");
    }
    let events: Vec<(String, serde_json::Value)> = summary["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_str().unwrap().to_string(), e[1].clone()))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    let pos = |k: &str| kinds.iter().position(|x| *x == k);
    // In the order they happened.
    let (added, task, removed) = (
        pos("FRAMEWORK_ADDED").expect("FRAMEWORK_ADDED"),
        pos("TASK_ADDED").expect("TASK_ADDED"),
        pos("FRAMEWORK_REMOVED").expect("FRAMEWORK_REMOVED"),
    );
    assert!(added < task && task < removed, "{kinds:?}");
    assert_eq!(events[task].1["state"], "TASK_STAGING");
    let updates: Vec<&str> = events
        .iter()
        .filter(|(k, _)| k == "TASK_UPDATED")
        .map(|(_, d)| d["state"].as_str().unwrap())
        .collect();
    assert!(updates.contains(&"TASK_RUNNING"), "{updates:?}");
    assert_eq!(updates.last(), Some(&"TASK_FINISHED"), "{updates:?}");
    // The synchronous calls pymesos wraps answer in the v1 shapes.
    let calls = &summary["calls"];
    assert_eq!(calls["getHealth"]["get_health"]["healthy"], true, "{calls}");
    assert_eq!(calls["getState"]["type"], "GET_STATE");
    assert_eq!(
        calls["getAgents"]["get_agents"]["agents"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{calls}"
    );
    assert!(calls["getMaster"]["get_master"]["master_info"]["id"].is_string());
    assert!(calls["getFlags"]["get_flags"]["flags"].is_array());
}
