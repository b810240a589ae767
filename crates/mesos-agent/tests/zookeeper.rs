//! An agent given `--master=zk://...` against real masters found through a
//! real ZooKeeper (Debian's `zookeeper`, which the README's test command
//! installs). The masters do not announce themselves here: the test writes
//! their `json.info_` znodes, as a master joining the group would.

use mesos_agent::AgentFlags;
use mesos_coord::zk::testing;
use mesos_coord::zk::{ZkSession, ZkUrl};
use mesos_master::{MasterFlags, MasterHandle};
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use tokio::time::timeout;

/// Every wait ends here at the latest (a hang is a failure).
const DEADLINE: Duration = Duration::from_secs(60);

async fn master() -> MasterHandle {
    let flags = <MasterFlags as clap::Parser>::parse_from([
        "mesos-master",
        "--ip=127.0.0.1",
        "--port=0",
        "--registry=in_memory",
    ]);
    mesos_master::start(flags, Default::default())
        .await
        .expect("master starts")
}

/// The agent as `master` sees it in `/master/slaves`, once `pred` holds.
async fn agent_on(master: &MasterHandle, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let url = format!("http://{}/master/slaves", master.endpoint());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && let Ok(doc) = r.json::<Value>().await
            && let Some(agent) = doc["slaves"]
                .as_array()
                .and_then(|s| s.iter().find(|a| a["id"] == id))
            && pred(agent)
        {
            return agent.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "master {} never showed agent {id} as expected",
            master.endpoint()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_follows_the_leading_master_through_zookeeper() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/mesos");
    let admin = ZkSession::connect(&ZkUrl::parse(&url).unwrap(), Duration::from_secs(4))
        .await
        .expect("ZooKeeper session");
    let a = master().await;
    let b = master().await;

    let work = tempfile::tempdir().unwrap();
    let launcher = tempfile::tempdir().unwrap();
    let stub = launcher.path().join("mesos-executor");
    std::fs::write(&stub, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let flags = <AgentFlags as clap::Parser>::try_parse_from([
        "mesos-agent".to_string(),
        format!("--master={url}"),
        "--zk_session_timeout=4secs".into(),
        format!("--work_dir={}", work.path().display()),
        format!("--launcher_dir={}", launcher.path().display()),
        "--ip=127.0.0.1".into(),
        "--port=0".into(),
        "--resources=cpus:1;mem:256;disk:100".into(),
        "--registration_backoff_factor=100ms".into(),
    ])
    .unwrap();
    let agent = mesos_agent::start(flags, BTreeMap::new())
        .await
        .expect("an agent with a zk:// master starts before any master leads");

    // No master in the group: the agent waits for one.
    assert!(
        timeout(Duration::from_millis(500), agent.registered())
            .await
            .is_err(),
        "registered without a leading master"
    );

    // Master A leads: the agent registers with it.
    let node_a = testing::announce_master(&admin, a.addr).await.unwrap();
    let id = timeout(DEADLINE, agent.registered())
        .await
        .expect("the agent registers with the leading master")
        .value;
    agent_on(&a, &id, |s| s["active"] == true).await;

    // A leaves the group and B joins: the agent re-registers with B under
    // the same id, and drops its stream to A (which, still running here,
    // sees it disconnect: the switch came from detection, not a dead link).
    let _node_b = testing::announce_master(&admin, b.addr).await.unwrap();
    admin.client().delete(&node_a, None).await.unwrap();
    agent_on(&b, &id, |s| s["active"] == true).await;
    agent_on(&a, &id, |s| s["active"] == false).await;
    assert_eq!(agent.agent_id().map(|i| i.value), Some(id.clone()));

    agent.shutdown().await;
    a.stop().await;
    b.stop().await;
}
