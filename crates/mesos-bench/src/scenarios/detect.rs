//! Scenario `detect` (P9): agent-loss detection with both cores busy.
//!
//! A master process runs with `--agent_ping_timeout=--ping_timeout` and
//! `--max_agent_ping_timeouts=--max_ping_timeouts`; `--agents` simulated
//! agents register, then `--busy_threads` threads (default: one per core)
//! spin in this process so the master competes for CPU, and `--silenced`
//! agents go silent: connection kept, nothing answered, so only health
//! checking can notice. Reported: the time until the first and until the
//! last silenced agent is unreachable (`master/slaves_unreachable`), against
//! the bound `ping_timeout x max_ping_timeouts + 1 s`, and how many agents
//! were marked unreachable beyond the silenced ones while the run continued
//! for another such period (false removals; must be 0).

use super::{Args, MasterUnderTest, http_client, metric, metrics, register_agents};
use crate::report::Figure;
use crate::sim::{SimConfig, SimPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let mut flags = vec![
        format!("--agent_ping_timeout={}ms", args.ping_timeout.as_millis()),
        format!("--max_agent_ping_timeouts={}", args.max_ping_timeouts),
    ];
    flags.extend(args.master_flag.iter().cloned());
    let master = MasterUnderTest::start(&flags, true).await?;
    let http = http_client()?;
    let pool = SimPool::new(master.addr(), SimConfig::default())?;
    let reg = register_agents(&pool, 0..args.agents, args.register_concurrency, |_| vec![]).await;
    reg.require_all(args.agents)?;
    let bound = args.ping_timeout.as_secs_f64() * f64::from(args.max_ping_timeouts.max(1)) + 1.0;
    let k = args.silenced.clamp(1, reg.agents.len());

    let spinning = Arc::new(AtomicBool::new(true));
    let threads = match args.busy_threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let spinners: Vec<_> = (0..threads)
        .map(|_| {
            let on = spinning.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while on.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            })
        })
        .collect();
    // Let the spinners take the cores before the clock starts.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let silenced_at = Instant::now();
    for a in &reg.agents[..k] {
        a.silence();
    }
    let mut first = None;
    let mut last = None;
    let give_up = silenced_at + Duration::from_secs_f64(bound * 3.0 + 10.0);
    while last.is_none() && Instant::now() < give_up {
        if let Ok(m) = metrics(&http, master.addr()).await {
            let n = metric(&m, "master/slaves_unreachable") as usize;
            if n >= 1 && first.is_none() {
                first = Some(silenced_at.elapsed());
            }
            if n >= k {
                last = Some(silenced_at.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Keep going for another detection period: nobody else may go.
    tokio::time::sleep(Duration::from_secs_f64(bound)).await;
    let unreachable = metrics(&http, master.addr())
        .await
        .map(|m| metric(&m, "master/slaves_unreachable"))
        .unwrap_or(0.0);
    spinning.store(false, Ordering::Relaxed);
    for t in spinners {
        let _ = t.join();
    }
    let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
    eprintln!(
        "shape: {} agents, {k} silenced, ping timeout {:?} x {}, {threads} spinning threads",
        reg.agents.len(),
        args.ping_timeout,
        args.max_ping_timeouts
    );
    let figures = vec![
        Figure::new("p9_first_detected", secs(first), "s").against(bound, "s bound"),
        Figure::new("p9_all_detected", secs(last), "s").against(bound, "s bound"),
        Figure::new(
            "p9_false_removals",
            (unreachable - k as f64).max(0.0),
            "agents",
        ),
    ];
    drop(reg.agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;
    Ok(figures)
}
