//! How every client of the master finds it: the `--master` forms Mesos
//! accepts, parsed once here for the agent, the scheduler SDK,
//! `mesos-execute` and the `mesos` CLI, and the one way they all follow the
//! leading master ([`MasterLocation::detect`]).
//!
//! Forms: `host:port` (port 5050 when omitted), `http://host:port[/]`,
//! `master@host:port` (a libprocess pid), `[v6addr]:port`,
//! `zk://[user:pass@]h1:p1,h2:p2/path` (see [`ZkUrl`]) and `file:///path`
//! holding any of the others (as Mesos's `file://` indirection does, so the
//! ZooKeeper URL with its password need not be on the command line).

use crate::zk::{Detector, ZkUrl, ZkUrlError};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

/// The port of a master named without one.
pub const DEFAULT_MASTER_PORT: u16 = 5050;

/// The label of a Mesos master's group znodes (`json.info_0000000007`).
pub const MASTER_INFO_LABEL: &str = "json.info_";

/// Where the master is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterLocation {
    /// A fixed master. `host` is bare (an IPv6 address has no brackets).
    Direct { host: String, port: u16 },
    /// The leader of a ZooKeeper group of masters.
    ZooKeeper(ZkUrl),
}

/// Why a `--master` value was refused; every message names the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty master address")]
    Empty,
    #[error("invalid master address '{0}': {1}")]
    Invalid(String, String),
    #[error("failed to read master address from '{0}': {1}")]
    File(PathBuf, String),
    #[error(transparent)]
    ZooKeeper(#[from] ZkUrlError),
}

/// No leader was detected in time ([`MasterLocation::leader_within`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no leading master found in {location} within {}s", within.as_secs_f64())]
pub struct NoLeader {
    /// The location, without any ZooKeeper password.
    pub location: String,
    pub within: Duration,
}

/// `host:port`, with an IPv6 host in brackets (so it can follow `http://`).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl MasterLocation {
    /// Parses a `--master` value (see the module documentation for the
    /// forms). `file://` is followed once: the file must hold a direct or
    /// `zk://` address, not another `file://`.
    pub fn parse(text: &str) -> Result<MasterLocation, ParseError> {
        let t = text.trim();
        if let Some(path) = t.strip_prefix("file://") {
            if path.is_empty() {
                return Err(ParseError::Invalid(t.into(), "missing file path".into()));
            }
            let content = std::fs::read_to_string(path)
                .map_err(|e| ParseError::File(PathBuf::from(path), e.to_string()))?;
            let content = content.trim();
            // A file naming a file could name itself; one level is what
            // Mesos's own indirection needs.
            if content.starts_with("file://") {
                return Err(ParseError::File(
                    PathBuf::from(path),
                    "it names another file; it must hold host:port or zk://...".into(),
                ));
            }
            return MasterLocation::parse_inline(content).map_err(|e| match e {
                ParseError::Empty => {
                    ParseError::File(PathBuf::from(path), "the file is empty".into())
                }
                other => other,
            });
        }
        MasterLocation::parse_inline(t)
    }

    fn parse_inline(t: &str) -> Result<MasterLocation, ParseError> {
        if t.is_empty() {
            return Err(ParseError::Empty);
        }
        if t.starts_with("zk://") {
            return Ok(MasterLocation::ZooKeeper(ZkUrl::parse(t)?));
        }
        let bad = |why: &str| ParseError::Invalid(t.to_string(), why.to_string());
        if t.starts_with("https://") {
            return Err(bad("https is not supported; use http://host:port"));
        }
        let rest = t.strip_prefix("http://").unwrap_or(t);
        let rest = rest.strip_prefix("master@").unwrap_or(rest);
        // A trailing `/` is harmless; any other path would be dropped
        // silently, which hides a mistake.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(bad("expected host:port"));
        }
        if authority.contains(['/', '?', '#']) {
            return Err(bad("expected host:port without a path"));
        }
        if authority.contains('@') {
            return Err(bad("only 'master@' may prefix host:port"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in an IPv6 address"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad("expected ':port' after ']'"))?,
                ),
            };
            (host, port)
        } else {
            match authority.split_once(':') {
                Some((_, p)) if p.contains(':') => {
                    return Err(bad("bracket IPv6 addresses, e.g. [::1]:5050"));
                }
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad("expected host:port"));
        }
        let port = match port {
            None => DEFAULT_MASTER_PORT,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(&format!("bad port '{p}'")))?,
        };
        Ok(MasterLocation::Direct {
            host: host.to_string(),
            port,
        })
    }

    /// `host:port` of a direct master; `None` for ZooKeeper.
    pub fn direct_endpoint(&self) -> Option<String> {
        match self {
            MasterLocation::Direct { host, port } => Some(host_port(host, *port)),
            MasterLocation::ZooKeeper(_) => None,
        }
    }

    /// The leading master's `host:port`, as it changes (`None`: no leader
    /// known). A direct master is a constant; a ZooKeeper group is
    /// followed by a [`Detector`] with sessions of `session_timeout`,
    /// reconnecting by itself, for as long as any receiver (or clone) is
    /// alive. Values are only sent when the endpoint changes, so a change
    /// notification always means another leader (or none).
    ///
    /// Must be called inside a tokio runtime.
    pub fn detect(&self, session_timeout: Duration) -> watch::Receiver<Option<String>> {
        match self {
            MasterLocation::Direct { host, port } => {
                let (tx, rx) = watch::channel(Some(host_port(host, *port)));
                // Held until the last receiver goes, so `changed()` waits
                // (forever) as it does for a ZooKeeper leader that stays.
                tokio::spawn(async move { tx.closed().await });
                rx
            }
            MasterLocation::ZooKeeper(url) => {
                let detector = Detector::start(url.clone(), MASTER_INFO_LABEL, session_timeout);
                let (tx, rx) = watch::channel(None);
                tokio::spawn(forward_endpoints(detector, tx));
                rx
            }
        }
    }

    /// The leading master's `host:port`, waiting up to `within` for one
    /// (for one-shot commands).
    pub async fn leader_within(
        &self,
        session_timeout: Duration,
        within: Duration,
    ) -> Result<String, NoLeader> {
        if let Some(e) = self.direct_endpoint() {
            return Ok(e);
        }
        let mut leader = self.detect(session_timeout);
        self.first_leader(&mut leader, within).await
    }

    /// The first leader `leader` (this location's [`detect`](Self::detect))
    /// reports, waiting up to `within`; the receiver stays usable to
    /// follow the leader from there.
    pub async fn first_leader(
        &self,
        leader: &mut watch::Receiver<Option<String>>,
        within: Duration,
    ) -> Result<String, NoLeader> {
        let found = tokio::time::timeout(within, leader.wait_for(Option::is_some)).await;
        match found {
            Ok(Ok(l)) => l.clone().ok_or_else(|| self.no_leader(within)),
            _ => Err(self.no_leader(within)),
        }
    }

    fn no_leader(&self, within: Duration) -> NoLeader {
        NoLeader {
            location: self.to_string(),
            within,
        }
    }
}

/// Maps the detector's leader to its endpoint, until nobody listens.
async fn forward_endpoints(detector: Detector, tx: watch::Sender<Option<String>>) {
    let mut members = detector.leader();
    loop {
        let current = members.borrow_and_update().as_ref().map(|m| {
            let endpoint = m.master_endpoint();
            if endpoint.is_none() {
                tracing::warn!(
                    "The leading master's znode {} holds no usable address; waiting for another",
                    m.name
                );
            }
            endpoint
        });
        let current = current.flatten();
        tx.send_if_modified(|e| {
            let changed = *e != current;
            *e = current;
            changed
        });
        tokio::select! {
            changed = members.changed() => if changed.is_err() { return },
            _ = tx.closed() => return,
        }
    }
}

impl std::fmt::Display for MasterLocation {
    /// `host:port`, or the ZooKeeper URL without its password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MasterLocation::Direct { host, port } => f.write_str(&host_port(host, *port)),
            MasterLocation::ZooKeeper(url) => url.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(host: &str, port: u16) -> MasterLocation {
        MasterLocation::Direct {
            host: host.into(),
            port,
        }
    }

    fn zk(servers: &[&str], path: &str, credentials: Option<(&str, &str)>) -> MasterLocation {
        MasterLocation::ZooKeeper(ZkUrl {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            path: path.into(),
            credentials: credentials.map(|(u, p)| (u.into(), p.into())),
        })
    }

    /// Every `--master` form, good and bad, directly and behind `file://`.
    #[test]
    fn every_master_form() {
        let good: Vec<(&str, MasterLocation)> = vec![
            ("127.0.0.1:5050", direct("127.0.0.1", 5050)),
            ("m1", direct("m1", 5050)),
            ("  m1:6000\n", direct("m1", 6000)),
            ("http://m1:6000/", direct("m1", 6000)),
            ("http://m1", direct("m1", 5050)),
            ("master@10.0.0.1:7000", direct("10.0.0.1", 7000)),
            ("http://master@m1:7000", direct("m1", 7000)),
            ("[::1]:5050", direct("::1", 5050)),
            ("[::1]", direct("::1", 5050)),
            ("http://[fe80::1]:6000/", direct("fe80::1", 6000)),
            ("zk://h1:2181/mesos", zk(&["h1:2181"], "/mesos", None)),
            ("zk://h1/mesos", zk(&["h1:2181"], "/mesos", None)),
            (
                "zk://u:p@h1:2181,h2:2182,h3/mesos/",
                zk(
                    &["h1:2181", "h2:2182", "h3:2181"],
                    "/mesos",
                    Some(("u", "p")),
                ),
            ),
            ("zk://h1:2181/a/b", zk(&["h1:2181"], "/a/b", None)),
        ];
        let bad: Vec<(&str, &str)> = vec![
            ("", "empty master address"),
            ("   ", "empty master address"),
            ("m1:notaport", "bad port 'notaport'"),
            ("m1:99999", "bad port '99999'"),
            ("m1:0", "bad port '0'"),
            ("m1:", "bad port ''"),
            (":5050", "expected host:port"),
            ("http://", "expected host:port"),
            ("http://m1:5050/master", "without a path"),
            ("https://m1:5050", "https is not supported"),
            ("u@m1:5050", "only 'master@'"),
            ("::1", "bracket IPv6"),
            ("[::1:5050", "unclosed '['"),
            ("[::1]5050", "expected ':port'"),
            ("[::1]:x", "bad port 'x'"),
            ("zk://h1", "missing znode path"),
            ("zk://h1:2181", "missing znode path"),
            ("zk://h1:2181/", "must not be the root"),
            ("zk://h1:2181,,h2/mesos", "empty server"),
            ("zk:///mesos", "empty server"),
            ("zk://h1:x/mesos", "bad port in server 'h1:x'"),
            ("zk://user@h1/mesos", "credentials"),
            ("file://", "missing file path"),
            (
                "file:///nonexistent/mesos-master-file",
                "failed to read master address from '/nonexistent/mesos-master-file'",
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        let in_file = |i: usize, content: &str| {
            let path = dir.path().join(format!("master{i}"));
            std::fs::write(&path, content).unwrap();
            format!("file://{}", path.display())
        };
        for (i, (text, want)) in good.iter().enumerate() {
            assert_eq!(MasterLocation::parse(text).as_ref(), Ok(want), "{text}");
            // Behind file://, with the newline an editor leaves.
            let file = in_file(i, &format!("{text}\n"));
            assert_eq!(MasterLocation::parse(&file).as_ref(), Ok(want), "{file}");
        }
        for (i, (text, why)) in bad.iter().enumerate() {
            let e = MasterLocation::parse(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text:?}: {e}");
            if text.starts_with("file://") {
                continue;
            }
            let file = in_file(100 + i, text);
            let e = MasterLocation::parse(&file).unwrap_err().to_string();
            let why = if text.trim().is_empty() {
                "the file is empty"
            } else {
                why
            };
            assert!(e.contains(why), "{file} holding {text:?}: {e}");
        }
        // A file naming a file is refused (it could name itself).
        let inner = in_file(200, "m1:5050");
        let outer = in_file(201, &inner);
        let e = MasterLocation::parse(&outer).unwrap_err().to_string();
        assert!(e.contains("names another file"), "{e}");
        // What messages and logs show: no password.
        assert_eq!(
            MasterLocation::parse("zk://u:secret@h1/mesos")
                .unwrap()
                .to_string(),
            "zk://u:***@h1:2181/mesos"
        );
        assert_eq!(direct("::1", 5050).to_string(), "[::1]:5050");
        assert_eq!(
            direct("::1", 5050).direct_endpoint().as_deref(),
            Some("[::1]:5050")
        );
    }

    #[tokio::test]
    async fn a_direct_master_is_a_constant_leader() {
        let location = direct("m1", 5050);
        let mut rx = location.detect(Duration::from_secs(1));
        assert_eq!(rx.borrow_and_update().as_deref(), Some("m1:5050"));
        // It never changes, and the channel stays open while watched.
        let changed = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
        assert!(changed.is_err(), "a direct master never changes");
        assert_eq!(
            location
                .leader_within(Duration::from_secs(1), Duration::ZERO)
                .await
                .as_deref(),
            Ok("m1:5050")
        );
    }

    #[tokio::test]
    async fn no_zookeeper_means_no_leader_with_a_clear_message() {
        // Nothing listens on port 1 of loopback.
        let location = MasterLocation::parse("zk://u:pw@127.0.0.1:1/mesos").unwrap();
        let e = location
            .leader_within(Duration::from_millis(200), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no leading master found in zk://u:***@127.0.0.1:1/mesos within 0.3s"
        );
    }
}
