//! `mesos-local --num_agents=2 --work_dir=/tmp/mesos-local`.

use mesos_flags::FlagSources;
use mesos_local::{LocalCluster, LocalFlags};

// Same allocator as `mesos-master` (see there).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let sources = FlagSources {
        args: std::env::args().skip(1).collect(),
        env: std::env::vars().collect(),
        ..Default::default()
    };
    let flags = match mesos_flags::load::<LocalFlags>("mesos-local", &sources) {
        Ok(l) => l.flags,
        Err(mesos_flags::FlagError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("mesos-local: {e}");
            std::process::exit(1);
        }
    };
    // Stderr only (`RUST_LOG` overrides INFO); the daemons share it.
    let logging = match mesos_daemon::logging::install("INFO", None) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mesos-local: cannot set up logging: {e}");
            std::process::exit(1);
        }
    };
    let cluster = match LocalCluster::start_with_logging(&flags, logging).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mesos-local: {e:#}");
            std::process::exit(1);
        }
    };
    println!("Mesos master listening on http://{}", cluster.master.addr);
    for (i, a) in cluster.agents.iter().enumerate() {
        println!(
            "Agent {i} ({}) listening on http://{}",
            a.agent_id().map(|id| id.value).unwrap_or_default(),
            a.addr
        );
    }
    println!(
        "Try: mesos-execute --master={} --name=echo-test --command='echo Hello, World'",
        cluster.master.addr
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
    cluster.stop().await;
}
