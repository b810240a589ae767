//! Bad input against a real `mesos-master` and `mesos-agent` (separate
//! processes): every hostile request gets a clear error or is cut off, and
//! afterwards the cluster is unchanged and still runs tasks.

use mesos_system_tests::*;
use mesos_types::recordio::Decoder;
use mesos_types::scheduler::Event;
use mesos_types::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The master's header-read / keep-alive idle timeout (`mesos-http`
/// `ServeLimits::default()`; the master has no flag for it).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// What the test allows on top of it before calling a connection uncut.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(40);

fn scalar(name: &str, value: f64) -> Value {
    json!({"name": name, "type": "SCALAR", "scalar": {"value": value}})
}

fn small() -> Value {
    json!([scalar("cpus", 0.1), scalar("mem", 32.0)])
}

fn command_task(id: &str, agent: &AgentID, cmd: &str) -> Value {
    json!({
        "name": id,
        "task_id": {"value": id},
        "agent_id": {"value": agent.value},
        "resources": small(),
        "command": {"value": cmd},
    })
}

/// Sum of the `cpus` scalars of `offer`.
fn cpus(offer: &Offer) -> f64 {
    serde_json::to_value(&offer.resources)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"] == "cpus")
        .map(|r| r["scalar"]["value"].as_f64().unwrap())
        .sum()
}

/// Query-string encoding of a path (everything but unreserved and `/`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 4xx whose body is JSON with a non-empty `message`; returns it.
async fn json_4xx(what: &str, r: reqwest::Response) -> String {
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert!(status.is_client_error(), "{what}: got {status}: {body}");
    let v: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{what}: {status} body is not JSON ({e}): {body:?}"));
    let msg = v["message"].as_str().unwrap_or_default().to_string();
    assert!(
        !msg.is_empty(),
        "{what}: {status} without a message: {body}"
    );
    msg
}

/// ACCEPT sent as raw JSON (the SDK's types could not carry some of the
/// inputs), declining what is not used with `refuse_seconds: 0` so the
/// resources come straight back.
async fn accept_raw(
    http: &reqwest::Client,
    master: &str,
    caller: &mesos_scheduler::Caller,
    offer: &OfferID,
    tasks: Vec<Value>,
) {
    let body = json!({
        "type": "ACCEPT",
        "framework_id": {"value": caller.framework_id.value},
        "accept": {
            "offer_ids": [{"value": offer.value}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": tasks}}],
            "filters": {"refuse_seconds": 0.0},
        },
    });
    let r = http
        .post(format!("http://{master}/api/v1/scheduler"))
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", &caller.stream_id)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(
        status,
        202,
        "ACCEPT refused: {}",
        r.text().await.unwrap_or_default()
    );
}

/// The next offer holding all of the agent's cpus (1).
async fn full_offer(fw: &mut Fw) -> Offer {
    loop {
        let o = fw.offer().await;
        if (cpus(&o) - 1.0).abs() < 1e-9 {
            return o;
        }
        // A partial offer: hand it back at once and wait for the rest.
        fw.sub
            .caller
            .decline(
                vec![o.id],
                Some(Filters {
                    refuse_seconds: 0.0,
                }),
            )
            .await
            .unwrap();
    }
}

/// Waits for the next update of `id` (the first one must be terminal here).
async fn task_error(fw: &mut Fw, id: &str) -> TaskStatus {
    let s = fw.update_where(|s| s.task_id.value == id).await;
    let shown: String = id.chars().take(40).collect();
    assert_eq!(s.state, TaskState::TASK_ERROR, "task {shown:?}: {s:?}");
    assert_eq!(
        s.reason,
        Some(Reason::REASON_TASK_INVALID),
        "task {shown:?}: {s:?}"
    );
    assert!(
        !s.message.clone().unwrap_or_default().is_empty(),
        "task {shown:?} without a message: {s:?}"
    );
    s
}

/// One header byte per second: returns how long until the server cut it
/// off (EOF, reset, or a failed write), or panics after `CUT_OFF_WITHIN`.
async fn slow_loris(master: String) -> Duration {
    let start = Instant::now();
    let stream = TcpStream::connect(&master).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "GET /master/health HTTP/1.1\r\nHost: {master}\r\nX-Slow: {}",
        "a".repeat(200)
    );
    let writer = async move {
        for b in head.bytes() {
            if wr.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Never finished the head: the test is broken, not the server.
        std::future::pending::<()>().await;
    };
    let reader = async move {
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // e.g. a 408 before the close
            }
        }
    };
    let cut = async {
        tokio::select! {
            () = writer => {}
            () = reader => {}
        }
    };
    tokio::time::timeout(CUT_OFF_WITHIN, cut).await.unwrap_or_else(|_| {
        panic!("a connection sending one header byte per second was not cut off within {CUT_OFF_WITHIN:?}")
    });
    start.elapsed()
}

/// 200 connections that send nothing: each is closed by the server within
/// the timeout, and `/master/health` answers meanwhile.
async fn idle_connections(master: String) {
    let mut conns = Vec::new();
    for _ in 0..200 {
        conns.push((Instant::now(), TcpStream::connect(&master).await.unwrap()));
    }
    // The master serves others while they are open.
    let r = reqwest::get(format!("http://{master}/master/health"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "/master/health with 200 idle connections");
    let waits = conns.into_iter().map(|(opened, mut s)| {
        tokio::spawn(async move {
            let left = CUT_OFF_WITHIN.saturating_sub(opened.elapsed());
            let mut buf = [0u8; 64];
            match tokio::time::timeout(left, s.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => true,
                Ok(Ok(n)) => panic!(
                    "idle connection got {:?} instead of being closed",
                    String::from_utf8_lossy(&buf[..n])
                ),
                Err(_) => false,
            }
        })
    });
    let mut open = 0;
    for w in waits.collect::<Vec<_>>() {
        if !w.await.unwrap() {
            open += 1;
        }
    }
    assert_eq!(
        open, 0,
        "{open} of 200 idle connections were still open after {CUT_OFF_WITHIN:?}"
    );
}

/// SUBSCRIBE as raw JSON with explicit nulls; returns (framework id,
/// stream id, the open response) once SUBSCRIBED arrives.
async fn subscribe_with_nulls(
    http: &reqwest::Client,
    master: &str,
) -> (String, String, reqwest::Response) {
    let body = r#"{
        "type": "SUBSCRIBE",
        "framework_id": null,
        "subscribe": {
            "framework_info": {
                "user": "root", "name": "nulls",
                "id": null, "capabilities": null, "roles": null, "role": null,
                "labels": null, "hostname": null, "principal": null,
                "webui_url": null, "checkpoint": null, "failover_timeout": null
            },
            "suppressed_roles": null
        }
    }"#;
    let mut r = http
        .post(format!("http://{master}/api/v1/scheduler"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert_eq!(status, 200, "SUBSCRIBE with nulls refused");
    let stream_id = r
        .headers()
        .get("mesos-stream-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut dec = Decoder::default();
    let first = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(rec) = dec.next_record().unwrap() {
                return rec;
            }
            let chunk = r.chunk().await.unwrap().expect("stream ended");
            dec.feed(&chunk);
        }
    })
    .await
    .expect("a first event within 30 s");
    let e: Event = serde_json::from_slice(&first).unwrap();
    let sub = e.subscribed.unwrap_or_else(|| {
        panic!(
            "SUBSCRIBE with nulls: first event is not SUBSCRIBED: {}",
            String::from_utf8_lossy(&first)
        )
    });
    (sub.framework_id.value, stream_id, r)
}

async fn refused_subscription(master: &str, info: FrameworkInfo, what: &str) -> String {
    match mesos_scheduler::subscribe(master, info).await {
        Err(mesos_scheduler::SchedulerError::Refused(msg)) => {
            assert!(!msg.is_empty(), "{what}: ERROR event without a message");
            msg
        }
        Err(other) => panic!("{what}: expected an ERROR event, got {other}"),
        Ok(s) => panic!(
            "{what}: subscribed as {} instead of an ERROR event",
            s.caller.framework_id.value
        ),
    }
}

async fn get_json(url: String) -> Value {
    reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

fn task_ids(state: &Value, field: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for list in ["frameworks", "completed_frameworks"] {
        for f in state[list].as_array().into_iter().flatten() {
            for t in f[field].as_array().into_iter().flatten() {
                out.insert(t["id"].as_str().unwrap().to_string());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_clear_errors_and_leaves_the_cluster_serving() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let _m = Proc(
        Command::new(bin("mesos-master"))
            .args([
                format!("--port={port}"),
                "--registry=in_memory".into(),
                "--allocation_interval=100ms".into(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let agent_port = free_port();
    let agent = format!("127.0.0.1:{agent_port}");
    let _a = start_agent(
        &master,
        agent_port,
        &dir.path().join("agent"),
        Stdio::null(),
    );
    let before = wait_for_agents(&master, 1, "agent never registered").await;
    let agent_id = before["slaves"][0]["id"].as_str().unwrap().to_string();
    let agent_resources = before["slaves"][0]["resources"].clone();

    // 6. Slow and idle connections, concurrently with everything else.
    let slow = tokio::spawn(slow_loris(master.clone()));
    let idle = tokio::spawn(idle_connections(master.clone()));

    let http = reqwest::Client::new();
    let api = format!("http://{master}/api/v1/scheduler");

    // 4. Explicit nulls in a v1 body are "unset": this subscribes.
    let (nulls_id, nulls_stream, nulls_resp) = subscribe_with_nulls(&http, &master).await;
    let r = http
        .post(&api)
        .header("Content-Type", "application/json")
        .header("Mesos-Stream-Id", &nulls_stream)
        .body(json!({"type": "TEARDOWN", "framework_id": {"value": nulls_id}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "TEARDOWN of the nulls framework");
    drop(nulls_resp);

    // 3. SUBSCRIBE refused with an ERROR event, nobody admitted.
    let huge = FrameworkInfo {
        user: "root".into(),
        name: "huge-failover".into(),
        failover_timeout: 1e308,
        ..Default::default()
    };
    let msg = refused_subscription(&master, huge, "failover_timeout 1e308").await;
    eprintln!("failover_timeout 1e308: ERROR {msg:?}");
    let nul_user = FrameworkInfo {
        user: "ro\0ot".into(),
        name: "nul-user".into(),
        ..Default::default()
    };
    let msg = refused_subscription(&master, nul_user, "user with NUL").await;
    eprintln!("user with NUL: ERROR {msg:?}");

    // The framework the hostile calls come from.
    let info = FrameworkInfo {
        user: "root".into(),
        name: "hostile".into(),
        ..Default::default()
    };
    let mut fw = Fw::new(mesos_scheduler::subscribe(&master, info).await.unwrap());
    let caller = fw.sub.caller.clone();
    let aid = AgentID::new(agent_id.clone());

    // 1. The same huge cpus scalar twice.
    let offer = full_offer(&mut fw).await;
    let mut greedy = command_task("greedy", &aid, "true");
    greedy["resources"] = json!([
        scalar("cpus", 9e15),
        scalar("cpus", 9e15),
        scalar("mem", 32.0)
    ]);
    accept_raw(&http, &master, &caller, &offer.id, vec![greedy]).await;
    let s = task_error(&mut fw, "greedy").await;
    eprintln!("cpus 9e15 twice: TASK_ERROR {:?}", s.message);
    // Its offer's resources come back whole.
    let offer = full_offer(&mut fw).await;

    // 2. Task and executor ids that are not ids.
    let long_id = "x".repeat(300);
    let mut nul_exec = command_task("nul-executor", &aid, "true");
    nul_exec.as_object_mut().unwrap().remove("command");
    nul_exec["executor"] = json!({
        "executor_id": {"value": "ex\0ec"},
        "command": {"value": "true"},
        "resources": small(),
    });
    let bad_ids = ["..", "a/b", long_id.as_str(), "nul-executor"];
    accept_raw(
        &http,
        &master,
        &caller,
        &offer.id,
        vec![
            command_task("..", &aid, "true"),
            command_task("a/b", &aid, "true"),
            command_task(&long_id, &aid, "true"),
            nul_exec,
        ],
    )
    .await;
    let mut pending: BTreeSet<&str> = bad_ids.into_iter().collect();
    while !pending.is_empty() {
        let s = fw
            .update_where(|s| pending.contains(s.task_id.value.as_str()))
            .await;
        let id = s.task_id.value.clone();
        assert_eq!(s.state, TaskState::TASK_ERROR, "task {:.40}: {s:?}", id);
        assert_eq!(s.reason, Some(Reason::REASON_TASK_INVALID), "{s:?}");
        assert!(!s.message.clone().unwrap_or_default().is_empty(), "{s:?}");
        eprintln!("task id {:.40}: TASK_ERROR {:?}", id, s.message);
        pending.remove(id.as_str());
    }

    // A task that keeps its sandbox around for the /files inputs.
    let offer = full_offer(&mut fw).await;
    accept_raw(
        &http,
        &master,
        &caller,
        &offer.id,
        vec![command_task("sleeper", &aid, "echo hostile-ok; sleep 60")],
    )
    .await;
    fw.update_where(|s| s.task_id.value == "sleeper" && s.state == TaskState::TASK_RUNNING)
        .await;

    // 5. A FIFO in the sandbox.
    let st = get_json(format!("http://{agent}/state")).await;
    let sandbox = st["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["executors"].as_array().unwrap())
        .find(|e| e["id"] == "sleeper")
        .expect("the sleeper's executor in the agent's /state")["directory"]
        .as_str()
        .unwrap()
        .to_string();
    let fifo = format!("{sandbox}/fifo");
    nix::unistd::mkfifo(fifo.as_str(), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let files = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let download = format!("http://{agent}/files/download?path={}", encode(&fifo));
    let msg = json_4xx(
        "download of a FIFO",
        files.get(&download).send().await.unwrap(),
    )
    .await;
    eprintln!("download of a FIFO: {msg:?}");
    let many: Vec<_> = (0..200)
        .map(|_| {
            let (files, download) = (files.clone(), download.clone());
            tokio::spawn(async move {
                json_4xx(
                    "concurrent download of a FIFO",
                    files.get(&download).send().await.unwrap(),
                )
                .await
            })
        })
        .collect();
    for h in many {
        h.await.unwrap();
    }
    let read = format!(
        "http://{agent}/files/read?path={}&offset=0",
        encode(&format!("{sandbox}/stdout"))
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = files.get(&read).send().await.unwrap();
        assert_eq!(r.status(), 200, "/files/read of stdout after the FIFO");
        let v: Value = r.json().await.unwrap();
        if v["data"].as_str().unwrap().contains("hostile-ok") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stdout never showed the output: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 7. Malformed JSON and a body over the limit.
    let r = http
        .post(&api)
        .header("Content-Type", "application/json")
        .body("{\"type\": \"SUBSCRIBE\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    eprintln!("malformed JSON: {:?}", json_4xx("malformed JSON", r).await);
    let mut big = String::with_capacity(20 * 1024 * 1024 + 64);
    big.push_str("{\"type\":\"SUBSCRIBE\",\"pad\":\"");
    big.push_str(&"a".repeat(20 * 1024 * 1024));
    big.push_str("\"}");
    let r = http
        .post(&api)
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap_or_else(|e| panic!("20 MB body: no response, the request failed: {e:?}"));
    assert_eq!(r.status(), 413);
    eprintln!("20 MB body: {:?}", json_4xx("20 MB body", r).await);

    // Afterwards: the same cluster, still serving.
    let r = reqwest::get(format!("http://{master}/master/health"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "/master/health");
    let after = master_state(&master).await.expect("/master/state");
    let slaves = after["slaves"].as_array().unwrap();
    assert_eq!(slaves.len(), 1, "{after}");
    assert_eq!(slaves[0]["id"], agent_id.as_str());
    assert_eq!(slaves[0]["active"], true);
    assert_eq!(slaves[0]["resources"], agent_resources);
    assert_eq!(after["activated_slaves"], 1);
    let frameworks = after["frameworks"].as_array().unwrap();
    assert_eq!(
        frameworks.len(),
        1,
        "only the hostile framework is registered: {after}"
    );
    assert_eq!(frameworks[0]["id"], caller.framework_id.value.as_str());
    assert_eq!(frameworks[0]["active"], true);
    for f in after["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(after["completed_frameworks"].as_array().unwrap())
    {
        assert!(
            f["name"] != "huge-failover" && f["name"] != "nul-user",
            "a refused framework was admitted: {f}"
        );
    }
    assert_eq!(
        task_ids(&after, "tasks"),
        BTreeSet::from(["sleeper".to_string()]),
        "live tasks"
    );
    assert!(task_ids(&after, "unreachable_tasks").is_empty());
    let launched: BTreeSet<String> = ["greedy", "sleeper", "final"]
        .into_iter()
        .chain(bad_ids)
        .map(String::from)
        .collect();
    let completed = task_ids(&after, "completed_tasks");
    assert!(
        completed.is_subset(&launched),
        "completed tasks: {completed:?}"
    );
    // Nothing of the refused tasks reached the agent.
    let st = get_json(format!("http://{agent}/state")).await;
    let mut executors = BTreeSet::new();
    for f in st["frameworks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(st["completed_frameworks"].as_array().unwrap())
    {
        for e in f["executors"]
            .as_array()
            .unwrap()
            .iter()
            .chain(f["completed_executors"].as_array().unwrap())
        {
            executors.insert(e["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        executors,
        BTreeSet::from(["sleeper".to_string()]),
        "executors on the agent"
    );

    // A normal task still runs to the end.
    let offer = fw.offer().await;
    accept_raw(
        &http,
        &master,
        &caller,
        &offer.id,
        vec![command_task("final", &aid, "echo done")],
    )
    .await;
    let s = fw
        .update_where(|s| {
            s.task_id.value == "final" && mesos_types::task_state::is_terminal(s.state)
        })
        .await;
    assert_eq!(s.state, TaskState::TASK_FINISHED, "{s:?}");

    let cut = slow.await.unwrap();
    eprintln!("slow header cut off after {cut:?} (timeout {HEADER_READ_TIMEOUT:?})");
    idle.await.unwrap();
    let r = reqwest::get(format!("http://{master}/master/health"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "/master/health after the slow connections");
    fw.sub.caller.teardown().await.unwrap();
}
