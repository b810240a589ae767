//! Runs the real `mesos-executor` binary against a tiny fake agent that
//! serves the executor API: SUBSCRIBE gets SUBSCRIBED + LAUNCH, every UPDATE is
//! recorded and acknowledged on the stream.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use mesos_types::executor::{Acknowledged, Call, Event, KillEvent, LaunchEvent, Subscribed};
use mesos_types::{
    AgentInfo, Capability, CommandInfo, ExecutorCallType, ExecutorEventType, ExecutorInfo,
    FrameworkCapability, FrameworkInfo, TaskInfo, TaskState, TaskStatus, recordio,
};
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

#[derive(Clone)]
struct Fake {
    task: TaskInfo,
    capabilities: Vec<FrameworkCapability>,
    stream: Arc<Mutex<Option<UnboundedSender<Event>>>>,
    updates: UnboundedSender<TaskStatus>,
}

async fn executor_api(State(fake): State<Fake>, body: Bytes) -> Response {
    let call: Call = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    match call.kind {
        ExecutorCallType::SUBSCRIBE => {
            let (tx, mut rx) = unbounded_channel::<Event>();
            let mut subscribed = Event::bare(ExecutorEventType::SUBSCRIBED);
            subscribed.subscribed = Some(Subscribed {
                executor_info: ExecutorInfo {
                    executor_id: "task-1".into(),
                    ..Default::default()
                },
                framework_info: FrameworkInfo {
                    id: Some("fw-1".into()),
                    capabilities: fake
                        .capabilities
                        .iter()
                        .map(|c| Capability { kind: Some(*c) })
                        .collect(),
                    ..Default::default()
                },
                agent_info: AgentInfo {
                    hostname: "fake-agent".into(),
                    ..Default::default()
                },
                container_id: None,
            });
            let mut launch = Event::bare(ExecutorEventType::LAUNCH);
            launch.launch = Some(LaunchEvent {
                task: fake.task.clone(),
            });
            tx.send(subscribed).unwrap();
            tx.send(launch).unwrap();
            *fake.stream.lock().unwrap() = Some(tx);
            let body = futures::stream::poll_fn(move |cx| {
                rx.poll_recv(cx).map(|e| {
                    e.map(|e| {
                        Ok::<_, Infallible>(Bytes::from(recordio::encode(
                            &serde_json::to_vec(&e).unwrap(),
                        )))
                    })
                })
            });
            Response::builder()
                .header("content-type", "application/json")
                .body(Body::from_stream(body))
                .unwrap()
        }
        ExecutorCallType::UPDATE => {
            let status = call.update.unwrap().status;
            let mut ack = Event::bare(ExecutorEventType::ACKNOWLEDGED);
            ack.acknowledged = Some(Acknowledged {
                task_id: status.task_id.clone(),
                uuid: status.uuid.clone().unwrap(),
            });
            fake.updates.send(status).unwrap();
            if let Some(tx) = fake.stream.lock().unwrap().as_ref() {
                let _ = tx.send(ack);
            }
            StatusCode::ACCEPTED.into_response()
        }
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

struct Harness {
    fake: Fake,
    updates: UnboundedReceiver<TaskStatus>,
    executor: tokio::process::Child,
    sandbox: tempfile::TempDir,
}

async fn start(command: &str, capabilities: Vec<FrameworkCapability>) -> Harness {
    let (updates_tx, updates) = unbounded_channel();
    let fake = Fake {
        task: TaskInfo {
            name: "task-1".into(),
            task_id: "task-1".into(),
            command: Some(CommandInfo {
                value: Some(command.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        capabilities,
        stream: Arc::new(Mutex::new(None)),
        updates: updates_tx,
    };
    let app = Router::new()
        .route("/api/v1/executor", post(executor_api))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sandbox = tempfile::tempdir().unwrap();
    let stdout = std::fs::File::create(sandbox.path().join("stdout")).unwrap();
    let stderr = std::fs::File::create(sandbox.path().join("stderr")).unwrap();
    let executor = tokio::process::Command::new(env!("CARGO_BIN_EXE_mesos-executor"))
        .arg("--launcher_dir=/nonexistent")
        .env("MESOS_AGENT_ENDPOINT", addr.to_string())
        .env("MESOS_FRAMEWORK_ID", "fw-1")
        .env("MESOS_EXECUTOR_ID", "task-1")
        .env("MESOS_SANDBOX", sandbox.path())
        .env("MESOS_DIRECTORY", sandbox.path())
        .env("MESOS_CHECKPOINT", "0")
        .env("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5secs")
        .current_dir(sandbox.path())
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Harness {
        fake,
        updates,
        executor,
        sandbox,
    }
}

impl Harness {
    async fn next_update(&mut self) -> TaskStatus {
        tokio::time::timeout(Duration::from_secs(20), self.updates.recv())
            .await
            .unwrap_or_else(|_| panic!("no update; executor stderr:\n{}", self.stderr()))
            .unwrap()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.sandbox.path().join("stderr")).unwrap_or_default()
    }

    async fn exit_code(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(Duration::from_secs(20), self.executor.wait())
            .await
            .unwrap()
            .unwrap();
        status.code()
    }

    /// The pid from the executor's "Forked command at <pid>" log line.
    fn forked_pid(&self) -> i32 {
        let log = self.stderr();
        let line = log
            .lines()
            .find_map(|l| l.strip_prefix("Forked command at "))
            .expect("fork logged");
        line.trim().parse().unwrap()
    }
}

/// Live (non-zombie) processes whose process group is `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.trim().to_string()) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[0] != "X" && fields[2].parse() == Ok(pgid)
        {
            out.push(pid);
        }
    }
    out
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn failing_command_reports_starting_running_failed() {
    let mut h = start("echo hi; exit 3", vec![]).await;
    let s = h.next_update().await;
    assert_eq!(
        (s.state, s.message.as_deref()),
        (TaskState::TASK_STARTING, None)
    );
    let s = h.next_update().await;
    assert_eq!(
        (s.state, s.message.as_deref()),
        (TaskState::TASK_RUNNING, None)
    );
    let s = h.next_update().await;
    assert_eq!(s.state, TaskState::TASK_FAILED);
    assert_eq!(s.message.as_deref(), Some("Command exited with status 3"));
    assert_eq!(s.source, Some(mesos_types::Source::SOURCE_EXECUTOR));
    assert_eq!(s.executor_id, Some("task-1".into()));
    assert_eq!(
        h.exit_code().await,
        Some(0),
        "exits after the terminal update is acknowledged"
    );
    let stdout = std::fs::read_to_string(h.sandbox.path().join("stdout")).unwrap();
    assert_eq!(stdout, "hi\n");
    assert!(h.stderr().contains("Forked command at "));
}

#[tokio::test]
async fn kill_terminates_the_whole_process_group() {
    let mut h = start(
        "sleep 1000 & sleep 1000",
        vec![FrameworkCapability::TASK_KILLING_STATE],
    )
    .await;
    assert_eq!(h.next_update().await.state, TaskState::TASK_STARTING);
    assert_eq!(h.next_update().await.state, TaskState::TASK_RUNNING);
    let pgid = h.forked_pid();
    wait_for("both sleeps to run", || group_members(pgid).len() >= 2).await;

    let mut kill = Event::bare(ExecutorEventType::KILL);
    kill.kill = Some(KillEvent {
        task_id: "task-1".into(),
        kill_policy: None,
    });
    h.fake
        .stream
        .lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .send(kill)
        .unwrap();

    assert_eq!(h.next_update().await.state, TaskState::TASK_KILLING);
    let s = h.next_update().await;
    assert_eq!(s.state, TaskState::TASK_KILLED);
    assert_eq!(
        s.message.as_deref(),
        Some("Command terminated with signal Terminated")
    );
    wait_for("the background child to be gone", || {
        group_members(pgid).is_empty()
    })
    .await;
    assert_eq!(h.exit_code().await, Some(0));
}

#[tokio::test]
async fn losing_the_agent_without_checkpoint_kills_the_task_and_exits_nonzero() {
    let mut h = start("sleep 1000", vec![]).await;
    assert_eq!(h.next_update().await.state, TaskState::TASK_STARTING);
    assert_eq!(h.next_update().await.state, TaskState::TASK_RUNNING);
    let pgid = h.forked_pid();
    h.fake.stream.lock().unwrap().take();
    assert_eq!(h.exit_code().await, Some(1));
    wait_for("the task to be gone", || group_members(pgid).is_empty()).await;
    assert!(Path::new(h.sandbox.path()).exists());
}
