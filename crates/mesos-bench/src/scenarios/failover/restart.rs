//! `failover` with the embedded store: one master process on a durable
//! registry (`--registry=replicated_log`, redb under a temporary
//! `--work_dir`) is SIGKILLed and started again on the same port and work
//! directory; every agent then re-registers under its id with its tasks.
//!
//! Reported: the restarted master's start time (process spawn to listening,
//! which includes reading the registry), the time from listening to every
//! agent re-registered, their sum (kill -> all back, the P8 figure), and
//! the tasks the master knows as running afterwards (nothing may be lost).
//! Not included: a real agent's randomized re-registration backoff
//! (`--registration_backoff_factor`, up to 1 s by default), which spreads
//! the same registrations over that second.

use super::{Fleet, TARGET_SECS, outcome};
use crate::report::Figure;
use crate::scenarios::{Args, MasterUnderTest, http_client};
use crate::sim::{SimConfig, SimPool};
use std::time::Duration;
use tokio::time::Instant;

pub async fn run(args: &Args) -> anyhow::Result<Vec<Figure>> {
    let dir = tempfile::tempdir()?;
    let mut flags = vec![
        "--registry=replicated_log".to_string(),
        format!("--work_dir={}", dir.path().display()),
    ];
    flags.extend(args.master_flag.iter().cloned());
    let master = MasterUnderTest::start(&flags, true).await?;
    let addr = master.addr();
    let http = http_client()?;
    let fleet = Fleet::new(args)?;
    let pool = SimPool::new(addr, SimConfig::default())?;
    let before = fleet.register(&pool, &http).await?;

    let killed = Instant::now();
    master.kill().await;
    drop(before.agents); // their streams ended with the master
    flags.push(format!("--port={}", addr.port()));
    let master = MasterUnderTest::start(&flags, true).await?;
    let listening = killed.elapsed();
    let rereg = fleet.reregister(&pool, before.ids).await;
    let all_back = killed.elapsed();
    eprintln!(
        "shape: {} agents x {} tasks, master on redb (replicated_log) in its own process",
        args.agents, args.tasks_per_agent
    );
    let mut figures = vec![
        Figure::new("p8_master_restart", listening.as_secs_f64(), "s"),
        Figure::new(
            "p8_time_to_all_reregistered",
            (all_back - listening).as_secs_f64(),
            "s",
        ),
        Figure::new("p8_failover_total", all_back.as_secs_f64(), "s")
            .against(TARGET_SECS, "s target"),
    ];
    figures.extend(
        outcome(
            "p8",
            &fleet,
            before.tasks_running,
            &rereg,
            &http,
            master.addr(),
        )
        .await?,
    );
    drop(rereg.agents);
    let _ = tokio::time::timeout(Duration::from_secs(30), master.stop()).await;
    Ok(figures)
}
