//! The agent's operator surface over HTTP on a real agent (fake master, the
//! test playing the executors): the v1 operator API, `/monitor/statistics`,
//! `/containers`, `/metrics/snapshot`, `/metrics`, `/files` with
//! `/slave/log`, and `?jsonp=`. One agent runs a busy task (its executor
//! burns CPU before it sleeps), a finished one and a failed one.

#[path = "support/agent.rs"]
mod agent_setup;
mod support;

use agent_setup::*;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::executor::Event;
use mesos_types::{ExecutorEventType, TaskState};
use serde_json::{Value, json};
use support::*;
use tokio::sync::mpsc::UnboundedReceiver;

/// The `busy` executor spins for a while (nonzero CPU time), then sleeps
/// like the others.
const EXECUTOR: &str = "#!/bin/sh
if [ \"$MESOS_EXECUTOR_ID\" = busy ]; then
  i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done
fi
exec sleep 1000
";

const UUIDS: [&str; 3] = [
    "AAECAwQFBgcICQoLDA0ODw==",
    "EBESExQVFhcYGRobHB0eHw==",
    "ICEiIyQlJicoKSorLC0uLw==",
];

impl Setup {
    /// A v1 operator call on `/api/v1`: status and JSON body (Null if empty).
    async fn op(&self, body: Value) -> (u16, Value) {
        self.op_at("/api/v1", body).await
    }

    async fn op_at(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Subscribes as executor `eid` once the agent has forked it.
    async fn subscribe_as(&self, eid: &str) -> UnboundedReceiver<Event> {
        self.forked(eid).await;
        eventually("the subscription", async || {
            let r = self
                .http
                .post(format!("{}/api/v1/executor", self.base))
                .header("content-type", "application/json")
                .body(json!({"type": "SUBSCRIBE", "framework_id": {"value": "F1"}, "executor_id": {"value": eid}, "subscribe": {}}).to_string())
                .send()
                .await
                .unwrap();
            (r.status().as_u16() == 200).then(|| records::<Event>(r))
        })
        .await
    }

    async fn update(&self, task: &str, state: &str, uuid: &str) {
        let (code, text) = self
            .call(json!({
                "type": "UPDATE",
                "framework_id": {"value": "F1"},
                "executor_id": {"value": task},
                "update": {"status": {"task_id": {"value": task}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": uuid}}
            }))
            .await;
        assert_eq!(code, 202, "{text}");
    }
}

/// An agent with `--log_dir` and three tasks: `busy` running, `done`
/// finished, `bad` failed (the terminal ones not acknowledged by the fake
/// master, so still "terminated" rather than "completed").
async fn cluster() -> (Setup, tempfile::TempDir, Vec<UnboundedReceiver<Event>>) {
    let logs = tempfile::tempdir().unwrap();
    let log_dir = format!("--log_dir={}", logs.path().display());
    let s = setup_with_executor(&[&log_dir], EXECUTOR).await;
    s.agent.registered().await;
    let mut streams = Vec::new();
    for (task, state, uuid) in [
        ("busy", "TASK_RUNNING", UUIDS[0]),
        ("done", "TASK_FINISHED", UUIDS[1]),
        ("bad", "TASK_FAILED", UUIDS[2]),
    ] {
        let mut info = command_task(task);
        info.resources
            .push(mesos_types::Resource::scalar("mem", 32.0));
        s.master.send(AgentEvent::RunTask {
            framework_info: framework(),
            task: info,
        });
        let mut events = s.subscribe_as(task).await;
        assert_eq!(next(&mut events).await.kind, ExecutorEventType::SUBSCRIBED);
        assert_eq!(next(&mut events).await.kind, ExecutorEventType::LAUNCH);
        s.update(task, state, uuid).await;
        assert_eq!(
            next(&mut events).await.kind,
            ExecutorEventType::ACKNOWLEDGED
        );
        streams.push(events);
    }
    (s, logs, streams)
}

fn assert_id(v: &Value, what: &str) {
    assert!(v["value"].is_string(), "{what} is not an id: {v}");
}

/// Checks a `mesos.v1.Task`'s keys and types (spec §2.9, §5.3).
fn assert_task(t: &Value, state: &str) {
    assert!(t["name"].is_string(), "{t}");
    assert_id(&t["task_id"], "task_id");
    assert_id(&t["framework_id"], "framework_id");
    assert_id(&t["agent_id"], "agent_id");
    assert_eq!(t["state"], state, "{t}");
    assert!(t["resources"].as_array().is_some_and(|r| !r.is_empty()));
    assert!(t["resources"][0]["scalar"]["value"].is_f64());
    assert!(t.get("executor_id").is_none(), "command tasks have none");
    let statuses = t["statuses"].as_array().unwrap();
    assert_eq!(statuses.last().unwrap()["state"], state);
    assert!(statuses[0]["uuid"].is_string());
}

fn tasks_by_id(list: &Value) -> Vec<(String, Value)> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["task_id"]["value"].as_str().unwrap().to_string(),
                t.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn v1_calls_have_the_spec_shapes() {
    let (s, _logs, _streams) = cluster().await;

    let (code, v) = s.op(json!({"type": "GET_HEALTH"})).await;
    assert_eq!(
        (code, v),
        (
            200,
            json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})
        )
    );

    let (code, v) = s.op(json!({"type": "GET_FLAGS"})).await;
    assert_eq!((code, &v["type"]), (200, &json!("GET_FLAGS")));
    let flags = v["get_flags"]["flags"].as_array().unwrap();
    assert!(
        flags
            .iter()
            .all(|f| f["name"].is_string() && f["value"].is_string())
    );
    assert!(flags.iter().any(|f| f["name"] == "work_dir"));

    let (_, v) = s.op(json!({"type": "GET_VERSION"})).await;
    let info = &v["get_version"]["version_info"];
    assert_eq!(info["version"], "1.11.0");
    assert!(
        info["build_time"].as_f64().unwrap() > 0.0,
        "a real build time"
    );
    assert!(info["build_date"].is_string() && info["build_user"].is_string());

    let (_, v) = s
        .op(json!({"type": "GET_METRICS", "get_metrics": {}}))
        .await;
    let metrics = v["get_metrics"]["metrics"].as_array().unwrap();
    let metric = |name: &str| {
        metrics
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["value"].as_f64().unwrap())
    };
    assert_eq!(metric("slave/tasks_finished"), Some(1.0));
    assert_eq!(metric("slave/tasks_failed"), Some(1.0));
    assert_eq!(metric("slave/tasks_running"), Some(1.0));
    assert!(metric("system/cpus_total").unwrap() >= 1.0);

    // GET_STATE = GET_TASKS + GET_EXECUTORS + GET_FRAMEWORKS.
    let (code, v) = s.op(json!({"type": "GET_STATE"})).await;
    assert_eq!((code, &v["type"]), (200, &json!("GET_STATE")));
    let state = &v["get_state"];
    let tasks = &state["get_tasks"];
    let launched = tasks_by_id(&tasks["launched_tasks"]);
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].0, "busy");
    assert_task(&launched[0].1, "TASK_RUNNING");
    let mut terminated = tasks_by_id(&tasks["terminated_tasks"]);
    terminated.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(terminated.len(), 2);
    assert_task(&terminated[0].1, "TASK_FAILED");
    assert_task(&terminated[1].1, "TASK_FINISHED");
    assert!(
        tasks.get("queued_tasks").is_none(),
        "empty lists are left out"
    );
    let (_, v) = s.op(json!({"type": "GET_TASKS"})).await;
    assert_eq!(v["get_tasks"], *tasks);

    let executors = state["get_executors"]["executors"].as_array().unwrap();
    assert_eq!(executors.len(), 3);
    for e in executors {
        assert_id(&e["executor_info"]["executor_id"], "executor_id");
        assert!(e["executor_info"]["command"].is_object(), "{e}");
    }
    let (_, v) = s.op(json!({"type": "GET_EXECUTORS"})).await;
    assert_eq!(v["get_executors"], state["get_executors"]);

    let frameworks = state["get_frameworks"]["frameworks"].as_array().unwrap();
    assert_eq!(frameworks.len(), 1);
    assert_eq!(frameworks[0]["framework_info"]["id"]["value"], "F1");
    assert_eq!(frameworks[0]["framework_info"]["name"], "test");
    let (_, v) = s.op(json!({"type": "GET_FRAMEWORKS"})).await;
    assert_eq!(v["get_frameworks"], state["get_frameworks"]);

    let (_, v) = s.op(json!({"type": "GET_AGENT"})).await;
    let agent = &v["get_agent"]["agent_info"];
    assert_eq!(agent["hostname"], "testhost");
    assert_eq!(agent["id"]["value"], "M-S0");
    assert!(agent["port"].is_u64() && agent["resources"].is_array());

    // The same calls through the other spellings of the endpoint.
    for path in ["/slave(1)/api/v1", "/api/v1/operator"] {
        let (code, v) = s.op_at(path, json!({"type": "GET_HEALTH"})).await;
        assert_eq!(
            (code, &v["get_health"]["healthy"]),
            (200, &json!(true)),
            "{path}"
        );
    }

    // GET_CONTAINERS: one per running executor, with usage.
    let (_, v) = s
        .op(json!({"type": "GET_CONTAINERS", "get_containers": {"show_nested": false}}))
        .await;
    let containers = v["get_containers"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 3, "{v}");
    for c in containers {
        assert_id(&c["framework_id"], "framework_id");
        assert_id(&c["executor_id"], "executor_id");
        assert_id(&c["container_id"], "container_id");
        assert!(c["executor_name"].is_string());
        assert!(c["container_status"]["executor_pid"].is_u64());
        let stats = &c["resource_statistics"];
        assert!(
            stats["timestamp"].is_f64() && stats["mem_rss_bytes"].is_u64(),
            "{c}"
        );
        assert!(stats["processes"].as_u64().unwrap() >= 1);
        assert!(
            stats["cpus_limit"].as_f64().unwrap() >= 1.0,
            "task + executor cpus"
        );
    }
}

#[tokio::test]
async fn bad_calls_are_refused_with_a_message() {
    let s = setup(&[]).await;
    let (code, v) = s.op(json!({"type": "NO_SUCH_CALL"})).await;
    assert_eq!(code, 400);
    assert!(
        v["message"].as_str().unwrap().contains("NO_SUCH_CALL"),
        "{v}"
    );
    let (code, v) = s.op(json!({"type": "READ_FILE"})).await;
    assert_eq!(code, 400);
    assert!(v["message"].as_str().unwrap().contains("read_file"), "{v}");
    let (code, _) = s
        .op(json!({"type": "READ_FILE", "read_file": {"path": "/slave/log", "offset": -1}}))
        .await;
    assert_eq!(code, 400, "offsets are unsigned");
    let (code, v) = s
        .op(json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": -5}}}))
        .await;
    assert_eq!(code, 400, "{v}");
    for call in [
        "LAUNCH_NESTED_CONTAINER",
        "ATTACH_CONTAINER_OUTPUT",
        "LAUNCH_CONTAINER",
        "PRUNE_IMAGES",
    ] {
        let (code, v) = s.op(json!({"type": call})).await;
        assert_eq!(code, 501, "{call}");
        assert!(v["message"].as_str().unwrap().contains(call), "{v}");
    }
    let (code, v) = s
        .op(json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "nope"}}}))
        .await;
    assert_eq!(code, 404, "{v}");
    let r = s
        .http
        .post(format!("{}/api/v1", s.base))
        .header("content-type", "application/json")
        .header("accept", "application/x-protobuf")
        .body(json!({"type": "GET_HEALTH"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "answered in protobuf");
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let health = mesos_proto::ContentType::Protobuf
        .decode::<serde_json::Value>(
            mesos_proto::Message::AgentResponse,
            &r.bytes().await.unwrap(),
        )
        .unwrap();
    assert_eq!(health["get_health"]["healthy"], true, "{health}");
    let r = s
        .http
        .post(format!("{}/api/v1", s.base))
        .header("content-type", "application/json")
        .header("accept", "text/html")
        .body(json!({"type": "GET_HEALTH"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    let r = s
        .http
        .get(format!("{}/api/v1", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test]
async fn set_logging_level_changes_the_level_and_reverts() {
    let s = setup(&[]).await;
    let level = async || {
        s.op(json!({"type": "GET_LOGGING_LEVEL"})).await.1["get_logging_level"]["level"].clone()
    };
    assert_eq!(level().await, 0);
    // Long enough to be seen, short enough to watch it revert.
    let (code, body) = s
        .op(json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 2, "duration": {"nanoseconds": 300_000_000}}}))
        .await;
    assert_eq!((code, body), (200, Value::Null));
    let seen = level().await;
    // The set happened-before this read unless the whole duration passed.
    assert!(seen == 2 || seen == 0, "{seen}");
    eventually("the level to revert", async || {
        (level().await == 0).then_some(())
    })
    .await;
    // A long one stays.
    s.op(json!({"type": "SET_LOGGING_LEVEL", "set_logging_level": {"level": 1, "duration": {"nanoseconds": 3_600_000_000_000u64}}}))
        .await;
    assert_eq!(level().await, 1);
}

#[tokio::test]
async fn monitor_reports_real_usage_and_kill_container_destroys_it() {
    let (mut s, _logs, _streams) = cluster().await;
    let busy = eventually("CPU time and RSS of the busy executor", async || {
        let (code, stats) = s.get("/monitor/statistics").await;
        assert_eq!(code, 200);
        let e = stats
            .as_array()?
            .iter()
            .find(|e| e["executor_id"] == "busy")?
            .clone();
        let st = &e["statistics"];
        let cpu = st["cpus_user_time_secs"].as_f64()? + st["cpus_system_time_secs"].as_f64()?;
        (cpu > 0.0 && st["mem_rss_bytes"].as_u64()? > 0).then_some(e)
    })
    .await;
    assert_eq!(busy["framework_id"], "F1");
    assert!(busy["executor_name"].as_str().unwrap().contains("busy"));
    assert!(busy["source"].is_string());
    let st = &busy["statistics"];
    for k in [
        "timestamp",
        "cpus_user_time_secs",
        "cpus_system_time_secs",
        "cpus_limit",
    ] {
        assert!(st[k].is_f64(), "{k}: {st}");
    }
    for k in ["mem_rss_bytes", "mem_limit_bytes", "processes", "threads"] {
        assert!(st[k].is_u64(), "{k}: {st}");
    }
    let (code, same) = s.get("/slave(1)/monitor/statistics.json").await;
    assert_eq!((code, same.as_array().unwrap().len()), (200, 3));

    let (code, containers) = s.get("/containers").await;
    assert_eq!(code, 200);
    let c = containers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["executor_id"] == "busy")
        .unwrap()
        .clone();
    let cid = c["container_id"].as_str().unwrap().to_string();
    assert_eq!(c["status"]["container_id"]["value"], cid.as_str());
    assert!(c["statistics"]["mem_rss_bytes"].is_u64());

    // KILL_CONTAINER destroys the executor: its task fails, it is gone.
    let (code, body) = s
        .op(json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": cid}}}))
        .await;
    assert_eq!((code, body), (200, Value::Null));
    // Updates of a task go to the master one at a time: acknowledge the
    // RUNNING one so that the failure follows.
    loop {
        let u = s.master.next_update().await;
        if u.task_id.value != "busy" {
            continue;
        }
        if u.state == TaskState::TASK_FAILED {
            break;
        }
        s.master.send(AgentEvent::Acknowledge {
            framework_id: "F1".into(),
            task_id: "busy".into(),
            uuid: u.uuid.unwrap_or_default(),
        });
    }
    eventually("the container to be gone", async || {
        let (_, stats) = s.get("/containers").await;
        (!stats.as_array()?.iter().any(|e| e["executor_id"] == "busy")).then_some(())
    })
    .await;
    let (_, metrics) = s.get("/metrics/snapshot").await;
    assert_eq!(metrics["slave/tasks_failed"], 2.0);
    assert_eq!(metrics["slave/tasks_running"], 0.0);
    assert!(metrics["slave/executors_terminated"].as_f64().unwrap() >= 1.0);
}

#[tokio::test]
async fn metrics_in_json_and_prometheus_text() {
    let (s, _logs, _streams) = cluster().await;
    let (code, m) = s.get("/slave(1)/metrics/snapshot").await;
    assert_eq!(code, 200);
    for key in [
        "slave/registered",
        "slave/uptime_secs",
        "slave/frameworks_active",
        "slave/executors_registering",
        "slave/executors_running",
        "slave/executors_terminating",
        "slave/executors_terminated",
        "slave/executors_preempted",
        "slave/tasks_staging",
        "slave/tasks_starting",
        "slave/tasks_running",
        "slave/tasks_killing",
        "slave/tasks_finished",
        "slave/tasks_failed",
        "slave/tasks_killed",
        "slave/tasks_lost",
        "slave/tasks_gone",
        "slave/cpus_total",
        "slave/cpus_used",
        "slave/cpus_percent",
        "slave/mem_total",
        "slave/mem_used",
        "slave/mem_percent",
        "slave/disk_total",
        "slave/gpus_total",
        "slave/cpus_revocable_total",
        "slave/valid_status_updates",
        "slave/invalid_status_updates",
        "slave/container_launch_errors",
        "system/cpus_total",
        "system/load_1min",
        "system/mem_total_bytes",
        "system/mem_free_bytes",
    ] {
        assert!(m[key].is_f64(), "{key}: {:?}", m.get(key));
    }
    assert_eq!(m["slave/registered"], 1.0);
    assert_eq!(m["slave/frameworks_active"], 1.0);
    assert_eq!(m["slave/tasks_running"], 1.0);
    assert_eq!(m["slave/tasks_finished"], 1.0);
    assert_eq!(m["slave/valid_status_updates"], 3.0);
    assert_eq!(m["slave/cpus_total"], 2.0);

    let r = s
        .http
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain; version=0.0.4");
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE mesos_slave_tasks_finished gauge\nmesos_slave_tasks_finished 1\n")
    );
    assert!(text.contains("\nmesos_system_cpus_total "));
    let samples = text.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        samples,
        m.as_object().unwrap().len(),
        "every metric is exported"
    );
}

#[tokio::test]
async fn files_serve_the_log_and_nothing_outside() {
    let (s, logs, _streams) = cluster().await;
    let log = logs.path().join("mesos-agent.INFO");
    assert!(log.exists(), "the agent creates its log file");
    // What the binary's logger would have written.
    std::fs::write(&log, "I1202 agent started\n").unwrap();
    std::fs::write(logs.path().join("secret"), "no").unwrap();

    let (code, debug) = s.get("/files/debug").await;
    assert_eq!(code, 200);
    assert_eq!(debug["/slave/log"], log.display().to_string());
    let (code, v) = s.get("/files/read?path=/slave/log&offset=0").await;
    assert_eq!(
        (code, v),
        (
            200,
            json!({"data": "I1202 agent started\n", "offset": 0, "length": 20})
        )
    );
    let (code, v) = s.get("/slave(1)/files/read.json?path=/slave/log").await;
    assert_eq!(
        (code, &v["offset"]),
        (200, &json!(20)),
        "no offset: the end"
    );
    let (code, v) = s.get("/files/browse?path=/slave/log").await;
    assert_eq!((code, &v[0]["path"]), (200, &json!("/slave/log")));
    let r = s
        .http
        .get(format!("{}/files/download?path=/slave/log", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "I1202 agent started\n");

    let (code, v) = s
        .op(json!({"type": "READ_FILE", "read_file": {"path": "/slave/log", "offset": 6, "length": 5}}))
        .await;
    assert_eq!(code, 200);
    assert_eq!(
        v,
        json!({"type": "READ_FILE", "read_file": {"size": 20, "data": "YWdlbnQ="}})
    );
    let sandbox = s.sandbox("done").await;
    std::fs::write(format!("{sandbox}/stdout"), "hi\n").unwrap();
    let (code, v) = s
        .op(json!({"type": "LIST_FILES", "list_files": {"path": sandbox}}))
        .await;
    assert_eq!(code, 200);
    let infos = v["list_files"]["file_infos"].as_array().unwrap();
    let stdout = infos
        .iter()
        .find(|i| i["path"] == format!("{sandbox}/stdout"))
        .unwrap();
    assert_eq!(stdout["size"], 3);
    assert!(
        stdout["mode"].is_u64() && stdout["mtime"]["nanoseconds"].is_i64(),
        "{stdout}"
    );
    assert!(stdout["uid"].is_string() && stdout["gid"].is_string());

    // Outside any sandbox or the log: 4xx with a message, nothing served.
    let secret = logs.path().join("secret").display().to_string();
    for bad in [
        "/etc/passwd".to_string(),
        secret.clone(),
        "/slave/log/../secret".into(),
        format!("{sandbox}/../../../../../../../../etc/passwd"),
    ] {
        let (code, v) = s.get(&format!("/files/read?path={bad}&offset=0")).await;
        assert!((400..500).contains(&code), "{bad}: {code}");
        assert!(v["message"].is_string(), "{bad}: {v}");
        let (code, v) = s
            .op(json!({"type": "READ_FILE", "read_file": {"path": bad, "offset": 0}}))
            .await;
        assert!((400..500).contains(&code), "{bad}: {code}");
        assert!(v["message"].is_string());
    }
    std::os::unix::fs::symlink(&secret, format!("{sandbox}/escape")).unwrap();
    let (code, _) = s
        .get(&format!("/files/read?path={sandbox}/escape&offset=0"))
        .await;
    assert_eq!(code, 403, "a symlink out of the sandbox is not followed");
    let (code, v) = s.get("/files/read?path=/slave/log&offset=-2").await;
    assert_eq!(code, 400, "{v}");
    assert!(v["message"].is_string());
    let (code, _) = s
        .get("/files/read?path=/slave/log&offset=0&length=-7")
        .await;
    assert_eq!(code, 400);
    let (code, _) = s.get("/files/read?path=/slave/log&offset=zero").await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn every_json_get_endpoint_honours_jsonp() {
    let (s, _logs, _streams) = cluster().await;
    for path in [
        "/state",
        "/slave(1)/state",
        "/flags",
        "/version",
        "/metrics/snapshot",
        "/monitor/statistics",
        "/containers",
        "/files/debug",
        "/files/read?path=/slave/log&offset=0",
        "/files/browse?path=/slave/log",
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let r = s
            .http
            .get(format!("{}{path}{sep}jsonp=cb.x", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/javascript", "{path}");
        let body = r.text().await.unwrap();
        let inner = body
            .strip_prefix("cb.x(")
            .and_then(|b| b.strip_suffix(");"))
            .unwrap_or_else(|| panic!("{path}: {body}"));
        serde_json::from_str::<Value>(inner).unwrap();
    }
    let (code, _) = s.get("/state?jsonp=alert(1)").await;
    assert_eq!(code, 400);
}
