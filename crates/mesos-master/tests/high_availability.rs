//! Masters with `--zk` against a real ZooKeeper ensemble (Debian's
//! `zookeeper`): one leader, the others pointing to it (307, redirect,
//! state, metrics), the registry kept in ZooKeeper across a failover, a
//! leader cut off from ZooKeeper stepping down, and a leader that loses
//! ZooKeeper's quorum pausing its changes until the quorum is back.

mod common;

use mesos_coord::zk::testing;
use mesos_coord::zk::{ZkSession, ZkUrl};
use mesos_master::leadership::MasterRole;
use mesos_master::{MasterFlags, MasterHandle};
use serde_json::{Value, json};
use std::time::Duration;

async fn zk_master(zk: &str, session_timeout: &str) -> MasterHandle {
    let zk_flag = format!("--zk={zk}");
    let timeout_flag = format!("--zk_session_timeout={session_timeout}");
    let flags = <MasterFlags as clap::Parser>::parse_from([
        "mesos-master",
        "--port=0",
        zk_flag.as_str(),
        "--quorum=2",
        // Three masters whatever servers this one is given.
        "--masters=3",
        "--registry=replicated_log",
        timeout_flag.as_str(),
        "--allocation_interval=50ms",
    ]);
    mesos_master::start(flags, Default::default())
        .await
        .expect("master starts")
}

async fn role_becomes(
    h: &MasterHandle,
    what: &str,
    want: impl Fn(&MasterRole) -> bool,
) -> MasterRole {
    let mut role = h.shared.watch_role();
    tokio::time::timeout(Duration::from_secs(30), role.wait_for(|r| want(r)))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "master {} did not become {what}: {:?}",
                h.addr,
                h.shared.role()
            )
        })
        .expect("role channel open")
        .clone()
}

fn follows(id: &str) -> impl Fn(&MasterRole) -> bool + '_ {
    move |r| matches!(r, MasterRole::Standby { leader: Some(l) } if l.id == id)
}

fn id_of(h: &MasterHandle) -> String {
    h.shared.read(|m| m.info.id.clone())
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn put_weight(h: &MasterHandle, role: &str, weight: f64) -> reqwest::StatusCode {
    no_redirects()
        .put(format!("http://{}/weights", h.addr))
        .json(&json!([{"role": role, "weight": weight}]))
        .send()
        .await
        .unwrap()
        .status()
}

async fn weight_of(h: &MasterHandle, role: &str) -> Option<f64> {
    let all = get_json(&format!("http://{}/weights", h.addr)).await;
    all.as_array()?
        .iter()
        .find(|w| w["role"] == role)
        .and_then(|w| w["weight"].as_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_the_others_point_to_it_and_the_registry_survives_failover() {
    let zk = testing::test_ensemble(3, None);
    let url = zk.url("/mesos");
    let a = zk_master(&url, "4secs").await;
    role_becomes(&a, "the leader", |r| *r == MasterRole::Leading).await;
    let b = zk_master(&url, "4secs").await;
    let c = zk_master(&url, "4secs").await;
    let a_id = id_of(&a);
    role_becomes(&b, "a follower of a", follows(&a_id)).await;
    role_becomes(&c, "a follower of a", follows(&a_id)).await;

    // What pymesos and mesos-dns read: three json.info_ members, the lowest
    // carrying the leader's MasterInfo as JSON.
    let session = ZkSession::connect(&ZkUrl::parse(&url).unwrap(), Duration::from_secs(4))
        .await
        .unwrap();
    let mut children = session.client().list_children("/mesos").await.unwrap();
    children.retain(|c| c.starts_with("json.info_"));
    children.sort();
    assert_eq!(children.len(), 3, "{children:?}");
    let (data, _) = session
        .client()
        .get_data(&format!("/mesos/{}", children[0]))
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&data).unwrap();
    let port = a.addr.port();
    assert_eq!(info["id"], a_id.as_str());
    assert_eq!(info["address"]["port"], port);
    assert_eq!(info["address"]["ip"], "127.0.0.1");
    assert_eq!(info["pid"], format!("master@127.0.0.1:{port}"));
    assert_eq!(info["ip"], 16777343u32);

    // A follower sends clients to the leader.
    let http = no_redirects();
    let scheduler = http
        .post(format!("http://{}/api/v1/scheduler", b.addr))
        .header("Content-Type", "application/json")
        .body("{}");
    let tasks = http.get(format!("http://{}/master/tasks?limit=3", c.addr));
    let redirect = http.get(format!("http://{}/master/redirect", b.addr));
    // The web UI of a follower sends the browser to the leader.
    let ui = http
        .get(format!("http://{}/", b.addr))
        .header("Accept", "text/html");
    for (request, location) in [
        (scheduler, "/master/api/v1/scheduler"),
        (tasks, "/master/tasks?limit=3"),
        (redirect, ""),
        (ui, "/"),
    ] {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 307, "{location}");
        assert_eq!(
            r.headers()["location"],
            format!("//127.0.0.1:{port}{location}").as_str()
        );
    }
    // ... and still answers what every master answers.
    let state = get_json(&format!("http://{}/master/state", b.addr)).await;
    assert_eq!(state["leader"], format!("master@127.0.0.1:{port}"));
    assert_eq!(state["leader_info"]["id"], a_id.as_str());
    assert_ne!(state["id"], a_id.as_str());
    assert!(state.get("elected_time").is_none());
    let leader_state = get_json(&format!("http://{}/master/state", a.addr)).await;
    assert_eq!(leader_state["leader"], leader_state["pid"]);
    assert!(leader_state["elected_time"].is_number());
    let metrics = |h: &MasterHandle| format!("http://{}/metrics/snapshot", h.addr);
    assert_eq!(get_json(&metrics(&b)).await["master/elected"], 0.0);
    assert_eq!(get_json(&metrics(&a)).await["master/elected"], 1.0);
    assert_eq!(
        reqwest::get(format!("http://{}/master/health", b.addr))
            .await
            .unwrap()
            .status(),
        200
    );

    // A registry write acknowledged by the leader survives its death.
    assert_eq!(put_weight(&a, "analytics", 2.5).await, 200);
    a.stop().await;
    // role_becomes gives each master 30 s.
    let new_leader = tokio::select! {
        _ = role_becomes(&b, "the leader", |r| *r == MasterRole::Leading) => &b,
        _ = role_becomes(&c, "the leader", |r| *r == MasterRole::Leading) => &c,
    };
    assert_eq!(weight_of(new_leader, "analytics").await, Some(2.5));
    let other = if std::ptr::eq(new_leader, &b) { &c } else { &b };
    role_becomes(
        other,
        "a follower of the new leader",
        follows(&id_of(new_leader)),
    )
    .await;
    assert_eq!(put_weight(new_leader, "batch", 0.5).await, 200);
}

/// The leader talks to one ZooKeeper server, which goes silent: within the
/// session timeout it stops acting as leader (503, unhealthy, no writes)
/// and a master connected to the rest of the ensemble takes over with the
/// registry as it was. Healing the link does not bring the old leader back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_zookeeper_steps_down() {
    let zk = testing::test_ensemble(3, None);
    let a = zk_master(&zk.url_of(0, "/mesos"), "2secs").await;
    role_becomes(&a, "the leader", |r| *r == MasterRole::Leading).await;
    let rest = zk.url_without(0, "/mesos");
    let b = zk_master(&rest, "2secs").await;
    role_becomes(&b, "a follower", follows(&id_of(&a))).await;
    assert_eq!(put_weight(&a, "before", 3.0).await, 200);

    zk.pause(0);
    let lost = role_becomes(&a, "lost", |r| matches!(r, MasterRole::Lost(_))).await;
    assert!(format!("{lost:?}").contains("expired"), "{lost:?}");
    let health = reqwest::get(format!("http://{}/master/health", a.addr))
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(put_weight(&a, "during", 1.0).await, 503);
    role_becomes(&b, "the leader", |r| *r == MasterRole::Leading).await;
    assert_eq!(weight_of(&b, "before").await, Some(3.0));
    assert_eq!(put_weight(&b, "after", 2.0).await, 200);

    zk.resume(0);
    assert!(matches!(a.shared.role(), MasterRole::Lost(_)));
    assert_eq!(weight_of(&b, "during").await, None);
}

/// ZooKeeper loses its quorum (two of three servers die): the leader stops
/// making changes and says so in `/master/health`; when the quorum is back
/// (within the session timeout) it resumes, with every acknowledged write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_zookeeper_quorum_pauses_changes_until_it_returns() {
    // ZooKeeper's tick of 1 s lets the session last the 20 s asked (at most
    // 20 ticks): the quorum comes back well within it.
    assert!(
        testing::available(),
        "ZooKeeper is not installed: run scripts/test.sh"
    );
    let mut zk = testing::Ensemble::start(3, 1000).expect("a ZooKeeper ensemble starts");
    let url = zk.url("/mesos");
    let a = zk_master(&url, "20secs").await;
    role_becomes(&a, "the leader", |r| *r == MasterRole::Leading).await;
    assert_eq!(put_weight(&a, "kept", 4.0).await, 200);

    zk.kill(1);
    zk.kill(2);
    let health_url = format!("http://{}/master/health", a.addr);
    let unhealthy = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let r = reqwest::get(&health_url).await.unwrap();
            if r.status() == 503 {
                return r.json::<Value>().await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the leader reports losing ZooKeeper");
    assert!(
        unhealthy["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ZooKeeper"),
        "{unhealthy}"
    );
    assert_eq!(put_weight(&a, "refused", 1.0).await, 503);

    zk.restart(1).unwrap();
    zk.restart(2).unwrap();
    zk.wait_serving(Duration::from_secs(60)).unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        while reqwest::get(&health_url).await.unwrap().status() != 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the leader is healthy again once ZooKeeper has its quorum");
    assert_eq!(a.shared.role(), MasterRole::Leading);
    assert_eq!(put_weight(&a, "resumed", 2.0).await, 200);
    assert_eq!(weight_of(&a, "kept").await, Some(4.0));
    assert_eq!(weight_of(&a, "refused").await, None);
}
