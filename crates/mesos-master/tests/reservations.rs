//! Dynamic reservations and persistent volumes against a fake agent:
//! offer operations (RESERVE, CREATE, then LAUNCH on what they made),
//! resources offered back only to their role, the operator's endpoints and
//! calls, the agent told what to checkpoint, and the registry's record
//! outliving a master restart. Bad requests change nothing.

mod common;

use common::{operator_call as call, *};
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::*;
use serde_json::{Value as Json, json};

fn res(v: Json) -> Resource {
    serde_json::from_value(v).unwrap()
}

fn reserved(name: &str, value: f64, role: &str) -> Json {
    json!({"name": name, "type": "SCALAR", "scalar": {"value": value},
           "reservations": [{"type": "DYNAMIC", "role": role, "principal": "ops"}]})
}

fn volume(id: &str, size: f64, role: &str) -> Json {
    let mut v = reserved("disk", size, role);
    v["disk"] = json!({"persistence": {"id": id, "principal": "ops"},
                       "volume": {"container_path": "data", "mode": "RW"}});
    v
}

fn op(kind: OperationType, payload: Json) -> Operation {
    let mut o = json!({"type": kind.to_string()});
    let key = kind.to_string().to_ascii_lowercase();
    o[key] = payload;
    serde_json::from_value(o).unwrap()
}

/// The next CHECKPOINT_RESOURCES the agent gets (other events skipped).
async fn next_checkpoint(agent: &mut FakeAgent) -> Vec<Resource> {
    loop {
        if let AgentEvent::CheckpointResources { resources } = agent.next().await {
            return resources;
        }
    }
}

async fn form(m: &mesos_master::MasterHandle, path: &str, body: String) -> (u16, Json) {
    let r = reqwest::Client::new()
        .post(format!("http://{}{path}", m.addr))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Json::Null))
}

fn enc(v: &Json) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn framework(name: &str, role: &str) -> FrameworkInfo {
    let mut f = framework_info(name);
    f.role = Some(role.into());
    f
}

#[tokio::test]
async fn offer_operations_reserve_create_a_volume_and_launch_on_it() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:2;mem:256;disk:1024").await;
    let mut db = mesos_scheduler::subscribe(&m.endpoint(), framework("db", "db"))
        .await
        .unwrap();
    let o = next_offer_on(&mut db, &agent.id).await;
    let mut task = command_task("pg", &agent.id, "cpus:0.1");
    task.resources = vec![
        res(reserved("cpus", 1.0, "db")),
        res(volume("v1", 128.0, "db")),
    ];
    let with_id = |mut o: Operation, id: &str| {
        o.id = Some(OperationID::new(id));
        o
    };
    let ops = vec![
        with_id(
            op(
                OperationType::RESERVE,
                json!({"resources": [reserved("cpus", 1.0, "db"), reserved("disk", 128.0, "db")]}),
            ),
            "reserve",
        ),
        op(
            OperationType::CREATE,
            json!({"volumes": [volume("v1", 128.0, "db")]}),
        ),
        // Invalid (no such volume): dropped, and said so.
        with_id(
            op(
                OperationType::DESTROY,
                json!({"volumes": [volume("nope", 1.0, "db")]}),
            ),
            "destroy",
        ),
        op(OperationType::LAUNCH, json!({"task_infos": [task]})),
    ];
    db.caller
        .accept(
            vec![o.id],
            ops,
            Some(Filters {
                refuse_seconds: 0.0,
            }),
        )
        .await
        .unwrap();
    let (mut launched, mut checkpoint) = (None, None);
    while launched.is_none() || checkpoint.is_none() {
        match agent.next().await {
            AgentEvent::RunTask { task, .. } => launched = Some(task),
            AgentEvent::CheckpointResources { resources } => checkpoint = Some(resources),
            _ => {}
        }
    }
    let mut feedback = std::collections::BTreeMap::new();
    while feedback.len() < 2 {
        let e = next_event(
            &mut db,
            mesos_types::scheduler::EventType::UPDATE_OPERATION_STATUS,
        )
        .await;
        let st = e.update_operation_status.unwrap().status;
        feedback.insert(st.operation_id.unwrap().value, (st.state, st.message));
    }
    assert_eq!(feedback["reserve"].0, OperationState::OPERATION_FINISHED);
    assert_eq!(feedback["destroy"].0, OperationState::OPERATION_ERROR);
    assert!(
        feedback["destroy"]
            .1
            .as_deref()
            .unwrap_or("")
            .contains("not available")
    );
    let launched = launched.unwrap();
    assert!(
        launched
            .resources
            .iter()
            .any(|r| mesos_types::conversions::persistence_id(r) == Some("v1")),
        "the task runs with its volume: {launched:?}"
    );
    let checkpoint = Resources::from_wire(checkpoint.unwrap());
    assert_eq!(checkpoint.scalar("cpus"), 1.0);
    assert_eq!(
        checkpoint.scalar("disk"),
        128.0,
        "the volume is checkpointed"
    );

    let state = master_state(&m).await;
    let a = &state["slaves"][0];
    assert_eq!(a["reserved_resources"]["db"]["cpus"], 1.0, "{a}");
    assert_eq!(a["reserved_resources"]["db"]["disk"], 128.0, "{a}");
    let slaves: Json = reqwest::get(format!("http://{}/master/slaves", m.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let s = &slaves["slaves"][0];
    for k in [
        "used_resources_full",
        "offered_resources_full",
        "unreserved_resources_full",
    ] {
        assert!(s[k].is_array(), "{k} in {s}");
    }
    let used = Resources::from_wire(
        serde_json::from_value::<Vec<Resource>>(s["used_resources_full"].clone()).unwrap(),
    );
    assert!(
        used.iter()
            .any(|r| mesos_types::conversions::persistence_id(r) == Some("v1")),
        "the running task holds the volume: {used:?}"
    );
    assert!(s["reserved_resources_full"]["db"].is_array(), "{s}");

    // The task ends: its volume and reservation come back, to db only.
    let fid = db.caller.framework_id.clone();
    agent
        .update(&fid, &TaskID::new("pg"), TaskState::TASK_FINISHED)
        .await;
    let mut web = mesos_scheduler::subscribe(&m.endpoint(), framework("web", "web"))
        .await
        .unwrap();
    loop {
        let o = next_offer_on(&mut db, &agent.id).await;
        let back = o
            .resources
            .iter()
            .any(|r| mesos_types::conversions::persistence_id(r) == Some("v1"));
        // Declined for long once the volume is back: the agent's rest is
        // then web's to take.
        let refuse = if back { 3600.0 } else { 0.0 };
        db.caller
            .decline(
                vec![o.id],
                Some(Filters {
                    refuse_seconds: refuse,
                }),
            )
            .await
            .unwrap();
        if back {
            break;
        }
    }
    let w = next_offer_on(&mut web, &agent.id).await;
    let wr = Resources::from_wire(w.resources);
    assert!(
        wr.iter().all(|r| r.is_unreserved()),
        "web never sees db's: {wr:?}"
    );
    assert!(wr.scalar("cpus") <= 1.0);
}

#[tokio::test]
async fn operator_reservations_and_volumes_are_recorded_and_survive_a_master_restart() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let flags = ["--registry=replicated_log", wd.as_str()];
    let m = master(&flags).await;
    let mut agent = FakeAgent::register(&m, "cpus:4;mem:256;disk:1024").await;
    let aid = agent.id.value.clone();

    let body = format!(
        "slaveId={aid}&resources={}",
        enc(&json!([
            reserved("cpus", 2.0, "db"),
            reserved("disk", 256.0, "db")
        ]))
    );
    let (s, v) = form(&m, "/master/reserve", body).await;
    assert_eq!(s, 202, "{v}");
    let cp = Resources::from_wire(next_checkpoint(&mut agent).await);
    assert_eq!(cp.scalar("cpus"), 2.0);
    let (s, v) = call(
        &m,
        json!({"type": "CREATE_VOLUMES", "create_volumes": {"agent_id": {"value": aid},
               "volumes": [volume("v1", 64.0, "db")]}}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let cp = next_checkpoint(&mut agent).await;
    assert!(
        cp.iter()
            .any(|r| mesos_types::conversions::persistence_id(r) == Some("v1"))
    );

    // Refused, nothing changed.
    let aid_json = json!({"value": aid});
    for (body, status, why) in [
        (
            json!({"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": aid_json,
                   "resources": [reserved("cpus", 5.0, "db")]}}),
            409,
            "does not have",
        ),
        (
            json!({"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": {"value": "nope"},
                   "resources": [reserved("cpus", 1.0, "db")]}}),
            404,
            "not found",
        ),
        (
            json!({"type": "RESERVE_RESOURCES", "reserve_resources": {"agent_id": aid_json,
                   "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}}),
            400,
            "no reservation",
        ),
        (
            json!({"type": "CREATE_VOLUMES", "create_volumes": {"agent_id": aid_json,
                   "volumes": [volume("v1", 64.0, "db")]}}),
            400,
            "already exists",
        ),
        (
            json!({"type": "UNRESERVE_RESOURCES", "unreserve_resources": {"agent_id": aid_json,
                   "resources": [reserved("cpus", 3.0, "db")]}}),
            409,
            "does not have",
        ),
        (
            json!({"type": "DESTROY_VOLUMES", "destroy_volumes": {"agent_id": aid_json,
                   "volumes": [reserved("disk", 1.0, "db")]}}),
            400,
            "not a persistent volume",
        ),
    ] {
        let (s, v) = call(&m, body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap_or("").contains(why),
            "{body}: {v}"
        );
    }
    let mut bad_path = volume("v2", 64.0, "db");
    bad_path["disk"]["volume"]["container_path"] = json!("../../etc");
    let (s, v) = form(
        &m,
        "/master/create-volumes",
        format!("slaveId={aid}&volumes={}", enc(&json!([bad_path]))),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = form(
        &m,
        "/master/reserve",
        format!("slaveId={aid}&resources=%5B"),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = form(&m, "/master/reserve", "resources=%5B%5D".into()).await;
    assert_eq!(s, 400, "slaveId is required");

    let before = master_state(&m).await["slaves"][0]["reserved_resources_full"].clone();
    assert!(
        before["db"].as_array().is_some_and(|a| !a.is_empty()),
        "{before}"
    );

    // Restart: the agent comes back reporting nothing checkpointed (it
    // lost its checkpoint); the registry's record rebuilds its total and
    // the agent is told to checkpoint it again.
    let id = agent.id.clone();
    drop(agent);
    m.stop().await;
    let m = master(&flags).await;
    let mut agent = FakeAgent::connect_with(
        &m,
        "cpus:4;mem:256;disk:1024",
        Some(id),
        vec![],
        true,
        vec![],
    )
    .await;
    let cp = next_checkpoint(&mut agent).await;
    assert!(
        cp.iter()
            .any(|r| mesos_types::conversions::persistence_id(r) == Some("v1"))
    );
    let after = master_state(&m).await["slaves"][0]["reserved_resources_full"].clone();
    let sorted = |v: &Json| {
        let mut a: Vec<String> = v["db"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.to_string())
            .collect();
        a.sort();
        a
    };
    assert_eq!(sorted(&after), sorted(&before), "kept across the restart");

    // And undone through the operator API.
    let (s, v) = call(
        &m,
        json!({"type": "DESTROY_VOLUMES", "destroy_volumes": {"agent_id": {"value": aid},
               "volumes": [volume("v1", 64.0, "db")]}}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let (s, v) = form(
        &m,
        "/master/unreserve",
        format!(
            "slaveId={aid}&resources={}",
            enc(&json!([
                reserved("cpus", 2.0, "db"),
                reserved("disk", 256.0, "db")
            ]))
        ),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    let cp = loop {
        let cp = next_checkpoint(&mut agent).await;
        if cp.is_empty() {
            break cp;
        }
    };
    assert!(cp.is_empty());
    let state = master_state(&m).await;
    assert_eq!(state["slaves"][0]["reserved_resources"], json!({}));
}
