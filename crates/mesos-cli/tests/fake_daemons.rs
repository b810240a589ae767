//! The `mesos` CLI against a scripted master and agent (one small HTTP
//! server answering both): the calls `task kill` makes to an agent that
//! serves KILL_CONTAINER, what it refuses to do, and odd answers from the
//! daemons (wrong types, not JSON, error bodies) giving one clear line
//! and never a panic.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_cli::mesos::{CliError, Context, args::Cli, run};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// What the fake answers, and what it was asked.
#[derive(Default)]
struct Script {
    port: u16,
    task_state: String,
    /// Tasks the executor runs besides `t1`.
    co_tasks: Vec<String>,
    /// Status and body of the agent's `/api/v1`.
    agent_api: Option<(u16, String)>,
    /// Replaces the body of `/master/slaves`.
    slaves_body: Option<String>,
    /// Replaces `/master/tasks` with this status and body.
    tasks_answer: Option<(u16, String)>,
    /// The sandbox's `stdout`.
    stdout: Vec<u8>,
    /// `/files/read` calls that read data (not the size).
    reads: usize,
    /// The agent's `/state` shows the executor only from this call on
    /// (the task is being launched until then).
    sandbox_from_call: usize,
    state_calls: usize,
    calls: Vec<Value>,
}

type Shared = Arc<Mutex<Script>>;

async fn answer(State(s): State<Shared>, req: Request) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), decode(v)))
        .collect();
    let param = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
    let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut s = s.lock().unwrap();
    let json_ok = |v: Value| (StatusCode::OK, v.to_string()).into_response();
    match (method, path.as_str()) {
        (Method::GET, "/master/tasks") => match &s.tasks_answer {
            Some((code, body)) => {
                (StatusCode::from_u16(*code).unwrap(), body.clone()).into_response()
            }
            None => json_ok(json!({"tasks": [
                {"id": "t1", "name": "t1", "framework_id": "F1", "slave_id": "S0", "state": s.task_state}
            ]})),
        },
        (Method::GET, "/master/slaves") => match &s.slaves_body {
            Some(b) => (StatusCode::OK, b.clone()).into_response(),
            None => json_ok(json!({"slaves": [
                {"id": "S0", "hostname": "fake", "active": true, "pid": format!("slave(1)@127.0.0.1:{}", s.port)}
            ]})),
        },
        (Method::GET, "/slave(1)/state") => {
            s.state_calls += 1;
            if s.state_calls < s.sandbox_from_call {
                return json_ok(json!({"frameworks": [{"id": "F1", "executors": []}]}));
            }
            let mut tasks = vec![json!({"id": "t1", "state": s.task_state})];
            tasks.extend(
                s.co_tasks
                    .iter()
                    .map(|t| json!({"id": t, "state": "TASK_RUNNING"})),
            );
            json_ok(json!({"frameworks": [{"id": "F1", "executors": [
                {"id": "e1", "directory": "/sandbox/e1", "container": "C1", "tasks": tasks}
            ]}]}))
        }
        // As the agent: the size for offset -1; else at most `length`
        // and 64 KiB from `offset`, decoded lossily into a JSON string.
        (Method::GET, "/files/read") => {
            if param("path").as_deref() != Some("/sandbox/e1/stdout") {
                return (StatusCode::NOT_FOUND, "No such file").into_response();
            }
            let size = s.stdout.len();
            let offset: i64 = param("offset").and_then(|o| o.parse().ok()).unwrap_or(-1);
            if offset < 0 {
                return json_ok(json!({"data": "", "offset": size}));
            }
            s.reads += 1;
            let start = (offset as usize).min(size);
            let length: usize = param("length").and_then(|l| l.parse().ok()).unwrap_or(size);
            let end = size.min(start + length.min(64 * 1024));
            let data = String::from_utf8_lossy(&s.stdout[start..end]).into_owned();
            json_ok(json!({"data": data, "offset": offset}))
        }
        (Method::POST, "/slave(1)/api/v1") => {
            s.calls
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            match s.agent_api.clone() {
                Some((code, body)) => (StatusCode::from_u16(code).unwrap(), body).into_response(),
                None => {
                    // As the real agent: the executor is destroyed, the
                    // task fails and the master hears of it.
                    s.task_state = "TASK_FAILED".into();
                    StatusCode::OK.into_response()
                }
            }
        }
        _ => (StatusCode::NOT_FOUND, "").into_response(),
    }
}

fn decode(v: &str) -> String {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(x)) = (b[i], hex) {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn fake(script: Script) -> (String, Shared) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared = Arc::new(Mutex::new(Script { port, ..script }));
    let app = Router::new().fallback(answer).with_state(shared.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("127.0.0.1:{port}"), shared)
}

async fn cli(master: &str, args: &[&str]) -> Result<String, CliError> {
    let mut argv = vec!["mesos".to_string(), format!("--master={master}")];
    argv.extend(args.iter().map(|a| a.to_string()));
    let cli = <Cli as clap::Parser>::try_parse_from(argv).unwrap();
    let mut out = Vec::new();
    run(cli, &Context::default(), &mut out).await?;
    Ok(String::from_utf8(out).unwrap())
}

fn running() -> Script {
    Script {
        task_state: "TASK_RUNNING".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn kill_sends_kill_container_for_the_tasks_container_and_waits_for_its_end() {
    let (master, s) = fake(running()).await;
    let out = cli(&master, &["task", "kill", "t1"]).await.unwrap();
    assert_eq!(out, "Killed task 't1' (TASK_FAILED)\n");
    assert_eq!(
        s.lock().unwrap().calls,
        vec![
            json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": "C1"}}})
        ]
    );
    // --json: one object for scripts.
    s.lock().unwrap().task_state = "TASK_RUNNING".into();
    let out = cli(&master, &["--json", "task", "kill", "t1"])
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v,
        json!({"id": "t1", "framework_id": "F1", "slave_id": "S0", "state": "TASK_FAILED"})
    );
}

#[tokio::test]
async fn kill_refuses_to_take_other_tasks_down_with_the_container() {
    let (master, s) = fake(Script {
        co_tasks: vec!["t2".into()],
        ..running()
    })
    .await;
    let e = cli(&master, &["task", "kill", "t1"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("shares its executor's container with task(s) t2"),
        "{e}"
    );
    assert!(s.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn kill_reports_what_the_agent_says() {
    let (master, _) = fake(Script {
        agent_api: Some((404, String::new())),
        ..running()
    })
    .await;
    let e = cli(&master, &["task", "kill", "t1"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("Agent 'S0' (127.0.0.1:") && e.contains("does not serve the v1 operator API"),
        "{e}"
    );

    let (master, _) = fake(Script {
        agent_api: Some((403, r#"{"message": "not authorized to kill"}"#.into())),
        ..running()
    })
    .await;
    let e = cli(&master, &["task", "kill", "t1"])
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Agent 'S0' refused to kill the container of task 't1': not authorized to kill"
    );
}

#[tokio::test]
async fn odd_answers_give_one_clear_line() {
    // Wrong types: nothing to show, no panic.
    let (master, s) = fake(Script {
        slaves_body: Some(r#"{"slaves": "many"}"#.into()),
        ..running()
    })
    .await;
    assert_eq!(
        cli(&master, &["agent", "list"]).await.unwrap(),
        "The cluster has no agents.\n"
    );
    s.lock().unwrap().slaves_body =
        Some(r#"{"slaves": [{"id": {"value": 1}, "active": "yes", "resources": []}, 7]}"#.into());
    let out = cli(&master, &["agent", "list"]).await.unwrap();
    assert_eq!(out.lines().count(), 3, "{out}");
    // The agent's pid is not an address: the sandbox cannot be found.
    let e = cli(&master, &["task", "log", "t1"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Agent 'S0' of task 't1' is not registered"),
        "{e}"
    );

    // Not JSON.
    s.lock().unwrap().tasks_answer = Some((200, "<html>".into()));
    let e = cli(&master, &["task", "list"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/master/tasks") && e.contains("did not answer JSON"),
        "{e}"
    );
    // An error with a JSON message, and one with a text body.
    s.lock().unwrap().tasks_answer = Some((400, r#"{"message": "invalid order 'x'"}"#.into()));
    let e = cli(&master, &["task", "list"])
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(e, "invalid order 'x'");
    s.lock().unwrap().tasks_answer = Some((503, "Not the leading master\n".into()));
    let e = cli(&master, &["task", "list"]).await.unwrap_err();
    assert!(matches!(e, CliError::Http { status: 503, .. }));
    assert_eq!(e.to_string(), "Not the leading master");
}

#[tokio::test]
async fn a_long_log_is_read_in_chunks_without_cutting_characters() {
    // 200 KB of two- and three-byte characters: chunk boundaries fall
    // inside characters.
    let line = "grüße aus dem sandbox — ünïcödé\n";
    let text: String = std::iter::repeat_n(line, 200_000 / line.len() + 1).collect();
    let (master, s) = fake(Script {
        stdout: text.clone().into_bytes(),
        task_state: "TASK_FINISHED".into(),
        ..Default::default()
    })
    .await;
    let out = cli(&master, &["task", "log", "t1"]).await.unwrap();
    assert_eq!(out.len(), text.len());
    assert!(out == text, "the log differs from the file");
    assert!(s.lock().unwrap().reads >= 4, "read in 64 KiB chunks");
    // stderr is not there: said so.
    let e = cli(&master, &["task", "log", "t1", "--file", "stderr"])
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Task 't1' has no stderr in its sandbox (/sandbox/e1/stderr)"
    );
}

#[tokio::test]
async fn follow_waits_for_the_sandbox_of_a_task_being_launched() {
    let (master, s) = fake(Script {
        stdout: b"up\n".to_vec(),
        task_state: "TASK_STAGING".into(),
        sandbox_from_call: 3,
        ..Default::default()
    })
    .await;
    // Without --follow: said plainly.
    let e = cli(&master, &["task", "log", "t1"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("has no sandbox of task 't1' (not launched yet"),
        "{e}"
    );
    // With it: waits, then prints; the task ends meanwhile.
    let follow = cli(&master, &["task", "log", "--follow", "t1"]);
    let end = async {
        // The fake flips the task to finished once the executor shows up.
        loop {
            {
                let mut g = s.lock().unwrap();
                if g.state_calls >= 3 {
                    g.task_state = "TASK_FINISHED".into();
                    break;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let (out, ()) = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::join!(follow, end)
    })
    .await
    .expect("--follow returns once the task ended");
    assert_eq!(out.unwrap(), "up\n");
}
