//! The toolkit in a real browser: a small demo app built only from the
//! crate's pieces (page layout, a 300-row table, the change feed, the
//! embedded assets, a tailed buffer, the error page), driven through the
//! harness as a user would, with and without JavaScript.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use webui::harness::{Browser, processes_naming};
use webui::layout::{FRAGMENT_HEADER, Nav, Page, error_body};
use webui::live::ChangeFeed;
use webui::table::{Column, Table, TableQuery, contains, page_of};
use webui::{Html, parse_query};

/// How long anything the page does may take on a loaded machine.
const WAIT: Duration = Duration::from_secs(15);
const XSS: &str = "<script>window.__xss = 1</script>";

const COLUMNS: [Column; 4] = [
    Column::sortable("ID"),
    Column::sortable("Name"),
    Column::sortable("Size"),
    Column::plain("Note"),
];

#[derive(Clone)]
struct Row {
    id: u32,
    name: String,
    size: u64,
    note: String,
}

struct App {
    nav: Nav,
    rows: Mutex<Vec<Row>>,
    feed: ChangeFeed,
    /// The tailed "file".
    log: Mutex<String>,
}

impl App {
    fn new(assets: &'static str) -> Arc<App> {
        let rows = (1..=300u32)
            .map(|id| Row {
                id,
                name: format!("{}-{id:03}", ["web", "db", "cache"][id as usize % 3]),
                size: u64::from(id) * 7919 % 1000,
                note: if id == 7 { XSS.into() } else { "ok".into() },
            })
            .collect();
        Arc::new(App {
            nav: Nav {
                product: "Demo",
                home: "/ui/tasks",
                items: &[("Tasks", "/ui/tasks")],
                assets,
                footer: "demo footer".into(),
                hash_routes: None,
            },
            rows: Mutex::new(rows),
            feed: ChangeFeed::default(),
            log: Mutex::new("first line\n".into()),
        })
    }

    /// A change on the server: the data, then the feed.
    fn rename(&self, id: u32, name: &str) {
        let mut rows = self.rows.lock().unwrap();
        if let Some(r) = rows.iter_mut().find(|r| r.id == id) {
            r.name = name.into();
        }
        drop(rows);
        self.feed.bump();
    }
}

fn is_fragment(headers: &HeaderMap) -> bool {
    headers.contains_key(FRAGMENT_HEADER)
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn tasks(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response {
    let params = parse_query(uri.query());
    let q = TableQuery::parse("t", &params, &COLUMNS, (0, false));
    let rows = app.rows.lock().unwrap().clone();
    let paged = page_of(
        rows,
        &q,
        |r, f| contains(&r.name, f) || contains(&r.note, f),
        |a, b, col| {
            match col {
                1 => a.name.cmp(&b.name),
                2 => a.size.cmp(&b.size),
                _ => std::cmp::Ordering::Equal,
            }
            .then(a.id.cmp(&b.id))
        },
    );
    let cells = paged
        .rows
        .iter()
        .map(|r| {
            vec![
                Html::text(&r.id.to_string()),
                Html::text(&r.name),
                Html::text(&r.size.to_string()),
                Html::text(&r.note),
            ]
        })
        .collect();
    let table = Table {
        id: "t",
        caption: "Tasks",
        columns: &COLUMNS,
        rows: cells,
        query: &q,
        matching: paged.matching,
        total: paged.total,
        page: paged.page,
        path: "/ui/tasks",
        params: &params,
        empty: "No task matches",
    };
    let mut body = Html::trusted("<h1>Tasks</h1>");
    body.push(&table.render());
    body.push(&Html::trusted(
        "<h2>Log</h2><pre id=\"log\" data-tail=\"/ui/log\" data-offset=\"0\"></pre>",
    ));
    let page = Page {
        nav: &app.nav,
        title: "Tasks".into(),
        active: Some("Tasks"),
        badge: Some("demo-cluster".into()),
        body,
        live: Some("/ui/version".into()),
    };
    html(StatusCode::OK, page.render(is_fragment(&headers)))
}

async fn version(State(app): State<Arc<App>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, webui::live::CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        app.feed.body(),
    )
        .into_response()
}

/// `{offset, data, next}` for `?offset=&length=` over the growing log.
async fn log(State(app): State<Arc<App>>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let log = app.log.lock().unwrap().clone();
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<usize>().ok());
    let mut start = num("offset").unwrap_or(0).min(log.len());
    while !log.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = start
        .saturating_add(num("length").unwrap_or(65536))
        .min(log.len());
    while !log.is_char_boundary(end) {
        end -= 1;
    }
    axum::Json(serde_json::json!({
        "offset": start,
        "data": &log[start..end],
        "next": end,
    }))
    .into_response()
}

async fn asset(Path(name): Path<String>) -> Response {
    match webui::assets::get(&name) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, webui::assets::CACHE_CONTROL),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn not_found(State(app): State<Arc<App>>, uri: Uri, headers: HeaderMap) -> Response {
    let page = Page {
        nav: &app.nav,
        title: "Not found".into(),
        active: None,
        badge: None,
        body: error_body(
            "Not found",
            &format!("There is no page at {}.", uri.path()),
            app.nav.home,
        ),
        live: None,
    };
    html(StatusCode::NOT_FOUND, page.render(is_fragment(&headers)))
}

/// A page that throws, on a server whose assets are not where the page
/// looks for them: what the harness must catch.
async fn broken(State(app): State<Arc<App>>) -> Response {
    let page = Page {
        nav: &app.nav,
        title: "Broken".into(),
        active: None,
        badge: None,
        body: Html::trusted("<h1>Broken</h1><script>window.noSuchFunction();</script>"),
        live: None,
    };
    html(StatusCode::OK, page.render(false))
}

/// Serves the demo app; returns its base URL.
async fn serve(app: Arc<App>) -> String {
    let router = Router::new()
        .route("/ui/tasks", get(tasks))
        .route("/ui/version", get(version))
        .route("/ui/log", get(log))
        .route("/ui/assets/{name}", get(asset))
        .route("/ui/broken", get(broken))
        .fallback(not_found)
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn demo() -> (Arc<App>, String) {
    let app = App::new("/ui/assets");
    let base = serve(app.clone()).await;
    (app, base)
}

/// The first column of every row shown.
async fn ids(b: &Browser) -> Vec<u32> {
    b.texts("#table-t tbody tr td:first-child")
        .await
        .unwrap()
        .iter()
        .map(|s| s.parse().unwrap_or_else(|_| panic!("not an id: {s:?}")))
        .collect()
}

async fn column(b: &Browser, n: usize) -> Vec<String> {
    b.texts(&format!("#table-t tbody tr td:nth-child({n})"))
        .await
        .unwrap()
}

/// Waits until the table says it is ordered by column `n` (1-based).
async fn sorted_by(b: &Browser, n: usize, order: &str) {
    let th = format!("#table-t thead th:nth-child({n})");
    b.wait_until(&format!("{th} to be {order}"), WAIT, async |b| {
        Ok(b.attr(&th, "aria-sort").await?.as_deref() == Some(order))
    })
    .await
    .unwrap();
}

/// Marks the document: the mark survives in-place updates, not loads.
async fn mark(b: &Browser) {
    b.exec("window.__marker = 1;").await.unwrap();
}

async fn marked(b: &Browser) -> bool {
    b.exec("return window.__marker === 1;").await.unwrap() == serde_json::Value::Bool(true)
}

fn sorted(mut v: Vec<String>, desc: bool) -> Vec<String> {
    v.sort();
    if desc {
        v.reverse();
    }
    v
}

#[tokio::test]
async fn sorting_by_a_header_reorders_rows_in_place() {
    let (_app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/tasks")).await.unwrap();
    assert_eq!(ids(&b).await, (1..=50).collect::<Vec<_>>());
    assert_eq!(b.text(".ui-range").await.unwrap(), "1–50 of 300");
    mark(&b).await;

    b.click("#table-t thead th:nth-child(2) a").await.unwrap();
    sorted_by(&b, 2, "ascending").await;
    let names = column(&b, 2).await;
    assert_eq!(names.len(), 50);
    assert_eq!(names[0], "cache-002");
    assert_eq!(names, sorted(names.clone(), false));
    // The arrow a user sees (the header is upper-cased by the stylesheet).
    assert_eq!(
        b.text("#table-t thead th:nth-child(2)").await.unwrap(),
        "NAME ▲"
    );

    b.click("#table-t thead th:nth-child(2) a").await.unwrap();
    sorted_by(&b, 2, "descending").await;
    let names = column(&b, 2).await;
    assert_eq!(names[0], "web-300");
    assert_eq!(names, sorted(names.clone(), true));
    assert!(marked(&b).await, "sorting reloaded the page");
    let url = b.current_url().await.unwrap();
    assert!(
        url.contains("t.sort=1") && url.contains("t.order=desc"),
        "{url}"
    );
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn typing_a_filter_narrows_rows_without_a_reload() {
    let (_app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/tasks")).await.unwrap();
    mark(&b).await;
    b.type_into("#table-t input[type=search]", "WEB-1")
        .await
        .unwrap();
    // web-102 .. web-198: 33 rows.
    b.wait_for_text("#table-t .ui-count", "33 of 300", WAIT)
        .await
        .unwrap();
    let names = column(&b, 2).await;
    assert_eq!(names.len(), 33);
    assert!(names.iter().all(|n| n.starts_with("web-1")), "{names:?}");
    assert!(marked(&b).await, "filtering reloaded the page");
    // What the user typed is still there, as typed, and still focused.
    let field = b
        .exec("var f = document.activeElement; return [f.name, f.value];")
        .await
        .unwrap();
    assert_eq!(field, serde_json::json!(["t.q", "WEB-1"]));
    b.wait_until("the filter in the URL", WAIT, async |b| {
        Ok(b.current_url().await?.contains("t.q=WEB-1"))
    })
    .await
    .unwrap();

    // Clearing it shows every row again.
    b.clear("#table-t input[type=search]").await.unwrap();
    b.type_into("#table-t input[type=search]", "zzz")
        .await
        .unwrap();
    b.wait_for_text("#table-t tbody tr.ui-empty", "No task matches", WAIT)
        .await
        .unwrap();
    assert!(marked(&b).await);
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn the_pager_shows_the_next_rows_and_a_url_reloads_to_the_same_table() {
    let (_app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/tasks")).await.unwrap();
    mark(&b).await;
    b.click(".ui-pager a[rel=next]").await.unwrap();
    b.wait_for_text(".ui-range", "51–100 of 300", WAIT)
        .await
        .unwrap();
    assert_eq!(ids(&b).await, (51..=100).collect::<Vec<_>>());
    assert!(marked(&b).await, "paging reloaded the page");
    assert!(b.current_url().await.unwrap().contains("t.page=2"));
    // Back and forward go between the pages, in place too.
    b.back().await.unwrap();
    b.wait_for_text(".ui-range", "1–50 of 300", WAIT)
        .await
        .unwrap();
    assert_eq!(ids(&b).await, (1..=50).collect::<Vec<_>>());
    b.forward().await.unwrap();
    b.wait_for_text(".ui-range", "51–100 of 300", WAIT)
        .await
        .unwrap();
    assert!(marked(&b).await, "the history reloaded the page");

    // Sort by size descending, filter, go to page 2: all in place...
    b.click("#table-t thead th:nth-child(3) a").await.unwrap();
    sorted_by(&b, 3, "ascending").await;
    b.click("#table-t thead th:nth-child(3) a").await.unwrap();
    sorted_by(&b, 3, "descending").await;
    b.type_into("#table-t input[type=search]", "e")
        .await
        .unwrap();
    // "e": web-* and cache-* (200 rows).
    b.wait_for_text("#table-t .ui-count", "200 of 300", WAIT)
        .await
        .unwrap();
    b.click(".ui-pager a[rel=next]").await.unwrap();
    b.wait_for_text(".ui-range", "51–100 of 200 of 300", WAIT)
        .await
        .unwrap();
    assert!(marked(&b).await);
    b.assert_no_errors().await;
    let table = b.text("#table-t").await.unwrap();
    let url = b.current_url().await.unwrap();

    // ...and loading that URL afresh shows the same table.
    b.goto(&url).await.unwrap();
    assert!(!marked(&b).await, "not a fresh load");
    assert_eq!(b.text("#table-t").await.unwrap(), table);
    assert_eq!(
        b.exec("return document.querySelector('#table-t input[type=search]').value;")
            .await
            .unwrap(),
        "e"
    );
    // So does a reload.
    b.reload().await.unwrap();
    assert_eq!(b.text("#table-t").await.unwrap(), table);
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn without_javascript_links_and_the_form_do_the_same() {
    let (_app, base) = demo().await;
    let b = Browser::start_without_javascript().await.unwrap();
    b.goto(&format!("{base}/ui/tasks")).await.unwrap();
    // No page script ran (the harness checks it too).
    assert_eq!(
        b.exec("return typeof window.__uiErrors;").await.unwrap(),
        "undefined"
    );
    b.assert_no_errors().await;
    mark(&b).await;

    b.click("#table-t thead th:nth-child(2) a").await.unwrap();
    sorted_by(&b, 2, "ascending").await;
    assert!(!marked(&b).await, "expected a page load");
    assert_eq!(column(&b, 2).await[0], "cache-002");
    b.click("#table-t thead th:nth-child(2) a").await.unwrap();
    sorted_by(&b, 2, "descending").await;
    let names = column(&b, 2).await;
    assert_eq!(names[0], "web-300");
    assert_eq!(names, sorted(names.clone(), true));
    b.assert_no_errors().await;

    b.type_into("#table-t input[type=search]", "web")
        .await
        .unwrap();
    b.click("#table-t .ui-filter button").await.unwrap();
    b.wait_for_text("#table-t .ui-count", "100 of 300", WAIT)
        .await
        .unwrap();
    let url = b.current_url().await.unwrap();
    // The form keeps the sort and drops the page.
    assert!(
        url.contains("t.q=web") && url.contains("t.sort=1") && url.contains("t.order=desc"),
        "{url}"
    );
    let names = column(&b, 2).await;
    assert_eq!(names[0], "web-300");
    assert!(names.iter().all(|n| n.starts_with("web-")));
    b.assert_no_errors().await;

    b.click(".ui-pager a[rel=next]").await.unwrap();
    b.wait_for_text(".ui-range", "51–100 of 100 of 300", WAIT)
        .await
        .unwrap();
    assert_eq!(column(&b, 2).await[0], "web-150");
    // The live dot stays hidden: nothing updates this page by itself.
    assert_eq!(b.text("#ui-live").await.unwrap(), "");
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn a_change_on_the_server_shows_in_the_open_page() {
    let (app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/tasks")).await.unwrap();
    b.wait_for_text("#ui-live", "live", WAIT).await.unwrap();
    mark(&b).await;
    app.rename(2, "renamed-on-the-server");
    b.wait_for_text(
        "#table-t tbody tr:nth-child(2) td:nth-child(2)",
        "renamed-on-the-server",
        WAIT,
    )
    .await
    .unwrap();
    assert!(marked(&b).await, "the update reloaded the page");
    // Twice: the feed keeps going.
    app.rename(3, "renamed-again");
    b.wait_for_text(
        "#table-t tbody tr:nth-child(3) td:nth-child(2)",
        "renamed-again",
        WAIT,
    )
    .await
    .unwrap();
    assert!(marked(&b).await);
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn the_tail_follows_a_growing_buffer() {
    let (app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/tasks")).await.unwrap();
    b.wait_for_text("#log", "first line", WAIT).await.unwrap();
    app.log
        .lock()
        .unwrap()
        .push_str("appended <b>after</b> the page opened\n");
    b.wait_for_text(
        "#log",
        "first line\nappended <b>after</b> the page opened",
        WAIT,
    )
    .await
    .unwrap();
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn markup_in_values_is_shown_as_text() {
    let (_app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/tasks?t.q=script"))
        .await
        .unwrap();
    assert_eq!(b.count("#table-t tbody tr").await.unwrap(), 1);
    assert_eq!(
        b.text("#table-t tbody tr td:nth-child(4)").await.unwrap(),
        XSS
    );
    assert_eq!(b.count("#table-t td script").await.unwrap(), 0);
    assert_eq!(
        b.exec("return typeof window.__xss;").await.unwrap(),
        "undefined"
    );
    // The filter box shows the filter, as text too.
    mark(&b).await;
    b.clear("#table-t input[type=search]").await.unwrap();
    b.type_into("#table-t input[type=search]", "<script>")
        .await
        .unwrap();
    b.wait_for_text("#table-t .ui-count", "1 of 300", WAIT)
        .await
        .unwrap();
    assert!(marked(&b).await);
    assert_eq!(
        b.exec("return typeof window.__xss;").await.unwrap(),
        "undefined"
    );
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn an_unknown_page_is_a_friendly_404() {
    let (_app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/no/such/page")).await.unwrap();
    assert_eq!(b.text("#ui-main h1").await.unwrap(), "Not found");
    assert_eq!(
        b.text("#ui-main p").await.unwrap(),
        "There is no page at /ui/no/such/page."
    );
    // Still the UI's frame, with a way back.
    assert_eq!(b.text(".ui-brand").await.unwrap(), "Demo");
    b.assert_no_errors().await;
    b.click("#ui-main a").await.unwrap();
    b.wait_for_text("#ui-main h1", "Tasks", WAIT).await.unwrap();
    assert!(b.current_url().await.unwrap().ends_with("/ui/tasks"));
    b.assert_no_errors().await;
    b.quit().await.unwrap();
}

#[tokio::test]
async fn the_harness_reports_broken_pages() {
    // Assets where the pages do not look for them.
    let app = App::new("/ui/missing");
    let base = serve(app).await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/broken")).await.unwrap();
    let errors = b.errors().await.unwrap();
    assert!(
        errors.iter().any(|e| e.contains("__uiErrors is missing")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/ui/missing/ui.css") && e.contains("404")),
        "{errors:?}"
    );
    let panic = tokio::spawn(async move { b.assert_no_errors().await })
        .await
        .unwrap_err();
    assert!(panic.is_panic());

    // With the script in place, a script error is reported.
    let (_app, base) = demo().await;
    let b = Browser::start().await.unwrap();
    b.goto(&format!("{base}/ui/broken")).await.unwrap();
    let errors = b.errors().await.unwrap();
    assert!(
        errors.iter().any(|e| e.contains("noSuchFunction")),
        "{errors:?}"
    );
    let timeout = b
        .wait_for_js("document.title === 'never'", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(timeout.to_string().contains("document.title"), "{timeout}");
    let missing = b.text("#nothing-here").await.unwrap_err();
    assert!(missing.to_string().contains("#nothing-here"), "{missing}");
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("nested/dir/shot.png");
    b.screenshot(&shot).await.unwrap();
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    b.quit().await.unwrap();
}

/// Every process descended from `root` (from /proc), with its group.
fn descendants(root: u32) -> Vec<(u32, u32)> {
    let mut procs = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.first() == Some(&"Z") {
            continue;
        }
        let ppid = f[1].parse::<u32>().unwrap_or(0);
        let pgrp = f[2].parse::<u32>().unwrap_or(0);
        procs.push((pid, ppid, pgrp));
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid, pgrp) in &procs {
            if ppid == p {
                out.push((pid, pgrp));
                frontier.push(pid);
            }
        }
    }
    out
}

/// The processes of a browser: its group's and any naming its directory.
fn processes(b: &Browser) -> Vec<u32> {
    let mut pids: Vec<u32> = descendants(b.process_group())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for p in processes_naming(b.temp_dir()) {
        let p = p as u32;
        if !pids.contains(&p) {
            pids.push(p);
        }
    }
    pids
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

/// Waits (with a deadline) until none of `pids` runs any more.
async fn all_gone(pids: &[u32]) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn no_process_outlives_its_browser() {
    // Quit.
    let b = Browser::start().await.unwrap();
    let group = b.process_group();
    let in_group = descendants(group);
    assert!(
        in_group.len() >= 3,
        "chromedriver and Chromium: {in_group:?}"
    );
    assert!(in_group.iter().all(|&(_, g)| g == group), "{in_group:?}");
    let pids = processes(&b);
    b.quit().await.unwrap();
    all_gone(&pids).await;

    // A test that panics.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let b = Browser::start().await.unwrap();
        tx.send(processes(&b)).unwrap();
        panic!("a failing test");
    });
    assert!(task.await.unwrap_err().is_panic());
    let pids = rx.await.unwrap();
    assert!(pids.len() >= 3, "{pids:?}");
    all_gone(&pids).await;
}
