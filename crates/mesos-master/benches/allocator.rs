//! P1/P2 (shared/BENCHMARKS.md): CPU time of one allocation cycle of the
//! pure DRF allocator, clock injected, in the shapes of Mesos's allocator
//! benchmarks.
//!
//! * `p1_cycle/<agents>x<frameworks>`: one role, no filters, every agent
//!   free; one cycle hands every agent out.
//! * `p2_all_declined/<agents>x<frameworks>`: every agent was offered and
//!   declined by every framework with a (near-)infinite filter; the cycle
//!   finds nothing to offer.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mesos_master::allocator::Allocator;
use mesos_types::{AgentID, FrameworkID, Resources};
use std::time::Duration;

fn cluster(agents: usize, frameworks: usize) -> Allocator {
    let mut a = Allocator::new();
    let res = Resources::parse("cpus:16;mem:65536;disk:100000;ports:[31000-32000]", "*").unwrap();
    for i in 0..agents {
        a.add_agent(AgentID::new(format!("a{i}")), res.clone(), vec![]);
    }
    for i in 0..frameworks {
        a.add_framework(FrameworkID::new(format!("f{i}")), vec!["*".into()], vec![]);
    }
    a
}

/// Every framework declines every agent for a year.
fn all_declined(agents: usize, frameworks: usize) -> Allocator {
    let mut a = cluster(agents, frameworks);
    let res = Resources::parse("cpus:16;mem:65536;disk:100000;ports:[31000-32000]", "*").unwrap();
    for f in 0..frameworks {
        let fid = FrameworkID::new(format!("f{f}"));
        for i in 0..agents {
            let aid = AgentID::new(format!("a{i}"));
            a.track_used(&fid, &aid, "*", &res);
            a.recover(&fid, &aid, "*", &res, Some(31_536_000.0), 0.0);
        }
    }
    a
}

fn p1(c: &mut Criterion) {
    let mut g = c.benchmark_group("p1_cycle");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (agents, frameworks) in [(1_000, 100), (10_000, 1_000), (20_000, 2_000)] {
        g.bench_function(format!("{agents}x{frameworks}"), |b| {
            b.iter_batched(
                || cluster(agents, frameworks),
                |mut a| a.allocate(1.0),
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn p2(c: &mut Criterion) {
    let mut g = c.benchmark_group("p2_all_declined");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    let (agents, frameworks): (usize, usize) = std::env::var("P2_SHAPE")
        .ok()
        .and_then(|s| {
            s.split_once('x')
                .and_then(|(a, f)| Some((a.parse().ok()?, f.parse().ok()?)))
        })
        .unwrap_or((10_000, 1_000));
    let mut a = all_declined(agents, frameworks);
    g.bench_function(format!("{agents}x{frameworks}"), |b| {
        b.iter(|| a.allocate(2.0))
    });
    g.finish();
}

criterion_group!(benches, p1, p2);
criterion_main!(benches);
