//! The `mesos` CLI against a real master and agent running real command
//! tasks: listings, task logs (whole and followed), kill, maintenance and
//! quota round trips, and the binary's exit codes and messages.

mod support;

use mesos_cli::mesos::CliError;
use mesos_types::TaskState;
use mesos_types::task_state::is_terminal;
use serde_json::Value;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_show_agents_frameworks_and_running_and_finished_tasks() {
    let cluster = Cluster::start().await;
    let mut fw = Framework::start(&cluster.master(), "cli-test").await;
    fw.launch("t-echo", "echo hello-from-task").await;
    assert_eq!(
        fw.wait_for("t-echo", is_terminal).await,
        TaskState::TASK_FINISHED
    );
    fw.launch("t-sleep", "sleep 1000").await;
    fw.wait_for("t-sleep", |s| s == TaskState::TASK_RUNNING)
        .await;

    let agent_id = cluster.agent.agent_id().expect("registered").value;
    let agents = cluster.cli(&["agent", "list"]).await.unwrap();
    assert!(agents.starts_with("ID "), "{agents}");
    assert!(
        agents.contains(&agent_id) && agents.contains("true"),
        "{agents}"
    );
    let agents: Value =
        serde_json::from_str(&cluster.cli(&["--json", "agent", "list"]).await.unwrap()).unwrap();
    assert_eq!(agents[0]["id"], agent_id.as_str());

    let frameworks = cluster.cli(&["framework", "list"]).await.unwrap();
    assert!(
        frameworks.contains(&fw.id()) && frameworks.contains("cli-test"),
        "{frameworks}"
    );

    let live = cluster.cli(&["task", "list"]).await.unwrap();
    assert!(
        live.contains("t-sleep") && live.contains("TASK_RUNNING"),
        "{live}"
    );
    assert!(
        !live.contains("t-echo"),
        "finished tasks only with --all: {live}"
    );
    let all = cluster.cli(&["task", "list", "--all"]).await.unwrap();
    let echo_row = all.lines().find(|l| l.starts_with("t-echo")).expect(&all);
    assert!(
        echo_row.contains("TASK_FINISHED") && echo_row.contains(&fw.id()),
        "{all}"
    );
    let json: Value = serde_json::from_str(
        &cluster
            .cli(&["task", "list", "--all", "--json"])
            .await
            .unwrap(),
    )
    .unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"t-echo") && ids.contains(&"t-sleep"),
        "{json}"
    );

    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_log_prints_the_sandbox_and_follows_until_the_task_ends() {
    let cluster = Cluster::start().await;
    let mut fw = Framework::start(&cluster.master(), "cli-log").await;
    fw.launch("t-echo", "echo hello-from-task; echo to-stderr >&2")
        .await;
    fw.wait_for("t-echo", is_terminal).await;

    let log = cluster.cli(&["task", "log", "t-echo"]).await.unwrap();
    assert!(log.contains("hello-from-task\n"), "{log:?}");
    assert!(!log.contains("to-stderr"), "{log:?}");
    let err = cluster
        .cli(&["task", "log", "t-echo", "--file", "stderr"])
        .await
        .unwrap();
    assert!(err.contains("to-stderr"), "{err:?}");
    // A finished task's log with --follow prints it and returns.
    let followed = cluster
        .cli(&["task", "log", "--follow", "t-echo"])
        .await
        .unwrap();
    assert_eq!(followed, log);

    // A running task: --follow prints what comes after it started and
    // returns once the task has ended.
    let release = cluster.work.path().join("release");
    let script = format!(
        "echo first; while [ ! -e {0} ]; do sleep 0.05; done; echo second",
        release.display()
    );
    fw.launch("t-follow", &script).await;
    fw.wait_for("t-follow", |s| s == TaskState::TASK_RUNNING)
        .await;
    let buf = SharedBuf::default();
    let master = cluster.master();
    let follow = {
        let mut out = buf.clone();
        async move {
            let cli = <mesos_cli::mesos::args::Cli as clap::Parser>::try_parse_from([
                "mesos", "--master", &master, "task", "log", "--follow", "t-follow",
            ])
            .unwrap();
            mesos_cli::mesos::run(cli, &Default::default(), &mut out).await
        }
    };
    let releaser = async {
        eventually("the first line to be printed", || async {
            buf.text().contains("first\n").then_some(())
        })
        .await;
        assert!(!buf.text().contains("second"));
        std::fs::write(&release, b"").unwrap();
        fw.wait_for("t-follow", is_terminal).await
    };
    let (followed, state) =
        tokio::time::timeout(DEADLINE, async { tokio::join!(follow, releaser) })
            .await
            .expect("--follow returns after the task ended");
    followed.unwrap();
    assert_eq!(state, TaskState::TASK_FINISHED);
    assert_eq!(buf.text(), "first\nsecond\n");

    let e = cluster
        .cli(&["task", "log", "no-such-task"])
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "No task 'no-such-task' is known to the master"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_kill_ends_a_running_task_through_its_agent() {
    let cluster = Cluster::start().await;
    let mut fw = Framework::start(&cluster.master(), "cli-kill").await;
    fw.launch("t-done", "true").await;
    fw.wait_for("t-done", is_terminal).await;
    fw.launch("t-sleep", "sleep 1000").await;
    fw.wait_for("t-sleep", |s| s == TaskState::TASK_RUNNING)
        .await;

    let e = cluster.cli(&["task", "kill", "t-done"]).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Task 't-done' has already ended (TASK_FINISHED)"
    );
    let e = cluster.cli(&["task", "kill", "nope"]).await.unwrap_err();
    assert!(e.to_string().contains("No task 'nope'"), "{e}");

    // KILL_CONTAINER is the agent's v1 operator API, which agents that
    // predate it do not serve: the CLI must say so rather than fail
    // obscurely. Where it is served, the task must end.
    let agent = cluster.agent.addr;
    let probe = reqwest::Client::new()
        .post(format!("http://{agent}/api/v1"))
        .header("Content-Type", "application/json")
        .body(r#"{"type":"GET_HEALTH"}"#)
        .send()
        .await
        .unwrap();
    let result = cluster.cli(&["task", "kill", "t-sleep"]).await;
    if probe.status().is_success() {
        let out = result.expect("killed");
        assert!(out.starts_with("Killed task 't-sleep' (TASK_"), "{out}");
        let state = fw.wait_for("t-sleep", is_terminal).await;
        assert_ne!(state, TaskState::TASK_FINISHED);
    } else {
        let e = result.unwrap_err().to_string();
        assert!(e.contains("does not serve the v1 operator API"), "{e}");
        assert_eq!(fw.states["t-sleep"], TaskState::TASK_RUNNING);
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_schedule_down_and_up_round_trip() {
    let cluster = Cluster::start().await;
    assert_eq!(
        cluster.cli(&["maintenance", "schedule"]).await.unwrap(),
        "No maintenance is scheduled.\n"
    );
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let schedule = serde_json::json!({"windows": [{
        "machine_ids": [{"hostname": "maint-host", "ip": "10.9.9.9"}],
        "unavailability": {"start": {"nanoseconds": now_ns}, "duration": {"nanoseconds": 3_600_000_000_000i64}}
    }]});
    let file = cluster.work.path().join("schedule.json");
    std::fs::write(&file, schedule.to_string()).unwrap();
    let out = cluster
        .cli(&["maintenance", "schedule", "--file", file.to_str().unwrap()])
        .await
        .unwrap();
    assert_eq!(out, "Updated the maintenance schedule (1 machines).\n");

    let shown = cluster.cli(&["maintenance", "schedule"]).await.unwrap();
    assert!(
        shown.contains("maint-host") && shown.contains("10.9.9.9") && shown.contains("1h"),
        "{shown}"
    );
    let raw: Value = serde_json::from_str(
        &cluster
            .cli(&["--json", "maintenance", "schedule"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(raw, cluster.get("/master/maintenance/schedule").await);
    let status = cluster.cli(&["maintenance", "status"]).await.unwrap();
    assert!(
        status.contains("maint-host") && status.contains("DRAINING"),
        "{status}"
    );

    cluster
        .cli(&["maintenance", "down", "maint-host:10.9.9.9"])
        .await
        .unwrap();
    let status = cluster.cli(&["maintenance", "status"]).await.unwrap();
    assert!(
        status.contains("DOWN") && !status.contains("DRAINING"),
        "{status}"
    );
    cluster
        .cli(&["maintenance", "up", "maint-host:10.9.9.9"])
        .await
        .unwrap();
    assert_eq!(
        cluster.cli(&["maintenance", "status"]).await.unwrap(),
        "No machine is draining or down.\n"
    );

    // A machine that is not scheduled cannot go down: the master says why.
    let e = cluster
        .cli(&["maintenance", "down", "elsewhere"])
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Http { status: 400, .. }), "{e:?}");
    assert!(
        !e.to_string().is_empty() && !e.to_string().contains('\n'),
        "{e}"
    );
    let bad = cluster.work.path().join("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let e = cluster
        .cli(&["maintenance", "schedule", "--file", bad.to_str().unwrap()])
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with("The schedule is not valid JSON"),
        "{e}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_set_list_and_remove_round_trip() {
    let cluster = Cluster::start().await;
    assert_eq!(
        cluster.cli(&["quota"]).await.unwrap(),
        "No role has quota.\n"
    );
    cluster
        .cli(&[
            "quota",
            "set",
            "dev",
            "--guarantee",
            "cpus=1,mem=128",
            "--limit",
            "cpus=2",
        ])
        .await
        .unwrap();
    let listed = cluster.cli(&["quota", "list"]).await.unwrap();
    let row = listed
        .lines()
        .find(|l| l.starts_with("dev "))
        .expect(&listed);
    assert!(
        row.contains("cpus=1,mem=128") && row.contains("cpus=2"),
        "{listed}"
    );
    let raw: Value =
        serde_json::from_str(&cluster.cli(&["--json", "quota"]).await.unwrap()).unwrap();
    assert_eq!(raw, cluster.get("/master/quota").await);

    // More than the cluster has: refused with the master's reason, unless forced.
    let e = cluster
        .cli(&["quota", "set", "big", "--guarantee", "cpus=1000"])
        .await
        .unwrap_err();
    assert!(matches!(e, CliError::Http { status: 409, .. }), "{e:?}");
    assert!(
        e.to_string().contains("capacity") && !e.to_string().contains('\n'),
        "{e}"
    );
    cluster
        .cli(&["quota", "set", "big", "--guarantee", "cpus=1000", "--force"])
        .await
        .unwrap();

    cluster.cli(&["quota", "remove", "dev"]).await.unwrap();
    cluster.cli(&["quota", "remove", "big"]).await.unwrap();
    // Hierarchical roles are addressed by path.
    cluster
        .cli(&["quota", "set", "eng/web", "--limit", "mem=256"])
        .await
        .unwrap();
    assert!(cluster.cli(&["quota"]).await.unwrap().contains("eng/web"));
    cluster.cli(&["quota", "remove", "eng/web"]).await.unwrap();

    assert_eq!(
        cluster.cli(&["quota"]).await.unwrap(),
        "No role has quota.\n"
    );
    let e = cluster.cli(&["quota", "remove", "dev"]).await.unwrap_err();
    assert!(e.to_string().contains("no quota"), "{e}");
    let e = cluster
        .cli(&["quota", "set", "dev", "--guarantee", "cpus=x"])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid value 'x'"), "{e}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_1_with_one_line_on_errors() {
    let cluster = Cluster::start().await;
    let master = cluster.master();

    let (code, out, err) = binary(&["agent", "list"], &[("MESOS_MASTER", &master)]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ID ") && err.is_empty(), "{out}{err}");

    let (code, out, err) = binary(&["--master", &master, "task", "log", "nope"], &[]).await;
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err, "No task 'nope' is known to the master\n");

    // Nothing listens on port 1.
    let (code, _, err) = binary(&["--master", "127.0.0.1:1", "task", "list"], &[]).await;
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Cannot reach the master at http://127.0.0.1:1/"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // (A zk:// master is resolved in tests/zookeeper.rs; a bad one is
    // refused before anything is asked.)
    let (code, _, err) = binary(&["--master", "zk://zk1:2181", "agent", "list"], &[]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("missing znode path") && err.lines().count() == 1,
        "{err}"
    );

    let (code, _, err) = binary(&["--master", &master, "frobnicate"], &[]).await;
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");

    let (code, _, err) = binary(&["--master", &master, "task", "exec", "t", "ls"], &[]).await;
    assert_eq!(code, 1);
    assert!(err.contains("not supported"), "{err}");

    // A schedule from stdin (`--file -`).
    let schedule = r#"{"windows": [{"machine_ids": [{"hostname": "from-stdin"}],
        "unavailability": {"start": {"nanoseconds": 0}}}]}"#;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mesos"))
        .args([
            "--master",
            &master,
            "maintenance",
            "schedule",
            "--file",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, schedule.as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let done = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(done.status.success(), "{done:?}");
    let shown = cluster.get("/master/maintenance/schedule").await;
    assert_eq!(
        shown["windows"][0]["machine_ids"][0]["hostname"],
        "from-stdin"
    );

    let (code, out, _) = binary(&["--help"], &[]).await;
    assert_eq!(code, 0);
    assert!(out.contains("maintenance"), "{out}");
    cluster.stop().await;
}

/// Output shared between the command writing it and the test reading it.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
