//! Unit tests of the command executor state machine.

use super::*;
use TaskState::*;
use mesos_types::executor::{Acknowledged, KillEvent, LaunchEvent, Subscribed};
use mesos_types::{AgentInfo, Capability, CommandInfo, DurationInfo, ExecutorInfo};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

fn config(checkpoint: bool) -> Config {
    Config {
        agent_endpoint: "127.0.0.1:5051".into(),
        framework_id: "fw".into(),
        executor_id: "t1".into(),
        sandbox: PathBuf::from("/sandbox"),
        checkpoint,
        shutdown_grace_period: Duration::from_secs(5),
        recovery_timeout: Duration::from_secs(900),
        subscription_backoff_max: Duration::from_secs(2),
    }
}

fn machine(checkpoint: bool) -> Machine {
    let counter = Arc::new(AtomicU8::new(0));
    let entropy = Entropy {
        uuid: Box::new(move || [counter.fetch_add(1, Ordering::SeqCst); 16]),
        now: Box::new(|| 1000.5),
    };
    let mut m = Machine::new(config(checkpoint), entropy);
    let start = m.start();
    assert!(matches!(&start[..], [Action::Subscribe(_)]));
    m
}

fn task(id: &str, command: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: id.into(),
        command: Some(CommandInfo {
            value: Some(command.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn subscribed(capabilities: &[FrameworkCapability]) -> Input {
    let mut e = Event::bare(ExecutorEventType::SUBSCRIBED);
    e.subscribed = Some(Subscribed {
        executor_info: ExecutorInfo {
            executor_id: "t1".into(),
            ..Default::default()
        },
        framework_info: FrameworkInfo {
            id: Some("fw".into()),
            capabilities: capabilities
                .iter()
                .map(|c| Capability { kind: Some(*c) })
                .collect(),
            ..Default::default()
        },
        agent_info: AgentInfo {
            hostname: "agent-host".into(),
            ..Default::default()
        },
        container_id: None,
    });
    Input::Event(Box::new(e))
}

fn launch(t: TaskInfo) -> Input {
    let mut e = Event::bare(ExecutorEventType::LAUNCH);
    e.launch = Some(LaunchEvent { task: t });
    Input::Event(Box::new(e))
}

fn kill(id: &str, grace_secs: Option<i64>) -> Input {
    let mut e = Event::bare(ExecutorEventType::KILL);
    e.kill = Some(KillEvent {
        task_id: id.into(),
        kill_policy: grace_secs.map(|s| KillPolicy {
            grace_period: Some(DurationInfo {
                nanoseconds: s * 1_000_000_000,
            }),
        }),
    });
    Input::Event(Box::new(e))
}

fn ack(status: &TaskStatus) -> Input {
    let mut e = Event::bare(ExecutorEventType::ACKNOWLEDGED);
    e.acknowledged = Some(Acknowledged {
        task_id: status.task_id.clone(),
        uuid: status.uuid.clone().unwrap(),
    });
    Input::Event(Box::new(e))
}

fn updates(actions: &[Action]) -> Vec<TaskStatus> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(c) => c.update.as_ref().map(|u| u.status.clone()),
            _ => None,
        })
        .collect()
}

fn states(actions: &[Action]) -> Vec<(TaskState, Option<String>)> {
    updates(actions)
        .into_iter()
        .map(|s| (s.state, s.message))
        .collect()
}

/// Subscribes, launches `command` and reports it forked as pid 42; returns all updates so far.
fn running(
    m: &mut Machine,
    capabilities: &[FrameworkCapability],
    command: &str,
) -> Vec<TaskStatus> {
    m.handle(subscribed(capabilities));
    let a = m.handle(launch(task("t1", command)));
    assert!(a.iter().any(|x| matches!(x, Action::Spawn(_))), "{a:?}");
    let mut all = updates(&a);
    let b = m.handle(Input::Spawned { pid: 42 });
    assert!(b.contains(&Action::Log("Forked command at 42".into())));
    all.extend(updates(&b));
    all
}

#[test]
fn launch_runs_command_and_reports_starting_then_running() {
    let mut m = machine(false);
    let sent = running(&mut m, &[], "echo hi");
    assert_eq!(
        sent.iter()
            .map(|s| (s.state, s.message.clone()))
            .collect::<Vec<_>>(),
        vec![(TASK_STARTING, None), (TASK_RUNNING, None)]
    );
    for s in &sent {
        assert_eq!(s.source, Some(Source::SOURCE_EXECUTOR));
        assert_eq!(s.executor_id, Some("t1".into()));
        assert_eq!(s.timestamp, Some(1000.5));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s.uuid.as_ref().unwrap())
            .unwrap();
        assert_eq!(raw.len(), 16);
    }
    assert_ne!(sent[0].uuid, sent[1].uuid);
}

#[test]
fn shell_and_argv_command_specs() {
    let spec = command_spec(&task("t", "echo hi; exit 3"), std::path::Path::new("/sb")).unwrap();
    assert_eq!(
        (spec.program.as_str(), spec.args.clone()),
        (
            "/bin/sh",
            vec!["-c".to_string(), "echo hi; exit 3".to_string()]
        )
    );
    assert_eq!(spec.cwd, PathBuf::from("/sb"));

    let mut t = task("t", "/bin/echo");
    let c = t.command.as_mut().unwrap();
    c.shell = false;
    c.arguments = vec!["echo".into(), "a".into(), "b".into()];
    c.environment = Some(mesos_types::Environment {
        variables: vec![mesos_types::EnvVariable {
            name: "K".into(),
            value: Some("V".into()),
            ..Default::default()
        }],
    });
    let spec = command_spec(&t, std::path::Path::new("/sb")).unwrap();
    assert_eq!(spec.program, "/bin/echo");
    assert_eq!(spec.arg0.as_deref(), Some("echo"));
    assert_eq!(spec.args, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(spec.env, vec![("K".to_string(), "V".to_string())]);
    assert!(command_spec(&TaskInfo::default(), std::path::Path::new("/")).is_err());
}

#[test]
fn exit_status_maps_to_terminal_update_and_exit_after_ack() {
    for (term, state, msg) in [
        (
            Termination::Exited(0),
            TASK_FINISHED,
            "Command exited with status 0",
        ),
        (
            Termination::Exited(3),
            TASK_FAILED,
            "Command exited with status 3",
        ),
        (
            Termination::Signaled {
                signal: 9,
                core_dumped: false,
            },
            TASK_FAILED,
            "Command terminated with signal Killed",
        ),
    ] {
        let mut m = machine(false);
        let mut sent = running(&mut m, &[], "x");
        let a = m.handle(Input::Exited(term));
        assert_eq!(states(&a), vec![(state, Some(msg.to_string()))]);
        // The driver reports the exit only after killing the stragglers
        // (the leader still unreaped); once reaped, the group id may name
        // someone else's group, so the machine must not signal it again.
        let signals: Vec<_> = a
            .iter()
            .filter(|x| matches!(x, Action::SignalGroup { .. }))
            .collect();
        assert!(
            signals.is_empty(),
            "the process group is signalled after its leader was reaped: {signals:?}"
        );
        let late = m.handle(Input::Timer(Timer::Escalation));
        assert!(!late.iter().any(|x| matches!(x, Action::SignalGroup { .. })));
        sent.extend(updates(&a));
        // Acknowledging STARTING and RUNNING is not enough to exit.
        assert!(!m.handle(ack(&sent[0])).contains(&Action::Exit(0)));
        assert!(!m.handle(ack(&sent[2])).contains(&Action::Exit(0)));
        assert_eq!(m.handle(ack(&sent[1])), vec![Action::Exit(0)]);
    }
}

#[test]
fn kill_with_killing_capability_sends_killing_term_then_kill() {
    let mut m = machine(false);
    running(
        &mut m,
        &[FrameworkCapability::TASK_KILLING_STATE],
        "sleep 1000",
    );
    let a = m.handle(kill("t1", Some(7)));
    assert_eq!(states(&a), vec![(TASK_KILLING, None)]);
    assert!(a.contains(&Action::SignalGroup {
        pid: 42,
        signal: Sig::Term
    }));
    assert!(a.contains(&Action::Schedule {
        after: Duration::from_secs(7),
        timer: Timer::Escalation
    }));
    // A second KILL changes nothing.
    assert!(states(&m.handle(kill("t1", None))).is_empty());
    let a = m.handle(Input::Timer(Timer::Escalation));
    assert!(a.contains(&Action::SignalGroup {
        pid: 42,
        signal: Sig::Kill
    }));
    let a = m.handle(Input::Exited(Termination::Signaled {
        signal: 9,
        core_dumped: false,
    }));
    assert_eq!(
        states(&a),
        vec![(
            TASK_KILLED,
            Some("Command terminated with signal Killed".into())
        )]
    );
}

#[test]
fn kill_without_capability_skips_killing_and_uses_task_policy() {
    let mut m = machine(false);
    m.handle(subscribed(&[]));
    let mut t = task("t1", "sleep 1000");
    t.kill_policy = Some(KillPolicy {
        grace_period: Some(DurationInfo {
            nanoseconds: 2_000_000_000,
        }),
    });
    m.handle(launch(t));
    m.handle(Input::Spawned { pid: 42 });
    let a = m.handle(kill("t1", None));
    assert!(states(&a).is_empty());
    assert!(a.contains(&Action::Schedule {
        after: Duration::from_secs(2),
        timer: Timer::Escalation
    }));
    // The process exits on SIGTERM: no escalation.
    let a = m.handle(Input::Exited(Termination::Signaled {
        signal: 15,
        core_dumped: false,
    }));
    assert_eq!(
        states(&a),
        vec![(
            TASK_KILLED,
            Some("Command terminated with signal Terminated".into())
        )]
    );
    assert!(
        !m.handle(Input::Timer(Timer::Escalation))
            .iter()
            .any(|x| matches!(x, Action::SignalGroup { .. }))
    );
}

#[test]
fn default_kill_grace_is_three_seconds_and_unknown_task_is_ignored() {
    let mut m = machine(false);
    running(&mut m, &[], "sleep 1000");
    let a = m.handle(kill("other", None));
    assert!(!a.iter().any(|x| matches!(x, Action::SignalGroup { .. })));
    let a = m.handle(kill("t1", None));
    assert!(a.contains(&Action::Schedule {
        after: DEFAULT_KILL_GRACE,
        timer: Timer::Escalation
    }));
}

#[test]
fn second_launch_is_rejected() {
    let mut m = machine(false);
    running(&mut m, &[], "sleep 1000");
    let a = m.handle(launch(task("t2", "echo")));
    let u = updates(&a);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].task_id, TaskID::new("t2"));
    assert_eq!(u[0].state, TASK_FAILED);
    assert_eq!(
        u[0].message.as_deref(),
        Some("Attempted to run multiple tasks using a \"command\" executor")
    );
    assert!(!a.iter().any(|x| matches!(x, Action::Spawn(_))));
}

#[test]
fn spawn_failure_fails_the_task() {
    let mut m = machine(false);
    m.handle(subscribed(&[]));
    m.handle(launch(task("t1", "x")));
    let a = m.handle(Input::SpawnFailed("No such file".into()));
    assert_eq!(
        states(&a),
        vec![(
            TASK_FAILED,
            Some("Failed to launch command: No such file".into())
        )]
    );
}

#[test]
fn shutdown_kills_the_task_and_exits_after_terminal_ack() {
    let mut m = machine(false);
    let mut sent = running(&mut m, &[], "sleep 1000");
    let a = m.handle(Input::Event(Box::new(Event::bare(
        ExecutorEventType::SHUTDOWN,
    ))));
    assert!(a.contains(&Action::SignalGroup {
        pid: 42,
        signal: Sig::Term
    }));
    let a = m.handle(Input::Exited(Termination::Signaled {
        signal: 15,
        core_dumped: false,
    }));
    sent.extend(updates(&a));
    assert_eq!(sent[2].state, TASK_KILLED);
    m.handle(ack(&sent[0]));
    m.handle(ack(&sent[1]));
    assert_eq!(m.handle(ack(&sent[2])), vec![Action::Exit(0)]);

    let mut idle = machine(false);
    idle.handle(subscribed(&[]));
    let a = idle.handle(Input::Event(Box::new(Event::bare(
        ExecutorEventType::SHUTDOWN,
    ))));
    assert!(a.contains(&Action::Exit(0)));
}

#[test]
fn disconnect_without_checkpoint_kills_and_exits_nonzero() {
    let mut m = machine(false);
    running(&mut m, &[], "sleep 1000");
    let a = m.handle(Input::Disconnected);
    assert!(a.contains(&Action::SignalGroup {
        pid: 42,
        signal: Sig::Kill
    }));
    assert_eq!(a.last(), Some(&Action::Exit(1)));
}

#[test]
fn disconnect_with_checkpoint_resubscribes_with_unacknowledged_state() {
    let mut m = machine(true);
    let sent = running(&mut m, &[], "sleep 1000");
    m.handle(ack(&sent[0]));
    let a = m.handle(Input::Disconnected);
    assert!(!a.contains(&Action::Exit(1)));
    assert!(a.contains(&Action::Schedule {
        after: Duration::from_secs(900),
        timer: Timer::Recovery(2)
    }));
    // A failed attempt schedules another try but not another recovery deadline.
    let b = m.handle(Input::SubscribeFailed {
        fatal: false,
        reason: "refused".into(),
    });
    assert!(!b.iter().any(|x| matches!(
        x,
        Action::Schedule {
            timer: Timer::Recovery(_),
            ..
        }
    )));
    let c = m.handle(Input::Timer(Timer::Resubscribe));
    let [Action::Subscribe(call)] = &c[..] else {
        panic!("{c:?}")
    };
    let sub = call.subscribe.as_ref().unwrap();
    assert!(
        sub.unacknowledged_tasks.is_empty(),
        "an update of the task was acknowledged"
    );
    assert_eq!(sub.unacknowledged_updates.len(), 1);
    assert_eq!(sub.unacknowledged_updates[0].status.state, TASK_RUNNING);
    // Re-subscribed in time: the old recovery deadline is stale.
    m.handle(subscribed(&[]));
    assert!(m.handle(Input::Timer(Timer::Recovery(2))).is_empty());
}

#[test]
fn recovery_timeout_kills_and_exits() {
    let mut m = machine(true);
    running(&mut m, &[], "sleep 1000");
    m.handle(Input::Disconnected);
    let a = m.handle(Input::Timer(Timer::Recovery(2)));
    assert!(a.contains(&Action::SignalGroup {
        pid: 42,
        signal: Sig::Kill
    }));
    assert_eq!(a.last(), Some(&Action::Exit(1)));
}

#[test]
fn refused_subscription_is_fatal_even_when_checkpointing() {
    let mut m = machine(true);
    let a = m.handle(Input::SubscribeFailed {
        fatal: true,
        reason: "400 Framework cannot be found".into(),
    });
    assert_eq!(a.last(), Some(&Action::Exit(1)));
}

#[test]
fn refusal_while_resubscribing_is_retried_until_the_recovery_timeout() {
    // After the agent died, its port may briefly answer for someone else
    // (another agent answering 400 "Framework cannot be found"): the task
    // must survive that and wait for its own agent.
    let mut m = machine(true);
    running(&mut m, &[], "sleep 1000");
    m.handle(Input::Disconnected);
    let a = m.handle(Input::SubscribeFailed {
        fatal: true,
        reason: "400 Framework cannot be found".into(),
    });
    assert!(!a.contains(&Action::Exit(1)), "{a:?}");
    assert!(!a.iter().any(|x| matches!(x, Action::SignalGroup { .. })));
    assert!(
        a.iter().any(|x| matches!(
            x,
            Action::Schedule {
                timer: Timer::Resubscribe,
                ..
            }
        )),
        "tries again: {a:?}"
    );
    let end = m.handle(Input::Timer(Timer::Recovery(2)));
    assert_eq!(
        end.last(),
        Some(&Action::Exit(1)),
        "gives up at the recovery timeout"
    );
}

#[test]
fn retry_tick_resends_only_updates_older_than_one_tick() {
    let mut m = machine(false);
    let sent = running(&mut m, &[], "sleep 1000");
    assert!(updates(&m.handle(Input::RetryTick)).is_empty());
    m.handle(ack(&sent[0]));
    let again = updates(&m.handle(Input::RetryTick));
    assert_eq!(again, vec![sent[1].clone()], "same uuid is re-sent");
}

#[test]
fn launch_group_is_refused() {
    let mut m = machine(false);
    m.handle(subscribed(&[]));
    let mut e = Event::bare(ExecutorEventType::LAUNCH_GROUP);
    e.launch_group = Some(mesos_types::executor::LaunchGroupEvent {
        task_group: mesos_types::TaskGroupInfo {
            tasks: vec![task("a", "x"), task("b", "y")],
        },
    });
    let a = m.handle(Input::Event(Box::new(e)));
    assert_eq!(
        updates(&a)
            .iter()
            .filter(|s| s.state == TASK_FAILED)
            .count(),
        2
    );
}
