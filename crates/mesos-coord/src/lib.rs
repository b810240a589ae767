//! Coordination: where durable cluster state lives and who leads.
//!
//! * [`Store`]: a small versioned key-value store with compare-and-set. The
//!   master's registry (admitted agents, ...) is written here *before* a change
//!   is acknowledged. Backends: [`MemoryStore`] (`--registry=in_memory`) and
//!   [`LocalStore`] (an embedded redb file, the default) and
//!   [`zk::ZkStore`] (ZooKeeper, fenced by the writer's leadership); every
//!   backend runs [`conformance`].
//! * [`Leadership`]: leader election. [`Standalone`] elects itself at once
//!   (a master without `--zk`); [`zk::Contender`] contends in a ZooKeeper
//!   group; [`zk::Detector`] follows a group's leader.
//! * [`MasterLocation`]: how agents, schedulers and the CLIs find the
//!   master (`host:port`, `zk://...`, `file:///...`), and follow the
//!   leading one ([`MasterLocation::detect`]).

mod detect;
mod store;
pub mod zk;

pub use detect::{
    DEFAULT_MASTER_PORT, MASTER_INFO_LABEL, MasterLocation, NoLeader, ParseError, host_port,
};
pub use store::{LocalStore, MemoryStore, Store, StoreError, Versioned, conformance};

/// Leader election for one contender: its role, as it changes.
pub trait Leadership: Send + Sync {
    fn role(&self) -> tokio::sync::watch::Receiver<zk::Role>;

    fn is_leader(&self) -> bool {
        *self.role().borrow() == zk::Role::Leader
    }
}

/// A master without ZooKeeper: always the leader.
#[derive(Debug)]
pub struct Standalone {
    role: tokio::sync::watch::Sender<zk::Role>,
}

impl Default for Standalone {
    fn default() -> Self {
        Standalone {
            role: tokio::sync::watch::Sender::new(zk::Role::Leader),
        }
    }
}

impl Leadership for Standalone {
    fn role(&self) -> tokio::sync::watch::Receiver<zk::Role> {
        self.role.subscribe()
    }
}

impl Leadership for zk::Contender {
    fn role(&self) -> tokio::sync::watch::Receiver<zk::Role> {
        zk::Contender::role(self)
    }
}
