//! The v1 operator API's synchronous calls (spec 5.2) against a cluster
//! with running, finished and failed tasks: each answer's keys and JSON
//! types, TEARDOWN through the registrar, and bad calls that change nothing.

mod common;

use common::*;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::*;
use serde_json::{Value as Json, json};

/// The JSON type names the checks below use.
fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// Asserts `v` has each `(key, type)`; `what` names `v` in failures.
#[track_caller]
fn has(v: &Json, what: &str, fields: &[(&str, &str)]) {
    for (k, t) in fields {
        let got = v.get(*k).map(kind).unwrap_or("missing");
        assert_eq!(got, *t, "{what}.{k} in {v}");
    }
}

async fn call(m: &mesos_master::MasterHandle, body: Json) -> (u16, Json) {
    let r = post_json(&format!("http://{}/api/v1", m.addr), &body, &[]).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = if text.is_empty() {
        Json::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, v)
}

/// `{"type": T}` answered 200 with `{"type": T, "t": {...}}`; returns the payload.
async fn get(m: &mesos_master::MasterHandle, t: &str) -> Json {
    let (status, v) = call(m, json!({ "type": t })).await;
    assert_eq!(status, 200, "{t}: {v}");
    assert_eq!(v["type"], t);
    let key = t.to_ascii_lowercase();
    assert_eq!(kind(&v[&key]), "object", "{t}: {v}");
    assert_eq!(
        v.as_object().unwrap().len(),
        2,
        "{t}: only type and payload: {v}"
    );
    v[&key].clone()
}

/// A framework with three tasks on `agent`: `run` RUNNING, `done` FINISHED
/// and `bad` FAILED (both acknowledged, so completed).
async fn cluster(
    m: &mesos_master::MasterHandle,
    agent: &mut FakeAgent,
) -> mesos_scheduler::Subscription {
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("ops"))
        .await
        .unwrap();
    let o = next_offer_on(&mut sub, &agent.id).await;
    let tasks = ["run", "done", "bad"]
        .map(|n| command_task(n, &agent.id, "cpus:0.5;mem:32"))
        .to_vec();
    sub.caller.launch(vec![o.id], tasks, None).await.unwrap();
    let mut launched = 0;
    while launched < 3 {
        if let AgentEvent::RunTask { .. } = agent.next().await {
            launched += 1;
        }
    }
    let fid = sub.caller.framework_id.clone();
    for (task, state) in [
        ("run", TaskState::TASK_RUNNING),
        ("done", TaskState::TASK_FINISHED),
        ("bad", TaskState::TASK_FAILED),
    ] {
        agent.update(&fid, &TaskID::new(task), state).await;
        let s = next_status(&mut sub).await;
        assert_eq!(s.state, state);
        sub.caller.acknowledge(&s).await.unwrap();
    }
    // An acknowledgement is booked before its call is answered.
    sub
}

#[tokio::test]
async fn every_served_call_answers_with_the_v1_shape() {
    let args = [
        "mesos-master",
        "--port=0",
        "--registry=in_memory",
        "--allocation_interval=50ms",
        "--weights=ops=2",
    ];
    let flags = <mesos_master::MasterFlags as clap::Parser>::parse_from(args);
    // What the binary reports as its flags (main.rs computes these).
    let effective = [("weights", "ops=2"), ("port", "0")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let m = mesos_master::start(flags, effective).await.unwrap();
    let mut agent = FakeAgent::register(&m, "cpus:4;mem:512").await;
    let _other = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let sub = cluster(&m, &mut agent).await;
    let fid = sub.caller.framework_id.value.clone();

    assert_eq!(get(&m, "GET_HEALTH").await, json!({"healthy": true}));
    let flags = get(&m, "GET_FLAGS").await;
    let flags = flags["flags"].as_array().unwrap();
    assert!(
        flags
            .iter()
            .all(|f| kind(&f["name"]) == "string" && kind(&f["value"]) == "string")
    );
    assert!(
        flags
            .iter()
            .any(|f| f["name"] == "weights" && f["value"] == "ops=2")
    );
    let v = get(&m, "GET_VERSION").await;
    has(
        &v["version_info"],
        "version_info",
        &[
            ("version", "string"),
            ("build_date", "string"),
            ("build_time", "number"),
            ("build_user", "string"),
        ],
    );
    let metrics = get(&m, "GET_METRICS").await;
    let metrics = metrics["metrics"].as_array().unwrap();
    let metric = |n: &str| {
        metrics
            .iter()
            .find(|x| x["name"] == n)
            .map(|x| x["value"].clone())
    };
    assert_eq!(metric("master/slaves_active"), Some(json!(2.0)));
    assert_eq!(metric("master/tasks_running"), Some(json!(1.0)));
    assert!(metrics.iter().all(|x| kind(&x["value"]) == "number"));
    assert_eq!(kind(&get(&m, "GET_LOGGING_LEVEL").await["level"]), "number");

    let master = get(&m, "GET_MASTER").await;
    has(
        &master,
        "get_master",
        &[
            ("master_info", "object"),
            ("start_time", "number"),
            ("elected_time", "number"),
        ],
    );
    has(
        &master["master_info"],
        "master_info",
        &[
            ("id", "string"),
            ("ip", "number"),
            ("port", "number"),
            ("hostname", "string"),
        ],
    );

    // GET_TASKS: v1 Task objects in the three lists.
    let tasks = get(&m, "GET_TASKS").await;
    let live = tasks["tasks"].as_array().unwrap();
    assert_eq!(live.len(), 1);
    let t = &live[0];
    has(
        t,
        "task",
        &[
            ("name", "string"),
            ("task_id", "object"),
            ("framework_id", "object"),
            ("agent_id", "object"),
            ("state", "string"),
            ("resources", "array"),
            ("statuses", "array"),
            ("status_update_state", "string"),
            ("status_update_uuid", "string"),
            ("user", "string"),
        ],
    );
    assert_eq!(t["task_id"]["value"], "run");
    assert_eq!(t["framework_id"]["value"], fid.as_str());
    assert_eq!(t["agent_id"]["value"], agent.id.value.as_str());
    assert_eq!(t["state"], "TASK_RUNNING");
    has(
        &t["resources"][0],
        "resource",
        &[("name", "string"), ("type", "string")],
    );
    has(
        &t["statuses"][0],
        "status",
        &[("task_id", "object"), ("state", "string")],
    );
    let mut done: Vec<(String, String)> = tasks["completed_tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task_id"]["value"].as_str().unwrap().into(),
                t["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    done.sort();
    assert_eq!(
        done,
        vec![
            ("bad".to_string(), "TASK_FAILED".to_string()),
            ("done".into(), "TASK_FINISHED".into())
        ]
    );
    assert!(
        tasks.get("unreachable_tasks").is_none(),
        "empty lists are left out: {tasks}"
    );

    let agents = get(&m, "GET_AGENTS").await;
    let agents = agents["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    let a = agents
        .iter()
        .find(|a| a["agent_info"]["id"]["value"] == agent.id.value.as_str())
        .unwrap();
    has(
        a,
        "agent",
        &[
            ("agent_info", "object"),
            ("active", "bool"),
            ("version", "string"),
            ("pid", "string"),
            ("registered_time", "object"),
            ("total_resources", "array"),
            ("allocated_resources", "array"),
        ],
    );
    assert_eq!(kind(&a["registered_time"]["nanoseconds"]), "number");
    has(
        &a["agent_info"],
        "agent_info",
        &[("hostname", "string"), ("port", "number")],
    );

    let fws = get(&m, "GET_FRAMEWORKS").await;
    let f = &fws["frameworks"][0];
    has(
        f,
        "framework",
        &[
            ("framework_info", "object"),
            ("active", "bool"),
            ("connected", "bool"),
            ("recovered", "bool"),
            ("registered_time", "object"),
            ("allocated_resources", "array"),
        ],
    );
    assert_eq!(f["framework_info"]["id"]["value"], fid.as_str());
    assert_eq!(
        (
            f["active"].clone(),
            f["connected"].clone(),
            f["recovered"].clone()
        ),
        (json!(true), json!(true), json!(false))
    );

    assert_eq!(
        get(&m, "GET_EXECUTORS").await,
        json!({}),
        "command tasks have no custom executor"
    );

    let state = get(&m, "GET_STATE").await;
    has(
        &state,
        "get_state",
        &[
            ("get_tasks", "object"),
            ("get_executors", "object"),
            ("get_frameworks", "object"),
            ("get_agents", "object"),
        ],
    );
    assert_eq!(state["get_tasks"]["tasks"][0]["task_id"]["value"], "run");
    assert_eq!(state["get_agents"]["agents"].as_array().unwrap().len(), 2);

    let roles = get(&m, "GET_ROLES").await;
    let ops = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ops")
        .unwrap()
        .clone();
    assert_eq!(ops["weight"], json!(2.0));
    let star = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "*")
        .unwrap()
        .clone();
    assert_eq!(star["weight"], json!(1.0));
    assert_eq!(star["frameworks"], json!([{"value": fid}]));
    has(&star, "role", &[("resources", "array")]);
    assert_eq!(
        get(&m, "GET_WEIGHTS").await,
        json!({"weight_infos": [{"role": "ops", "weight": 2.0}]})
    );
}

#[tokio::test]
async fn operator_teardown_removes_the_framework_durably() {
    let dir = tempfile::tempdir().unwrap();
    let wd = format!("--work_dir={}", dir.path().display());
    let flags = ["--registry=replicated_log", wd.as_str()];
    let m = master(&flags).await;
    let mut agent = FakeAgent::register(&m, "cpus:4;mem:512").await;
    let mut sub = cluster(&m, &mut agent).await;
    let fid = sub.caller.framework_id.clone();

    let (status, body) = call(&m, json!({"type": "TEARDOWN"})).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("Expecting 'teardown' to be present"))
    );
    let (status, body) = call(
        &m,
        json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": "nope"}}}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "No framework found with specified ID");
    assert_eq!(
        get(&m, "GET_FRAMEWORKS").await["frameworks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let (status, _) = call(
        &m,
        json!({"type": "TEARDOWN", "teardown": {"framework_id": {"value": fid.value}}}),
    )
    .await;
    assert_eq!(status, 200);
    // Its running task is killed, its agent told.
    loop {
        if let AgentEvent::ShutdownFramework { framework_id } = agent.next().await {
            assert_eq!(framework_id, fid);
            break;
        }
    }
    let fws = get(&m, "GET_FRAMEWORKS").await;
    assert!(fws.get("frameworks").is_none(), "{fws}");
    let gone = &fws["completed_frameworks"][0];
    assert_eq!(gone["framework_info"]["id"]["value"], fid.value.as_str());
    assert_eq!(kind(&gone["unregistered_time"]), "object");
    let tasks = get(&m, "GET_TASKS").await;
    assert!(
        tasks["completed_tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["task_id"]["value"] == "run" && t["state"] == "TASK_KILLED")
    );
    // The scheduler's stream ended.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while sub.events.recv().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the torn-down framework's stream ends");

    // Durable: a restarted master refuses the framework id.
    drop((agent, sub));
    m.stop().await;
    let m = master(&flags).await;
    let mut info = framework_info("ops");
    info.id = Some(fid);
    let refused = mesos_scheduler::subscribe(&m.endpoint(), info).await;
    assert!(refused.is_err(), "a torn-down framework may not come back");
}

#[tokio::test]
async fn bad_operator_input_gets_a_json_4xx_and_changes_nothing() {
    let m = master(&["--max_request_body_bytes=4096"]).await;
    let agent = FakeAgent::register(&m, "cpus:1;mem:128").await;
    let before = get(&m, "GET_STATE").await;
    let url = format!("http://{}/api/v1", m.addr);
    let client = reqwest::Client::new();
    let post = |body: String| {
        client
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body)
    };
    let cases = vec![
        (
            post(r#"{"type":"GET_NOTHING"}"#.into()),
            400,
            "Failed to parse",
        ),
        (post("{\"type\":".into()), 400, "Failed to parse"),
        (post("[]".into()), 400, "Failed to parse"),
        (
            post(format!(
                r#"{{"type":"GET_HEALTH","x":"{}"}}"#,
                "a".repeat(10_000)
            )),
            413,
            "exceeds",
        ),
        (
            post(r#"{"type":"TEARDOWN","teardown":{}}"#.into()),
            400,
            "Failed to parse",
        ),
        (
            post(r#"{"type":"UPDATE_WEIGHTS","update_weights":{}}"#.into()),
            400,
            "No weights given",
        ),
        (
            post(r#"{"type":"GET_STATE"}"#.into()).header("Accept", "text/html"),
            406,
            "application/x-protobuf",
        ),
    ];
    for (req, status, words) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        let body: Json = r.json().await.unwrap();
        let message = body["message"].as_str().expect("a JSON message");
        assert!(message.contains(words), "{status}: {message}");
    }
    assert_eq!(get(&m, "GET_STATE").await, before);
    assert_eq!(
        before["get_agents"]["agents"][0]["agent_info"]["id"]["value"],
        agent.id.value.as_str()
    );
}
