//! The fetcher: copies `CommandInfo.uris` into the sandbox before the
//! executor starts (spec §2.5).
//!
//! Supported sources: absolute local paths, `file://` URIs and `http://`
//! URLs. `executable` sets the file mode to 0755; `extract` (default true)
//! unpacks tar archives (`.tar`, `.tar.gz`, `.tgz`, `.tar.bz2`, `.tbz2`,
//! `.tar.xz`, `.txz`) with `tar` and `.zip` files with `unzip`.
//!
//! Bounded by [`FetchLimits`]: a download that makes no progress for
//! `--fetcher_stall_timeout` fails, and so does any file over
//! `--fetcher_max_size`; local sources must be regular files.

use futures::StreamExt;
use mesos_types::URI;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Why a URI could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unsupported URI '{0}': only absolute paths, file:// and http:// are supported")]
    Unsupported(String),
    #[error("invalid output_file '{0}': must be a relative path inside the sandbox")]
    OutputFile(String),
    #[error("cannot tell the file name of '{0}'; set output_file")]
    NoName(String),
    #[error("failed to copy '{0}': {1}")]
    Copy(String, std::io::Error),
    #[error("failed to download '{0}': {1}")]
    Download(String, String),
    #[error("failed to write '{0}': {1}")]
    Write(String, std::io::Error),
    #[error("failed to extract '{0}': {1}")]
    Extract(String, String),
    #[error("failed to download '{0}': no progress for {1}")]
    Stalled(String, mesos_flags::Duration),
    #[error("failed to fetch '{0}': larger than {1} bytes (--fetcher_max_size)")]
    TooLarge(String, u64),
    #[error("failed to fetch '{0}': not a regular file")]
    NotRegular(String),
}

/// Where a URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Local(PathBuf),
    Http(String),
}

/// Classifies a URI value.
pub fn classify(value: &str) -> Result<Source, FetchError> {
    let v = value.trim();
    if let Some(path) = v.strip_prefix("file://") {
        if path.starts_with('/') {
            return Ok(Source::Local(PathBuf::from(path)));
        }
    } else if v.starts_with("http://") {
        return Ok(Source::Http(v.to_string()));
    } else if v.starts_with('/') {
        return Ok(Source::Local(PathBuf::from(v)));
    }
    Err(FetchError::Unsupported(value.to_string()))
}

/// The file name inside the sandbox: `output_file`, else the URI's last path segment.
pub fn destination_name(uri: &URI, source: &Source) -> Result<PathBuf, FetchError> {
    if let Some(out) = uri.output_file.as_deref().filter(|o| !o.is_empty()) {
        let p = Path::new(out);
        let safe = p
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe {
            return Err(FetchError::OutputFile(out.to_string()));
        }
        return Ok(p.to_path_buf());
    }
    let name = match source {
        Source::Local(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
        Source::Http(url) => {
            let without_query = url.split(['?', '#']).next().unwrap_or_default();
            let after_host = without_query
                .trim_start_matches("http://")
                .split_once('/')
                .map(|(_, p)| p)
                .unwrap_or("");
            after_host.rsplit('/').next().map(str::to_string)
        }
    };
    match name.filter(|n| !n.is_empty() && n != "." && n != "..") {
        Some(n) => Ok(PathBuf::from(n)),
        None => Err(FetchError::NoName(uri.value.clone())),
    }
}

/// Archive formats we unpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Tar,
    Zip,
}

/// The archive format implied by a file name, if any.
pub fn archive_kind(name: &Path) -> Option<Archive> {
    let n = name.to_string_lossy().to_ascii_lowercase();
    let tar = [
        ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
    ];
    if tar.iter().any(|ext| n.ends_with(ext)) {
        Some(Archive::Tar)
    } else if n.ends_with(".zip") {
        Some(Archive::Zip)
    } else {
        None
    }
}

/// Bounds on one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// A download that makes no progress for this long fails
    /// (`--fetcher_stall_timeout`).
    pub stall_timeout: Duration,
    /// Largest file fetched, in bytes (`--fetcher_max_size`).
    pub max_size: u64,
}

impl Default for FetchLimits {
    fn default() -> FetchLimits {
        FetchLimits {
            stall_timeout: Duration::MAX,
            max_size: u64::MAX,
        }
    }
}

/// Fetches one URI into `sandbox`; returns the fetched file's path.
pub async fn fetch(
    uri: &URI,
    sandbox: &Path,
    client: &reqwest::Client,
    limits: &FetchLimits,
) -> Result<PathBuf, FetchError> {
    let source = classify(&uri.value)?;
    let dest = sandbox.join(destination_name(uri, &source)?);
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| FetchError::Write(dest.display().to_string(), e))?;
    }
    match &source {
        Source::Local(path) => {
            let shown = path.display().to_string();
            let meta = tokio::fs::metadata(path)
                .await
                .map_err(|e| FetchError::Copy(shown.clone(), e))?;
            // Copying a FIFO or a device would never end.
            if !meta.is_file() {
                return Err(FetchError::NotRegular(shown));
            }
            if meta.len() > limits.max_size {
                return Err(FetchError::TooLarge(shown, limits.max_size));
            }
            tokio::fs::copy(path, &dest)
                .await
                .map_err(|e| FetchError::Copy(shown, e))?;
        }
        Source::Http(url) => download(client, url, &dest, limits).await?,
    }
    let executable = uri.executable.unwrap_or(false);
    if executable {
        let perms = std::fs::Permissions::from_mode(0o755);
        tokio::fs::set_permissions(&dest, perms)
            .await
            .map_err(|e| FetchError::Write(dest.display().to_string(), e))?;
    } else if uri.extract.unwrap_or(true)
        && let Some(kind) = archive_kind(&dest)
    {
        extract(kind, &dest, sandbox).await?;
    }
    Ok(dest)
}

/// Downloads `url` to `dest`: each step (the response head, every chunk of
/// the body) must come within the stall timeout, and the body must stay
/// within the size cap.
async fn download(
    client: &reqwest::Client,
    url: &str,
    dest: &Path,
    limits: &FetchLimits,
) -> Result<(), FetchError> {
    let err = |e: String| FetchError::Download(url.to_string(), e);
    let stalled =
        || FetchError::Stalled(url.to_string(), mesos_flags::Duration(limits.stall_timeout));
    let too_large = || FetchError::TooLarge(url.to_string(), limits.max_size);
    let response = within(limits.stall_timeout, client.get(url).send())
        .await
        .ok_or_else(stalled)?
        .map_err(|e| err(crate::master_link::error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(err(format!("HTTP status {}", response.status())));
    }
    if response
        .content_length()
        .is_some_and(|n| n > limits.max_size)
    {
        return Err(too_large());
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| FetchError::Write(dest.display().to_string(), e))?;
    let mut body = response.bytes_stream();
    let mut size: u64 = 0;
    while let Some(chunk) = within(limits.stall_timeout, body.next())
        .await
        .ok_or_else(stalled)?
    {
        let chunk = chunk.map_err(|e| err(e.to_string()))?;
        size = size.saturating_add(chunk.len() as u64);
        if size > limits.max_size {
            return Err(too_large());
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| FetchError::Write(dest.display().to_string(), e))?;
    }
    file.flush()
        .await
        .map_err(|e| FetchError::Write(dest.display().to_string(), e))
}

/// `future`'s output, or `None` if it takes longer than `limit`.
async fn within<T>(limit: Duration, future: impl std::future::Future<Output = T>) -> Option<T> {
    match tokio::time::Instant::now().checked_add(limit) {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        // No deadline representable: no limit.
        None => Some(future.await),
    }
}

async fn extract(kind: Archive, archive: &Path, into: &Path) -> Result<(), FetchError> {
    let mut cmd = match kind {
        Archive::Tar => {
            let mut c = tokio::process::Command::new("tar");
            c.arg("-C").arg(into).arg("-xf").arg(archive);
            c
        }
        Archive::Zip => {
            let mut c = tokio::process::Command::new("unzip");
            c.arg("-o").arg("-q").arg("-d").arg(into).arg(archive);
            c
        }
    };
    let name = archive.display().to_string();
    let out = cmd
        .output()
        .await
        .map_err(|e| FetchError::Extract(name.clone(), e.to_string()))?;
    if !out.status.success() {
        return Err(FetchError::Extract(
            name,
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(value: &str) -> URI {
        URI {
            value: value.into(),
            ..Default::default()
        }
    }

    #[test]
    fn classifies_sources_and_names() {
        assert_eq!(
            classify("/opt/a.sh").unwrap(),
            Source::Local("/opt/a.sh".into())
        );
        assert_eq!(
            classify("file:///opt/a.sh").unwrap(),
            Source::Local("/opt/a.sh".into())
        );
        assert!(matches!(
            classify("http://h/x.tgz").unwrap(),
            Source::Http(_)
        ));
        for bad in ["https://h/x", "hdfs://n/x", "relative/x", "file://relative"] {
            assert!(classify(bad).is_err(), "{bad}");
        }
        let s = classify("http://h:80/dir/pkg.tar.gz?sig=1").unwrap();
        assert_eq!(
            destination_name(&uri("http://h:80/dir/pkg.tar.gz?sig=1"), &s).unwrap(),
            PathBuf::from("pkg.tar.gz")
        );
        assert!(destination_name(&uri("http://h"), &classify("http://h").unwrap()).is_err());
        let mut u = uri("/x");
        u.output_file = Some("../escape".into());
        assert!(destination_name(&u, &Source::Local("/x".into())).is_err());
        u.output_file = Some("sub/name".into());
        assert_eq!(
            destination_name(&u, &Source::Local("/x".into())).unwrap(),
            PathBuf::from("sub/name")
        );
    }

    #[test]
    fn archive_kinds() {
        assert_eq!(archive_kind(Path::new("a.TGZ")), Some(Archive::Tar));
        assert_eq!(archive_kind(Path::new("a.tar.xz")), Some(Archive::Tar));
        assert_eq!(archive_kind(Path::new("a.zip")), Some(Archive::Zip));
        assert_eq!(archive_kind(Path::new("a.gz")), None);
    }

    #[tokio::test]
    async fn downloads_over_http() {
        let app = axum::Router::new()
            .route(
                "/files/tool.sh",
                axum::routing::get(|| async { "#!/bin/sh\necho tool\n" }),
            )
            .route(
                "/missing",
                axum::routing::get(|| async { axum::http::StatusCode::NOT_FOUND }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let sandbox = tempfile::tempdir().unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut u = uri(&format!("http://{addr}/files/tool.sh?x=1"));
        u.executable = Some(true);
        let dest = fetch(&u, sandbox.path(), &client, &FetchLimits::default())
            .await
            .unwrap();
        assert_eq!(dest, sandbox.path().join("tool.sh"));
        assert_eq!(
            std::fs::read_to_string(&dest).unwrap(),
            "#!/bin/sh\necho tool\n"
        );
        let e = fetch(
            &uri(&format!("http://{addr}/missing")),
            sandbox.path(),
            &client,
            &FetchLimits::default(),
        )
        .await
        .unwrap_err();
        assert!(e.to_string().contains("404"), "{e}");
    }

    /// A raw HTTP server that answers every request with `head` and `body`,
    /// then keeps the connection open without sending anything more.
    async fn stalling_server(head: String, body: Vec<u8>) -> std::net::SocketAddr {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (head, body) = (head.clone(), body.clone());
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                    let _ = socket.flush().await;
                    std::future::pending::<()>().await;
                    drop(socket);
                });
            }
        });
        addr
    }

    /// The fetch's result, or a panic if it does not end by the deadline.
    async fn fetch_within_deadline(
        url: String,
        limits: FetchLimits,
    ) -> Result<PathBuf, FetchError> {
        let sandbox = tempfile::tempdir().unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let source = uri(&url);
        let fetch = fetch(&source, sandbox.path(), &client, &limits);
        tokio::time::timeout(Duration::from_secs(20), fetch)
            .await
            .expect("the fetch never ended")
    }

    #[tokio::test]
    async fn a_download_that_stalls_fails() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_string();
        let addr = stalling_server(head, vec![b'x'; 10]).await;
        let limits = FetchLimits {
            stall_timeout: Duration::from_millis(300),
            ..FetchLimits::default()
        };
        let e = fetch_within_deadline(format!("http://{addr}/big.bin"), limits)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no progress for 300ms"), "{e}");
    }

    #[tokio::test]
    async fn downloads_over_the_size_cap_fail() {
        let limits = FetchLimits {
            stall_timeout: Duration::from_millis(300),
            max_size: 1000,
        };
        // Announced too big.
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".to_string();
        let addr = stalling_server(head, vec![b'x'; 10]).await;
        let e = fetch_within_deadline(format!("http://{addr}/big.bin"), limits)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("larger than 1000 bytes"), "{e}");
        // No length announced, more sent than allowed.
        let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string();
        let addr = stalling_server(head, vec![b'x'; 5000]).await;
        let e = fetch_within_deadline(format!("http://{addr}/big.bin"), limits)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("larger than 1000 bytes"), "{e}");
    }

    #[tokio::test]
    async fn copies_local_files_marks_executables_and_extracts_tarballs() {
        let src = tempfile::tempdir().unwrap();
        let sandbox = tempfile::tempdir().unwrap();
        let client = reqwest::Client::new();
        std::fs::write(src.path().join("run.sh"), "#!/bin/sh\necho ok\n").unwrap();
        let mut u = uri(&format!("file://{}", src.path().join("run.sh").display()));
        u.executable = Some(true);
        let dest = fetch(&u, sandbox.path(), &client, &FetchLimits::default())
            .await
            .unwrap();
        assert_eq!(
            std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
            0o755
        );

        std::fs::create_dir(src.path().join("pkg")).unwrap();
        std::fs::write(src.path().join("pkg/data.txt"), "payload").unwrap();
        let status = std::process::Command::new("tar")
            .arg("-C")
            .arg(src.path())
            .args(["-czf", "pkg.tgz", "pkg"])
            .current_dir(src.path())
            .status()
            .unwrap();
        assert!(status.success());
        fetch(
            &uri(src.path().join("pkg.tgz").to_str().unwrap()),
            sandbox.path(),
            &client,
            &FetchLimits::default(),
        )
        .await
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(sandbox.path().join("pkg/data.txt")).unwrap(),
            "payload"
        );

        let missing = fetch(
            &uri("/definitely/not/here"),
            sandbox.path(),
            &client,
            &FetchLimits::default(),
        )
        .await
        .unwrap_err();
        assert!(missing.to_string().contains("/definitely/not/here"));
    }
}
