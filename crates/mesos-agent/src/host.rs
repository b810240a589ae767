//! The agent's blocking side effects on the machine: checkpoint writes,
//! directory removal and killing process trees (a `/proc` walk). They sit
//! behind [`Host`] so that the runtime can run them off the core lock and
//! off async workers, and so that tests can make them fail or stall.

use std::io;
use std::path::{Path, PathBuf};

/// Blocking operations on disk and processes. Called from blocking threads
/// only, never while the core lock is held.
pub trait Host: Send + Sync + 'static {
    /// Writes one checkpoint record (see [`crate::checkpoint`]): replaces
    /// `path`, or appends to it with `append`; `sync` = fsync.
    fn checkpoint(&self, path: &Path, data: &[u8], append: bool, sync: bool) -> io::Result<()>;
    /// Deletes a directory tree.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents (persistent volumes).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// SIGKILLs the process tree rooted at `pid` and its process groups.
    fn kill_tree(&self, pid: u32);
    /// SIGKILLs every process left of the containers with these sandboxes.
    fn kill_containers(&self, sandboxes: &[PathBuf]);
}

/// The real machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct System;

impl Host for System {
    fn checkpoint(&self, path: &Path, data: &[u8], append: bool, sync: bool) -> io::Result<()> {
        if append {
            crate::checkpoint::append(path, data, sync)
        } else {
            crate::checkpoint::write_atomic(path, data, sync)
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn kill_tree(&self, pid: u32) {
        crate::proc_tree::kill_tree(pid)
    }

    fn kill_containers(&self, sandboxes: &[PathBuf]) {
        crate::proc_tree::kill_by_sandbox(Path::new("/proc"), sandboxes)
    }
}
