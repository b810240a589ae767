//! The daemons' logging: the tracing subscriber (stderr, and the log file
//! under `--log_dir`) and the verbosity the operator API's
//! GET_LOGGING_LEVEL / SET_LOGGING_LEVEL read and change.
//!
//! Mesos logs with glog, whose "level" in those calls is the `VLOG`
//! verbosity: 0 is the normal log (`--logging_level`), higher numbers add
//! ever more detail. Here 0 is the filter the daemon started with, 1 adds
//! `debug` and 2 or more `trace`. SET_LOGGING_LEVEL lasts for its
//! duration and then reverts to 0, unless another SET_LOGGING_LEVEL came
//! since (the newest one decides, as in Mesos's `logging` process).
//!
//! A [`Logging`] made by [`install`] changes the process's subscriber
//! through a `tracing_subscriber::reload` handle. Daemons embedded in
//! another process (`mesos-local`, tests) do not own the global subscriber:
//! they get a [`Logging::detached`] one, which keeps and reports the level
//! but changes no filter.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

type Apply = Box<dyn Fn(u32) + Send + Sync>;

/// The current verbosity and how to apply a new one; cheap to clone.
#[derive(Clone)]
pub struct Logging {
    inner: Arc<Inner>,
}

struct Inner {
    /// (level, generation): the generation tells a revert timer whether a
    /// newer SET_LOGGING_LEVEL replaced the one it belongs to.
    state: Mutex<(u32, u64)>,
    apply: Option<Apply>,
    /// The pending revert: a newer SET_LOGGING_LEVEL aborts it, so calls
    /// in a loop leave one timer, not one per call.
    revert: Mutex<Option<tokio::task::AbortHandle>>,
}

impl std::fmt::Debug for Logging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logging")
            .field("level", &self.level())
            .field("attached", &self.inner.apply.is_some())
            .finish()
    }
}

impl Logging {
    /// Keeps the level without a subscriber to change (embedded daemons).
    pub fn detached() -> Logging {
        Logging::with_apply(None)
    }

    /// Calls `apply(level)` whenever the level changes (also on revert).
    pub fn with_apply(apply: Option<Apply>) -> Logging {
        Logging {
            inner: Arc::new(Inner {
                state: Mutex::new((0, 0)),
                apply,
                revert: Mutex::new(None),
            }),
        }
    }

    /// The current verbosity (GET_LOGGING_LEVEL).
    pub fn level(&self) -> u32 {
        self.lock().0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u32, u64)> {
        // The state is two integers: a panic elsewhere cannot leave it torn.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the verbosity to `level` for `duration`, then back to 0
    /// (SET_LOGGING_LEVEL). Must be called within a tokio runtime.
    pub fn set_for(&self, level: u32, duration: Duration) {
        let generation = {
            let mut s = self.lock();
            s.0 = level;
            s.1 += 1;
            if let Some(apply) = &self.inner.apply {
                apply(level);
            }
            s.1
        };
        tracing::info!(level, duration = ?duration, "Logging verbosity changed");
        let this = self.clone();
        // `sleep` saturates a duration too long to add to now.
        let timer = tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let mut s = this.lock();
            if s.1 == generation {
                s.0 = 0;
                if let Some(apply) = &this.inner.apply {
                    apply(0);
                }
                drop(s);
                tracing::info!("Logging verbosity reverted to 0");
            }
        });
        let previous = self
            .inner
            .revert
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(timer.abort_handle());
        if let Some(p) = previous {
            p.abort();
        }
    }
}

/// The `tracing` filter for a Mesos `--logging_level` (glog severities).
pub fn base_directive(logging_level: &str) -> &'static str {
    match logging_level.to_ascii_uppercase().as_str() {
        "ERROR" => "error",
        "WARNING" | "WARN" => "warn",
        _ => "info",
    }
}

/// The filter for verbosity `level` on top of `base` (0 = `base` itself).
pub fn filter_for(base: &str, level: u32) -> EnvFilter {
    match level {
        0 => EnvFilter::try_new(base).unwrap_or_else(|_| EnvFilter::new("info")),
        1 => EnvFilter::new("debug"),
        _ => EnvFilter::new("trace"),
    }
}

/// Where the daemon's log file is: `<log_dir>/<program>.INFO`, the name
/// of the link glog keeps to the current log file (Mesos serves that
/// file as `/master/log` or `/slave/log`).
pub fn log_file(log_dir: &Path, program: &str) -> PathBuf {
    log_dir.join(format!("{program}.INFO"))
}

/// Creates the log directory and opens the log file for appending.
pub fn open_log_file(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// Installs the process's subscriber: stderr (colours only on a terminal),
/// and, with `log_file`, the same lines appended to that file. `RUST_LOG`
/// overrides `--logging_level` as the base filter. Glog rotates its files;
/// we write the one file and leave rotation to the operator's logrotate
/// (`copytruncate`), which is simpler than reimplementing glog's naming
/// and safe for an append-only writer.
pub fn install(logging_level: &str, log_file: Option<&Path>) -> std::io::Result<Logging> {
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| EnvFilter::try_new(v).is_ok())
        .unwrap_or_else(|| base_directive(logging_level).to_string());
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter_for(&base, 0));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let file = match log_file {
        Some(path) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(Mutex::new(open_log_file(path)?))
                .with_ansi(false),
        ),
        None => None,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init()
        .map_err(std::io::Error::other)?;
    let apply: Apply = Box::new(move |level| {
        if let Err(e) = handle.reload(filter_for(&base, level)) {
            eprintln!("cannot change the logging level: {e}");
        }
    });
    Ok(Logging::with_apply(Some(apply)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[tokio::test]
    async fn set_changes_the_filter_and_reverts() {
        let (filter, handle) = tracing_subscriber::reload::Layer::new(filter_for("info", 0));
        let subscriber = tracing_subscriber::registry().with(filter);
        let _guard = tracing::subscriber::set_default(subscriber);
        let apply: Apply = Box::new(move |level| {
            handle.reload(filter_for("info", level)).unwrap();
        });
        let logging = Logging::with_apply(Some(apply));
        assert!(!tracing::enabled!(tracing::Level::DEBUG));

        logging.set_for(1, Duration::from_secs(3600));
        assert_eq!(logging.level(), 1);
        assert!(tracing::enabled!(tracing::Level::DEBUG));
        assert!(!tracing::enabled!(tracing::Level::TRACE));

        // A newer call replaces the older one and its timer.
        logging.set_for(2, Duration::from_millis(1));
        assert!(tracing::enabled!(tracing::Level::TRACE));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while logging.level() != 0 {
            assert!(tokio::time::Instant::now() < deadline, "never reverted");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!tracing::enabled!(tracing::Level::DEBUG));
        assert!(tracing::enabled!(tracing::Level::INFO));
    }

    #[test]
    fn directives_and_file_names() {
        assert_eq!(base_directive("warning"), "warn");
        assert_eq!(base_directive("ERROR"), "error");
        assert_eq!(base_directive("INFO"), "info");
        assert_eq!(
            log_file(Path::new("/var/log/mesos"), "mesos-agent"),
            PathBuf::from("/var/log/mesos/mesos-agent.INFO")
        );
    }
}
