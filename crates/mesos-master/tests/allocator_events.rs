//! Event-triggered allocation cycles look only at the agents that changed.
//! The property that makes that safe: after any sequence of events and an
//! event cycle, a full cycle finds nothing more to offer. If an event forgot
//! to mark an agent as changed, resources would sit idle until the next
//! `--allocation_interval` batch, which this test catches. The one
//! deliberate exception: resources a framework hands back (declines, unused
//! parts of offers) wait for that batch, as in Mesos.

use mesos_master::allocator::{Allocation, Allocator};
use mesos_types::{AgentID, FrameworkID, Resources};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    AddAgent,
    RemoveAgent(usize),
    AddFramework,
    /// Return outstanding allocation `i` (its tasks ended), with a filter of
    /// `refuse` seconds (0 = none).
    Recover(usize, u8),
    /// Decline outstanding allocation `i` with a filter of `refuse` seconds;
    /// then the interval's batch cycle runs.
    Decline(usize, u8),
    /// Recover part of allocation `i` (a finished task).
    RecoverHalf(usize),
    Suppress(usize),
    Revive(usize),
    Deactivate(usize),
    Activate(usize),
    AgentInactive(usize),
    AgentActive(usize),
    Advance(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::AddAgent),
        1 => any::<usize>().prop_map(Op::RemoveAgent),
        1 => Just(Op::AddFramework),
        3 => (any::<usize>(), 0u8..5).prop_map(|(i, r)| Op::Recover(i, r)),
        3 => (any::<usize>(), 0u8..5).prop_map(|(i, r)| Op::Decline(i, r)),
        2 => any::<usize>().prop_map(Op::RecoverHalf),
        1 => any::<usize>().prop_map(Op::Suppress),
        1 => any::<usize>().prop_map(Op::Revive),
        1 => any::<usize>().prop_map(Op::Deactivate),
        1 => any::<usize>().prop_map(Op::Activate),
        1 => any::<usize>().prop_map(Op::AgentInactive),
        1 => any::<usize>().prop_map(Op::AgentActive),
        2 => (1u8..4).prop_map(Op::Advance),
    ]
}

fn res(s: &str) -> Resources {
    Resources::parse(s, "*").unwrap()
}

struct Model {
    a: Allocator,
    agents: Vec<AgentID>,
    frameworks: Vec<FrameworkID>,
    outstanding: Vec<Allocation>,
    now: f64,
    next: usize,
}

impl Model {
    fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
        (!v.is_empty()).then(|| v[i % v.len()].clone())
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::AddAgent => {
                self.next += 1;
                let id = AgentID::new(format!("a{}", self.next));
                self.a.add_agent(id.clone(), res("cpus:4;mem:1024"), vec![]);
                self.agents.push(id);
            }
            Op::RemoveAgent(i) => {
                if let Some(id) = Self::pick(&self.agents, i) {
                    // As the master does: the agent's allocations go with it.
                    for o in self.outstanding.iter().filter(|o| o.agent_id == id) {
                        self.a
                            .recover(&o.framework_id, &id, &o.role, &o.resources, None, self.now);
                    }
                    self.outstanding.retain(|o| o.agent_id != id);
                    self.a.remove_agent(&id);
                    self.agents.retain(|x| *x != id);
                }
            }
            Op::AddFramework => {
                self.next += 1;
                let id = FrameworkID::new(format!("f{}", self.next));
                self.a.add_framework(id.clone(), vec!["*".into()], vec![]);
                self.frameworks.push(id);
            }
            Op::Recover(i, refuse) => {
                if !self.outstanding.is_empty() {
                    let o = self.outstanding.swap_remove(i % self.outstanding.len());
                    let refuse = (refuse > 0).then_some(refuse as f64);
                    self.a.recover(
                        &o.framework_id,
                        &o.agent_id,
                        &o.role,
                        &o.resources,
                        refuse,
                        self.now,
                    );
                }
            }
            Op::Decline(i, refuse) => {
                if !self.outstanding.is_empty() {
                    let o = self.outstanding.swap_remove(i % self.outstanding.len());
                    let refuse = (refuse > 0).then_some(refuse as f64);
                    self.a.hand_back(
                        &o.framework_id,
                        &o.agent_id,
                        &o.role,
                        &o.resources,
                        refuse,
                        self.now,
                    );
                    let batch = self.a.allocate(self.now);
                    self.outstanding.extend(batch);
                }
            }
            Op::RecoverHalf(i) => {
                if !self.outstanding.is_empty() {
                    let k = i % self.outstanding.len();
                    let o = &mut self.outstanding[k];
                    let half = Resources::parse("cpus:1;mem:256", &o.role)
                        .unwrap()
                        .allocated_to(&o.role);
                    if o.resources.contains(&half) {
                        o.resources.subtract(&half);
                        self.a.recover(
                            &o.framework_id,
                            &o.agent_id,
                            &o.role,
                            &half,
                            None,
                            self.now,
                        );
                    }
                }
            }
            Op::Suppress(i) => {
                if let Some(f) = Self::pick(&self.frameworks, i) {
                    self.a.suppress(&f, &[]);
                }
            }
            Op::Revive(i) => {
                if let Some(f) = Self::pick(&self.frameworks, i) {
                    self.a.revive(&f, &[]);
                }
            }
            Op::Deactivate(i) => {
                if let Some(f) = Self::pick(&self.frameworks, i) {
                    self.a.set_framework_active(&f, false);
                }
            }
            Op::Activate(i) => {
                if let Some(f) = Self::pick(&self.frameworks, i) {
                    self.a.set_framework_active(&f, true);
                }
            }
            Op::AgentInactive(i) => {
                if let Some(id) = Self::pick(&self.agents, i) {
                    self.a.set_agent_active(&id, false);
                }
            }
            Op::AgentActive(i) => {
                if let Some(id) = Self::pick(&self.agents, i) {
                    self.a.set_agent_active(&id, true);
                }
            }
            Op::Advance(s) => self.now += s as f64,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn event_cycles_miss_nothing_a_full_cycle_would_offer(ops in prop::collection::vec(op(), 1..60)) {
        let mut m = Model {
            a: Allocator::new(),
            agents: vec![],
            frameworks: vec![],
            outstanding: vec![],
            now: 0.0,
            next: 0,
        };
        for op in ops {
            m.apply(op.clone());
            let got = m.a.allocate_changed(m.now);
            m.outstanding.extend(got);
            let missed = m.a.allocate(m.now);
            prop_assert!(missed.is_empty(), "after {op:?} the event cycle missed {missed:?}");
        }
    }
}

#[test]
fn an_event_cycle_visits_only_the_changed_agent() {
    let mut a = Allocator::new();
    let f = FrameworkID::new("f1");
    a.add_framework(f.clone(), vec!["*".into()], vec![]);
    for i in 0..3 {
        a.add_agent(AgentID::new(format!("a{i}")), res("cpus:2;mem:512"), vec![]);
    }
    let first = a.allocate_changed(0.0);
    assert_eq!(first.len(), 3, "new agents are changed agents");
    // The framework declines everything for 10 s; a task on a1 finishes
    // and frees part of it: the next event cycle offers a1's freed part only.
    for o in &first {
        a.recover(&f, &o.agent_id, &o.role, &o.resources, Some(10.0), 0.0);
    }
    assert!(a.allocate_changed(1.0).is_empty(), "all filtered");
    let f2 = FrameworkID::new("f2");
    a.add_framework(f2.clone(), vec!["*".into()], vec![]);
    let out = a.allocate_changed(1.0);
    assert_eq!(
        out.len(),
        3,
        "a new framework makes every agent a candidate"
    );
    assert!(out.iter().all(|o| o.framework_id == f2));
    let a1 = AgentID::new("a1");
    let back = out.iter().find(|o| o.agent_id == a1).unwrap();
    a.recover(&f2, &a1, &back.role, &back.resources, None, 1.0);
    let again = a.allocate_changed(1.0);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].agent_id, a1);
    assert_eq!(again[0].framework_id, f2, "f1 still filters a1");
}

#[test]
fn declined_resources_wait_for_the_batch_cycle() {
    let mut a = Allocator::new();
    let f1 = FrameworkID::new("f1");
    let f2 = FrameworkID::new("f2");
    a.add_framework(f1.clone(), vec!["*".into()], vec![]);
    a.add_agent(AgentID::new("a1"), res("cpus:2;mem:512"), vec![]);
    let o = a.allocate_changed(0.0).pop().unwrap();
    a.add_framework(f2.clone(), vec!["*".into()], vec![]);
    assert!(a.allocate_changed(0.0).is_empty(), "everything is offered");
    a.hand_back(&f1, &o.agent_id, &o.role, &o.resources, Some(5.0), 0.0);
    assert!(
        a.allocate_changed(0.0).is_empty(),
        "a decline does not trigger an event cycle"
    );
    let batch = a.allocate(0.0);
    assert_eq!(batch.len(), 1);
    assert_eq!(
        batch[0].framework_id, f2,
        "the batch offers it to the other framework"
    );
}
