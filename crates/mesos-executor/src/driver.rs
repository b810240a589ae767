//! The I/O shell around [`Machine`]: the subscription stream and calls to
//! the agent, the forked command, signals and timers.
//!
//! Every input is funnelled through one channel and handled in order, so the
//! machine sees a single sequential history; calls are POSTed by one task in
//! the order the machine produced them (STARTING before RUNNING before the
//! terminal update).

use crate::config::Config;
use crate::machine::{Action, CommandSpec, Entropy, Input, Machine, Sig};
use crate::status::Termination;
use futures::StreamExt;
use mesos_types::executor::{Call, Event};
use mesos_types::recordio;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;

/// How often unacknowledged updates are considered for a resend.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Runs the executor until the machine asks to exit; returns the exit code.
pub async fn run(config: Config) -> i32 {
    // Idle connections dropped before the agent's 30 s idle cut-off, so a
    // kept-alive one is never reused just as the agent closes it.
    let client = match reqwest::Client::builder()
        .no_proxy()
        .pool_idle_timeout(std::time::Duration::from_secs(15))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Failed to create an HTTP client: {e}");
            return 1;
        }
    };
    let url = config.executor_url();
    let (tx, mut rx) = unbounded_channel::<Input>();
    let calls = spawn_call_sender(client.clone(), url.clone());
    let ticker = tx.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(RETRY_INTERVAL);
        interval.tick().await;
        loop {
            interval.tick().await;
            if ticker.send(Input::RetryTick).is_err() {
                return;
            }
        }
    });

    let mut machine = Machine::new(config, Entropy::system());
    let mut immediate: VecDeque<Input> = VecDeque::new();
    let mut actions = machine.start();
    // Lets the command's watcher reap it: sent once the machine handled
    // its exit and the resulting actions were performed.
    let mut reap: Option<oneshot::Sender<()>> = None;
    let mut exit_handled = false;
    loop {
        for action in actions {
            match action {
                Action::Subscribe(call) => {
                    tokio::spawn(subscribe(client.clone(), url.clone(), *call, tx.clone()));
                }
                Action::Send(call) => {
                    let _ = calls.send(*call);
                }
                Action::Spawn(spec) => {
                    let (input, reaper) = spawn_command(spec, tx.clone());
                    reap = reaper;
                    immediate.push_back(input);
                }
                Action::SignalGroup { pid, signal } => signal_group(pid, signal),
                Action::Schedule { after, timer } => {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        let _ = tx.send(Input::Timer(timer));
                    });
                }
                Action::Log(line) => eprintln!("{line}"),
                Action::Exit(code) => return code,
            }
        }
        if exit_handled && let Some(reap) = reap.take() {
            let _ = reap.send(());
        }
        let input = match immediate.pop_front() {
            Some(input) => input,
            None => match rx.recv().await {
                Some(input) => input,
                None => return 1,
            },
        };
        exit_handled = matches!(input, Input::Exited(_));
        actions = machine.handle(input);
    }
}

/// POSTs calls one at a time, in order. Failures are logged; the machine
/// re-sends unacknowledged updates on its retry tick.
fn spawn_call_sender(client: reqwest::Client, url: String) -> UnboundedSender<Call> {
    let (tx, mut rx) = unbounded_channel::<Call>();
    tokio::spawn(async move {
        while let Some(call) = rx.recv().await {
            let body = match serde_json::to_vec(&call) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("Failed to encode {} call: {e}", call.kind);
                    continue;
                }
            };
            let result = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .timeout(Duration::from_secs(30))
                .body(body)
                .send()
                .await;
            match result {
                Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => {}
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    eprintln!("Agent refused {} call: {status} {text}", call.kind);
                }
                Err(e) => eprintln!("Failed to send {} call: {}", call.kind, error_chain(&e)),
            }
        }
    });
    tx
}

/// Opens the subscription and feeds its events to the machine.
async fn subscribe(client: reqwest::Client, url: String, call: Call, tx: UnboundedSender<Input>) {
    let body = match serde_json::to_vec(&call) {
        Ok(b) => b,
        Err(e) => {
            let _ = tx.send(Input::SubscribeFailed {
                fatal: true,
                reason: e.to_string(),
            });
            return;
        }
    };
    let response = client
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.send(Input::SubscribeFailed {
                fatal: false,
                reason: e.to_string(),
            });
            return;
        }
    };
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        let text = response.text().await.unwrap_or_default();
        let reason = format!("{status}: {text}");
        let _ = tx.send(Input::SubscribeFailed {
            fatal: status.is_client_error(),
            reason,
        });
        return;
    }
    let mut decoder = recordio::Decoder::default();
    let mut stream = response.bytes_stream();
    'read: while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        decoder.feed(&chunk);
        loop {
            match decoder.next_record() {
                Ok(Some(record)) => match serde_json::from_slice::<Event>(&record) {
                    Ok(event) => {
                        if tx.send(Input::Event(Box::new(event))).is_err() {
                            return;
                        }
                    }
                    Err(e) => eprintln!("Ignoring undecodable event: {e}"),
                },
                Ok(None) => break,
                Err(e) => {
                    eprintln!("Corrupt event stream: {e}");
                    break 'read;
                }
            }
        }
    }
    let _ = tx.send(Input::Disconnected);
}

/// Forks the command in its own process group and watches for its exit.
/// Returns the input to feed the machine and, once forked, the sender that
/// allows the watcher to reap the command.
fn spawn_command(
    spec: CommandSpec,
    tx: UnboundedSender<Input>,
) -> (Input, Option<oneshot::Sender<()>>) {
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(arg0) = &spec.arg0 {
        cmd.arg0(arg0);
    }
    match cmd.spawn() {
        Ok(mut child) => {
            let Some(pid) = child.id() else {
                let error = "the command exited before its pid was known".into();
                return (Input::SpawnFailed(error), None);
            };
            let (allow_reap, reap_allowed) = oneshot::channel();
            tokio::spawn(async move {
                // Until the command is reaped its pid, and so the id of its
                // process group, cannot be reused: the group is killed
                // before, and the machine stops signalling it before the
                // reap is allowed.
                // Not the blocking pool: the runtime would wait for it on exit.
                let (waited_tx, waited) = oneshot::channel();
                let thread = std::thread::Builder::new()
                    .name("wait-command".into())
                    .spawn(move || {
                        let _ = waited_tx.send(wait_unreaped(pid));
                    });
                let waited = match thread {
                    Ok(_) => waited.await.map_err(|_| ()),
                    Err(_) => Err(()),
                };
                let term = match waited {
                    Ok(Ok(status)) => {
                        signal_group(pid, Sig::Kill);
                        Termination::from_exit_status(status)
                    }
                    _ => Termination::Unknown,
                };
                let _ = tx.send(Input::Exited(term));
                let _ = reap_allowed.await;
                let reaped = child.wait().await;
                if term == Termination::Unknown
                    && let Ok(status) = reaped
                {
                    eprintln!("Command exit status {status} became known only after reaping it");
                }
            });
            (Input::Spawned { pid }, Some(allow_reap))
        }
        Err(e) => (Input::SpawnFailed(format!("{}: {e}", spec.program)), None),
    }
}

/// Blocks until child `pid` has exited, leaving it unreaped (`WNOWAIT`).
fn wait_unreaped(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    use std::os::unix::process::ExitStatusExt;
    let raw = i32::try_from(pid).map_err(std::io::Error::other)?;
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(Pid::from_raw(raw)), flags) {
            Ok(WaitStatus::Exited(_, code)) => {
                return Ok(std::process::ExitStatus::from_raw((code & 0xff) << 8));
            }
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                let core = if core { 0x80 } else { 0 };
                return Ok(std::process::ExitStatus::from_raw(signal as i32 | core));
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// An error with its causes (`reqwest` hides them from `Display`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn signal_group(pid: u32, signal: Sig) {
    let Ok(raw) = i32::try_from(pid) else { return };
    if raw <= 1 {
        return;
    }
    let sig = match signal {
        Sig::Term => Signal::SIGTERM,
        Sig::Kill => Signal::SIGKILL,
    };
    match killpg(Pid::from_raw(raw), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => eprintln!("Failed to send {sig} to process group {pid}: {e}"),
    }
}
