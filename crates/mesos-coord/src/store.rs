//! The versioned store trait and its embedded backends.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("version conflict on '{key}': expected {expected}, found {found}")]
    Conflict {
        key: String,
        expected: u64,
        found: u64,
    },
    /// The writer lost the right to write (a ZooKeeper-backed store whose
    /// writer is no longer the elected leader), or another wrote. This
    /// request's write did not land (but for the part of a batch an
    /// undo could not take back, see `zk::ZkStore`).
    #[error("write refused: {0}")]
    Fenced(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

/// A value and its version. Version 0 means "absent"; every write bumps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub version: u64,
    pub value: Vec<u8>,
}

/// Durable, versioned key-value state. `put` succeeds only if the stored
/// version equals `expected` (0 = must not exist) and is durable on return.
pub trait Store: Send + Sync + 'static {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError>;
    fn put(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, StoreError>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StoreError>;
    /// Sets every key to its value in one atomic, durable write, whatever
    /// the keys held before (each version is bumped). For a single writer
    /// that orders its own writes (the master's registrar): all or nothing,
    /// in one fsync.
    fn write_batch(&self, writes: &[(String, Vec<u8>)]) -> Result<(), StoreError>;
}

/// Nothing survives the process (`--registry=in_memory`).
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Versioned>>,
}

impl Store for MemoryStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        Ok(self
            .map
            .lock()
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .get(key)
            .cloned())
    }

    fn put(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        let mut m = self
            .map
            .lock()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let found = m.get(key).map(|v| v.version).unwrap_or(0);
        if found != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
                found,
            });
        }
        m.insert(
            key.to_string(),
            Versioned {
                version: found + 1,
                value: value.to_vec(),
            },
        );
        Ok(found + 1)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StoreError> {
        let m = self
            .map
            .lock()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut v: Vec<(String, Versioned)> = m
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(v)
    }

    fn write_batch(&self, writes: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        let mut m = self
            .map
            .lock()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        for (key, value) in writes {
            let version = m.get(key).map(|v| v.version).unwrap_or(0) + 1;
            m.insert(
                key.clone(),
                Versioned {
                    version,
                    value: value.clone(),
                },
            );
        }
        Ok(())
    }
}

const TABLE: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("state");

/// An embedded redb file. Writes use group commit: concurrent `put`s are
/// queued to one writer thread, which applies every queued put in one
/// transaction and answers each caller only after that transaction is
/// durable. One fsync then covers many writes (P10 in shared/BENCHMARKS.md),
/// and each put keeps its own compare-and-set outcome.
pub struct LocalStore {
    db: Arc<redb::Database>,
    /// `None` once dropping: closing the queue stops the writer.
    writes: Mutex<Option<std::sync::mpsc::Sender<WriteRequest>>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        if let Ok(mut w) = self.writes.lock() {
            w.take();
        }
        // The writer finishes queued batches, then releases the database
        // file, so it can be reopened as soon as this returns.
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
    }
}

/// One caller's write: a compare-and-set put, or an unconditional batch.
struct WriteRequest {
    kind: WriteKind,
    reply: std::sync::mpsc::Sender<Result<u64, StoreError>>,
}

enum WriteKind {
    Put {
        key: String,
        value: Vec<u8>,
        expected: u64,
    },
    Batch(Vec<(String, Vec<u8>)>),
}

/// Most puts applied in one transaction.
const MAX_BATCH: usize = 4096;

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl LocalStore {
    /// Queues a write for the writer thread and waits until it is durable.
    fn submit(&self, kind: WriteKind) -> Result<u64, StoreError> {
        let (reply, answer) = std::sync::mpsc::channel();
        self.writes
            .lock()
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .as_ref()
            .ok_or_else(|| StoreError::Backend("store is closing".into()))?
            .send(WriteRequest { kind, reply })
            .map_err(|_| StoreError::Backend("store writer stopped".into()))?;
        answer
            .recv()
            .map_err(|_| StoreError::Backend("store writer stopped".into()))?
    }

    pub fn open(path: &Path) -> Result<LocalStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let db = redb::Database::create(path).map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        tx.open_table(TABLE).map_err(backend)?;
        tx.commit().map_err(backend)?;
        let db = Arc::new(db);
        let (tx, rx) = std::sync::mpsc::channel::<WriteRequest>();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(&writer_db, rx))
            .map_err(backend)?;
        Ok(LocalStore {
            db,
            writes: Mutex::new(Some(tx)),
            writer: Some(writer),
        })
    }
}

/// Applies queued puts in batches until every sender is gone.
fn writer_loop(db: &redb::Database, rx: std::sync::mpsc::Receiver<WriteRequest>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        match apply_batch(db, &batch) {
            Ok(results) => {
                for (req, res) in batch.into_iter().zip(results) {
                    let _ = req.reply.send(res);
                }
            }
            Err(e) => {
                for req in batch {
                    let _ = req.reply.send(Err(StoreError::Backend(e.to_string())));
                }
            }
        }
    }
}

/// One transaction for the whole batch; per-put CAS results, in order.
fn apply_batch(
    db: &redb::Database,
    batch: &[WriteRequest],
) -> Result<Vec<Result<u64, StoreError>>, StoreError> {
    let tx = db.begin_write().map_err(backend)?;
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut t = tx.open_table(TABLE).map_err(backend)?;
        for req in batch {
            match &req.kind {
                WriteKind::Put {
                    key,
                    value,
                    expected,
                } => {
                    let found = t
                        .get(key.as_str())
                        .map_err(backend)?
                        .map(|g| g.value().0)
                        .unwrap_or(0);
                    if found != *expected {
                        results.push(Err(StoreError::Conflict {
                            key: key.clone(),
                            expected: *expected,
                            found,
                        }));
                        continue;
                    }
                    t.insert(key.as_str(), (found + 1, value.as_slice()))
                        .map_err(backend)?;
                    results.push(Ok(found + 1));
                }
                WriteKind::Batch(writes) => {
                    for (key, value) in writes {
                        let found = t
                            .get(key.as_str())
                            .map_err(backend)?
                            .map(|g| g.value().0)
                            .unwrap_or(0);
                        t.insert(key.as_str(), (found + 1, value.as_slice()))
                            .map_err(backend)?;
                    }
                    results.push(Ok(0));
                }
            }
        }
    }
    tx.commit().map_err(backend)?;
    Ok(results)
}

impl Store for LocalStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let t = tx.open_table(TABLE).map_err(backend)?;
        Ok(t.get(key).map_err(backend)?.map(|g| {
            let (version, value) = g.value();
            Versioned {
                version,
                value: value.to_vec(),
            }
        }))
    }

    fn put(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        self.submit(WriteKind::Put {
            key: key.to_string(),
            value: value.to_vec(),
            expected,
        })
    }

    fn write_batch(&self, writes: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.submit(WriteKind::Batch(writes.to_vec())).map(|_| ())
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let t = tx.open_table(TABLE).map_err(backend)?;
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(backend)? {
            let (k, v) = item.map_err(backend)?;
            let key = k.value().to_string();
            if !key.starts_with(prefix) {
                break;
            }
            let (version, value) = v.value();
            out.push((
                key,
                Versioned {
                    version,
                    value: value.to_vec(),
                },
            ));
        }
        Ok(out)
    }
}

/// The behaviour every backend must show; each backend's tests call this.
pub fn conformance(store: &dyn Store) {
    assert_eq!(store.get("k").unwrap(), None);
    assert_eq!(store.put("k", b"a", 0).unwrap(), 1);
    assert!(matches!(
        store.put("k", b"b", 0),
        Err(StoreError::Conflict { found: 1, .. })
    ));
    assert_eq!(store.put("k", b"b", 1).unwrap(), 2);
    assert_eq!(
        store.get("k").unwrap(),
        Some(Versioned {
            version: 2,
            value: b"b".to_vec()
        })
    );
    assert_eq!(store.put("other", b"", 0).unwrap(), 1);
    assert_eq!(store.get("k").unwrap().unwrap().value, b"b");
    store.put("agents/b", b"2", 0).unwrap();
    store.put("agents/a", b"1", 0).unwrap();
    store.put("agentsx", b"", 0).unwrap();
    let keys: Vec<String> = store
        .list("agents/")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, vec!["agents/a".to_string(), "agents/b".to_string()]);
    // A batch overwrites whatever was there, bumping each version.
    store
        .write_batch(&[
            ("agents/a".into(), b"3".to_vec()),
            ("fresh".into(), b"4".to_vec()),
        ])
        .unwrap();
    assert_eq!(
        store.get("agents/a").unwrap(),
        Some(Versioned {
            version: 2,
            value: b"3".to_vec()
        })
    );
    assert_eq!(store.get("fresh").unwrap().unwrap().version, 1);
    store.write_batch(&[]).unwrap();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_conforms() {
        conformance(&MemoryStore::default());
    }

    #[test]
    fn concurrent_puts_are_group_committed_and_each_keeps_its_cas() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.redb");
        {
            let s = Arc::new(LocalStore::open(&p).unwrap());
            let threads: Vec<_> = (0..16)
                .map(|t| {
                    let s = s.clone();
                    std::thread::spawn(move || {
                        for i in 0..50 {
                            assert_eq!(s.put(&format!("agents/{t}-{i}"), b"x", 0).unwrap(), 1);
                        }
                        // A conflicting put in the same stream fails alone.
                        assert!(matches!(
                            s.put(&format!("agents/{t}-0"), b"y", 0),
                            Err(StoreError::Conflict { .. })
                        ));
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(s.list("agents/").unwrap().len(), 800);
        }
        let s = LocalStore::open(&p).unwrap();
        assert_eq!(s.list("agents/").unwrap().len(), 800);
        assert_eq!(s.get("agents/3-0").unwrap().unwrap().value, b"x");
    }

    #[test]
    fn local_store_conforms_and_survives_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("reg/registry.redb");
        {
            let s = LocalStore::open(&p).unwrap();
            conformance(&s);
        }
        let s = LocalStore::open(&p).unwrap();
        assert_eq!(
            s.get("k").unwrap().unwrap(),
            Versioned {
                version: 2,
                value: b"b".to_vec()
            }
        );
    }
}
