//! The agent's dynamic reservations and persistent volumes: what the
//! master asks it to keep (CHECKPOINT_RESOURCES), persisted under
//! `meta/resources` and reported when it (re-)registers.

use super::{Core, Effect};
use crate::paths;
use std::path::PathBuf;
use tracing::{info, warn};

impl Core {
    /// CHECKPOINT_RESOURCES: the master's whole set of this agent's
    /// reservations and volumes. Persisted first; then the directories of
    /// new volumes are made and those of volumes no longer in the set are
    /// removed (the master destroys only volumes no task uses).
    pub(super) fn checkpoint_resources(
        &mut self,
        resources: Vec<mesos_types::Resource>,
        fx: &mut Vec<Effect>,
    ) {
        use mesos_types::conversions;
        let mut keep = Vec::new();
        let mut valid = Vec::new();
        for r in resources {
            if let Some(id) = conversions::persistence_id(&r) {
                match paths::volume_dir(&self.config.work_dir, r.reservation_role(), id) {
                    Ok(dir) => keep.push(dir),
                    Err(e) => {
                        warn!("Ignoring checkpointed volume '{id}': {e}");
                        continue;
                    }
                }
            }
            valid.push(r);
        }
        let remove: Vec<PathBuf> = self
            .checkpointed_resources
            .iter()
            .filter_map(|r| {
                let id = conversions::persistence_id(r)?;
                paths::volume_dir(&self.config.work_dir, r.reservation_role(), id).ok()
            })
            .filter(|d| !keep.contains(d))
            .collect();
        info!(count = valid.len(), "checkpointing resources");
        if self.config.checkpoint {
            fx.push(Effect::Checkpoint {
                path: crate::checkpoint::resources_path(&self.config.work_dir),
                data: serde_json::to_vec(&valid).unwrap_or_default(),
                append: false,
                sync: true,
                guard: None,
            });
        }
        fx.push(Effect::Volumes {
            create: keep,
            remove,
        });
        self.checkpointed_resources = valid;
    }
}
