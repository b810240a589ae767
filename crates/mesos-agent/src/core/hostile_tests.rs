//! Core tests of what a hostile or broken framework or executor can send:
//! ids that are not safe path components, false terminal updates.

use super::*;
use mesos_types::TaskState::*;

fn config() -> CoreConfig {
    CoreConfig {
        work_dir: PathBuf::from("/w"),
        launcher_dir: PathBuf::from("/usr/libexec/mesos"),
        ip: IpAddr::from([10, 0, 0, 5]),
        port: 5051,
        executor_registration_timeout: Duration::from_secs(60),
        executor_shutdown_grace_period: Duration::from_secs(5),
        executor_reregistration_timeout: Duration::from_secs(2),
        recovery_timeout: Duration::from_secs(900),
        status_update_retry_interval: Duration::from_secs(10),
        executor_environment: None,
        checkpoint: true,
        fetch_limits: Default::default(),
    }
}

fn registered() -> Core {
    let mut c = Core::new(config(), AgentInfo::default());
    let master_info = MasterInfo {
        id: "M".into(),
        ..Default::default()
    };
    c.handle_event(
        AgentEvent::Registered {
            agent_id: "A-S0".into(),
            master_info,
        },
        Instant::now(),
    );
    c
}

fn framework() -> FrameworkInfo {
    FrameworkInfo {
        id: Some("F".into()),
        name: "fw".into(),
        user: "u".into(),
        checkpoint: true,
        ..Default::default()
    }
}

fn custom_task(id: &str, executor: &str) -> TaskInfo {
    TaskInfo {
        name: "t".into(),
        task_id: id.into(),
        executor: Some(ExecutorInfo {
            executor_id: executor.into(),
            command: Some(CommandInfo {
                value: Some("./exec".into()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn run(c: &mut Core, task: TaskInfo) -> Vec<Effect> {
    let framework_info = framework();
    c.handle_event(
        AgentEvent::RunTask {
            framework_info,
            task,
        },
        Instant::now(),
    )
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

#[test]
fn task_and_executor_ids_that_are_not_safe_path_components_get_task_error() {
    let long = "x".repeat(256);
    let bad_tasks = [
        "",
        ".",
        "..",
        "../../../../etc",
        "a/b",
        "a\0b",
        "a\\b",
        &long,
    ];
    for bad in bad_tasks {
        let mut c = registered();
        let fx = run(&mut c, custom_task(bad, "E"));
        let updates = to_master(&fx);
        let states: Vec<_> = updates.iter().map(|s| (s.state, s.reason)).collect();
        assert_eq!(
            states,
            [(TASK_ERROR, Some(Reason::REASON_TASK_INVALID))],
            "task id {bad:?}: {fx:?}"
        );
        let message = updates[0].message.as_deref().unwrap_or_default();
        assert!(message.contains("task id"), "task id {bad:?}: {message}");
        let touches_disk = fx.iter().any(|e| {
            matches!(e, Effect::Launch(_)) || matches!(e, Effect::Checkpoint { append: false, .. })
        });
        assert!(!touches_disk, "task id {bad:?} reached the disk: {fx:?}");
    }
    let mut c = registered();
    let fx = run(&mut c, custom_task("t", &long));
    assert_eq!(to_master(&fx)[0].state, TASK_ERROR, "{fx:?}");
    // Anything else is fine, as in Mesos (spaces, dots, unicode).
    let mut c = registered();
    let fx = run(&mut c, custom_task("my task.v2-ü", "E"));
    assert!(fx.iter().any(|e| matches!(e, Effect::Launch(_))), "{fx:?}");
}
