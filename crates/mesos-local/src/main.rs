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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cluster = match LocalCluster::start(&flags).await {
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
