//! Sandbox layout under `--work_dir` (src/slave/paths.cpp):
//! `<work_dir>/slaves/<agent_id>/frameworks/<framework_id>/executors/<executor_id>/runs/<container_id>`
//! with a `runs/latest` symlink to the newest run.
//!
//! Ids come from frameworks, so they are checked before they become path
//! components.

use std::io;
use std::path::{Path, PathBuf};

/// An id that cannot be used as a directory name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} '{id}' cannot be used as a directory name: {reason}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub id: String,
    pub reason: &'static str,
}

/// The longest file name Linux file systems take (`NAME_MAX`).
pub const MAX_ID_BYTES: usize = 255;

/// Checks that `id` is a single, harmless path component: Mesos's
/// `validateID` (non-empty, no control characters, no `/` or `\`) plus
/// what would still break a path here (`.`, `..`, over `NAME_MAX`).
pub fn validate_id(kind: &'static str, id: &str) -> Result<(), InvalidId> {
    let bad = |reason| {
        Err(InvalidId {
            kind,
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id == "." || id == ".." {
        return bad("it is '.' or '..'");
    }
    if id.contains('/') || id.contains('\\') {
        return bad("it contains a slash");
    }
    if id.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if id.len() > MAX_ID_BYTES {
        return bad("it is longer than 255 bytes");
    }
    Ok(())
}

/// `<work_dir>/slaves/<agent_id>`.
pub fn agent_dir(work_dir: &Path, agent_id: &str) -> PathBuf {
    work_dir.join("slaves").join(agent_id)
}

/// `.../frameworks/<framework_id>/executors/<executor_id>`.
pub fn executor_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
) -> PathBuf {
    agent_dir(work_dir, agent_id)
        .join("frameworks")
        .join(framework_id)
        .join("executors")
        .join(executor_id)
}

/// `.../executors/<executor_id>/runs/<container_id>`: the executor's sandbox.
pub fn run_dir(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
    container_id: &str,
) -> PathBuf {
    executor_dir(work_dir, agent_id, framework_id, executor_id)
        .join("runs")
        .join(container_id)
}

/// `.../executors/<executor_id>/runs/latest`.
pub fn latest_link(
    work_dir: &Path,
    agent_id: &str,
    framework_id: &str,
    executor_id: &str,
) -> PathBuf {
    executor_dir(work_dir, agent_id, framework_id, executor_id)
        .join("runs")
        .join("latest")
}

/// The short virtual path the files endpoints also accept for the latest run.
pub fn virtual_latest(framework_id: &str, executor_id: &str) -> String {
    format!("/frameworks/{framework_id}/executors/{executor_id}/runs/latest")
}

/// `<work_dir>/volumes/roles/<role>/<persistence id>`: a persistent
/// volume's directory, which outlives the tasks that use it. A
/// hierarchical role (`a/b`) is one directory with its `/` written as a
/// space (`a b`), as Mesos does: nested directories would put role `a`'s
/// volume `b` on top of every volume of role `a/b`. The role and the id
/// must each be one plain path component, so a volume can never name a
/// directory outside `volumes/`.
pub fn volume_dir(work_dir: &Path, role: &str, persistence_id: &str) -> Result<PathBuf, InvalidId> {
    let role_dir = role.replace('/', " ");
    validate_id("role", &role_dir)?;
    validate_id("persistence id", persistence_id)?;
    Ok(work_dir
        .join("volumes")
        .join("roles")
        .join(role_dir)
        .join(persistence_id))
}

/// Creates the run directory and points `runs/latest` at it.
pub fn create_run_dir(run_dir: &Path, latest: &Path) -> io::Result<()> {
    std::fs::create_dir_all(run_dir)?;
    match std::fs::symlink_metadata(latest) {
        Ok(_) => std::fs::remove_file(latest)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::os::unix::fs::symlink(run_dir, latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_of_related_roles_never_nest() {
        let w = Path::new("/w");
        let a_b = volume_dir(w, "a", "b").unwrap();
        let ab_c = volume_dir(w, "a/b", "c").unwrap();
        assert!(!ab_c.starts_with(&a_b), "{ab_c:?} is inside {a_b:?}");
        assert_eq!(ab_c, Path::new("/w/volumes/roles/a b/c"));
        assert!(volume_dir(w, "..", "x").is_err());
        assert!(volume_dir(w, "db", "../x").is_err());
        assert!(volume_dir(w, "db", "").is_err());
    }

    #[test]
    fn layout_matches_mesos() {
        let p = run_dir(
            Path::new("/var/lib/mesos"),
            "A-S0",
            "F-0000",
            "task1",
            "c-1",
        );
        assert_eq!(
            p,
            PathBuf::from("/var/lib/mesos/slaves/A-S0/frameworks/F-0000/executors/task1/runs/c-1")
        );
        let l = latest_link(Path::new("/w"), "a", "f", "e");
        assert_eq!(
            l,
            PathBuf::from("/w/slaves/a/frameworks/f/executors/e/runs/latest")
        );
        assert_eq!(
            virtual_latest("f", "e"),
            "/frameworks/f/executors/e/runs/latest"
        );
    }

    #[test]
    fn ids_must_be_single_components() {
        assert!(validate_id("task id", "web.1-abc_2").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a\\b", "a\nb"] {
            assert!(validate_id("task id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn latest_symlink_follows_the_newest_run() {
        let d = tempfile::tempdir().unwrap();
        let first = run_dir(d.path(), "a", "f", "e", "c1");
        let second = run_dir(d.path(), "a", "f", "e", "c2");
        let latest = latest_link(d.path(), "a", "f", "e");
        create_run_dir(&first, &latest).unwrap();
        assert_eq!(std::fs::read_link(&latest).unwrap(), first);
        create_run_dir(&second, &latest).unwrap();
        assert_eq!(std::fs::read_link(&latest).unwrap(), second);
        assert!(first.is_dir() && second.is_dir());
    }
}
