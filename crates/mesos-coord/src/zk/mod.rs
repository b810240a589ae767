//! The ZooKeeper backend: sessions, group membership (leader election and
//! leader detection over ephemeral sequential znodes, as Mesos's
//! `zookeeper::Group` does) and a fenced, versioned [`Store`](crate::Store).
//!
//! * [`ZkUrl`]: the `zk://[user:pass@]h1:p1,h2:p2/path` form every Mesos
//!   component accepts (also behind `file:///path`).
//! * [`ZkSession`]: one ZooKeeper session and its health. A session that has
//!   been disconnected for its whole timeout is treated as expired at once,
//!   as Mesos's group does: the servers will have expired it by then, and a
//!   leader must not wait to hear so before it stops acting.
//! * [`Contender`] (`ZkSession::contend`): joins a group; the member with the
//!   lowest sequence leads. [`Detector`]: follows a group's leader, with its
//!   own sessions, forever (agents, schedulers, CLIs).
//! * [`ZkStore`]: registry state in hash buckets under one znode each, every
//!   write conditioned on the writer's group membership ([`Fence`]).

mod election;
mod store;
#[cfg(feature = "testkit")]
pub mod testing;

pub use election::{Contender, Detector, Member, Role};
pub use store::{
    BUCKETS, Fence, MAX_BUCKET_BYTES, ZkStore, bucket_of, decode_bucket, encode_bucket,
};

use std::time::Duration;
use tokio::sync::watch;

/// ZooKeeper's own default port, used when a server names none.
pub const DEFAULT_PORT: u16 = 2181;

/// Mesos's `--zk_session_timeout` default.
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(10);

/// `text` with the password of a `zk://user:password@...` URL masked, for
/// messages and logs.
pub fn redact(text: &str) -> String {
    let Some(rest) = text.strip_prefix("zk://") else {
        return text.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let creds = &rest[..at];
            let user = creds.split_once(':').map(|(u, _)| u).unwrap_or(creds);
            format!("zk://{user}:***@{}", &rest[at + 1..])
        }
        None => text.to_string(),
    }
}

/// A parsed `zk://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `host:port` of every server, in the order given.
    pub servers: Vec<String>,
    /// The group's znode, absolute, without a trailing `/` (e.g. `/mesos`).
    pub path: String,
    /// `user:password` for ZooKeeper's digest scheme.
    pub credentials: Option<(String, String)>,
}

/// Why a `zk://` URL was refused; the message names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ZooKeeper URL '{url}': {reason}")]
pub struct ZkUrlError {
    pub url: String,
    pub reason: String,
}

impl ZkUrl {
    /// Parses `zk://[user:pass@]host[:port][,host[:port]...]/path`.
    pub fn parse(text: &str) -> Result<ZkUrl, ZkUrlError> {
        let t = text.trim();
        let err = |reason: &str| ZkUrlError {
            url: redact(t),
            reason: reason.to_string(),
        };
        let rest = t
            .strip_prefix("zk://")
            .ok_or_else(|| err("expected it to start with 'zk://'"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(err("missing znode path (e.g. zk://host:2181/mesos)")),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((creds, hosts)) => {
                let (user, pass) = creds
                    .split_once(':')
                    .filter(|(u, _)| !u.is_empty())
                    .ok_or_else(|| err("credentials must be 'user:password@'"))?;
                (Some((user.to_string(), pass.to_string())), hosts)
            }
            None => (None, authority),
        };
        let mut servers = Vec::new();
        for server in hosts.split(',') {
            if server.is_empty() {
                return Err(err("empty server in the server list"));
            }
            let (host, port) = match server.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(|| err(&format!("bad port in server '{server}'")))?,
                ),
                None => (server, DEFAULT_PORT),
            };
            if host.is_empty() || host.contains(['/', '@', ' ']) {
                return Err(err(&format!("bad host in server '{server}'")));
            }
            servers.push(format!("{host}:{port}"));
        }
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Err(err("the znode path must not be the root"));
        }
        if path
            .split('/')
            .skip(1)
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains(char::is_whitespace))
        {
            return Err(err(&format!("bad znode path '{path}'")));
        }
        Ok(ZkUrl {
            servers,
            path: path.to_string(),
            credentials,
        })
    }

    /// The client's connect string (`h1:p1,h2:p2`).
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }
}

impl std::fmt::Display for ZkUrl {
    /// The URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = match &self.credentials {
            Some((u, _)) => format!("{u}:***@"),
            None => String::new(),
        };
        write!(f, "zk://{user}{}{}", self.servers.join(","), self.path)
    }
}

/// A failure talking to ZooKeeper.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ZkError {
    #[error("cannot connect to ZooKeeper at {0}: {1}")]
    Connect(String, String),
    #[error("the ZooKeeper session expired")]
    Expired,
    #[error("ZooKeeper: {0}")]
    Zk(#[from] zookeeper_client::Error),
}

/// What a session can do right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZkHealth {
    Connected,
    /// Connection lost; the session may still be alive on the servers.
    Disconnected,
    /// Gone for good (expired, closed, refused, or disconnected for the
    /// whole session timeout). Ephemeral nodes of this session are gone.
    Expired,
}

/// One ZooKeeper session.
pub struct ZkSession {
    client: zookeeper_client::Client,
    url: ZkUrl,
    timeout: Duration,
    health: watch::Receiver<ZkHealth>,
    monitor: tokio::task::JoinHandle<()>,
    heartbeat: tokio::task::JoinHandle<()>,
    probe: SessionProbe,
}

impl Drop for ZkSession {
    fn drop(&mut self) {
        self.monitor.abort();
        self.heartbeat.abort();
    }
}

impl ZkSession {
    /// Opens a session with the ensemble `url` names (any server will do)
    /// and creates the group path if missing (masters, stores). Fails if no
    /// server answers within the session timeout.
    pub async fn connect(url: &ZkUrl, session_timeout: Duration) -> Result<ZkSession, ZkError> {
        let session = ZkSession::open(url, session_timeout).await?;
        session.ensure_path(&url.path).await?;
        Ok(session)
    }

    /// [`ZkSession::connect`] for those who only watch a group (agents,
    /// schedulers, CLIs): the group path is not created, as Mesos's
    /// detectors do not create it (a detector creating it first would give
    /// it an open ACL).
    pub async fn connect_to_watch(
        url: &ZkUrl,
        session_timeout: Duration,
    ) -> Result<ZkSession, ZkError> {
        ZkSession::open(url, session_timeout).await
    }

    async fn open(url: &ZkUrl, session_timeout: Duration) -> Result<ZkSession, ZkError> {
        let mut connector = zookeeper_client::Client::connector()
            .with_session_timeout(session_timeout)
            .with_connection_timeout(session_timeout.min(Duration::from_secs(2)));
        if let Some((user, pass)) = &url.credentials {
            connector = connector.with_auth("digest", format!("{user}:{pass}").as_bytes());
        }
        let servers = url.connect_string();
        let connect = connector.connect(&servers);
        let client = match tokio::time::timeout(session_timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(ZkError::Connect(url.connect_string(), e.to_string())),
            Err(_) => {
                return Err(ZkError::Connect(
                    url.connect_string(),
                    format!("no server answered within {session_timeout:?}"),
                ));
            }
        };
        // The servers may grant another timeout than asked (they bound it
        // to 2..20 ticks): theirs is the one that decides when the session
        // expires, so it is the one the local expiry counts.
        let negotiated = client.session_timeout();
        if negotiated != session_timeout {
            tracing::warn!(
                "ZooKeeper granted a session timeout of {negotiated:?} instead of the {session_timeout:?} asked"
            );
        }
        let (tx, health) = watch::channel(ZkHealth::Connected);
        let monitor = tokio::spawn(monitor_session(client.state_watcher(), tx, negotiated));
        let probe = SessionProbe {
            health: health.clone(),
            epoch: tokio::time::Instant::now(),
            last_answer_ms: Default::default(),
            timeout: negotiated,
        };
        let heartbeat = tokio::spawn(heartbeat(client.clone(), probe.clone()));
        Ok(ZkSession {
            client,
            url: url.clone(),
            timeout: negotiated,
            health,
            monitor,
            heartbeat,
            probe,
        })
    }

    pub fn client(&self) -> &zookeeper_client::Client {
        &self.client
    }

    pub fn url(&self) -> &ZkUrl {
        &self.url
    }

    /// The timeout the servers granted.
    pub fn session_timeout(&self) -> Duration {
        self.timeout
    }

    /// The session's health, as it changes.
    pub fn health(&self) -> watch::Receiver<ZkHealth> {
        self.health.clone()
    }

    /// What a leader checks before it acts (see [`SessionProbe`]).
    pub fn probe(&self) -> SessionProbe {
        self.probe.clone()
    }

    /// Creates `path` and its parents (persistent, open ACL unless the URL
    /// carries credentials: then creator-all, world-read, as Mesos does so
    /// detectors without credentials still find the leader).
    pub async fn ensure_path(&self, path: &str) -> Result<(), ZkError> {
        let acls = self.acls();
        let options = zookeeper_client::CreateMode::Persistent.with_acls(acls);
        match self.client.mkdir(path, &options).await {
            Ok(()) | Err(zookeeper_client::Error::NodeExists) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn acls(&self) -> zookeeper_client::Acls<'static> {
        if self.url.credentials.is_some() {
            zookeeper_client::Acls::from(CREATOR_ALL_WORLD_READ_LIST)
        } else {
            zookeeper_client::Acls::anyone_all()
        }
    }

    /// Resolves once the session is expired (see [`ZkHealth::Expired`]).
    pub async fn expired(&self) {
        let mut h = self.health.clone();
        let _ = h.wait_for(|s| *s == ZkHealth::Expired).await;
    }
}

/// Whether a session can be trusted right now: its health, and how long
/// ZooKeeper has not answered. The client learns of a lost connection only
/// when it next reads the socket; a process that was stalled (paused VM,
/// SIGSTOP, long GC) past its session timeout still believes it is
/// connected when it wakes, though the servers have expired its session and
/// another master may lead. A heartbeat asks ZooKeeper every quarter of the
/// timeout; silence for half of it means the session cannot be trusted.
#[derive(Debug, Clone)]
pub struct SessionProbe {
    health: watch::Receiver<ZkHealth>,
    epoch: tokio::time::Instant,
    /// Milliseconds after `epoch` of the last answer (0: at connect).
    last_answer_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    timeout: Duration,
}

impl SessionProbe {
    /// `None` while the session is connected and answering; otherwise why
    /// not.
    pub fn problem(&self) -> Option<String> {
        match *self.health.borrow() {
            ZkHealth::Disconnected => {
                return Some("Disconnected from ZooKeeper".into());
            }
            ZkHealth::Expired => return Some("The ZooKeeper session expired".into()),
            ZkHealth::Connected => {}
        }
        let last = Duration::from_millis(
            self.last_answer_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        let silent = self.epoch.elapsed().saturating_sub(last);
        (silent > self.timeout / 2).then(|| {
            format!(
                "No answer from ZooKeeper for {:.1}s (session timeout {:?})",
                silent.as_secs_f64(),
                self.timeout
            )
        })
    }
}

/// Asks ZooKeeper something trivial every quarter of the session timeout
/// and records when it answered.
async fn heartbeat(client: zookeeper_client::Client, probe: SessionProbe) {
    let mut tick = tokio::time::interval(probe.timeout / 4);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if client.check_stat("/").await.is_ok() {
            let now = probe.epoch.elapsed().as_millis() as u64;
            probe
                .last_answer_ms
                .store(now, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

const CREATOR_ALL_WORLD_READ_LIST: &[zookeeper_client::Acl] = &[
    zookeeper_client::Acl::new_const(zookeeper_client::Permission::ALL, "auth", ""),
    zookeeper_client::Acl::new_const(zookeeper_client::Permission::READ, "world", "anyone"),
];

/// Maps the client's session states to [`ZkHealth`], and a disconnection
/// that lasts the session timeout to `Expired`.
async fn monitor_session(
    mut states: zookeeper_client::StateWatcher,
    tx: watch::Sender<ZkHealth>,
    timeout: Duration,
) {
    use zookeeper_client::SessionState as S;
    let mut disconnected_at: Option<tokio::time::Instant> = None;
    loop {
        let deadline = disconnected_at.map(|t| t + timeout);
        let state = match deadline {
            Some(d) => match tokio::time::timeout_at(d, states.changed()).await {
                Ok(s) => s,
                Err(_) => {
                    tracing::warn!(
                        "Disconnected from ZooKeeper for the whole session timeout ({timeout:?}); treating the session as expired"
                    );
                    let _ = tx.send(ZkHealth::Expired);
                    return;
                }
            },
            None => states.changed().await,
        };
        match state {
            S::SyncConnected | S::ConnectedReadOnly => {
                if disconnected_at.take().is_some() {
                    tracing::info!("Reconnected to ZooKeeper");
                }
                let _ = tx.send(ZkHealth::Connected);
            }
            S::Disconnected => {
                tracing::warn!("Disconnected from ZooKeeper");
                disconnected_at.get_or_insert_with(tokio::time::Instant::now);
                let _ = tx.send(ZkHealth::Disconnected);
            }
            S::Expired | S::Closed | S::AuthFailed => {
                tracing::warn!("ZooKeeper session ended: {state}");
                let _ = tx.send(ZkHealth::Expired);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ZkUrl::parse("zk://u:p@h1:2181,h2:2182/mesos/").unwrap();
        assert_eq!(u.servers, vec!["h1:2181", "h2:2182"]);
        assert_eq!(u.path, "/mesos");
        assert_eq!(u.credentials, Some(("u".into(), "p".into())));
        assert_eq!(u.to_string(), "zk://u:***@h1:2181,h2:2182/mesos");
        assert_eq!(redact("zk://u:p@h1/m"), "zk://u:***@h1/m");
        assert_eq!(redact("zk://h1/a@b"), "zk://h1/a@b");
        assert_eq!(redact("h1:5050"), "h1:5050");
        let u = ZkUrl::parse("zk://h1/a/b").unwrap();
        assert_eq!(u.servers, vec!["h1:2181"]);
        assert_eq!(u.path, "/a/b");
        for (bad, why) in [
            ("zk://h1", "missing znode path"),
            ("zk://h1:2181/", "root"),
            ("zk://h1:x/mesos", "bad port"),
            ("zk://h1:0/mesos", "bad port"),
            ("zk://h1,,h2/mesos", "empty server"),
            ("zk:///mesos", "empty server"),
            ("zk://user@h1/mesos", "credentials"),
            ("zk://h1/a//b", "bad znode path"),
            ("zk://h1/a/../b", "bad znode path"),
            ("zk://user:secret@h1:x/mesos", "bad port"),
            ("http://h1/mesos", "zk://"),
        ] {
            let e = ZkUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
            assert!(!e.contains("secret"), "the password is not shown: {e}");
        }
    }
}
