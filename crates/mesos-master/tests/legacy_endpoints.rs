//! The legacy JSON endpoints on a loopback master with running, finished
//! and failed tasks: `/master/state-summary`, `/master/roles`,
//! `/master/weights`, `/master/teardown`, `/version` and
//! `/metrics/snapshot`, their keys and JSON types (spec 6.1, 6.3, 6.7),
//! `?jsonp=`, and the answers to bad input.

mod common;

use common::*;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::*;
use serde_json::Value;

impl Cluster {
    async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        assert_eq!(r.headers()["content-type"], "application/json", "{path}");
        r.json().await.expect("JSON body")
    }

    async fn metrics(&self) -> Value {
        self.json("/metrics/snapshot").await
    }

    async fn post_form(&self, path: &str, body: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }
}

/// Asserts that `v[k]` has the JSON type `ty` (`"string"`, `"number"`,
/// `"bool"`, `"array"`, `"object"`).
fn has(v: &Value, k: &str, ty: &str) {
    let x = &v[k];
    let ok = match ty {
        "string" => x.is_string(),
        "number" => x.is_number(),
        "bool" => x.is_boolean(),
        "array" => x.is_array(),
        "object" => x.is_object(),
        _ => panic!("unknown type {ty}"),
    };
    assert!(ok, "'{k}' should be a {ty} in {v}");
}

fn is_resource_map(v: &Value) {
    for k in ["cpus", "gpus", "mem", "disk"] {
        has(v, k, "number");
    }
}

const COUNTS: [&str; 10] = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_KILLED",
    "TASK_FAILED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_UNREACHABLE",
];

/// Terminal task counters count tasks as they end: pruning completed
/// tasks (`--max_completed_tasks_per_framework`) must not lower them.
#[tokio::test]
async fn terminal_task_counters_are_monotonic_when_completed_tasks_are_pruned() {
    let mut c = Cluster::start(&["--max_completed_tasks_per_framework=1"]).await;
    let m = c.metrics().await;
    assert_eq!(m["master/tasks_finished"], 1.0);
    assert_eq!(m["master/tasks_failed"], 1.0);
    assert_eq!(m["master/tasks_running"], 1.0);
    c.end("run", TaskState::TASK_FINISHED).await;
    let m = c.metrics().await;
    assert_eq!(m["master/tasks_finished"], 2.0);
    assert_eq!(m["master/tasks_failed"], 1.0);
    assert_eq!(m["master/tasks_running"], 0.0);
    // Only one completed task is kept.
    let state = c.json("/master/state").await;
    assert_eq!(
        state["frameworks"][0]["completed_tasks"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn metrics_snapshot_has_the_master_system_and_registrar_keys() {
    let c = Cluster::start(&[]).await;
    let m = c.metrics().await;
    for k in [
        "master/elected",
        "master/uptime_secs",
        "master/tasks_staging",
        "master/tasks_starting",
        "master/tasks_running",
        "master/tasks_killing",
        "master/tasks_unreachable",
        "master/tasks_finished",
        "master/tasks_failed",
        "master/tasks_killed",
        "master/tasks_lost",
        "master/tasks_error",
        "master/tasks_dropped",
        "master/tasks_gone",
        "master/tasks_gone_by_operator",
        "master/slave_removals",
        "master/slave_removals/reason_unhealthy",
        "master/slave_removals/reason_unregistered",
        "master/slave_removals/reason_registered",
        "master/slave_unreachable_scheduled",
        "master/slave_unreachable_completed",
        "master/slave_unreachable_canceled",
        "master/recovery_slave_removals",
        "registrar/queued_operations",
        "master/messages_register_framework",
        "master/messages_accept_offers",
        "master/messages_decline_offers",
        "master/messages_kill_task",
        "master/messages_status_update",
        "master/messages_status_update_acknowledgement",
        "master/messages_reconcile_tasks",
        "master/messages_register_slave",
        "system/cpus_total",
        "system/load_1min",
        "system/load_5min",
        "system/load_15min",
        "system/mem_total_bytes",
        "system/mem_free_bytes",
    ] {
        has(&m, k, "number");
    }
    assert_eq!(m["master/elected"], 1.0);
    assert_eq!(m["master/messages_register_framework"], 1.0);
    assert!(m["master/messages_accept_offers"].as_f64() >= Some(1.0));
    assert_eq!(m["master/messages_register_slave"], 1.0);
    assert!(m["master/messages_status_update"].as_f64() >= Some(3.0));
    assert!(m["system/cpus_total"].as_f64() >= Some(1.0));
    assert!(m["system/mem_total_bytes"].as_f64() > Some(0.0));
    assert!(m["system/mem_free_bytes"].as_f64() <= m["system/mem_total_bytes"].as_f64());
    assert!(m["master/uptime_secs"].as_f64() >= Some(0.0));
    assert_eq!(m["master/tasks_finished"], 1.0);
    assert_eq!(m["master/tasks_failed"], 1.0);
    assert_eq!(m["master/tasks_running"], 1.0);
    assert!(
        m.as_object()
            .expect("object")
            .values()
            .all(Value::is_number)
    );
}

#[tokio::test]
async fn state_summary_counts_tasks_per_agent_and_framework() {
    let c = Cluster::start(&["--cluster=legacy-test"]).await;
    let s = c.json("/master/state-summary").await;
    has(&s, "hostname", "string");
    assert_eq!(s["cluster"], "legacy-test");
    let agents = s["slaves"].as_array().expect("slaves");
    assert_eq!(agents.len(), 1);
    let a = &agents[0];
    for (k, ty) in [
        ("id", "string"),
        ("hostname", "string"),
        ("port", "number"),
        ("attributes", "object"),
        ("pid", "string"),
        ("registered_time", "number"),
        ("resources", "object"),
        ("used_resources", "object"),
        ("offered_resources", "object"),
        ("reserved_resources", "object"),
        ("unreserved_resources", "object"),
        ("active", "bool"),
        ("deactivated", "bool"),
        ("version", "string"),
        ("capabilities", "array"),
        ("framework_ids", "array"),
    ] {
        has(a, k, ty);
    }
    is_resource_map(&a["used_resources"]);
    for k in COUNTS {
        has(a, k, "number");
    }
    assert_eq!(a["id"], c.agent.id.value.as_str());
    assert_eq!(a["TASK_RUNNING"], 1);
    assert_eq!(a["TASK_FINISHED"], 1);
    assert_eq!(a["TASK_FAILED"], 1);
    assert_eq!(a["TASK_KILLED"], 0);
    assert_eq!(a["framework_ids"], serde_json::json!([c.fid().value]));
    assert_eq!(a["used_resources"]["cpus"], 0.5);

    let fws = s["frameworks"].as_array().expect("frameworks");
    assert_eq!(fws.len(), 1);
    let f = &fws[0];
    for (k, ty) in [
        ("id", "string"),
        ("name", "string"),
        ("used_resources", "object"),
        ("offered_resources", "object"),
        ("capabilities", "array"),
        ("hostname", "string"),
        ("webui_url", "string"),
        ("active", "bool"),
        ("connected", "bool"),
        ("recovered", "bool"),
        ("slave_ids", "array"),
    ] {
        has(f, k, ty);
    }
    for k in COUNTS {
        has(f, k, "number");
    }
    assert_eq!(f["name"], "legacy");
    assert_eq!(f["TASK_RUNNING"], 1);
    assert_eq!(f["TASK_FINISHED"], 1);
    assert_eq!(f["TASK_FAILED"], 1);
    assert_eq!(f["slave_ids"], serde_json::json!([c.agent.id.value]));
    assert_eq!(f["used_resources"]["cpus"], 0.5);
    // No task lists: it is a summary.
    assert!(f.get("tasks").is_none() && a.get("tasks").is_none());
}

#[tokio::test]
async fn roles_show_each_role_with_its_frameworks_and_resources() {
    let c = Cluster::start(&["--weights=web=2.5"]).await;
    for path in [
        "/master/roles",
        "/roles",
        "/roles.json",
        "/master/roles.json",
    ] {
        let r = c.json(path).await;
        let roles = r["roles"].as_array().expect("roles");
        let names: Vec<&str> = roles.iter().filter_map(|x| x["name"].as_str()).collect();
        assert_eq!(names, ["*", "web"], "{path}: {r}");
        let star = &roles[0];
        for (k, ty) in [
            ("name", "string"),
            ("weight", "number"),
            ("quota", "object"),
            ("resources", "object"),
            ("allocated", "object"),
            ("offered", "object"),
            ("reserved", "object"),
            ("frameworks", "array"),
        ] {
            has(star, k, ty);
        }
        for k in ["role", "guarantee", "limit", "consumed"] {
            assert!(star["quota"].get(k).is_some(), "quota.{k} in {star}");
        }
        assert_eq!(star["quota"]["role"], "*");
        assert_eq!(star["weight"], 1.0);
        assert_eq!(star["frameworks"], serde_json::json!([c.fid().value]));
        assert_eq!(star["allocated"]["cpus"], 0.5);
        is_resource_map(&star["offered"]);
        is_resource_map(&star["resources"]);
        let web = &roles[1];
        assert_eq!(web["weight"], 2.5);
        assert_eq!(web["frameworks"], serde_json::json!([]));
    }
}

#[tokio::test]
async fn weights_list_the_non_default_weights_and_take_updates() {
    let c = Cluster::start(&["--weights=web=2.5,batch=0.5"]).await;
    let w = c.json("/master/weights").await;
    assert_eq!(
        w,
        serde_json::json!([{"role": "batch", "weight": 0.5}, {"role": "web", "weight": 2.5}])
    );
    let r = reqwest::Client::new()
        .put(c.url("/master/weights"))
        .body(r#"[{"role":"web","weight":3.0}]"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.json("/master/weights").await,
        serde_json::json!([{"role": "batch", "weight": 0.5}, {"role": "web", "weight": 3.0}])
    );
    let r = c.post_form("/master/weights", "").await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD, PUT");
}

#[tokio::test]
async fn version_reports_the_build() {
    let c = Cluster::start(&[]).await;
    let v = c.json("/version").await;
    has(&v, "version", "string");
    has(&v, "build_date", "string");
    has(&v, "build_time", "number");
    has(&v, "build_user", "string");
    let t = v["build_time"].as_f64().expect("build_time");
    // Built before now, and not the old constant (2026-11-21).
    assert!(t <= mesos_master::master::wall_secs() && t != 1_795_219_200.0);
    let date = v["build_date"].as_str().expect("build_date");
    assert_eq!(date.len(), "2020-11-19 18:00:00".len(), "{date}");
    if let Some(sha) = v.get("git_sha") {
        assert!(sha.as_str().is_some_and(|s| s.len() == 40), "{sha}");
    }
    let state = c.json("/master/state").await;
    assert_eq!(state["build_time"], v["build_time"]);
    assert_eq!(state["build_date"], v["build_date"]);
}

#[tokio::test]
async fn teardown_removes_the_framework_durably() {
    let mut c = Cluster::start(&[]).await;
    let fid = c.fid();
    let r = c
        .post_form("/master/teardown", &format!("frameworkId={}", fid.value))
        .await;
    assert_eq!(r.status(), 200);
    // Answered once removed: the book no longer holds it, the running
    // task was killed, and the agent is told to shut the framework down.
    let state = c.json("/master/state").await;
    assert_eq!(state["frameworks"], serde_json::json!([]));
    assert_eq!(state["completed_frameworks"][0]["id"], fid.value.as_str());
    let m = c.metrics().await;
    assert_eq!(m["master/tasks_killed"], 1.0);
    loop {
        if let AgentEvent::ShutdownFramework { framework_id } = c.agent.next().await {
            assert_eq!(framework_id, fid);
            break;
        }
    }
    // The registry records it: the id is refused from now on.
    let mut info = framework_info("legacy");
    info.id = Some(fid.clone());
    assert!(
        mesos_scheduler::subscribe(&c.m.endpoint(), info)
            .await
            .is_err()
    );
    // A second teardown finds nothing.
    let r = c
        .post_form("/teardown", &format!("frameworkId={}", fid.value))
        .await;
    assert_eq!(r.status(), 400);
}

/// A registry whose writes of framework removals can be held (until
/// `open`) or failed.
#[derive(Default)]
struct GatedStore {
    inner: mesos_coord::MemoryStore,
    gate: std::sync::Mutex<Gate>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct Gate {
    closed: bool,
    fail: bool,
    /// Removal writes begun.
    started: u32,
}

impl GatedStore {
    fn set(&self, closed: bool, fail: bool) {
        let mut g = self.gate.lock().unwrap();
        (g.closed, g.fail) = (closed, fail);
        self.changed.notify_all();
    }

    /// Blocks until `n` removal writes have begun.
    fn wait_started(&self, n: u32) {
        let mut g = self.gate.lock().unwrap();
        while g.started < n {
            g = self.changed.wait(g).unwrap();
        }
    }
}

impl mesos_coord::Store for GatedStore {
    fn get(&self, key: &str) -> Result<Option<mesos_coord::Versioned>, mesos_coord::StoreError> {
        self.inner.get(key)
    }

    fn put(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, mesos_coord::StoreError> {
        self.inner.put(key, value, expected)
    }

    fn list(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, mesos_coord::Versioned)>, mesos_coord::StoreError> {
        self.inner.list(prefix)
    }

    fn write_batch(&self, writes: &[(String, Vec<u8>)]) -> Result<(), mesos_coord::StoreError> {
        if writes
            .iter()
            .any(|(k, _)| k.starts_with("frameworks/removed/"))
        {
            let mut g = self.gate.lock().unwrap();
            if g.fail {
                return Err(mesos_coord::StoreError::Backend("injected failure".into()));
            }
            g.started += 1;
            self.changed.notify_all();
            while g.closed {
                g = self.changed.wait(g).unwrap();
            }
        }
        self.inner.write_batch(writes)
    }
}

/// `/master/teardown` answers only once the registry records the removal:
/// a failed write is a 503 with the framework kept, and while the write is
/// held the framework stays and the request waits.
#[tokio::test]
async fn teardown_answers_only_once_the_removal_is_durable() {
    let store = std::sync::Arc::new(GatedStore::default());
    let c = Cluster::on_store(store.clone()).await;
    let form = format!("frameworkId={}", c.fid().value);
    let held = |c: &Cluster| {
        let url = c.url("/master/frameworks");
        async move {
            let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            v["frameworks"].as_array().map(Vec::len)
        }
    };

    store.set(false, true);
    let r = c.post_form("/master/teardown", &form).await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.expect("JSON error body");
    has(&v, "message", "string");
    assert_eq!(held(&c).await, Some(1), "kept after a failed write");

    store.set(true, false);
    let url = c.url("/master/teardown");
    let body = form.clone();
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .body(body)
            .send()
            .await
            .expect("sent")
            .status()
    });
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.wait_started(1))
        .await
        .unwrap();
    assert_eq!(held(&c).await, Some(1), "kept while the write is held");
    assert!(!request.is_finished(), "answered before the write finished");
    store.set(false, false);
    assert_eq!(request.await.unwrap(), 200);
    assert_eq!(held(&c).await, Some(0));
}

#[tokio::test]
async fn bad_requests_get_a_4xx_with_a_message_and_change_nothing() {
    let c = Cluster::start(&[]).await;
    let before = c.json("/master/frameworks").await;
    for (body, status, says) in [
        (
            "frameworkId=no-such-framework".to_string(),
            400,
            "No framework found with specified ID",
        ),
        (String::new(), 400, "frameworkId"),
        (
            "frameworkId=".to_string(),
            400,
            "No framework found with specified ID",
        ),
        ("%zz=%%&&=".to_string(), 400, "frameworkId"),
    ] {
        let r = c.post_form("/master/teardown", &body).await;
        assert_eq!(r.status(), status, "body {body:?}");
        let v: Value = r.json().await.expect("JSON error body");
        assert!(
            v["message"].as_str().is_some_and(|m| m.contains(says)),
            "{body:?}: {v}"
        );
    }
    let r = c
        .get(&format!("/master/teardown?frameworkId={}", c.fid().value))
        .await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let v: Value = r.json().await.expect("JSON error body");
    has(&v, "message", "string");
    for path in ["/master/state-summary", "/master/roles", "/version"] {
        let r = c.post_form(path, "").await;
        assert_eq!(r.status(), 405, "POST {path}");
        assert_eq!(r.headers()["allow"], "GET, HEAD", "POST {path}");
        let v: Value = r.json().await.expect("JSON error body");
        has(&v, "message", "string");
    }
    assert_eq!(c.json("/master/frameworks").await, before);
}

#[tokio::test]
async fn every_endpoint_honours_jsonp() {
    let c = Cluster::start(&[]).await;
    for path in [
        "/master/state-summary",
        "/state-summary",
        "/master/roles",
        "/roles.json",
        "/master/weights",
        "/version",
        "/metrics/snapshot",
    ] {
        let r = c.get(&format!("{path}?jsonp=cb")).await;
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["content-type"], "text/javascript", "{path}");
        let text = r.text().await.expect("body");
        let inner = text
            .strip_prefix("cb(")
            .and_then(|t| t.strip_suffix(");"))
            .unwrap_or_else(|| panic!("{path}: not wrapped: {text}"));
        serde_json::from_str::<Value>(inner).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}
