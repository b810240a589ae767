//! The master under test: in this process (`mesos_master::start`), or in a
//! child process running `mesos-bench --scenario=master` (the same library,
//! with its own descriptor limit, and RSS and CPU that are its alone).

use super::Args;
use anyhow::Context;
use clap::Parser;
use std::net::SocketAddr;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// A master started for a benchmark.
pub enum MasterUnderTest {
    InProcess(mesos_master::MasterHandle),
    Process {
        child: tokio::process::Child,
        addr: SocketAddr,
        pid: u32,
    },
}

fn master_flags(extra: &[String]) -> Vec<String> {
    let mut v: Vec<String> = ["mesos-master", "--port=0", "--registry=in_memory"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(extra.iter().cloned());
    v
}

impl MasterUnderTest {
    /// Starts a master with `--port=0 --registry=in_memory` plus `extra`
    /// flags (later flags override earlier ones).
    pub async fn start(extra: &[String], process: bool) -> anyhow::Result<MasterUnderTest> {
        if !process {
            let flags = mesos_master::MasterFlags::try_parse_from(master_flags(extra))?;
            return Ok(MasterUnderTest::InProcess(
                mesos_master::start(flags, Default::default()).await?,
            ));
        }
        let mut args = vec!["--scenario=master".to_string()];
        args.extend(extra.iter().map(|f| format!("--master_flag={f}")));
        let (child, addr, pid) = spawn_server(&args).await?;
        Ok(MasterUnderTest::Process { child, addr, pid })
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            MasterUnderTest::InProcess(h) => h.addr,
            MasterUnderTest::Process { addr, .. } => *addr,
        }
    }

    /// `host:port`, for the scheduler SDK.
    pub fn endpoint(&self) -> String {
        self.addr().to_string()
    }

    /// The child's pid (`None`: in this process).
    pub fn pid(&self) -> Option<u32> {
        match self {
            MasterUnderTest::InProcess(_) => None,
            MasterUnderTest::Process { pid, .. } => Some(*pid),
        }
    }

    /// RSS of the process holding the master (this one when in-process).
    pub fn rss(&self) -> Option<u64> {
        crate::sys::rss_bytes(self.pid())
    }

    /// CPU seconds of the process holding the master.
    pub fn cpu(&self) -> Option<f64> {
        crate::sys::cpu_secs(self.pid())
    }

    pub fn in_process(&self) -> bool {
        self.pid().is_none()
    }

    /// SIGKILLs a master process (in-process masters are stopped instead:
    /// they cannot be killed without killing the benchmark).
    pub async fn kill(self) {
        match self {
            MasterUnderTest::InProcess(h) => h.stop().await,
            MasterUnderTest::Process { mut child, .. } => {
                let _ = child.kill().await;
            }
        }
    }

    pub async fn stop(self) {
        match self {
            MasterUnderTest::InProcess(h) => h.stop().await,
            MasterUnderTest::Process { mut child, .. } => {
                // Closing stdin asks it to stop; kill if it lingers.
                drop(child.stdin.take());
                if tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
            }
        }
    }
}

/// Starts `mesos-bench ARGS` (a serving scenario) and reads the address
/// it prints as `listening <addr>`. It stops when its standard input closes.
pub async fn spawn_server(
    args: &[String],
) -> anyhow::Result<(tokio::process::Child, SocketAddr, u32)> {
    let exe = std::env::current_exe().context("locating mesos-bench")?;
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("spawning a server process")?;
    let pid = child.id().context("server process id")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .context("server process did not start in 30 s")??
        .context("server process exited")?;
    let addr: SocketAddr = line
        .strip_prefix("listening ")
        .context("unexpected server output")?
        .parse()?;
    Ok((child, addr, pid))
}

/// Waits until standard input closes (the parent benchmark is done).
async fn until_stdin_closes() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// `--scenario=static --static_body=FILE`: serves the file's bytes, read
/// into memory once, as the answer to every GET, through the same HTTP
/// layer as the master (`mesos_http::serve`). P11's reference: what
/// sending a `/master/state` document costs with no rendering at all.
pub async fn serve_static(args: &Args) -> anyhow::Result<()> {
    let path = args
        .static_body
        .as_deref()
        .context("--scenario=static needs --static_body")?;
    let body = bytes::Bytes::from(std::fs::read(path).with_context(|| format!("reading {path}"))?);
    let router = axum::Router::new().fallback(axum::routing::get(move || {
        let body = body.clone();
        async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening {}", listener.local_addr()?);
    mesos_http::serve(
        listener,
        router,
        until_stdin_closes(),
        mesos_http::ServeLimits::default(),
    )
    .await?;
    Ok(())
}

/// `--scenario=master`: runs a master with `--master_flag`s, prints
/// `listening <addr>`, and stops when standard input closes.
pub async fn serve_master(args: &Args) -> anyhow::Result<()> {
    let flags = mesos_master::MasterFlags::try_parse_from(master_flags(&args.master_flag))?;
    let handle = mesos_master::start(flags, Default::default()).await?;
    println!("listening {}", handle.addr);
    until_stdin_closes().await;
    handle.stop().await;
    Ok(())
}
