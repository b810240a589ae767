//! The v1 operator API's SUBSCRIBE (spec 5.4): SUBSCRIBED with the state
//! first, then AGENT_ADDED, FRAMEWORK_ADDED, TASK_ADDED, TASK_UPDATED,
//! AGENT_REMOVED and FRAMEWORK_REMOVED as they happen, in order; and the
//! oldest stream ended beyond `--max_operator_event_stream_subscribers`.

mod common;

use common::*;
use futures::StreamExt;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::*;
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

/// An operator's SUBSCRIBE stream, decoded in the background.
struct Events {
    rx: mpsc::UnboundedReceiver<Json>,
}

impl Events {
    async fn subscribe(m: &mesos_master::MasterHandle) -> Events {
        let r = post_json(
            &format!("http://{}/api/v1", m.addr),
            &json!({"type": "SUBSCRIBE"}),
            &[],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut body = r.bytes_stream();
            let mut dec = mesos_types::recordio::Decoder::default();
            while let Some(Ok(chunk)) = body.next().await {
                dec.feed(&chunk);
                while let Ok(Some(rec)) = dec.next_record() {
                    let v: Json = serde_json::from_slice(&rec).expect("each record is JSON");
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Events { rx }
    }

    /// The next event that is not a HEARTBEAT; `None` once the stream ended.
    async fn next(&mut self) -> Option<Json> {
        loop {
            let e = tokio::time::timeout(std::time::Duration::from_secs(10), self.rx.recv())
                .await
                .expect("an event within 10 s")?;
            if e["type"] != "HEARTBEAT" {
                return Some(e);
            }
        }
    }

    /// The next event, which must be of type `t`; returns its payload.
    async fn expect(&mut self, t: &str) -> Json {
        let e = self.next().await.expect("the stream goes on");
        assert_eq!(e["type"], t, "{e}");
        e[t.to_ascii_lowercase()].clone()
    }
}

#[tokio::test]
async fn a_subscriber_sees_the_state_then_each_change_as_it_happens() {
    let m = master(&[]).await;
    let first = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let mut ev = Events::subscribe(&m).await;
    let sub = ev.expect("SUBSCRIBED").await;
    assert_eq!(sub["heartbeat_interval_seconds"], json!(15.0));
    assert_eq!(
        sub["get_state"]["get_agents"]["agents"][0]["agent_info"]["id"]["value"],
        first.id.value.as_str()
    );

    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let added = ev.expect("AGENT_ADDED").await;
    assert_eq!(
        added["agent"]["agent_info"]["id"]["value"],
        agent.id.value.as_str()
    );
    assert_eq!(added["agent"]["active"], true);

    let mut fw = mesos_scheduler::subscribe(&m.endpoint(), framework_info("watched"))
        .await
        .unwrap();
    let fid = fw.caller.framework_id.clone();
    let f = ev.expect("FRAMEWORK_ADDED").await;
    assert_eq!(
        f["framework"]["framework_info"]["id"]["value"],
        fid.value.as_str()
    );
    assert_eq!(f["framework"]["framework_info"]["name"], "watched");

    let o = next_offer_on(&mut fw, &agent.id).await;
    fw.caller
        .launch(
            vec![o.id],
            vec![command_task("t1", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let t = ev.expect("TASK_ADDED").await;
    assert_eq!(t["task"]["task_id"]["value"], "t1");
    assert_eq!(t["task"]["state"], "TASK_STAGING");
    assert_eq!(t["task"]["framework_id"]["value"], fid.value.as_str());
    while !matches!(agent.next().await, AgentEvent::RunTask { .. }) {}

    agent
        .update(&fid, &TaskID::new("t1"), TaskState::TASK_RUNNING)
        .await;
    let u = ev.expect("TASK_UPDATED").await;
    assert_eq!(u["framework_id"]["value"], fid.value.as_str());
    assert_eq!(u["state"], "TASK_RUNNING");
    assert_eq!(u["status"]["task_id"]["value"], "t1");
    assert_eq!(u["status"]["state"], "TASK_RUNNING");

    // A repeated state is no transition: operators hear nothing of it
    // (the next event below is its loss with the agent).
    agent
        .update(&fid, &TaskID::new("t1"), TaskState::TASK_RUNNING)
        .await;

    // The operator retires the agent: its task is lost, then it is removed.
    let r = post_json(
        &format!("http://{}/api/v1", m.addr),
        &json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent.id.value}}}),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    let u = ev.expect("TASK_UPDATED").await;
    assert_eq!(u["state"], "TASK_LOST");
    assert_eq!(u["status"]["reason"], "REASON_AGENT_REMOVED_BY_OPERATOR");
    let removed = ev.expect("AGENT_REMOVED").await;
    assert_eq!(removed["agent_id"]["value"], agent.id.value.as_str());

    fw.caller.teardown().await.unwrap();
    let gone = ev.expect("FRAMEWORK_REMOVED").await;
    assert_eq!(gone["framework_info"]["id"]["value"], fid.value.as_str());

    // Nothing else happened meanwhile: the next thing a new agent does is
    // the next event.
    let late = FakeAgent::register(&m, "cpus:1;mem:64").await;
    let added = ev.expect("AGENT_ADDED").await;
    assert_eq!(
        added["agent"]["agent_info"]["id"]["value"],
        late.id.value.as_str()
    );
}

#[tokio::test]
async fn the_oldest_subscriber_is_ended_beyond_the_maximum() {
    let m = master(&["--max_operator_event_stream_subscribers=2"]).await;
    let mut a = Events::subscribe(&m).await;
    let mut b = Events::subscribe(&m).await;
    a.expect("SUBSCRIBED").await;
    b.expect("SUBSCRIBED").await;
    let mut c = Events::subscribe(&m).await;
    c.expect("SUBSCRIBED").await;
    assert!(a.next().await.is_none(), "the oldest stream ends");
    // Mesos's gauge of open streams counts the two left.
    let metrics: Json = reqwest::get(format!("http://{}/metrics/snapshot", m.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metrics["master/operator_event_stream_subscribers"], 2.0);
    let agent = FakeAgent::register(&m, "cpus:1;mem:64").await;
    for ev in [&mut b, &mut c] {
        let added = ev.expect("AGENT_ADDED").await;
        assert_eq!(
            added["agent"]["agent_info"]["id"]["value"],
            agent.id.value.as_str()
        );
    }
}
