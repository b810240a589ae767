//! An in-process agent against a fake master, attacked through what anyone
//! who reaches its port, or any task, can do: special files in a sandbox,
//! executor calls claiming a task ended while its processes keep running.

#[path = "support/agent.rs"]
mod agent_setup;
mod support;

use agent_setup::*;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::executor::Event;
use mesos_types::{CommandInfo, ExecutorEventType, ExecutorInfo, TaskInfo, TaskStatus};
use std::path::Path;
use std::time::Duration;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifos_in_a_sandbox_are_refused_promptly_and_do_not_exhaust_the_agent() {
    let s = setup(&[]).await;
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: command_task("t1"),
    });
    let dir = s.sandbox("t1").await;
    let stdout = Path::new(&dir).join("stdout");
    eventually("the sandbox", async || stdout.exists().then_some(())).await;
    let fifo = Path::new(&dir).join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    // The deadline of a hung request, not a measure of speed.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let url = |endpoint: &str| format!("{}/files/{endpoint}?path={dir}/fifo&offset=0", s.base);
    for endpoint in ["download", "read"] {
        let r = client
            .get(url(endpoint))
            .send()
            .await
            .unwrap_or_else(|e| panic!("/files/{endpoint} of a FIFO got no answer: {e}"));
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(
            status.is_client_error(),
            "/files/{endpoint}: {status} {body}"
        );
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains("not a regular file"), "{body}");
    }
    let requests = (0..600).map(|i| {
        let endpoint = if i % 2 == 0 { "download" } else { "read" };
        client.get(url(endpoint)).send()
    });
    for r in futures::future::join_all(requests).await {
        let r = r.unwrap_or_else(|e| panic!("a concurrent FIFO request got no answer: {e}"));
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let (code, read) = s
        .get(&format!("/files/read?path={dir}/stdout&offset=0"))
        .await;
    assert_eq!(code, 200, "{read}");
    s.agent.shutdown().await;
}

/// Pids of the processes whose environment holds `marker` (`KEY=value`).
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .collect()
}

/// An executor program that marks its environment and leaves a process in
/// a session (and process group) of its own behind: what a task does.
fn write_marked_executor(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let script = format!("#!/bin/sh\nexport {marker}\nsetsid sleep 1000 &\nexec sleep 1000\n");
    std::fs::write(path, script).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    marker
}

async fn wait_for_processes(marker: &str, count: usize) -> Vec<u32> {
    eventually("the executor's processes", async || {
        let pids = processes_with(marker);
        (pids.len() >= count).then_some(pids)
    })
    .await
}

async fn wait_for_no_process(marker: &str, what: &str) {
    eventually(what, async || {
        processes_with(marker).is_empty().then_some(())
    })
    .await
}

fn update(eid: &str, task: &str, state: &str, uuid: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "UPDATE",
        "framework_id": {"value": "F1"},
        "executor_id": {"value": eid},
        "update": {"status": {"task_id": {"value": task}, "state": state, "source": "SOURCE_EXECUTOR", "uuid": uuid}}
    })
}

const UUID1: &str = "AAECAwQFBgcICQoLDA0ODw==";
const UUID2: &str = "EBESExQVFhcYGRobHB0eHw==";

impl Setup {
    /// Subscribes as executor `eid` (anyone reaching the port can): the
    /// event stream, after SUBSCRIBED and LAUNCH.
    async fn subscribe_as(&self, eid: &str) -> tokio::sync::mpsc::UnboundedReceiver<Event> {
        self.forked(eid).await;
        let body = serde_json::json!({"type": "SUBSCRIBE", "framework_id": {"value": "F1"}, "executor_id": {"value": eid}, "subscribe": {}});
        let r = self
            .http
            .post(format!("{}/api/v1/executor", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let mut events = records::<Event>(r);
        assert_eq!(next(&mut events).await.kind, ExecutorEventType::SUBSCRIBED);
        assert_eq!(next(&mut events).await.kind, ExecutorEventType::LAUNCH);
        events
    }

    /// Posts an update as executor `eid` and plays the master's
    /// acknowledgement; returns the forwarded status.
    async fn claim(&mut self, eid: &str, task: &str, state: &str, uuid: &str) -> TaskStatus {
        let (code, text) = self.call(update(eid, task, state, uuid)).await;
        assert_eq!(code, 202, "{text}");
        let forwarded = self.master.next_update().await;
        assert_eq!(forwarded.uuid.as_deref(), Some(uuid));
        self.master.send(AgentEvent::Acknowledge {
            framework_id: "F1".into(),
            task_id: task.into(),
            uuid: uuid.into(),
        });
        forwarded
    }
}

fn custom_task(id: &str, eid: &str, program: &Path) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: id.into(),
        agent_id: "M-S0".into(),
        executor: Some(ExecutorInfo {
            executor_id: eid.into(),
            command: Some(CommandInfo {
                value: Some(program.display().to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_command_executor_whose_task_ended_is_destroyed_even_if_it_keeps_running() {
    let mut s = setup(&["--executor_shutdown_grace_period=1secs"]).await;
    let marker = write_marked_executor(&s.dirs.1.path().join("mesos-executor"));
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: command_task("t1"),
    });
    wait_for_processes(&marker, 2).await;
    let _events = s.subscribe_as("t1").await;
    s.claim("t1", "t1", "TASK_RUNNING", UUID1).await;
    s.claim("t1", "t1", "TASK_FINISHED", UUID2).await;
    wait_for_no_process(&marker, "the end of the finished command task's processes").await;
    s.agent.shutdown().await;
}

#[tokio::test]
async fn shutdown_framework_kills_an_executor_whose_tasks_claim_to_have_finished() {
    let mut s = setup(&["--executor_shutdown_grace_period=1secs"]).await;
    let program = s.dirs.1.path().join("custom-executor");
    let marker = write_marked_executor(&program);
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: custom_task("t1", "e1", &program),
    });
    wait_for_processes(&marker, 2).await;
    let _events = s.subscribe_as("e1").await;
    s.claim("e1", "t1", "TASK_FINISHED", UUID1).await;
    s.master.send(AgentEvent::ShutdownFramework {
        framework_id: "F1".into(),
    });
    wait_for_no_process(&marker, "the end of the framework's processes").await;
    s.agent.shutdown().await;
}

#[tokio::test]
async fn processes_an_executor_left_in_other_groups_do_not_survive_it() {
    let mut s = setup(&[]).await;
    let program = s.dirs.1.path().join("custom-executor");
    let marker = write_marked_executor(&program);
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: custom_task("t1", "e1", &program),
    });
    wait_for_processes(&marker, 2).await;
    let _events = s.subscribe_as("e1").await;
    let finished = s.claim("e1", "t1", "TASK_FINISHED", UUID1).await;
    let executor_pid = finished.container_status.and_then(|c| c.executor_pid);
    let executor_pid = executor_pid.expect("the executor pid");
    // The executor dies; its straggler, in a process group of its own, is
    // reparented away from the executor's tree.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(executor_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    s.master.send(AgentEvent::ShutdownFramework {
        framework_id: "F1".into(),
    });
    wait_for_no_process(&marker, "the end of the dead executor's stragglers").await;
    s.agent.shutdown().await;
}

/// A raw HTTP server that sends the head of a large file and then nothing.
async fn stalling_download() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&[b'x'; 100]).await;
                std::future::pending::<()>().await;
                drop(socket);
            });
        }
    });
    addr
}

fn task_fetching(id: &str, url: String) -> TaskInfo {
    let mut task = command_task(id);
    if let Some(command) = task.command.as_mut() {
        command.uris.push(mesos_types::URI {
            value: url,
            ..Default::default()
        });
    }
    task
}

#[tokio::test]
async fn a_stalled_fetch_fails_the_task_when_the_registration_timeout_passes() {
    let mut s = setup(&["--executor_registration_timeout=1secs"]).await;
    let addr = stalling_download().await;
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: task_fetching("t1", format!("http://{addr}/pkg.tgz")),
    });
    let failed = s.master.next_update().await;
    assert_eq!(failed.state, mesos_types::TaskState::TASK_FAILED);
    assert_eq!(
        failed.reason,
        Some(mesos_types::Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT)
    );
    s.agent.shutdown().await;
}

#[tokio::test]
async fn a_stalled_fetch_fails_the_task_after_the_stall_timeout() {
    let mut s = setup(&["--fetcher_stall_timeout=500ms"]).await;
    let addr = stalling_download().await;
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: task_fetching("t1", format!("http://{addr}/pkg.tgz")),
    });
    let failed = s.master.next_update().await;
    assert_eq!(failed.state, mesos_types::TaskState::TASK_FAILED);
    assert_eq!(
        failed.reason,
        Some(mesos_types::Reason::REASON_CONTAINER_LAUNCH_FAILED)
    );
    let message = failed.message.unwrap_or_default();
    assert!(message.contains("no progress for 500ms"), "{message}");
    s.agent.shutdown().await;
}

/// How a [`trickling_download`] ended.
#[derive(Debug, PartialEq)]
enum Download {
    /// The client closed the connection after `sent` body bytes.
    Closed { sent: usize },
    /// The whole body was sent.
    Completed,
}

const TRICKLE_CHUNK: usize = 1024;
const TRICKLE_CHUNKS: usize = 60;
const TRICKLE_EVERY: Duration = Duration::from_millis(50);

/// A raw HTTP server that sends a file slowly but steadily (a chunk every
/// [`TRICKLE_EVERY`], so no stall timeout fires), and reports how the one
/// download ended.
async fn trickling_download() -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Receiver<Download>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (report, outcome) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            TRICKLE_CHUNK * TRICKLE_CHUNKS
        );
        let _ = socket.write_all(head.as_bytes()).await;
        let mut sent = 0;
        let mut ticks = tokio::time::interval(TRICKLE_EVERY);
        while sent < TRICKLE_CHUNK * TRICKLE_CHUNKS {
            ticks.tick().await;
            // A closed peer shows as a readable EOF (or a reset) before a
            // write fails: look for it at each chunk.
            let mut probe = [0u8; 1];
            let closed = match tokio::time::timeout(Duration::ZERO, socket.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => true,
                Ok(Ok(_)) | Err(_) => false,
            };
            if closed || socket.write_all(&[b'x'; TRICKLE_CHUNK]).await.is_err() {
                let _ = report.send(Download::Closed { sent });
                return;
            }
            sent += TRICKLE_CHUNK;
        }
        let _ = report.send(Download::Completed);
        // Held open: only the client ends it.
        std::future::pending::<()>().await;
    });
    (addr, outcome)
}

#[tokio::test]
async fn the_registration_timeout_stops_a_fetch_in_progress_and_nothing_is_forked() {
    let mut s = setup(&["--executor_registration_timeout=500ms"]).await;
    let marker = write_marked_executor(&s.dirs.1.path().join("mesos-executor"));
    let (addr, outcome) = trickling_download().await;
    s.agent.registered().await;
    s.master.send(AgentEvent::RunTask {
        framework_info: framework(),
        task: task_fetching("t1", format!("http://{addr}/pkg.tgz")),
    });
    let failed = s.master.next_update().await;
    assert_eq!(failed.state, mesos_types::TaskState::TASK_FAILED);
    assert_eq!(
        failed.reason,
        Some(mesos_types::Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT)
    );
    // The whole body takes 3s to send: a stopped download is seen as a
    // closed connection well before that.
    let whole_body = TRICKLE_EVERY * TRICKLE_CHUNKS as u32;
    let ended = tokio::time::timeout(whole_body * 4, outcome)
        .await
        .expect("the download neither stopped nor completed")
        .expect("the server reported nothing");
    match ended {
        Download::Closed { sent } => assert!(sent < TRICKLE_CHUNK * TRICKLE_CHUNKS),
        Download::Completed => {
            panic!("the download went on to the end after the task failed")
        }
    }
    // Had the launch gone on, the executor would be forked once the body
    // would have ended: look past that point (a wait for an absence).
    tokio::time::sleep(whole_body).await;
    assert_eq!(
        processes_with(&marker),
        Vec::<u32>::new(),
        "an executor was forked for the failed task"
    );
    s.agent.shutdown().await;
}
