//! A small SDK for Mesos v1 HTTP schedulers, used by `mesos-execute` and the
//! frameworks in this repository, and the proof that the public API is
//! usable from Rust.
//!
//! [`subscribe`] opens the SUBSCRIBE stream (following `307` redirects to
//! the leader and retrying `503`), decodes the RecordIO events into a
//! channel, and returns a [`Caller`] for the other calls, which carry the
//! stream id and framework id automatically.
//!
//! Finding the master: `--master` forms are `mesos_coord::MasterLocation`'s
//! (`host:port`, `http://host:port`, `zk://...`, `file:///path`).
//! * A fixed master: when the event stream ends the channel closes; the
//!   application re-subscribes by calling [`subscribe`] again with
//!   `FrameworkInfo.id` set (failover), as Mesos frameworks do.
//! * A `zk://` master: the subscription follows the leader itself. When
//!   another master leads (or the stream ends), it re-subscribes (the same
//!   way: `FrameworkInfo.id` set) to whoever leads, and a new `SUBSCRIBED`
//!   event on the channel says so; calls from every clone of the
//!   [`Caller`] then go to the new leader with the new stream id. An
//!   `ERROR` event, or a re-subscription the master refuses, ends it (the
//!   channel closes), as the stream's end does for a fixed master.
//!
//! It speaks JSON by default; [`subscribe_with`] picks the content type
//! (`application/x-protobuf`, as the C++, Java and Go libraries default to,
//! encodes every call as protobuf and reads the RecordIO stream of
//! protobuf events). [`subscribe_opts`] also sets the ZooKeeper session
//! timeout and how long to wait for a leader.

use futures::StreamExt;
use mesos_coord::MasterLocation;
pub use mesos_proto::ContentType;
use mesos_proto::Message;
use mesos_types::recordio::Decoder;
use mesos_types::scheduler::*;
use mesos_types::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid master address: {0}")]
    Master(#[from] mesos_coord::ParseError),
    #[error(transparent)]
    NoLeaderDetected(#[from] mesos_coord::NoLeader),
    #[error("HTTP error: {0}")]
    Http(#[from] reqwest::Error),
    #[error("master answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the master never elected a leader / kept redirecting")]
    NoLeader,
    #[error("event stream ended before SUBSCRIBED")]
    NotSubscribed,
    #[error("subscription refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Codec(#[from] mesos_proto::CodecError),
}

/// How to subscribe ([`subscribe_opts`]).
#[derive(Debug, Clone)]
pub struct Options {
    pub content_type: ContentType,
    /// ZooKeeper session timeout for a `zk://` master (Mesos's
    /// `--zk_session_timeout` default).
    pub zk_session_timeout: Duration,
    /// How long [`subscribe_opts`] waits for a `zk://` group to have a
    /// leader before it gives up.
    pub leader_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            content_type: ContentType::Json,
            zk_session_timeout: mesos_coord::zk::DEFAULT_SESSION_TIMEOUT,
            leader_timeout: Duration::from_secs(10),
        }
    }
}

/// Where calls go: the scheduler endpoint of the master we are subscribed
/// with, and the stream id it gave us. Shared by every clone of a
/// [`Caller`], so a re-subscription moves them all.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    stream_id: String,
}

/// Sends calls for one subscription.
#[derive(Debug, Clone)]
pub struct Caller {
    http: reqwest::Client,
    target: Arc<Mutex<Target>>,
    pub content_type: ContentType,
    pub framework_id: FrameworkID,
    /// The stream id of the first SUBSCRIBE. Calls carry the current one,
    /// which differs after a re-subscription to another leader
    /// ([`Caller::current_stream_id`]).
    pub stream_id: String,
}

/// An open subscription: events arrive on `events` until the stream ends
/// (with a `zk://` master, until the subscription ends: see the crate
/// documentation). Dropping it closes the connection, which the master
/// sees as the scheduler disconnecting (its failover timeout starts).
#[derive(Debug)]
pub struct Subscription {
    pub caller: Caller,
    pub subscribed: Subscribed,
    pub events: mpsc::UnboundedReceiver<Event>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Subscribes (or re-subscribes when `info.id` is set) and waits for
/// SUBSCRIBED, speaking JSON.
pub async fn subscribe(master: &str, info: FrameworkInfo) -> Result<Subscription, SchedulerError> {
    subscribe_with(master, info, ContentType::Json).await
}

/// [`subscribe`] speaking `content_type`, for the calls and the events.
pub async fn subscribe_with(
    master: &str,
    info: FrameworkInfo,
    content_type: ContentType,
) -> Result<Subscription, SchedulerError> {
    let options = Options {
        content_type,
        ..Options::default()
    };
    subscribe_opts(master, info, options).await
}

/// [`subscribe`] with every option.
pub async fn subscribe_opts(
    master: &str,
    mut info: FrameworkInfo,
    options: Options,
) -> Result<Subscription, SchedulerError> {
    let location = MasterLocation::parse(master)?;
    // Idle connections dropped before the master's 30 s idle cut-off, so a
    // kept-alive one is never reused just as the master closes it.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(15))
        .build()?;
    let content_type = options.content_type;
    let mut leader = location.detect(options.zk_session_timeout);
    let endpoint = location
        .first_leader(&mut leader, options.leader_timeout)
        .await?;
    let opened = open(&http, &endpoint, &info, content_type).await?;
    let target = Arc::new(Mutex::new(Target {
        url: opened.url,
        stream_id: opened.stream_id.clone(),
    }));
    let caller = Caller {
        http: http.clone(),
        target: target.clone(),
        content_type,
        framework_id: opened.subscribed.framework_id.clone(),
        stream_id: opened.stream_id,
    };
    let (tx, events) = mpsc::unbounded_channel();
    let reader = match location {
        MasterLocation::Direct { .. } => tokio::spawn(forward(opened.events, tx)),
        MasterLocation::ZooKeeper(_) => {
            // Every re-subscription is a failover of this framework.
            info.id = Some(opened.subscribed.framework_id.clone());
            let follower = Follower {
                http,
                content_type,
                info,
                leader,
                endpoint,
                target,
                tx,
            };
            tokio::spawn(follower.run(opened.events))
        }
    };
    Ok(Subscription {
        caller,
        subscribed: opened.subscribed,
        events,
        reader,
    })
}

/// A SUBSCRIBE the master took: SUBSCRIBED has been read; the rest of the
/// stream is in `events`.
struct Opened {
    /// The scheduler endpoint that answered (after redirects).
    url: String,
    stream_id: String,
    subscribed: Subscribed,
    events: EventStream,
}

/// SUBSCRIBE at the master at `endpoint` (`host:port`), following `307`s
/// to the leader and retrying `503`s, then reads SUBSCRIBED.
async fn open(
    http: &reqwest::Client,
    endpoint: &str,
    info: &FrameworkInfo,
    content_type: ContentType,
) -> Result<Opened, SchedulerError> {
    let mut call = Call::new(CallType::SUBSCRIBE, info.id.clone());
    call.subscribe = Some(Subscribe {
        framework_info: info.clone(),
        suppressed_roles: vec![],
    });
    let body = content_type.encode(Message::SchedulerCall, &call)?;
    let mut base = format!("http://{endpoint}");
    for _attempt in 0..10 {
        let url = format!("{base}/master/api/v1/scheduler");
        // The client follows redirects itself (reqwest resolves the
        // protocol-relative `//host:port/...` of a master that does not
        // lead); the arms below are for a client that stopped following.
        let resp = http
            .post(&url)
            .header("Content-Type", content_type.mime())
            .header("Accept", content_type.mime())
            .body(body.clone())
            .send()
            .await?;
        match resp.status().as_u16() {
            200 => {
                let url = resp.url().to_string();
                return read_subscribed(url, resp, content_type).await;
            }
            307 => {
                let loc = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let Some(hostport) = redirect_authority(loc) else {
                    return Err(SchedulerError::NoLeader);
                };
                base = format!("http://{hostport}");
            }
            503 => tokio::time::sleep(Duration::from_millis(500)).await,
            s => {
                return Err(SchedulerError::Status {
                    status: s,
                    body: resp.text().await.unwrap_or_default(),
                });
            }
        }
    }
    Err(SchedulerError::NoLeader)
}

/// `host:port` of a redirect's `Location` (`//host:port/...` or
/// `http://host:port/...`).
fn redirect_authority(location: &str) -> Option<&str> {
    let rest = location
        .strip_prefix("http:")
        .unwrap_or(location)
        .strip_prefix("//")?;
    rest.split('/').next().filter(|a| !a.is_empty())
}

async fn read_subscribed(
    url: String,
    resp: reqwest::Response,
    content_type: ContentType,
) -> Result<Opened, SchedulerError> {
    let stream_id = resp
        .headers()
        .get("mesos-stream-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // The records are in the type the master says it sent (a master that
    // could not honour `Accept` would have answered 406).
    let stream_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| ContentType::from_content_type(v.to_str().ok()).ok())
        .unwrap_or(content_type);
    let mut events = EventStream {
        body: Box::pin(resp.bytes_stream()),
        decoder: Decoder::default(),
        content_type: stream_type,
    };
    match events.next().await {
        Some(Event {
            subscribed: Some(subscribed),
            ..
        }) => Ok(Opened {
            url,
            stream_id,
            subscribed,
            events,
        }),
        Some(Event { error: Some(e), .. }) => Err(SchedulerError::Refused(e.message)),
        _ => Err(SchedulerError::NotSubscribed),
    }
}

type Body =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send>>;

/// The decoded events of one SUBSCRIBE response.
struct EventStream {
    body: Body,
    decoder: Decoder,
    content_type: ContentType,
}

impl EventStream {
    /// The next event; `None` once the stream ends (or is corrupt).
    async fn next(&mut self) -> Option<Event> {
        loop {
            match self.decoder.next_record() {
                Ok(Some(rec)) => {
                    match self
                        .content_type
                        .decode::<Event>(Message::SchedulerEvent, &rec)
                    {
                        Ok(e) => return Some(e),
                        Err(e) => tracing::warn!("undecodable event: {e}"),
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!("corrupt event stream: {e}");
                    return None;
                }
            }
            let chunk = self.body.next().await?.ok()?;
            self.decoder.feed(&chunk);
        }
    }
}

/// A fixed master: events until the stream ends.
async fn forward(mut events: EventStream, tx: mpsc::UnboundedSender<Event>) {
    while let Some(e) = events.next().await {
        if tx.send(e).is_err() {
            return;
        }
    }
}

/// Longest wait between re-subscription attempts.
const MAX_RESUBSCRIBE_BACKOFF: Duration = Duration::from_secs(10);

/// A `zk://` master: the subscription, across leaders.
struct Follower {
    http: reqwest::Client,
    content_type: ContentType,
    /// With the framework id set: every SUBSCRIBE is a failover.
    info: FrameworkInfo,
    leader: watch::Receiver<Option<String>>,
    /// `host:port` of the master we are subscribed with.
    endpoint: String,
    target: Arc<Mutex<Target>>,
    tx: mpsc::UnboundedSender<Event>,
}

/// Why a stream was left.
enum Left {
    Ended,
    NewLeader,
    /// The application dropped the channel, or the master sent ERROR.
    Done,
}

impl Follower {
    async fn run(mut self, mut events: EventStream) {
        loop {
            let left = self.pump(&mut events).await;
            // The old connection closes here, whatever happens next.
            drop(events);
            let framework = self.info.id.clone().unwrap_or_default();
            match left {
                Left::Done => return,
                Left::Ended => tracing::warn!(
                    "The master's event stream ended; re-subscribing framework {framework}"
                ),
                Left::NewLeader => tracing::info!(
                    "Another master leads ({}); re-subscribing framework {framework}",
                    self.leader.borrow().as_deref().unwrap_or("none yet")
                ),
            }
            match self.resubscribe().await {
                Some(next) => events = next,
                None => return,
            }
        }
    }

    /// Forwards events until the stream ends or another master leads.
    async fn pump(&mut self, events: &mut EventStream) -> Left {
        loop {
            tokio::select! {
                e = events.next() => match e {
                    Some(e) => {
                        // ERROR means the master will not have us back
                        // (another instance failed over, or we were
                        // removed): the application decides, not us.
                        let fatal = e.kind == EventType::ERROR;
                        if self.tx.send(e).is_err() || fatal {
                            return Left::Done;
                        }
                    }
                    None => return Left::Ended,
                },
                changed = self.leader.changed() => {
                    if changed.is_err() {
                        // Detection stopped (the runtime is going away).
                        return Left::Done;
                    }
                    // Back to the same master (its znode came back) is
                    // no change for a stream that is still open.
                    if self.leader.borrow_and_update().as_deref() != Some(self.endpoint.as_str()) {
                        return Left::NewLeader;
                    }
                }
                () = self.tx.closed() => return Left::Done,
            }
        }
    }

    /// SUBSCRIBE with the framework id to whoever leads, until one takes
    /// it (its SUBSCRIBED goes to the application) or refuses it (an ERROR
    /// event, then the end).
    async fn resubscribe(&mut self) -> Option<EventStream> {
        let mut backoff = Duration::from_millis(250);
        let mut said = false;
        loop {
            let endpoint = self.leader.borrow_and_update().clone();
            let Some(endpoint) = endpoint else {
                if !said {
                    tracing::info!("No leading master detected; waiting for one");
                    said = true;
                }
                tokio::select! {
                    changed = self.leader.changed() => changed.ok()?,
                    () = self.tx.closed() => return None,
                }
                continue;
            };
            let opened = tokio::select! {
                o = open(&self.http, &endpoint, &self.info, self.content_type) => o,
                () = self.tx.closed() => return None,
            };
            match opened {
                Ok(o) => {
                    tracing::info!(
                        "Re-subscribed framework {} with the master at {endpoint}",
                        o.subscribed.framework_id
                    );
                    self.endpoint = endpoint;
                    *self.target.lock().unwrap_or_else(|p| p.into_inner()) = Target {
                        url: o.url,
                        stream_id: o.stream_id,
                    };
                    self.tx.send(Event::subscribed(o.subscribed)).ok()?;
                    return Some(o.events);
                }
                Err(SchedulerError::Refused(message)) => {
                    tracing::warn!(
                        "The master at {endpoint} refused the re-subscription: {message}"
                    );
                    let _ = self.tx.send(Event::error(message));
                    return None;
                }
                Err(e) => {
                    tracing::warn!("Re-subscribing with the master at {endpoint} failed: {e}");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                // A new leader is tried at once.
                changed = self.leader.changed() => changed.ok()?,
                () = self.tx.closed() => return None,
            }
            backoff = (backoff * 2).min(MAX_RESUBSCRIBE_BACKOFF);
        }
    }
}

impl Caller {
    /// Sends any call; the framework id is filled in.
    pub async fn call(&self, mut call: Call) -> Result<(), SchedulerError> {
        call.framework_id = Some(self.framework_id.clone());
        let body = self.content_type.encode(Message::SchedulerCall, &call)?;
        let target = self.target();
        // A master that does not lead answers 307 to the leader; the
        // client follows it (same method and body).
        let resp = self
            .http
            .post(&target.url)
            .header("Content-Type", self.content_type.mime())
            .header("Mesos-Stream-Id", &target.stream_id)
            .body(body)
            .send()
            .await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(SchedulerError::Status {
                status: resp.status().as_u16(),
                body: resp.text().await.unwrap_or_default(),
            })
        }
    }

    fn target(&self) -> Target {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The stream id calls carry now (that of the latest SUBSCRIBE).
    pub fn current_stream_id(&self) -> String {
        self.target().stream_id
    }

    /// The scheduler endpoint calls go to now
    /// (`http://host:port/master/api/v1/scheduler` of the leader).
    pub fn current_url(&self) -> String {
        self.target().url
    }

    fn new_call(&self, kind: CallType) -> Call {
        Call::new(kind, Some(self.framework_id.clone()))
    }

    pub async fn launch(
        &self,
        offer_ids: Vec<OfferID>,
        tasks: Vec<TaskInfo>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        let mut c = self.new_call(CallType::ACCEPT);
        c.accept = Some(Accept {
            offer_ids,
            operations: vec![Operation {
                kind: Some(OperationType::LAUNCH),
                id: None,
                launch: Some(Launch { task_infos: tasks }),
                ..Default::default()
            }],
            filters,
        });
        self.call(c).await
    }

    /// ACCEPT with any operations (reserve, create, launch...).
    pub async fn accept(
        &self,
        offer_ids: Vec<OfferID>,
        operations: Vec<Operation>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        let mut c = self.new_call(CallType::ACCEPT);
        c.accept = Some(Accept {
            offer_ids,
            operations,
            filters,
        });
        self.call(c).await
    }

    pub async fn decline(
        &self,
        offer_ids: Vec<OfferID>,
        filters: Option<Filters>,
    ) -> Result<(), SchedulerError> {
        let mut c = self.new_call(CallType::DECLINE);
        c.decline = Some(Decline { offer_ids, filters });
        self.call(c).await
    }

    pub async fn acknowledge(&self, status: &TaskStatus) -> Result<(), SchedulerError> {
        let (Some(agent_id), Some(uuid)) = (status.agent_id.clone(), status.uuid.clone()) else {
            return Ok(());
        };
        let mut c = self.new_call(CallType::ACKNOWLEDGE);
        c.acknowledge = Some(Acknowledge {
            agent_id,
            task_id: status.task_id.clone(),
            uuid,
        });
        self.call(c).await
    }

    pub async fn kill(
        &self,
        task_id: TaskID,
        agent_id: Option<AgentID>,
    ) -> Result<(), SchedulerError> {
        let mut c = self.new_call(CallType::KILL);
        c.kill = Some(Kill {
            task_id,
            agent_id,
            kill_policy: None,
        });
        self.call(c).await
    }

    pub async fn suppress(&self) -> Result<(), SchedulerError> {
        self.call(self.new_call(CallType::SUPPRESS)).await
    }

    pub async fn revive(&self) -> Result<(), SchedulerError> {
        self.call(self.new_call(CallType::REVIVE)).await
    }

    pub async fn reconcile(&self, tasks: Vec<ReconcileTask>) -> Result<(), SchedulerError> {
        let mut c = self.new_call(CallType::RECONCILE);
        c.reconcile = Some(Reconcile { tasks });
        self.call(c).await
    }

    pub async fn teardown(&self) -> Result<(), SchedulerError> {
        self.call(self.new_call(CallType::TEARDOWN)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations() {
        assert_eq!(
            redirect_authority("//m2:5050/master/api/v1/scheduler"),
            Some("m2:5050")
        );
        assert_eq!(
            redirect_authority("http://m3:5050/master/api/v1/scheduler"),
            Some("m3:5050")
        );
        assert_eq!(redirect_authority("//[::1]:5050"), Some("[::1]:5050"));
        assert_eq!(redirect_authority("/master/api/v1/scheduler"), None);
        assert_eq!(redirect_authority("//"), None);
        assert_eq!(redirect_authority(""), None);
    }

    #[tokio::test]
    async fn bad_masters_are_refused_before_anything_is_sent() {
        for (bad, why) in [
            ("zk://h1:2181", "missing znode path"),
            ("m1:x", "bad port"),
            ("", "empty master address"),
        ] {
            let e = subscribe(bad, FrameworkInfo::default()).await.unwrap_err();
            assert!(matches!(e, SchedulerError::Master(_)), "{bad}: {e:?}");
            assert!(e.to_string().contains(why), "{bad}: {e}");
        }
    }
}
