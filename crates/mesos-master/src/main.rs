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
    // Logs go to stderr and, with --log_dir, to `<log_dir>/mesos-master.INFO`
    // (served as `/master/log`).
    let log_file = loaded.flags.log_dir.as_deref().map(|dir| {
        mesos_daemon::logging::log_file(
            std::path::Path::new(dir),
            mesos_master::server::LOG_PROGRAM,
        )
    });
    let logging =
        match mesos_daemon::logging::install(&loaded.flags.logging_level, log_file.as_deref()) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mesos-master: cannot set up logging: {e}");
                std::process::exit(1);
            }
        };
    let handle =
        match mesos_master::start_with_logging(loaded.flags, loaded.effective, logging).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("mesos-master: {e:#}");
                std::process::exit(1);
            }
        };
    let lost = tokio::select! {
        _ = tokio::signal::ctrl_c() => None,
        _ = terminate() => None,
        why = handle.lost() => Some(why),
    };
    handle.stop().await;
    if let Some(why) = lost {
        // As Mesos: a master that lost its leadership exits, and its
        // supervisor starts it again as a follower.
        eprintln!("mesos-master: lost leadership ({why}); exiting");
        std::process::exit(1);
    }
}

async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}
