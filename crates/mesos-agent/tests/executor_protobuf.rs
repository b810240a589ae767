//! An executor speaking `application/x-protobuf` (as the C++, Java and Go
//! executor libraries do) against an in-process agent and a fake master:
//! it subscribes, gets SUBSCRIBED and LAUNCH as protobuf records, sends
//! updates and a message in protobuf, and gets ACKNOWLEDGED back. Bad
//! protobuf bodies, unknown content types and unacceptable `Accept`s are
//! refused with a reason.

#[path = "support/agent.rs"]
mod agent_setup;
mod support;

use agent_setup::*;
use futures::StreamExt;
use mesos_proto::{ContentType, Message};
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::executor::Event;
use mesos_types::{ExecutorEventType, Source, TaskState, recordio};
use serde_json::{Value, json};
use support::*;
use tokio::sync::mpsc;

const PROTOBUF: &str = "application/x-protobuf";
const UUID1: &str = "AAECAwQFBgcICQoLDA0ODw==";
const UUID2: &str = "EBESExQVFhcYGRobHB0eHw==";

fn call(kind: &str, extra: Value) -> Value {
    let mut c =
        json!({"type": kind, "framework_id": {"value": "F1"}, "executor_id": {"value": "t1"}});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(extra.clone());
    }
    c
}

fn update(state: &str, uuid: &str) -> Value {
    call(
        "UPDATE",
        json!({"update": {"status": {"task_id": {"value": "t1"}, "state": state,
            "source": "SOURCE_EXECUTOR", "uuid": uuid, "timestamp": 1.5, "data": "3q2+7w=="}}}),
    )
}

async fn post_protobuf(s: &Setup, body: Vec<u8>, accept: Option<&str>) -> reqwest::Response {
    let mut req = s
        .http
        .post(format!("{}/slave(1)/api/v1/executor", s.base))
        .header("content-type", PROTOBUF)
        .body(body);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    req.send().await.unwrap()
}

fn encode(c: &Value) -> Vec<u8> {
    ContentType::Protobuf
        .encode(Message::ExecutorCall, c)
        .unwrap()
}

/// The SUBSCRIBE stream's protobuf records, decoded.
fn protobuf_events(r: reqwest::Response) -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut dec = recordio::Decoder::default();
        let mut body = r.bytes_stream();
        while let Some(Ok(chunk)) = body.next().await {
            dec.feed(&chunk);
            while let Ok(Some(rec)) = dec.next_record() {
                let e: Event = ContentType::Protobuf
                    .decode(Message::ExecutorEvent, &rec)
                    .expect("each record is an executor::Event");
                if tx.send(e).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

#[tokio::test]
async fn a_protobuf_executor_subscribes_updates_and_is_acknowledged() {
    let mut s = setup(&[]).await;
    assert_eq!(s.agent.registered().await.value, "M-S0");
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: command_task("t1"),
    });
    s.sandbox("t1").await;
    // Only a forked executor may subscribe (anything earlier is refused).
    s.forked("t1").await;

    // Refusals first: nothing of them reaches the core.
    let subscribe = encode(&call("SUBSCRIBE", json!({"subscribe": {}})));
    /// name, body, Accept, expected status, words of the reason.
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);
    let cases: [Case; 4] = [
        (
            "truncated",
            subscribe[..subscribe.len() - 1].to_vec(),
            None,
            400,
            "executor::Call",
        ),
        ("garbage", vec![0xff; 12], None, 400, "executor::Call"),
        (
            "no executor id",
            // HEARTBEAT with a framework id only (our encoder would refuse
            // to write a call without its required executor id).
            b"\x12\x04\x0a\x02F1\x18\x04".to_vec(),
            None,
            400,
            "executor_id",
        ),
        (
            "accepting neither",
            subscribe.clone(),
            Some("text/html"),
            406,
            "text/html",
        ),
    ];
    for (name, body, accept, status, words) in cases {
        let r = post_protobuf(&s, body, accept).await;
        assert_eq!(r.status().as_u16(), status, "{name}");
        let text = r.text().await.unwrap();
        assert!(text.contains(words), "{name}: {text}");
    }
    let r = s
        .http
        .post(format!("{}/api/v1/executor", s.base))
        .header("content-type", "application/octet-stream")
        .body(subscribe.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    assert!(r.text().await.unwrap().contains("application/octet-stream"));

    // SUBSCRIBE in protobuf, events back in protobuf.
    let r = post_protobuf(&s, subscribe, Some(PROTOBUF)).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], PROTOBUF);
    let mut events = protobuf_events(r);
    let subscribed = next(&mut events).await;
    assert_eq!(subscribed.kind, ExecutorEventType::SUBSCRIBED);
    let sub = subscribed.subscribed.unwrap();
    assert_eq!(sub.framework_info.id, Some("F1".into()));
    assert_eq!(sub.executor_info.executor_id.value, "t1");
    assert_eq!(sub.agent_info.id, Some("M-S0".into()));
    assert_eq!(sub.agent_info.hostname, "testhost");
    let launch = next(&mut events).await;
    assert_eq!(launch.kind, ExecutorEventType::LAUNCH);
    let task = launch.launch.unwrap().task;
    assert_eq!(task.task_id.value, "t1");
    assert_eq!(task.command.unwrap().value.as_deref(), Some("echo hi"));

    // Updates in protobuf: acknowledged in protobuf, forwarded intact.
    let r = post_protobuf(&s, encode(&update("TASK_RUNNING", UUID1)), None).await;
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());
    let ack = next(&mut events).await;
    assert_eq!(ack.kind, ExecutorEventType::ACKNOWLEDGED);
    let ack = ack.acknowledged.unwrap();
    assert_eq!(
        (ack.task_id.value.as_str(), ack.uuid.as_str()),
        ("t1", UUID1)
    );
    let forwarded = s.master.next_update().await;
    assert_eq!(forwarded.state, TaskState::TASK_RUNNING);
    assert_eq!(forwarded.source, Some(Source::SOURCE_EXECUTOR));
    assert_eq!(forwarded.uuid.as_deref(), Some(UUID1));
    assert_eq!(forwarded.data.as_deref(), Some("3q2+7w=="));
    assert_eq!(forwarded.timestamp, Some(1.5));

    // An invalid update in protobuf is refused as in JSON.
    let r = post_protobuf(&s, encode(&update("TASK_STAGING", UUID2)), None).await;
    assert_eq!(r.status().as_u16(), 400);

    // MESSAGE (payload field 2) and HEARTBEAT.
    let r = post_protobuf(
        &s,
        encode(&call("MESSAGE", json!({"message": {"data": "aGk="}}))),
        None,
    )
    .await;
    assert_eq!(r.status().as_u16(), 202);
    let data = s
        .master
        .next_call(|c| match c {
            AgentCall::Message { data, .. } => Some(data),
            _ => None,
        })
        .await;
    assert_eq!(data, "aGk=");
    let r = post_protobuf(&s, encode(&call("HEARTBEAT", json!({}))), None).await;
    assert_eq!(r.status().as_u16(), 202);

    // The terminal update, once the master acknowledged the first.
    let r = post_protobuf(&s, encode(&update("TASK_FINISHED", UUID2)), None).await;
    assert_eq!(r.status().as_u16(), 202);
    let ack = next(&mut events).await;
    assert_eq!(ack.acknowledged.unwrap().uuid, UUID2);
    s.master.send(AgentEvent::Acknowledge {
        framework_id: "F1".into(),
        task_id: "t1".into(),
        uuid: UUID1.into(),
    });
    let second = s.master.next_update().await;
    assert_eq!(
        (second.state, second.uuid.as_deref()),
        (TaskState::TASK_FINISHED, Some(UUID2))
    );
}
