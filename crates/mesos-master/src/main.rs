//! `mesos-master`: flags from argv, `MESOS_*` and `/etc/mesos-master`.

use mesos_flags::FlagSources;
use mesos_master::MasterFlags;

// The master allocates and frees many small objects per request (JSON,
// resources, ids); glibc malloc spent ~20% of the master's CPU in
// consolidation under load (perf, P3/P4). mimalloc is the allocator of
// choice for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let sources = FlagSources::from_process("/etc/mesos-master", "zk");
    let loaded = match mesos_flags::load::<MasterFlags>("mesos-master", &sources) {
        Ok(l) => l,
        Err(mesos_flags::FlagError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("mesos-master: {e}");
            std::process::exit(1);
        }
    };
    let level = match loaded.flags.logging_level.to_ascii_uppercase().as_str() {
        "WARNING" => "warn",
        "ERROR" => "error",
        _ => "info",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let handle = match mesos_master::start(loaded.flags, loaded.effective).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("mesos-master: {e:#}");
            std::process::exit(1);
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    handle.stop().await;
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
