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
        // Never under a running task: a master that lost track of a
        // volume (say the agent came back with smaller `--resources`)
        // must not get its data deleted while a task writes to it.
        let in_use = self.volumes_in_use();
        let (busy, remove): (Vec<PathBuf>, Vec<PathBuf>) =
            remove.into_iter().partition(|d| in_use.contains(d));
        for d in busy {
            warn!("Not removing volume '{}': a live task uses it", d.display());
        }
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

    /// The volume directories live tasks (queued, running, or terminal
    /// but not yet acknowledged) of live executors use.
    fn volumes_in_use(&self) -> std::collections::BTreeSet<PathBuf> {
        use mesos_types::conversions;
        let mut out = std::collections::BTreeSet::new();
        for fw in self.frameworks.values() {
            for ex in fw.executors.values() {
                let infos = ex
                    .tasks
                    .values()
                    .map(|t| &t.info)
                    .chain(ex.queued_tasks.iter());
                let resources = infos
                    .flat_map(|t| t.resources.iter())
                    .chain(ex.info.resources.iter());
                for r in resources {
                    if let Some(id) = conversions::persistence_id(r) {
                        let role = r.clone().normalized();
                        if let Ok(d) =
                            paths::volume_dir(&self.config.work_dir, role.reservation_role(), id)
                        {
                            out.insert(d);
                        }
                    }
                }
            }
        }
        out
    }
}
