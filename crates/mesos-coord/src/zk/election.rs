//! Group membership over ephemeral sequential znodes: who leads (the lowest
//! sequence), for the contenders themselves ([`Contender`]) and for everyone
//! who only needs to find the leader ([`Detector`]).

use super::{ZkError, ZkHealth, ZkSession, ZkUrl};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use zookeeper_client::Error as E;

/// One member of a group: its znode name, sequence and data (for Mesos
/// masters, `MasterInfo` as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub sequence: u64,
    pub data: Vec<u8>,
}

impl Member {
    /// `host:port` of a Mesos master from its `json.info_` data: the
    /// `address`'s ip and port, else the `pid` (`master@ip:port`), else the
    /// hostname, as the detectors of pymesos and Mesos read it.
    pub fn master_endpoint(&self) -> Option<String> {
        let info: serde_json::Value = serde_json::from_slice(&self.data).ok()?;
        let address = &info["address"];
        let port = address["port"].as_u64().or_else(|| info["port"].as_u64());
        let port = port.filter(|p| *p > 0 && *p <= u64::from(u16::MAX));
        // The address's IP first (what pymesos reads; the C++ detector
        // reads the pid's IP): a hostname may be cosmetic or unresolvable.
        let ip = address["ip"].as_str().filter(|h| !h.is_empty());
        if let (Some(ip), Some(port)) = (ip, port) {
            return Some(join_host_port(ip, port));
        }
        if let Some(hp) = info["pid"].as_str().and_then(|pid| pid.split_once('@')) {
            return Some(hp.1.to_string());
        }
        let host = address["hostname"]
            .as_str()
            .or_else(|| info["hostname"].as_str())
            .filter(|h| !h.is_empty())?;
        Some(join_host_port(host, port?))
    }
}

fn join_host_port(host: &str, port: u64) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A contender's view of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// Another member leads (or, briefly, none is known).
    Follower { leader: Option<Member> },
    /// This member has the lowest sequence.
    Leader,
    /// This member is out of the group for good (its session expired or its
    /// znode vanished); it must stop acting as leader at once.
    Lost(String),
}

/// The members labelled `label` (names `<label><digits>`), lowest first.
fn members(children: Vec<String>, label: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = children
        .into_iter()
        .filter_map(|c| {
            let seq = c.strip_prefix(label)?;
            (seq.len() >= 10 && seq.bytes().all(|b| b.is_ascii_digit()))
                .then(|| seq.parse().ok())
                .flatten()
                .map(|s| (c, s))
        })
        .collect();
    out.sort_by_key(|(_, s)| *s);
    out
}

/// One look at the group.
struct GroupView {
    members: Vec<(String, u64)>,
    leader: Option<Member>,
}

/// Follows `group` until `sink` returns false or the session ends. Every
/// change of the children is one call of `sink`. A lost connection is
/// waited out (the session may well survive it); only the session's end
/// is an error. `create`: make the group if it is missing (contenders);
/// otherwise wait for it to appear (detectors).
async fn follow_group(
    session: &ZkSession,
    group: &str,
    label: &str,
    create: bool,
    mut sink: impl FnMut(GroupView) -> bool,
) -> Result<(), ZkError> {
    let mut health = session.health();
    loop {
        if *health.borrow() == ZkHealth::Expired {
            return Err(ZkError::Expired);
        }
        match look(session, group, label, create).await {
            Ok(Look::View(view, watcher)) => {
                if !sink(view) {
                    return Ok(());
                }
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = health.wait_for(|h| *h == ZkHealth::Expired) => return Err(ZkError::Expired),
                }
            }
            Ok(Look::Missing(watcher)) => {
                if !sink(GroupView {
                    members: vec![],
                    leader: None,
                }) {
                    return Ok(());
                }
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = health.wait_for(|h| *h == ZkHealth::Expired) => return Err(ZkError::Expired),
                }
            }
            Ok(Look::Again) => {}
            Err(E::ConnectionLoss) | Err(E::Timeout) => {
                // Wait for the client to reconnect (or give up); a short
                // pause keeps a flapping link from spinning this loop.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = health.wait_for(|h| *h != ZkHealth::Disconnected).await;
            }
            Err(E::SessionExpired) | Err(E::ClientClosed) => return Err(ZkError::Expired),
            Err(e) => return Err(e.into()),
        }
    }
}

enum Look {
    View(GroupView, zookeeper_client::OneshotWatcher),
    /// The group does not exist (detectors only); watched for creation.
    Missing(zookeeper_client::OneshotWatcher),
    /// The group appeared while looking: look again.
    Again,
}

/// Lists the group (with a watch) and reads its leader's data.
async fn look(
    session: &ZkSession,
    group: &str,
    label: &str,
    create: bool,
) -> Result<Look, zookeeper_client::Error> {
    let client = session.client();
    let (children, watcher) = match client.list_and_watch_children(group).await {
        Ok(r) => r,
        Err(E::NoNode) if create => {
            match session.ensure_path(group).await {
                Ok(()) => {}
                Err(ZkError::Zk(e)) => return Err(e),
                Err(_) => return Err(E::ConnectionLoss),
            }
            client.list_and_watch_children(group).await?
        }
        Err(E::NoNode) => {
            return match client.check_and_watch_stat(group).await? {
                (None, watcher) => Ok(Look::Missing(watcher)),
                // Created since the listing: its exists-watch would only
                // fire at its next change, so look again at once.
                (Some(_), _) => Ok(Look::Again),
            };
        }
        Err(e) => return Err(e),
    };
    let members = members(children, label);
    let mut leader = None;
    for (name, sequence) in &members {
        match client.get_data(&format!("{group}/{name}")).await {
            Ok((data, _)) => {
                leader = Some(Member {
                    name: name.clone(),
                    sequence: *sequence,
                    data,
                });
                break;
            }
            // Gone between the listing and now: the watch fires.
            Err(E::NoNode) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(Look::View(GroupView { members, leader }, watcher))
}

/// A member of a group contending for leadership.
pub struct Contender {
    session: Arc<ZkSession>,
    node: String,
    sequence: u64,
    role: watch::Receiver<Role>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Contender {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ZkSession {
    /// Joins the session's group (the URL's path) as `<label><sequence>`
    /// carrying `data`, and follows who leads.
    pub async fn contend(
        self: &Arc<ZkSession>,
        label: &str,
        data: &[u8],
    ) -> Result<Contender, ZkError> {
        let group = self.url().path.clone();
        let options = zookeeper_client::CreateMode::EphemeralSequential.with_acls(self.acls());
        let (_, seq) = self
            .client()
            .create(&format!("{group}/{label}"), data, &options)
            .await?;
        let sequence = seq.into_i64().max(0) as u64;
        let name = format!("{label}{seq}");
        let node = format!("{group}/{name}");
        tracing::info!("Joined group {} as {name}", self.url());
        let (tx, role) = watch::channel(Role::Follower { leader: None });
        let session = self.clone();
        let label = label.to_string();
        let task = tokio::spawn(async move {
            let result = follow_group(&session, &group, &label, true, |view| {
                let role = match view.members.first() {
                    Some((first, _)) if *first == name => Role::Leader,
                    _ if !view.members.iter().any(|(n, _)| *n == name) => {
                        Role::Lost(format!("our membership znode {name} is gone"))
                    }
                    _ => Role::Follower {
                        leader: view.leader,
                    },
                };
                let go_on = !matches!(role, Role::Lost(_));
                tx.send_if_modified(|r| {
                    let changed = *r != role;
                    *r = role;
                    changed
                });
                go_on
            })
            .await;
            if let Err(e) = result {
                let _ = tx.send(Role::Lost(e.to_string()));
            }
        });
        Ok(Contender {
            session: self.clone(),
            node,
            sequence,
            role,
            task,
        })
    }
}

impl Contender {
    /// The role as it changes.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// This member's sequence: the leader's term (a later leader always has
    /// a higher one).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// This member's znode (`/mesos/json.info_0000000007`).
    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn session(&self) -> &Arc<ZkSession> {
        &self.session
    }

    /// What a [`ZkStore`](super::ZkStore) checks on every write.
    pub fn fence(&self) -> super::Fence {
        super::Fence {
            node: self.node.clone(),
            term: self.sequence,
        }
    }

    /// Resolves when this member leads; `Err` with the reason if it left
    /// the group first.
    pub async fn elected(&self) -> Result<(), String> {
        let mut role = self.role.clone();
        let r = role
            .wait_for(|r| matches!(r, Role::Leader | Role::Lost(_)))
            .await
            .map(|r| r.clone());
        match r {
            Ok(Role::Leader) => Ok(()),
            Ok(Role::Lost(why)) => Err(why),
            _ => Err("the contender stopped".into()),
        }
    }

    /// Resolves with the reason once this member is out of the group.
    pub async fn lost(&self) -> String {
        let mut role = self.role.clone();
        match role.wait_for(|r| matches!(r, Role::Lost(_))).await {
            Ok(r) => match &*r {
                Role::Lost(why) => why.clone(),
                other => format!("left the group ({other:?})"),
            },
            Err(_) => "the contender stopped".into(),
        }
    }
}

/// Follows the leader of a group forever, reconnecting (with backoff) when
/// ZooKeeper is unreachable or the session expires. The last known leader
/// is kept while ZooKeeper cannot be asked.
pub struct Detector {
    leader: watch::Receiver<Option<Member>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Detector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Detector {
    /// Starts following the members labelled `label` of `url`'s group.
    pub fn start(url: ZkUrl, label: &str, session_timeout: Duration) -> Detector {
        let (tx, leader) = watch::channel(None);
        let label = label.to_string();
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match ZkSession::connect_to_watch(&url, session_timeout).await {
                    Ok(session) => {
                        backoff = Duration::from_millis(100);
                        let r = follow_group(&session, &url.path, &label, false, |view| {
                            tx.send_if_modified(|l| {
                                let changed = *l != view.leader;
                                if changed {
                                    match &view.leader {
                                        Some(m) => tracing::info!(
                                            "Detected a new leader: {} ({})",
                                            m.name,
                                            m.master_endpoint().unwrap_or_default()
                                        ),
                                        None => tracing::warn!("No leader in {url}"),
                                    }
                                }
                                *l = view.leader;
                                changed
                            });
                            !tx.is_closed()
                        })
                        .await;
                        if tx.is_closed() {
                            return;
                        }
                        if let Err(e) = r {
                            tracing::warn!("Leader detection in {url} interrupted: {e}");
                        }
                    }
                    Err(e) => tracing::warn!("{e}"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
        Detector { leader, task }
    }

    /// The current leader, as it changes (`None`: none known yet).
    pub fn leader(&self) -> watch::Receiver<Option<Member>> {
        self.leader.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_ordered_and_foreign_children_ignored() {
        let m = members(
            vec![
                "json.info_0000000012".into(),
                "log_replicas".into(),
                "json.info_0000000003".into(),
                "info_0000000001".into(),
                "json.info_abc".into(),
                "registry".into(),
            ],
            "json.info_",
        );
        assert_eq!(
            m,
            vec![
                ("json.info_0000000003".to_string(), 3),
                ("json.info_0000000012".to_string(), 12)
            ]
        );
    }

    #[test]
    fn master_endpoint_from_master_info() {
        let m = |data: &str| Member {
            name: "json.info_0000000001".into(),
            sequence: 1,
            data: data.as_bytes().to_vec(),
        };
        assert_eq!(
            m(r#"{"address":{"hostname":"m1","ip":"10.0.0.1","port":5050},"pid":"master@10.0.0.1:5050"}"#)
                .master_endpoint()
                .as_deref(),
            Some("10.0.0.1:5050")
        );
        assert_eq!(
            m(r#"{"address":{"hostname":"m1","ip":"::1","port":5050}}"#)
                .master_endpoint()
                .as_deref(),
            Some("[::1]:5050")
        );
        assert_eq!(
            m(r#"{"address":{"hostname":"m1","port":5050}}"#)
                .master_endpoint()
                .as_deref(),
            Some("m1:5050")
        );
        assert_eq!(
            m(r#"{"address":{"ip":"10.0.0.1","port":70000}}"#).master_endpoint(),
            None
        );
        assert_eq!(
            m(r#"{"pid":"master@10.0.0.1:5051"}"#)
                .master_endpoint()
                .as_deref(),
            Some("10.0.0.1:5051")
        );
        assert_eq!(m("not json").master_endpoint(), None);
    }
}
