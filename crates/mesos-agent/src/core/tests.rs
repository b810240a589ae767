//! Unit tests of the agent core: master events and executor calls in,
//! effects out, no I/O.

use super::*;
use TaskState::*;
use mesos_types::executor::{Subscribe, UnacknowledgedUpdate};
use mesos_types::{Capability, EnvVariable, Environment, URI};
use std::net::Ipv4Addr;

const UUID1: &str = "AAAAAAAAAAAAAAAAAAAAAQ==";
const UUID2: &str = "AAAAAAAAAAAAAAAAAAAAAg==";

fn config() -> CoreConfig {
    CoreConfig {
        work_dir: PathBuf::from("/w"),
        launcher_dir: PathBuf::from("/usr/libexec/mesos"),
        ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)),
        port: 5051,
        executor_registration_timeout: Duration::from_secs(60),
        executor_shutdown_grace_period: Duration::from_secs(5),
        executor_reregistration_timeout: Duration::from_secs(2),
        recovery_timeout: Duration::from_secs(900),
        status_update_retry_interval: Duration::from_secs(10),
        executor_environment: None,
        checkpoint: false,
        fetch_limits: Default::default(),
    }
}

fn registered() -> Core {
    let mut c = Core::new(
        config(),
        AgentInfo {
            hostname: "agent1".into(),
            port: 5051,
            ..Default::default()
        },
    );
    let master = MasterInfo {
        id: "M".into(),
        ip: 1,
        port: 5050,
        ..Default::default()
    };
    let fx = c.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info: master,
        },
        Instant::now(),
    );
    assert!(fx.is_empty());
    c
}

fn framework(caps: &[FrameworkCapability]) -> FrameworkInfo {
    FrameworkInfo {
        id: Some("F".into()),
        name: "fw".into(),
        user: "u".into(),
        capabilities: caps.iter().map(|c| Capability { kind: Some(*c) }).collect(),
        ..Default::default()
    }
}

fn command_task(id: &str, cmd: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: id.into(),
        command: Some(CommandInfo {
            value: Some(cmd.into()),
            ..Default::default()
        }),
        resources: vec![mesos_types::Resource::scalar("cpus", 1.0)],
        ..Default::default()
    }
}

fn custom_task(id: &str, executor: &str) -> TaskInfo {
    TaskInfo {
        name: id.into(),
        task_id: id.into(),
        executor: Some(ExecutorInfo {
            executor_id: executor.into(),
            command: Some(CommandInfo {
                value: Some("python3 exec.py".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn run(c: &mut Core, task: TaskInfo) -> Vec<Effect> {
    c.handle_event(
        AgentEvent::RunTask {
            framework_info: framework(&[]),
            task,
        },
        Instant::now(),
    )
}

fn launch_spec(fx: &[Effect]) -> LaunchSpec {
    fx.iter()
        .find_map(|e| match e {
            Effect::Launch(s) => Some((**s).clone()),
            _ => None,
        })
        .expect("a launch")
}

fn to_master(fx: &[Effect]) -> Vec<TaskStatus> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Master(call) => match &**call {
                AgentCall::Update { status, .. } => Some(status.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn to_executor(fx: &[Effect]) -> Vec<Event> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Executor { event, .. } => Some((**event).clone()),
            _ => None,
        })
        .collect()
}

fn exec_status(task: &str, state: TaskState, uuid: &str) -> TaskStatus {
    let mut s = TaskStatus::new(task.into(), state);
    s.source = Some(Source::SOURCE_EXECUTOR);
    s.uuid = Some(uuid.into());
    s
}

/// Runs a command task, forks its executor (pid 100) and subscribes it on stream 7.
fn running_command_task(c: &mut Core) -> ContainerID {
    let spec = launch_spec(&run(c, command_task("t1", "echo hello world; sleep 5")));
    c.executor_launched(&"F".into(), &"t1".into(), &spec.container_id, 100, None);
    c.subscribe(
        &"F".into(),
        &"t1".into(),
        Subscribe::default(),
        7,
        Instant::now(),
    )
    .unwrap();
    spec.container_id
}

#[test]
fn command_task_gets_a_synthesized_executor_and_sandbox() {
    let mut c = registered();
    let mut task = command_task("t1", "echo hello world; sleep 5");
    task.command.as_mut().unwrap().uris = vec![URI {
        value: "/opt/x.tgz".into(),
        ..Default::default()
    }];
    let spec = launch_spec(&run(&mut c, task));
    let cid = &spec.container_id.value;
    assert_eq!(
        spec.directory,
        PathBuf::from(format!(
            "/w/slaves/A-S0/frameworks/F/executors/t1/runs/{cid}"
        ))
    );
    assert_eq!(
        spec.latest,
        PathBuf::from("/w/slaves/A-S0/frameworks/F/executors/t1/runs/latest")
    );
    assert_eq!(
        spec.command.value.as_deref(),
        Some("/usr/libexec/mesos/mesos-executor")
    );
    assert!(!spec.command.shell);
    assert_eq!(
        spec.uris.len(),
        1,
        "the task's URIs are fetched into the executor sandbox"
    );
    assert_eq!(spec.env["MESOS_EXECUTOR_ID"], "t1");
    assert_eq!(spec.env["MESOS_AGENT_ENDPOINT"], "10.0.0.5:5051");
    assert_eq!(spec.env["MESOS_SLAVE_PID"], "slave(1)@10.0.0.5:5051");
    assert_eq!(spec.env["MESOS_SLAVE_ID"], "A-S0");
    assert_eq!(spec.env["MESOS_CHECKPOINT"], "0");
    assert_eq!(spec.env["MESOS_HTTP_COMMAND_EXECUTOR"], "1");
    assert!(spec.inherit_env);
    let fw = c.frameworks().next().unwrap();
    let ex = &fw.executors[&ExecutorID::new("t1")];
    assert_eq!(
        ex.info.name.as_deref(),
        Some("Command Executor (Task: t1) (Command: sh -c 'echo hello w...')")
    );
    assert_eq!(ex.info.source.as_deref(), Some("t1"));
    assert_eq!(
        ex.info.resources,
        vec![mesos_types::Resource::scalar("cpus", 1.0)]
    );
    assert_eq!(ex.queued_tasks.len(), 1);
}

#[test]
fn short_commands_are_not_abbreviated() {
    let info = command_executor_info(Path::new("/l"), &"F".into(), &command_task("t", "sleep 10"));
    assert_eq!(
        info.name.as_deref(),
        Some("Command Executor (Task: t) (Command: sh -c 'sleep 10')")
    );
}

#[test]
fn custom_executor_env_and_task_delivery() {
    let mut c = registered();
    let mut task = custom_task("a", "exec-1");
    let cmd = task.executor.as_mut().unwrap().command.as_mut().unwrap();
    cmd.environment = Some(Environment {
        variables: vec![EnvVariable {
            name: "APP".into(),
            value: Some("1".into()),
            ..Default::default()
        }],
    });
    let spec = launch_spec(&run(&mut c, task));
    assert_eq!(spec.env["APP"], "1");
    assert_eq!(spec.env["MESOS_HTTP_COMMAND_EXECUTOR"], "0");
    assert_eq!(spec.command.value.as_deref(), Some("python3 exec.py"));
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("exec-1"));
    // A second task before subscription is queued; both are launched on SUBSCRIBE.
    assert!(run(&mut c, custom_task("b", "exec-1")).is_empty());
    // Not forked yet: a subscription is refused and the launch goes on.
    assert!(
        c.subscribe(&f, &e, Subscribe::default(), 2, Instant::now())
            .is_err()
    );
    assert!(c.wants_launch(&f, &e, &spec.container_id));
    c.fork_recorded(&f, &e, &spec.container_id);
    let fx = c
        .subscribe(&f, &e, Subscribe::default(), 3, Instant::now())
        .unwrap();
    let kinds: Vec<_> = to_executor(&fx).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ExecutorEventType::SUBSCRIBED,
            ExecutorEventType::LAUNCH,
            ExecutorEventType::LAUNCH
        ]
    );
    let sub = to_executor(&fx)[0].subscribed.clone().unwrap();
    assert_eq!(sub.framework_info.id, Some(f.clone()));
    assert_eq!(sub.executor_info.executor_id, e);
    assert_eq!(sub.agent_info.id, Some("A-S0".into()));
    // A third task goes straight to the subscribed executor.
    let fx = run(&mut c, custom_task("c", "exec-1"));
    assert!(
        matches!(&fx[..], [Effect::Executor { connection: 3, event }] if event.kind == ExecutorEventType::LAUNCH)
    );
}

#[test]
fn executor_updates_are_acked_forwarded_in_order_and_retried() {
    let mut c = registered();
    let cid = running_command_task(&mut c);
    let (f, e, t) = (
        FrameworkID::new("F"),
        ExecutorID::new("t1"),
        TaskID::new("t1"),
    );
    let now = Instant::now();
    let fx = c
        .executor_update(&f, &e, exec_status("t1", TASK_RUNNING, UUID1), now)
        .unwrap();
    let sent = to_master(&fx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].agent_id, Some("A-S0".into()));
    assert_eq!(sent[0].executor_id, Some(e.clone()));
    let cs = sent[0].container_status.clone().unwrap();
    assert_eq!(cs.container_id, Some(cid));
    assert_eq!(cs.executor_pid, Some(100));
    assert_eq!(
        cs.network_infos[0]["ip_addresses"][0]["ip_address"],
        "10.0.0.5"
    );
    let acks = to_executor(&fx);
    assert_eq!(
        acks[0].acknowledged.as_ref().unwrap().uuid,
        UUID1,
        "agent-level ack echoes the uuid"
    );

    let fx = c
        .executor_update(&f, &e, exec_status("t1", TASK_FINISHED, UUID2), now)
        .unwrap();
    assert!(to_master(&fx).is_empty(), "only the head is in flight");
    assert_eq!(to_executor(&fx).len(), 1);
    // A duplicate is acknowledged again but not queued twice.
    let fx = c
        .executor_update(&f, &e, exec_status("t1", TASK_FINISHED, UUID2), now)
        .unwrap();
    assert!(to_master(&fx).is_empty());
    assert_eq!(to_executor(&fx).len(), 1);

    assert!(c.tick(now + Duration::from_secs(5)).is_empty());
    assert_eq!(
        to_master(&c.tick(now + Duration::from_secs(10)))[0]
            .uuid
            .as_deref(),
        Some(UUID1)
    );

    let ack = |uuid: &str| AgentEvent::Acknowledge {
        framework_id: f.clone(),
        task_id: t.clone(),
        uuid: uuid.into(),
    };
    let fx = c.handle_event(ack(UUID1), now);
    assert_eq!(to_master(&fx)[0].state, TASK_FINISHED);
    // The command executor's only task ended: it is shut down.
    let fx = c.handle_event(ack(UUID2), now);
    let kinds: Vec<_> = to_executor(&fx).iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [ExecutorEventType::SHUTDOWN]);
    assert!(
        fx.iter().any(|e| matches!(
            e,
            Effect::Schedule {
                timer: Timer::ShutdownTimeout { .. },
                ..
            }
        )),
        "{fx:?}"
    );
    let ex = &c.frameworks().next().unwrap().executors[&e];
    assert!(ex.tasks.is_empty());
    assert_eq!(ex.completed_tasks[0].state, TASK_FINISHED);
    assert_eq!(ex.completed_tasks[0].statuses.len(), 2);
}

#[test]
fn finished_executor_and_framework_move_to_completed() {
    let mut c = registered();
    let cid = running_command_task(&mut c);
    let (f, e, t) = (
        FrameworkID::new("F"),
        ExecutorID::new("t1"),
        TaskID::new("t1"),
    );
    c.executor_update(
        &f,
        &e,
        exec_status("t1", TASK_FINISHED, UUID1),
        Instant::now(),
    )
    .unwrap();
    let exit = ExitInfo {
        wait_status: 0,
        description: "exited with status 0".into(),
    };
    let fx = c.executor_exited(&f, &e, &cid, &exit, Instant::now());
    assert!(to_master(&fx).is_empty(), "the task already ended");
    assert!(!fx.iter().any(
        |e| matches!(e, Effect::Master(c) if matches!(**c, AgentCall::ExecutorExited { .. }))
    ));
    assert!(fx.contains(&Effect::CloseStream { connection: 7 }));
    assert_eq!(
        c.frameworks().count(),
        1,
        "kept until the terminal update is acknowledged"
    );
    c.handle_event(
        AgentEvent::Acknowledge {
            framework_id: f,
            task_id: t,
            uuid: UUID1.into(),
        },
        Instant::now(),
    );
    assert_eq!(c.frameworks().count(), 0);
    let done = c.completed_frameworks().next().unwrap();
    assert_eq!(done.completed_executors[0].completed_tasks.len(), 1);
    assert_eq!(c.sandboxes().len(), 1, "finished sandboxes stay browsable");
}

#[test]
fn executor_death_fails_its_tasks() {
    let mut c = registered();
    let spec = launch_spec(&run(&mut c, custom_task("a", "exec-1")));
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("exec-1"));
    c.executor_launched(&f, &e, &spec.container_id, 55, None);
    c.subscribe(&f, &e, Subscribe::default(), 2, Instant::now())
        .unwrap();
    let exit = ExitInfo {
        wait_status: 1 << 8,
        description: "exited with status 1".into(),
    };
    let fx = c.executor_exited(&f, &e, &spec.container_id, &exit, Instant::now());
    let u = to_master(&fx);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].state, TASK_FAILED);
    assert_eq!(u[0].reason, Some(Reason::REASON_EXECUTOR_TERMINATED));
    assert_eq!(u[0].source, Some(Source::SOURCE_AGENT));
    assert_eq!(
        u[0].message.as_deref(),
        Some("Executor exited with status 1")
    );
    let exited = fx.iter().any(|x| matches!(x, Effect::Master(c) if matches!(**c, AgentCall::ExecutorExited { status: 256, .. })));
    assert!(exited, "custom executors are reported to the master");
    // A stale exit notification changes nothing.
    assert!(
        c.executor_exited(&f, &e, &spec.container_id, &exit, Instant::now())
            .is_empty()
    );
}

#[test]
fn kill_before_subscription_kills_without_launching() {
    let mut c = registered();
    let spec = launch_spec(&run(&mut c, command_task("t1", "sleep 100")));
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    c.executor_launched(&f, &e, &spec.container_id, 100, None);
    let fx = c.handle_event(
        AgentEvent::KillTask {
            framework_id: f.clone(),
            task_id: "t1".into(),
            kill_policy: None,
        },
        Instant::now(),
    );
    let u = to_master(&fx);
    assert_eq!(u[0].state, TASK_KILLED);
    assert_eq!(u[0].source, Some(Source::SOURCE_AGENT));
    assert_eq!(u[0].reason, Some(Reason::REASON_TASK_KILLED_DURING_LAUNCH));
    assert!(fx.contains(&Effect::Destroy { pid: 100 }));
    assert!(
        c.subscribe(&f, &e, Subscribe::default(), 9, Instant::now())
            .is_err(),
        "the executor is being destroyed"
    );
}

#[test]
fn kill_of_a_running_task_goes_to_the_executor() {
    let mut c = registered();
    running_command_task(&mut c);
    let policy = Some(KillPolicy {
        grace_period: Some(mesos_types::DurationInfo { nanoseconds: 1 }),
    });
    let fx = c.handle_event(
        AgentEvent::KillTask {
            framework_id: "F".into(),
            task_id: "t1".into(),
            kill_policy: policy.clone(),
        },
        Instant::now(),
    );
    let ev = to_executor(&fx);
    assert_eq!(ev[0].kind, ExecutorEventType::KILL);
    assert_eq!(ev[0].kill.as_ref().unwrap().kill_policy, policy);
    let fx = c.handle_event(
        AgentEvent::KillTask {
            framework_id: "F".into(),
            task_id: "nope".into(),
            kill_policy: None,
        },
        Instant::now(),
    );
    assert_eq!(
        to_master(&fx)[0].state,
        TASK_LOST,
        "unknown task, framework not partition aware"
    );
}

#[test]
fn registration_timeout_destroys_and_fails() {
    let mut c = registered();
    // The timer is armed when the launch is accepted: the fetch counts.
    let fx = run(&mut c, command_task("t1", "sleep 100"));
    let spec = launch_spec(&fx);
    let timer_of = |fx: &[Effect]| {
        fx.iter().find_map(|e| match e {
            Effect::Schedule { after, timer } => Some((*after, timer.clone())),
            _ => None,
        })
    };
    let Some((after, timer)) = timer_of(&fx) else {
        panic!("timer")
    };
    assert_eq!(after, Duration::from_secs(60));
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    let fx = c.executor_launched(&f, &e, &spec.container_id, 100, None);
    assert!(timer_of(&fx).is_none(), "a second timer: {fx:?}");
    let fx = c.timer_fired(timer.clone(), Instant::now());
    assert!(fx.contains(&Effect::Destroy { pid: 100 }));
    let u = to_master(&fx);
    assert_eq!(u[0].state, TASK_FAILED);
    assert_eq!(
        u[0].reason,
        Some(Reason::REASON_EXECUTOR_REGISTRATION_TIMEOUT)
    );
    assert_eq!(
        u[0].message.as_deref(),
        Some("Executor did not register within 1mins")
    );
    // The process exits afterwards: nothing more to report.
    let exit = ExitInfo {
        wait_status: 9,
        description: "terminated with signal SIGKILL".into(),
    };
    assert!(
        to_master(&c.executor_exited(&f, &e, &spec.container_id, &exit, Instant::now())).is_empty()
    );

    // Still fetching when the timer fires: the task fails, and the
    // executor is killed as soon as it is forked.
    let mut c = registered();
    let fx = run(&mut c, command_task("t1", "sleep 100"));
    let (spec, (_, timer)) = (launch_spec(&fx), timer_of(&fx).unwrap());
    let fx = c.timer_fired(timer, Instant::now());
    assert_eq!(to_master(&fx)[0].state, TASK_FAILED);
    assert!(!fx.iter().any(|e| matches!(e, Effect::Destroy { .. })));
    let fx = c.executor_launched(&f, &e, &spec.container_id, 100, None);
    assert_eq!(fx, [Effect::Destroy { pid: 100 }]);

    // A subscribed executor is not affected by its (stale) timer.
    let mut c = registered();
    running_command_task(&mut c);
    let fw = c.frameworks().next().unwrap();
    let cid = fw.executors[&e].container_id.clone();
    let stale = Timer::RegistrationTimeout {
        framework_id: f,
        executor_id: e,
        container_id: cid,
    };
    assert!(c.timer_fired(stale, Instant::now()).is_empty());
}

#[test]
fn launch_failure_fails_the_task() {
    let mut c = registered();
    let spec = launch_spec(&run(&mut c, command_task("t1", "x")));
    let fx = c.launch_failed(
        &"F".into(),
        &"t1".into(),
        &spec.container_id,
        "Failed to fetch '/x': No such file",
        Instant::now(),
    );
    let u = to_master(&fx);
    assert_eq!(u[0].state, TASK_FAILED);
    assert_eq!(u[0].reason, Some(Reason::REASON_CONTAINER_LAUNCH_FAILED));
    assert_eq!(
        u[0].message.as_deref(),
        Some("Failed to fetch '/x': No such file")
    );
}

#[test]
fn shutdown_framework_sends_shutdown_then_kills_and_drops_updates() {
    let mut c = registered();
    let cid = running_command_task(&mut c);
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    c.executor_update(
        &f,
        &e,
        exec_status("t1", TASK_RUNNING, UUID1),
        Instant::now(),
    )
    .unwrap();
    let fx = c.handle_event(
        AgentEvent::ShutdownFramework {
            framework_id: f.clone(),
        },
        Instant::now(),
    );
    assert_eq!(to_executor(&fx)[0].kind, ExecutorEventType::SHUTDOWN);
    let Some(Effect::Schedule { after, timer }) = fx
        .iter()
        .find(|e| matches!(e, Effect::Schedule { .. }))
        .cloned()
    else {
        panic!()
    };
    assert_eq!(after, Duration::from_secs(5));
    let fx = c.timer_fired(timer, Instant::now());
    assert_eq!(fx[0], Effect::Destroy { pid: 100 });
    assert!(
        matches!(&fx[1..], [Effect::KillContainers { sandboxes }] if sandboxes.len() == 1),
        "{fx:?}"
    );
    let exit = ExitInfo {
        wait_status: 9,
        description: "terminated with signal SIGKILL".into(),
    };
    let fx = c.executor_exited(&f, &e, &cid, &exit, Instant::now());
    assert!(
        to_master(&fx).is_empty(),
        "no updates for a removed framework"
    );
    assert!(
        c.tick(Instant::now() + Duration::from_secs(60)).is_empty(),
        "its streams are gone"
    );
    assert_eq!(c.frameworks().count(), 0);
}

#[test]
fn invalid_tasks_get_task_error() {
    let mut c = registered();
    let fx = run(&mut c, command_task("../evil", "x"));
    let u = to_master(&fx);
    assert_eq!(u[0].state, TASK_ERROR);
    assert_eq!(u[0].reason, Some(Reason::REASON_TASK_INVALID));
    let neither = TaskInfo {
        task_id: "n".into(),
        ..Default::default()
    };
    assert_eq!(to_master(&run(&mut c, neither))[0].state, TASK_ERROR);
}

#[test]
fn updates_wait_for_registration_and_are_resent_on_reregistration() {
    let mut c = registered();
    running_command_task(&mut c);
    c.disconnected();
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    let fx = c
        .executor_update(
            &f,
            &e,
            exec_status("t1", TASK_RUNNING, UUID1),
            Instant::now(),
        )
        .unwrap();
    assert!(to_master(&fx).is_empty());
    assert!(c.tick(Instant::now() + Duration::from_secs(60)).is_empty());
    let AgentCall::Register {
        agent_info,
        tasks,
        frameworks,
        ..
    } = c.register_call()
    else {
        panic!()
    };
    assert_eq!(agent_info.id, Some("A-S0".into()));
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].state, TASK_RUNNING);
    assert_eq!(frameworks[0].id, Some(f));
    let master = MasterInfo {
        id: "M2".into(),
        ..Default::default()
    };
    let fx = c.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info: master,
        },
        Instant::now(),
    );
    assert_eq!(to_master(&fx)[0].uuid.as_deref(), Some(UUID1));
}

#[test]
fn executor_api_errors() {
    let mut c = registered();
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    let err = c
        .subscribe(&f, &e, Subscribe::default(), 1, Instant::now())
        .unwrap_err();
    assert_eq!(
        (err.status.as_u16(), err.message.as_str()),
        (400, "Framework cannot be found")
    );
    launch_spec(&run(&mut c, command_task("t1", "x")));
    let err = c
        .subscribe(&f, &"other".into(), Subscribe::default(), 1, Instant::now())
        .unwrap_err();
    assert_eq!(err.message, "Executor cannot be found");
    let err = c
        .executor_update(
            &f,
            &e,
            exec_status("t1", TASK_RUNNING, UUID1),
            Instant::now(),
        )
        .unwrap_err();
    assert_eq!(
        (err.status.as_u16(), err.message.as_str()),
        (403, "Executor is not subscribed")
    );
    assert!(c.executor_heartbeat(&f, &e).is_ok());
}

#[test]
fn resubscription_replays_unacknowledged_updates() {
    let mut c = registered();
    running_command_task(&mut c);
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    let sub = Subscribe {
        unacknowledged_tasks: vec![],
        unacknowledged_updates: vec![UnacknowledgedUpdate {
            status: exec_status("t1", TASK_RUNNING, UUID1),
        }],
    };
    let fx = c.subscribe(&f, &e, sub, 8, Instant::now()).unwrap();
    assert!(
        fx.contains(&Effect::CloseStream { connection: 7 }),
        "the old stream is replaced"
    );
    let kinds: Vec<_> = to_executor(&fx).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ExecutorEventType::SUBSCRIBED,
            ExecutorEventType::ACKNOWLEDGED
        ]
    );
    assert_eq!(to_master(&fx).len(), 1);
}

#[test]
fn ping_pong_messages_and_task_groups() {
    let mut c = registered();
    let fx = c.handle_event(AgentEvent::Ping { nonce: Some(7) }, Instant::now());
    assert!(
        matches!(&fx[..], [Effect::Master(call)] if matches!(**call, AgentCall::Pong { nonce: Some(7), .. }))
    );
    running_command_task(&mut c);
    let msg = AgentEvent::Message {
        framework_id: "F".into(),
        executor_id: "t1".into(),
        data: "aGk=".into(),
    };
    let ev = to_executor(&c.handle_event(msg, Instant::now()));
    assert_eq!(ev[0].message.as_ref().unwrap().data, "aGk=");
    let fx = c
        .executor_message(&"F".into(), &"t1".into(), "b2s=".into())
        .unwrap();
    assert!(
        matches!(&fx[..], [Effect::Master(call)] if matches!(**call, AgentCall::Message { .. }))
    );

    let group = AgentEvent::RunTaskGroup {
        framework_info: framework(&[]),
        executor: ExecutorInfo {
            executor_id: "default".into(),
            ..Default::default()
        },
        task_group: mesos_types::TaskGroupInfo {
            tasks: vec![command_task("g1", "x"), command_task("g2", "y")],
        },
    };
    let u = to_master(&c.handle_event(group, Instant::now()));
    assert_eq!(u.len(), 2);
    assert!(u.iter().all(|s| {
        s.state == TASK_FAILED
            && s.message
                .as_deref()
                .unwrap()
                .contains("task groups are not supported yet")
    }));
}

#[test]
fn checkpointing_frameworks_get_checkpoint_env() {
    let mut c = registered();
    let mut fi = framework(&[]);
    fi.checkpoint = true;
    let fx = c.handle_event(
        AgentEvent::RunTask {
            framework_info: fi,
            task: command_task("t1", "x"),
        },
        Instant::now(),
    );
    assert_eq!(launch_spec(&fx).env["MESOS_CHECKPOINT"], "1");
}

fn master_info() -> MasterInfo {
    MasterInfo {
        id: "M".into(),
        ip: 1,
        port: 5050,
        ..Default::default()
    }
}

fn checkpointing_core() -> Core {
    let mut c = Core::new(
        CoreConfig {
            checkpoint: true,
            ..config()
        },
        AgentInfo::default(),
    );
    let fx = c.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info: master_info(),
        },
        Instant::now(),
    );
    assert!(
        matches!(&fx[..], [Effect::Checkpoint { path, .. }] if path.ends_with("meta/slaves/latest")),
        "the agent id is checkpointed: {fx:?}"
    );
    c
}

fn checkpoint_paths(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Checkpoint { path, .. } => Some(
                path.strip_prefix("/w/meta/slaves/A-S0")
                    .unwrap_or(path)
                    .display()
                    .to_string(),
            ),
            _ => None,
        })
        .collect()
}

/// RUN_TASK of command task `id` (`sleep 5`) of checkpointing framework F:
/// its container id and the effects.
fn run_checkpointed_task(c: &mut Core, id: &str) -> (ContainerID, Vec<Effect>) {
    let mut fi = framework(&[]);
    fi.checkpoint = true;
    let fx = c.handle_event(
        AgentEvent::RunTask {
            framework_info: fi,
            task: command_task(id, "sleep 5"),
        },
        Instant::now(),
    );
    (launch_spec(&fx).container_id, fx)
}

#[test]
fn checkpoints_are_written_before_updates_are_sent_or_acknowledged() {
    let mut c = checkpointing_core();
    let (cid, fx) = run_checkpointed_task(&mut c, "t1");
    let run = format!("frameworks/F/executors/t1/runs/{}", cid.value);
    assert_eq!(
        checkpoint_paths(&fx),
        vec![
            "frameworks/F/framework.info".to_string(),
            format!("{run}/executor.info"),
            format!("{run}/tasks/t1/task.info"),
        ]
    );
    let fx = c.executor_launched(&"F".into(), &"t1".into(), &cid, 100, None);
    assert_eq!(checkpoint_paths(&fx), vec![format!("{run}/forked.pid")]);
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    c.subscribe(&f, &e, Subscribe::default(), 7, Instant::now())
        .unwrap();
    let fx = c
        .executor_update(
            &f,
            &e,
            exec_status("t1", TASK_RUNNING, UUID1),
            Instant::now(),
        )
        .unwrap();
    let pos = |pred: &dyn Fn(&Effect) -> bool| fx.iter().position(pred).unwrap();
    let cp = pos(
        &|e| matches!(e, Effect::Checkpoint { path, append: true, sync: true, .. } if path.ends_with("tasks/t1/task.updates")),
    );
    let sent = pos(&|e| matches!(e, Effect::Master(_)));
    let acked = pos(&|e| matches!(e, Effect::Executor { .. }));
    assert!(cp < sent && cp < acked, "{fx:?}");
    let fx = c.handle_event(
        AgentEvent::Acknowledge {
            framework_id: f.clone(),
            task_id: "t1".into(),
            uuid: UUID1.into(),
        },
        Instant::now(),
    );
    let Some(Effect::Checkpoint { data, append, .. }) = fx.first() else {
        panic!("{fx:?}")
    };
    assert!(*append);
    assert_eq!(
        serde_json::from_slice::<crate::checkpoint::UpdateRecord>(data).unwrap(),
        crate::checkpoint::UpdateRecord::Ack(UUID1.into())
    );
}

fn recovered(
    checkpoint: bool,
    alive: bool,
    updates: Vec<crate::checkpoint::UpdateRecord>,
) -> Recovered {
    let mut fi = framework(&[]);
    fi.checkpoint = checkpoint;
    let exec = command_executor_info(
        Path::new("/usr/libexec/mesos"),
        &"F".into(),
        &command_task("t1", "sleep 5"),
    );
    Recovered {
        agent_id: Some("A-S0".into()),
        frameworks: vec![RecoveredFramework {
            info: fi,
            executors: vec![RecoveredExecutor {
                record: crate::checkpoint::ExecutorRecord {
                    info: exec,
                    container_id: ContainerID {
                        value: "c1".into(),
                        parent: None,
                    },
                    directory: "/w/slaves/A-S0/frameworks/F/executors/t1/runs/c1".into(),
                    command_executor: true,
                },
                pid: Some(42),
                start_time: Some(7),
                alive,
                tasks: vec![RecoveredTask {
                    info: command_task("t1", "sleep 5"),
                    updates,
                }],
            }],
        }],
        checkpointed_resources: vec![],
    }
}

fn running_update() -> crate::checkpoint::UpdateRecord {
    crate::checkpoint::UpdateRecord::Update(Box::new(exec_status("t1", TASK_RUNNING, UUID1)))
}

fn unregistered() -> Core {
    Core::new(config(), AgentInfo::default())
}

#[test]
fn recovery_rebuilds_state_and_waits_for_the_executor() {
    let mut c = unregistered();
    let fx = c.recover(
        recovered(true, true, vec![running_update()]),
        Instant::now(),
    );
    assert_eq!(c.agent_id().map(|a| a.value.as_str()), Some("A-S0"));
    assert!(!c.is_registered() && c.recovering());
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Watch {
            pid: 42,
            start_time: Some(7),
            ..
        }
    )));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Schedule { after, timer: Timer::ReregistrationTimeout { .. } } if *after == Duration::from_secs(2)
    )));
    assert!(to_master(&fx).is_empty());
    let AgentCall::Register {
        agent_info, tasks, ..
    } = c.register_call()
    else {
        panic!()
    };
    assert_eq!(agent_info.id, Some("A-S0".into()));
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].state, TASK_RUNNING);

    // The executor comes back with the update it has not seen acknowledged.
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    let sub = Subscribe {
        unacknowledged_tasks: vec![command_task("t1", "sleep 5")],
        unacknowledged_updates: vec![UnacknowledgedUpdate {
            status: exec_status("t1", TASK_RUNNING, UUID1),
        }],
    };
    let fx = c.subscribe(&f, &e, sub, 3, Instant::now()).unwrap();
    assert!(!c.recovering());
    let kinds: Vec<_> = to_executor(&fx).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ExecutorEventType::SUBSCRIBED,
            ExecutorEventType::ACKNOWLEDGED
        ]
    );
    // Registration resends the recovered, unacknowledged update once.
    let fx = c.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info: master_info(),
        },
        Instant::now(),
    );
    let sent = to_master(&fx);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].uuid.as_deref(), Some(UUID1));
    // The timer is now a no-op.
    let fx = c.timer_fired(
        Timer::ReregistrationTimeout {
            framework_id: f,
            executor_id: e,
            container_id: ContainerID {
                value: "c1".into(),
                parent: None,
            },
        },
        Instant::now(),
    );
    assert!(fx.is_empty());
}

#[test]
fn recovered_executor_that_does_not_come_back_is_destroyed() {
    let mut c = unregistered();
    c.recover(
        recovered(true, true, vec![running_update()]),
        Instant::now(),
    );
    let fx = c.timer_fired(
        Timer::ReregistrationTimeout {
            framework_id: "F".into(),
            executor_id: "t1".into(),
            container_id: ContainerID {
                value: "c1".into(),
                parent: None,
            },
        },
        Instant::now(),
    );
    assert!(fx.contains(&Effect::Destroy { pid: 42 }));
    assert!(!c.recovering());
    let fw = c.frameworks().next().unwrap();
    let task = &fw.executors[&ExecutorID::new("t1")].tasks[&TaskID::new("t1")];
    assert_eq!(task.state, TASK_FAILED);
    assert_eq!(
        task.statuses.last().unwrap().reason,
        Some(Reason::REASON_EXECUTOR_REREGISTRATION_TIMEOUT)
    );
}

#[test]
fn tasks_of_non_checkpointing_frameworks_fail_on_recovery() {
    let mut c = unregistered();
    let fx = c.recover(
        recovered(false, true, vec![running_update()]),
        Instant::now(),
    );
    assert!(fx.contains(&Effect::Destroy { pid: 42 }));
    assert!(!c.recovering());
    let fx = c.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info: master_info(),
        },
        Instant::now(),
    );
    // The recovered RUNNING goes first; FAILED follows once it is acknowledged.
    assert_eq!(to_master(&fx)[0].state, TASK_RUNNING);
    let fx = c.handle_event(
        AgentEvent::Acknowledge {
            framework_id: "F".into(),
            task_id: "t1".into(),
            uuid: UUID1.into(),
        },
        Instant::now(),
    );
    let failed = to_master(&fx);
    assert_eq!(failed[0].state, TASK_FAILED);
    assert_eq!(failed[0].reason, Some(Reason::REASON_AGENT_RESTARTED));
}

#[test]
fn finished_and_acknowledged_runs_are_not_recovered() {
    use crate::checkpoint::UpdateRecord::{Ack, Update};
    let mut c = unregistered();
    let updates = vec![
        running_update(),
        Ack(UUID1.into()),
        Update(Box::new(exec_status("t1", TASK_FINISHED, UUID2))),
        Ack(UUID2.into()),
    ];
    let fx = c.recover(recovered(true, false, updates), Instant::now());
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(c.frameworks().count(), 0);
}

#[test]
fn checkpoints_of_finished_frameworks_are_removed() {
    use crate::checkpoint::UpdateRecord::{Ack, Update};
    let mut c = Core::new(
        CoreConfig {
            checkpoint: true,
            ..config()
        },
        AgentInfo::default(),
    );
    let updates = vec![
        Update(Box::new(exec_status("t1", TASK_FINISHED, UUID2))),
        Ack(UUID2.into()),
    ];
    let fx = c.recover(recovered(true, false, updates), Instant::now());
    assert_eq!(
        fx,
        vec![Effect::RemoveCheckpoint {
            path: "/w/meta/slaves/A-S0/frameworks/F".into()
        }]
    );
}

#[test]
fn undelivered_tasks_of_a_recovered_executor_are_lost() {
    let mut c = unregistered();
    c.recover(recovered(true, true, vec![]), Instant::now());
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    let fx = c
        .subscribe(&f, &e, Subscribe::default(), 3, Instant::now())
        .unwrap();
    let kinds: Vec<_> = to_executor(&fx).iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![ExecutorEventType::SUBSCRIBED, ExecutorEventType::SHUTDOWN],
        "the command executor has nothing left to run"
    );
    let task = &c.frameworks().next().unwrap().executors[&e].tasks[&TaskID::new("t1")];
    assert_eq!(task.state, TASK_LOST);
    assert_eq!(
        task.statuses[0].reason,
        Some(Reason::REASON_AGENT_RESTARTED)
    );
}

#[test]
fn master_shutdown_is_handed_to_the_runtime_with_its_reason() {
    let mut c = registered();
    let fx = c.handle_event(
        AgentEvent::Shutdown {
            message: "Agent has been marked gone".into(),
        },
        Instant::now(),
    );
    assert_eq!(
        fx,
        vec![Effect::ShutdownAgent {
            message: "Agent has been marked gone".into()
        }]
    );
}

/// Under load an executor can subscribe before the runtime reports its
/// launch; its pid must still be checkpointed, or a restarted agent takes
/// the live executor for dead and fails its task.
#[test]
fn pid_of_an_executor_that_subscribed_before_its_launch_was_reported_is_checkpointed() {
    let mut c = checkpointing_core();
    let (cid, _) = run_checkpointed_task(&mut c, "t1");
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    c.fork_recorded(&f, &e, &cid);
    c.subscribe(&f, &e, Subscribe::default(), 7, Instant::now())
        .unwrap();
    let fx = c.executor_launched(&f, &e, &cid, 100, Some(42));
    let run = format!("frameworks/F/executors/t1/runs/{}", cid.value);
    assert_eq!(checkpoint_paths(&fx), vec![format!("{run}/forked.pid")]);
}

#[test]
fn counters_count_each_terminal_task_once_and_never_go_down() {
    let mut c = registered();
    let cid = running_command_task(&mut c);
    let (f, e) = (FrameworkID::new("F"), ExecutorID::new("t1"));
    c.executor_update(
        &f,
        &e,
        exec_status("t1", TASK_RUNNING, UUID1),
        Instant::now(),
    )
    .unwrap();
    c.executor_update(
        &f,
        &e,
        exec_status("t1", TASK_FINISHED, UUID2),
        Instant::now(),
    )
    .unwrap();
    // A re-send of the same update is a duplicate, not a second ending.
    c.executor_update(
        &f,
        &e,
        exec_status("t1", TASK_FINISHED, UUID2),
        Instant::now(),
    )
    .unwrap();
    assert_eq!(c.counters().ended(TASK_FINISHED), 1);
    assert_eq!(c.counters().valid_status_updates, 3);
    let exit = ExitInfo {
        wait_status: 0,
        description: "exited with status 0".into(),
    };
    c.executor_exited(&f, &e, &cid, &exit, Instant::now());
    for uuid in [UUID1, UUID2] {
        c.handle_event(
            AgentEvent::Acknowledge {
                framework_id: f.clone(),
                task_id: "t1".into(),
                uuid: uuid.into(),
            },
            Instant::now(),
        );
    }
    assert_eq!(c.frameworks().count(), 0, "moved to completed");
    assert_eq!(c.counters().ended(TASK_FINISHED), 1);
    assert_eq!(c.counters().executors_terminated, 1);
}

#[test]
fn kill_container_destroys_the_executor_and_its_tasks_fail() {
    let mut c = registered();
    let cid = running_command_task(&mut c);
    let unknown = ContainerID {
        value: "nope".into(),
        parent: None,
    };
    assert_eq!(
        c.kill_container(&unknown).unwrap_err().status,
        axum::http::StatusCode::NOT_FOUND
    );
    assert_eq!(c.container_pid(&cid), Some(100));
    let fx = c.kill_container(&cid).unwrap();
    assert!(fx.contains(&Effect::Destroy { pid: 100 }));
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::KillContainers { .. }))
    );
    assert_eq!(c.container_pid(&cid), None, "terminating");
    let exit = ExitInfo {
        wait_status: 9,
        description: "terminated by signal 9".into(),
    };
    let u = to_master(&c.executor_exited(&"F".into(), &"t1".into(), &cid, &exit, Instant::now()));
    assert_eq!(u[0].state, TASK_FAILED);
}

fn volume_resource(id: &str) -> mesos_types::Resource {
    serde_json::from_value(serde_json::json!({
        "name": "disk", "type": "SCALAR", "scalar": {"value": 16.0},
        "reservations": [{"type": "DYNAMIC", "role": "db"}],
        "disk": {"persistence": {"id": id}, "volume": {"container_path": "data", "mode": "RW"}}
    }))
    .unwrap()
}

fn volume_effects(fx: &[Effect]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    fx.iter()
        .find_map(|e| match e {
            Effect::Volumes { create, remove } => Some((create.clone(), remove.clone())),
            _ => None,
        })
        .expect("a volumes effect")
}

/// A volume is made when the master's set gains it and removed when the
/// set loses it, but never while a live task uses it; a task using one
/// gets it linked at its container path; the agent reports the set when
/// it registers again.
#[test]
fn checkpointed_volumes_are_made_linked_and_removed_only_when_unused() {
    let mut c = registered();
    let now = Instant::now();
    let set = vec![volume_resource("v1"), volume_resource("v2")];
    let fx = c.handle_event(
        AgentEvent::CheckpointResources {
            resources: set.clone(),
        },
        now,
    );
    let (create, remove) = volume_effects(&fx);
    assert_eq!(
        create,
        vec![
            PathBuf::from("/w/volumes/roles/db/v1"),
            PathBuf::from("/w/volumes/roles/db/v2")
        ]
    );
    assert!(remove.is_empty());
    let mut task = command_task("t1", "sleep 100");
    task.resources.push(volume_resource("v1"));
    let spec = launch_spec(&run(&mut c, task));
    assert_eq!(
        spec.volumes,
        vec![(PathBuf::from("/w/volumes/roles/db/v1"), "data".to_string())]
    );
    // The master forgets both: v2 goes, v1 stays (a task uses it).
    let fx = c.handle_event(AgentEvent::CheckpointResources { resources: vec![] }, now);
    let (_, remove) = volume_effects(&fx);
    assert_eq!(remove, vec![PathBuf::from("/w/volumes/roles/db/v2")]);
    assert!(c.checkpointed_resources().is_empty());
    let fx = c.handle_event(AgentEvent::CheckpointResources { resources: set }, now);
    let _ = volume_effects(&fx);
    match c.register_call() {
        AgentCall::Register {
            checkpointed_resources,
            ..
        } => assert_eq!(checkpointed_resources.len(), 2),
        other => panic!("{other:?}"),
    }
}
