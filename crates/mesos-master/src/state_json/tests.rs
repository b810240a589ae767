use super::direct;
use crate::event_queue::event_queue;
use crate::master::{Master, MasterConfig, TaskEntry, agents_registration};
use mesos_types::agent_protocol::AgentTask;
use mesos_types::scheduler::Subscribe;
use mesos_types::*;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

fn status(id: &TaskID, state: TaskState, at: f64) -> TaskStatus {
    let mut s = TaskStatus::new(id.clone(), state);
    s.timestamp = Some(at);
    s
}

/// A book with something of everything the views show: agents (reserved
/// resources, attributes, one disconnected, recovered and unreachable ids),
/// frameworks subscribed and recovered (single- and multi-role, labels,
/// executors, offers), running, terminal-unacknowledged and completed
/// tasks (statuses, labels, ids that need escaping), a completed framework.
fn book() -> Master {
    let info = MasterInfo {
        id: "test-master".into(),
        port: 5050,
        pid: Some("master@127.0.0.1:5050".into()),
        hostname: Some("m".into()),
        ..Default::default()
    };
    let mut m = Master::new(info, MasterConfig::default(), 1000.0);
    for (i, name) in ["web", "batch"].into_iter().enumerate() {
        let mut fi = FrameworkInfo {
            user: "u".into(),
            name: name.into(),
            principal: (i == 0).then(|| "p".into()),
            labels: Some(json!({"labels": [{"key": "k", "value": name}]})),
            ..Default::default()
        };
        if i == 0 {
            fi.capabilities =
                serde_json::from_value(json!([{"type": "MULTI_ROLE"}])).expect("capabilities");
            fi.roles = vec!["*".into(), "web".into()];
        }
        let (tx, rx) = event_queue(1 << 16);
        std::mem::forget(rx);
        m.subscribe(
            Subscribe {
                framework_info: fi,
                suppressed_roles: vec![],
            },
            None,
            tx,
            1001.0 + i as f64,
        )
        .expect("subscribed");
    }
    let mut fids: Vec<FrameworkID> = m.frameworks.keys().cloned().collect();
    fids.sort();
    fids.push(FrameworkID::new("recovered-fw"));
    let res = Resources::parse("cpus:0.1;mem:32;ports:[31000-31001]", "*")
        .expect("resources")
        .allocated_to("*");
    let attributes: Vec<Attribute> = serde_json::from_value(json!([
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "zone", "type": "SCALAR", "scalar": {"value": 2.0}}
    ]))
    .expect("attributes");
    for a in 0..6 {
        let aid = AgentID::new(format!("agent-{a}"));
        let tasks: Vec<AgentTask> = (0..5)
            .map(|t| {
                let id = if t == 4 {
                    format!("task \"{a}\"\\{t}\u{1}é")
                } else {
                    format!("task-{a}-{t}")
                };
                AgentTask {
                    framework_id: fids[(a + t) % fids.len()].clone(),
                    task: TaskInfo {
                        name: format!("n{t}"),
                        task_id: TaskID::new(id),
                        agent_id: aid.clone(),
                        resources: res.clone().into_vec(),
                        labels: (t == 1).then(|| json!({"labels": [{"key": "a", "value": "b"}]})),
                        ..Default::default()
                    },
                    state: if t == 3 {
                        TaskState::TASK_FINISHED
                    } else {
                        TaskState::TASK_RUNNING
                    },
                    status_update_state: None,
                }
            })
            .collect();
        let agent_info = AgentInfo {
            hostname: format!("host-{a}"),
            port: 5051,
            resources: Resources::parse(
                "cpus:4;mem:4096;disk:1000;ports:[31000-32000];cpus(web):2;mem(web):512",
                "*",
            )
            .expect("agent resources")
            .to_wire(true),
            attributes: attributes.clone(),
            id: Some(aid.clone()),
            ..Default::default()
        };
        let (tx, rx) = event_queue(1 << 16);
        std::mem::forget(rx);
        m.admit_agent(
            aid,
            agents_registration(
                agent_info,
                "127.0.0.1".into(),
                "1.11.0".into(),
                tasks,
                vec![],
                a % 2 == 0,
            ),
            tx,
            1010.0 + a as f64,
        );
    }
    m.allocate(1020.0);
    // Statuses, completed tasks and an executor.
    for (n, fid) in fids.iter().enumerate() {
        let f = m.frameworks.get_mut(fid).expect("framework");
        for (k, t) in f.tasks.values_mut().enumerate() {
            t.statuses
                .push(status(&t.info.task_id, t.state, 1030.0 + (k % 3) as f64));
            t.changed();
        }
        for c in 0..4 {
            let id = TaskID::new(format!("done-{n}-{c}"));
            let mut t = TaskEntry::new(
                TaskInfo {
                    name: "done".into(),
                    task_id: id.clone(),
                    ..Default::default()
                },
                fid.clone(),
                AgentID::new("agent-0"),
                TaskState::TASK_FAILED,
                "*".into(),
                res.clone(),
                Some("u".into()),
            );
            t.statuses
                .push(status(&id, TaskState::TASK_RUNNING, 1040.0 + c as f64));
            t.statuses.push(status(&id, TaskState::TASK_FAILED, 1041.0));
            t.resources_released = true;
            f.push_completed(t, 100);
        }
        f.executors
            .entry(AgentID::new("agent-1"))
            .or_default()
            .insert(
                ExecutorID::new(format!("exec-{n}")),
                (
                    ExecutorInfo {
                        executor_id: ExecutorID::new(format!("exec-{n}")),
                        name: Some("e".into()),
                        ..Default::default()
                    },
                    Resources::parse("cpus:0.5;mem:64", "*").expect("executor resources"),
                    "*".into(),
                ),
            );
    }
    // A framework that ended, a disconnected agent, agents known by id.
    let done = m.frameworks.remove(&fids[1]).expect("framework");
    m.completed_frameworks.push_back(done);
    if let Some(a) = m.agents.get_mut(&AgentID::new("agent-5")) {
        a.subscription = None;
    }
    m.recovering_agents.insert(AgentID::new("agent-9"));
    m.unreachable_agents.insert(AgentID::new("agent-8"), 1000.5);
    m
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).expect("utf-8")
}

#[test]
fn the_book_has_what_the_comparison_needs() {
    let m = book();
    let state: serde_json::Value =
        serde_json::from_slice(&super::state(&m, &BTreeMap::new(), None)).expect("state is JSON");
    assert_eq!(state["slaves"].as_array().map(Vec::len), Some(6));
    assert_eq!(state["frameworks"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        state["completed_frameworks"].as_array().map(Vec::len),
        Some(1)
    );
    let fws = state["frameworks"].as_array().expect("frameworks");
    assert!(
        fws.iter()
            .any(|f| !f["offers"].as_array().expect("offers").is_empty())
    );
    assert!(
        fws.iter()
            .any(|f| !f["executors"].as_array().expect("executors").is_empty())
    );
    assert!(
        fws.iter()
            .all(|f| f["tasks"].as_array().expect("tasks").len() > 1)
    );
    assert_eq!(state["recovered_slaves"][0]["id"], "agent-9");
    assert_eq!(state["deactivated_slaves"], 1);
}

/// Each view from a snapshot is byte for byte the direct rendering, with
/// the task cache empty, full, and after some tasks changed.
/// A partition-aware framework's task whose agent is unreachable is listed
/// in `unreachable_tasks`, not `tasks`, as in Mesos; `/tasks` still has it.
#[test]
fn unreachable_tasks_are_listed_apart() {
    let mut m = book();
    let fid = m.frameworks.keys().next().expect("framework").clone();
    let f = m.frameworks.get_mut(&fid).expect("framework");
    let t = f.tasks.values_mut().next().expect("a task");
    t.state = TaskState::TASK_UNREACHABLE;
    t.changed();
    let id = t.info.task_id.value.clone();
    let flags = BTreeMap::new();
    for round in 0..2 {
        let v: Json = serde_json::from_slice(&super::state(&m, &flags, None)).expect("json");
        let fw = (v["frameworks"].as_array().expect("frameworks"))
            .iter()
            .find(|f| f["id"] == fid.value.as_str())
            .expect("the framework");
        let ids = |k: &str| -> Vec<String> {
            (fw[k].as_array().expect(k).iter())
                .map(|t| t["id"].as_str().unwrap_or("").to_string())
                .collect()
        };
        assert_eq!(
            ids("unreachable_tasks"),
            std::slice::from_ref(&id),
            "round {round}"
        );
        assert!(!ids("tasks").contains(&id), "round {round}");
        assert_eq!(ids("tasks").len(), m.frameworks[&fid].tasks.len() - 1);
    }
    let q: BTreeMap<String, String> = [("task_id".to_string(), id.clone())].into();
    let tasks: Json = serde_json::from_slice(&super::tasks(&m, &q).expect("tasks")).expect("json");
    assert_eq!(tasks["tasks"][0]["state"], "TASK_UNREACHABLE");
}

#[test]
fn snapshots_render_exactly_what_direct_rendering_did() {
    let mut m = book();
    let mut flags = BTreeMap::new();
    flags.insert("allocation_interval".to_string(), "1secs".to_string());
    flags.insert("log_dir".to_string(), "/var/log/mesos".to_string());
    let v: Json = serde_json::from_slice(&super::state(&m, &flags, None)).expect("json");
    assert_eq!(
        v["log_dir"], "/var/log/mesos",
        "where /master/log comes from"
    );
    let fid = m.frameworks.keys().next().expect("framework").value.clone();
    let done = m.completed_frameworks[0].id.value.clone();
    let queries: Vec<BTreeMap<String, String>> = [
        vec![],
        vec![("order", "asc")],
        vec![("limit", "3"), ("offset", "2")],
        vec![("framework_id", fid.as_str())],
        vec![("framework_id", done.as_str()), ("order", "asc")],
        vec![("task_id", "task-1-1")],
    ]
    .into_iter()
    .map(|q| q.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    .collect();
    for round in 0..4 {
        if round == 3 {
            // Offers of one agent declined: its offered and free resources
            // change, nothing else about it does.
            let aid = AgentID::new("agent-0");
            let offers: Vec<_> = m.agents[&aid].offers.iter().cloned().collect();
            assert!(!offers.is_empty(), "agent-0 has offers to decline");
            for oid in offers {
                let fid = m.offers[&oid].framework_id.clone();
                m.decline(&fid, &[oid], None, 2002.0);
            }
        }
        if round == 2 {
            // A re-registration changes what the agent's cached JSON shows.
            let aid = AgentID::new("agent-3");
            let mut info = m.agents[&aid].info.clone();
            info.hostname = "ignored".into();
            let (tx, rx) = event_queue(1 << 16);
            std::mem::forget(rx);
            m.admit_agent(
                aid,
                agents_registration(
                    info,
                    "10.0.0.3".into(),
                    "1.12.0".into(),
                    vec![],
                    vec![],
                    true,
                ),
                tx,
                2001.0,
            );
            for f in m.frameworks.values_mut() {
                for t in f.tasks.values_mut().take(2) {
                    t.statuses
                        .push(status(&t.info.task_id, TaskState::TASK_KILLED, 2000.0));
                    t.state = TaskState::TASK_KILLED;
                    t.resources_released = true;
                    t.changed();
                }
                // And one task moves to the completed ones (both cached
                // arrays of the framework change).
                let first = f.tasks.keys().min().cloned();
                if let Some(t) = first.and_then(|id| f.tasks.remove(&id)) {
                    f.push_completed(t, 3);
                }
            }
        }
        assert_eq!(
            text(super::state(&m, &flags, Some("c"))),
            text(direct::state(&m, &flags, Some("c"), true)),
            "state, round {round}"
        );
        assert_eq!(
            text(super::state(&m, &flags, None)),
            text(direct::state(&m, &flags, None, true))
        );
        for only in [None, Some(fid.as_str()), Some(done.as_str()), Some("none")] {
            assert_eq!(
                text(super::frameworks(&m, only)),
                text(direct::frameworks(&m, only, true)),
                "frameworks {only:?}"
            );
        }
        for only in [None, Some("agent-2"), Some("none")] {
            assert_eq!(
                text(super::agents(&m, only)),
                text(direct::agents(&m, only)),
                "slaves {only:?}"
            );
        }
        for q in &queries {
            assert_eq!(
                super::tasks(&m, q).map(text),
                direct::tasks(&m, q, true).map(text),
                "tasks {q:?}"
            );
        }
    }
    let bad: BTreeMap<String, String> = [("order".to_string(), "up".to_string())].into();
    assert_eq!(super::tasks(&m, &bad), direct::tasks(&m, &bad, true));
}

#[test]
fn a_task_id_that_needs_escaping_is_its_sort_key() {
    let m = book();
    let t = m
        .frameworks
        .values()
        .flat_map(|f| f.tasks.values())
        .find(|t| t.info.task_id.value.contains('"'))
        .expect("an escaped id");
    assert_eq!(
        super::RenderedTask::of(t).id(),
        t.info.task_id.value.as_str()
    );
    let plain = m
        .frameworks
        .values()
        .flat_map(|f| f.tasks.values())
        .find(|t| t.info.task_id.value == "task-1-1")
        .expect("a plain id");
    assert_eq!(super::RenderedTask::of(plain).id(), "task-1-1");
}

/// The behaviour P11 needs: while `/master/state` is being written (held
/// here after its snapshot, by a test hook), the book is free: a write to
/// it (what allocation and every scheduler call do) completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_book_is_not_locked_while_state_is_written() {
    let master = loopback_master().await;
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (resume_tx, resume_rx) = std::sync::mpsc::channel();
    *super::serve::hook::PAUSE
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((
        std::sync::Arc::as_ptr(&master.shared) as usize,
        started_tx,
        resume_rx,
    ));

    let url = format!("http://{}/master/state", master.addr);
    let get = tokio::spawn(async move {
        reqwest::get(&url)
            .await
            .expect("GET /master/state")
            .bytes()
            .await
            .expect("body")
    });
    // The rendering has its snapshot and is held before writing.
    let started = tokio::task::spawn_blocking(move || {
        started_rx.recv_timeout(std::time::Duration::from_secs(60))
    });
    started.await.expect("join").expect("the rendering started");

    // A write to the book completes meanwhile (a hang guard, not a timing:
    // with the lock held by the rendering it would never complete).
    let shared = master.shared.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runs = shared.write(|m, now| {
            m.allocate(now);
            m.counters.allocation_runs
        });
        let _ = done_tx.send(runs);
    });
    let runs = tokio::task::spawn_blocking(move || {
        done_rx.recv_timeout(std::time::Duration::from_secs(60))
    })
    .await
    .expect("join")
    .expect("the book was free while state was being written");
    assert!(runs >= 1);
    assert!(!get.is_finished(), "the rendering was still held");

    resume_tx.send(()).expect("resume");
    let body = get.await.expect("GET finished");
    let state: serde_json::Value = serde_json::from_slice(&body).expect("state is JSON");
    assert_eq!(state["leader"], state["pid"]);
    master.stop().await;
}

/// Concurrent `/master/state` requests are all answered, each with a
/// complete document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_state_requests_are_all_answered() {
    let master = loopback_master().await;
    let url = format!("http://{}/master/state?jsonp=cb", master.addr);
    let gets: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                reqwest::get(&url)
                    .await
                    .expect("GET")
                    .text()
                    .await
                    .expect("body")
            })
        })
        .collect();
    for g in gets {
        let body = g.await.expect("join");
        let inner = body
            .strip_prefix("cb(")
            .and_then(|b| b.strip_suffix(");"))
            .expect("JSONP");
        let state: serde_json::Value = serde_json::from_str(inner).expect("JSON");
        assert_eq!(state["activated_slaves"], 0);
    }
    master.stop().await;
}

/// Many concurrent `/frameworks`, `/slaves` and `/tasks` requests share two
/// rendering slots; every one is still answered, whole (a slot that leaked
/// would leave the rest waiting for ever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_listing_requests_share_the_rendering_slots() {
    let master = loopback_master().await;
    let client = reqwest::Client::new();
    let gets: Vec<_> = (0..60)
        .map(|i| {
            let path = ["frameworks", "slaves", "tasks"][i % 3];
            let url = format!("http://{}/master/{path}", master.addr);
            let client = client.clone();
            tokio::spawn(async move {
                let r = client.get(&url).send().await.expect("GET");
                assert_eq!(r.status(), 200);
                let v: serde_json::Value = r.json().await.expect("JSON");
                (path, v)
            })
        })
        .collect();
    for g in gets {
        let (path, v) = tokio::time::timeout(std::time::Duration::from_secs(30), g)
            .await
            .expect("answered")
            .expect("join");
        let key = if path == "slaves" { "slaves" } else { path };
        assert!(v[key].is_array(), "{path}: {v}");
    }
    master.stop().await;
}

/// A master on a free loopback port with an in-memory registry.
async fn loopback_master() -> crate::MasterHandle {
    let flags = <crate::MasterFlags as clap::Parser>::parse_from([
        "mesos-master",
        "--port=0",
        "--ip=127.0.0.1",
        "--registry=in_memory",
    ]);
    crate::start(flags, Default::default())
        .await
        .expect("master starts")
}

/// Counts of `items` (tasks' JSON) by `key(item)` and state.
fn count_by<'a>(
    items: impl Iterator<Item = &'a serde_json::Value>,
    key: impl Fn(&serde_json::Value) -> String,
) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for t in items {
        let state = t["state"].as_str().expect("state").to_string();
        *out.entry((key(t), state)).or_default() += 1;
    }
    out
}

/// `/state-summary` counts each task of the registered frameworks once,
/// by agent and by framework, as state shows them; its agents are state's
/// agent objects; its frameworks' usage is state's.
#[test]
fn the_summary_counts_what_state_shows() {
    let m = book();
    let state: serde_json::Value =
        serde_json::from_slice(&super::state(&m, &BTreeMap::new(), None)).expect("state");
    let summary: serde_json::Value =
        serde_json::from_slice(&super::SummarySnapshot::take(&m).write(Some("c"))).expect("JSON");
    assert_eq!(summary["cluster"], "c");
    assert_eq!(summary["hostname"], "m");
    let frameworks = state["frameworks"].as_array().expect("frameworks");
    let tasks = || {
        frameworks.iter().flat_map(|f| {
            (f["tasks"].as_array().into_iter().flatten())
                .chain(f["completed_tasks"].as_array().into_iter().flatten())
        })
    };
    let by_agent = count_by(tasks(), |t| t["slave_id"].as_str().unwrap_or("").into());
    let by_framework = count_by(tasks(), |t| t["framework_id"].as_str().unwrap_or("").into());
    let states = [
        "TASK_STAGING",
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_KILLING",
        "TASK_FINISHED",
        "TASK_KILLED",
        "TASK_FAILED",
        "TASK_LOST",
        "TASK_ERROR",
        "TASK_UNREACHABLE",
    ];
    let expect = |counts: &BTreeMap<(String, String), u64>, id: &str, s: &str| {
        counts
            .get(&(id.to_string(), s.to_string()))
            .copied()
            .unwrap_or(0)
    };
    let mut counted = 0;
    let agents = summary["slaves"].as_array().expect("slaves");
    assert_eq!(agents.len(), 6);
    for a in agents {
        let id = a["id"].as_str().expect("id");
        for s in states {
            assert_eq!(a[s], expect(&by_agent, id, s), "agent {id} {s}");
            counted += a[s].as_u64().expect("count");
        }
        let mut plain = a.clone();
        let o = plain.as_object_mut().expect("object");
        let fids = o.remove("framework_ids").expect("framework_ids");
        for s in states {
            o.remove(s);
        }
        let shown = (state["slaves"].as_array().expect("slaves").iter())
            .find(|x| x["id"] == id)
            .expect("in state");
        assert_eq!(&plain, shown, "agent {id}");
        let mut want: Vec<&str> = frameworks
            .iter()
            .filter(|f| {
                tasks()
                    .filter(|t| t["framework_id"] == f["id"])
                    .any(|t| t["slave_id"] == id)
                    || (f["executors"].as_array().into_iter().flatten())
                        .any(|e| e["slave_id"] == id)
            })
            .filter_map(|f| f["id"].as_str())
            .collect();
        want.sort();
        assert_eq!(fids, serde_json::json!(want), "agent {id}");
    }
    assert_eq!(counted as usize, tasks().count());
    assert!(
        ["TASK_RUNNING", "TASK_FINISHED", "TASK_FAILED"]
            .iter()
            .all(|s| by_agent.keys().any(|(_, x)| x == s)),
        "the book has running, finished and failed tasks"
    );
    let summarized = summary["frameworks"].as_array().expect("frameworks");
    assert_eq!(summarized.len(), frameworks.len());
    for f in summarized {
        let id = f["id"].as_str().expect("id");
        for s in states {
            assert_eq!(f[s], expect(&by_framework, id, s), "framework {id} {s}");
        }
        let shown = frameworks.iter().find(|x| x["id"] == id).expect("in state");
        for k in [
            "name",
            "used_resources",
            "offered_resources",
            "capabilities",
            "active",
            "connected",
            "recovered",
        ] {
            assert_eq!(f[k], shown[k], "framework {id} {k}");
        }
        assert!(!f["slave_ids"].as_array().expect("slave_ids").is_empty());
        assert!(f.get("tasks").is_none());
    }
}

/// `/roles` sums per role what state shows per framework, and shows the
/// agents' reservations under their role.
#[test]
fn roles_sum_what_state_shows() {
    let mut m = book();
    m.config.weights.insert("web".into(), 3.0);
    let state: serde_json::Value =
        serde_json::from_slice(&super::state(&m, &BTreeMap::new(), None)).expect("state");
    let roles: serde_json::Value =
        serde_json::from_slice(&super::RolesSnapshot::take(&m).write()).expect("JSON");
    let roles = roles["roles"].as_array().expect("roles");
    let names: Vec<&str> = roles.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["*", "web"]);
    let sum = |items: &[serde_json::Value], k: &str, r: &str| -> f64 {
        items.iter().filter_map(|x| x[k][r].as_f64()).sum()
    };
    let frameworks = state["frameworks"].as_array().expect("frameworks");
    for r in ["cpus", "mem"] {
        let allocated = sum(roles, "allocated", r);
        assert!(allocated > 0.0);
        assert!((allocated - sum(frameworks, "used_resources", r)).abs() < 1e-9);
        let offered = sum(roles, "offered", r);
        assert!((offered - sum(frameworks, "offered_resources", r)).abs() < 1e-9);
    }
    let web = &roles[1];
    assert_eq!(web["weight"], 3.0);
    // Each of the 6 agents reserves cpus(web):2;mem(web):512.
    assert_eq!(web["reserved"]["cpus"], 12.0);
    assert_eq!(web["reserved"]["mem"], 3072.0);
    assert_eq!(roles[0]["reserved"]["cpus"], 0.0);
    let web_fws: Vec<&serde_json::Value> = frameworks
        .iter()
        .filter(|f| (f["roles"].as_array().into_iter().flatten()).any(|r| r == "web"))
        .map(|f| &f["id"])
        .collect();
    assert_eq!(web["frameworks"], serde_json::json!(web_fws));
    assert_eq!(web["quota"]["role"], "web");
    assert_eq!(web["quota"]["guarantee"], serde_json::json!({}));
}
