//! A framework's roles as its latest subscription names them (issue 9,
//! defect 7): a re-subscription that drops a role ends its offers for it.

use mesos_master::allocator::Allocator;
use mesos_types::{AgentID, FrameworkID, Resources};

fn roles(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_role_dropped_by_a_resubscription_gets_no_more_offers() {
    let mut a = Allocator::new();
    let fid = FrameworkID::new("F");
    a.add_framework(fid.clone(), roles(&["web", "batch"]), vec![]);
    a.add_framework(fid.clone(), roles(&["web"]), vec![]);
    for i in 0..4 {
        a.add_agent(
            AgentID::new(format!("A{i}")),
            Resources::parse("cpus:1;mem:64", "*").unwrap(),
            vec![],
        );
    }
    let offered: Vec<String> = a.allocate(0.0).into_iter().map(|x| x.role).collect();
    assert_eq!(offered.len(), 4, "{offered:?}");
    assert!(
        offered.iter().all(|r| r == "web"),
        "offers for a role the framework dropped: {offered:?}"
    );
}

#[test]
fn usage_left_in_a_dropped_role_does_not_bring_the_role_back() {
    let mut a = Allocator::new();
    let fid = FrameworkID::new("F");
    let agent = AgentID::new("A");
    a.add_framework(fid.clone(), roles(&["web", "batch"]), vec![]);
    a.add_agent(
        agent.clone(),
        Resources::parse("cpus:4;mem:256", "*").unwrap(),
        vec![],
    );
    let held: Vec<_> = a.allocate(0.0);
    // Another framework stays in "batch", so the role lives on.
    let other = FrameworkID::new("G");
    a.add_framework(other.clone(), roles(&["batch"]), vec![]);
    // F re-subscribes with "web" only while holding resources in both
    // roles; then everything it held comes back.
    a.add_framework(fid.clone(), roles(&["web"]), vec![]);
    for x in &held {
        a.recover(&fid, &agent, &x.role, &x.resources, None, 1.0);
    }
    a.add_agent(
        AgentID::new("B"),
        Resources::parse("cpus:4;mem:256", "*").unwrap(),
        vec![],
    );
    let mine: Vec<String> = a
        .allocate(2.0)
        .into_iter()
        .filter(|x| x.framework_id == fid)
        .map(|x| x.role)
        .collect();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|r| r == "web"), "{mine:?}");
}
