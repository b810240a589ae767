//! Test harness: a master on a free port and a fake agent that speaks the
//! real agent protocol over HTTP (no processes).

#![allow(dead_code)]

use futures::StreamExt;
use mesos_master::{MasterFlags, MasterHandle};
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::recordio::Decoder;
use mesos_types::scheduler::EventType;
use mesos_types::*;
use tokio::sync::mpsc;

pub async fn master(extra: &[&str]) -> MasterHandle {
    let mut args = vec![
        "mesos-master",
        "--port=0",
        "--registry=in_memory",
        "--allocation_interval=50ms",
    ];
    args.extend_from_slice(extra);
    let flags = <MasterFlags as clap::Parser>::parse_from(args);
    mesos_master::start(flags, Default::default())
        .await
        .expect("master starts")
}

pub struct FakeAgent {
    pub id: AgentID,
    pub stream_id: String,
    pub url: String,
    pub events: mpsc::UnboundedReceiver<AgentEvent>,
    http: reqwest::Client,
    reader: tokio::task::JoinHandle<()>,
}

pub async fn post_json(
    url: &str,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    post_json_with(&reqwest::Client::new(), url, body, headers).await
}

/// [`post_json`] over `client`'s kept-alive connections.
pub async fn post_json_with(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request sent")
}

impl Drop for FakeAgent {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl FakeAgent {
    pub async fn register(master: &MasterHandle, resources: &str) -> FakeAgent {
        FakeAgent::connect(master, resources, None, vec![], true).await
    }

    /// Registers (`id` set: re-registers with these running `tasks`).
    /// `answer_pings: false` plays an agent that hangs.
    pub async fn connect(
        master: &MasterHandle,
        resources: &str,
        id: Option<AgentID>,
        tasks: Vec<mesos_types::agent_protocol::AgentTask>,
        answer_pings: bool,
    ) -> FakeAgent {
        FakeAgent::connect_with(master, resources, id, tasks, answer_pings, vec![]).await
    }

    /// [`FakeAgent::connect`], reporting `checkpointed` reservations and volumes.
    pub async fn connect_with(
        master: &MasterHandle,
        resources: &str,
        id: Option<AgentID>,
        tasks: Vec<mesos_types::agent_protocol::AgentTask>,
        answer_pings: bool,
        checkpointed: Vec<Resource>,
    ) -> FakeAgent {
        let url = format!("http://{}/master/api/v1/agent", master.addr);
        let info = AgentInfo {
            hostname: "fake-agent".into(),
            port: 5051,
            resources: Resources::parse(resources, "*").unwrap().to_wire(true),
            id,
            ..Default::default()
        };
        let call = AgentCall::Register {
            agent_info: info,
            version: MESOS_VERSION.into(),
            tasks,
            frameworks: vec![],
            checkpointed_resources: checkpointed,
        };
        let resp = post_json(&url, &serde_json::to_value(&call).unwrap(), &[]).await;
        assert_eq!(resp.status(), 200);
        let stream_id = resp.headers()["mesos-stream-id"]
            .to_str()
            .unwrap()
            .to_string();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (pong_url, pong_stream) = (url.clone(), stream_id.clone());
        let reader = tokio::spawn(async move {
            // One connection for all PONGs, as a real agent keeps: a new
            // connection per PONG can wait a second for a SYN retransmit
            // (a port still in TIME_WAIT), longer than short ping timeouts.
            let pong_client = reqwest::Client::new();
            let mut body = resp.bytes_stream();
            let mut dec = Decoder::default();
            let mut me: Option<AgentID> = None;
            while let Some(Ok(chunk)) = body.next().await {
                dec.feed(&chunk);
                while let Ok(Some(rec)) = dec.next_record() {
                    let e: AgentEvent = serde_json::from_slice(&rec).expect("agent event decodes");
                    match &e {
                        AgentEvent::Registered { agent_id, .. } => me = Some(agent_id.clone()),
                        AgentEvent::Ping { nonce } if answer_pings => {
                            if let Some(id) = &me {
                                let pong = serde_json::to_value(AgentCall::Pong {
                                    agent_id: id.clone(),
                                    nonce: *nonce,
                                })
                                .unwrap();
                                let _ = post_json_with(
                                    &pong_client,
                                    &pong_url,
                                    &pong,
                                    &[("Mesos-Stream-Id", &pong_stream)],
                                )
                                .await;
                            }
                        }
                        _ => {}
                    }
                    if tx.send(e).is_err() {
                        return;
                    }
                }
            }
        });
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("REGISTERED within 10 s");
        let id = match first {
            Some(AgentEvent::Registered { agent_id, .. }) => agent_id,
            other => panic!("expected REGISTERED, got {other:?}"),
        };
        FakeAgent {
            id,
            stream_id,
            url,
            events: rx,
            http: reqwest::Client::new(),
            reader,
        }
    }

    /// Drops the event stream's connection, as a crashed agent would.
    pub fn disconnect(&self) {
        self.reader.abort();
    }

    /// Next event that is not a PING.
    pub async fn next(&mut self) -> AgentEvent {
        loop {
            match tokio::time::timeout(std::time::Duration::from_secs(10), self.events.recv()).await
            {
                Ok(Some(AgentEvent::Ping { .. })) => continue,
                Ok(Some(e)) => return e,
                other => panic!("agent stream ended or timed out: {other:?}"),
            }
        }
    }

    /// Sends a reliable update (with a fresh uuid), as a real agent does.
    pub async fn update(&self, fid: &FrameworkID, task_id: &TaskID, state: TaskState) -> String {
        use base64::Engine;
        let uuid =
            base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().as_bytes());
        let mut s = TaskStatus::new(task_id.clone(), state);
        s.source = Some(Source::SOURCE_EXECUTOR);
        s.uuid = Some(uuid.clone());
        s.executor_id = Some(ExecutorID::new(task_id.value.clone()));
        let call = AgentCall::Update {
            agent_id: self.id.clone(),
            framework_id: fid.clone(),
            status: s,
        };
        let r = self
            .http
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Mesos-Stream-Id", &self.stream_id)
            .body(serde_json::to_vec(&call).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        uuid
    }
}

pub fn framework_info(name: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: name.into(),
        ..Default::default()
    }
}

/// Waits for the next event of `kind`, skipping heartbeats and others.
pub async fn next_event(
    sub: &mut mesos_scheduler::Subscription,
    kind: mesos_types::scheduler::EventType,
) -> mesos_types::scheduler::Event {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(10), sub.events.recv()).await {
            Ok(Some(e)) if e.kind == kind => return e,
            Ok(Some(_)) => continue,
            other => panic!("no {kind} event: {other:?}"),
        }
    }
}

/// The next offer of `agent` (other agents' offers may come first).
pub async fn next_offer_on(
    sub: &mut mesos_scheduler::Subscription,
    agent: &mesos_types::AgentID,
) -> mesos_types::Offer {
    loop {
        let offers = next_event(sub, mesos_types::scheduler::EventType::OFFERS)
            .await
            .offers
            .unwrap()
            .offers;
        if let Some(o) = offers.into_iter().find(|o| &o.agent_id == agent) {
            return o;
        }
    }
}

/// The status of the next UPDATE event.
pub async fn next_status(sub: &mut mesos_scheduler::Subscription) -> TaskStatus {
    next_event(sub, mesos_types::scheduler::EventType::UPDATE)
        .await
        .update
        .expect("UPDATE carries an update")
        .status
}

pub fn command_task(name: &str, agent: &AgentID, resources: &str) -> TaskInfo {
    TaskInfo {
        name: name.into(),
        task_id: TaskID::new(name),
        agent_id: agent.clone(),
        resources: Resources::parse(resources, "*").unwrap().to_wire(false),
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `GET /master/state` as JSON.
pub async fn master_state(m: &MasterHandle) -> serde_json::Value {
    reqwest::get(format!("http://{}/master/state", m.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /api/v1` with a JSON operator call: the status and the JSON
/// answer (`Null` when it is empty or not JSON).
pub async fn operator_call(m: &MasterHandle, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = post_json(&format!("http://{}/api/v1", m.addr), &body, &[]).await;
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// A `method` request to `path` with a text body: the status and the
/// JSON answer (`Null` when it is empty or not JSON).
pub async fn request(
    m: &MasterHandle,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let r = reqwest::Client::new()
        .request(method, format!("http://{}{path}", m.addr))
        .body(body.to_string())
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// A master (with `extra` flags), one agent, one framework with a running
/// task `run`, and the tasks `fin` and `fail` ended FINISHED and FAILED and
/// acknowledged (so the master moved them to the completed tasks).
pub struct Cluster {
    pub m: mesos_master::MasterHandle,
    pub agent: FakeAgent,
    pub sub: mesos_scheduler::Subscription,
}

impl Cluster {
    pub async fn start(extra: &[&str]) -> Cluster {
        Cluster::with_master(master(extra).await).await
    }

    /// On a master whose registry is `store`.
    pub async fn on_store(store: std::sync::Arc<dyn mesos_coord::Store>) -> Cluster {
        let flags = <mesos_master::MasterFlags as clap::Parser>::parse_from([
            "mesos-master",
            "--port=0",
            // The store given is the registry.
            "--registry=in_memory",
            "--allocation_interval=50ms",
        ]);
        let m = mesos_master::server::start_with_store(flags, Default::default(), store)
            .await
            .expect("master starts");
        Cluster::with_master(m).await
    }

    pub async fn with_master(m: mesos_master::MasterHandle) -> Cluster {
        let agent = FakeAgent::register(&m, "cpus:4;mem:1024;disk:100;ports:[31000-31010]").await;
        let sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("legacy"))
            .await
            .expect("subscribed");
        let mut c = Cluster { m, agent, sub };
        c.run_tasks(&["run", "fin", "fail"]).await;
        c.end("fin", TaskState::TASK_FINISHED).await;
        c.end("fail", TaskState::TASK_FAILED).await;
        c
    }

    pub fn fid(&self) -> FrameworkID {
        self.sub.caller.framework_id.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.m.addr)
    }

    /// Launches `names` on the agent from its next offer and plays them
    /// RUNNING (acknowledged).
    pub async fn run_tasks(&mut self, names: &[&str]) {
        let o = next_event(&mut self.sub, EventType::OFFERS)
            .await
            .offers
            .expect("offers")
            .offers
            .remove(0);
        let tasks = names
            .iter()
            .map(|n| command_task(n, &self.agent.id, "cpus:0.5;mem:32"))
            .collect();
        self.sub
            .caller
            .launch(vec![o.id], tasks, None)
            .await
            .expect("launched");
        for _ in names {
            assert!(matches!(
                self.agent.next().await,
                AgentEvent::RunTask { .. }
            ));
        }
        for n in names {
            self.end(n, TaskState::TASK_RUNNING).await;
        }
    }

    /// The agent reports `state` for task `name`; the scheduler
    /// acknowledges it (a terminal one then moves to the completed tasks).
    pub async fn end(&mut self, name: &str, state: TaskState) {
        let fid = self.fid();
        self.agent.update(&fid, &TaskID::new(name), state).await;
        let st = next_status(&mut self.sub).await;
        assert_eq!((st.task_id.value.as_str(), st.state), (name, state));
        self.sub
            .caller
            .acknowledge(&st)
            .await
            .expect("acknowledged");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(self.url(path)).await.expect("request sent")
    }
}
