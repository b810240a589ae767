//! The connection to the master (our agent protocol, `docs/protocol.md`).
//!
//! The agent POSTs `REGISTER` to `/master/api/v1/agent` and reads the
//! chunked RecordIO response as its event stream, identified by the
//! `Mesos-Stream-Id` response header. Every other call is a separate POST
//! carrying that header, sent in order by [`run_call_sender`]. When the
//! stream ends (or cannot be opened) the agent waits, doubling the wait from
//! `--registration_backoff_factor` up to 10 s, and registers again with the
//! same agent id.
//!
//! Which master: the leader `mesos_coord::MasterLocation::detect` reports
//! (`--master=host:port` is a leader that never changes; `zk://` follows
//! the group). When another master leads, the agent drops its stream and
//! registers with the new leader after a random wait of up to
//! `--registration_backoff_factor`, as Mesos agents do.

use crate::runtime::Shared;
use futures::StreamExt;
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::recordio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// Longest wait between registration attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Once the master has pinged us, this much silence means the link is dead
/// (15 s ping interval x 5 missed pings, as the master counts).
pub const PING_SILENCE: Duration = Duration::from_secs(75);

/// The URL and stream id calls go to while registered.
#[derive(Debug, Default)]
pub struct Link {
    current: Mutex<Option<(String, String)>>,
}

impl Link {
    fn set(&self, value: Option<(String, String)>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = value;
    }

    fn get(&self) -> Option<(String, String)> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The next backoff: double, capped at [`MAX_BACKOFF`].
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

/// Where a 3xx `Location` points us: `//host:port/...` or `http://host:port/...`.
pub fn redirect_target(location: &str) -> Option<String> {
    let rest = location
        .strip_prefix("http://")
        .or_else(|| location.strip_prefix("//"))?;
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    Some(format!("http://{authority}/master/api/v1/agent"))
}

/// A random duration in `[0, max]`. After a leader change every agent
/// re-registers at once; spreading the first attempts keeps the new leader
/// from a thundering herd (Mesos's randomized registration backoff).
pub fn jitter(max: Duration) -> Duration {
    let (r, _) = uuid::Uuid::new_v4().as_u64_pair();
    max.mul_f64(r as f64 / u64::MAX as f64)
}

/// The agent API endpoint of the master at `host:port`.
pub fn agent_api_url(endpoint: &str) -> String {
    format!("http://{endpoint}/master/api/v1/agent")
}

/// Keeps the agent registered with the leading master, forever. `leader`
/// is the leading master's `host:port` as it changes
/// (`mesos_coord::MasterLocation::detect`): while none is known the agent
/// waits; when another master leads, the current attempt or event stream
/// is dropped and the agent registers with the new leader (same agent id)
/// after a random part of `backoff_factor`. A stream that ends or an
/// attempt that fails is retried after a backoff doubling from
/// `backoff_factor` up to [`MAX_BACKOFF`]. A `307` from a master that does
/// not lead is followed until the detected leader changes.
pub async fn run_registration(
    shared: Arc<Shared>,
    link: Arc<Link>,
    mut leader: watch::Receiver<Option<String>>,
    backoff_factor: Duration,
) {
    let initial = backoff_factor.max(Duration::from_millis(10));
    let mut backoff = initial;
    // The leader `url` was made for; a redirect changes `url` only.
    let mut target: Option<String> = None;
    let mut url = String::new();
    loop {
        if let Some(reason) = shared.shutdown_by_master().borrow().clone() {
            // A gone agent is refused for good; its owner stops it.
            info!("Not registering again: the master shut this agent down ({reason})");
            return;
        }
        let Some(endpoint) = current_leader(&mut leader).await else {
            warn!("Master detection stopped; not registering again");
            return;
        };
        if target.as_deref() != Some(endpoint.as_str()) {
            url = agent_api_url(&endpoint);
            target = Some(endpoint);
        }
        let ended = tokio::select! {
            registered = register_once(&shared, &link, &mut url) => Some(registered),
            () = leader_change(&mut leader) => None,
        };
        if link.get().is_some() {
            // Dropped mid-stream for another leader: the connection is
            // closed with the attempt, so the core is disconnected here.
            link.set(None);
            shared.handle(|c| {
                c.disconnected();
                Vec::new()
            });
        }
        let new_leader = match ended {
            None => true,
            Some(registered) => {
                if registered {
                    backoff = initial;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {
                        backoff = next_backoff(backoff);
                        false
                    }
                    () = leader_change(&mut leader) => true,
                }
            }
        };
        if new_leader {
            let leading = leader.borrow().clone();
            let wait = jitter(initial);
            match leading {
                Some(l) => info!(
                    "The leading master is now {l}; registering in {}ms",
                    wait.as_millis()
                ),
                None => info!("The leading master is gone"),
            }
            backoff = initial;
            tokio::time::sleep(wait).await;
        }
    }
}

/// The leading master, waiting (and saying so) while none is known; `None`
/// if detection stopped.
async fn current_leader(leader: &mut watch::Receiver<Option<String>>) -> Option<String> {
    let mut said = false;
    loop {
        if let Some(endpoint) = leader.borrow_and_update().clone() {
            return Some(endpoint);
        }
        if !said {
            info!("No leading master detected; waiting for one");
            said = true;
        }
        leader.changed().await.ok()?;
    }
}

/// Resolves when the leading master changes (never, once detection stops).
async fn leader_change(leader: &mut watch::Receiver<Option<String>>) {
    if leader.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One registration attempt at `url` (which a redirect changes) and, if the
/// master takes it, the event stream until it ends; true if we got
/// registered on it.
async fn register_once(shared: &Arc<Shared>, link: &Link, url: &mut String) -> bool {
    let register = shared.read(|c| c.register_call());
    let response = shared
        .client
        .post(url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(reqwest::header::ACCEPT, "application/json")
        .json(&register)
        .send()
        .await;
    match response {
        Err(e) => warn!("Failed to connect to master at {url}: {}", error_chain(&e)),
        Ok(r) if r.status().is_redirection() => {
            let location = r
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            match redirect_target(location) {
                Some(target) => {
                    info!("Master redirected us to {target}");
                    *url = target;
                }
                None => warn!(
                    "Master answered {} with an unusable Location '{location}'",
                    r.status()
                ),
            }
        }
        Ok(r) if r.status() != reqwest::StatusCode::OK => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            warn!("Master refused registration: {status} {body}");
        }
        Ok(r) => {
            let stream_id = r
                .headers()
                .get("Mesos-Stream-Id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            link.set(Some((url.clone(), stream_id)));
            let registered = read_events(shared, r).await;
            link.set(None);
            shared.handle(|c| {
                c.disconnected();
                Vec::new()
            });
            warn!("Lost the connection to the master at {url}; registering again");
            return registered;
        }
    }
    false
}

/// Reads the event stream until it ends; true if we got registered on it.
async fn read_events(shared: &Arc<Shared>, response: reqwest::Response) -> bool {
    let mut registered = false;
    let mut pinged = false;
    let mut decoder = recordio::Decoder::default();
    let mut body = response.bytes_stream();
    loop {
        let next = if pinged {
            match tokio::time::timeout(PING_SILENCE, body.next()).await {
                Ok(n) => n,
                Err(_) => {
                    warn!("No PING from the master for {}s", PING_SILENCE.as_secs());
                    return registered;
                }
            }
        } else {
            body.next().await
        };
        let Some(Ok(chunk)) = next else {
            return registered;
        };
        decoder.feed(&chunk);
        loop {
            match decoder.next_record() {
                Ok(Some(record)) => match serde_json::from_slice::<AgentEvent>(&record) {
                    Ok(event) => {
                        registered |= matches!(event, AgentEvent::Registered { .. });
                        pinged |= matches!(event, AgentEvent::Ping { .. });
                        shared.handle(|c| c.handle_event(event, Instant::now()));
                    }
                    Err(e) => warn!("Ignoring undecodable master event: {e}"),
                },
                Ok(None) => break,
                Err(e) => {
                    warn!("Corrupt event stream from the master: {e}");
                    return registered;
                }
            }
        }
    }
}

/// Sends agent calls to the master one at a time, in order. Calls made
/// while disconnected are dropped (status updates are retried by the core).
pub async fn run_call_sender(
    shared: Arc<Shared>,
    link: Arc<Link>,
    mut calls: UnboundedReceiver<AgentCall>,
) {
    while let Some(call) = calls.recv().await {
        let Some((url, stream_id)) = link.get() else {
            debug!("Not connected to a master; dropping {}", call_name(&call));
            continue;
        };
        let result = shared
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Mesos-Stream-Id", stream_id)
            .timeout(Duration::from_secs(15))
            .json(&call)
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                warn!("Master refused {}: {status} {body}", call_name(&call));
            }
            Err(e) => warn!(
                "Failed to send {} to the master: {}",
                call_name(&call),
                error_chain(&e)
            ),
        }
    }
}

/// An error with its causes (`reqwest` hides them from `Display`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn call_name(call: &AgentCall) -> &'static str {
    match call {
        AgentCall::Register { .. } => "REGISTER",
        AgentCall::Update { .. } => "UPDATE",
        AgentCall::Message { .. } => "MESSAGE",
        AgentCall::ExecutorExited { .. } => "EXECUTOR_EXITED",
        AgentCall::Pong { .. } => "PONG",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap() {
        let mut b = Duration::from_secs(1);
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push(b.as_secs());
            b = next_backoff(b);
        }
        assert_eq!(seen, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        let max = Duration::from_millis(100);
        let waits: Vec<Duration> = (0..50).map(|_| jitter(max)).collect();
        assert!(waits.iter().all(|w| *w <= max));
        assert!(waits.iter().any(|w| *w != waits[0]), "the waits are spread");
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn redirects() {
        assert_eq!(
            redirect_target("//m2:5050/master/api/v1/agent").as_deref(),
            Some("http://m2:5050/master/api/v1/agent")
        );
        assert_eq!(
            redirect_target("http://m3:5050").as_deref(),
            Some("http://m3:5050/master/api/v1/agent")
        );
        assert_eq!(redirect_target("/relative"), None);
    }
}
