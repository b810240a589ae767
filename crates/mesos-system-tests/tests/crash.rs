//! Randomized crash test (P14): while a framework keeps tasks launching and
//! finishing, random SIGKILLs hit the master, the agents, executors and the
//! scheduler itself. A history checker then asserts that every task the
//! framework launched ended in exactly one terminal state known to the
//! framework (duplicate deliveries of that state are allowed; two different
//! terminal states are not), and that every task seen RUNNING was later
//! reported terminal (no acknowledged update was lost).
//!
//! `MESOS_CRASH_KILLS` sets the number of kills (default 100, CI size);
//! `MESOS_CRASH_SEED` replays a run. The seed is printed.

use mesos_system_tests::*;
use mesos_types::scheduler::EventType;
use mesos_types::task_state::is_terminal;
use mesos_types::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// xorshift64*: the test needs reproducible choices, not quality randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Daemon {
    child: Option<Child>,
    args: Vec<String>,
    program: PathBuf,
}

impl Daemon {
    fn start(program: PathBuf, args: Vec<String>) -> Daemon {
        let mut d = Daemon {
            child: None,
            args,
            program,
        };
        d.restart();
        d
    }
    fn restart(&mut self) {
        self.child = Some(
            Command::new(&self.program)
                .args(&self.args)
                .stderr(self.log())
                .stdout(Stdio::null())
                .spawn()
                .expect("spawn"),
        );
    }
    /// With `MESOS_CRASH_LOG_DIR` set, every run of this daemon appends its
    /// log to `<dir>/<program>-<port>.log` (to see why a seed failed).
    fn log(&self) -> Stdio {
        let Ok(dir) = std::env::var("MESOS_CRASH_LOG_DIR") else {
            return Stdio::null();
        };
        let port = self
            .args
            .iter()
            .find_map(|a| a.strip_prefix("--port="))
            .unwrap_or("0");
        let name = self
            .program
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(format!("{dir}/{name}-{port}.log"))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    }
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[derive(Default)]
struct History {
    launched: BTreeMap<String, AgentID>,
    terminal: HashMap<String, Vec<TaskState>>,
    /// Every update seen, for the failure message.
    trail: HashMap<String, Vec<String>>,
    running: HashMap<String, bool>,
    /// Live states reported after a terminal one: the task came back.
    revived: BTreeMap<String, Vec<TaskState>>,
}

impl History {
    fn record(&mut self, s: &TaskStatus) {
        let id = s.task_id.value.clone();
        self.trail.entry(id.clone()).or_default().push(format!(
            "{} {:?} {:?} {:?}",
            s.state, s.source, s.reason, s.message
        ));
        if is_terminal(s.state) {
            self.terminal.entry(id).or_default().push(s.state);
        } else if self.terminal.contains_key(&id) {
            self.revived.entry(id).or_default().push(s.state);
        } else if s.state == TaskState::TASK_RUNNING {
            self.running.insert(id, true);
        }
    }
    fn open_tasks(&self) -> Vec<(String, AgentID)> {
        self.launched
            .iter()
            .filter(|(t, _)| !self.terminal.contains_key(*t))
            .map(|(t, a)| (t.clone(), a.clone()))
            .collect()
    }
}

async fn subscribe_until_ok(master: &str, info: &FrameworkInfo) -> mesos_scheduler::Subscription {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match mesos_scheduler::subscribe(master, info.clone()).await {
            Ok(s) => return s,
            Err(e) => {
                assert!(Instant::now() < deadline, "could not (re)subscribe: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

fn executor_pids(framework_id: &str) -> Vec<i32> {
    let marker = format!("MESOS_FRAMEWORK_ID={framework_id}");
    processes_with_env(&marker)
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.windows(14).any(|w| w == b"mesos-executor"))
        })
        .collect()
}

fn agent_args(master: &str, dir: &Path, i: usize) -> Vec<String> {
    vec![
        format!("--master={master}"),
        format!("--port={}", free_port()),
        format!("--work_dir={}/agent{i}", dir.display()),
        "--resources=cpus:1;mem:512".into(),
        "--registration_backoff_factor=100ms".into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_kills_lose_no_task_and_no_update() {
    let kills: usize = std::env::var("MESOS_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("MESOS_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("crash test: {kills} kills, MESOS_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master_addr = format!("127.0.0.1:{port}");
    let mut master = Daemon::start(
        bin("mesos-master"),
        vec![
            format!("--port={port}"),
            format!("--work_dir={}/master", dir.path().display()),
            "--allocation_interval=100ms".into(),
            "--agent_ping_timeout=200ms".into(),
            "--max_agent_ping_timeouts=5".into(),
            "--agent_reregister_timeout=3secs".into(),
        ],
    );
    let mut agents: Vec<Daemon> = (0..2)
        .map(|i| Daemon::start(bin("mesos-agent"), agent_args(&master_addr, dir.path(), i)))
        .collect();

    let mut info = FrameworkInfo {
        user: "root".into(),
        name: "crash-test".into(),
        failover_timeout: 3600.0,
        ..Default::default()
    };
    let mut sub = subscribe_until_ok(&master_addr, &info).await;
    info.id = Some(sub.caller.framework_id.clone());
    let fid = sub.caller.framework_id.value.clone();
    // Every task process carries this, so survivors can be found.
    let marker = format!("MESOS_TEST_MARKER={}", uuid::Uuid::new_v4());
    let mut history = History::default();
    let mut offers: Vec<Offer> = Vec::new();
    let mut next_task = 0u64;
    let mut kills_done = 0usize;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next_kill = Instant::now() + Duration::from_millis(300);
    let mut last_reconcile = Instant::now();
    let hard_deadline = Instant::now() + Duration::from_secs(1200);
    let mut last_progress = Instant::now();

    loop {
        if last_progress.elapsed() > Duration::from_secs(10) {
            last_progress = Instant::now();
            let open = history.open_tasks();
            eprintln!(
                "progress: {kills_done}/{kills} kills, {} launched, {} open {:?}",
                history.launched.len(),
                open.len(),
                &open[..open.len().min(4)]
            );
        }
        assert!(
            Instant::now() < hard_deadline,
            "crash test did not settle (seed {seed})"
        );
        let settled = kills_done >= kills && history.open_tasks().is_empty();
        if settled {
            break;
        }
        // Launch on every offer while kills are still due.
        while let Some(o) = offers.pop() {
            if kills_done >= kills {
                let _ = sub
                    .caller
                    .decline(
                        vec![o.id],
                        Some(Filters {
                            refuse_seconds: 0.0,
                        }),
                    )
                    .await;
                continue;
            }
            let avail = Resources::from_wire(o.resources.clone());
            let n = ((avail.scalar("cpus") / 0.2).floor() as usize)
                .min((avail.scalar("mem") / 64.0).floor() as usize)
                .min(3);
            let tasks: Vec<TaskInfo> = (0..n)
                .map(|_| {
                    next_task += 1;
                    let secs = 0.2 + rng.below(15) as f64 / 10.0;
                    let name = format!("t{next_task}");
                    let mut t = marked_task(&name, &o.agent_id, &format!("sleep {secs}"), &marker);
                    t.resources = Resources::parse("cpus:0.2;mem:64", "*")
                        .unwrap()
                        .to_wire(false);
                    t
                })
                .collect();
            let ids: Vec<String> = tasks.iter().map(|t| t.task_id.value.clone()).collect();
            if sub
                .caller
                .launch(
                    vec![o.id],
                    tasks,
                    Some(Filters {
                        refuse_seconds: 0.0,
                    }),
                )
                .await
                .is_ok()
            {
                for id in ids {
                    history.launched.insert(id, o.agent_id.clone());
                }
            }
        }
        if kills_done < kills && Instant::now() >= next_kill {
            next_kill = Instant::now() + Duration::from_millis(200 + rng.below(400));
            kills_done += 1;
            match rng.below(10) {
                0 => {
                    *counts.entry("master").or_default() += 1;
                    master.kill9();
                    master.restart();
                }
                1 | 2 => {
                    *counts.entry("agent").or_default() += 1;
                    let i = rng.below(agents.len() as u64) as usize;
                    agents[i].kill9();
                    agents[i].restart();
                }
                3 | 4 => {
                    *counts.entry("scheduler").or_default() += 1;
                    drop(sub);
                    offers.clear();
                    sub = subscribe_until_ok(&master_addr, &info).await;
                    last_reconcile = Instant::now() - Duration::from_secs(10);
                }
                _ => {
                    let pids = executor_pids(&fid);
                    if let Some(&p) = pids.get(rng.below(pids.len().max(1) as u64) as usize) {
                        *counts.entry("executor").or_default() += 1;
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    } else {
                        *counts.entry("executor (none running)").or_default() += 1;
                    }
                }
            }
        }
        // Explicit reconciliation of open tasks, repeated until answered.
        if last_reconcile.elapsed() > Duration::from_secs(2) {
            last_reconcile = Instant::now();
            let open: Vec<mesos_types::scheduler::ReconcileTask> = history
                .open_tasks()
                .into_iter()
                .map(|(t, a)| mesos_types::scheduler::ReconcileTask {
                    task_id: TaskID::new(t),
                    agent_id: Some(a),
                })
                .collect();
            if !open.is_empty() {
                let _ = sub.caller.reconcile(open).await;
            }
        }
        match tokio::time::timeout(Duration::from_millis(100), sub.events.recv()).await {
            Err(_) => {}
            Ok(None) => {
                // The master went away: come back with the same id.
                offers.clear();
                sub = subscribe_until_ok(&master_addr, &info).await;
                last_reconcile = Instant::now() - Duration::from_secs(10);
            }
            Ok(Some(e)) => match e.kind {
                EventType::OFFERS => offers.extend(e.offers.unwrap_or_default().offers),
                EventType::RESCIND => {
                    let id = e.rescind.unwrap().offer_id;
                    offers.retain(|o| o.id != id);
                }
                EventType::UPDATE => {
                    let s = e.update.unwrap().status;
                    history.record(&s);
                    let _ = sub.caller.acknowledge(&s).await;
                }
                _ => {}
            },
        }
    }

    eprintln!(
        "kills: {counts:?}; tasks launched: {}",
        history.launched.len()
    );
    assert!(
        history.launched.len() >= 10,
        "too few tasks launched to mean anything"
    );
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for task in history.launched.keys() {
        let states = history
            .terminal
            .get(task)
            .unwrap_or_else(|| panic!("{task} never reached a terminal state (seed {seed})"));
        // No exception, not even for TASK_LOST: a framework told a task is
        // lost never hears of it again, across any number of master
        // restarts (the registry knows which agents were unreachable).
        assert!(
            states.iter().all(|s| *s == states[0]),
            "{task} ended in different terminal states {states:?} (seed {seed}): {:#?}",
            history.trail.get(task)
        );
        let outcome = states[0].to_string();
        *outcomes.entry(outcome).or_default() += 1;
    }
    assert!(
        history.revived.is_empty(),
        "tasks heard of alive after their end (seed {seed}): {:#?}",
        history
            .revived
            .keys()
            .map(|t| (t, history.trail.get(t)))
            .collect::<Vec<_>>()
    );
    for task in history.running.keys() {
        assert!(
            history.terminal.contains_key(task),
            "{task} was RUNNING and its end was lost (seed {seed})"
        );
    }
    let strays: Vec<&String> = history
        .terminal
        .keys()
        .filter(|t| !history.launched.contains_key(*t))
        .collect();
    assert!(
        strays.is_empty(),
        "updates for tasks never launched: {strays:?}"
    );
    eprintln!("outcomes: {outcomes:?}");
    // Every task ended, so no task process may outlive it: none orphaned
    // by a killed agent or executor. (A task the master reported lost is
    // killed once its agent is back; give that a moment.)
    wait_for_no_process_with(
        &marker,
        Duration::from_secs(60),
        &format!("task processes outlived their tasks (seed {seed})"),
    )
    .await;
    drop(agents);
    drop(master);
}
