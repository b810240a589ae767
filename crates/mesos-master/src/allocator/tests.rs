//! Unit tests of the allocator.

use super::*;

/// Quantities are sums over agents whose totals come from outside:
/// 50,000 agents each at the largest scalar a resource may have must
/// add up exactly, and come off again exactly when they leave.
#[test]
fn quantity_sums_are_exact_and_reversible() {
    let big = quantities(&res(&format!(
        "cpus:{0};mem:{0};disk:{0}",
        mesos_types::values::MAX_SCALAR
    )));
    let small = quantities(&res("cpus:1;mem:1"));
    let mut total = small;
    for _ in 0..50_000 {
        add_q(&mut total, &big, 1);
    }
    assert!(total[0] > big[0] * 49_999, "the sum saturated or wrapped");
    for _ in 0..50_000 {
        add_q(&mut total, &big, -1);
    }
    assert_eq!(
        total, small,
        "removing what was added left a different total"
    );
}

fn res(s: &str) -> Resources {
    Resources::parse(s, "*").unwrap()
}

fn fw(a: &mut Allocator, id: &str, role: &str) -> FrameworkID {
    let f = FrameworkID::new(id);
    a.add_framework(f.clone(), vec![role.into()], vec![]);
    f
}

#[test]
fn offers_whole_agent_to_lowest_share() {
    let mut a = Allocator::new();
    a.add_agent("a1".into(), res("cpus:4;mem:1024"), vec![]);
    a.add_agent("a2".into(), res("cpus:4;mem:1024"), vec![]);
    fw(&mut a, "f1", "*");
    fw(&mut a, "f2", "*");
    let out = a.allocate(0.0);
    assert_eq!(out.len(), 2);
    assert_ne!(
        out[0].framework_id, out[1].framework_id,
        "DRF spreads agents over frameworks"
    );
    assert_eq!(out[0].resources.scalar("cpus"), 4.0);
    assert!(a.allocate(0.0).is_empty(), "nothing left");
}

#[test]
fn decline_filter_blocks_until_expiry_and_revive_clears() {
    let mut a = Allocator::new();
    a.add_agent("a1".into(), res("cpus:2;mem:512"), vec![]);
    let f = fw(&mut a, "f1", "*");
    let o = a.allocate(0.0).pop().unwrap();
    a.recover(&f, &o.agent_id, "*", &o.resources, Some(5.0), 0.0);
    assert!(a.allocate(1.0).is_empty(), "filtered");
    assert_eq!(a.allocate(6.0).len(), 1, "filter expired");
    let o = a.available(&"a1".into()).unwrap();
    assert!(o.is_empty());
    let all = res("cpus:2;mem:512");
    a.recover(&f, &"a1".into(), "*", &all, Some(1000.0), 6.0);
    assert!(a.allocate(7.0).is_empty());
    a.revive(&f, &[]);
    assert_eq!(a.allocate(7.0).len(), 1);
}

#[test]
fn suppressed_and_inactive_get_nothing() {
    let mut a = Allocator::new();
    a.add_agent("a1".into(), res("cpus:2;mem:512"), vec![]);
    let f = fw(&mut a, "f1", "*");
    a.suppress(&f, &[]);
    assert!(a.allocate(0.0).is_empty());
    a.revive(&f, &[]);
    a.set_framework_active(&f, false);
    assert!(a.allocate(0.0).is_empty());
    a.set_framework_active(&f, true);
    assert_eq!(a.allocate(0.0).len(), 1);
}

#[test]
fn reserved_resources_go_only_to_their_role() {
    let mut a = Allocator::new();
    a.add_agent(
        "a1".into(),
        Resources::parse("cpus(web):2;mem(web):256;cpus:1;mem:128", "*").unwrap(),
        vec![],
    );
    fw(&mut a, "other", "batch");
    let out = a.allocate(0.0);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].resources.scalar("cpus"),
        1.0,
        "only unreserved for batch"
    );
    fw(&mut a, "webfw", "web");
    let out = a.allocate(0.0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].framework_id.value, "webfw");
    assert_eq!(out[0].resources.scalar("cpus"), 2.0);
}

#[test]
fn weights_favour_heavier_role() {
    let mut a = Allocator::new();
    for i in 0..30 {
        a.add_agent(AgentID::new(format!("a{i}")), res("cpus:1;mem:100"), vec![]);
    }
    fw(&mut a, "f1", "light");
    fw(&mut a, "f2", "heavy");
    a.set_weight("heavy", 2.0);
    let out = a.allocate(0.0);
    let heavy = out.iter().filter(|o| o.role == "heavy").count();
    assert_eq!(heavy, 20, "2:1 weights give 20 of 30 agents");
}

#[test]
fn drf_matches_brute_force_fair_shares() {
    // Oracle: with equal demand, identical agents and one role, DRF leaves
    // every framework's agent count within one of every other's.
    let mut a = Allocator::new();
    for i in 0..97 {
        a.add_agent(AgentID::new(format!("a{i}")), res("cpus:2;mem:256"), vec![]);
    }
    for i in 0..7 {
        fw(&mut a, &format!("f{i}"), "*");
    }
    let out = a.allocate(0.0);
    let mut counts: HashMap<String, usize> = HashMap::new();
    for o in &out {
        *counts.entry(o.framework_id.value.clone()).or_default() += 1;
    }
    let (min, max) = (
        counts.values().min().unwrap(),
        counts.values().max().unwrap(),
    );
    assert_eq!(out.len(), 97);
    assert!(max - min <= 1, "{counts:?}");
}

#[test]
fn removing_agent_and_framework_is_clean() {
    let mut a = Allocator::new();
    a.add_agent("a1".into(), res("cpus:2;mem:512"), vec![]);
    let f = fw(&mut a, "f1", "*");
    let o = a.allocate(0.0).pop().unwrap();
    a.recover(&f, &o.agent_id, "*", &o.resources, None, 0.0);
    a.remove_framework(&f);
    a.remove_agent(&"a1".into());
    assert!(a.allocate(0.0).is_empty());
    assert!(!a.has_agent(&"a1".into()));
}

#[test]
fn whole_agent_filters_skip_agent_until_revive_or_expiry() {
    let mut a = Allocator::new();
    a.add_agent("a1".into(), res("cpus:2;mem:512"), vec![]);
    let f1 = fw(&mut a, "f1", "*");
    let f2 = fw(&mut a, "f2", "*");
    let all = res("cpus:2;mem:512");
    for f in [&f1, &f2] {
        a.track_used(f, &"a1".into(), "*", &all);
        a.recover(f, &"a1".into(), "*", &all, Some(100.0), 0.0);
    }
    assert!(
        a.allocate(1.0).is_empty(),
        "both frameworks filter the whole agent"
    );
    a.revive(&f2, &[]);
    let out = a.allocate(2.0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].framework_id, f2);
    let o = out.into_iter().next().unwrap();
    a.recover(&f2, &o.agent_id, "*", &o.resources, None, 2.0);
    // f1's filter expires at t=100; f2 filters nothing now.
    assert_eq!(a.allocate(3.0)[0].framework_id, f2);
}

#[test]
fn partial_filter_refuses_only_what_was_declined() {
    let mut a = Allocator::new();
    a.add_agent("a1".into(), res("cpus:4;mem:1024"), vec![]);
    let f = fw(&mut a, "f1", "*");
    let half = res("cpus:2;mem:512");
    // Half the agent is in use by a task, the other half was declined.
    a.track_used(&f, &"a1".into(), "*", &half);
    a.track_used(&f, &"a1".into(), "*", &half);
    a.recover(&f, &"a1".into(), "*", &half, Some(100.0), 0.0);
    assert!(a.allocate(1.0).is_empty(), "the same 2 cpus are filtered");
    // The task ends: 4 cpus free, more than the filter covers.
    a.recover(&f, &"a1".into(), "*", &half, None, 1.0);
    let out = a.allocate(2.0);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].resources.scalar("cpus"), 4.0);
}

/// Quota under contention: a greedy role without quota takes everything
/// it is offered, but never what another role's guarantee needs; the quota
/// role, arriving later, still gets its guarantee.
#[test]
fn quota_guarantee_holds_against_a_greedy_role() {
    let mut a = Allocator::new();
    for i in 0..4 {
        a.add_agent(
            AgentID::new(format!("A{i}")),
            res("cpus:1;mem:1024"),
            vec![],
        );
    }
    let q = mesos_types::policy::QuotaConfig {
        role: "prod".into(),
        guarantees: [(
            "cpus".to_string(),
            mesos_types::values::Scalar { value: 2.0 },
        )]
        .into(),
        limits: Default::default(),
    };
    a.set_quota("prod", Some(RoleQuota::from_config(&q)));
    let dev = fw(&mut a, "dev", "dev");
    let got = a.allocate(0.0);
    assert!(got.iter().all(|x| x.framework_id == dev));
    let dev_cpus: f64 = got.iter().map(|x| x.resources.scalar("cpus")).sum();
    assert_eq!(
        dev_cpus, 2.0,
        "dev gets only what prod's guarantee does not need"
    );
    let prod = fw(&mut a, "prod", "prod");
    let got = a.allocate(1.0);
    let prod_cpus: f64 = got
        .iter()
        .filter(|x| x.framework_id == prod)
        .map(|x| x.resources.scalar("cpus"))
        .sum();
    assert_eq!(prod_cpus, 2.0, "prod gets its guarantee");
    let rest = a.allocate(2.0);
    assert!(rest.is_empty(), "every agent is held now: {rest:?}");
}

#[test]
fn quota_limit_caps_what_a_role_is_offered() {
    let mut a = Allocator::new();
    for i in 0..3 {
        a.add_agent(
            AgentID::new(format!("A{i}")),
            res("cpus:2;mem:1024"),
            vec![],
        );
    }
    let q = mesos_types::policy::QuotaConfig {
        role: "capped".into(),
        guarantees: Default::default(),
        limits: [(
            "cpus".to_string(),
            mesos_types::values::Scalar { value: 3.0 },
        )]
        .into(),
    };
    a.set_quota("capped", Some(RoleQuota::from_config(&q)));
    fw(&mut a, "f", "capped");
    let got = a.allocate(0.0);
    let cpus: f64 = got.iter().map(|x| x.resources.scalar("cpus")).sum();
    assert_eq!(cpus, 3.0, "offers stop at the limit: {got:?}");
    a.set_quota("capped", None);
    let more: f64 = a
        .allocate(1.0)
        .iter()
        .map(|x| x.resources.scalar("cpus"))
        .sum();
    assert_eq!(more, 3.0, "without the quota the rest is offered");
}

/// Resources reserved for another role are not headroom: a guarantee is
/// kept from unreserved resources only.
#[test]
fn quota_headroom_does_not_count_other_roles_reservations() {
    let mut a = Allocator::new();
    a.add_agent(
        AgentID::new("A"),
        res("cpus(other):4;mem(other):64"),
        vec![],
    );
    a.add_agent(AgentID::new("B"), res("cpus:4;mem:64"), vec![]);
    let q = mesos_types::policy::QuotaConfig {
        role: "q".into(),
        guarantees: [(
            "cpus".to_string(),
            mesos_types::values::Scalar { value: 4.0 },
        )]
        .into(),
        limits: Default::default(),
    };
    a.set_quota("q", Some(RoleQuota::from_config(&q)));
    let dev = fw(&mut a, "dev", "dev");
    let got = a.allocate(0.0);
    assert!(
        got.iter().all(|x| x.framework_id != dev),
        "B's cpus are all q's guarantee: {got:?}"
    );
}

/// The headroom sum, kept incrementally while quota exists, always equals
/// a recount of every agent's free unreserved resources.
#[test]
fn headroom_sum_matches_a_recount_through_every_change() {
    fn recount(a: &Allocator) -> Quantities {
        let mut q = [0; 4];
        for s in a.agents.values() {
            add_q(&mut q, &unreserved_q(&s.free), 1);
        }
        q
    }
    let quota = |cpus: f64| {
        RoleQuota::from_config(&mesos_types::policy::QuotaConfig {
            role: "q".into(),
            guarantees: [(
                "cpus".to_string(),
                mesos_types::values::Scalar { value: cpus },
            )]
            .into(),
            limits: Default::default(),
        })
    };
    let mut a = Allocator::new();
    a.add_agent(AgentID::new("A"), res("cpus:2;mem:64;cpus(r):1"), vec![]);
    let f = fw(&mut a, "f", "r");
    // Changes made while no quota exists are not tracked...
    let first = a.allocate(0.0);
    a.set_quota("q", Some(quota(1.0)));
    // ...and counted when the first quota is set.
    assert_eq!(a.free_total, recount(&a));
    for x in &first {
        a.recover(
            &x.framework_id,
            &x.agent_id,
            &x.role,
            &x.resources,
            None,
            1.0,
        );
    }
    assert_eq!(a.free_total, recount(&a));
    a.add_agent(AgentID::new("B"), res("cpus:4;mem:64"), vec![]);
    assert!(a.take_free(&AgentID::new("B"), &res("cpus:1")));
    assert_eq!(a.free_total, recount(&a));
    a.give_free(&AgentID::new("B"), &res("cpus:1"));
    let got = a.allocate(2.0);
    assert!(got.iter().all(|x| x.framework_id == f));
    assert_eq!(a.free_total, recount(&a));
    a.remove_agent(&AgentID::new("A"));
    assert_eq!(a.free_total, recount(&a));
    a.set_quota("q", None);
    a.add_agent(AgentID::new("C"), res("cpus:1;mem:64"), vec![]);
    a.set_quota("q", Some(quota(2.0)));
    assert_eq!(a.free_total, recount(&a));
}
