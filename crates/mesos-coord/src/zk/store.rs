//! The registry in ZooKeeper: keys hashed into [`BUCKETS`] znodes
//! (`<root>/b000` ...), each holding its keys, versions and values. One
//! znode per key would put 50,000 agents' names in one child listing, past
//! the 1 MB a ZooKeeper reply may carry; one znode for everything would
//! pass the 1 MB a znode may hold. Buckets keep both small: 50,000 agent
//! records of ~1 KB are ~12 KB per bucket, so a write rewrites little.
//!
//! Every write is a ZooKeeper multi-op that first checks the writer's group
//! membership znode ([`Fence`]): once another master has been elected (the
//! old one's session expired, so its znode is gone) no write of the old
//! leader can succeed. Bucket writes also carry the bucket's znode version,
//! so a writer whose cache is stale fails instead of overwriting. A batch
//! over one request's size is written as several multi-ops; if one fails
//! the ones before are undone. A multi-op whose answer was lost with the
//! connection is read back to learn whether it landed.

use super::ZkHealth;
use super::ZkSession;
use crate::store::{Store, StoreError, Versioned};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use zookeeper_client::{CreateMode, Error as E, MultiWriteError, MultiWriteResult, Stat};

/// How many buckets keys are hashed into.
pub const BUCKETS: usize = 4096;

/// The largest bucket written (ZooKeeper's default `jute.maxbuffer` is
/// 1 MB, for a znode and for a whole request).
pub const MAX_BUCKET_BYTES: usize = 1_000_000;

/// Largest multi-op sent: a batch over this is written in several fenced
/// multi-ops (each atomic) before the batch is acknowledged.
const MAX_MULTI_BYTES: usize = 512_000;

/// The writer's group membership, checked by every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The writer's ephemeral znode.
    pub node: String,
    /// Its sequence: the leader's term, logged with every write.
    pub term: u64,
}

/// The bucket a key lives in: FNV-1a, then MurmurHash3's 64-bit finalizer.
/// Stable across versions and hosts (it decides where records are found).
/// FNV alone leaves its low bits poorly mixed for keys that differ in a few
/// digits (agent ids `...-S1`, `...-S2`): 50,000 such keys put 2 MB in one
/// of 256 buckets (and mixed, the same keys spread evenly).
pub fn bucket_of(key: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h % BUCKETS as u64) as usize
}

/// A bucket's znode name (`b0000` ... `b4095`).
fn bucket_name(b: usize) -> String {
    format!("b{b:04}")
}

const FORMAT: u8 = 1;

/// A bucket's bytes: a format byte, then per entry `u32` key length, key,
/// `u64` version, `u32` value length, value (big-endian).
pub fn encode_bucket(entries: &BTreeMap<String, Versioned>) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|(k, v)| 16 + k.len() + v.value.len())
        .sum();
    let mut out = Vec::with_capacity(1 + size);
    out.push(FORMAT);
    for (k, v) in entries {
        out.extend_from_slice(&(k.len() as u32).to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&v.version.to_be_bytes());
        out.extend_from_slice(&(v.value.len() as u32).to_be_bytes());
        out.extend_from_slice(&v.value);
    }
    out
}

/// Reads [`encode_bucket`]'s bytes; anything else is an error, never a panic.
pub fn decode_bucket(bytes: &[u8]) -> Result<BTreeMap<String, Versioned>, StoreError> {
    let bad = |why: &str| StoreError::Backend(format!("corrupt registry bucket: {why}"));
    let mut out = BTreeMap::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    if bytes[0] != FORMAT {
        return Err(bad("unknown format"));
    }
    let mut rest = &bytes[1..];
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if rest.len() < n {
            return None;
        }
        let (head, tail) = rest.split_at(n);
        *rest = tail;
        Some(head)
    }
    fn u32_of(rest: &mut &[u8]) -> Option<usize> {
        take(rest, 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    while !rest.is_empty() {
        let klen = u32_of(&mut rest).ok_or_else(|| bad("truncated key length"))?;
        let key = take(&mut rest, klen).ok_or_else(|| bad("truncated key"))?;
        let key = std::str::from_utf8(key).map_err(|_| bad("key is not UTF-8"))?;
        let version = take(&mut rest, 8).ok_or_else(|| bad("truncated version"))?;
        let mut v = [0u8; 8];
        v.copy_from_slice(version);
        let vlen = u32_of(&mut rest).ok_or_else(|| bad("truncated value length"))?;
        let value = take(&mut rest, vlen).ok_or_else(|| bad("truncated value"))?;
        out.insert(
            key.to_string(),
            Versioned {
                version: u64::from_be_bytes(v),
                value: value.to_vec(),
            },
        );
    }
    Ok(out)
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    /// The znode's version; `None` while the znode does not exist.
    znode_version: Option<i32>,
    entries: BTreeMap<String, Versioned>,
}

/// One bucket's new content, and what it replaces.
struct BucketWrite {
    bucket: usize,
    bytes: Vec<u8>,
    entries: BTreeMap<String, Versioned>,
    old: Bucket,
}

/// The outcome of a multi-op whose answer was lost, from what each of its
/// buckets holds now (`Some`: this write's bytes at the next version). A
/// multi-op is atomic: all or none landed; a mix means someone else wrote.
fn decide_outcome(
    seen: Vec<Option<Stat>>,
    lost: &zookeeper_client::Error,
) -> Result<Vec<Stat>, StoreError> {
    if !seen.is_empty() && seen.iter().all(Option::is_some) {
        return Ok(seen.into_iter().flatten().collect());
    }
    if seen.iter().all(Option::is_none) {
        return Err(StoreError::Backend(format!(
            "ZooKeeper: {lost}; the write did not land"
        )));
    }
    Err(StoreError::Fenced(
        "the registry was changed by another writer".into(),
    ))
}

/// Registry state in ZooKeeper (see the module docs). Reads are served from
/// a cache filled on first use; the fenced writer is the only writer, and a
/// stale cache makes its next write fail rather than overwrite.
///
/// The [`Store`] methods block: call them from blocking threads
/// (`spawn_blocking`), as the master's registrar does.
pub struct ZkStore {
    session: Arc<ZkSession>,
    root: String,
    fence: Option<Fence>,
    runtime: tokio::runtime::Handle,
    /// Serialises writes (and the first load); never held by readers.
    writer: Mutex<()>,
    cache: Mutex<Option<Vec<Bucket>>>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("ZooKeeper: {e}"))
}

impl ZkStore {
    /// A store under `root` (created if missing), its writes fenced by
    /// `fence` when given. Must be called inside a Tokio runtime, whose
    /// handle the blocking methods use.
    pub fn new(session: Arc<ZkSession>, root: &str, fence: Option<Fence>) -> ZkStore {
        ZkStore {
            session,
            root: root.trim_end_matches('/').to_string(),
            fence,
            runtime: tokio::runtime::Handle::current(),
            writer: Mutex::new(()),
            cache: Mutex::new(None),
        }
    }

    fn bucket_path(&self, b: usize) -> String {
        format!("{}/{}", self.root, bucket_name(b))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Option<Vec<Bucket>>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads every bucket once (the first read or write after a failure).
    fn ensure_loaded(&self) -> Result<(), StoreError> {
        if self.lock_cache().is_some() {
            return Ok(());
        }
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if self.lock_cache().is_some() {
            return Ok(());
        }
        let buckets = self.runtime.block_on(self.load())?;
        *self.lock_cache() = Some(buckets);
        Ok(())
    }

    async fn load(&self) -> Result<Vec<Bucket>, StoreError> {
        self.session
            .ensure_path(&self.root)
            .await
            .map_err(backend)?;
        let client = self.session.client();
        let children = client.list_children(&self.root).await.map_err(backend)?;
        let mut buckets = vec![Bucket::default(); BUCKETS];
        let reads = children
            .iter()
            // Only the exact names this store writes: `b1` or `b+001` are
            // not bucket 1 (two names for one bucket would make its cached
            // version arbitrary).
            .filter_map(|c| {
                c.strip_prefix('b')?
                    .parse::<usize>()
                    .ok()
                    .filter(|b| bucket_name(*b) == *c)
            })
            .filter(|b| *b < BUCKETS)
            .map(|b| {
                let path = self.bucket_path(b);
                async move { (b, client.get_data(&path).await) }
            });
        for (b, r) in futures::future::join_all(reads).await {
            match r {
                Ok((data, stat)) => {
                    buckets[b] = Bucket {
                        znode_version: Some(stat.version),
                        entries: decode_bucket(&data).map_err(|e| {
                            StoreError::Backend(format!("{}: {e}", self.bucket_path(b)))
                        })?,
                    };
                }
                Err(E::NoNode) => {}
                Err(e) => return Err(backend(e)),
            }
        }
        Ok(buckets)
    }

    /// Writes the given buckets' new entries, fenced, in multi-ops of at
    /// most [`MAX_MULTI_BYTES`]. On any failure the cache is dropped (the
    /// next use reloads it).
    fn write_buckets(
        &self,
        changed: Vec<(usize, BTreeMap<String, Versioned>)>,
    ) -> Result<(), StoreError> {
        let result = self.runtime.block_on(self.commit(changed));
        if result.is_err() {
            *self.lock_cache() = None;
        }
        result
    }

    async fn commit(
        &self,
        changed: Vec<(usize, BTreeMap<String, Versioned>)>,
    ) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(changed.len());
        for (b, entries) in changed {
            let bytes = encode_bucket(&entries);
            if bytes.len() > MAX_BUCKET_BYTES {
                return Err(StoreError::Backend(format!(
                    "registry bucket {b} would hold {} bytes, over ZooKeeper's {MAX_BUCKET_BYTES}",
                    bytes.len()
                )));
            }
            let old = self
                .lock_cache()
                .as_ref()
                .map(|c| c[b].clone())
                .unwrap_or_default();
            writes.push(BucketWrite {
                bucket: b,
                bytes,
                entries,
                old,
            });
        }
        let mut chunks: Vec<Vec<BucketWrite>> = vec![];
        let mut size = 0;
        for w in writes {
            if chunks.is_empty() || size + w.bytes.len() > MAX_MULTI_BYTES {
                chunks.push(vec![]);
                size = 0;
            }
            size += w.bytes.len();
            if let Some(last) = chunks.last_mut() {
                last.push(w);
            }
        }
        // Written chunks with their new znode versions, to undo them if a
        // later chunk of the same batch fails: a batch is all or nothing.
        let mut written: Vec<(Vec<BucketWrite>, Vec<i32>)> = Vec::new();
        for chunk in chunks {
            match self.write_chunk(&chunk).await {
                Ok(stats) => {
                    let zxid = stats.iter().map(|s| s.mzxid).max().unwrap_or(0);
                    let versions: Vec<i32> = stats.iter().map(|s| s.version).collect();
                    if let Some(c) = self.lock_cache().as_mut() {
                        for (w, v) in chunk.iter().zip(&versions) {
                            c[w.bucket] = Bucket {
                                znode_version: Some(*v),
                                entries: w.entries.clone(),
                            };
                        }
                    }
                    // The write history the partition test reads:
                    // ZooKeeper's zxid orders the writes of every master;
                    // the term says whose they were.
                    tracing::info!(
                        term = self.fence.as_ref().map(|f| f.term).unwrap_or(0),
                        zxid,
                        "Registry write committed to ZooKeeper"
                    );
                    written.push((chunk, versions));
                }
                Err(e) => {
                    self.undo(written).await;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// One fenced multi-op. When the connection is lost with the request in
    /// flight, ZooKeeper may or may not have applied it: the buckets are
    /// read back once the connection returns and the outcome decided from
    /// what they hold (this writer is the only one, so its own bytes at the
    /// next version mean the write landed).
    async fn write_chunk(&self, chunk: &[BucketWrite]) -> Result<Vec<Stat>, StoreError> {
        let client = self.session.client();
        let create = CreateMode::Persistent.with_acls(self.session.acls());
        let mut multi = client.new_multi_writer();
        if let Some(f) = &self.fence {
            multi.add_check_version(&f.node, 0).map_err(backend)?;
        }
        for w in chunk {
            let path = self.bucket_path(w.bucket);
            match w.old.znode_version {
                Some(v) => multi.add_set_data(&path, &w.bytes, Some(v)),
                None => multi.add_create(&path, &w.bytes, &create),
            }
            .map_err(backend)?;
        }
        let results = match multi.commit().await {
            Ok(r) => r,
            Err(MultiWriteError::OperationFailed { index: 0, source }) if self.fence.is_some() => {
                return Err(StoreError::Fenced(format!(
                    "this writer is no longer the leader (its znode {}: {source})",
                    self.fence
                        .as_ref()
                        .map(|f| f.node.as_str())
                        .unwrap_or_default()
                )));
            }
            Err(MultiWriteError::OperationFailed {
                source: E::BadVersion | E::NodeExists | E::NoNode,
                ..
            }) => {
                return Err(StoreError::Fenced(
                    "the registry was changed by another writer".into(),
                ));
            }
            Err(e @ MultiWriteError::OperationFailed { .. }) => return Err(backend(e)),
            Err(MultiWriteError::RequestFailed { source }) => {
                return self.outcome_of(chunk, source).await;
            }
        };
        let offset = usize::from(self.fence.is_some());
        let mut stats = Vec::with_capacity(chunk.len());
        for (w, r) in chunk.iter().zip(results.into_iter().skip(offset)) {
            let stat = match r {
                MultiWriteResult::SetData { stat } => stat,
                // ZooKeeper answers a create inside a multi-op with an
                // invalid stat (ZOOKEEPER-4026): version -1, which as an
                // expected version later would mean "any version" and
                // switch the check off. Ask for the real one.
                MultiWriteResult::Create { stat, .. } if stat.version >= 0 && stat.mzxid > 0 => {
                    stat
                }
                MultiWriteResult::Create { .. } => client
                    .check_stat(&self.bucket_path(w.bucket))
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| backend("a bucket just created is gone"))?,
                _ => return Err(backend("unexpected multi-op result")),
            };
            stats.push(stat);
        }
        Ok(stats)
    }

    /// Decides whether a multi-op whose answer was lost was applied.
    async fn outcome_of(
        &self,
        chunk: &[BucketWrite],
        lost: zookeeper_client::Error,
    ) -> Result<Vec<Stat>, StoreError> {
        let mut health = self.session.health();
        let back = tokio::time::timeout(
            self.session.session_timeout() * 2,
            health.wait_for(|h| *h != ZkHealth::Disconnected),
        )
        .await;
        if !matches!(back, Ok(Ok(h)) if *h == ZkHealth::Connected) {
            return Err(StoreError::Fenced(format!(
                "the ZooKeeper session ended with a registry write in flight ({lost})"
            )));
        }
        let client = self.session.client();
        let mut seen = Vec::with_capacity(chunk.len());
        for w in chunk {
            match client.get_data(&self.bucket_path(w.bucket)).await {
                Ok((data, stat)) => {
                    let next = w.old.znode_version.map_or(0, |v| v + 1);
                    seen.push((stat.version == next && data == w.bytes).then_some(stat));
                }
                Err(E::NoNode) => seen.push(None),
                Err(e) => {
                    return Err(backend(format!(
                        "{lost}; whether the write landed is unknown ({e})"
                    )));
                }
            }
        }
        decide_outcome(seen, &lost)
    }

    /// Puts back what `written` replaced (newest first), fenced like any
    /// write. If that fails too, the registry keeps part of the batch; the
    /// caller was told the batch failed, so nothing unwritten was
    /// acknowledged.
    async fn undo(&self, written: Vec<(Vec<BucketWrite>, Vec<i32>)>) {
        let client = self.session.client();
        for (chunk, versions) in written.into_iter().rev() {
            let mut multi = client.new_multi_writer();
            if let Some(f) = &self.fence
                && multi.add_check_version(&f.node, 0).is_err()
            {
                return;
            }
            for (w, v) in chunk.iter().zip(&versions) {
                let path = self.bucket_path(w.bucket);
                let op = if w.old.znode_version.is_some() {
                    multi.add_set_data(&path, &encode_bucket(&w.old.entries), Some(*v))
                } else {
                    multi.add_delete(&path, Some(*v))
                };
                if op.is_err() {
                    return;
                }
            }
            if let Err(e) = multi.commit().await {
                tracing::error!(
                    "Could not undo part of a failed registry batch ({e}); the registry keeps it"
                );
                return;
            }
        }
    }

    /// Every bucket's current entries (cloned from the cache).
    fn snapshot_bucket(&self, b: usize) -> BTreeMap<String, Versioned> {
        self.lock_cache()
            .as_ref()
            .map(|c| c[b].entries.clone())
            .unwrap_or_default()
    }
}

impl Store for ZkStore {
    fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.ensure_loaded()?;
        Ok(self
            .lock_cache()
            .as_ref()
            .and_then(|c| c[bucket_of(key)].entries.get(key).cloned()))
    }

    fn put(&self, key: &str, value: &[u8], expected: u64) -> Result<u64, StoreError> {
        self.ensure_loaded()?;
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let b = bucket_of(key);
        let mut entries = self.snapshot_bucket(b);
        let found = entries.get(key).map(|v| v.version).unwrap_or(0);
        if found != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
                found,
            });
        }
        entries.insert(
            key.to_string(),
            Versioned {
                version: found + 1,
                value: value.to_vec(),
            },
        );
        self.write_buckets(vec![(b, entries)])?;
        Ok(found + 1)
    }

    fn list(&self, prefix: &str) -> Result<Vec<(String, Versioned)>, StoreError> {
        self.ensure_loaded()?;
        let cache = self.lock_cache();
        let mut out: Vec<(String, Versioned)> = cache
            .iter()
            .flatten()
            .flat_map(|b| {
                b.entries
                    .range(prefix.to_string()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn write_batch(&self, writes: &[(String, Vec<u8>)]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.ensure_loaded()?;
        let _w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut changed: HashMap<usize, BTreeMap<String, Versioned>> = HashMap::new();
        for (key, value) in writes {
            let b = bucket_of(key);
            let entries = changed.entry(b).or_insert_with(|| self.snapshot_bucket(b));
            let version = entries.get(key).map(|v| v.version).unwrap_or(0) + 1;
            entries.insert(
                key.clone(),
                Versioned {
                    version,
                    value: value.clone(),
                },
            );
        }
        let mut changed: Vec<_> = changed.into_iter().collect();
        changed.sort_by_key(|(b, _)| *b);
        self.write_buckets(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_trip_and_reject_garbage() {
        let mut m = BTreeMap::new();
        m.insert(
            "agents/a".to_string(),
            Versioned {
                version: 3,
                value: b"{}".to_vec(),
            },
        );
        m.insert(
            "weights/r".to_string(),
            Versioned {
                version: 1,
                value: vec![],
            },
        );
        assert_eq!(decode_bucket(&encode_bucket(&m)).unwrap(), m);
        assert!(decode_bucket(&[]).unwrap().is_empty());
        let bytes = encode_bucket(&m);
        for cut in 1..bytes.len() {
            // Every truncation is an error or a shorter map, never a panic.
            let _ = decode_bucket(&bytes[..cut]);
        }
        assert!(decode_bucket(&[9, 1, 2]).is_err());
        assert!(decode_bucket(&[FORMAT, 255, 255, 255, 255]).is_err());
    }

    /// 50,000 agents with records of the master's size (an AgentInfo with
    /// resources and attributes, ~1 KB) spread so that no bucket nears the
    /// znode limit.
    #[test]
    fn fifty_thousand_agents_fit_under_the_znode_limit() {
        let record = vec![b'x'; 1024];
        // Random-looking ids, and ids of one master run differing only in
        // their sequence (`<uuid>-S<n>`, as Mesos numbers agents).
        let shapes: [fn(usize) -> String; 2] = [
            |i| format!("agents/{:08x}-5b7c-4f7e-9a43-1d2e3f4a5b6c-S{i}", i * 7919),
            |i| format!("agents/5b7c1d2e-0000-4f7e-9a43-1d2e3f4a5b6c-S{i}"),
        ];
        for shape in shapes {
            let mut buckets = vec![BTreeMap::new(); BUCKETS];
            for i in 0..50_000 {
                let key = shape(i);
                buckets[bucket_of(&key)].insert(
                    key,
                    Versioned {
                        version: 1,
                        value: record.clone(),
                    },
                );
            }
            let largest = buckets
                .iter()
                .map(|b| encode_bucket(b).len())
                .max()
                .unwrap_or(0);
            assert!(
                largest < MAX_BUCKET_BYTES / 3,
                "largest bucket {largest} bytes"
            );
        }
    }

    #[test]
    fn a_lost_answer_is_decided_by_what_the_buckets_hold() {
        let lost = zookeeper_client::Error::ConnectionLoss;
        let stat = Stat {
            czxid: 1,
            mzxid: 2,
            pzxid: 1,
            ctime: 0,
            mtime: 0,
            version: 1,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: 0,
            data_length: 3,
            num_children: 0,
        };
        assert_eq!(
            decide_outcome(vec![Some(stat), Some(stat)], &lost)
                .unwrap()
                .len(),
            2
        );
        assert!(
            matches!(decide_outcome(vec![None, None], &lost), Err(StoreError::Backend(m)) if m.contains("did not land"))
        );
        assert!(matches!(
            decide_outcome(vec![Some(stat), None], &lost),
            Err(StoreError::Fenced(_))
        ));
    }

    #[test]
    fn bucket_names_are_exact() {
        assert_eq!(bucket_name(1), "b0001");
        assert_eq!(bucket_name(BUCKETS - 1), "b4095");
    }
}
