//! The sandbox browser and file viewer, and the master's log viewer.
//!
//! The pages read files through the agent's `/files/browse`, `/files/read`
//! and `/files/download` (the master's own `/files` roots for its log), on
//! the browser's behalf: the browser talks to the master only, so agents
//! need not be reachable from it. A path must be absolute and plain (no
//! `.` or `..` parts); the agent then serves only what lies under its
//! sandboxes and its log, and anything else is a friendly 404.

use super::{Outcome, Request, agent_href, browse_href, file_href};
use crate::server::Shared;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use std::sync::OnceLock;
use std::time::Duration;
use webui::blocks::{heading, join};
use webui::format::{bytes, time};
use webui::table::{Column, TableQuery, TableSpec, cmp_f64, contains, page_of};
use webui::{Html, escape, url_encode};

/// How much of a file the viewer shows at first (its end).
const FIRST_VIEW_BYTES: u64 = 64 * 1024;
/// The most one read through the UI returns.
const MAX_READ_BYTES: u64 = 1024 * 1024;
const MAX_PATH_BYTES: usize = 4096;

/// How long a listing or a read from an agent may take in all.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer taken from an agent's browse or read (a read is at
/// most [`MAX_READ_BYTES`] of text; a listing of a directory with many
/// thousands of entries is refused rather than buffered without end).
const MAX_AGENT_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The client for agents: straight to them (no proxy from the
/// environment), a connect timeout, and for downloads a timeout between
/// reads only (a large file may take as long as it needs).
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(3))
            .read_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default()
    })
}

/// `http://ip:port` (IPv6 addresses in brackets).
fn base_url(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("http://[{ip}]:{port}")
    } else {
        format!("http://{ip}:{port}")
    }
}

/// The body of an agent's answer, refused past `cap` bytes.
async fn body_capped(mut r: reqwest::Response, cap: usize) -> Result<Vec<u8>, FileError> {
    let mut body = Vec::new();
    while let Some(chunk) = r
        .chunk()
        .await
        .map_err(|e| FileError::Unavailable(format!("Reading the agent's answer failed: {e}")))?
    {
        if body.len() + chunk.len() > cap {
            return Err(FileError::Unavailable(format!(
                "The agent's answer is larger than {} (a directory with too many entries?).",
                bytes(cap as u64)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a file could not be shown.
#[derive(Debug)]
enum FileError {
    NotFound(String),
    Unavailable(String),
}

impl From<FileError> for Outcome {
    fn from(e: FileError) -> Outcome {
        match e {
            FileError::NotFound(m) => Outcome::NotFound(m),
            FileError::Unavailable(m) => Outcome::BadGateway(m),
        }
    }
}

/// Where files are read: an agent (by its base URL) or this master.
enum Source {
    Agent {
        id: String,
        base: String,
        host: String,
    },
    Master,
}

/// The path query parameter, if it is a plain absolute path.
fn plain_path(req: &Request) -> Result<String, FileError> {
    let p = req.params.get("path").map(String::as_str).unwrap_or("");
    let plain = p.starts_with('/')
        && p.len() <= MAX_PATH_BYTES
        && !p.contains('\0')
        && p.split('/').all(|s| s != "." && s != "..");
    if plain {
        Ok(p.trim_end_matches('/').to_string()).map(|s| if s.is_empty() { "/".into() } else { s })
    } else {
        Err(FileError::NotFound(format!(
            "'{p}' is not a path in a sandbox."
        )))
    }
}

fn agent_source(shared: &Shared, id: &str) -> Result<Source, FileError> {
    shared
        .read(|m| {
            m.agents
                .values()
                .find(|a| a.id.value == id)
                .map(|a| Source::Agent {
                    id: id.to_string(),
                    base: base_url(&a.ip, a.info.port),
                    host: a.info.hostname.clone(),
                })
        })
        .ok_or_else(|| FileError::NotFound(format!("No agent '{id}' is registered.")))
}

/// Calls an agent's `/files/<what>` and returns its JSON.
async fn agent_json(base: &str, what: &str, query: &[(&str, String)]) -> Result<Json, FileError> {
    let q: Vec<String> = (query.iter())
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect();
    let url = format!("{base}/files/{what}?{}", q.join("&"));
    let r = client()
        .get(&url)
        .timeout(CALL_TIMEOUT)
        .send()
        .await
        .map_err(|e| FileError::Unavailable(format!("Could not reach the agent at {base}: {e}")))?;
    let status = r.status();
    let body: Json = serde_json::from_slice(&body_capped(r, MAX_AGENT_ANSWER_BYTES).await?)
        .unwrap_or(Json::Null);
    let message = body
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    match status {
        s if s.is_success() => Ok(body),
        StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN => {
            Err(FileError::NotFound(if message.is_empty() {
                "No such file or directory in a sandbox.".into()
            } else {
                message
            }))
        }
        s => Err(FileError::Unavailable(format!(
            "The agent answered {s}: {message}"
        ))),
    }
}

impl Source {
    async fn read(
        &self,
        shared: &Shared,
        path: &str,
        offset: i64,
        length: u64,
    ) -> Result<Json, FileError> {
        match self {
            Source::Agent { base, .. } => {
                agent_json(
                    base,
                    "read",
                    &[
                        ("path", path.to_string()),
                        ("offset", offset.to_string()),
                        ("length", length.to_string()),
                    ],
                )
                .await
            }
            Source::Master => {
                let roots = crate::http::master_file_roots(shared);
                mesos_daemon::files::http::read(
                    roots,
                    Some(path),
                    Some(&offset.to_string()),
                    Some(&length.to_string()),
                )
                .await
                .map_err(|e| FileError::NotFound(e.to_string()))
            }
        }
    }

    fn read_href(&self, path: &str) -> String {
        match self {
            Source::Agent { id, .. } => {
                format!(
                    "/ui/agents/{}/read?path={}",
                    url_encode(id),
                    url_encode(path)
                )
            }
            Source::Master => "/ui/log/read".into(),
        }
    }

    fn download_href(&self, path: &str) -> String {
        match self {
            Source::Agent { id, .. } => {
                format!(
                    "/ui/agents/{}/download?path={}",
                    url_encode(id),
                    url_encode(path)
                )
            }
            Source::Master => format!("/files/download?path={}", url_encode(path)),
        }
    }
}

/// Breadcrumbs for a path: each directory above it links to its listing.
fn crumbs(agent: &str, host: &str, path: &str) -> Vec<(String, Option<String>)> {
    let mut out = vec![
        ("Agents".to_string(), Some("/ui/agents".to_string())),
        (host.to_string(), Some(agent_href(agent))),
    ];
    let mut so_far = String::new();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // The sandbox is the run directory (`.../runs/<id or latest>`): the
    // agent lists nothing above it, so only it and what is below link.
    let root = parts
        .iter()
        .rposition(|p| *p == "runs")
        .map_or(parts.len(), |i| i + 1);
    for (i, p) in parts.iter().enumerate() {
        so_far.push('/');
        so_far.push_str(p);
        if i + 1 < parts.len() {
            let link = (i >= root).then(|| browse_href(agent, &so_far));
            out.push((p.to_string(), link));
        }
    }
    out
}

fn heading_with(title: &str, crumbs: &[(String, Option<String>)]) -> Html {
    let c: Vec<(&str, Option<String>)> = crumbs
        .iter()
        .map(|(l, h)| (l.as_str(), h.clone()))
        .collect();
    heading(title, &c)
}

const COLS: [Column; 7] = [
    Column::sortable("Mode"),
    Column::sortable("Links"),
    Column::sortable("UID"),
    Column::sortable("GID"),
    Column::sortable("Size"),
    Column::sortable("Modified"),
    Column::sortable("Name"),
];

/// `/ui/agents/<id>/browse?path=`.
pub(crate) async fn browse(shared: &Shared, id: &str, req: &Request) -> Outcome {
    match browse_inner(shared, id, req).await {
        Ok(o) => o,
        Err(e) => e.into(),
    }
}

async fn browse_inner(shared: &Shared, id: &str, req: &Request) -> Result<Outcome, FileError> {
    let path = plain_path(req)?;
    let source = agent_source(shared, id)?;
    let Source::Agent { base, host, .. } = &source else {
        return Err(FileError::NotFound("Not an agent.".into()));
    };
    let listing = agent_json(base, "browse", &[("path", path.clone())]).await?;
    let entries: Vec<Json> = listing.as_array().cloned().unwrap_or_default();
    let s = |e: &Json, k: &str| e.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let n = |e: &Json, k: &str| e.get(k).and_then(Json::as_f64).unwrap_or(0.0);
    let name = |e: &Json| {
        let p = s(e, "path");
        p.rsplit('/').next().unwrap_or("").to_string()
    };
    let q = TableQuery::parse("files", &req.params, &COLS, (6, false));
    let paged = page_of(
        entries,
        &q,
        |e, f| contains(&name(e), f),
        |a, b, col| {
            let o = match col {
                0 => s(a, "mode").cmp(&s(b, "mode")),
                1 => cmp_f64(n(a, "nlink"), n(b, "nlink")),
                2 => s(a, "uid").cmp(&s(b, "uid")),
                3 => s(a, "gid").cmp(&s(b, "gid")),
                4 => cmp_f64(n(a, "size"), n(b, "size")),
                5 => cmp_f64(n(a, "mtime"), n(b, "mtime")),
                _ => std::cmp::Ordering::Equal,
            };
            o.then_with(|| name(a).cmp(&name(b)))
        },
    );
    let table = paged.render(
        &TableSpec {
            id: "files",
            caption: "Files",
            columns: &COLS,
            empty: "This directory is empty.",
        },
        &q,
        &req.path,
        &req.params,
        |e| {
            let p = s(e, "path");
            let is_dir = s(e, "mode").starts_with('d');
            let link = if is_dir {
                Html::link(&browse_href(id, &p), &format!("{}/", name(e)))
            } else {
                Html::trusted(format!(
                    "{} <span class=\"ui-note\">(<a href=\"{}\">download</a>)</span>",
                    Html::link(&file_href(id, &p), &name(e)),
                    escape(&source.download_href(&p))
                ))
            };
            vec![
                Html::trusted(format!("<code>{}</code>", escape(&s(e, "mode")))),
                Html::text(&n(e, "nlink").to_string()),
                Html::text(&s(e, "uid")),
                Html::text(&s(e, "gid")),
                Html::text(&bytes(n(e, "size") as u64)),
                time(n(e, "mtime")),
                link,
            ]
        },
    );
    let title = path
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("/")
        .to_string();
    let body = join([
        heading_with(&title, &crumbs(id, host, &path)),
        Html::trusted(format!("<p class=\"ui-note mono\">{}</p>", escape(&path))),
        table,
    ]);
    Ok(Outcome::page(
        format!("Sandbox {title}"),
        Some("Agents"),
        body,
    ))
}

/// `/ui/agents/<id>/file?path=` and `/ui/log`: the end of a file, then
/// what is appended to it, live.
pub(crate) async fn view(shared: &Shared, agent: Option<&str>, req: &Request) -> Outcome {
    match view_inner(shared, agent, req).await {
        Ok(o) => o,
        Err(e) => e.into(),
    }
}

async fn view_inner(
    shared: &Shared,
    agent: Option<&str>,
    req: &Request,
) -> Result<Outcome, FileError> {
    let (source, path) = match agent {
        Some(id) => (agent_source(shared, id)?, plain_path(req)?),
        None => {
            if shared.log_file.is_none() {
                return Err(FileError::NotFound(
                    "This master writes no log file (start it with --log_dir).".into(),
                ));
            }
            (Source::Master, crate::http::MASTER_LOG_PATH.to_string())
        }
    };
    // The size first (offset -1), then the last part.
    let size = source
        .read(shared, &path, -1, 0)
        .await?
        .get("offset")
        .and_then(Json::as_u64)
        .unwrap_or(0);
    let start = size.saturating_sub(FIRST_VIEW_BYTES);
    let chunk = source
        .read(shared, &path, start as i64, size - start)
        .await?;
    let data = chunk.get("data").and_then(Json::as_str).unwrap_or("");
    let next = start + bytes_read(&chunk);
    let name = path.rsplit('/').next().unwrap_or("").to_string();
    let crumbs = match &source {
        Source::Agent { id, host, .. } => crumbs(id, host, &path),
        Source::Master => vec![("Home".to_string(), Some("/".to_string()))],
    };
    let note = if start > 0 {
        format!(
            "The last {} of {} are shown; new lines appear as they are written.",
            bytes(size - start),
            bytes(size)
        )
    } else {
        format!("{}; new lines appear as they are written.", bytes(size))
    };
    let body = join([
        heading_with(&name, &crumbs),
        Html::trusted(format!(
            "<div class=\"ui-actions\"><a class=\"ui-button\" href=\"{}\">Download</a><span class=\"ui-note\">{}</span></div>",
            escape(&source.download_href(&path)),
            escape(&note)
        )),
        Html::trusted(format!(
            "<pre class=\"ui-file\" id=\"file\" data-tail=\"{}\" data-offset=\"{next}\">{}</pre>",
            escape(&source.read_href(&path)),
            escape(data)
        )),
    ]);
    Ok(Outcome::Page {
        title: name,
        active: agent.map(|_| "Agents"),
        body,
        // The file follows itself; refreshing the page would reset it.
        live: false,
    })
}

/// How many bytes of the file a `/files/read` answer covers: its
/// `length` (our daemons' addition; `data` is text, where an invalid byte
/// is a 3-byte U+FFFD), else the text's length.
fn bytes_read(chunk: &Json) -> u64 {
    chunk
        .get("length")
        .and_then(Json::as_u64)
        .unwrap_or_else(|| {
            chunk
                .get("data")
                .and_then(Json::as_str)
                .map_or(0, |d| d.len() as u64)
        })
}

/// `/ui/agents/<id>/read?path=&offset=&length=` and `/ui/log/read`:
/// `{offset, data, next}` (JSON) for the viewer's script.
pub(crate) async fn read(shared: &Shared, agent: Option<&str>, req: &Request) -> Outcome {
    let result = async {
        let (source, path) = match agent {
            Some(id) => (agent_source(shared, id)?, plain_path(req)?),
            None => (Source::Master, crate::http::MASTER_LOG_PATH.to_string()),
        };
        let offset: i64 = req
            .params
            .get("offset")
            .and_then(|o| o.parse().ok())
            .filter(|o| *o >= 0)
            .ok_or_else(|| FileError::NotFound("'offset' must be a non-negative integer".into()))?;
        let length: u64 = req
            .params
            .get("length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(FIRST_VIEW_BYTES)
            .min(MAX_READ_BYTES);
        let chunk = source.read(shared, &path, offset, length).await?;
        let data = chunk
            .get("data")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
        // The files endpoints return text; for UTF-8 files its length in
        // bytes is where the next read starts.
        let next = offset as u64 + data.len() as u64;
        Ok::<_, FileError>(json!({"offset": offset, "data": data, "next": next}))
    }
    .await;
    let (status, body) = match result {
        Ok(v) => (StatusCode::OK, v),
        Err(FileError::NotFound(m)) => (StatusCode::NOT_FOUND, json!({ "message": m })),
        Err(FileError::Unavailable(m)) => (StatusCode::BAD_GATEWAY, json!({ "message": m })),
    };
    Outcome::Raw((status, axum::Json(body)).into_response())
}

/// `/ui/agents/<id>/download?path=`: the agent's download, streamed.
pub(crate) async fn download(shared: &Shared, id: &str, req: &Request) -> Outcome {
    let result = async {
        let path = plain_path(req)?;
        let Source::Agent { base, .. } = agent_source(shared, id)? else {
            return Err(FileError::NotFound("Not an agent.".into()));
        };
        let r = client()
            .get(format!("{base}/files/download?path={}", url_encode(&path)))
            .send()
            .await
            .map_err(|e| {
                FileError::Unavailable(format!("Could not reach the agent at {base}: {e}"))
            })?;
        if r.status() == StatusCode::NOT_FOUND || r.status().is_client_error() {
            return Err(FileError::NotFound("No such file in a sandbox.".into()));
        }
        if !r.status().is_success() {
            return Err(FileError::Unavailable(format!(
                "The agent answered {}",
                r.status()
            )));
        }
        let mut out = Response::new(Body::empty());
        for h in [
            header::CONTENT_TYPE,
            header::CONTENT_DISPOSITION,
            header::CONTENT_LENGTH,
        ] {
            if let Some(v) = r.headers().get(&h).cloned() {
                out.headers_mut().insert(h, v);
            }
        }
        out.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        *out.body_mut() = Body::from_stream(r.bytes_stream());
        Ok(out)
    }
    .await;
    match result {
        Ok(r) => Outcome::Raw(r),
        Err(e) => e.into(),
    }
}
