//! The master's web UI in headless Chromium (the `webui` harness), on a
//! real `mesos-local` cluster with running, finished and failed tasks:
//! every page loads without script errors and shows what `/master/state`
//! says; a user clicks from the home page to a task, its sandbox and its
//! stdout, whose live tail shows a line printed after the page opened;
//! sorting and filtering work, with and without JavaScript; open pages
//! update by themselves; values are text, never markup. Screenshots go to
//! `target/screenshots/` (and to `docs/screenshots/` with
//! `MESOS_UI_SCREENSHOTS=docs/screenshots`).

use mesos_system_tests::*;
use mesos_types::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;
use webui::harness::Browser;

const WAIT: Duration = Duration::from_secs(20);

/// A command task identified `id`, named `name`.
fn task(name: &str, id: &str, agent: &AgentID, command: &str) -> TaskInfo {
    let mut t = command_task(id, agent, command);
    t.name = name.into();
    t
}

fn screenshot_dir() -> PathBuf {
    match std::env::var_os("MESOS_UI_SCREENSHOTS") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                // Relative to the repository root.
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../..")
                    .join(d)
            }
        }
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"),
    }
}

async fn json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// The sandbox directory of `task` on `agent` (from the agent's state).
async fn sandbox_of(agent: &str, task: &str) -> PathBuf {
    let state = json(&format!("http://{agent}/slave(1)/state")).await;
    for f in state["frameworks"].as_array().into_iter().flatten() {
        for e in f["executors"].as_array().into_iter().flatten() {
            if e["id"] == task {
                return PathBuf::from(e["directory"].as_str().unwrap());
            }
        }
    }
    panic!("no executor for {task} on {agent}");
}

/// Every task id `/master/state` lists (live and completed).
async fn state_task_ids(master: &str) -> Vec<String> {
    let state = json(&format!("http://{master}/master/state")).await;
    let mut ids = Vec::new();
    for f in state["frameworks"].as_array().into_iter().flatten() {
        for key in ["tasks", "completed_tasks", "unreachable_tasks"] {
            for t in f[key].as_array().into_iter().flatten() {
                ids.push(t["id"].as_str().unwrap().to_string());
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_walks_the_master_ui_in_a_browser() {
    let cluster = LocalCluster::start(1, &[]);
    let master = cluster.master.clone();
    let agent = cluster.agents[0].clone();
    let base = format!("http://{master}");

    let info = FrameworkInfo {
        user: "root".into(),
        name: "ui-walk".into(),
        ..Default::default()
    };
    let mut fw = Fw::new(mesos_scheduler::subscribe(&master, info).await.unwrap());
    let offer = fw.offer().await;
    let aid = offer.agent_id.clone();
    let xss = "<script>window.__owned=1</script><img src=x onerror=\"window.__owned=1\">";
    let tasks = vec![
        task("hello", "hello", &aid, "echo Hello from the sandbox"),
        task("broken", "broken", &aid, "echo about to fail >&2; exit 3"),
        task(
            "ticker",
            "ticker",
            &aid,
            "echo first line; while [ ! -e go ]; do sleep 0.1; done; echo LATE-LINE; sleep 1000",
        ),
        task(xss, "xss", &aid, "sleep 1000"),
    ];
    fw.sub
        .caller
        .launch(vec![offer.id], tasks, None)
        .await
        .unwrap();
    for (id, state) in [
        ("hello", TaskState::TASK_FINISHED),
        ("broken", TaskState::TASK_FAILED),
        ("ticker", TaskState::TASK_RUNNING),
        ("xss", TaskState::TASK_RUNNING),
    ] {
        // Updates of the four tasks arrive in any order: look among those
        // already recorded first.
        while !fw
            .updates
            .iter()
            .any(|s| s.task_id.value == id && s.state == state)
        {
            fw.next().await;
        }
    }

    let shots = screenshot_dir();
    let b = Browser::start().await.expect("headless Chromium starts");

    // Home: every task /master/state knows is listed, counters agree.
    b.goto(&format!("{base}/")).await.unwrap();
    b.wait_for_js(
        "document.querySelector('#table-completed') && document.querySelector('#table-completed').innerText.includes('broken')",
        WAIT,
    )
    .await
    .unwrap();
    let text = b.text("main").await.unwrap();
    for id in state_task_ids(&master).await {
        assert!(text.contains(&id), "home page lacks task {id}");
    }
    assert!(
        text.contains("TASK_FAILED")
            && text.contains("TASK_FINISHED")
            && text.contains("TASK_RUNNING")
    );
    // The task named with markup shows as text and ran no script.
    assert!(text.contains(xss), "the markup name is not shown as text");
    assert_eq!(
        b.exec("return window.__owned === undefined").await.unwrap(),
        Value::Bool(true)
    );
    b.assert_no_errors().await;
    b.screenshot(&shots.join("home.png")).await.unwrap();

    // Sorting the completed tasks by id, both ways.
    let ids = "return Array.from(document.querySelectorAll('#table-completed tbody tr td:nth-child(2)')).map(td => td.innerText)";
    b.click("#table-completed thead th:nth-child(2) a")
        .await
        .unwrap();
    b.wait_for_js("location.search.includes('completed.sort=1')", WAIT)
        .await
        .unwrap();
    b.wait_for_js(
        "(() => { const v = Array.from(document.querySelectorAll('#table-completed tbody tr td:nth-child(2)')).map(td => td.innerText); return v.length == 2 && v[0] == 'broken'; })()",
        WAIT,
    )
    .await
    .unwrap();
    b.click("#table-completed thead th:nth-child(2) a")
        .await
        .unwrap();
    b.wait_for_js("location.search.includes('completed.order=desc') && location.search.includes('completed.sort=1')", WAIT)
        .await
        .unwrap();
    b.wait_for_js(
        "(() => { const v = Array.from(document.querySelectorAll('#table-completed tbody tr td:nth-child(2)')).map(td => td.innerText); return v[0] == 'hello'; })()",
        WAIT,
    )
    .await
    .unwrap();
    let _ = b.exec(ids).await.unwrap();

    // Filtering in place: no reload (the marker survives), URL updated.
    b.exec("window.__marker = 42; return true").await.unwrap();
    b.type_into("#table-active input[type=search]", "tick")
        .await
        .unwrap();
    b.wait_for_js(
        "document.querySelectorAll('#table-active tbody tr').length == 1 && document.querySelector('#table-active tbody').innerText.includes('ticker')",
        WAIT,
    )
    .await
    .unwrap();
    b.wait_for_js("location.search.includes('active.q=tick')", WAIT)
        .await
        .unwrap();
    assert_eq!(
        b.exec("return window.__marker").await.unwrap(),
        Value::from(42)
    );

    // Live: a task launched now appears in the open page without a reload.
    b.goto(&format!("{base}/")).await.unwrap();
    b.exec("window.__marker = 7; return true").await.unwrap();
    let offer = fw.offer().await;
    fw.launch_running(
        offer.id,
        task("late-comer", "late-comer", &aid, "sleep 1000"),
    )
    .await;
    b.wait_for_js(
        "document.querySelector('#table-active').innerText.includes('late-comer')",
        WAIT,
    )
    .await
    .unwrap();
    assert_eq!(
        b.exec("return window.__marker").await.unwrap(),
        Value::from(7)
    );
    b.assert_no_errors().await;

    // Click through: task -> sandbox -> stdout, then the live tail.
    b.click("#table-active a[href$='/ticker']").await.unwrap();
    b.wait_for_js("location.pathname.endsWith('/ticker')", WAIT)
        .await
        .unwrap();
    let page = b.text("main").await.unwrap();
    assert!(page.contains("TASK_RUNNING") && page.contains("Statuses"));
    b.assert_no_errors().await;
    b.screenshot(&shots.join("task.png")).await.unwrap();
    b.click("a[href*='/browse?path=']").await.unwrap();
    b.wait_for_js("document.querySelector('#table-files') && document.querySelector('#table-files').innerText.includes('stdout')", WAIT)
        .await
        .unwrap();
    b.assert_no_errors().await;
    b.click("#table-files a[href*='/file?path='][href$='stdout']")
        .await
        .unwrap();
    b.wait_for_js("document.querySelector('#file') && document.querySelector('#file').innerText.includes('first line')", WAIT)
        .await
        .unwrap();
    std::fs::write(sandbox_of(&agent, "ticker").await.join("go"), b"").unwrap();
    b.wait_for_js(
        "document.querySelector('#file').innerText.includes('LATE-LINE')",
        WAIT,
    )
    .await
    .unwrap();
    b.assert_no_errors().await;
    b.screenshot(&shots.join("sandbox.png")).await.unwrap();

    // Every other page loads cleanly and shows the book.
    let fid = fw.sub.caller.framework_id.value.clone();
    for (path, want, shot) in [
        (
            "/ui/frameworks".to_string(),
            "ui-walk",
            Some("frameworks.png"),
        ),
        (format!("/ui/frameworks/{fid}"), "late-comer", None),
        ("/ui/agents".into(), aid.value.as_str(), Some("agents.png")),
        (format!("/ui/agents/{}", aid.value), "Reservations", None),
        ("/ui/roles".into(), "Roles", None),
        ("/ui/offers".into(), "Outstanding Offers", None),
        ("/ui/maintenance".into(), "Maintenance Schedule", None),
        (format!("/#/agents/{}", aid.value), "Reservations", None),
    ] {
        b.goto(&format!("{base}{path}")).await.unwrap();
        let w = serde_json::to_string(want).unwrap();
        b.wait_for_js(&format!("document.querySelector('main') && document.querySelector('main').innerText.includes({w})"), WAIT)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        b.assert_no_errors().await;
        if let Some(name) = shot {
            b.screenshot(&shots.join(name)).await.unwrap();
        }
    }

    // A bad URL is a page, not a stack trace.
    b.goto(&format!("{base}/ui/agents/no-such-agent"))
        .await
        .unwrap();
    assert!(
        b.text("main")
            .await
            .unwrap()
            .contains("No agent 'no-such-agent'")
    );
    b.quit().await.unwrap();

    // Without JavaScript, the same tables are links and forms.
    let nojs = Browser::start_without_javascript().await.unwrap();
    nojs.goto(&format!("{base}/")).await.unwrap();
    nojs.click("#table-completed thead th:nth-child(2) a")
        .await
        .unwrap();
    assert!(
        nojs.current_url()
            .await
            .unwrap()
            .contains("completed.sort=1")
    );
    nojs.type_into("#table-completed input[type=search]", "hello")
        .await
        .unwrap();
    nojs.click("#table-completed form button").await.unwrap();
    let rows = nojs.texts("#table-completed tbody tr").await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("hello"));
    nojs.quit().await.unwrap();
}
