//! The `mesos-agent` / `mesos-slave` program: flags from the Mesos sources
//! (`/etc/mesos-slave`, `MESOS_*`, argv), logging to stderr and to the
//! `--log_dir` file (`mesos_daemon::logging`), run until SIGINT/SIGTERM,
//! or until the master shuts the agent down (marked gone).

use crate::flags;
use std::process::ExitCode;
use tracing::info;

/// Entry point of both binaries.
pub fn main() -> ExitCode {
    let sources = mesos_flags::FlagSources::from_process("/etc/mesos-slave", "master");
    let loaded = match flags::load(&sources) {
        Ok(l) => l,
        Err(mesos_flags::FlagError::Clap(e))
            if e.kind() == clap::error::ErrorKind::DisplayVersion =>
        {
            println!("mesos {}", mesos_types::MESOS_VERSION);
            return ExitCode::SUCCESS;
        }
        Err(mesos_flags::FlagError::Clap(e)) => e.exit(),
        Err(e) => {
            eprintln!("mesos-agent: {e}");
            return ExitCode::from(1);
        }
    };
    let log_file = loaded
        .flags
        .log_dir
        .as_deref()
        .map(|dir| mesos_daemon::logging::log_file(dir, crate::LOG_PROGRAM));
    let logging =
        match mesos_daemon::logging::install(&loaded.flags.logging_level, log_file.as_deref()) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mesos-agent: cannot set up logging: {e}");
                return ExitCode::from(1);
            }
        };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mesos-agent: failed to start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let agent = match crate::start_with_logging(loaded.flags, loaded.effective, logging).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("mesos-agent: {e:#}");
                return ExitCode::from(1);
            }
        };
        tokio::select! {
            _ = wait_for_signal() => {
                info!("Shutting down (executors of checkpointing frameworks keep running)");
                agent.shutdown_keep_checkpointed().await;
            }
            reason = agent.shut_down_by_master() => {
                info!("Shutting down as the master asked ({reason}): killing every executor and removing the checkpoint");
                agent.shutdown_for_good().await;
            }
        }
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
