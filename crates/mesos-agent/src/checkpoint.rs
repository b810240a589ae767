//! Checkpointing under `<work_dir>/meta` (src/slave/paths.cpp layout) and
//! reading it back on recovery.
//!
//! ```text
//! meta/slaves/latest                                  agent id
//! meta/resources/resources.info                       reservations, volumes
//! meta/slaves/<aid>/frameworks/<fid>/framework.info   FrameworkInfo
//!   .../executors/<eid>/runs/<cid>/executor.info       ExecutorRecord
//!   .../executors/<eid>/runs/<cid>/forked.pid          ForkedPid
//!   .../runs/<cid>/tasks/<tid>/task.info               TaskInfo
//!   .../runs/<cid>/tasks/<tid>/task.updates            UpdateRecord stream
//! ```
//!
//! Every file is a sequence of records: a 14-byte header (`MSCK`, format
//! version u16 LE, payload length u32 LE, CRC-32 of the payload u32 LE)
//! followed by a JSON payload. Info files hold one record and are replaced
//! atomically (temp file, fsync, rename, fsync dir); `task.updates` is
//! append-only (one record per update or acknowledgement). A torn last
//! record of `task.updates` (the agent died while appending, before the
//! update was sent) is dropped and cut off the file on recovery, so that
//! later appends follow good data; any other damage is corruption.
//!
//! Frameworks with `checkpoint: true` get every write fsynced. For the
//! others the same records are written without fsync, only so that a
//! restarted agent can report their tasks as failed (REASON_AGENT_RESTARTED)
//! instead of forgetting them; their executors are never recovered.

use crate::core::{Recovered, RecoveredExecutor, RecoveredFramework, RecoveredTask};
use mesos_types::{AgentID, ContainerID, ExecutorInfo, FrameworkInfo, TaskInfo, TaskStatus};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tracing::warn;

/// Record magic.
pub const MAGIC: &[u8; 4] = b"MSCK";
/// Current record format version.
pub const VERSION: u16 = 1;
const HEADER: usize = 14;

/// A damaged record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("bad record magic at offset {0}")]
    BadMagic(usize),
    #[error("unsupported record format version {version} at offset {offset}")]
    Version { offset: usize, version: u16 },
    #[error("truncated record at offset {0}")]
    Truncated(usize),
    #[error("checksum mismatch in record at offset {0}")]
    Checksum(usize),
    #[error("expected exactly one record, found {0}")]
    Count(usize),
    #[error("undecodable record payload: {0}")]
    Payload(String),
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One record: header + payload.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decodes every record of `bytes`.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Vec<u8>>, RecordError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER {
            return Err(RecordError::Truncated(at));
        }
        if &rest[..4] != MAGIC {
            return Err(RecordError::BadMagic(at));
        }
        let version = u16::from_le_bytes([rest[4], rest[5]]);
        if version != VERSION {
            return Err(RecordError::Version {
                offset: at,
                version,
            });
        }
        let len = u32::from_le_bytes([rest[6], rest[7], rest[8], rest[9]]) as usize;
        let crc = u32::from_le_bytes([rest[10], rest[11], rest[12], rest[13]]);
        if rest.len() - HEADER < len {
            return Err(RecordError::Truncated(at));
        }
        let payload = &rest[HEADER..HEADER + len];
        if crc32(payload) != crc {
            return Err(RecordError::Checksum(at));
        }
        out.push(payload.to_vec());
        at += HEADER + len;
    }
    Ok(out)
}

/// Decodes a file that must hold exactly one JSON record.
pub fn decode_one<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, RecordError> {
    let records = decode_all(bytes)?;
    if records.len() != 1 {
        return Err(RecordError::Count(records.len()));
    }
    serde_json::from_slice(&records[0]).map_err(|e| RecordError::Payload(e.to_string()))
}

/// Replaces `path` with one record holding `payload` (temp file, fsync,
/// rename, fsync of the directory; `sync: false` skips the fsyncs).
pub fn write_atomic(path: &Path, payload: &[u8], sync: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&encode(payload))?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)?;
    if sync && let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Appends one record to `path`; `sync` = fsync before returning.
pub fn append(path: &Path, payload: &[u8], sync: bool) -> io::Result<()> {
    append_with(path, payload, sync, |f, record| f.write_all(record))
}

/// [`append`], with the write of the encoded record done by `write` (tests
/// inject one that fails part-way).
fn append_with(
    path: &Path,
    payload: &[u8],
    sync: bool,
    write: impl FnOnce(&mut std::fs::File, &[u8]) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let before = f.metadata()?.len();
    let written =
        write(&mut f, &encode(payload)).and_then(|()| if sync { f.sync_data() } else { Ok(()) });
    if let Err(e) = written {
        // A write that failed part-way (ENOSPC, EIO) may have left part of
        // the record. The update is sent again and appended again, so cut
        // the file back to the last good record: otherwise the new record
        // would follow the torn bytes, which recovery (past the last
        // record) can only take for corruption.
        if let Err(cut) = f.set_len(before).and_then(|()| f.sync_all()) {
            tracing::error!(
                "{}: cannot cut off a partly appended record after '{e}': {cut}",
                path.display()
            );
        }
        return Err(e);
    }
    Ok(())
}

/// Cuts `path` to `len` bytes and makes that durable.
fn truncate_synced(path: &Path, len: u64) -> io::Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

/// `executor.info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutorRecord {
    pub info: ExecutorInfo,
    pub container_id: ContainerID,
    pub directory: PathBuf,
    pub command_executor: bool,
}

/// One entry of `task.updates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateRecord {
    Update(Box<TaskStatus>),
    Ack(String),
}

/// `<work_dir>/meta`.
pub fn meta_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("meta")
}

/// `meta/slaves/latest`.
pub fn latest_agent(work_dir: &Path) -> PathBuf {
    meta_dir(work_dir).join("slaves").join("latest")
}

/// `meta/slaves/<aid>/frameworks/<fid>`.
pub fn framework_dir(work_dir: &Path, aid: &str, fid: &str) -> PathBuf {
    meta_dir(work_dir)
        .join("slaves")
        .join(aid)
        .join("frameworks")
        .join(fid)
}

/// `.../frameworks/<fid>/executors/<eid>/runs/<cid>`.
pub fn run_dir(work_dir: &Path, aid: &str, fid: &str, eid: &str, cid: &str) -> PathBuf {
    framework_dir(work_dir, aid, fid)
        .join("executors")
        .join(eid)
        .join("runs")
        .join(cid)
}

/// The `forked.pid` record: the executor's pid and its start time, so that
/// a recovering agent does not take an unrelated process that reused the
/// pid (after a reboot or a pid wrap-around) for its executor. Agents
/// before the start time was recorded wrote the bare pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ForkedPid {
    Stamped { pid: u32, start_time: u64 },
    Bare(u32),
}

impl ForkedPid {
    pub fn new(pid: u32, start_time: Option<u64>) -> ForkedPid {
        match start_time {
            Some(start_time) => ForkedPid::Stamped { pid, start_time },
            None => ForkedPid::Bare(pid),
        }
    }

    pub fn pid(self) -> u32 {
        match self {
            ForkedPid::Stamped { pid, .. } | ForkedPid::Bare(pid) => pid,
        }
    }

    pub fn start_time(self) -> Option<u64> {
        match self {
            ForkedPid::Stamped { start_time, .. } => Some(start_time),
            ForkedPid::Bare(_) => None,
        }
    }
}

/// Reads the checkpoint. `strict`: any damage is an error; otherwise the
/// damaged part (framework, executor run or task) is skipped and logged.
pub fn recover(work_dir: &Path, strict: bool) -> anyhow::Result<Recovered> {
    let mut problems = Vec::new();
    let state = read_all(work_dir, &mut problems);
    if !problems.is_empty() {
        if strict {
            anyhow::bail!(
                "Corrupt or incomplete checkpoint in '{}': {}. Remove '{}' to start afresh (running executors will not be recovered), or restart with --strict=false to skip the damaged parts",
                meta_dir(work_dir).display(),
                problems.join("; "),
                meta_dir(work_dir).display()
            );
        }
        for p in &problems {
            warn!("Skipping damaged checkpoint: {p}");
        }
    }
    Ok(state)
}

fn read_file<T: serde::de::DeserializeOwned>(path: &Path, problems: &mut Vec<String>) -> Option<T> {
    match std::fs::read(path) {
        Ok(bytes) => match decode_one(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                None
            }
        },
        // The agent died before the first write completed: nothing to recover.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            warn!(
                "Skipping incomplete checkpoint: {} is missing",
                path.display()
            );
            None
        }
        Err(e) => {
            problems.push(format!("{}: {e}", path.display()));
            None
        }
    }
}

fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    out.sort();
    out
}

fn read_all(work_dir: &Path, problems: &mut Vec<String>) -> Recovered {
    let latest = latest_agent(work_dir);
    if !latest.exists() {
        return Recovered::default();
    }
    let Some(agent_id) = read_file::<AgentID>(&latest, problems) else {
        return Recovered::default();
    };
    let agent_dir = meta_dir(work_dir).join("slaves").join(&agent_id.value);
    let mut frameworks = Vec::new();
    for (_, fdir) in subdirs(&agent_dir.join("frameworks")) {
        let Some(info) = read_file::<FrameworkInfo>(&fdir.join("framework.info"), problems) else {
            continue;
        };
        let mut executors = Vec::new();
        for (_, edir) in subdirs(&fdir.join("executors")) {
            for (_, rdir) in subdirs(&edir.join("runs")) {
                if let Some(ex) = read_run(&rdir, problems) {
                    executors.push(ex);
                }
            }
        }
        frameworks.push(RecoveredFramework { info, executors });
    }
    // Reservations and volumes belong to this agent id: a fresh agent
    // (no id) starts without them.
    let resources = resources_path(work_dir);
    let checkpointed_resources = if resources.exists() {
        read_file::<Vec<mesos_types::Resource>>(&resources, problems).unwrap_or_default()
    } else {
        Vec::new()
    };
    Recovered {
        agent_id: Some(agent_id),
        frameworks,
        checkpointed_resources,
    }
}

/// `meta/resources/resources.info`: the agent's checkpointed reservations
/// and volumes (one record: a JSON list of `Resource`).
pub fn resources_path(work_dir: &Path) -> PathBuf {
    meta_dir(work_dir).join("resources").join("resources.info")
}

fn read_run(rdir: &Path, problems: &mut Vec<String>) -> Option<RecoveredExecutor> {
    let record = read_file::<ExecutorRecord>(&rdir.join("executor.info"), problems)?;
    let pid_file = rdir.join("forked.pid");
    let forked = if pid_file.exists() {
        read_file::<ForkedPid>(&pid_file, problems)
    } else {
        None
    };
    let mut tasks = Vec::new();
    for (_, tdir) in subdirs(&rdir.join("tasks")) {
        let Some(info) = read_file::<TaskInfo>(&tdir.join("task.info"), problems) else {
            continue;
        };
        let updates_file = tdir.join("task.updates");
        let bytes = std::fs::read(&updates_file).unwrap_or_default();
        let records = match decode_all(&bytes) {
            Ok(r) => r,
            Err(RecordError::Truncated(at)) => {
                warn!(
                    "{}: dropping a torn last record at offset {at}",
                    updates_file.display()
                );
                // Later appends must follow the last good record, or the
                // torn bytes would sit in the middle of the stream and the
                // next recovery would take them for corruption.
                if let Err(e) = truncate_synced(&updates_file, at as u64) {
                    problems.push(format!(
                        "{}: cannot cut off the torn last record: {e}",
                        updates_file.display()
                    ));
                    continue;
                }
                decode_all(&bytes[..at]).unwrap_or_default()
            }
            Err(e) => {
                problems.push(format!("{}: {e}", updates_file.display()));
                continue;
            }
        };
        let mut updates = Vec::new();
        let mut ok = true;
        for r in records {
            match serde_json::from_slice::<UpdateRecord>(&r) {
                Ok(u) => updates.push(u),
                Err(e) => {
                    problems.push(format!("{}: {e}", updates_file.display()));
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            tasks.push(RecoveredTask { info, updates });
        }
    }
    Some(RecoveredExecutor {
        alive: forked
            .is_some_and(|f| crate::proc_tree::is_same_live_process(f.pid(), f.start_time())),
        pid: forked.map(ForkedPid::pid),
        start_time: forked.and_then(ForkedPid::start_time),
        record,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn records_roundtrip() {
        let mut bytes = encode(b"{\"a\":1}");
        bytes.extend(encode(b""));
        bytes.extend(encode(b"xyz"));
        let r = decode_all(&bytes).unwrap();
        assert_eq!(r, vec![b"{\"a\":1}".to_vec(), vec![], b"xyz".to_vec()]);
    }

    #[test]
    fn truncated_record_is_detected() {
        let mut bytes = encode(b"first");
        let first_len = bytes.len();
        bytes.extend(encode(b"second record"));
        for cut in [first_len + 3, bytes.len() - 1] {
            assert_eq!(
                decode_all(&bytes[..cut]),
                Err(RecordError::Truncated(first_len))
            );
        }
    }

    #[test]
    fn flipped_bytes_are_detected() {
        let bytes = encode(b"{\"task\":\"t1\"}");
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_all(&b).is_err(), "flip at {i} went unnoticed");
        }
        let mut v2 = bytes.clone();
        v2[4] = 2;
        assert!(matches!(
            decode_all(&v2),
            Err(RecordError::Version { version: 2, .. })
        ));
    }

    #[test]
    fn atomic_write_and_append() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b/framework.info");
        write_atomic(&p, b"\"one\"", true).unwrap();
        write_atomic(&p, b"\"two\"", false).unwrap();
        assert_eq!(
            decode_one::<String>(&std::fs::read(&p).unwrap()).unwrap(),
            "two"
        );
        let u = d.path().join("t/task.updates");
        append(&u, b"1", true).unwrap();
        append(&u, b"2", false).unwrap();
        assert_eq!(decode_all(&std::fs::read(&u).unwrap()).unwrap().len(), 2);
    }

    #[test]
    fn corrupt_checkpoint_strict_vs_lenient() {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        write_atomic(&latest_agent(w), br#"{"value":"A-S1"}"#, true).unwrap();
        let fdir = framework_dir(w, "A-S1", "F1");
        write_atomic(
            &fdir.join("framework.info"),
            br#"{"user":"u","name":"fw","id":{"value":"F1"},"checkpoint":true}"#,
            true,
        )
        .unwrap();
        let r = recover(w, true).unwrap();
        assert_eq!(r.agent_id.unwrap().value, "A-S1");
        assert_eq!(r.frameworks.len(), 1);
        // Flip a byte of framework.info.
        let p = fdir.join("framework.info");
        let mut b = std::fs::read(&p).unwrap();
        let last = b.len() - 2;
        b[last] ^= 1;
        std::fs::write(&p, b).unwrap();
        let err = recover(w, true).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        let r = recover(w, false).unwrap();
        assert_eq!(r.agent_id.unwrap().value, "A-S1");
        assert!(r.frameworks.is_empty());
    }

    /// An executor run whose `forked.pid` holds `forked`, recovered.
    fn recover_run_with(forked: &[u8]) -> RecoveredExecutor {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        let rdir = write_run(w);
        write_atomic(&rdir.join("forked.pid"), forked, true).unwrap();
        let mut r = recover(w, true).unwrap();
        r.frameworks.remove(0).executors.remove(0)
    }

    /// Checkpoints agent A-S1, framework F1 and executor run E1/C1 (no
    /// pid) under `w`; returns the run's directory.
    fn write_run(w: &Path) -> PathBuf {
        write_atomic(&latest_agent(w), br#"{"value":"A-S1"}"#, true).unwrap();
        write_atomic(
            &framework_dir(w, "A-S1", "F1").join("framework.info"),
            br#"{"user":"u","name":"fw","id":{"value":"F1"},"checkpoint":true}"#,
            true,
        )
        .unwrap();
        let rdir = run_dir(w, "A-S1", "F1", "E1", "C1");
        let record = ExecutorRecord {
            info: ExecutorInfo::default(),
            container_id: ContainerID {
                value: "C1".into(),
                parent: None,
            },
            directory: w.join("sandbox"),
            command_executor: true,
        };
        let record = serde_json::to_vec(&record).unwrap();
        write_atomic(&rdir.join("executor.info"), &record, true).unwrap();
        rdir
    }

    #[test]
    fn torn_last_update_is_cut_off_so_later_appends_follow_good_records() {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        let tdir = write_run(w).join("tasks").join("T1");
        let task = serde_json::to_vec(&TaskInfo::default()).unwrap();
        write_atomic(&tdir.join("task.info"), &task, true).unwrap();
        let updates = tdir.join("task.updates");
        let ack = |uuid: &str| UpdateRecord::Ack(uuid.into());
        let record = |uuid: &str| serde_json::to_vec(&ack(uuid)).unwrap();
        append(&updates, &record("u1"), true).unwrap();
        append(&updates, &record("u2"), true).unwrap();
        // The agent died while appending: a header and part of the payload.
        let torn = encode(&record("u3"));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&updates)
            .unwrap();
        f.write_all(&torn[..HEADER + 2]).unwrap();
        drop(f);
        let recovered_updates = |r: Recovered| {
            let mut ex = r.frameworks.into_iter().next().unwrap().executors;
            ex.remove(0).tasks.remove(0).updates
        };
        let first = recover(w, true).unwrap();
        assert_eq!(recovered_updates(first), [ack("u1"), ack("u2")]);
        append(&updates, &record("u4"), true).unwrap();
        let second =
            recover(w, true).unwrap_or_else(|e| panic!("recovery after an append failed: {e}"));
        assert_eq!(recovered_updates(second), [ack("u1"), ack("u2"), ack("u4")]);
    }

    #[test]
    fn a_failed_append_leaves_no_torn_bytes_before_the_next_one() {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        let tdir = write_run(w).join("tasks").join("T1");
        let task = serde_json::to_vec(&TaskInfo::default()).unwrap();
        write_atomic(&tdir.join("task.info"), &task, true).unwrap();
        let updates = tdir.join("task.updates");
        let ack = |uuid: &str| UpdateRecord::Ack(uuid.into());
        let record = |uuid: &str| serde_json::to_vec(&ack(uuid)).unwrap();
        append(&updates, &record("u1"), true).unwrap();
        // The disk fills up part-way through the next record.
        let err = append_with(&updates, &record("u2"), true, |f, bytes| {
            f.write_all(&bytes[..HEADER + 3])?;
            Err(io::Error::from_raw_os_error(nix::libc::ENOSPC))
        })
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC));
        // The executor re-sends the update; this time it fits.
        append(&updates, &record("u2"), true).unwrap();
        let r = recover(w, true)
            .unwrap_or_else(|e| panic!("strict recovery after a failed append: {e}"));
        let mut ex = r.frameworks.into_iter().next().unwrap().executors;
        assert_eq!(ex.remove(0).tasks.remove(0).updates, [ack("u1"), ack("u2")]);
    }

    #[test]
    fn recovered_executor_is_alive_only_if_its_pid_was_not_reused() {
        let me = std::process::id();
        let start = crate::proc_tree::live_start_time(me).unwrap();
        let stamped =
            |start_time| serde_json::to_vec(&ForkedPid::new(me, Some(start_time))).unwrap();

        let same = recover_run_with(&stamped(start));
        assert_eq!(
            (same.pid, same.start_time, same.alive),
            (Some(me), Some(start), true)
        );
        // A live process under the recorded pid that started at another
        // time is not our executor: never adopted (nor killed).
        let reused = recover_run_with(&stamped(start + 1));
        assert_eq!((reused.pid, reused.alive), (Some(me), false));
        // A checkpoint written before start times were recorded.
        let bare = recover_run_with(me.to_string().as_bytes());
        assert_eq!(
            (bare.pid, bare.start_time, bare.alive),
            (Some(me), None, true)
        );
    }
}
