//! A small SDK for Mesos v1 HTTP schedulers, used by `mesos-execute` and the
//! frameworks in this repository, and the proof that the public API is
//! usable from Rust.
//!
//! [`subscribe`] opens the SUBSCRIBE stream (following `307` redirects to
//! the leader and retrying `503`), decodes the RecordIO events into a
//! channel, and returns a [`Caller`] for the other calls, which carry the
//! stream id and framework id automatically.
//!
//! It speaks JSON by default; [`subscribe_with`] picks the content type
//! (`application/x-protobuf`, as the C++, Java and Go libraries default to,
//! encodes every call as protobuf and reads the RecordIO stream of
//! protobuf events).

use futures::StreamExt;
use mesos_coord::MasterLocation;
pub use mesos_proto::ContentType;
use mesos_proto::Message;
use mesos_types::recordio::Decoder;
use mesos_types::scheduler::*;
use mesos_types::*;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("invalid master address: {0}")]
    Master(#[from] mesos_coord::ParseError),
    #[error("ZooKeeper master detection is not available in this build yet")]
    ZooKeeperUnsupported,
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

/// Sends calls for one subscription.
#[derive(Debug, Clone)]
pub struct Caller {
    http: reqwest::Client,
    url: String,
    pub content_type: ContentType,
    pub framework_id: FrameworkID,
    pub stream_id: String,
}

/// An open subscription: events arrive on `events` until the stream ends.
/// Dropping it closes the connection, which the master sees as the
/// scheduler disconnecting (its failover timeout starts).
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

fn master_base(master: &str) -> Result<String, SchedulerError> {
    match MasterLocation::parse(master)? {
        MasterLocation::Direct { host, port } => Ok(format!("http://{host}:{port}")),
        MasterLocation::ZooKeeper { .. } => Err(SchedulerError::ZooKeeperUnsupported),
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
    // Idle connections dropped before the master's 30 s idle cut-off, so a
    // kept-alive one is never reused just as the master closes it.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(std::time::Duration::from_secs(15))
        .build()?;
    let mut base = master_base(master)?;
    let mut call = Call::new(CallType::SUBSCRIBE, info.id.clone());
    call.subscribe = Some(Subscribe {
        framework_info: info,
        suppressed_roles: vec![],
    });
    let body = content_type.encode(Message::SchedulerCall, &call)?;
    for _attempt in 0..10 {
        let url = format!("{base}/master/api/v1/scheduler");
        let resp = http
            .post(&url)
            .header("Content-Type", content_type.mime())
            .header("Accept", content_type.mime())
            .body(body.clone())
            .send()
            .await?;
        match resp.status().as_u16() {
            200 => return read_subscription(http, url, resp, content_type).await,
            307 => {
                let loc = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let hostport = loc
                    .trim_start_matches("http:")
                    .trim_start_matches("//")
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                if hostport.is_empty() {
                    return Err(SchedulerError::NoLeader);
                }
                base = format!("http://{hostport}");
            }
            503 => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
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

async fn read_subscription(
    http: reqwest::Client,
    url: String,
    resp: reqwest::Response,
    content_type: ContentType,
) -> Result<Subscription, SchedulerError> {
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
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut bytes = resp.bytes_stream();
    let reader = tokio::spawn(async move {
        let mut dec = Decoder::default();
        while let Some(chunk) = bytes.next().await {
            let Ok(chunk) = chunk else { break };
            dec.feed(&chunk);
            loop {
                match dec.next_record() {
                    Ok(Some(rec)) => {
                        match stream_type.decode::<Event>(Message::SchedulerEvent, &rec) {
                            Ok(e) => {
                                if tx.send(e).is_err() {
                                    return;
                                }
                            }
                            Err(e) => tracing::warn!("undecodable event: {e}"),
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!("corrupt event stream: {e}");
                        return;
                    }
                }
            }
        }
    });
    match rx.recv().await {
        Some(Event {
            subscribed: Some(s),
            ..
        }) => {
            let caller = Caller {
                http,
                url,
                content_type,
                framework_id: s.framework_id.clone(),
                stream_id,
            };
            Ok(Subscription {
                caller,
                subscribed: s,
                events: rx,
                reader,
            })
        }
        Some(Event { error: Some(e), .. }) => Err(SchedulerError::Refused(e.message)),
        _ => Err(SchedulerError::NotSubscribed),
    }
}

impl Caller {
    /// Sends any call; the framework id is filled in.
    pub async fn call(&self, mut call: Call) -> Result<(), SchedulerError> {
        call.framework_id = Some(self.framework_id.clone());
        let body = self.content_type.encode(Message::SchedulerCall, &call)?;
        let resp = self
            .http
            .post(&self.url)
            .header("Content-Type", self.content_type.mime())
            .header("Mesos-Stream-Id", &self.stream_id)
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
