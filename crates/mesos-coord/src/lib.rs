//! Coordination: where durable cluster state lives and who leads.
//!
//! * [`Store`]: a small versioned key-value store with compare-and-set. The
//!   master's registry (admitted agents, ...) is written here *before* a change
//!   is acknowledged. Backends: [`MemoryStore`] (`--registry=in_memory`) and
//!   [`LocalStore`] (an embedded redb file, the default). A ZooKeeper backend
//!   plugs in behind the same trait; every backend runs [`conformance`].
//! * [`Leadership`]: leader election. [`Standalone`] elects itself at once
//!   (a master without `--zk`).
//! * [`MasterLocation`]: how agents and schedulers find the master
//!   (`host:port`, `zk://...`, `file:///...`).

mod detect;
mod store;

pub use detect::{MasterLocation, ParseError};
pub use store::{LocalStore, MemoryStore, Store, StoreError, Versioned, conformance};

/// Leader election for one contender.
pub trait Leadership: Send + Sync {
    /// Resolves when this contender leads. Standalone: immediately.
    fn wait_for_leadership(&self) -> impl std::future::Future<Output = ()> + Send;
    fn is_leader(&self) -> bool;
}

/// A master without ZooKeeper: always the leader.
#[derive(Debug, Default, Clone)]
pub struct Standalone;

impl Leadership for Standalone {
    async fn wait_for_leadership(&self) {}
    fn is_leader(&self) -> bool {
        true
    }
}
