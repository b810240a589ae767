//! Scenario `state` (P11): builds `--agents` simulated agents holding
//! `--running` running tasks (reported at registration) and `--completed`
//! completed tasks (launched and finished through a framework on the first
//! `--build_agents` agents, with the master keeping that many per
//! framework), then, while that framework keeps launching
//! (`--launch_inflight` in flight):
//!
//! 1. `--gets` sequential `GET /master/state`: latency p50/p99 and size
//!    (after a first one, reported apart: it renders every task);
//! 2. allocation latency without pollers: a [`Probe`] hands one agent's
//!    offer back (ACCEPT without operations, which asks for an allocation)
//!    and times the next offer of that agent, `--probes` rounds;
//! 3. the same with `--pollers` clients fetching `/master/state` in a loop,
//!    printed against (2);
//! 4. five `GET /master/state` with launching paused: the reference for (1);
//! 5. the physical reference, with the master stopped: the last document
//!    served from memory by a process that does nothing else
//!    (`--scenario=static`), to five sequential GETs and to the pollers.

use super::{Args, MasterUnderTest, fd_figures, http_client, metric, metrics, register_agents};
use crate::report::{Figure, quantile_figures};
use crate::sim::framework::{ChurnConfig, ChurnStats, Probe, run_churn};
use crate::sim::{SimConfig, SimPool};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest time allowed for building the completed tasks.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);

/// One `GET /master/state`, body read: (milliseconds, body).
async fn fetch_state(
    http: &reqwest::Client,
    master: SocketAddr,
) -> anyhow::Result<(f64, bytes::Bytes)> {
    let start = Instant::now();
    let body = http
        .get(format!("http://{master}/master/state"))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    Ok((start.elapsed().as_secs_f64() * 1000.0, body))
}

/// One `GET /master/state`, body read: (milliseconds, bytes).
async fn get_state(http: &reqwest::Client, master: SocketAddr) -> anyhow::Result<(f64, usize)> {
    let (ms, body) = fetch_state(http, master).await?;
    Ok((ms, body.len()))
}

/// `n` clients fetching `/master/state` from `server` in a loop until
/// `stop` turns true; their latencies go to the returned list.
fn start_pollers(
    http: &reqwest::Client,
    server: SocketAddr,
    n: usize,
    stop: &watch::Receiver<bool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<Mutex<Vec<f64>>>) {
    let polled: Arc<Mutex<Vec<f64>>> = Arc::default();
    let pollers = (0..n)
        .map(|_| {
            let (http, rx, polled) = (http.clone(), stop.clone(), polled.clone());
            tokio::spawn(async move {
                while !*rx.borrow() {
                    match get_state(&http, server).await {
                        Ok((ms, _)) => polled.lock().unwrap_or_else(|p| p.into_inner()).push(ms),
                        Err(e) => {
                            eprintln!("poller: {e}");
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    (pollers, polled)
}

/// The physical reference: the same document, already in memory, served
/// by a process doing nothing else through the same HTTP layer, to
/// `gets` sequential requests and then `pollers` pollers for `secs`.
/// Returns (sequential latencies, latencies under pollers).
async fn static_reference(
    http: &reqwest::Client,
    body: &[u8],
    gets: usize,
    pollers: usize,
    secs: f64,
) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), body)?;
    let (mut child, addr, _) = super::spawn_server(&[
        "--scenario=static".to_string(),
        format!("--static_body={}", file.path().display()),
    ])
    .await?;
    let mut sequential = Vec::with_capacity(gets);
    for _ in 0..gets {
        sequential.push(get_state(http, addr).await?.0);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let (tasks, polled) = start_pollers(http, addr, pollers, &stop_rx);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    drop(child.stdin.take());
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let polled = std::mem::take(&mut *polled.lock().unwrap_or_else(|p| p.into_inner()));
    Ok((sequential, polled))
}

/// `/master/state` requests measured with launching paused.
const QUIET_GETS: usize = 5;

/// Longest time the pollers run against the static reference.
const STATIC_POLL_SECS: f64 = 15.0;

/// Unmeasured probe rounds before each measured series.
const PROBE_WARMUP: usize = 3;

async fn probe_rounds(probe: &mut Probe, rounds: usize) -> anyhow::Result<(Vec<f64>, usize)> {
    for _ in 0..PROBE_WARMUP {
        probe.round(Duration::from_secs(10)).await?;
    }
    let mut samples = Vec::with_capacity(rounds);
    let mut missed = 0;
    for _ in 0..rounds {
        match probe.round(Duration::from_secs(10)).await? {
            Some(ms) => {
                if std::env::var_os("MESOS_BENCH_TRACE").is_some() {
                    eprintln!("probe round: {ms:.1} ms");
                }
                samples.push(ms)
            }
            None => missed += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((samples, missed))
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let mut extra = vec![format!(
        "--max_completed_tasks_per_framework={}",
        args.completed.max(1)
    )];
    extra.extend(args.master_flag.iter().cloned());
    let master = MasterUnderTest::start(&extra, args.master_process).await?;
    let addr = master.addr();
    let http = http_client()?;
    let config = SimConfig {
        task_duration: Some((args.task_min, args.task_max.max(args.task_min))),
        ..Default::default()
    };
    let pool = SimPool::new(addr, config)?;
    let n = args.agents.max(1);
    let task_resources = mesos_types::Resources::parse("cpus:0.1;mem:32", "*")?.to_wire(false);
    let (per, extra_tasks) = (args.running / n, args.running % n);
    let tasks_for = |i: usize| {
        super::register::running_tasks(i, per + usize::from(i < extra_tasks), &task_resources)
    };
    // The completed tasks are built on the first `--build_agents` agents:
    // every launch and finish triggers an allocation over all agents, so
    // building with all of them would take ten times longer for the same
    // final shape.
    let b = args.build_agents.clamp(1, n);
    let first = register_agents(&pool, 0..b, args.register_concurrency, tasks_for).await;
    first.require_all(b)?;
    let mut agents = first.agents;

    // Completed tasks, through a framework that then keeps launching.
    let (stop_tx, stop_rx) = watch::channel(false);
    let churn = Arc::new(ChurnStats::default());
    let cfg = ChurnConfig {
        name: "state-churn".into(),
        tasks_per_offer: args.tasks_per_offer,
        max_inflight: args.max_inflight,
        // Long filters: offers of agents this framework does not need stop
        // coming back every few seconds (the quiet reference stays quiet);
        // agents where its tasks end are offered again anyway.
        decline_secs: 300.0,
        ..Default::default()
    };
    let endpoint = master.endpoint();
    let runner = {
        let (s, rx, ep) = (churn.clone(), stop_rx.clone(), endpoint.clone());
        tokio::spawn(async move { run_churn(&ep, cfg, s, rx).await })
    };
    let build_start = Instant::now();
    while ChurnStats::get(&churn.finished) < args.completed as u64 {
        if build_start.elapsed() > BUILD_TIMEOUT || runner.is_finished() {
            anyhow::bail!(
                "building stopped at {} completed tasks after {:.0} s",
                ChurnStats::get(&churn.finished),
                build_start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let build_secs = build_start.elapsed().as_secs_f64();
    churn
        .cap
        .store(args.launch_inflight.max(1) as u64, Ordering::Relaxed);
    let rest = register_agents(&pool, b..n, args.register_concurrency, tasks_for).await;
    if let Some(e) = &rest.first_error {
        anyhow::bail!(
            "only {} of {n} agents registered: {e}",
            agents.len() + rest.agents.len()
        );
    }
    agents.extend(rest.agents);
    eprintln!(
        "{n} agents with {} running tasks registered ({} before building the completed tasks)",
        args.running, b
    );
    let mut probe = Probe::start(&endpoint, "allocation-probe").await?;
    let snapshot = metrics(&http, addr).await.unwrap_or_default();
    let shape = format!(
        "{} agents, {} running + {} finished tasks, {} frameworks",
        metric(&snapshot, "master/slaves_active"),
        metric(&snapshot, "master/tasks_running"),
        metric(&snapshot, "master/tasks_finished"),
        metric(&snapshot, "master/frameworks_active")
            + metric(&snapshot, "master/frameworks_inactive"),
    );
    eprintln!("shape: {shape}; completed tasks built in {build_secs:.1} s");

    // 1. Sequential GETs while the framework launches. The first renders
    //    every task's JSON (nothing was asked for before): it is reported
    //    on its own, as what the first request after a start costs.
    let (first_get, _) = get_state(&http, addr).await?;
    let mut gets = Vec::with_capacity(args.gets);
    let mut bytes = 0;
    for _ in 0..args.gets.max(1) {
        let (ms, b) = get_state(&http, addr).await?;
        gets.push(ms);
        bytes = b;
    }

    // 2. Allocation latency, no pollers.
    let m0 = metrics(&http, addr).await.unwrap_or_default();
    let t0 = Instant::now();
    let (quiet, quiet_missed) = probe_rounds(&mut probe, args.probes).await?;
    let quiet_secs = t0.elapsed().as_secs_f64();
    let m1 = metrics(&http, addr).await.unwrap_or_default();

    // 3. The same with pollers.
    let (poll_stop_tx, poll_stop_rx) = watch::channel(false);
    let (pollers, polled) = start_pollers(&http, addr, args.pollers, &poll_stop_rx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t1 = Instant::now();
    let (loaded, loaded_missed) = probe_rounds(&mut probe, args.probes).await?;
    let loaded_secs = t1.elapsed().as_secs_f64();
    let m2 = metrics(&http, addr).await.unwrap_or_default();
    let _ = poll_stop_tx.send(true);
    for p in pollers {
        let _ = p.await;
    }
    let polled = std::mem::take(&mut *polled.lock().unwrap_or_else(|p| p.into_inner()));

    // 4. Reference: a few GETs with launching paused (one task in flight),
    //    so serialization shows apart from waiting for the master's lock.
    churn.cap.store(1, Ordering::Relaxed);
    tokio::time::sleep(args.task_max + Duration::from_secs(5)).await;
    let mut quiet_gets = Vec::new();
    let mut document = bytes::Bytes::new();
    for _ in 0..QUIET_GETS {
        let (ms, body) = fetch_state(&http, addr).await?;
        quiet_gets.push(ms);
        document = body;
    }
    let rss = master.rss().unwrap_or(0);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), runner).await;

    let runs = |a: &serde_json::Value, b: &serde_json::Value| {
        metric(b, "allocator/mesos/allocation_runs") - metric(a, "allocator/mesos/allocation_runs")
    };
    let fds = fd_figures("p11", &master);
    let in_process = master.in_process();
    drop(probe);
    drop(agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;

    // 5. The physical reference, with the master stopped.
    let (static_gets, static_polled) = static_reference(
        &http,
        &document,
        QUIET_GETS,
        args.pollers,
        loaded_secs.min(STATIC_POLL_SECS),
    )
    .await?;

    /// `figures`, each against the same quantile of `reference`.
    fn against(mut figures: Vec<Figure>, reference: &[Figure], unit: &str) -> Vec<Figure> {
        for (f, r) in figures.iter_mut().zip(reference) {
            *f = f.clone().against(r.value, unit);
        }
        figures
    }
    let static_q = quantile_figures("p11_static_document", static_gets, "ms");
    let static_under = quantile_figures("p11_static_document_under_pollers", static_polled, "ms");
    let quiet_q = quantile_figures("p11_state_not_launching", quiet_gets, "ms");
    let mut figures = against(
        quantile_figures("p11_state", gets, "ms"),
        &quiet_q,
        "ms not launching",
    );
    figures.extend(against(quiet_q, &static_q, "ms static document"));
    figures.push(Figure::new("p11_state_first_request", first_get, "ms"));
    figures.push(Figure::new(
        "p11_state_size",
        bytes as f64 / (1024.0 * 1024.0),
        "MiB",
    ));
    let quiet_alloc = quantile_figures("p11_allocation_latency", quiet, "ms");
    let loaded_alloc = against(
        quantile_figures("p11_allocation_latency_with_pollers", loaded, "ms"),
        &quiet_alloc,
        "ms without pollers",
    );
    figures.extend(quiet_alloc);
    figures.extend(loaded_alloc);
    figures.extend(against(
        quantile_figures("p11_state_under_pollers", polled, "ms"),
        &static_under,
        "ms static document",
    ));
    figures.extend(static_q);
    figures.extend(static_under);
    figures.push(Figure::new(
        "p11_allocation_runs_rate",
        runs(&m0, &m1) / quiet_secs,
        "runs/s",
    ));
    figures.push(
        Figure::new(
            "p11_allocation_runs_rate_with_pollers",
            runs(&m1, &m2) / loaded_secs,
            "runs/s",
        )
        .against(runs(&m0, &m1) / quiet_secs, "runs/s without pollers"),
    );
    figures.push(Figure::new(
        "p11_completed_build_rate",
        args.completed as f64 / build_secs,
        "tasks/s",
    ));
    figures.push(Figure::new(
        if in_process {
            "p11_process_rss"
        } else {
            "p11_master_rss"
        },
        rss as f64 / (1024.0 * 1024.0),
        "MiB",
    ));
    figures.extend(fds);
    if quiet_missed + loaded_missed > 0 {
        eprintln!(
            "probe rounds without an offer in 10 s: {quiet_missed} quiet, {loaded_missed} with pollers"
        );
    }
    Ok(figures)
}
