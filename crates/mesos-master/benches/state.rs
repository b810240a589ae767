//! P11 (master side): time to render `/master/state` for 10k agents with
//! 100k running and 100k completed tasks. The book is built through its own
//! methods (agents re-registering with their tasks), no HTTP.

use criterion::{Criterion, criterion_group, criterion_main};
use mesos_master::master::{Master, MasterConfig, TaskEntry, agents_registration};
use mesos_types::agent_protocol::AgentTask;
use mesos_types::*;
use std::time::Duration;

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
                f.completed_tasks.push_back(t);
            }
        }
    }
    m
}

fn p11(c: &mut Criterion) {
    let mut g = c.benchmark_group("p11_state");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let m = book(10_000, 10, 10);
    let flags = Default::default();
    g.bench_function("render_10k_agents_100k_running_100k_completed", |b| {
        b.iter(|| mesos_master::state_json::state(&m, &flags, None).len())
    });
    g.finish();
}

criterion_group!(benches, p11);
criterion_main!(benches);
