//! `application/x-protobuf` on the master's v1 APIs (spec 0.2): a scheduler
//! speaking protobuf (the Rust SDK) subscribes, launches, gets its updates,
//! acknowledges and reconciles; operator calls and the SUBSCRIBE stream
//! answered in protobuf decode to what JSON shows; bad protobuf bodies,
//! unknown content types and unacceptable `Accept`s are 400/415/406 with a
//! message, and change nothing.

mod common;

use common::*;
use futures::StreamExt;
use mesos_proto::{ContentType, Message};
use mesos_scheduler::subscribe_with;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::scheduler::ReconcileTask;
use mesos_types::*;
use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

const PROTOBUF: &str = "application/x-protobuf";

/// JSON equality where `30` and `30.0` are the same number, and an empty
/// list is the same as none (protobuf cannot tell them apart).
fn same(a: &Json, b: &Json) -> bool {
    fn dense(o: &serde_json::Map<String, Json>) -> Vec<(&String, &Json)> {
        o.iter()
            .filter(|(_, v)| !matches!(v, Json::Array(a) if a.is_empty()))
            .collect()
    }
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            let (x, y) = (dense(x), dense(y));
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(l, w)| k == l && same(v, w)))
        }
        _ => a == b,
    }
}

/// An operator call in protobuf, answered in protobuf, decoded to JSON.
async fn operator_protobuf(m: &mesos_master::MasterHandle, call: &Json) -> Json {
    let body = ContentType::Protobuf
        .encode(Message::MasterCall, call)
        .unwrap();
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1", m.addr))
        .header("Content-Type", PROTOBUF)
        .header("Accept", PROTOBUF)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], PROTOBUF);
    let bytes = r.bytes().await.unwrap();
    ContentType::Protobuf
        .decode(Message::MasterResponse, &bytes)
        .expect("a master::Response")
}

async fn operator_json(m: &mesos_master::MasterHandle, call: &Json) -> Json {
    let r = post_json(&format!("http://{}/api/v1", m.addr), call, &[]).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_protobuf_scheduler_subscribes_launches_acknowledges_and_reconciles() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:256;ports:[31000-31005]").await;
    let mut info = framework_info("proto");
    info.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    let mut sub = subscribe_with(&m.addr.to_string(), info, ContentType::Protobuf)
        .await
        .expect("subscribed over protobuf");
    assert_eq!(sub.caller.content_type, ContentType::Protobuf);
    assert_eq!(sub.subscribed.heartbeat_interval_seconds, Some(15.0));
    assert_eq!(
        sub.subscribed.master_info.as_ref().map(|i| i.port),
        Some(u32::from(m.addr.port()))
    );
    let fid = sub.caller.framework_id.clone();

    // The offer arrives with its ranges intact.
    let offer = next_offer_on(&mut sub, &agent.id).await;
    let ports = offer
        .resources
        .iter()
        .find(|r| r.name == "ports")
        .expect("ports offered");
    assert_eq!(
        ports.ranges.as_ref().unwrap().range,
        vec![values::Range {
            begin: 31000,
            end: 31005
        }]
    );
    let mut task = command_task("t1", &agent.id, "cpus:1;mem:32;ports:[31001-31001]");
    task.data = Some("AAEC/w==".into());
    sub.caller
        .launch(vec![offer.id], vec![task], None)
        .await
        .unwrap();
    let launched = loop {
        if let AgentEvent::RunTask { task, .. } = agent.next().await {
            break task;
        }
    };
    assert_eq!(launched.task_id.value, "t1");
    assert_eq!(launched.data.as_deref(), Some("AAEC/w=="), "bytes kept");

    // Updates arrive with their 16-byte uuid; acknowledging reaches the agent.
    let uuid = agent
        .update(&fid, &TaskID::new("t1"), TaskState::TASK_RUNNING)
        .await;
    let status = next_status(&mut sub).await;
    assert_eq!(status.state, TaskState::TASK_RUNNING);
    assert_eq!(status.source, Some(Source::SOURCE_EXECUTOR));
    assert_eq!(status.uuid.as_deref(), Some(uuid.as_str()));
    assert!(status.timestamp.is_some());
    sub.caller.acknowledge(&status).await.unwrap();
    loop {
        if let AgentEvent::Acknowledge {
            task_id, uuid: u, ..
        } = agent.next().await
        {
            assert_eq!((task_id.value.as_str(), u.as_str()), ("t1", uuid.as_str()));
            break;
        }
    }

    // Explicit reconciliation of a known and an unknown task, then implicit.
    sub.caller
        .reconcile(vec![
            ReconcileTask {
                task_id: TaskID::new("t1"),
                agent_id: Some(agent.id.clone()),
            },
            ReconcileTask {
                task_id: TaskID::new("nope"),
                agent_id: None,
            },
        ])
        .await
        .unwrap();
    let mut seen = std::collections::BTreeMap::new();
    while seen.len() < 2 {
        let s = next_status(&mut sub).await;
        assert_eq!(s.reason, Some(Reason::REASON_RECONCILIATION));
        assert_eq!(s.uuid, None, "reconciliation updates are not acknowledged");
        seen.insert(s.task_id.value.clone(), s.state);
    }
    assert_eq!(seen["t1"], TaskState::TASK_RUNNING);
    assert_eq!(seen["nope"], TaskState::TASK_UNKNOWN);
    sub.caller.reconcile(vec![]).await.unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!(
        (s.task_id.value.as_str(), s.state),
        ("t1", TaskState::TASK_RUNNING)
    );

    // The end of the task, acknowledged; the master saw every call.
    agent
        .update(&fid, &TaskID::new("t1"), TaskState::TASK_FINISHED)
        .await;
    let done = next_status(&mut sub).await;
    assert_eq!(done.state, TaskState::TASK_FINISHED);
    sub.caller.acknowledge(&done).await.unwrap();
    let state = master_state(&m).await;
    assert_eq!(state["frameworks"][0]["id"], fid.value.as_str());
    assert_eq!(state["frameworks"][0]["active"], true);
}

#[tokio::test]
async fn the_subscribe_stream_is_protobuf_recordio_when_asked() {
    let m = master(&[]).await;
    let call =
        json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "raw"}}});
    let r = reqwest::Client::new()
        .post(format!("http://{}/master/api/v1/scheduler", m.addr))
        .header("Content-Type", PROTOBUF)
        .header("Accept", PROTOBUF)
        .body(
            ContentType::Protobuf
                .encode(Message::SchedulerCall, &call)
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], PROTOBUF);
    assert!(r.headers().contains_key("mesos-stream-id"));
    let mut body = r.bytes_stream();
    let mut dec = recordio::Decoder::default();
    let mut records = Vec::new();
    while records.len() < 2 {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), body.next())
            .await
            .expect("a record within 10 s")
            .expect("the stream goes on")
            .unwrap();
        dec.feed(&chunk);
        while let Ok(Some(rec)) = dec.next_record() {
            records.push(rec);
        }
    }
    // Raw protobuf: the first record starts with `type = SUBSCRIBED` (1).
    assert_eq!(&records[0][..2], b"\x08\x01");
    let first: scheduler::Event = ContentType::Protobuf
        .decode(Message::SchedulerEvent, &records[0])
        .unwrap();
    assert_eq!(first.kind, scheduler::EventType::SUBSCRIBED);
    let second: scheduler::Event = ContentType::Protobuf
        .decode(Message::SchedulerEvent, &records[1])
        .unwrap();
    assert_eq!(second.kind, scheduler::EventType::HEARTBEAT);
}

#[tokio::test]
async fn operator_calls_in_protobuf_decode_to_what_json_shows() {
    let m = master(&[]).await;
    let agent = FakeAgent::register(&m, "cpus:2;mem:256;ports:[31000-31005]").await;
    let mut fw = mesos_scheduler::subscribe(&m.addr.to_string(), framework_info("watched"))
        .await
        .unwrap();
    let o = next_offer_on(&mut fw, &agent.id).await;
    fw.caller
        .launch(
            vec![o.id],
            vec![command_task("t1", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    // The task is in the book once the master answered the ACCEPT.
    for call in [
        "GET_STATE",
        "GET_AGENTS",
        "GET_FRAMEWORKS",
        "GET_TASKS",
        "GET_EXECUTORS",
    ] {
        let call = json!({ "type": call });
        let proto = operator_protobuf(&m, &call).await;
        let json = operator_json(&m, &call).await;
        assert!(
            same(&proto, &json),
            "{call}:\n  protobuf {proto}\n  json     {json}"
        );
    }
    let agents = operator_protobuf(&m, &json!({"type": "GET_AGENTS"})).await;
    let a = &agents["get_agents"]["agents"][0];
    assert_eq!(a["agent_info"]["id"]["value"], agent.id.value.as_str());
    assert_eq!(a["active"], true);
    let state = operator_protobuf(&m, &json!({"type": "GET_STATE"})).await;
    let t = &state["get_state"]["get_tasks"]["tasks"][0];
    assert_eq!(t["task_id"]["value"], "t1");
    assert_eq!(t["state"], "TASK_STAGING");
    for simple in [
        "GET_HEALTH",
        "GET_VERSION",
        "GET_FLAGS",
        "GET_WEIGHTS",
        "GET_ROLES",
    ] {
        let call = json!({ "type": simple });
        let proto = operator_protobuf(&m, &call).await;
        assert_eq!(proto["type"], simple);
        let json = operator_json(&m, &call).await;
        assert!(
            same(&proto, &json),
            "{simple}:\n  protobuf {proto}\n  json     {json}"
        );
    }
    // A protobuf call may be answered in JSON: Accept decides.
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1", m.addr))
        .header("Content-Type", PROTOBUF)
        .body(
            ContentType::Protobuf
                .encode(Message::MasterCall, &json!({"type": "GET_HEALTH"}))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(
        r.json::<Json>().await.unwrap(),
        json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
    );
}

/// The operator SUBSCRIBE stream in protobuf, decoded in the background.
async fn operator_events(m: &mesos_master::MasterHandle) -> mpsc::UnboundedReceiver<Json> {
    let r = reqwest::Client::new()
        .post(format!("http://{}/api/v1", m.addr))
        .header("Content-Type", PROTOBUF)
        .header("Accept", PROTOBUF)
        .body(
            ContentType::Protobuf
                .encode(Message::MasterCall, &json!({"type": "SUBSCRIBE"}))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], PROTOBUF);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut body = r.bytes_stream();
        let mut dec = recordio::Decoder::default();
        while let Some(Ok(chunk)) = body.next().await {
            dec.feed(&chunk);
            while let Ok(Some(rec)) = dec.next_record() {
                let e: Json = ContentType::Protobuf
                    .decode(Message::MasterEvent, &rec)
                    .expect("each record is a master::Event");
                if tx.send(e).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

async fn expect(rx: &mut mpsc::UnboundedReceiver<Json>, t: &str) -> Json {
    loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on");
        if e["type"] == "HEARTBEAT" {
            continue;
        }
        assert_eq!(e["type"], t, "{e}");
        return e[t.to_ascii_lowercase()].clone();
    }
}

#[tokio::test]
async fn the_operator_event_stream_in_protobuf() {
    let m = master(&[]).await;
    let first = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let mut ev = operator_events(&m).await;
    let sub = expect(&mut ev, "SUBSCRIBED").await;
    assert_eq!(sub["heartbeat_interval_seconds"], json!(15.0));
    assert_eq!(
        sub["get_state"]["get_agents"]["agents"][0]["agent_info"]["id"]["value"],
        first.id.value.as_str()
    );

    let mut agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let added = expect(&mut ev, "AGENT_ADDED").await;
    assert_eq!(
        added["agent"]["agent_info"]["id"]["value"],
        agent.id.value.as_str()
    );
    let mut fw = mesos_scheduler::subscribe(&m.addr.to_string(), framework_info("watched"))
        .await
        .unwrap();
    let fid = fw.caller.framework_id.clone();
    let f = expect(&mut ev, "FRAMEWORK_ADDED").await;
    assert_eq!(f["framework"]["framework_info"]["name"], "watched");
    assert_eq!(
        f["framework"]["framework_info"]["id"]["value"],
        fid.value.as_str()
    );
    let o = next_offer_on(&mut fw, &agent.id).await;
    fw.caller
        .launch(
            vec![o.id],
            vec![command_task("t1", &agent.id, "cpus:1;mem:32")],
            None,
        )
        .await
        .unwrap();
    let t = expect(&mut ev, "TASK_ADDED").await;
    assert_eq!(t["task"]["task_id"]["value"], "t1");
    assert_eq!(t["task"]["state"], "TASK_STAGING");
    while !matches!(agent.next().await, AgentEvent::RunTask { .. }) {}
    let uuid = agent
        .update(&fid, &TaskID::new("t1"), TaskState::TASK_RUNNING)
        .await;
    let u = expect(&mut ev, "TASK_UPDATED").await;
    assert_eq!(u["state"], "TASK_RUNNING");
    assert_eq!(u["status"]["task_id"]["value"], "t1");
    assert_eq!(
        u["status"]["uuid"],
        uuid.as_str(),
        "bytes survive as base64"
    );
    fw.caller.teardown().await.unwrap();
    let r = expect(&mut ev, "TASK_UPDATED").await;
    assert_eq!(r["state"], "TASK_KILLED");
    let removed = expect(&mut ev, "FRAMEWORK_REMOVED").await;
    assert_eq!(removed["framework_info"]["id"]["value"], fid.value.as_str());
}

#[tokio::test]
async fn bad_protobuf_and_media_types_are_refused_with_a_message_and_change_nothing() {
    let m = master(&[]).await;
    let _agent = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let before = operator_json(&m, &json!({"type": "GET_STATE"})).await;
    let client = reqwest::Client::new();
    let sched = format!("http://{}/api/v1/scheduler", m.addr);
    let op = format!("http://{}/api/v1", m.addr);
    let subscribe = ContentType::Protobuf
        .encode(
            Message::SchedulerCall,
            &json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u", "name": "n"}}}),
        )
        .unwrap();
    let teardown = ContentType::Protobuf
        .encode(
            Message::MasterCall,
            &json!({"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "x"}}}),
        )
        .unwrap();
    let cases = [
        (
            "truncated SUBSCRIBE",
            client
                .post(&sched)
                .header("Content-Type", PROTOBUF)
                .body(subscribe[..subscribe.len() - 2].to_vec()),
            400,
            "scheduler::Call",
        ),
        (
            "garbage call",
            client
                .post(&sched)
                .header("Content-Type", PROTOBUF)
                .body(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec()),
            400,
            "scheduler::Call",
        ),
        (
            "JSON sent as protobuf",
            client
                .post(&sched)
                .header("Content-Type", PROTOBUF)
                .body(r#"{"type":"SUBSCRIBE"}"#),
            400,
            "scheduler::Call",
        ),
        (
            "protobuf sent as JSON",
            client
                .post(&sched)
                .header("Content-Type", "application/json")
                .body(subscribe.clone()),
            400,
            "scheduler::Call",
        ),
        (
            "unknown content type",
            client
                .post(&sched)
                .header("Content-Type", "application/xml")
                .body(subscribe.clone()),
            415,
            "application/xml",
        ),
        (
            "SUBSCRIBE accepting neither",
            client
                .post(&sched)
                .header("Content-Type", PROTOBUF)
                .header("Accept", "text/html")
                .body(subscribe.clone()),
            406,
            "text/html",
        ),
        (
            "truncated operator call",
            client
                .post(&op)
                .header("Content-Type", PROTOBUF)
                .body(teardown[..teardown.len() - 1].to_vec()),
            400,
            "master::Call",
        ),
        (
            "operator call accepting neither",
            client
                .post(&op)
                .header("Content-Type", PROTOBUF)
                .header("Accept", "text/plain")
                .body(teardown.clone()),
            406,
            "text/plain",
        ),
    ];
    for (name, req, status, words) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{name}");
        let body: Json = r.json().await.unwrap_or_else(|e| panic!("{name}: {e}"));
        let message = body["message"].as_str().expect("a JSON message");
        assert!(message.contains(words), "{name}: {message}");
    }
    // No framework subscribed, no agent marked gone.
    assert_eq!(
        operator_json(&m, &json!({"type": "GET_STATE"})).await,
        before
    );
    let state = master_state(&m).await;
    assert_eq!(state["frameworks"], json!([]));
    assert_eq!(state["activated_slaves"], 1);
}
