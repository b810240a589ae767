//! The files endpoints' logic (spec §6.8), shared by the master and the
//! agent: virtual paths, confinement to them, and the browse/read
//! semantics ([`http`] has the `/files/*` endpoints and the v1
//! LIST_FILES / READ_FILE payloads over it).
//!
//! A request path is mapped to a registered root (an executor sandbox, one
//! of its `runs/latest` aliases, or a daemon's log file) by longest
//! prefix. Paths with `..` are refused, and the final path is
//! canonicalized (symlinks resolved) and must stay inside the canonical
//! root, so a symlink in a sandbox pointing at `/etc/passwd` is never
//! followed out; a path under no root is unknown (404). Only regular files
//! are read, and every function here blocks: callers run them on blocking
//! threads.

pub mod http;

use nix::fcntl::OFlag;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Largest chunk `/files/read` returns (16 pages of 4 KiB).
pub const MAX_READ: u64 = 16 * 4096;

/// Why a files request failed; [`FilesError::status`] is its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The file operation did not finish in time (504).
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

impl FilesError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            FilesError::BadRequest(_) => 400,
            FilesError::Forbidden(_) => 403,
            FilesError::NotFound(_) => 404,
            FilesError::Timeout(_) => 504,
            FilesError::Internal(_) => 500,
        }
    }
}

/// The virtual paths a daemon serves and their real files or directories.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileRoots {
    roots: BTreeMap<String, PathBuf>,
}

/// A request path mapped to a real file.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Normalized virtual path (`/a/b`).
    pub virtual_path: String,
    /// Canonical real path, inside its root.
    pub real: PathBuf,
    /// The canonical root `real` was found inside.
    pub root: PathBuf,
}

impl FileRoots {
    /// Registers `virtual_path` as an alias of `real` (a directory, served
    /// with everything under it, or a single file).
    pub fn add(&mut self, virtual_path: &str, real: PathBuf) {
        let v = normalize(virtual_path).unwrap_or_else(|_| virtual_path.to_string());
        self.roots.insert(v, real);
    }

    /// `virtual path -> real path`, for `/files/debug`.
    pub fn debug(&self) -> Value {
        Value::Object(
            self.roots
                .iter()
                .map(|(v, r)| (v.clone(), Value::from(r.display().to_string())))
                .collect(),
        )
    }

    /// Maps a request path to a real path inside one of the roots.
    pub fn resolve(&self, path: &str) -> Result<Resolved, FilesError> {
        let virtual_path = normalize(path)?;
        let (root_virtual, root_real) = self
            .roots
            .iter()
            .filter(|(v, _)| is_prefix(v, &virtual_path))
            .max_by_key(|(v, _)| v.len())
            .ok_or_else(|| FilesError::NotFound(format!("No such file or directory: '{path}'")))?;
        let rest = virtual_path[root_virtual.len()..].trim_start_matches('/');
        let candidate = if rest.is_empty() {
            root_real.clone()
        } else {
            root_real.join(rest)
        };
        let root = root_real
            .canonicalize()
            .map_err(|_| FilesError::NotFound(format!("No such file or directory: '{path}'")))?;
        let real = candidate.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                FilesError::NotFound(format!("No such file or directory: '{path}'"))
            }
            _ => FilesError::Forbidden(format!("Cannot access '{path}'")),
        })?;
        if !real.starts_with(&root) {
            return Err(FilesError::Forbidden(format!(
                "'{path}' points outside the served directory"
            )));
        }
        Ok(Resolved {
            virtual_path,
            real,
            root,
        })
    }
}

fn is_prefix(root: &str, path: &str) -> bool {
    root == "/"
        || path == root
        || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'/'))
}

/// `/a//b/./c/` -> `/a/b/c`; any `..` is refused.
pub fn normalize(path: &str) -> Result<String, FilesError> {
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                return Err(FilesError::Forbidden("Paths must not contain '..'".into()));
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// Parses an `offset`/`length` query value; absent means -1.
fn parse_position(name: &str, value: Option<&str>) -> Result<i64, FilesError> {
    let Some(v) = value else { return Ok(-1) };
    let n: i64 = v.trim().parse().map_err(|_| {
        FilesError::BadRequest(format!("Failed to parse {name}: '{v}' is not a number"))
    })?;
    if n < -1 {
        return Err(FilesError::BadRequest(format!(
            "Negative {name} provided: {n}"
        )));
    }
    Ok(n)
}

/// Opens `resolved.real` without following anything: `O_PATH` (so nothing
/// outside is ever really opened: no FIFO wait, no device side effects),
/// `O_NOFOLLOW` for the last component, and then the path the kernel
/// actually reached is checked to be inside the root. `resolve` checked the
/// path by name, but a task can swap a directory of it for a symlink
/// (to `/`) between that check and this open; `O_NOFOLLOW` guards only the
/// last component, the check on the descriptor guards them all.
fn open_beneath(resolved: &Resolved) -> Result<(File, std::fs::Metadata), FilesError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_PATH | OFlag::O_NOFOLLOW).bits())
        .open(&resolved.real)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => FilesError::NotFound("No such file".into()),
            _ => FilesError::Forbidden(format!("Cannot open file: {e}")),
        })?;
    let reached = std::fs::read_link(fd_path(&file))
        .map_err(|e| FilesError::Forbidden(format!("Cannot open file: {e}")))?;
    if !reached.starts_with(&resolved.root) {
        return Err(FilesError::Forbidden(format!(
            "'{}' points outside the served directory",
            resolved.virtual_path
        )));
    }
    let meta = file
        .metadata()
        .map_err(|e| FilesError::Forbidden(format!("Cannot stat file: {e}")))?;
    Ok((file, meta))
}

/// `/proc/self/fd/N`: opening it reopens the very file `file` refers to,
/// whatever its path has become since.
fn fd_path(file: &File) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Opens `resolved` for reading if it is a regular file inside its root
/// (see [`open_beneath`]). The type is checked on the `O_PATH` descriptor
/// before the file is opened for reading, so the file checked is the file
/// read and no FIFO or device is ever opened.
pub fn open_regular(
    resolved: &Resolved,
    what: &str,
) -> Result<(File, std::fs::Metadata), FilesError> {
    let (path_only, meta) = open_beneath(resolved)?;
    if meta.is_dir() {
        return Err(FilesError::BadRequest(format!(
            "Cannot {what} a directory."
        )));
    }
    if !meta.is_file() {
        return Err(FilesError::BadRequest(format!(
            "Cannot {what} '{}': not a regular file",
            resolved.real.display()
        )));
    }
    let file = File::open(fd_path(&path_only))
        .map_err(|e| FilesError::Forbidden(format!("Cannot open file: {e}")))?;
    Ok((file, meta))
}

/// `/files/read`: `{"data": <text>, "offset": <n>}` (spec §6.8), plus
/// `"length"`, the bytes read (our addition: `data` is text, so an
/// invalid byte becomes U+FFFD and its length in the string differs;
/// a follower adds `length` to `offset` to go on). A character cut by the
/// end of the range is left for the next read. Blocking.
pub fn read(
    resolved: &Resolved,
    offset: Option<&str>,
    length: Option<&str>,
) -> Result<Value, FilesError> {
    let offset = parse_position("offset", offset)?;
    let length = parse_position("length", length)?;
    let (mut file, meta) = open_regular(resolved, "read")?;
    let size = meta.len();
    if offset == -1 {
        return Ok(json!({"data": "", "offset": size}));
    }
    let offset = offset as u64;
    if offset >= size {
        return Ok(json!({"data": "", "offset": offset}));
    }
    let wanted = if length == -1 {
        MAX_READ
    } else {
        (length as u64).min(MAX_READ)
    };
    let count = wanted.min(size - offset);
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| FilesError::BadRequest(format!("Cannot seek: {e}")))?;
    let mut buf = Vec::with_capacity(count as usize);
    file.take(count)
        .read_to_end(&mut buf)
        .map_err(|e| FilesError::BadRequest(format!("Cannot read file: {e}")))?;
    // Leave a multi-byte character cut at the end for the next read
    // (unless it is all there is, or the file ends there).
    if let Err(e) = std::str::from_utf8(&buf)
        && e.error_len().is_none()
        && e.valid_up_to() > 0
        && offset + count < size
    {
        buf.truncate(e.valid_up_to());
    }
    Ok(json!({
        "data": String::from_utf8_lossy(&buf),
        "offset": offset,
        "length": buf.len(),
    }))
}

/// The entries of a directory (or the file itself) with their virtual
/// paths, sorted by path. Blocking; only `stat`s, so special files are
/// listed, never opened.
pub fn list(resolved: &Resolved) -> Result<Vec<(String, std::fs::Metadata)>, FilesError> {
    let (dir, meta) = open_beneath(resolved).map_err(|e| match e {
        FilesError::NotFound(_) => FilesError::NotFound("No such file or directory".into()),
        e => e,
    })?;
    let mut entries = Vec::new();
    if meta.is_dir() {
        // Listed through the checked descriptor, not by name again.
        let list = std::fs::read_dir(fd_path(&dir))
            .map_err(|e| FilesError::Forbidden(format!("Cannot list directory: {e}")))?;
        for entry in list.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(m) = std::fs::symlink_metadata(entry.path()) else {
                continue;
            };
            let path = format!("{}/{}", resolved.virtual_path.trim_end_matches('/'), name);
            entries.push((path, m));
        }
    } else {
        entries.push((resolved.virtual_path.clone(), meta));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// `/files/browse`: [`list`] as JSON (spec §6.8).
pub fn browse(resolved: &Resolved) -> Result<Value, FilesError> {
    let entries = list(resolved)?;
    Ok(Value::Array(
        entries.iter().map(|(p, m)| file_info(p, m)).collect(),
    ))
}

/// `mesos.v1.FileInfo` (LIST_FILES): like `/files/browse`'s entries, but
/// `mode` is the numeric `st_mode` and `mtime` a `TimeInfo`.
pub fn v1_file_info(path: &str, m: &std::fs::Metadata) -> Value {
    json!({
        "path": path,
        "nlink": m.nlink(),
        "size": m.size(),
        "mtime": {"nanoseconds": m.mtime().saturating_mul(1_000_000_000)},
        "mode": m.mode(),
        "uid": user_name(m.uid()),
        "gid": group_name(m.gid()),
    })
}

fn file_info(path: &str, m: &std::fs::Metadata) -> Value {
    json!({
        "path": path,
        "nlink": m.nlink(),
        "size": m.size(),
        "mtime": m.mtime(),
        "mode": mode_string(m.mode()),
        "uid": user_name(m.uid()),
        "gid": group_name(m.gid()),
    })
}

/// `ls -l` style permissions: `drwxr-xr-x`, `-rw-r--r--`, with s/S/t/T bits.
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & 0o170000 {
        0o040000 => 'd',
        0o120000 => 'l',
        0o020000 => 'c',
        0o060000 => 'b',
        0o010000 => 'p',
        0o140000 => 's',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    let special = [(0o4000, 's', 'S'), (0o2000, 's', 'S'), (0o1000, 't', 'T')];
    for (i, (bit, on, off)) in special.iter().enumerate() {
        let shift = 6 - 3 * i as u32;
        let bits = (mode >> shift) & 0o7;
        let (r, w, x) = (bits & 0o4 != 0, bits & 0o2 != 0, bits & 0o1 != 0);
        s.push(if r { 'r' } else { '-' });
        s.push(if w { 'w' } else { '-' });
        s.push(match (mode & bit != 0, x) {
            (true, true) => *on,
            (true, false) => *off,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

fn group_name(gid: u32) -> String {
    match nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => gid.to_string(),
    }
}

/// A MIME type for `/files/download`, from the extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "application/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests;
