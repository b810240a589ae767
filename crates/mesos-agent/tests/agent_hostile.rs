//! An in-process agent against a fake master, attacked through what anyone
//! who reaches its port, or any task, can do: special files in a sandbox,
//! executor calls claiming a task ended while its processes keep running.

#[path = "support/agent.rs"]
mod agent_setup;
mod support;

use agent_setup::*;
use mesos_types::agent_protocol::AgentEvent;
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
