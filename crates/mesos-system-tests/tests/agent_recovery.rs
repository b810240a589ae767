//! Agent restart recovery with the real binaries: the agent is SIGKILLed and
//! restarted on the same `--work_dir` and port.

use mesos_system_tests::*;
use mesos_types::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn start_master(port: u16) -> Proc {
    Proc(
        Command::new(bin("mesos-master"))
            .args([
                format!("--port={port}"),
                "--registry=in_memory".into(),
                "--allocation_interval=100ms".into(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// An agent logging to `log` (appended: a restarted agent adds to it).
fn agent_logging_to(master: &str, port: u16, work_dir: &Path, log: &Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    start_agent(master, port, work_dir, Stdio::from(log))
}

fn all_alive(pids: &[i32]) -> bool {
    pids.iter().all(|p| {
        std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
    })
}

async fn framework(master: &str, checkpoint: bool) -> Fw {
    let info = FrameworkInfo {
        user: "root".into(),
        name: "recovery".into(),
        failover_timeout: 3600.0,
        checkpoint,
        ..Default::default()
    };
    let sub = mesos_scheduler::subscribe(master, info).await.unwrap();
    Fw::new(sub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sigkill_and_restart_recovers_checkpointed_task() {
    restart_keeps_checkpointed_task(false).await;
}

/// SIGTERM (graceful stop) leaves executors of checkpointing frameworks running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sigterm_and_restart_recovers_checkpointed_task() {
    restart_keeps_checkpointed_task(true).await;
}

async fn restart_keeps_checkpointed_task(graceful: bool) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _m = start_master(port);
    let agent_port = free_port();
    let work_dir = dir.path().join("agent");
    let log = dir.path().join("agent.log");
    let mut agent = agent_logging_to(&master, agent_port, &work_dir, &log);
    let s = wait_for_agents(&master, 1, "agent never registered").await;
    let agent_id = s["slaves"][0]["id"].as_str().unwrap().to_string();

    let mut fw = framework(&master, true).await;
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let offer = fw.offer().await;
    // `exec`: one process from the start, whose pid the test follows
    // (a shell forking `sleep` would add a pid after the snapshot).
    fw.launch_running(
        offer.id,
        marked_task("nap-1", &offer.agent_id, "exec sleep 6", &marker),
    )
    .await;
    let pids = processes_with_env(&marker);
    assert!(!pids.is_empty());

    if graceful {
        let status = Command::new("kill")
            .args(["-TERM", &agent.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while agent.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the agent did not stop on SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    } else {
        agent.kill9();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(all_alive(&pids), "the task survives the agent");
    agent = agent_logging_to(&master, agent_port, &work_dir, &log);

    // The agent comes back with its id; the executor re-subscribes and the
    // task ends by itself, reported through the recovered agent.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut checked_id = false;
    let finished = loop {
        if !checked_id
            && let Some(s) = master_state(&master).await
            && s["activated_slaves"] == 1
        {
            assert_eq!(s["slaves"][0]["id"], agent_id.as_str(), "same agent id");
            checked_id = true;
        }
        let e = tokio::time::timeout(Duration::from_millis(200), fw.next()).await;
        if let Ok(e) = e
            && let Some(s) = e.update.map(|u| u.status)
            && s.task_id.value == "nap-1"
            && mesos_types::task_state::is_terminal(s.state)
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no terminal update; agent log:\n{}\nexecutor logs:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            sandbox_stderr(&work_dir)
        );
        if checked_id {
            // Until the task exits its process is the same one: no new pid
            // appears (a relaunch would show one); once it exits, none.
            let now = processes_with_env(&marker);
            assert!(
                now.iter().all(|p| pids.contains(p)),
                "task processes changed: {pids:?} -> {now:?}"
            );
        }
    };
    assert_eq!(
        finished.state,
        TaskState::TASK_FINISHED,
        "{finished:?}\nagent log:\n{}\nexecutor logs:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default(),
        sandbox_stderr(&work_dir)
    );
    assert!(
        checked_id || master_state(&master).await.unwrap()["slaves"][0]["id"] == agent_id.as_str()
    );
    assert!(
        !fw.updates.iter().any(|s| matches!(
            s.state,
            TaskState::TASK_LOST | TaskState::TASK_FAILED | TaskState::TASK_GONE
        )),
        "{:?}",
        fw.updates
    );
    assert!(processes_with_env(&marker).is_empty());
    fw.sub.caller.teardown().await.unwrap();
    drop(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_restart_does_not_keep_tasks_of_non_checkpointing_frameworks() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _m = start_master(port);
    let agent_port = free_port();
    let work_dir = dir.path().join("agent");
    let log = dir.path().join("agent.log");
    let mut agent = agent_logging_to(&master, agent_port, &work_dir, &log);
    let s = wait_for_agents(&master, 1, "agent never registered").await;
    let agent_id = s["slaves"][0]["id"].as_str().unwrap().to_string();

    let mut fw = framework(&master, false).await;
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let offer = fw.offer().await;
    fw.launch_running(
        offer.id,
        marked_task("eph-1", &offer.agent_id, "sleep 1000", &marker),
    )
    .await;
    assert!(!processes_with_env(&marker).is_empty());

    agent.kill9();
    agent = agent_logging_to(&master, agent_port, &work_dir, &log);
    let st = fw
        .update_where(|s| {
            s.task_id.value == "eph-1" && mesos_types::task_state::is_terminal(s.state)
        })
        .await;
    assert!(
        matches!(
            st.state,
            TaskState::TASK_FAILED | TaskState::TASK_LOST | TaskState::TASK_GONE
        ),
        "{st:?}"
    );
    wait_for_no_process_with(
        &marker,
        Duration::from_secs(10),
        "the task outlived the agent restart",
    )
    .await;
    let s = wait_for_agents(&master, 1, "agent never registered").await;
    assert_eq!(s["slaves"][0]["id"], agent_id.as_str(), "same agent id");
    fw.sub.caller.teardown().await.unwrap();
    drop(agent);
}

/// Every executor's `stderr` under the agent's work_dir, for failure messages.
fn sandbox_stderr(work_dir: &Path) -> String {
    let mut out = String::new();
    let mut dirs = vec![work_dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_symlink() {
                continue;
            }
            if p.is_dir() {
                dirs.push(p);
            } else if p.file_name().is_some_and(|n| n == "stderr") {
                out.push_str(&format!("== {}\n", p.display()));
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    out
}
