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

/// How often unacknowledged updates are considered for a resend.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Runs the executor until the machine asks to exit; returns the exit code.
pub async fn run(config: Config) -> i32 {
    let client = match reqwest::Client::builder().no_proxy().build() {
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
    loop {
        for action in actions {
            match action {
                Action::Subscribe(call) => {
                    tokio::spawn(subscribe(client.clone(), url.clone(), *call, tx.clone()));
                }
                Action::Send(call) => {
                    let _ = calls.send(*call);
                }
                Action::Spawn(spec) => immediate.push_back(spawn_command(spec, tx.clone())),
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
        let input = match immediate.pop_front() {
            Some(input) => input,
            None => match rx.recv().await {
                Some(input) => input,
                None => return 1,
            },
        };
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
fn spawn_command(spec: CommandSpec, tx: UnboundedSender<Input>) -> Input {
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
                return Input::SpawnFailed("the command exited before its pid was known".into());
            };
            tokio::spawn(async move {
                let term = match child.wait().await {
                    Ok(status) => Termination::from_exit_status(status),
                    Err(_) => Termination::Unknown,
                };
                let _ = tx.send(Input::Exited(term));
            });
            Input::Spawned { pid }
        }
        Err(e) => Input::SpawnFailed(format!("{}: {e}", spec.program)),
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
