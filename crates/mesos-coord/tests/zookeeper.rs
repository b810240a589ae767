//! The ZooKeeper backend against a real ensemble (Debian's `zookeeper`,
//! which the README's test command installs): the store conformance suite,
//! election and detection, fencing of a deposed leader, and a leader cut off
//! from ZooKeeper losing its role within the session timeout; and how
//! clients follow the leading master's endpoint (`MasterLocation::detect`).

use mesos_coord::zk::testing;
use mesos_coord::zk::{Detector, Role, ZkSession, ZkStore, ZkUrl};
use mesos_coord::{MasterLocation, Store, StoreError, conformance};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;

const LABEL: &str = "json.info_";

async fn session(url: &str, timeout_ms: u64) -> Arc<ZkSession> {
    let url = ZkUrl::parse(url).unwrap();
    Arc::new(
        ZkSession::connect(&url, Duration::from_millis(timeout_ms))
            .await
            .unwrap(),
    )
}

async fn role_becomes(c: &mesos_coord::zk::Contender, want: impl Fn(&Role) -> bool) -> Role {
    let mut r = c.role();
    timeout(Duration::from_secs(30), r.wait_for(|x| want(x)))
        .await
        .expect("role did not change in time")
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zookeeper_backend() {
    let zk = testing::test_ensemble(3, None);
    let url = zk.url("/mesos");

    // The store conformance suite, as for the embedded stores.
    let s = session(&url, 4000).await;
    let store = ZkStore::new(s.clone(), "/mesos/conformance", None);
    tokio::task::spawn_blocking(move || conformance(&store))
        .await
        .unwrap();
    // A second store over the same znodes sees what the first wrote.
    let again = ZkStore::new(s.clone(), "/mesos/conformance", None);
    let got = tokio::task::spawn_blocking(move || again.get("agents/a").unwrap())
        .await
        .unwrap();
    assert_eq!(got.unwrap().value, b"3");

    // Election: the first member leads; the others follow it and see its data.
    let a = s
        .contend(LABEL, br#"{"address":{"hostname":"a","port":1}}"#)
        .await
        .unwrap();
    let sb = session(&url, 4000).await;
    let b = sb
        .contend(LABEL, br#"{"address":{"hostname":"b","port":2}}"#)
        .await
        .unwrap();
    assert_eq!(role_becomes(&a, |r| *r == Role::Leader).await, Role::Leader);
    let Role::Follower {
        leader: Some(leader),
    } = role_becomes(&b, |r| matches!(r, Role::Follower { leader: Some(_) })).await
    else {
        unreachable!()
    };
    assert_eq!(leader.master_endpoint().as_deref(), Some("a:1"));
    assert!(b.sequence() > a.sequence());

    // A detector (its own session) finds the same leader.
    let detector = Detector::start(ZkUrl::parse(&url).unwrap(), LABEL, Duration::from_secs(4));
    let mut seen = detector.leader();
    let l = timeout(Duration::from_secs(30), seen.wait_for(|l| l.is_some()))
        .await
        .unwrap()
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!(l.master_endpoint().as_deref(), Some("a:1"));

    // The leader's fenced writes succeed; the follower's are refused.
    let leader_store = ZkStore::new(s.clone(), "/mesos/registry", Some(a.fence()));
    let follower_store = Arc::new(ZkStore::new(sb.clone(), "/mesos/registry", Some(b.fence())));
    let leader_store = Arc::new(leader_store);
    let ls = leader_store.clone();
    tokio::task::spawn_blocking(move || {
        ls.write_batch(&[("agents/x".into(), b"1".to_vec())])
            .unwrap()
    })
    .await
    .unwrap();

    // The leader's membership goes (as when its session expires): it learns
    // it lost, its next write is refused, and the follower leads.
    let admin = session(&url, 4000).await;
    admin.client().delete(a.node(), None).await.unwrap();
    assert!(matches!(
        role_becomes(&a, |r| matches!(r, Role::Lost(_))).await,
        Role::Lost(_)
    ));
    let ls = leader_store.clone();
    let refused =
        tokio::task::spawn_blocking(move || ls.write_batch(&[("agents/y".into(), b"1".to_vec())]))
            .await
            .unwrap();
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    assert_eq!(role_becomes(&b, |r| *r == Role::Leader).await, Role::Leader);
    let fs = follower_store.clone();
    let (x, y) = tokio::task::spawn_blocking(move || {
        fs.write_batch(&[("agents/z".into(), b"1".to_vec())])
            .unwrap();
        (fs.get("agents/x").unwrap(), fs.get("agents/y").unwrap())
    })
    .await
    .unwrap();
    assert!(x.is_some(), "the old leader's acknowledged write is kept");
    assert!(y.is_none(), "the refused write left nothing");
    let l = timeout(
        Duration::from_secs(30),
        seen.wait_for(|l| l.as_ref().and_then(|m| m.master_endpoint()).as_deref() == Some("b:2")),
    )
    .await;
    assert!(l.is_ok(), "the detector followed the new leader");
}

/// A leader whose only ZooKeeper server goes silent loses its role within
/// the session timeout, without hearing from ZooKeeper; a member connected
/// to the rest of the ensemble takes over once the servers expire the old
/// session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_zookeeper_steps_down() {
    let zk = testing::test_ensemble(3, None);
    // The cut-off member talks to server 0 only, the other to servers 1 and 2.
    let first = session(&zk.url_of(0, "/cut"), 2000).await;
    let a = first.contend(LABEL, b"{}").await.unwrap();
    role_becomes(&a, |r| *r == Role::Leader).await;
    let rest = zk.url_without(0, "/cut");
    let second = session(&rest, 2000).await;
    let b = second.contend(LABEL, b"{}").await.unwrap();
    role_becomes(&b, |r| matches!(r, Role::Follower { .. })).await;
    let store = Arc::new(ZkStore::new(
        first.clone(),
        "/cut/registry",
        Some(a.fence()),
    ));

    zk.pause(0);
    let started = std::time::Instant::now();
    role_becomes(&a, |r| matches!(r, Role::Lost(_))).await;
    let lost_after = started.elapsed();
    // Lost once disconnected for the session timeout (2 s), plus detection.
    assert!(
        lost_after < Duration::from_secs(8),
        "lost after {lost_after:?}"
    );
    let s = store.clone();
    let refused = tokio::task::spawn_blocking(move || s.write_batch(&[("k".into(), vec![1])]))
        .await
        .unwrap();
    assert!(refused.is_err());
    role_becomes(&b, |r| *r == Role::Leader).await;
    zk.resume(0);
}

/// 50,000 agents' records (~1 KB each, as the master's admitted-agent
/// records with resources and attributes) written in one batch and read
/// back by another store: the buckets stay under ZooKeeper's 1 MB per
/// znode and per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_agents_fit_in_zookeeper() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/big");
    let s = session(&url, 10_000).await;
    let record = vec![b'a'; 1000];
    let writes: Vec<(String, Vec<u8>)> = (0..50_000)
        .map(|i| {
            (
                format!("agents/{i:08}-0000-4000-8000-000000000000-S{i}"),
                record.clone(),
            )
        })
        .collect();
    let store = ZkStore::new(s.clone(), "/big/registry", None);
    let written = tokio::task::spawn_blocking(move || store.write_batch(&writes))
        .await
        .unwrap();
    if let Err(e) = written {
        let log = zk.log(0);
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        panic!("{e}; the server's log ends: {tail:#?}");
    }
    let again = ZkStore::new(s.clone(), "/big/registry", None);
    let (n, one) = tokio::task::spawn_blocking(move || {
        let all = again.list("agents/").unwrap();
        again.put("agents/extra", b"x", 0).unwrap();
        (
            all.len(),
            again
                .get("agents/00000007-0000-4000-8000-000000000000-S7")
                .unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(n, 50_000);
    assert_eq!(one.unwrap().value.len(), 1000);
    let buckets = s.client().list_children("/big/registry").await.unwrap();
    for b in buckets {
        let (_, stat) = s
            .client()
            .get_data(&format!("/big/registry/{b}"))
            .await
            .unwrap();
        assert!(
            stat.data_length < 1_000_000,
            "{b}: {} bytes",
            stat.data_length
        );
    }
}

/// What every client of the master uses: the leader's `host:port`, as
/// masters come and go in the group (lowest sequence leads), `None` while
/// there is none; and the one-shot form with its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_follow_the_leading_masters_endpoint() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/detect");
    let location = MasterLocation::parse(&url).unwrap();
    let admin = session(&url, 4000).await;
    let a: std::net::SocketAddr = "127.0.0.1:5001".parse().unwrap();
    let b: std::net::SocketAddr = "127.0.0.1:5002".parse().unwrap();

    let none = location
        .leader_within(Duration::from_secs(4), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(
        none.to_string(),
        format!("no leading master found in {url} within 0.5s")
    );

    let mut leader = location.detect(Duration::from_secs(4));
    let node_a = testing::announce_master(&admin, a).await.unwrap();
    let node_b = testing::announce_master(&admin, b).await.unwrap();
    let is = |want: Option<&'static str>| move |l: &Option<String>| l.as_deref() == want;
    timeout(
        Duration::from_secs(30),
        leader.wait_for(is(Some("127.0.0.1:5001"))),
    )
    .await
    .expect("the first master leads")
    .unwrap();
    assert_eq!(
        location
            .leader_within(Duration::from_secs(4), Duration::from_secs(30))
            .await
            .as_deref(),
        Ok("127.0.0.1:5001")
    );
    admin.client().delete(&node_a, None).await.unwrap();
    timeout(
        Duration::from_secs(30),
        leader.wait_for(is(Some("127.0.0.1:5002"))),
    )
    .await
    .expect("the second master leads once the first is gone")
    .unwrap();
    admin.client().delete(&node_b, None).await.unwrap();
    timeout(Duration::from_secs(30), leader.wait_for(is(None)))
        .await
        .expect("no leader once both are gone")
        .unwrap();
}

/// A detector started before any master created the group (agents often
/// start first) waits for it without creating it, then finds the leader.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detector_started_before_the_group_exists_finds_its_leader() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/later/mesos");
    let detector = Detector::start(ZkUrl::parse(&url).unwrap(), LABEL, Duration::from_secs(4));
    let admin = session(&zk.url("/admin"), 4000).await;
    // The detector did not create the group.
    let mut created = false;
    for _ in 0..20 {
        tokio::task::yield_now().await;
        created |= admin
            .client()
            .check_stat("/later/mesos")
            .await
            .unwrap()
            .is_some();
    }
    assert!(!created, "a detector must not create the group");
    let master = session(&url, 4000).await;
    let _member = master
        .contend(LABEL, br#"{"address":{"ip":"10.0.0.9","port":5050}}"#)
        .await
        .unwrap();
    let mut leader = detector.leader();
    let found = timeout(Duration::from_secs(30), leader.wait_for(|l| l.is_some()))
        .await
        .expect("the detector finds the leader once the group exists")
        .unwrap()
        .clone()
        .unwrap();
    assert_eq!(found.master_endpoint().as_deref(), Some("10.0.0.9:5050"));
}

/// A batch too big for one request is written in parts; when a later part
/// is refused (here another writer changed one of its buckets), the parts
/// already written are undone, so the batch is all or nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_half_way_is_undone() {
    let zk = testing::test_ensemble(1, None);
    let url = zk.url("/undo");
    let s = session(&url, 10_000).await;
    // Eight keys in eight different buckets, 100 KB each: a batch of all
    // of them takes two requests of at most 512 KB.
    let mut keys: Vec<String> = Vec::new();
    let mut buckets = std::collections::BTreeSet::new();
    for i in 0.. {
        let k = format!("agents/undo-{i}");
        if buckets.insert(mesos_coord::zk::bucket_of(&k)) {
            keys.push(k);
        }
        if keys.len() == 8 {
            break;
        }
    }
    keys.sort_by_key(|k| mesos_coord::zk::bucket_of(k));
    let value = |tag: u8| vec![tag; 100_000];
    let first: Vec<(String, Vec<u8>)> = keys.iter().map(|k| (k.clone(), value(b'a'))).collect();
    let a = Arc::new(ZkStore::new(s.clone(), "/undo/registry", None));
    let a2 = a.clone();
    tokio::task::spawn_blocking(move || a2.write_batch(&first).unwrap())
        .await
        .unwrap();
    // Another writer changes the last bucket behind the first one's back.
    let last = keys[7].clone();
    let other = ZkStore::new(s.clone(), "/undo/registry", None);
    let l2 = last.clone();
    tokio::task::spawn_blocking(move || other.write_batch(&[(l2, value(b'o'))]).unwrap())
        .await
        .unwrap();
    let second: Vec<(String, Vec<u8>)> = keys.iter().map(|k| (k.clone(), value(b'b'))).collect();
    let a2 = a.clone();
    let refused = tokio::task::spawn_blocking(move || a2.write_batch(&second))
        .await
        .unwrap();
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    let fresh = ZkStore::new(s.clone(), "/undo/registry", None);
    let held = tokio::task::spawn_blocking(move || {
        keys.iter()
            .map(|k| (k.clone(), fresh.get(k).unwrap().unwrap().value[0]))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (k, tag) in held {
        let want = if k == last { b'o' } else { b'a' };
        assert_eq!(tag, want, "{k}: the refused batch left nothing behind");
    }
}
