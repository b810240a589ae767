//! P11 (master side): `/master/state` for 10k agents with 100k running and
//! 100k completed tasks. The book is built through its own methods (agents
//! re-registering with their tasks), no HTTP.
//!
//! * `direct`: the reference, how the endpoint rendered before snapshots,
//!   all of it while the book was locked (tasks' cached JSON copied);
//! * `snapshot`: what the endpoint does while the book is locked, nothing
//!   changed since the last rendering (a poller's steady state: every
//!   framework's task arrays are cached);
//! * `snapshot_1k_tasks_changed`: the same after 1,000 tasks changed,
//!   spread over all ten frameworks (their JSON is rendered again under
//!   the lock, and each framework's tasks are taken one by one);
//! * `write`: what it does after the lock is released, nothing changed;
//! * `render`: both, as one call;
//! * `render_1k_tasks_changed`: both, after 1,000 tasks changed over all
//!   ten frameworks (every framework's live-task array is written again:
//!   the worst case for a change of that size);
//! * `snapshot_agents`, `snapshot_frameworks`: the parts of `snapshot`;
//! * `operator_get_state_take`, `operator_get_state`: the v1 operator
//!   API's GET_STATE, the copy under the lock and the whole answer;
//! * `summary_take`, `summary`: `/master/state-summary`, the copy under
//!   the lock and the whole answer.
//! * `ui_*` (last; every task is first given its own status times, as
//!   the pages order by them): web UI pages, whole (built under the lock, as served): the
//!   home page (three task tables over 200k tasks, counters, resources),
//!   the Agents page (10k agents), a framework's page (20k tasks), and
//!   the home page filtered and the Agents page sorted by another column.
//!
//! mimalloc, as in the master's binary.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mesos_master::master::{Master, MasterConfig, TaskEntry, agents_registration};
use mesos_master::operator::{Parts, StateView};
use mesos_master::state_json::{
    AgentsSnapshot, FrameworksSnapshot, StateSnapshot, SummarySnapshot,
};
use mesos_types::agent_protocol::AgentTask;
use mesos_types::*;
use std::time::Duration;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn book(agents: usize, tasks_per_agent: usize, completed_per_agent: usize) -> Master {
    let info = MasterInfo {
        id: "bench".into(),
        ip: 0,
        port: 5050,
        pid: Some("master@127.0.0.1:5050".into()),
        hostname: Some("m".into()),
        ..Default::default()
    };
    let mut m = Master::new(
        info,
        MasterConfig {
            max_completed_tasks_per_framework: usize::MAX,
            ..Default::default()
        },
        0.0,
    );
    let res = Resources::parse("cpus:0.1;mem:32", "*")
        .unwrap()
        .allocated_to("*");
    let frameworks: Vec<FrameworkID> = (0..10)
        .map(|i| FrameworkID::new(format!("bench-{i:04}")))
        .collect();
    for a in 0..agents {
        let tasks: Vec<AgentTask> = (0..tasks_per_agent)
            .map(|t| AgentTask {
                framework_id: frameworks[(a + t) % frameworks.len()].clone(),
                task: TaskInfo {
                    name: format!("task-{a}-{t}"),
                    task_id: TaskID::new(format!("task-{a}-{t}")),
                    agent_id: AgentID::new(format!("bench-S{a}")),
                    resources: res.clone().into_vec(),
                    command: Some(CommandInfo {
                        value: Some("sleep 1000".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                state: TaskState::TASK_RUNNING,
                status_update_state: None,
            })
            .collect();
        let agent_info = AgentInfo {
            hostname: format!("host-{a}"),
            port: 5051,
            resources: Resources::parse("cpus:8;mem:32768;disk:100000;ports:[31000-32000]", "*")
                .unwrap()
                .to_wire(true),
            id: Some(AgentID::new(format!("bench-S{a}"))),
            ..Default::default()
        };
        let (tx, rx) = mesos_master::event_queue::event_queue(16);
        std::mem::forget(rx);
        m.admit_agent(
            AgentID::new(format!("bench-S{a}")),
            agents_registration(
                agent_info,
                "127.0.0.1".into(),
                "1.11.0".into(),
                tasks,
                vec![],
                true,
            ),
            tx,
            0.0,
        );
    }
    // After every agent: an admission looks for its tasks among the
    // completed ones, which would make building quadratic.
    for a in 0..agents {
        for c in 0..completed_per_agent {
            let fid = &frameworks[(a + c) % frameworks.len()];
            let mut t = TaskEntry::new(
                TaskInfo {
                    name: format!("done-{a}-{c}"),
                    task_id: TaskID::new(format!("done-{a}-{c}")),
                    ..Default::default()
                },
                fid.clone(),
                AgentID::new(format!("bench-S{a}")),
                TaskState::TASK_FINISHED,
                "*".into(),
                res.clone(),
                None,
            );
            t.resources_released = true;
            if let Some(f) = m.frameworks.get_mut(fid) {
                f.completed_tasks.push_capped(t, usize::MAX);
            }
        }
    }
    m
}

fn p11(c: &mut Criterion) {
    let mut g = c.benchmark_group("p11_state");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let mut m = book(10_000, 10, 10);
    let flags = Default::default();
    const SHAPE: &str = "10k_agents_100k_running_100k_completed";
    g.bench_function(format!("direct_{SHAPE}"), |b| {
        b.iter(|| mesos_master::state_json::direct::state(&m, &flags, None, false).len())
    });
    g.bench_function(format!("render_{SHAPE}"), |b| {
        b.iter(|| StateSnapshot::take(&m).write(&flags, None).chunks().len())
    });
    g.bench_function(format!("snapshot_{SHAPE}"), |b| {
        b.iter_with_large_drop(|| StateSnapshot::take(&m))
    });
    g.bench_function(format!("write_{SHAPE}"), |b| {
        b.iter_batched(
            || StateSnapshot::take(&m),
            |s| s.write(&flags, None).chunks().len(),
            BatchSize::LargeInput,
        )
    });
    // The operator API's GET_STATE: the copy under the lock (task views
    // shared once copied), then the v1 JSON written off it.
    g.bench_function(format!("operator_get_state_take_{SHAPE}"), |b| {
        b.iter_with_large_drop(|| StateView::take(&m, Parts::ALL))
    });
    g.bench_function(format!("operator_get_state_{SHAPE}"), |b| {
        b.iter(|| {
            let v = StateView::take(&m, Parts::ALL);
            serde_json::to_vec(&v.state_body())
                .map(|b| b.len())
                .unwrap_or(0)
        })
    });
    g.bench_function(format!("summary_take_{SHAPE}"), |b| {
        b.iter_with_large_drop(|| SummarySnapshot::take(&m))
    });
    g.bench_function(format!("summary_{SHAPE}"), |b| {
        b.iter(|| SummarySnapshot::take(&m).write(None).len())
    });
    g.bench_function(format!("snapshot_agents_{SHAPE}"), |b| {
        b.iter_with_large_drop(|| AgentsSnapshot::take(&m, None))
    });
    g.bench_function(format!("snapshot_frameworks_{SHAPE}"), |b| {
        b.iter_with_large_drop(|| FrameworksSnapshot::take(&m, None))
    });
    let mut ids: Vec<_> = m
        .frameworks
        .values()
        .flat_map(|f| f.tasks.keys().map(|t| (f.id.clone(), t.clone())))
        .collect();
    ids.sort();
    // Touches `n` tasks, round robin over the sorted ids (so over every
    // framework), as status updates would.
    let mut next = 0;
    let mut change = move |m: &mut mesos_master::master::Master, n: usize| {
        for (fid, tid) in ids.iter().cycle().skip(next).take(n) {
            if let Some(t) = m.frameworks.get_mut(fid).and_then(|f| f.tasks.get_mut(tid)) {
                t.changed();
            }
        }
        next = (next + n) % ids.len();
    };
    g.bench_function(format!("snapshot_1k_tasks_changed_{SHAPE}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                change(&mut m, 1000);
                let start = std::time::Instant::now();
                let s = StateSnapshot::take(&m);
                spent += start.elapsed();
                drop(s);
            }
            spent
        })
    });
    g.bench_function(format!("render_1k_tasks_changed_{SHAPE}"), |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                change(&mut m, 1000);
                let start = std::time::Instant::now();
                let len = StateSnapshot::take(&m).write(&flags, None).len();
                spent += start.elapsed();
                std::hint::black_box(len);
            }
            spent
        })
    });
    // The UI pages order tasks by their status times: give every task
    // its own (the other benches above measure the book as built).
    let mut at = 1_700_000_000.0;
    for f in m.frameworks.values_mut() {
        for t in f.tasks.values_mut() {
            at += 0.001;
            let mut s = TaskStatus::new(t.info.task_id.clone(), t.state);
            s.timestamp = Some(at);
            t.statuses.push(s);
        }
        for t in f.completed_tasks.iter_mut() {
            at += 0.001;
            let mut s = TaskStatus::new(t.info.task_id.clone(), TaskState::TASK_RUNNING);
            s.timestamp = Some(at);
            t.statuses.push(s.clone());
            s.state = t.state;
            s.timestamp = Some(at + 60.0);
            t.statuses.push(s);
        }
    }
    let site = mesos_master::ui::Site {
        cluster: None,
        has_log: false,
    };
    for (name, path, query) in [
        ("ui_home", "/", None),
        (
            "ui_home_filtered",
            "/",
            Some("active.q=task-77&completed.q=done-9"),
        ),
        ("ui_agents", "/ui/agents", None),
        (
            "ui_agents_sorted_by_mem",
            "/ui/agents",
            Some("agents.sort=5&agents.order=desc"),
        ),
        ("ui_framework", "/ui/frameworks/bench-0003", None),
        ("ui_frameworks", "/ui/frameworks", None),
    ] {
        let (status, body) = mesos_master::ui::render_page(&m, &site, path, query);
        assert_eq!(status, 200, "{name}: {body}");
        g.bench_function(format!("{name}_{SHAPE}"), |b| {
            b.iter(|| {
                mesos_master::ui::render_page(&m, &site, path, query)
                    .1
                    .len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, p11);
criterion_main!(benches);
