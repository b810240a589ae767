//! Book-level regression tests for the registrar and the defects an
//! outside review found (issue 9): pure, no sockets, time passed in.

use super::*;
use crate::event_queue::{EventReceiver, event_queue};
use mesos_coord::{MemoryStore, Store};
use mesos_types::agent_protocol::AgentTask;
use mesos_types::scheduler::{EventType, Subscribe};
use tokio::sync::oneshot;

fn master() -> Master {
    let config = MasterConfig {
        agent_health_timeout: 1.0,
        ..Default::default()
    };
    Master::new(MasterInfo::default(), config, 0.0)
}

/// Plays the registrar: writes every queued op to `store` in order and
/// feeds the outcome back, until nothing is queued.
fn run_registrar(m: &mut Master, store: &dyn Store, now: f64) {
    while let Some(batch) = m.take_registry_batch() {
        let writes: Vec<(String, Vec<u8>)> = batch.ops.iter().flat_map(|op| op.records()).collect();
        let result = store.write_batch(&writes).map_err(|e| e.to_string());
        m.registry_written(batch.last, result, now);
    }
}

fn agent_info(id: Option<&str>, resources: &str) -> AgentInfo {
    AgentInfo {
        hostname: "host".into(),
        port: 5051,
        resources: Resources::parse(resources, "*").unwrap().to_wire(true),
        id: id.map(AgentID::new),
        ..Default::default()
    }
}

/// Registers an agent through the registrar; returns its id and events.
fn register(
    m: &mut Master,
    store: &dyn Store,
    info: AgentInfo,
    tasks: Vec<AgentTask>,
    frameworks: Vec<FrameworkInfo>,
    now: f64,
) -> (AgentID, EventReceiver<AgentEvent>) {
    let (tx, rx) = event_queue(1024);
    let (reply, mut answer) = oneshot::channel();
    let reregister = info.id.is_some();
    let reg = agents_registration(
        info,
        "127.0.0.1".into(),
        "1".into(),
        tasks,
        frameworks,
        reregister,
    );
    m.register_agent(reg, tx, reply, now);
    run_registrar(m, store, now);
    match answer.try_recv() {
        Ok(AgentAdmission::Admitted { agent_id, .. }) => (agent_id, rx),
        other => panic!("agent not admitted: {other:?}"),
    }
}

fn subscribe(m: &mut Master, info: FrameworkInfo, now: f64) -> (FrameworkID, EventReceiver<Event>) {
    let (tx, rx) = event_queue(65_536);
    let id = info.id.clone();
    let out = m
        .subscribe(
            Subscribe {
                framework_info: info,
                suppressed_roles: vec![],
            },
            id,
            tx,
            now,
        )
        .expect("valid subscription");
    match out {
        SubscribeOutcome::Subscribed { framework_id, .. } => (framework_id, rx),
        SubscribeOutcome::Refused(e) => panic!("refused: {e}"),
    }
}

fn framework(name: &str) -> FrameworkInfo {
    FrameworkInfo {
        user: "alice".into(),
        name: name.into(),
        checkpoint: true,
        ..Default::default()
    }
}

fn task(id: &str, agent: &AgentID, resources: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: TaskID::new(id),
        agent_id: agent.clone(),
        resources: Resources::parse(resources, "*").unwrap().to_wire(false),
        command: Some(CommandInfo {
            value: Some("sleep 1000".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Books `t` on `agent` for `fid` directly (as if launched), in `state`.
fn book_task(m: &mut Master, fid: &FrameworkID, agent: &AgentID, t: &TaskInfo, state: TaskState) {
    let entry = TaskEntry::new(
        t.clone(),
        fid.clone(),
        agent.clone(),
        state,
        "*".into(),
        Resources::from_wire(t.resources.clone()),
        None,
    );
    m.frameworks
        .get_mut(fid)
        .unwrap()
        .tasks
        .insert(t.task_id.clone(), entry);
}

/// A task as an agent reports it, with no update awaiting acknowledgement.
fn reported(framework_id: FrameworkID, task: TaskInfo, state: TaskState) -> AgentTask {
    AgentTask {
        framework_id,
        task,
        state,
        status_update_state: None,
    }
}

/// Whether `events` tell the agent to kill `task`.
fn told_to_kill(events: &[AgentEvent], task: &TaskID) -> bool {
    events
        .iter()
        .any(|e| matches!(e, AgentEvent::KillTask { task_id, .. } if task_id == task))
}

/// The nonce of the last PING on an agent's stream that carries one.
fn ping_nonce(events: &[AgentEvent]) -> Option<u64> {
    events.iter().rev().find_map(|e| match e {
        AgentEvent::Ping { nonce } => *nonce,
        _ => None,
    })
}

fn drain<E>(rx: &mut EventReceiver<E>) -> Vec<E> {
    std::iter::from_fn(|| rx.try_recv()).collect()
}

fn offered_agents(events: &[Event]) -> Vec<AgentID> {
    events
        .iter()
        .filter(|e| e.kind == EventType::OFFERS)
        .flat_map(|e| e.offers.iter().flat_map(|o| o.offers.iter()))
        .map(|o| o.agent_id.clone())
        .collect()
}

fn updates(events: &[Event]) -> Vec<TaskStatus> {
    events
        .iter()
        .filter_map(|e| e.update.as_ref().map(|u| u.status.clone()))
        .collect()
}

/// Defect 1: an agent re-registering after a master restart, before its
/// framework re-subscribes, must not turn the framework into a
/// non-checkpointing one with no user; its adopted tasks count in its
/// DRF share.
#[test]
fn a_framework_known_from_its_agents_keeps_its_info_and_share() {
    let store = MemoryStore::default();
    let mut m = master();
    let fid = FrameworkID::new("F1");
    let mut info = framework("checkpointing");
    info.id = Some(fid.clone());
    let a1 = AgentID::new("A1");
    let adopted = AgentTask {
        framework_id: fid.clone(),
        task: task("t1", &a1, "cpus:3;mem:768"),
        state: TaskState::TASK_RUNNING,
        status_update_state: None,
    };
    register(
        &mut m,
        &store,
        agent_info(Some("A1"), "cpus:4;mem:1024"),
        vec![adopted],
        vec![info.clone()],
        1.0,
    );
    // Re-subscribes with its FrameworkInfo; a second framework arrives.
    let (_, mut f1) = subscribe(&mut m, info, 2.0);
    let (f2_id, mut f2) = subscribe(&mut m, framework("other"), 2.0);
    let fw = &m.frameworks[&fid];
    assert_eq!(
        (fw.info.user.as_str(), fw.info.checkpoint),
        ("alice", true),
        "the re-subscribed framework lost its user or checkpointing"
    );
    // DRF: F1 holds 3/8 of the cluster, F2 nothing: F2 gets what is left
    // of the first agent (1/8) and then the second agent too.
    register(
        &mut m,
        &store,
        agent_info(None, "cpus:4;mem:1024"),
        vec![],
        vec![],
        3.0,
    );
    m.allocate(3.0);
    assert!(
        offered_agents(&drain(&mut f1)).is_empty(),
        "the framework holding 3 cpus was offered more while {f2_id} holds none"
    );
    assert_eq!(offered_agents(&drain(&mut f2)).len(), 2);
}

/// Operators saw a framework known only from its agents in SUBSCRIBED's
/// state already: its re-subscription is FRAMEWORK_UPDATED, as in Mesos,
/// not a second FRAMEWORK_ADDED; a framework new to the master is ADDED.
#[test]
fn a_recovered_framework_resubscribing_is_updated_for_operators() {
    use crate::operator::OperatorEvent;
    let store = MemoryStore::default();
    let mut m = master();
    let fid = FrameworkID::new("F1");
    let mut info = framework("recovered");
    info.id = Some(fid.clone());
    let a1 = AgentID::new("A1");
    register(
        &mut m,
        &store,
        agent_info(Some("A1"), "cpus:4;mem:1024"),
        vec![reported(
            fid.clone(),
            task("t1", &a1, "cpus:1;mem:128"),
            TaskState::TASK_RUNNING,
        )],
        vec![info.clone()],
        1.0,
    );
    let (tx, mut rx) = crate::event_queue::event_queue(1024);
    m.operator_subscribers.add(tx);
    let _ = subscribe(&mut m, info, 2.0);
    let _ = subscribe(&mut m, framework("new"), 2.0);
    let kinds: Vec<&str> = drain(&mut rx)
        .iter()
        .filter_map(|e| match e.event() {
            OperatorEvent::FrameworkAdded(_) => Some("added"),
            OperatorEvent::FrameworkUpdated(_) => Some("updated"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["updated", "added"]);
}

/// Review finding: a partition-aware task held unreachable that ended
/// while its agent was away, reported terminal when the agent comes back,
/// counts once in the terminal task counters (its status update, which
/// follows, finds it terminal already and does not count it).
#[test]
fn a_task_reported_ended_at_reregistration_is_counted_once() {
    let store = MemoryStore::default();
    let mut m = master();
    let mut pa = framework("partition-aware");
    pa.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    let (fid, _events) = subscribe(&mut m, pa, 0.0);
    let (aid, _agent) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:4;mem:1024"),
        vec![],
        vec![],
        1.0,
    );
    let t = task("t", &aid, "cpus:1;mem:32");
    book_task(&mut m, &fid, &aid, &t, TaskState::TASK_RUNNING);
    m.agents
        .get_mut(&aid)
        .unwrap()
        .tasks
        .insert((fid.clone(), t.task_id.clone()));
    assert!(
        m.mark_unreachable(&aid, 1000.0),
        "the silent agent was kept"
    );
    assert_eq!(
        m.frameworks[&fid].tasks[&t.task_id].state,
        TaskState::TASK_UNREACHABLE
    );
    let finished = |m: &Master| m.counters.tasks_ended.get(TaskState::TASK_FINISHED);
    let mut info = m.frameworks[&fid].info.clone();
    info.id = Some(fid.clone());
    let mut report = reported(fid.clone(), t.clone(), TaskState::TASK_FINISHED);
    report.status_update_state = Some(TaskState::TASK_FINISHED);
    register(
        &mut m,
        &store,
        agent_info(Some(&aid.value), "cpus:4;mem:1024"),
        vec![report],
        vec![info],
        1001.0,
    );
    let mut status = TaskStatus::new(t.task_id.clone(), TaskState::TASK_FINISHED);
    status.uuid = Some("AAECAwQFBgcICQoLDA0ODw==".into());
    status.agent_id = Some(aid.clone());
    status.timestamp = Some(1001.5);
    m.agent_update(&aid, &fid, status, 1001.5).unwrap();
    assert_eq!(
        finished(&m),
        1,
        "the task's end was not counted exactly once"
    );
}

/// The operator API's task views are copied once per change and shared:
/// unchanged tasks are the same copy, a status update makes a new one.
#[test]
fn operator_task_views_are_shared_until_the_task_changes() {
    use crate::operator::{Parts, StateView};
    let store = MemoryStore::default();
    let mut m = master();
    let (fid, _events) = subscribe(&mut m, framework("f"), 0.0);
    let (aid, _agent) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:4;mem:1024"),
        vec![],
        vec![],
        1.0,
    );
    let t = task("t", &aid, "cpus:1;mem:32");
    book_task(&mut m, &fid, &aid, &t, TaskState::TASK_STAGING);
    let tasks = Parts {
        agents: false,
        frameworks: false,
        executors: false,
        tasks: true,
    };
    let before = StateView::take(&m, tasks);
    let again = StateView::take(&m, tasks);
    assert!(
        std::sync::Arc::ptr_eq(&before.tasks[0], &again.tasks[0]),
        "copied again"
    );
    let mut status = TaskStatus::new(t.task_id.clone(), TaskState::TASK_RUNNING);
    status.uuid = Some("AAECAwQFBgcICQoLDA0ODw==".into());
    status.agent_id = Some(aid.clone());
    m.agent_update(&aid, &fid, status, 2.0).unwrap();
    let after = StateView::take(&m, tasks);
    assert_eq!(before.tasks[0].state, TaskState::TASK_STAGING);
    assert_eq!(
        after.tasks[0].state,
        TaskState::TASK_RUNNING,
        "a stale copy"
    );
    assert_eq!(after.tasks[0].statuses.len(), 1);
}

/// Defect 2: an agent that answers while its unreachable mark is being
/// written must not stay marked in the registry (a restarted master would
/// kill its tasks).
#[test]
fn an_agent_answering_while_its_unreachable_mark_is_written_is_marked_reachable() {
    let store = MemoryStore::default();
    let mut m = master();
    let (aid, _events) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:1;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    assert_eq!(m.silent_agents(2.0, 0.1), vec![aid.clone()]);
    // The registrar takes the mark; the agent answers meanwhile.
    let batch = m.take_registry_batch().expect("the mark is queued");
    m.agent_seen(&aid, 2.05);
    let writes: Vec<(String, Vec<u8>)> = batch.ops.iter().flat_map(|op| op.records()).collect();
    store.write_batch(&writes).unwrap();
    m.registry_written(batch.last, Ok(()), 2.1);
    run_registrar(&mut m, &store, 2.1);
    assert!(m.agents.contains_key(&aid), "a live agent was removed");
    let mark = store
        .get(&format!("unreachable/{}", aid.value))
        .unwrap()
        .map(|v| v.value);
    assert_eq!(
        mark.as_deref(),
        Some(registry::REACHABLE),
        "the registry still calls a live agent unreachable"
    );
}

/// Defect 2, the other path: the agent re-registers while its mark is
/// being written; it is admitted only once the registry says reachable.
#[test]
fn an_agent_reregistering_while_its_mark_is_written_ends_reachable() {
    let store = MemoryStore::default();
    let mut m = master();
    let (aid, _events) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:1;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    m.silent_agents(2.0, 0.1);
    let batch = m.take_registry_batch().expect("the mark is queued");
    let (tx, mut rx) = event_queue(16);
    let (reply, mut answer) = oneshot::channel();
    let reg = agents_registration(
        agent_info(Some(&aid.value), "cpus:1;mem:64"),
        "127.0.0.1".into(),
        "1".into(),
        vec![],
        vec![],
        true,
    );
    m.register_agent(reg, tx, reply, 2.05);
    assert!(
        answer.try_recv().is_err(),
        "admitted before the registry agreed"
    );
    let writes: Vec<(String, Vec<u8>)> = batch.ops.iter().flat_map(|op| op.records()).collect();
    store.write_batch(&writes).unwrap();
    m.registry_written(batch.last, Ok(()), 2.1);
    run_registrar(&mut m, &store, 2.1);
    assert!(matches!(
        answer.try_recv(),
        Ok(AgentAdmission::Admitted { .. })
    ));
    // It had been silent past the timeout, so it was removed (its tasks
    // reported lost) before being taken back: the mark goes once it has
    // heard the kills, at its first PONG.
    let nonce = ping_nonce(&drain(&mut rx));
    assert!(nonce.is_some(), "no PING to prove the kills arrived");
    m.agent_ponged(&aid, nonce, 2.2);
    run_registrar(&mut m, &store, 2.2);
    let mark = store
        .get(&format!("unreachable/{}", aid.value))
        .unwrap()
        .map(|v| v.value);
    assert_eq!(mark.as_deref(), Some(registry::REACHABLE));
}

/// Defect 15: a TEARDOWN whose client went away mid-request still removes
/// the framework (it used to stay "being removed" until a restart).
#[test]
fn a_teardown_completes_after_its_client_went_away() {
    let store = MemoryStore::default();
    let mut m = master();
    let (fid, _events) = subscribe(&mut m, framework("leaving"), 0.0);
    let (reply, answer) = oneshot::channel();
    m.request_remove_framework(&fid, Some(reply), 1.0);
    drop(answer); // the client hung up
    run_registrar(&mut m, &store, 1.1);
    assert!(!m.frameworks.contains_key(&fid));
    assert!(m.removed_frameworks.contains(&fid));
    assert!(!m.removing_frameworks.contains(&fid));
    assert!(
        store
            .get(&format!("frameworks/removed/{}", fid.value))
            .unwrap()
            .is_some()
    );
}

/// Defect 9: an agent may only report updates for its own tasks.
#[test]
fn an_agent_cannot_update_another_agents_task() {
    let store = MemoryStore::default();
    let mut m = master();
    let (fid, _events) = subscribe(&mut m, framework("f"), 0.0);
    let (a1, _e1) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:2;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    let (a2, _e2) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:2;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    let task = task("t", &a1, "cpus:1;mem:32");
    book_task(&mut m, &fid, &a1, &task, TaskState::TASK_RUNNING);
    let forged = TaskStatus::new(task.task_id.clone(), TaskState::TASK_FINISHED);
    let r = m.agent_update(&a2, &fid, forged, 1.0);
    assert!(r.is_err(), "agent {a2} finished a task of agent {a1}");
    assert_eq!(
        m.frameworks[&fid].tasks[&task.task_id].state,
        TaskState::TASK_RUNNING
    );
}

/// Defect 16 (master half): a removed framework is shut down on every
/// agent, also those the book holds none of its tasks on (an executor may
/// have lied that its task finished), and on agents that re-register
/// still running something of it.
#[test]
fn removing_a_framework_shuts_it_down_on_every_agent() {
    let store = MemoryStore::default();
    let mut m = master();
    let (fid, _events) = subscribe(&mut m, framework("f"), 0.0);
    let (_a1, mut e1) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:2;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    drain(&mut e1);
    m.request_remove_framework(&fid, None, 1.0);
    run_registrar(&mut m, &store, 1.0);
    assert!(
        drain(&mut e1).iter().any(
            |e| matches!(e, AgentEvent::ShutdownFramework { framework_id } if framework_id == &fid)
        ),
        "an agent without the framework's tasks in the book was not told to shut it down"
    );
    // An agent away meanwhile re-registers, still running an executor of it.
    let mut info = framework("f");
    info.id = Some(fid.clone());
    let (_a2, mut e2) = register(
        &mut m,
        &store,
        agent_info(Some("A2"), "cpus:2;mem:64"),
        vec![],
        vec![info],
        2.0,
    );
    assert!(
        drain(&mut e2).iter().any(
            |e| matches!(e, AgentEvent::ShutdownFramework { framework_id } if framework_id == &fid)
        ),
        "a re-registering agent may keep running a removed framework"
    );
    assert!(
        !m.frameworks.contains_key(&fid),
        "the removed framework came back"
    );
}

/// Defect 14: tasks of a non-partition-aware framework on an agent the
/// registry marks unreachable stay lost after a master restart, even when
/// the agent re-registers before the framework re-subscribes, and even
/// for tasks whose terminal update the agent still holds.
#[test]
fn tasks_of_an_unreachable_agent_stay_lost_across_a_restart() {
    let store = MemoryStore::default();
    let mut m = master(); // a restarted master
    let aid = AgentID::new("A");
    m.admitted_agents.insert(aid.clone());
    m.unreachable_agents.insert(aid.clone(), 0.0);
    let fid = FrameworkID::new("F");
    let mut info = framework("not-partition-aware");
    info.id = Some(fid.clone());
    let running = task("running", &aid, "cpus:1;mem:32");
    let finished = task("finished", &aid, "cpus:1;mem:32");
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![
            reported(fid.clone(), running.clone(), TaskState::TASK_RUNNING),
            reported(fid.clone(), finished.clone(), TaskState::TASK_FINISHED),
        ],
        vec![info.clone()],
        1.0,
    );
    assert!(
        drain(&mut events).iter().any(
            |e| matches!(e, AgentEvent::KillTask { task_id, .. } if task_id == &running.task_id)
        ),
        "a task already lost was adopted instead of killed"
    );
    // The framework comes back; the agent's held terminal update arrives.
    let (_, mut sched) = subscribe(&mut m, info, 2.0);
    let mut done = TaskStatus::new(finished.task_id.clone(), TaskState::TASK_FINISHED);
    done.uuid = Some("AAAAAAAAAAAAAAAAAAAAAA==".into());
    m.agent_update(&aid, &fid, done, 2.5).unwrap();
    m.reconcile(&fid, &[], 3.0);
    let told: Vec<(TaskID, TaskState)> = updates(&drain(&mut sched))
        .into_iter()
        .map(|s| (s.task_id, s.state))
        .collect();
    assert!(
        told.iter().all(|(_, s)| *s == TaskState::TASK_LOST),
        "the framework heard of lost tasks again: {told:?}"
    );
}

/// Defect 11: implicit reconciliation of more tasks than the scheduler's
/// queue holds must not disconnect the framework.
#[test]
fn implicit_reconciliation_of_many_tasks_does_not_overflow_the_queue() {
    let store = MemoryStore::default();
    let mut m = master();
    let (tx, mut rx) = event_queue(64);
    let out = m
        .subscribe(
            Subscribe {
                framework_info: framework("big"),
                suppressed_roles: vec![],
            },
            None,
            tx.clone(),
            0.0,
        )
        .unwrap();
    let SubscribeOutcome::Subscribed {
        framework_id: fid, ..
    } = out
    else {
        panic!("refused");
    };
    let (aid, _e) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:1;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    for i in 0..1000 {
        let t = task(&format!("t{i}"), &aid, "cpus:0.001;mem:0.01");
        book_task(&mut m, &fid, &aid, &t, TaskState::TASK_RUNNING);
    }
    m.reconcile(&fid, &[], 1.0);
    assert!(
        !tx.overflowed(),
        "the framework was cut off for reconciling"
    );
    assert_eq!(updates(&drain(&mut rx)).len(), 1000);
}

/// Defect 12: timers run on a monotonic clock; after it is anchored, the
/// wall clock (here: a wall reading of 0, as if stepped back 56 years) no
/// longer moves it.
#[test]
fn the_clock_follows_monotonic_time_not_the_wall_clock() {
    let c = Clock::anchored_at(0.0);
    let t1 = c.now();
    let t2 = c.now();
    assert!(
        (0.0..60.0).contains(&t1),
        "the clock read the wall clock: {t1}"
    );
    assert!(t2 >= t1);
}

/// Found by the stricter crash checker: after a master restart, an agent
/// reports a task FINISHED while its RUNNING update is still unacknowledged;
/// reconciliation must answer RUNNING (what the framework hears next), or
/// the framework hears FINISHED, then RUNNING.
#[test]
fn reconciliation_answers_the_state_the_framework_hears_next() {
    let store = MemoryStore::default();
    let mut m = master();
    let aid = AgentID::new("A");
    m.admitted_agents.insert(aid.clone());
    let mut info = framework("f");
    info.id = Some(FrameworkID::new("F"));
    let t = task("t", &aid, "cpus:1;mem:32");
    register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![AgentTask {
            framework_id: FrameworkID::new("F"),
            task: t.clone(),
            state: TaskState::TASK_FINISHED,
            status_update_state: Some(TaskState::TASK_RUNNING),
        }],
        vec![info.clone()],
        1.0,
    );
    let (fid, mut sched) = subscribe(&mut m, info, 2.0);
    m.reconcile(&fid, &[], 3.0);
    let told: Vec<TaskState> = updates(&drain(&mut sched))
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(told, vec![TaskState::TASK_RUNNING]);
}

/// Review finding: an agent back from unreachable has its lost tasks
/// killed; the registry keeps calling it unreachable until the agent has
/// provably received the kills (its first PONG after re-admission), so a
/// master restarted in between kills them again instead of adopting them.
#[test]
fn an_agent_back_from_unreachable_stays_marked_until_it_has_heard_the_kills() {
    let store = MemoryStore::default();
    let aid = AgentID::new("A");
    store
        .write_batch(&[
            ("agents/A".into(), b"{}".to_vec()),
            ("unreachable/A".into(), b"5".to_vec()),
        ])
        .unwrap();
    let restarted = || {
        let mut m = master();
        m.admitted_agents.insert(aid.clone());
        m.unreachable_agents.insert(aid.clone(), 5.0);
        m
    };
    let mut info = framework("not-partition-aware");
    info.id = Some(FrameworkID::new("F"));
    let running = AgentTask {
        framework_id: FrameworkID::new("F"),
        task: task("t", &aid, "cpus:1;mem:32"),
        state: TaskState::TASK_RUNNING,
        status_update_state: None,
    };
    let kills = |events: &[AgentEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, AgentEvent::KillTask { .. }))
            .count()
    };
    let mut m = restarted();
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![running.clone()],
        vec![info.clone()],
        10.0,
    );
    assert_eq!(kills(&drain(&mut events)), 1);
    assert_eq!(
        store.get("unreachable/A").unwrap().unwrap().value,
        b"5".to_vec(),
        "marked reachable before the agent could have heard the kills"
    );
    // The master dies now; the next one still kills the task.
    let mut m = restarted();
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![running],
        vec![info],
        20.0,
    );
    let seen = drain(&mut events);
    assert_eq!(kills(&seen), 1);
    // A PONG to another PING (an older stream's, a heartbeat) proves
    // nothing; the one to the PING queued after the kills does.
    m.agent_ponged(&aid, None, 20.5);
    run_registrar(&mut m, &store, 20.5);
    assert_eq!(
        store.get("unreachable/A").unwrap().unwrap().value,
        b"5".to_vec()
    );
    m.agent_ponged(&aid, ping_nonce(&seen), 21.0);
    run_registrar(&mut m, &store, 21.0);
    assert_eq!(
        store.get("unreachable/A").unwrap().unwrap().value,
        registry::REACHABLE.to_vec()
    );
}

/// Review finding: a second TEARDOWN while the first is being written is
/// answered only once the removal is durable (and told if it failed).
#[test]
fn a_second_teardown_waits_for_the_removal_to_be_written() {
    let mut m = master();
    let (fid, _events) = subscribe(&mut m, framework("leaving"), 0.0);
    let (r1, mut a1) = oneshot::channel();
    let (r2, mut a2) = oneshot::channel();
    m.request_remove_framework(&fid, Some(r1), 1.0);
    m.request_remove_framework(&fid, Some(r2), 1.0);
    assert!(
        a2.try_recv().is_err(),
        "answered before the removal was written"
    );
    let batch = m.take_registry_batch().unwrap();
    m.registry_written(batch.last, Err("disk full".into()), 1.1);
    assert!(matches!(a1.try_recv(), Ok(Err(_))));
    assert!(
        matches!(a2.try_recv(), Ok(Err(_))),
        "the second caller was told it succeeded"
    );
}

/// Review finding: frameworks an agent reports are booked only if it runs
/// tasks of them, and only with a FrameworkInfo the master would accept.
#[test]
fn an_agent_cannot_inject_frameworks() {
    let store = MemoryStore::default();
    let mut m = master();
    let phantom = FrameworkInfo {
        id: Some(FrameworkID::new("phantom")),
        ..framework("phantom")
    };
    let mut bad = framework("bad");
    bad.id = Some(FrameworkID::new("bad"));
    bad.failover_timeout = 1e308;
    let aid = AgentID::new("A");
    register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![AgentTask {
            framework_id: FrameworkID::new("bad"),
            task: task("t", &aid, "cpus:1;mem:32"),
            state: TaskState::TASK_RUNNING,
            status_update_state: None,
        }],
        vec![phantom, bad],
        1.0,
    );
    assert!(!m.frameworks.contains_key(&FrameworkID::new("phantom")));
    let booked = &m.frameworks[&FrameworkID::new("bad")];
    assert!(booked.info.failover_timeout.is_finite() && booked.info.failover_timeout < 1e9);
}

/// Review finding: a non-finite timestamp from an executor is not kept
/// (serde_json would render it as null).
#[test]
fn a_non_finite_timestamp_is_replaced() {
    let store = MemoryStore::default();
    let mut m = master();
    let (fid, mut sched) = subscribe(&mut m, framework("f"), 0.0);
    let (aid, _e) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:2;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    let t = task("t", &aid, "cpus:1;mem:32");
    book_task(&mut m, &fid, &aid, &t, TaskState::TASK_STAGING);
    let mut s = TaskStatus::new(t.task_id.clone(), TaskState::TASK_RUNNING);
    s.timestamp = Some(f64::INFINITY);
    m.agent_update(&aid, &fid, s, 3.0).unwrap();
    let told = updates(&drain(&mut sched));
    assert_eq!(told.last().and_then(|s| s.timestamp), Some(3.0));
}

/// Review follow-up: an agent re-registering while the book already holds
/// it (its connection dropped before the kills sent at its return arrived)
/// is told again to kill the tasks the book has ended.
#[test]
fn a_known_agent_still_running_an_ended_task_is_told_to_kill_it() {
    let store = MemoryStore::default();
    let mut m = master();
    let (fid, _s) = subscribe(&mut m, framework("f"), 0.0);
    let (aid, _e) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:2;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    let t = task("t", &aid, "cpus:1;mem:32");
    let mut lost = TaskEntry::new(
        t.clone(),
        fid.clone(),
        aid.clone(),
        TaskState::TASK_LOST,
        "*".into(),
        Resources::new(),
        None,
    );
    lost.resources_released = true;
    m.frameworks.get_mut(&fid).unwrap().push_completed(lost, 10);
    let mut info = framework("f");
    info.id = Some(fid.clone());
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some(&aid.value), "cpus:2;mem:64"),
        vec![reported(fid.clone(), t.clone(), TaskState::TASK_RUNNING)],
        vec![info],
        1.0,
    );
    assert!(told_to_kill(&drain(&mut events), &t.task_id));
}

/// A partition-aware framework's task on an agent back from unreachable
/// resumes, also when the master restarted meanwhile (Mesos adopts it; it
/// used to be killed because the restarted book did not hold it).
#[test]
fn a_partition_aware_task_resumes_after_a_restart() {
    let store = MemoryStore::default();
    let mut m = master();
    let aid = AgentID::new("A");
    m.admitted_agents.insert(aid.clone());
    m.unreachable_agents.insert(aid.clone(), 0.0);
    let mut info = framework("partition-aware");
    info.id = Some(FrameworkID::new("F"));
    info.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    let t = task("t", &aid, "cpus:1;mem:32");
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![reported(
            FrameworkID::new("F"),
            t.clone(),
            TaskState::TASK_RUNNING,
        )],
        vec![info.clone()],
        1.0,
    );
    assert!(
        !drain(&mut events)
            .iter()
            .any(|e| matches!(e, AgentEvent::KillTask { .. })),
        "a partition-aware task was killed on its agent's return"
    );
    let (fid, mut sched) = subscribe(&mut m, info, 2.0);
    m.reconcile(&fid, &[], 3.0);
    let told: Vec<TaskState> = updates(&drain(&mut sched))
        .into_iter()
        .map(|s| s.state)
        .collect();
    assert_eq!(told.last(), Some(&TaskState::TASK_RUNNING));
}

/// Second review, B1: a known agent re-registering with a live task the
/// book no longer holds at all (the completed list is bounded) is told to
/// kill it, and its mark stays until it has heard that.
#[test]
fn a_known_agent_running_a_forgotten_task_is_told_to_kill_it() {
    let store = MemoryStore::default();
    let mut m = master();
    m.config.max_completed_tasks_per_framework = 0;
    let (fid, _s) = subscribe(&mut m, framework("f"), 0.0);
    let (aid, _e) = register(
        &mut m,
        &store,
        agent_info(None, "cpus:2;mem:64"),
        vec![],
        vec![],
        0.0,
    );
    let t = task("forgotten", &aid, "cpus:1;mem:32");
    let mut info = framework("f");
    info.id = Some(fid.clone());
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some(&aid.value), "cpus:2;mem:64"),
        vec![reported(fid.clone(), t.clone(), TaskState::TASK_RUNNING)],
        vec![info],
        1.0,
    );
    assert!(
        told_to_kill(&drain(&mut events), &t.task_id),
        "a live task the book does not hold was left running"
    );
}

/// Second review, B2: a task reconciliation reported LOST stays lost even
/// if its framework re-subscribed as partition-aware meanwhile.
#[test]
fn reconciliations_lost_holds_after_the_framework_turns_partition_aware() {
    let store = MemoryStore::default();
    let mut m = master();
    let aid = AgentID::new("A");
    m.admitted_agents.insert(aid.clone());
    m.unreachable_agents.insert(aid.clone(), 0.0);
    let (fid, mut sched) = subscribe(&mut m, framework("f"), 1.0);
    let t = task("t", &aid, "cpus:1;mem:32");
    m.reconcile(
        &fid,
        &[mesos_types::scheduler::ReconcileTask {
            task_id: t.task_id.clone(),
            agent_id: Some(aid.clone()),
        }],
        2.0,
    );
    assert_eq!(
        updates(&drain(&mut sched)).last().map(|s| s.state),
        Some(TaskState::TASK_LOST)
    );
    let mut pa = framework("f");
    pa.id = Some(fid.clone());
    pa.capabilities = vec![Capability {
        kind: Some(FrameworkCapability::PARTITION_AWARE),
    }];
    let (_, mut sched) = subscribe(&mut m, pa.clone(), 3.0);
    let (_, mut events) = register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![reported(fid.clone(), t.clone(), TaskState::TASK_RUNNING)],
        vec![pa],
        4.0,
    );
    assert!(told_to_kill(&drain(&mut events), &t.task_id));
    assert!(
        updates(&drain(&mut sched))
            .iter()
            .all(|s| s.state == TaskState::TASK_LOST),
        "a task told LOST was resumed"
    );
}

/// Second review, B3: an agent still to prove it heard the kills of its
/// return keeps its mark when a new unreachable mark finds it alive.
#[test]
fn a_mark_awaiting_its_pong_is_not_cleared_by_a_later_round() {
    let store = MemoryStore::default();
    store
        .write_batch(&[
            ("agents/A".into(), b"{}".to_vec()),
            ("unreachable/A".into(), b"5".to_vec()),
        ])
        .unwrap();
    let mut m = master();
    let aid = AgentID::new("A");
    m.admitted_agents.insert(aid.clone());
    m.unreachable_agents.insert(aid.clone(), 5.0);
    let (_, _events) = register(
        &mut m,
        &store,
        agent_info(Some("A"), "cpus:4;mem:1024"),
        vec![],
        vec![],
        10.0,
    );
    // Silent for a round, then it speaks (an UPDATE, not the PONG) while
    // the new mark is written.
    m.silent_agents(12.0, 0.1);
    let batch = m.take_registry_batch().unwrap();
    m.agent_seen(&aid, 12.05);
    let writes: Vec<(String, Vec<u8>)> = batch.ops.iter().flat_map(|op| op.records()).collect();
    store.write_batch(&writes).unwrap();
    m.registry_written(batch.last, Ok(()), 12.1);
    run_registrar(&mut m, &store, 12.1);
    assert_ne!(
        store.get("unreachable/A").unwrap().unwrap().value,
        registry::REACHABLE.to_vec(),
        "cleared without the PONG that proves the kills arrived"
    );
}
