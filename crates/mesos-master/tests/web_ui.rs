//! The web UI over HTTP (no browser): every page answers with what the
//! book holds, values are escaped, table state lives in the URL, bad URLs
//! and sandbox paths get the friendly 404 page, and open pages hear of
//! changes. The browser tests (mesos-system-tests) drive the same pages
//! in Chromium against real agents.

mod common;

use common::*;
use mesos_types::*;

async fn page(c: &Cluster, path: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .get(c.url(path))
        .header("Accept", "text/html")
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    if status == 200 {
        assert_eq!(
            r.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
    }
    (status, r.text().await.expect("body"))
}

async fn ok_page(c: &Cluster, path: &str) -> String {
    let (status, body) = page(c, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    assert!(body.starts_with("<!DOCTYPE html>"), "{path}");
    body
}

#[tokio::test]
async fn every_page_shows_what_the_book_holds() {
    let c = Cluster::start(&[]).await;
    let fid = c.fid().value;
    let aid = c.agent.id.value.clone();

    let home = ok_page(&c, "/").await;
    for want in [
        "Active Tasks",
        "Completed Tasks",
        "Unreachable Tasks",
        ">run<",
        ">fin<",
        ">fail<",
        "TASK_RUNNING",
        "TASK_FAILED",
        "TASK_FINISHED",
        &fid,
        &format!(
            "/ui/agents/{aid}/browse?path=%2Fframeworks%2F{fid}%2Fexecutors%2Frun%2Fruns%2Flatest"
        ),
    ] {
        assert!(home.contains(want), "home page lacks {want}");
    }
    // The same URL under /master works (libprocess delegation).
    assert!(ok_page(&c, "/master/").await.contains("Active Tasks"));

    let fws = ok_page(&c, "/ui/frameworks").await;
    assert!(fws.contains("Active Frameworks") && fws.contains(">legacy<"));
    let fw = ok_page(&c, &format!("/ui/frameworks/{fid}")).await;
    assert!(fw.contains(">run<") && fw.contains("TASK_FAILED") && fw.contains("Executors"));

    let agents = ok_page(&c, "/ui/agents").await;
    assert!(agents.contains(&aid) && agents.contains("Active"));
    let agent = ok_page(&c, &format!("/ui/agents/{aid}")).await;
    assert!(agent.contains("Reservations") && agent.contains(">run<") && agent.contains(&fid));

    let task = ok_page(&c, &format!("/ui/tasks/{fid}/fail")).await;
    assert!(task.contains("TASK_FAILED") && task.contains("Statuses"));
    assert!(task.contains("Browse the sandbox"));

    assert!(ok_page(&c, "/ui/roles").await.contains("Roles"));
    assert!(
        ok_page(&c, "/ui/offers")
            .await
            .contains("Outstanding Offers")
    );
    assert!(
        ok_page(&c, "/ui/maintenance")
            .await
            .contains("No maintenance is scheduled")
    );

    // HEAD answers without a body; other methods are refused.
    let r = reqwest::Client::new()
        .head(c.url("/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .post(c.url("/ui/agents"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn task_names_and_ids_are_rendered_as_text() {
    let mut c = Cluster::start(&[]).await;
    let o = next_event(&mut c.sub, mesos_types::scheduler::EventType::OFFERS)
        .await
        .offers
        .expect("offers")
        .offers
        .remove(0);
    let mut t = command_task("xss", &c.agent.id, "cpus:0.1;mem:8");
    t.name = "<script>alert('owned')</script>".into();
    c.sub
        .caller
        .launch(vec![o.id], vec![t], None)
        .await
        .expect("launched");
    c.end("xss", TaskState::TASK_RUNNING).await;
    let fid = c.fid().value;
    for path in [
        "/".to_string(),
        format!("/ui/tasks/{fid}/xss"),
        format!("/ui/frameworks/{fid}"),
    ] {
        let body = ok_page(&c, &path).await;
        assert!(
            body.contains("&#60;script&#62;alert(&#39;owned&#39;)&#60;/script&#62;"),
            "{path} does not show the name as text"
        );
        assert!(!body.contains("<script>alert"), "{path} carries the markup");
    }
}

#[tokio::test]
async fn bad_urls_get_the_friendly_404_page() {
    let c = Cluster::start(&[]).await;
    let fid = c.fid().value;
    let aid = c.agent.id.value.clone();
    for (path, says) in [
        (
            "/ui/agents/no-such-agent".to_string(),
            "No agent &#39;no-such-agent&#39;",
        ),
        ("/ui/frameworks/nope".into(), "No framework &#39;nope&#39;"),
        (format!("/ui/tasks/{fid}/nope"), "No task &#39;nope&#39;"),
        (
            "/ui/tasks/%3Cb%3E/x".into(),
            "No task &#39;x&#39; of framework &#39;&#60;b&#62;&#39;",
        ),
        ("/ui/no/such/page".into(), "There is no page"),
        ("/ui/assets/..%2F..%2FCargo.toml".into(), ""),
        // Not a UI route: a browser still gets a page.
        ("/no-such-endpoint".into(), "There is no page"),
        // Sandbox paths that are not plain absolute paths never reach
        // the agent.
        (
            format!("/ui/agents/{aid}/browse?path=/frameworks/../../etc"),
            "not a path in a sandbox",
        ),
        (
            format!("/ui/agents/{aid}/browse?path=etc/passwd"),
            "not a path in a sandbox",
        ),
        (
            format!("/ui/agents/{aid}/file?path=/a/./b"),
            "not a path in a sandbox",
        ),
        (
            format!("/ui/agents/{aid}/download?path=/../x"),
            "not a path in a sandbox",
        ),
        (
            "/ui/agents/nope/browse?path=/frameworks".into(),
            "No agent &#39;nope&#39;",
        ),
    ] {
        let (status, body) = page(&c, &path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
        if !says.is_empty() {
            assert!(body.contains("Back to the home page"), "{path}");
        }
    }
    // A client that does not ask for HTML gets Mesos's JSON error.
    let r = reqwest::get(c.url("/no-such-endpoint")).await.unwrap();
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["message"].as_str().unwrap().contains("No endpoint"));
    // The viewer's read endpoint answers JSON errors.
    let r = reqwest::get(c.url(&format!(
        "/ui/agents/{aid}/read?path=/../etc/passwd&offset=0"
    )))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("not a path in a sandbox")
    );
    // Without --log_dir there is no master log to view.
    let (status, body) = page(&c, "/ui/log").await;
    assert_eq!(status, 404);
    assert!(body.contains("--log_dir"));
    // Old Mesos UI links are sent to the new pages.
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(c.url(&format!("/ui/slaves/{aid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], format!("/ui/agents/{aid}"));
}

#[tokio::test]
async fn table_state_lives_in_the_url() {
    let c = Cluster::start(&[]).await;
    // Filtered: only the failed task is left among the completed ones.
    let body = ok_page(&c, "/?completed.q=FAIL").await;
    let completed = &body[body.find("Completed Tasks").unwrap()..];
    assert!(completed.contains(">fail<") && !completed.contains(">fin<"));
    assert!(completed.contains("1 of 2"));
    // The filter box shows the filter; other tables keep their rows.
    assert!(
        body.contains("value=\"FAIL\""),
        "the filter box shows the text as typed"
    );
    assert!(body[..body.find("Completed Tasks").unwrap()].contains(">run<"));
    // Sorted by task id both ways.
    let asc = ok_page(&c, "/?completed.sort=1&completed.order=asc").await;
    let desc = ok_page(&c, "/?completed.sort=1&completed.order=desc").await;
    let pos = |b: &str, id: &str| b.find(&format!(">{id}<")).unwrap();
    assert!(pos(&asc, "fail") < pos(&asc, "fin"));
    assert!(pos(&desc, "fin") < pos(&desc, "fail"));
    // Nonsense values fall back to the defaults.
    ok_page(
        &c,
        "/?completed.sort=99&completed.page=-3&active.page=99999999999999999999",
    )
    .await;
    // The script's in-place requests get the main area only.
    let r = reqwest::Client::new()
        .get(c.url("/?completed.q=fin"))
        .header("x-ui-fragment", "1")
        .send()
        .await
        .unwrap();
    let part = r.text().await.unwrap();
    assert!(
        !part.contains("<!DOCTYPE") && part.contains("Completed Tasks") && part.contains(">fin<")
    );
}

#[tokio::test]
async fn open_pages_hear_of_changes_and_assets_are_served() {
    let mut c = Cluster::start(&[]).await;
    let generation = |c: &Cluster| {
        let url = c.url("/ui/version");
        async move {
            let r = reqwest::get(url).await.unwrap();
            assert_eq!(r.headers()["content-type"], "application/json");
            let v: serde_json::Value = r.json().await.unwrap();
            v["generation"].as_u64().expect("a generation")
        }
    };
    // A write that changes nothing a page shows does not move it (the
    // allocator's ticks would otherwise refresh every open page).
    let before = c.m.shared.changes.generation();
    c.m.shared.write(|_, _| ());
    c.m.shared.write(|_, _| ());
    assert_eq!(c.m.shared.changes.generation(), before);
    // A task changes: the number moves.
    let g1 = generation(&c).await;
    c.end("run", TaskState::TASK_FINISHED).await;
    let g2 = generation(&c).await;
    assert!(g2 > g1, "{g1} -> {g2}");
    for (name, mime) in [("ui.css", "text/css"), ("ui.js", "text/javascript")] {
        let r = reqwest::get(c.url(&format!("/ui/assets/{name}")))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(mime)
        );
    }
}

#[tokio::test]
async fn oversized_urls_are_refused_and_ids_keep_their_plus_signs() {
    let mut c = Cluster::start(&[]).await;
    let junk: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
    let (status, body) = page(&c, &format!("/?{}", junk.join("&"))).await;
    assert_eq!(status, 400);
    assert!(body.contains("more than 32 keys"));
    let (status, _) = page(&c, &format!("/?active.q={}", "x".repeat(5000))).await;
    assert_eq!(status, 400);
    // A task id with a `+` is found through its link.
    let o = next_event(&mut c.sub, mesos_types::scheduler::EventType::OFFERS)
        .await
        .offers
        .expect("offers")
        .offers
        .remove(0);
    let t = command_task("a+b", &c.agent.id, "cpus:0.1;mem:8");
    c.sub
        .caller
        .launch(vec![o.id], vec![t], None)
        .await
        .expect("launched");
    c.end("a+b", TaskState::TASK_RUNNING).await;
    let home = ok_page(&c, "/").await;
    let fid = c.fid().value;
    let href = format!("/ui/tasks/{fid}/a%2Bb");
    assert!(home.contains(&href), "no link {href}");
    assert!(ok_page(&c, &href).await.contains("TASK_RUNNING"));
}
