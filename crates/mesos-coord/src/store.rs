//! The versioned store trait and its embedded backends.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("version conflict on '{key}': expected {expected}, found {found}")]
    Conflict {
        key: String,
        expected: u64,
        found: u64,
    },
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
}

const TABLE: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("state");

/// An embedded redb file; each `put` is one durable transaction.
pub struct LocalStore {
    db: redb::Database,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalStore")
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl LocalStore {
    pub fn open(path: &Path) -> Result<LocalStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let db = redb::Database::create(path).map_err(backend)?;
        let tx = db.begin_write().map_err(backend)?;
        tx.open_table(TABLE).map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(LocalStore { db })
    }
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
        let tx = self.db.begin_write().map_err(backend)?;
        let next = {
            let mut t = tx.open_table(TABLE).map_err(backend)?;
            let found = t
                .get(key)
                .map_err(backend)?
                .map(|g| g.value().0)
                .unwrap_or(0);
            if found != expected {
                return Err(StoreError::Conflict {
                    key: key.to_string(),
                    expected,
                    found,
                });
            }
            t.insert(key, (found + 1, value)).map_err(backend)?;
            found + 1
        };
        tx.commit().map_err(backend)?;
        Ok(next)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_conforms() {
        conformance(&MemoryStore::default());
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
