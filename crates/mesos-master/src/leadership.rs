//! Who leads, and what a master that does not lead answers.
//!
//! A standalone master leads from the start. With `--zk` every master joins
//! the ZooKeeper group `<path>/json.info_<seq>` carrying its `MasterInfo`
//! as JSON (spec 8.1); the lowest sequence leads. The elected master
//! recovers the registry (kept in ZooKeeper, fenced by its membership),
//! installs the recovered book and only then starts allocating, timing out
//! agents and writing the registry. A leader that loses its membership (its
//! session expired, or it was cut off from ZooKeeper for the session
//! timeout) stops at once: it answers 503 and the `mesos-master` binary
//! exits, as Mesos does, for its supervisor to restart it as a follower.
//!
//! Non-leaders answer the leader's endpoints with 307 to the leader (spec
//! 0.3), serve `/master/redirect`, and serve `/master/state` and metrics
//! themselves with `leader`/`leader_info` and `master/elected` 0.

use crate::error::ApiError;
use crate::server::Shared;
use mesos_coord::Store;
use mesos_coord::zk::{Contender, Role, SessionProbe, ZkHealth, ZkSession, ZkStore, ZkUrl};
use mesos_types::MasterInfo;
use std::sync::Arc;
use std::time::Duration;

/// The group label of Mesos masters (spec 8.1).
pub const LABEL: &str = "json.info_";

/// Where this master stands.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterRole {
    /// Another master leads (`None`: none is known yet).
    Standby { leader: Option<MasterInfo> },
    /// Elected; reading the registry.
    Recovering,
    /// Elected and serving.
    Leading,
    /// Was elected and lost it: no longer acts as leader.
    Lost(String),
}

/// What the HTTP shell does with a request that needs the leader.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Serve,
    /// 307 to this `Location`.
    Redirect(String),
    Unavailable(String),
}

/// The endpoints only the leader serves (spec 0.3). `/state` and
/// `/state-summary` are served by every master (with `leader` naming the
/// leader), as the old web UI and mesos-dns rely on; so are `/health`,
/// `/flags`, `/version`, metrics, `/files/*` and `/redirect`.
pub fn needs_leader(route: &str) -> bool {
    matches!(
        route,
        "/api/v1"
            | "/api/v1/operator"
            | "/api/v1/scheduler"
            | "/api/v1/agent"
            | "/frameworks"
            | "/slaves"
            | "/tasks"
            | "/tasks.json"
            | "/roles"
            | "/roles.json"
            | "/teardown"
            | "/quota"
            | "/weights"
            | "/maintenance/schedule"
            | "/maintenance/status"
            | "/machine/down"
            | "/machine/up"
            | "/reserve"
            | "/unreserve"
            | "/create-volumes"
            | "/destroy-volumes"
    ) || route.starts_with("/quota/")
}

/// `//host:port`, the authority of the leader's `Location`s: its hostname,
/// else its address.
pub fn leader_authority(leader: &MasterInfo) -> String {
    let host = leader
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .or_else(|| leader.address.as_ref().and_then(|a| a.ip.clone()))
        .unwrap_or_else(|| std::net::Ipv4Addr::from(leader.ip.to_le_bytes()).to_string());
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    format!("//{host}:{}", leader.port)
}

/// What a request for `route` (asked as `path_and_query`) gets in `role`.
/// API routes are redirected to their delegated path under `/master`
/// (`/api/v1/scheduler` -> `//leader:5050/master/api/v1/scheduler`); web
/// UI pages keep their path.
pub fn gate(role: &MasterRole, route: &str, path_and_query: &str, ui: bool) -> Gate {
    match role {
        MasterRole::Leading => Gate::Serve,
        MasterRole::Recovering => Gate::Unavailable("Master has not finished recovery".into()),
        MasterRole::Lost(why) => {
            Gate::Unavailable(format!("Master is no longer the leader: {why}"))
        }
        MasterRole::Standby { leader: None } => Gate::Unavailable("No leader elected".into()),
        MasterRole::Standby {
            leader: Some(leader),
        } => {
            let target = if ui || path_and_query.starts_with("/master/") {
                path_and_query.to_string()
            } else {
                format!("/master{path_and_query}")
            };
            let _ = route;
            Gate::Redirect(format!("{}{target}", leader_authority(leader)))
        }
    }
}

impl Gate {
    pub fn into_error(self) -> Option<ApiError> {
        match self {
            Gate::Unavailable(m) => Some(ApiError::Unavailable(m)),
            _ => None,
        }
    }
}

/// The leader's `MasterInfo` from its group member's data.
fn leader_info(data: &[u8]) -> Option<MasterInfo> {
    serde_json::from_slice(data).ok()
}

/// What the election task needs.
pub struct ZkElection {
    pub url: ZkUrl,
    pub session_timeout: Duration,
    /// This master's `MasterInfo`, as JSON, for its group member.
    pub info_json: Vec<u8>,
    /// `--registry=replicated_log`: the registry is kept in ZooKeeper.
    /// `in_memory`: every new leader starts from an empty one (as Mesos).
    pub persistent: bool,
}

/// Joins the group, follows the leader, and when elected recovers the
/// registry and starts leading; ends (with `Lost`) if leadership is lost.
/// A follower that loses its session joins again with a new one.
pub async fn run_election(shared: Arc<Shared>, election: ZkElection) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let session = match ZkSession::connect(&election.url, election.session_timeout).await {
            Ok(s) => Arc::new(s),
            Err(e) => {
                tracing::warn!("Waiting for ZooKeeper: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        backoff = Duration::from_millis(200);
        shared.set_zk_probe(session.probe());
        let contender = match session.contend(LABEL, &election.info_json).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("Failed to join the masters' group in {}: {e}", election.url);
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        match follow(&shared, &session, &contender, election.persistent).await {
            Outcome::LostAsFollower(why) => {
                tracing::warn!("Left the masters' group as a follower ({why}); joining again");
                shared.set_role(MasterRole::Standby { leader: None });
            }
            Outcome::LostAsLeader(why) => {
                tracing::error!("Lost leadership ({why}); this master stops acting as leader");
                shared.set_role(MasterRole::Lost(why));
                return;
            }
        }
    }
}

enum Outcome {
    LostAsFollower(String),
    LostAsLeader(String),
}

async fn follow(
    shared: &Arc<Shared>,
    session: &Arc<ZkSession>,
    contender: &Contender,
    persistent: bool,
) -> Outcome {
    let mut role = contender.role();
    loop {
        let current = role.borrow_and_update().clone();
        match current {
            Role::Follower { leader } => {
                let leader = leader.and_then(|m| leader_info(&m.data));
                match &leader {
                    Some(l) => tracing::info!(
                        "The leading master is {} ({})",
                        l.pid.clone().unwrap_or_default(),
                        l.id
                    ),
                    None => tracing::info!("No leading master yet"),
                }
                shared.set_role(MasterRole::Standby { leader });
            }
            Role::Lost(why) => return Outcome::LostAsFollower(why),
            Role::Leader => return lead(shared, session, contender, persistent).await,
        }
        if role.changed().await.is_err() {
            return Outcome::LostAsFollower("the contender stopped".into());
        }
    }
}

/// Elected: recover, serve, and stop the moment the membership is gone.
async fn lead(
    shared: &Arc<Shared>,
    session: &Arc<ZkSession>,
    contender: &Contender,
    persistent: bool,
) -> Outcome {
    tracing::info!(
        "Elected as the leading master (term {}, {})",
        contender.sequence(),
        contender.node()
    );
    shared.set_role(MasterRole::Recovering);
    // pymesos takes the smallest child name of the group as the leader,
    // skipping only `log_replicas`: the registry's node must sort after
    // `json.info_` (it does: 'r' > 'j').
    let root = format!("{}/registry", session.url().path);
    let store: Arc<dyn Store> = if persistent {
        Arc::new(ZkStore::new(
            session.clone(),
            &root,
            Some(contender.fence()),
        ))
    } else {
        Arc::new(mesos_coord::MemoryStore::default())
    };
    let started = std::time::Instant::now();
    let recover = {
        let shared = shared.clone();
        let store = store.clone();
        tokio::task::spawn_blocking(move || shared.recover(store.as_ref()))
    };
    let recovered = tokio::select! {
        r = recover => r,
        why = contender.lost() => return Outcome::LostAsLeader(why),
    };
    match recovered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            return Outcome::LostAsLeader(format!("failed to recover the registry: {e:#}"));
        }
        Err(e) => return Outcome::LostAsLeader(format!("registry recovery stopped: {e}")),
    }
    let _loops = shared.clone().start_leading(store);
    shared.set_role(MasterRole::Leading);
    tracing::info!(
        "Recovered the registry in {} ms; serving as the leading master",
        started.elapsed().as_millis()
    );
    let lost = contender.lost();
    tokio::pin!(lost);
    let mut health = session.health();
    loop {
        tokio::select! {
            why = &mut lost => return Outcome::LostAsLeader(why),
            changed = health.changed() => {
                if changed.is_err() {
                    return Outcome::LostAsLeader(contender.lost().await);
                }
                match *health.borrow_and_update() {
                    ZkHealth::Disconnected => tracing::warn!(
                        "Disconnected from ZooKeeper: this leader makes no changes (503) until the connection and ZooKeeper's quorum are back, or the session timeout ({:?}) passes",
                        session.session_timeout()
                    ),
                    ZkHealth::Connected => {
                        tracing::info!("Reconnected to ZooKeeper: changes resume")
                    }
                    ZkHealth::Expired => {
                        return Outcome::LostAsLeader("the ZooKeeper session expired".into());
                    }
                }
            }
        }
    }
}

/// `Some(message)` while the leader cannot make changes (its ZooKeeper
/// session is disconnected, expired, or has not been answered for half its
/// timeout): `/master/health` reports it and the leader's endpoints answer
/// 503 until ZooKeeper answers again.
pub fn paused_reason(probe: Option<&SessionProbe>) -> Option<String> {
    probe?.problem().map(|why| {
        format!("{why}: no changes are made until ZooKeeper (and its quorum) answers again")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(host: &str, port: u32) -> MasterInfo {
        MasterInfo {
            id: "l".into(),
            hostname: Some(host.into()),
            port,
            ..Default::default()
        }
    }

    #[test]
    fn non_leaders_redirect_to_the_delegated_path_or_say_why_not() {
        let standby = MasterRole::Standby {
            leader: Some(leader("m2", 5050)),
        };
        for (route, asked, ui, want) in [
            (
                "/api/v1/scheduler",
                "/api/v1/scheduler",
                false,
                "//m2:5050/master/api/v1/scheduler",
            ),
            (
                "/api/v1/scheduler",
                "/master/api/v1/scheduler",
                false,
                "//m2:5050/master/api/v1/scheduler",
            ),
            (
                "/tasks",
                "/tasks?limit=5",
                false,
                "//m2:5050/master/tasks?limit=5",
            ),
            ("/", "/", true, "//m2:5050/"),
            (
                "/ui/agents",
                "/ui/agents?agents.q=x",
                true,
                "//m2:5050/ui/agents?agents.q=x",
            ),
        ] {
            assert_eq!(
                gate(&standby, route, asked, ui),
                Gate::Redirect(want.into()),
                "{asked}"
            );
        }
        assert_eq!(
            gate(
                &MasterRole::Standby { leader: None },
                "/tasks",
                "/tasks",
                false
            ),
            Gate::Unavailable("No leader elected".into())
        );
        assert!(matches!(
            gate(&MasterRole::Recovering, "/tasks", "/tasks", false),
            Gate::Unavailable(m) if m.contains("recovery")
        ));
        assert_eq!(
            gate(&MasterRole::Leading, "/tasks", "/tasks", false),
            Gate::Serve
        );
        let v6 = MasterRole::Standby {
            leader: Some(leader("::1", 5050)),
        };
        assert_eq!(
            gate(&v6, "/", "/", true),
            Gate::Redirect("//[::1]:5050/".into())
        );
    }

    #[test]
    fn which_endpoints_need_the_leader() {
        for r in [
            "/api/v1/scheduler",
            "/api/v1",
            "/frameworks",
            "/quota/dev",
            "/teardown",
            "/api/v1/agent",
        ] {
            assert!(needs_leader(r), "{r}");
        }
        for r in [
            "/health",
            "/state",
            "/state-summary",
            "/metrics/snapshot",
            "/redirect",
            "/version",
            "/flags",
            "/files/read",
        ] {
            assert!(!needs_leader(r), "{r}");
        }
    }
}
