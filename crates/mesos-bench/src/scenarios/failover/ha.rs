//! `failover --ha`: P8 with ZooKeeper. A throwaway 3-server ensemble
//! (Debian's `zookeeper`, [`mesos_coord::zk::testing::Ensemble`]) and
//! three master processes on it (`--zk` naming every server,
//! `--quorum=2`, `--registry=replicated_log` kept in ZooKeeper, each its
//! own `--work_dir`). The agents register with the leader; the leader is
//! SIGKILLed. ZooKeeper removes its group member only when its session
//! expires (`--zk_session_timeout`); the next master is elected, reads
//! the registry from ZooKeeper and serves. The simulated agents find it
//! the way a Mesos agent with `--master=zk://...` does: a
//! [`Detector`] on the same group (one for the whole fleet, where real
//! agents would each run their own) names the new leader, and every
//! agent sends its registration there, again after `--register_retry`
//! while it answers 503 (still reading the registry; or, while the agents
//! first register, pausing while its ZooKeeper link is down). A leader
//! that loses its membership while the agents register or re-register
//! fails the run.
//!
//! Reported, all from the kill: the detector seeing the new leader
//! (ZooKeeper's part, against the session timeout), the new leader's
//! `master/elected` becoming 1 (polled every 10 ms; it is set once the
//! registry is recovered), what that takes beyond the session timeout and
//! after the detection (mostly the registry read); from elected to every agent re-registered; kill -> all re-registered
//! (the P8 figure); the registrations sent again; and the agents and
//! tasks the new leader knows (nothing may be lost). Not included, as in
//! the embedded-store variant: a real agent's random backoff before it
//! registers with a newly detected master (up to
//! `--registration_backoff_factor`, 1 s by default).

use super::{Fleet, TARGET_SECS, outcome};
use crate::report::Figure;
use crate::scenarios::{Args, MasterUnderTest, http_client, wait_metric};
use crate::sim::{SimConfig, SimPool, SimStats};
use anyhow::Context;
use mesos_coord::zk::testing::Ensemble;
use mesos_coord::zk::{Detector, Member, ZkUrl};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Masters (and ZooKeeper servers): a quorum of 2 survives one loss.
const MASTERS: usize = 3;

/// Java heap of each ZooKeeper server. With the tests' 128 MB the servers'
/// old generation filled at ~7,000 agents (full GCs, then exits): the
/// registry is written as whole buckets in multi-ops of up to 900 KB, and
/// a server keeps its last 500 committed writes in memory.
const ZK_HEAP_MB: u32 = 1024;

/// How long the cluster may take to elect, or to take the agents back.
const PATIENCE: Duration = Duration::from_secs(120);

/// How often the new leader's `master/elected` is read.
const ELECTED_POLL: Duration = Duration::from_millis(10);

/// ZooKeeper's `tickTime` for a session timeout: a tenth of it, inside the
/// 2..20 ticks the servers allow. The leader of the ensemble expires
/// sessions on tick boundaries, so an expiry comes up to one tick late.
fn tick_ms(session_timeout: Duration) -> u32 {
    u32::try_from((session_timeout.as_millis() / 10).max(1)).unwrap_or(u32::MAX)
}

/// Waits until the detector names a leader other than `old` (by znode).
async fn next_leader(
    leader: &mut watch::Receiver<Option<Member>>,
    old: Option<&str>,
) -> anyhow::Result<(Member, SocketAddr)> {
    let m = tokio::time::timeout(
        PATIENCE,
        leader.wait_for(|l| matches!(l, Some(m) if Some(m.name.as_str()) != old)),
    )
    .await
    .context("no new leader in ZooKeeper")??
    .clone()
    .context("no leader")?;
    let endpoint = m
        .master_endpoint()
        .with_context(|| format!("leader {} carries no master address", m.name))?;
    let addr = endpoint
        .parse()
        .with_context(|| format!("leader address {endpoint}"))?;
    Ok((m, addr))
}

/// Runs `work` unless the leader `current` loses its group membership
/// first (its session expired): then the run fails, naming `what`.
async fn while_leading<T>(
    detector: &Detector,
    current: &Member,
    what: &str,
    work: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    let mut watch = detector.leader();
    tokio::select! {
        r = work => Ok(r),
        next = next_leader(&mut watch, Some(&current.name)) => anyhow::bail!(
            "the leader {} lost its ZooKeeper membership while {what} (next leader: {:?})",
            current.master_endpoint().unwrap_or_default(),
            next.map(|(_, a)| a)
        ),
    }
}

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let timeout = args.zk_session_timeout;
    let tick = tick_ms(timeout);
    let zk =
        tokio::task::spawn_blocking(move || Ensemble::start_with_heap(MASTERS, tick, ZK_HEAP_MB))
            .await?
            .context("starting a ZooKeeper ensemble (Debian's `zookeeper` package)")?;
    let url = zk.url("/mesos");
    let dirs = (0..MASTERS)
        .map(|_| tempfile::tempdir())
        .collect::<Result<Vec<_>, _>>()?;
    let mut masters = Vec::new();
    for dir in &dirs {
        let mut flags = vec![
            format!("--zk={url}"),
            format!("--quorum={}", MASTERS / 2 + 1),
            format!("--zk_session_timeout={}ms", timeout.as_millis()),
            "--registry=replicated_log".to_string(),
            format!("--work_dir={}", dir.path().display()),
        ];
        flags.extend(args.master_flag.iter().cloned());
        masters.push(MasterUnderTest::start(&flags, true).await?);
    }
    let detector = Detector::start(
        ZkUrl::parse(&url).map_err(|e| anyhow::anyhow!("{e}"))?,
        mesos_master::leadership::LABEL,
        timeout,
    );
    let mut leader = detector.leader();
    let (first, addr) = next_leader(&mut leader, None).await?;
    let http = http_client()?;
    wait_metric(&http, addr, "master/elected", 1.0, ELECTED_POLL, PATIENCE)
        .await
        .map_err(|_| anyhow::anyhow!("the first leader {addr} did not start serving"))?;
    let leading = masters
        .iter()
        .position(|m| m.addr() == addr)
        .with_context(|| format!("the leader {addr} is none of the masters started"))?;

    let fleet = Fleet::new(args)?;
    // Agents keep trying, as real ones do, through 503s: the leader still
    // recovering, or pausing while its ZooKeeper connection is down.
    let config = SimConfig {
        register_retry: Some(args.register_retry),
        ..Default::default()
    };
    let pool = SimPool::new(addr, config.clone())?;
    let before = while_leading(
        &detector,
        &first,
        "the agents registered",
        fleet.register(&pool, &http),
    )
    .await??;
    eprintln!(
        "{} registrations resent while registering (503: the leader's ZooKeeper link was down)",
        SimStats::get(&pool.stats.register_retries)
    );

    let old = masters.swap_remove(leading);
    let killed = Instant::now();
    old.kill().await;
    drop(before.agents); // their streams ended with the master
    let (second, new_addr) = next_leader(&mut leader, Some(&first.name)).await?;
    let detected = killed.elapsed();
    let pool = SimPool::new(new_addr, config)?;
    let elected = async {
        wait_metric(
            &http,
            new_addr,
            "master/elected",
            1.0,
            ELECTED_POLL,
            PATIENCE,
        )
        .await
        .map(|_| killed.elapsed())
    };
    let (elected, rereg) = while_leading(&detector, &second, "the agents re-registered", async {
        tokio::join!(elected, fleet.reregister(&pool, before.ids))
    })
    .await?;
    let all_back = killed.elapsed();
    let elected = elected.map_err(|_| anyhow::anyhow!("the new leader {new_addr} never served"))?;
    eprintln!(
        "shape: {} agents x {} tasks, {MASTERS} master processes on a {MASTERS}-server ZooKeeper \
         ensemble (tick {tick} ms), session timeout {} ms, registry in ZooKeeper",
        args.agents,
        args.tasks_per_agent,
        timeout.as_millis()
    );
    let secs = |d: Duration| d.as_secs_f64();
    let mut figures = vec![
        Figure::new("p8_ha_leader_detected", secs(detected), "s")
            .against(secs(timeout), "s session timeout"),
        Figure::new("p8_ha_elected", secs(elected), "s"),
        Figure::new(
            "p8_ha_elected_beyond_session_timeout",
            secs(elected) - secs(timeout),
            "s",
        ),
        Figure::new(
            "p8_ha_detected_to_elected",
            secs(elected) - secs(detected),
            "s",
        ),
        Figure::new(
            "p8_ha_time_to_all_reregistered",
            secs(all_back) - secs(elected),
            "s",
        ),
        Figure::new("p8_ha_failover_total", secs(all_back), "s").against(TARGET_SECS, "s target"),
        Figure::new(
            "p8_ha_registrations_resent",
            SimStats::get(&pool.stats.register_retries) as f64,
            "registrations",
        ),
    ];
    figures.extend(
        outcome(
            "p8_ha",
            &fleet,
            before.tasks_running,
            &rereg,
            &http,
            new_addr,
        )
        .await?,
    );
    drop(rereg.agents);
    drop(detector);
    for m in masters {
        let _ = tokio::time::timeout(Duration::from_secs(30), m.stop()).await;
    }
    tokio::task::spawn_blocking(move || drop(zk)).await?;
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_timeout_is_one_zookeeper_allows() {
        for ms in [100u64, 500, 2000, 4000, 10_000, 60_000] {
            let tick = u64::from(tick_ms(Duration::from_millis(ms)));
            assert!(
                2 * tick <= ms && ms <= 20 * tick,
                "{ms} ms with tick {tick}"
            );
        }
    }
}
