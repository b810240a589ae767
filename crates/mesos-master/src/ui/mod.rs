//! The master's web UI (spec 9): server-rendered pages at `/` and under
//! `/ui/`, built from `webui`'s layout, tables and blocks so Marathon and
//! Chronos look the same. Each page is built under one short hold of the
//! book's lock (only one page of each table is turned into rows) and
//! the frame rendered after it. Open pages poll `/ui/version` (a number
//! that moves when a write changed what pages show) and then re-fetch
//! their own main area; nothing polls `/master/state`. The sandbox pages read files through the agent's
//! `/files` endpoints on the browser's behalf, so the browser never needs
//! to reach agents by hostname.
//!
//! Page URLs: `/` (home), `/ui/frameworks[/<id>]`, `/ui/agents[/<id>]`,
//! `/ui/tasks/<framework id>/<task id>`, `/ui/roles`, `/ui/offers`,
//! `/ui/maintenance`, `/ui/agents/<id>/browse?path=`, `.../file?path=`,
//! `/ui/log` (the master's log). Old `#/...` links of the Mesos UI are sent
//! to these by the page script.

mod agents;
mod cluster;
mod frameworks;
mod home;
mod sandbox;
mod tasks;

use crate::master::Master;
use crate::server::Shared;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;
use webui::layout::{FRAGMENT_HEADER, Nav, Page};
use webui::live::Fingerprint;
use webui::{Html, url_encode};

/// Where the UI's pages live (besides the home page at `/`).
pub const PREFIX: &str = "/ui";
/// The longest query string a page takes (table state is a few keys).
const MAX_QUERY_BYTES: usize = 4096;
const MAX_QUERY_KEYS: usize = 32;

static NAV_ITEMS: &[(&str, &str)] = &[
    ("Frameworks", "/ui/frameworks"),
    ("Agents", "/ui/agents"),
    ("Roles", "/ui/roles"),
    ("Offers", "/ui/offers"),
    ("Maintenance", "/ui/maintenance"),
];

fn nav() -> Nav {
    Nav {
        product: "Mesos",
        home: "/",
        items: NAV_ITEMS,
        assets: "/ui/assets",
        footer: format!("Mesos {} (Rust)", mesos_types::MESOS_VERSION),
        hash_routes: Some(PREFIX),
    }
}

/// Whether `route` (after libprocess-style normalisation) is the UI's.
pub fn owns(route: &str) -> bool {
    route == "/" || route == PREFIX || route.starts_with("/ui/")
}

/// What a page handler produces.
pub(crate) enum Outcome {
    Page {
        title: String,
        active: Option<&'static str>,
        body: Html,
        live: bool,
    },
    NotFound(String),
    /// A URL the UI will not take (too long, too many query keys).
    BadRequest(String),
    /// The agent (or file) behind a sandbox page could not be read.
    BadGateway(String),
    Raw(Response),
}

impl Outcome {
    fn page(title: impl Into<String>, active: Option<&'static str>, body: Html) -> Outcome {
        Outcome::Page {
            title: title.into(),
            active,
            body,
            live: true,
        }
    }
}

/// A request's query and path, as the pages need them.
pub(crate) struct Request {
    pub path: String,
    pub params: BTreeMap<String, String>,
}

/// Serves a UI route (GET and HEAD only).
pub async fn serve(
    shared: Arc<Shared>,
    method: &Method,
    route: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut r = (
            StatusCode::METHOD_NOT_ALLOWED,
            axum::Json(serde_json::json!({
                "message": format!("Expecting 'GET', received '{method}'")
            })),
        )
            .into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let fragment = headers.contains_key(FRAGMENT_HEADER);
    let site = Site::of(&shared);
    // Every link of a table carries the page's query: keep it small.
    let query = uri.query().unwrap_or("");
    if query.len() > MAX_QUERY_BYTES || query.split('&').count() > MAX_QUERY_KEYS {
        let msg = format!(
            "The URL's query is longer than {MAX_QUERY_BYTES} bytes or has more than {MAX_QUERY_KEYS} keys."
        );
        return render(&site, Outcome::BadRequest(msg), fragment);
    }
    let req = Request {
        path: uri.path().to_string(),
        params: webui::parse_query(uri.query()),
    };
    let segments: Vec<String> = match route
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(webui::path_decode)
        .collect::<Option<Vec<_>>>()
    {
        Some(s) => s,
        None => {
            return render(&site, Outcome::NotFound("Bad URL".into()), fragment);
        }
    };
    let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
    let outcome = match seg.as_slice() {
        ["ui"] => return redirect("/"),
        ["ui", "assets", name] => return asset(name),
        ["ui", "version"] => return version(&shared),
        // Old links of the Mesos UI.
        ["ui", "slaves", rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(|s| url_encode(s)).collect();
            let q = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
            return redirect(&format!("/ui/agents/{}{q}", rest.join("/")));
        }
        ["ui", "agents", id, "browse"] => sandbox::browse(&shared, id, &req).await,
        ["ui", "agents", id, "file"] => sandbox::view(&shared, Some(id), &req).await,
        ["ui", "agents", id, "read"] => sandbox::read(&shared, Some(id), &req).await,
        ["ui", "agents", id, "download"] => sandbox::download(&shared, id, &req).await,
        ["ui", "log"] => sandbox::view(&shared, None, &req).await,
        ["ui", "log", "read"] => sandbox::read(&shared, None, &req).await,
        _ => shared.read(|m| book_page(m, &site, &seg, &req)),
    };
    let mut r = render(&site, outcome, fragment);
    if method == Method::HEAD {
        *r.body_mut() = Body::empty();
    }
    r
}

/// What pages show of the master besides its book.
pub struct Site {
    /// `--cluster`.
    pub cluster: Option<String>,
    /// Whether the master writes a log file (`--log_dir`).
    pub has_log: bool,
}

impl Site {
    fn of(shared: &Shared) -> Site {
        Site {
            cluster: shared.flags.cluster.clone(),
            has_log: shared.log_file.is_some(),
        }
    }
}

/// The pages made from the book alone (built under one hold of its lock).
fn book_page(m: &Master, site: &Site, seg: &[&str], req: &Request) -> Outcome {
    match seg {
        [] => home::page(m, site, req),
        ["ui", "frameworks"] => frameworks::list(m, req),
        ["ui", "frameworks", id] => frameworks::detail(m, id, req),
        ["ui", "agents"] => agents::list(m, req),
        ["ui", "agents", id] => agents::detail(m, id, req),
        ["ui", "tasks", fid, tid] => tasks::detail(m, fid, tid),
        ["ui", "roles"] => cluster::roles(m, req),
        ["ui", "offers"] => cluster::offers(m, req),
        ["ui", "maintenance"] => cluster::maintenance(m, req),
        _ => Outcome::NotFound(format!("There is no page at '{}'.", req.path)),
    }
}

/// A page made from the book, whole, with its status: what `serve`
/// answers for `path?query` (benchmarks and tests call it directly).
pub fn render_page(m: &Master, site: &Site, path: &str, query: Option<&str>) -> (u16, String) {
    let req = Request {
        path: path.to_string(),
        params: webui::parse_query(query),
    };
    let route = crate::http::route_of(path);
    let seg: Vec<&str> = route.split('/').filter(|s| !s.is_empty()).collect();
    let (status, body) = html(site, book_page(m, site, &seg, &req), false);
    (status.as_u16(), body)
}

/// The friendly page for an unknown URL that a browser asked for.
pub fn not_found_page(shared: &Shared, path: &str) -> Response {
    render(
        &Site::of(shared),
        Outcome::NotFound(format!("There is no page at '{path}'.")),
        false,
    )
}

/// Whether a request comes from a browser wanting a page (an unknown
/// path then gets the friendly 404 page instead of JSON).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// A page's status and HTML (a response that is not a page gives its
/// status and no HTML; `render` sends those as they are).
fn html(site: &Site, outcome: Outcome, fragment: bool) -> (StatusCode, String) {
    let error = |status: StatusCode, heading: &str, msg: &str| {
        if status.is_server_error() {
            tracing::warn!("web UI: {msg}");
        } else {
            tracing::info!("web UI: {heading}: {msg}");
        }
        let body = webui::layout::error_body(heading, msg, "/");
        (status, heading.to_string(), None, body, false)
    };
    let (status, title, active, body, live) = match outcome {
        Outcome::Raw(r) => return (r.status(), String::new()),
        Outcome::Page {
            title,
            active,
            body,
            live,
        } => (StatusCode::OK, title, active, body, live),
        Outcome::NotFound(msg) => error(StatusCode::NOT_FOUND, "Not found", &msg),
        Outcome::BadRequest(msg) => error(StatusCode::BAD_REQUEST, "Bad request", &msg),
        Outcome::BadGateway(msg) => error(StatusCode::BAD_GATEWAY, "Unavailable", &msg),
    };
    let nav = nav();
    let page = Page {
        nav: &nav,
        title,
        active,
        badge: Some(site.cluster.clone().unwrap_or_else(|| "(Unnamed)".into())),
        body,
        live: live.then(|| "/ui/version".to_string()),
    };
    (status, page.render(fragment))
}

fn render(site: &Site, outcome: Outcome, fragment: bool) -> Response {
    let outcome = match outcome {
        Outcome::Raw(r) => return r,
        page => page,
    };
    let (status, text) = html(site, outcome, fragment);
    let mut r = Response::new(Body::from(text));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

fn asset(name: &str) -> Response {
    match webui::assets::get(name) {
        Some((mime, body)) => (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, webui::assets::CACHE_CONTROL),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}

/// `/ui/version`: `{"generation":N}`, which open pages poll (no lock).
fn version(shared: &Shared) -> Response {
    (
        [
            (header::CONTENT_TYPE, webui::live::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        shared.changes.body(),
    )
        .into_response()
}

/// A digest of what the pages show, computed after every write of the
/// book (so O(frameworks), not O(tasks) or O(agents)): task changes (the
/// frameworks' task stamps), new ids (frameworks, agents, offers), counts
/// of agents, offers, marks, and the agent and framework counters. A
/// change it misses (an agent disconnecting, say) shows with the next one
/// it sees or on reload.
pub fn fingerprint(m: &Master) -> u64 {
    let c = &m.counters;
    let mut f = Fingerprint::default()
        .with(m.ids.issued())
        .with(m.frameworks.len() as u64)
        .with(m.completed_frameworks.len() as u64)
        .with(m.agents.len() as u64)
        .with(m.offers.len() as u64)
        .with(m.unreachable_agents.len() as u64)
        .with(m.gone_agents.len() as u64)
        .with(m.agent_states.len() as u64)
        .with(m.quotas.len() as u64)
        .with(m.maintenance.record.schedule.windows.len() as u64)
        .with(m.maintenance.record.down.len() as u64)
        .with(c.agent_registrations)
        .with(c.agent_reregistrations)
        .with(c.agent_removals)
        .with(c.valid_status_updates);
    for fw in m.frameworks.values() {
        f = f
            .with(fw.tasks.stamp())
            .with(fw.completed_tasks.stamp())
            .with(u64::from(fw.subscription.is_some()));
    }
    f.value()
}

// Links, so every page writes them the same way.

pub(crate) fn framework_href(id: &str) -> String {
    format!("/ui/frameworks/{}", url_encode(id))
}

pub(crate) fn agent_href(id: &str) -> String {
    format!("/ui/agents/{}", url_encode(id))
}

pub(crate) fn task_href(fid: &str, tid: &str) -> String {
    format!("/ui/tasks/{}/{}", url_encode(fid), url_encode(tid))
}

pub(crate) fn browse_href(agent: &str, path: &str) -> String {
    format!(
        "/ui/agents/{}/browse?path={}",
        url_encode(agent),
        url_encode(path)
    )
}

pub(crate) fn file_href(agent: &str, path: &str) -> String {
    format!(
        "/ui/agents/{}/file?path={}",
        url_encode(agent),
        url_encode(path)
    )
}

/// An id shown in a table: linked, with the whole id as its title (long
/// ids are cut by the stylesheet).
pub(crate) fn id_link(href: &str, id: &str) -> Html {
    Html::trusted(format!(
        "<a href=\"{}\" title=\"{}\">{}</a>",
        webui::escape(href),
        webui::escape(id),
        webui::escape(id)
    ))
}

/// A task state, coloured by the stylesheet.
pub(crate) fn state_html(state: &str) -> Html {
    Html::span(&format!("state-{state}"), state)
}

/// The four scalars the UI shows, in order.
pub(crate) const KINDS: [&str; 4] = ["cpus", "gpus", "mem", "disk"];

/// A scalar as the UI writes it: mem and disk as sizes.
pub(crate) fn amount(kind: &str, v: f64) -> String {
    match kind {
        "mem" | "disk" => webui::format::megabytes(v),
        _ => webui::format::number(v),
    }
}

/// The cluster's resources by kind ([`KINDS`]): total (of registered
/// agents), allocated (held by tasks and executors: what the allocator
/// has neither free nor offered) and offered. O(agents + offers), in
/// scalars, without building `Resources` (this runs for every home page).
pub(crate) struct ClusterScalars {
    pub total: [f64; 4],
    pub allocated: [f64; 4],
    pub offered: [f64; 4],
}

/// Adds `r`'s cpus, gpus, mem and disk to `into`, in one pass over it
/// (these sums run over every task for some pages).
pub(crate) fn add_scalars(into: &mut [f64; 4], r: &mesos_types::Resources) {
    for res in r.iter() {
        if let (Some(i), Some(s)) = (KINDS.iter().position(|k| *k == res.name), &res.scalar) {
            into[i] += s.value;
        }
    }
}

pub(crate) fn cluster_scalars(m: &Master) -> ClusterScalars {
    let mut total = [0.0; 4];
    let mut free = [0.0; 4];
    let mut offered = [0.0; 4];
    for a in m.agents.values() {
        add_scalars(&mut total, &a.total);
        match m.allocator.free(&a.id) {
            Some(f) => add_scalars(&mut free, f),
            // Not known to the allocator (yet): nothing of it is held.
            None => add_scalars(&mut free, &a.total),
        }
    }
    for o in m.offers.values() {
        add_scalars(&mut offered, &o.resources);
    }
    let allocated = std::array::from_fn(|i| (total[i] - free[i] - offered[i]).max(0.0));
    ClusterScalars {
        total,
        allocated,
        offered,
    }
}

/// The cluster's totals, for max share.
pub(crate) fn cluster_totals(m: &Master) -> [f64; 4] {
    let mut total = [0.0; 4];
    for a in m.agents.values() {
        add_scalars(&mut total, &a.total);
    }
    total
}
