//! The SDK with a `zk://` master, against real masters found through a real
//! ZooKeeper (Debian's `zookeeper`, which the README's test command
//! installs): the subscription follows the leader and re-subscribes with
//! its framework id; and a master that does not lead redirects it. The
//! masters do not announce themselves here: the test writes their
//! `json.info_` znodes, as a master joining the group would.

use mesos_coord::zk::testing;
use mesos_coord::zk::{ZkSession, ZkUrl};
use mesos_master::{MasterFlags, MasterHandle};
use mesos_scheduler::{Options, SchedulerError, Subscription};
use mesos_types::FrameworkInfo;
use mesos_types::scheduler::{Event, EventType};
use serde_json::Value;
use std::time::Duration;
use tokio::time::timeout;

/// Every wait ends here at the latest (a hang is a failure).
const DEADLINE: Duration = Duration::from_secs(60);

async fn master() -> MasterHandle {
    master_on(0).await
}

async fn master_on(port: u16) -> MasterHandle {
    let flags = <MasterFlags as clap::Parser>::parse_from([
        "mesos-master".to_string(),
        "--ip=127.0.0.1".into(),
        format!("--port={port}"),
        "--registry=in_memory".into(),
    ]);
    mesos_master::start(flags, Default::default())
        .await
        .expect("master starts")
}

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        user: "nobody".into(),
        name: "zk-follower".into(),
        // Survives the switch, so nothing is torn down under the test.
        failover_timeout: 600.0,
        ..Default::default()
    }
}

fn options() -> Options {
    Options {
        zk_session_timeout: Duration::from_secs(4),
        leader_timeout: DEADLINE,
        ..Options::default()
    }
}

/// Framework `id` as `master` shows it in `/master/frameworks`, once
/// `pred` holds.
async fn framework_on(master: &MasterHandle, id: &str, pred: impl Fn(&Value) -> bool) {
    let url = format!("http://{}/master/frameworks", master.endpoint());
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && let Ok(doc) = r.json::<Value>().await
            && let Some(f) = doc["frameworks"]
                .as_array()
                .and_then(|f| f.iter().find(|f| f["id"] == id))
            && pred(f)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "master {} never showed framework {id} as expected",
            master.endpoint()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next event of `kind`, skipping others (heartbeats, offers).
async fn next_of(sub: &mut Subscription, kind: EventType) -> Event {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let e = tokio::time::timeout_at(deadline, sub.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} event in time"))
            .expect("the subscription stays open");
        if e.kind == kind {
            return e;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zk_subscription_follows_the_leader_and_keeps_its_framework_id() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/mesos");
    let admin = ZkSession::connect(&ZkUrl::parse(&url).unwrap(), Duration::from_secs(4))
        .await
        .expect("ZooKeeper session");

    // Nobody leads yet: a clear error once the wait is over.
    let quick = Options {
        leader_timeout: Duration::from_millis(500),
        ..options()
    };
    let e = mesos_scheduler::subscribe_opts(&url, framework(), quick)
        .await
        .unwrap_err();
    assert!(matches!(e, SchedulerError::NoLeaderDetected(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("no leading master found in {url} within 0.5s")
    );

    let a = master().await;
    let b = master().await;
    let node_a = testing::announce_master(&admin, a.addr).await.unwrap();
    let mut sub = mesos_scheduler::subscribe_opts(&url, framework(), options())
        .await
        .expect("subscribes with the leading master");
    let id = sub.caller.framework_id.clone();
    assert!(
        sub.caller.current_url().contains(&a.endpoint()),
        "{}",
        sub.caller.current_url()
    );
    framework_on(&a, &id.value, |f| f["active"] == true).await;
    // A clone taken now must follow the switch too.
    let clone = sub.caller.clone();

    // A leaves the group, B joins: the SDK re-subscribes with B, under the
    // same framework id, and says so with a SUBSCRIBED event. A, still
    // running, sees the framework disconnect: the switch came from
    // detection, not from a dead stream.
    let _node_b = testing::announce_master(&admin, b.addr).await.unwrap();
    admin.client().delete(&node_a, None).await.unwrap();
    let again = next_of(&mut sub, EventType::SUBSCRIBED).await;
    assert_eq!(again.subscribed.map(|s| s.framework_id), Some(id.clone()));
    framework_on(&b, &id.value, |f| f["active"] == true).await;
    framework_on(&a, &id.value, |f| f["active"] == false).await;
    assert!(clone.current_url().contains(&b.endpoint()));
    assert_ne!(clone.current_stream_id(), sub.caller.stream_id);
    // B takes calls on the new stream, from the subscription's caller and
    // from the clone.
    sub.caller.reconcile(vec![]).await.expect("B takes a call");
    clone.suppress().await.expect("B takes a call from a clone");

    // B dies and comes back on the same address, its znode untouched: no
    // leader change, only the stream's end. The SDK re-subscribes, with
    // the same id, to the master that still leads.
    let b_addr = b.addr;
    b.stop().await;
    let b2 = master_on(b_addr.port()).await;
    let again = next_of(&mut sub, EventType::SUBSCRIBED).await;
    assert_eq!(again.subscribed.map(|s| s.framework_id), Some(id.clone()));
    framework_on(&b2, &id.value, |f| f["active"] == true).await;
    clone
        .reconcile(vec![])
        .await
        .expect("the restarted B takes calls");

    drop(sub);
    a.stop().await;
    b2.stop().await;
}

/// A master that does not lead answers `307` with a protocol-relative
/// `Location`; SUBSCRIBE lands on the leader and calls go there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_follows_a_redirect_to_the_leader() {
    let leader = master().await;
    let location = format!("//{}/master/api/v1/scheduler", leader.endpoint());
    let app = axum::Router::new().fallback(move || {
        let location = location.clone();
        async move {
            axum::response::Response::builder()
                .status(307)
                .header("Location", location)
                .body(axum::body::Body::empty())
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let standby = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let sub = timeout(
        DEADLINE,
        mesos_scheduler::subscribe(&standby.to_string(), framework()),
    )
    .await
    .expect("subscribes in time")
    .expect("subscribes through the redirect");
    assert!(
        sub.caller.current_url().contains(&leader.endpoint()),
        "{}",
        sub.caller.current_url()
    );
    framework_on(&leader, &sub.caller.framework_id.value, |f| {
        f["active"] == true
    })
    .await;
    sub.caller
        .reconcile(vec![])
        .await
        .expect("the leader takes calls");

    server.abort();
    drop(sub);
    leader.stop().await;
}
