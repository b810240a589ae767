//! `mesos-execute` against `mesos-local`, both as real processes.

use mesos_system_tests::*;
use std::process::Command;
use std::time::Duration;

fn execute(c: &LocalCluster, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin("mesos-execute"));
    cmd.arg(format!("--master={}", c.master)).args(args);
    run(&mut cmd, Duration::from_secs(60))
}

#[test]
fn hello_world_prints_updates_and_output_lands_in_sandbox() {
    let c = LocalCluster::start(2, &[]);
    let out = execute(&c, &["--name=echo-test", "--command=echo Hello, World"]);
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("Subscribed with ID "),
        "{}",
        out.stdout
    );
    assert!(
        lines[1].starts_with("Submitted task 'echo-test' to agent '"),
        "{}",
        out.stdout
    );
    for s in ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"] {
        assert!(
            out.stdout
                .contains(&format!("Received status update {s} for task 'echo-test'")),
            "{s} missing:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .contains("  message: 'Command exited with status 0'")
    );
    assert!(out.stdout.contains("  source: SOURCE_EXECUTOR"));

    // Find the sandbox through the agents' state and read stdout via /files/read.
    let mut found = false;
    for agent in &c.agents {
        let state = get_json(&format!("http://{agent}/slave(1)/state"));
        for f in state["frameworks"]
            .as_array()
            .unwrap()
            .iter()
            .chain(state["completed_frameworks"].as_array().unwrap())
        {
            for e in f["executors"]
                .as_array()
                .unwrap()
                .iter()
                .chain(f["completed_executors"].as_array().unwrap())
            {
                if e["id"] != "echo-test" {
                    continue;
                }
                let dir = e["directory"].as_str().unwrap();
                assert!(
                    dir.contains("/slaves/") && dir.contains("/executors/echo-test/runs/"),
                    "{dir}"
                );
                let read = get_json(&format!(
                    "http://{agent}/files/read?path={dir}/stdout&offset=0"
                ));
                assert_eq!(read["data"], "Hello, World\n");
                found = true;
            }
        }
    }
    assert!(found, "no agent reports the echo-test executor");
}

#[test]
fn failing_task_reports_its_exit_status() {
    let c = LocalCluster::start(1, &[]);
    let out = execute(&c, &["--name=fails", "--command=exit 3"]);
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("Received status update TASK_FAILED for task 'fails'"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("  message: 'Command exited with status 3'"),
        "{}",
        out.stdout
    );
}

#[test]
fn killing_a_task_kills_its_whole_process_group() {
    let c = LocalCluster::start(1, &[]);
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let (k, v) = marker.split_once('=').unwrap();
    let env = format!("--env={{\"{k}\":\"{v}\"}}");
    // A shell with a background child and a foreground child.
    let out = execute(
        &c,
        &[
            "--name=sleeper",
            "--command=sleep 1000 & sleep 1000",
            &env,
            "--kill_after=1secs",
        ],
    );
    assert!(
        out.stdout.contains("Asked to kill task 'sleeper'"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Received status update TASK_KILLED for task 'sleeper'"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_ne!(out.code, Some(0));
    let left = processes_with_env(&marker);
    assert!(
        left.is_empty(),
        "task processes survived the kill: {left:?}"
    );
}

#[test]
fn task_larger_than_any_agent_is_never_launched() {
    let c = LocalCluster::start(
        1,
        &["--resources=cpus:2;mem:1024", "--allocation_interval=100ms"],
    );
    let mut cmd = Command::new(bin("mesos-execute"));
    cmd.arg(format!("--master={}", c.master)).args([
        "--name=huge",
        "--command=true",
        "--resources=cpus:64;mem:128",
    ]);
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    // Wait until the framework is registered and several allocation
    // cycles have offered it the agent (it declines each time).
    let mut start_runs = None;
    for _ in 0..600 {
        let m = c.get("/metrics/snapshot");
        let runs = m["allocator/mesos/allocation_runs"].as_f64().unwrap();
        if m["master/frameworks_active"].as_f64() == Some(1.0) {
            let s = *start_runs.get_or_insert(runs);
            if runs >= s + 5.0 {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(start_runs.is_some(), "mesos-execute never registered");
    let m = c.get("/metrics/snapshot");
    assert_eq!(m["master/messages_launch_tasks"], 0.0);
    let state = c.get("/master/state");
    assert_eq!(state["frameworks"][0]["tasks"].as_array().unwrap().len(), 0);
    let _ = child.kill();
    let _ = child.wait();
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap_or_default();
    assert!(!out.contains("Submitted task"), "{out}");
}
