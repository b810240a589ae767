//! `mesos` and `mesos-execute` with `--master=zk://...` (and `file://`),
//! against real masters found through a real ZooKeeper (Debian's
//! `zookeeper`, which the README's test command installs): the one-shot
//! commands resolve the leader, say so clearly when there is none, and a
//! `mesos-execute` run outlives a change of leading master. The masters do
//! not announce themselves here: the test writes their `json.info_` znodes,
//! as a master joining the group would.

mod support;

use mesos_cli::mesos::{Context, args::Cli, run};
use mesos_coord::zk::testing;
use mesos_coord::zk::{ZkSession, ZkUrl};
use mesos_master::{MasterFlags, MasterHandle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;
use tokio::io::AsyncBufReadExt;

async fn admin(url: &str) -> ZkSession {
    ZkSession::connect(&ZkUrl::parse(url).unwrap(), Duration::from_secs(4))
        .await
        .expect("ZooKeeper session")
}

async fn master() -> MasterHandle {
    let flags = <MasterFlags as clap::Parser>::parse_from([
        "mesos-master",
        "--ip=127.0.0.1",
        "--port=0",
        "--registry=in_memory",
        "--allocation_interval=50ms",
    ]);
    mesos_master::start(flags, Default::default())
        .await
        .expect("master starts")
}

/// `GET` a master endpoint's JSON, `None` if it does not answer.
async fn get(master: &MasterHandle, path: &str) -> Option<Value> {
    reqwest::get(format!("http://{}{path}", master.endpoint()))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

/// `mesos-execute <args>` as a process.
fn execute(args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_mesos-execute"));
    cmd.args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_and_mesos_execute_find_the_leader_through_zookeeper() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/mesos");
    let cluster = Cluster::start().await;
    let zk_admin = admin(&url).await;
    testing::announce_master(&zk_admin, cluster.master.addr)
        .await
        .unwrap();
    let agent_id = cluster.agent.agent_id().expect("registered").value;

    // `mesos`: zk:// and file:// holding it.
    let agents = cli_at(&url, &["agent", "list"]).await.unwrap();
    assert!(agents.contains(&agent_id), "{agents}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("master");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let agents = cli_at(&format!("file://{}", file.display()), &["agent", "list"])
        .await
        .unwrap();
    assert!(agents.contains(&agent_id), "{agents}");

    // A group nobody leads: the command says where it looked and how long.
    let empty = zk.url("/empty");
    let cli = <Cli as clap::Parser>::try_parse_from(["mesos", "--master", &empty, "agent", "list"])
        .unwrap();
    let ctx = Context {
        leader_timeout: Some(Duration::from_millis(500)),
        ..Context::default()
    };
    let e = run(cli, &ctx, &mut Vec::new()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("no leading master found in {empty} within 0.5s")
    );
    // The binary too (one line, exit 1); its wait is the default.
    let (code, _, stderr) = binary(&["--master=zk://127.0.0.1:2181", "agent", "list"], &[]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("missing znode path"), "{stderr}");

    // `mesos-execute` runs a task on the leader it found.
    let out = tokio::time::timeout(
        DEADLINE,
        execute(&[
            format!("--master={url}"),
            "--name=zk-echo".into(),
            "--command=true".into(),
            "--resources=cpus:0.1;mem:32".into(),
        ])
        .output(),
    )
    .await
    .expect("mesos-execute finishes")
    .expect("mesos-execute runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Received status update TASK_FINISHED for task 'zk-echo'"),
        "{stdout}"
    );

    cluster.stop().await;
}

/// A task is running when the leading master changes: the agent and
/// `mesos-execute` both move to the new leader (same agent and framework
/// ids), and the task's end reaches `mesos-execute` through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesos_execute_survives_a_change_of_leading_master() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/mesos");
    let zk_admin = admin(&url).await;
    let a = master().await;
    let b = master().await;
    let work = tempfile::tempdir().unwrap();
    let sources = mesos_flags::FlagSources {
        args: vec![
            format!("--master={url}"),
            "--zk_session_timeout=4secs".into(),
            "--ip=127.0.0.1".into(),
            "--port=0".into(),
            format!("--work_dir={}", work.path().join("agent").display()),
            format!("--launcher_dir={}", examples_dir().display()),
            "--resources=cpus:2;mem:1024;disk:1024".into(),
            "--registration_backoff_factor=100ms".into(),
            "--no-switch_user".into(),
        ],
        ..Default::default()
    };
    let loaded = mesos_agent::flags::load(&sources).expect("agent flags");
    let agent = mesos_agent::start(loaded.flags, BTreeMap::new())
        .await
        .expect("agent starts");
    let node_a = testing::announce_master(&zk_admin, a.addr).await.unwrap();
    let agent_id = tokio::time::timeout(DEADLINE, agent.registered())
        .await
        .expect("the agent registers with A")
        .value;

    // The task waits for a file the test creates after the switch.
    let go = work.path().join("go");
    let mut child = execute(&[
        format!("--master={url}"),
        "--name=zk-wait".into(),
        format!(
            "--command=while [ ! -e {} ]; do sleep 0.1; done",
            go.display()
        ),
        "--resources=cpus:0.1;mem:32".into(),
    ])
    .spawn()
    .expect("mesos-execute runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen: Vec<String> = Vec::new();
    let mut until = async |want: &str, seen: &mut Vec<String>| {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no '{want}' from mesos-execute: {seen:#?}"))
                .expect("reading mesos-execute's output")
                .unwrap_or_else(|| panic!("mesos-execute ended before '{want}': {seen:#?}"));
            seen.push(line.clone());
            if line.contains(want) {
                return line;
            }
        }
    };
    let subscribed = until("Subscribed with ID ", &mut seen).await;
    let framework_id = subscribed
        .trim_start_matches("Subscribed with ID ")
        .to_string();
    until("TASK_RUNNING", &mut seen).await;

    // A leaves the group, B joins.
    let _node_b = testing::announce_master(&zk_admin, b.addr).await.unwrap();
    zk_admin.client().delete(&node_a, None).await.unwrap();
    let again = until("Subscribed with ID ", &mut seen).await;
    assert_eq!(again, subscribed, "re-subscribed under the same id");
    eventually("B to know the agent and the running task", || async {
        let state = get(&b, "/master/state").await?;
        let agent_active = state["slaves"]
            .as_array()?
            .iter()
            .any(|s| s["id"] == agent_id.as_str() && s["active"] == true);
        let task_running = state["frameworks"]
            .as_array()?
            .iter()
            .filter(|f| f["id"] == framework_id.as_str() && f["active"] == true)
            .flat_map(|f| f["tasks"].as_array().into_iter().flatten())
            .any(|t| t["id"] == "zk-wait" && t["state"] == "TASK_RUNNING");
        (agent_active && task_running).then_some(())
    })
    .await;

    std::fs::write(&go, "").unwrap();
    until("TASK_FINISHED", &mut seen).await;
    let status = tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("mesos-execute exits")
        .expect("mesos-execute's status");
    assert_eq!(status.code(), Some(0), "{seen:#?}");

    agent.shutdown().await;
    a.stop().await;
    b.stop().await;
}
