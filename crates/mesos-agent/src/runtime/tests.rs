//! Tests of the effect runtime with a fake [`Host`]: checkpoint writes that
//! fail or stall.

use super::*;
use crate::core::CoreConfig;
use futures::StreamExt;
use mesos_types::agent_protocol::AgentEvent;
use mesos_types::executor::Subscribe;
use mesos_types::{
    AgentInfo, CommandInfo, ExecutorInfo, FrameworkInfo, MasterInfo, Source, TaskInfo, TaskState,
    TaskStatus,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc::UnboundedReceiver;

const UUID1: &str = "AAAAAAAAAAAAAAAAAAAAAQ==";
const DEADLINE: Duration = Duration::from_secs(20);

/// A host whose `task.updates` appends fail while `failing` is set, and
/// block while `stall` holds a receiver (each append waits for one message).
/// Writes of the files named in `failing_files` always fail; `kill_tree`
/// calls are recorded in `killed`.
#[derive(Default)]
struct FakeHost {
    failing: AtomicBool,
    stall: Mutex<Option<std_mpsc::Receiver<()>>>,
    entered: Mutex<Option<std_mpsc::Sender<()>>>,
    failing_files: Mutex<Vec<&'static str>>,
    killed: Mutex<Vec<u32>>,
}

impl FakeHost {
    fn failing_files(files: &[&'static str]) -> Arc<FakeHost> {
        let host = FakeHost::default();
        *host.failing_files.lock().unwrap() = files.to_vec();
        Arc::new(host)
    }
}

impl Host for FakeHost {
    fn checkpoint(&self, path: &Path, _: &[u8], _: bool, _: bool) -> std::io::Result<()> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if self.failing_files.lock().unwrap().contains(&name) {
            return Err(std::io::Error::other("injected: no space left on device"));
        }
        if !path.ends_with("task.updates") {
            return Ok(());
        }
        if let Some(entered) = self.entered.lock().unwrap().as_ref() {
            let _ = entered.send(());
        }
        if let Some(stall) = self.stall.lock().unwrap().as_ref() {
            let _ = stall.recv_timeout(DEADLINE);
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(std::io::Error::other("injected: no space left on device"));
        }
        Ok(())
    }

    fn remove_dir_all(&self, _: &Path) -> std::io::Result<()> {
        Ok(())
    }

    fn create_dir_all(&self, _: &Path) -> std::io::Result<()> {
        Ok(())
    }

    fn kill_tree(&self, pid: u32) {
        self.killed.lock().unwrap().push(pid);
    }

    fn kill_containers(&self, _: &[PathBuf]) {}
}

fn fid() -> FrameworkID {
    FrameworkID::new("F")
}

fn eid() -> ExecutorID {
    ExecutorID::new("E")
}

/// A registered core of a checkpointing agent with custom executor `E` of
/// checkpointing framework `F` launching task `T`.
fn core_with_a_launching_executor() -> Core {
    let mut core = registered_core();
    core.handle_event(run_task("T"), Instant::now());
    core
}

/// [`core_with_a_launching_executor`] after the executor's fork: it may
/// subscribe.
fn core_with_a_forked_executor() -> Core {
    let mut core = registered_core();
    let fx = core.handle_event(run_task("T"), Instant::now());
    let cid = fx
        .iter()
        .find_map(|e| match e {
            Effect::Launch(spec) => Some(spec.container_id.clone()),
            _ => None,
        })
        .expect("a launch");
    core.fork_recorded(&fid(), &eid(), &cid);
    core
}

fn run_task(tid: &str) -> AgentEvent {
    let framework_info = FrameworkInfo {
        id: Some(fid()),
        name: "fw".into(),
        user: "u".into(),
        checkpoint: true,
        ..Default::default()
    };
    let task = TaskInfo {
        name: tid.into(),
        task_id: tid.into(),
        executor: Some(ExecutorInfo {
            executor_id: eid(),
            command: Some(CommandInfo {
                value: Some("true".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    AgentEvent::RunTask {
        framework_info,
        task,
    }
}

/// A registered core of a checkpointing agent, nothing running.
fn registered_core() -> Core {
    registered_core_in(Path::new("/nonexistent-work-dir"))
}

/// Like [`registered_core`], with its sandboxes under `work_dir`.
fn registered_core_in(work_dir: &Path) -> Core {
    let config = CoreConfig {
        work_dir: work_dir.to_path_buf(),
        launcher_dir: PathBuf::from("/nonexistent-launcher-dir"),
        ip: std::net::IpAddr::from([127, 0, 0, 1]),
        port: 5051,
        executor_registration_timeout: Duration::from_secs(60),
        executor_shutdown_grace_period: Duration::from_secs(5),
        executor_reregistration_timeout: Duration::from_secs(2),
        recovery_timeout: Duration::from_secs(900),
        status_update_retry_interval: Duration::from_secs(10),
        executor_environment: None,
        checkpoint: true,
        fetch_limits: Default::default(),
    };
    let mut core = Core::new(config, AgentInfo::default());
    let now = Instant::now();
    let master_info = MasterInfo {
        id: "M".into(),
        ..Default::default()
    };
    core.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info,
        },
        now,
    );
    core
}

struct Harness {
    shared: Arc<Shared>,
    master: UnboundedReceiver<AgentCall>,
    events: UnboundedReceiver<Event>,
}

/// `core` behind a runtime with `host`; the master's calls and an executor
/// event channel that stays empty.
fn harness(core: Core, host: Arc<dyn Host>) -> Harness {
    let (calls_tx, master) = unbounded_channel();
    let facts = Facts {
        flags: BTreeMap::new(),
        start_time: 0.0,
        pid: "slave(1)@127.0.0.1:5051".into(),
        log_file: None,
        logging: mesos_daemon::logging::Logging::detached(),
    };
    let shared = Shared::with_host(core, facts, reqwest::Client::new(), calls_tx, host);
    Harness {
        shared,
        master,
        events: unbounded_channel().1,
    }
}

/// The core above behind a runtime with `host`, and executor `E` subscribed.
async fn subscribed(host: Arc<dyn Host>) -> Harness {
    let (calls_tx, master) = unbounded_channel();
    let facts = Facts {
        flags: BTreeMap::new(),
        start_time: 0.0,
        pid: "slave(1)@127.0.0.1:5051".into(),
        log_file: None,
        logging: mesos_daemon::logging::Logging::detached(),
    };
    let client = reqwest::Client::new();
    let core = core_with_a_forked_executor();
    let shared = Shared::with_host(core, facts, client, calls_tx, host);
    let stream = shared
        .subscribe_executor(
            fid(),
            eid(),
            Subscribe::default(),
            mesos_proto::ContentType::Json,
        )
        .unwrap();
    let (tx, events) = unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        let mut decoder = mesos_types::recordio::Decoder::default();
        while let Some(Ok(chunk)) = stream.next().await {
            decoder.feed(&chunk);
            while let Ok(Some(record)) = decoder.next_record() {
                let event: Event = serde_json::from_slice(&record).unwrap();
                if tx.send(event).is_err() {
                    return;
                }
            }
        }
    });
    let mut h = Harness {
        shared,
        master,
        events,
    };
    assert_eq!(h.next_event().await.kind, ExecutorEventType::SUBSCRIBED);
    assert_eq!(h.next_event().await.kind, ExecutorEventType::LAUNCH);
    h
}

fn running(uuid: &str) -> TaskStatus {
    let mut s = TaskStatus::new("T".into(), TaskState::TASK_RUNNING);
    s.source = Some(Source::SOURCE_EXECUTOR);
    s.uuid = Some(uuid.into());
    s
}

impl Harness {
    async fn next_event(&mut self) -> Event {
        tokio::time::timeout(DEADLINE, self.events.recv())
            .await
            .expect("an executor event in time")
            .expect("the executor stream is open")
    }

    /// The next status update sent to the master.
    async fn next_master_update(&mut self) -> TaskStatus {
        loop {
            let call = tokio::time::timeout(DEADLINE, self.master.recv())
                .await
                .expect("a master call in time")
                .expect("the master channel is open");
            if let AgentCall::Update { status, .. } = call {
                return status;
            }
        }
    }

    fn executor_update(&self, status: TaskStatus) {
        self.shared.with_core(|c| {
            let fx = c
                .executor_update(&fid(), &eid(), status, Instant::now())
                .unwrap();
            ((), fx)
        });
    }

    /// Events on the executor stream and calls to the master up to a
    /// marker: a framework message relayed both ways, which comes out
    /// behind everything the runtime was asked to do before it.
    async fn drain_until_marker(&mut self) -> (Vec<Event>, Vec<AgentCall>) {
        let data = "bWFya2Vy".to_string();
        self.shared.handle(|c| {
            let event = AgentEvent::Message {
                framework_id: fid(),
                executor_id: eid(),
                data: data.clone(),
            };
            let mut fx = c.handle_event(event, Instant::now());
            fx.extend(c.executor_message(&fid(), &eid(), data.clone()).unwrap());
            fx
        });
        let mut events = Vec::new();
        loop {
            let e = self.next_event().await;
            if e.kind == ExecutorEventType::MESSAGE {
                break;
            }
            events.push(e);
        }
        let mut calls = Vec::new();
        loop {
            let call = tokio::time::timeout(DEADLINE, self.master.recv())
                .await
                .expect("a master call in time")
                .expect("the master channel is open");
            if matches!(call, AgentCall::Message { .. }) {
                break;
            }
            calls.push(call);
        }
        (events, calls)
    }
}

#[tokio::test]
async fn an_update_that_could_not_be_checkpointed_is_neither_acknowledged_nor_forwarded() {
    let host = Arc::new(FakeHost::default());
    host.failing.store(true, Ordering::SeqCst);
    let mut h = subscribed(host.clone()).await;
    h.executor_update(running(UUID1));
    let (events, calls) = h.drain_until_marker().await;
    let acks: Vec<_> = events
        .iter()
        .filter(|e| e.kind == ExecutorEventType::ACKNOWLEDGED)
        .collect();
    assert!(
        acks.is_empty(),
        "the executor got ACKNOWLEDGED for an update that was not checkpointed: {acks:?}"
    );
    let updates: Vec<_> = calls
        .iter()
        .filter(|c| matches!(c, AgentCall::Update { .. }))
        .collect();
    assert!(
        updates.is_empty(),
        "the master got an update that was not checkpointed: {updates:?}"
    );

    // The executor re-sends it once the disk works again: now it is taken.
    host.failing.store(false, Ordering::SeqCst);
    h.executor_update(running(UUID1));
    let (events, calls) = h.drain_until_marker().await;
    let acked: Vec<_> = events
        .iter()
        .filter_map(|e| e.acknowledged.as_ref().map(|a| a.uuid.clone()))
        .collect();
    assert_eq!(acked, [UUID1]);
    let forwarded: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            AgentCall::Update { status, .. } => status.uuid.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded, [UUID1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_answers_while_a_checkpoint_write_is_stalled() {
    let host = Arc::new(FakeHost::default());
    let (release, stall) = std_mpsc::channel();
    let (entered_tx, entered) = std_mpsc::channel();
    *host.stall.lock().unwrap() = Some(stall);
    *host.entered.lock().unwrap() = Some(entered_tx);
    let mut h = subscribed(host.clone()).await;
    let shared = h.shared.clone();
    std::thread::spawn(move || {
        shared.with_core(|c| {
            let fx = c
                .executor_update(&fid(), &eid(), running(UUID1), Instant::now())
                .unwrap();
            ((), fx)
        })
    });
    entered
        .recv_timeout(DEADLINE)
        .expect("the checkpoint write started");
    let (answer_tx, answer) = std_mpsc::channel();
    let shared = h.shared.clone();
    std::thread::spawn(move || {
        let _ = answer_tx.send(shared.read(|c| c.frameworks().count()));
    });
    let answered = answer.recv_timeout(DEADLINE);
    let _ = release.send(());
    assert_eq!(
        answered.ok(),
        Some(1),
        "the core lock was held while a checkpoint write was stalled"
    );
    // Ordering still holds: the ACK comes after the write finished.
    let ack = h.next_event().await;
    assert_eq!(ack.kind, ExecutorEventType::ACKNOWLEDGED);
}

#[tokio::test]
async fn a_task_whose_task_info_could_not_be_checkpointed_is_failed_not_launched() {
    let host = FakeHost::failing_files(&["task.info"]);
    let mut h = subscribed(host).await;
    h.shared
        .handle(|c| c.handle_event(run_task("T2"), Instant::now()));
    // The failed write queues the task's failure while it is performed:
    // once that is done, the marker goes behind it.
    h.shared.drained().await;
    let (events, calls) = h.drain_until_marker().await;
    let launched: Vec<_> = events
        .iter()
        .filter_map(|e| e.launch.as_ref().map(|l| l.task.task_id.value.clone()))
        .collect();
    assert!(
        launched.is_empty(),
        "the executor got LAUNCH for a task whose task.info was not written: {launched:?}"
    );
    let failed: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            AgentCall::Update { status, .. } if status.task_id.value == "T2" => {
                Some((status.state, status.message.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{calls:?}");
    assert_eq!(failed[0].0, TaskState::TASK_FAILED, "{failed:?}");
    assert!(failed[0].1.contains("checkpoint"), "{failed:?}");
}

#[tokio::test]
async fn an_executor_whose_info_could_not_be_checkpointed_is_never_launched() {
    for file in ["executor.info", "framework.info", "task.info"] {
        let work_dir = tempfile::tempdir().unwrap();
        let core = registered_core_in(work_dir.path());
        let mut h = harness(core, FakeHost::failing_files(&[file]));
        h.shared
            .handle(|c| c.handle_event(run_task("T"), Instant::now()));
        // Launched anyway, the executor (`true`) would run and exit and the
        // task fail for that: it must fail for the checkpoint, first.
        let status = h.next_master_update().await;
        assert_eq!(status.state, TaskState::TASK_FAILED, "{file}: {status:?}");
        let message = status.message.unwrap_or_default();
        assert!(
            message.contains("checkpoint") && message.contains(file),
            "{file}: {message}"
        );
    }
}

#[tokio::test]
async fn an_executor_whose_pid_could_not_be_checkpointed_is_destroyed_and_its_tasks_fail() {
    let host = FakeHost::failing_files(&["forked.pid"]);
    let mut h = harness(core_with_a_launching_executor(), host.clone());
    let cid = h.shared.read(|c| {
        let fw = c.frameworks().next().unwrap();
        fw.executors[&eid()].container_id.clone()
    });
    h.shared
        .handle(|c| c.executor_launched(&fid(), &eid(), &cid, 4242, None));
    let status = h.next_master_update().await;
    assert_eq!(
        (status.task_id.value.as_str(), status.state),
        ("T", TaskState::TASK_FAILED),
        "{status:?}"
    );
    let message = status.message.unwrap_or_default();
    assert!(message.contains("forked.pid"), "{message}");
    h.shared.drained().await;
    assert_eq!(*host.killed.lock().unwrap(), [4242]);
}

#[test]
fn exit_descriptions() {
    use std::os::unix::process::ExitStatusExt;
    let e = exit_info(std::process::ExitStatus::from_raw(2 << 8));
    assert_eq!(
        (e.wait_status, e.description.as_str()),
        (512, "exited with status 2")
    );
    let e = exit_info(std::process::ExitStatus::from_raw(9));
    assert_eq!(e.description, "terminated with signal SIGKILL");
}
