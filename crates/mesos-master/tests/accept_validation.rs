//! ACCEPT validation against input a scheduler controls: scalar sizes,
//! ids that become paths on the agent, offers of different roles. Each bad
//! input becomes a status update with a message and leaves the offered
//! resources as they were.

mod common;

use common::*;
use mesos_types::agent_protocol::{AgentCall, AgentEvent};
use mesos_types::scheduler::EventType;
use mesos_types::*;
use std::collections::BTreeMap;

async fn first_offer(sub: &mut mesos_scheduler::Subscription) -> Offer {
    next_event(sub, EventType::OFFERS)
        .await
        .offers
        .unwrap()
        .offers
        .remove(0)
}

#[tokio::test]
async fn huge_scalars_are_a_task_error_and_the_offer_stays_intact() {
    let m = master(&[]).await;
    let agent = FakeAgent::register(&m, "cpus:2;mem:512").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("big"))
        .await
        .unwrap();
    let o = first_offer(&mut sub).await;

    // `cpus` twice at 9e15: their sum overflowed fixed point (a panic in
    // debug, 0 cpus in release after the offer had left the book).
    let mut t = command_task("huge", &agent.id, "mem:32");
    for _ in 0..2 {
        t.resources
            .push(Resources::from_wire([Resource::scalar("cpus", 9e15)]).to_wire(false)[0].clone());
    }
    let _ = sub.caller.launch(vec![o.id.clone()], vec![t], None).await;
    let s = next_status(&mut sub).await;
    assert_eq!(s.task_id.value, "huge");
    assert_eq!(s.state, TaskState::TASK_ERROR);
    assert_eq!(s.reason, Some(Reason::REASON_TASK_INVALID));
    let msg = s.message.unwrap();
    assert!(msg.contains("cpus") && msg.contains("maximum"), "{msg}");

    sub.caller.revive().await.unwrap();
    let again = Resources::from_wire(first_offer(&mut sub).await.resources);
    assert_eq!(again.scalar("cpus"), 2.0);
    assert_eq!(again.scalar("mem"), 512.0);
    let state = master_state(&m).await;
    assert_eq!(state["frameworks"][0]["tasks"].as_array().unwrap().len(), 0);
    assert_eq!(state["slaves"][0]["used_resources"]["cpus"], 0.0);
}

#[tokio::test]
async fn agent_registering_huge_scalars_gets_400() {
    let m = master(&[]).await;
    let info = AgentInfo {
        hostname: "h".into(),
        port: 5051,
        resources: vec![
            Resource::scalar("cpus", 9e15),
            Resource::scalar("cpus", 9e15),
        ],
        ..Default::default()
    };
    let call = AgentCall::Register {
        agent_info: info,
        version: MESOS_VERSION.into(),
        tasks: vec![],
        frameworks: vec![],
        checkpointed_resources: vec![],
    };
    let r = post_json(
        &format!("http://{}/master/api/v1/agent", m.addr),
        &serde_json::to_value(&call).unwrap(),
        &[],
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("cpus") && msg.contains("maximum"), "{msg}");
    assert_eq!(
        master_state(&m).await["slaves"].as_array().unwrap().len(),
        0
    );
}

#[tokio::test]
async fn task_and_executor_ids_that_are_not_path_components_are_task_errors() {
    let m = master(&[]).await;
    let mut agent = FakeAgent::register(&m, "cpus:4;mem:1024").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("ids"))
        .await
        .unwrap();
    let o = first_offer(&mut sub).await;

    let long_ok = "x".repeat(255);
    let want: Vec<(String, String)> = vec![
        ("".into(), "ID must not be empty".into()),
        (".".into(), "'.' is disallowed".into()),
        ("..".into(), "'..' is disallowed".into()),
        ("a/b".into(), "'a/b' contains invalid characters".into()),
        ("a\\b".into(), "'a\\b' contains invalid characters".into()),
        ("a\0b".into(), "'a\0b' contains invalid characters".into()),
        (
            "y".repeat(256),
            "ID must not be greater than 255 characters".into(),
        ),
        ("bad-exec".into(), "'..' is disallowed".into()),
    ];
    let mut tasks: Vec<TaskInfo> = want
        .iter()
        .map(|(id, _)| {
            let mut t = command_task("t", &agent.id, "cpus:0.1;mem:8");
            t.task_id = TaskID::new(id.clone());
            t
        })
        .collect();
    let bad_exec = tasks.last_mut().unwrap();
    bad_exec.command = None;
    bad_exec.executor = Some(ExecutorInfo {
        executor_id: ExecutorID::new(".."),
        command: Some(CommandInfo {
            value: Some("true".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut ok = command_task("t", &agent.id, "cpus:0.1;mem:8");
    ok.task_id = TaskID::new(long_ok.clone());
    tasks.push(ok);
    sub.caller
        .launch(vec![o.id.clone()], tasks, None)
        .await
        .unwrap();

    let mut got = BTreeMap::new();
    for _ in 0..want.len() {
        let s = next_status(&mut sub).await;
        assert_eq!(s.state, TaskState::TASK_ERROR, "{s:?}");
        assert_eq!(s.reason, Some(Reason::REASON_TASK_INVALID));
        got.insert(s.task_id.value, s.message.unwrap());
    }
    assert_eq!(got, want.into_iter().collect::<BTreeMap<_, _>>());
    match agent.next().await {
        AgentEvent::RunTask { task, .. } => assert_eq!(task.task_id.value, long_ok),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn offers_of_two_roles_cannot_be_accepted_together() {
    let m = master(&[]).await;
    let agent = FakeAgent::register(&m, "cpus(a):1;mem(a):128;cpus(b):2;mem(b):256").await;
    let mut info = framework_info("mr");
    info.roles = vec!["a".into(), "b".into()];
    info.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::MULTI_ROLE),
    }];
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), info)
        .await
        .unwrap();
    let mut offers = Vec::new();
    while offers.len() < 2 {
        offers.extend(
            next_event(&mut sub, EventType::OFFERS)
                .await
                .offers
                .unwrap()
                .offers,
        );
    }
    let role_of = |o: &Offer| o.allocation_info.as_ref().unwrap().role.clone().unwrap();
    let mut roles: Vec<String> = offers.iter().map(role_of).collect();
    roles.sort();
    assert_eq!(roles, ["a", "b"]);

    let t = command_task("mixed", &agent.id, "cpus(a):0.5;mem(a):32");
    sub.caller
        .launch(offers.iter().map(|o| o.id.clone()).collect(), vec![t], None)
        .await
        .unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_LOST);
    assert_eq!(s.reason, Some(Reason::REASON_INVALID_OFFERS));
    let msg = s.message.unwrap();
    assert!(
        msg.contains("Aggregated offers must be allocated to the same role"),
        "{msg}"
    );

    // Each offer's resources come back under the role they were offered to.
    sub.caller.revive().await.unwrap();
    let mut back = Vec::new();
    while back.len() < 2 {
        back.extend(
            next_event(&mut sub, EventType::OFFERS)
                .await
                .offers
                .unwrap()
                .offers,
        );
    }
    for o in &back {
        let role = role_of(o);
        let res = Resources::from_wire(o.resources.clone());
        assert!(
            res.iter().all(|r| r.reservation_role() == role
                && r.allocation_info.as_ref().and_then(|a| a.role.as_deref()) == Some(&role)),
            "offer for role {role}: {res:?}"
        );
        let want = if role == "a" { 1.0 } else { 2.0 };
        assert_eq!(res.scalar("cpus"), want, "role {role}");
    }
}

/// A command's `user` names an account on the agent: one containing NUL
/// can name none (the agent would pass it to setuid lookups), as with
/// `FrameworkInfo.user` at SUBSCRIBE.
#[tokio::test]
async fn a_command_user_containing_nul_is_a_task_error() {
    let m = master(&[]).await;
    let agent = FakeAgent::register(&m, "cpus:4;mem:1024").await;
    let mut sub = mesos_scheduler::subscribe(&m.endpoint(), framework_info("users"))
        .await
        .unwrap();
    let o = first_offer(&mut sub).await;
    let mut t = command_task("nul-user", &agent.id, "cpus:0.1;mem:8");
    if let Some(c) = t.command.as_mut() {
        c.user = Some("ro\0ot".into());
    }
    sub.caller
        .launch(vec![o.id.clone()], vec![t], None)
        .await
        .unwrap();
    let s = next_status(&mut sub).await;
    assert_eq!(s.state, TaskState::TASK_ERROR, "{s:?}");
    assert_eq!(s.reason, Some(Reason::REASON_TASK_INVALID));
    assert!(s.message.unwrap_or_default().contains("user"));
}
