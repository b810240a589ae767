//! High availability with the real binaries: a three-server ZooKeeper
//! ensemble (Debian's `zookeeper`), three `mesos-master`s with `--zk`, two
//! `mesos-agent`s and the unmodified pymesos scheduler, all given `zk://`.
//!
//! * Failover: SIGKILL the leading master, twice: a new leader is elected,
//!   agents and the framework follow it, running tasks keep running,
//!   reconciliation answers for every task, nothing is lost or duplicated.
//! * Partition: the leader's only ZooKeeper server is frozen; the leader
//!   stops acknowledging writes and exits, another is elected, and the
//!   registry's write history (each master's log: term and ZooKeeper zxid
//!   of every write) never shows an older leader writing after a newer one.

use mesos_coord::zk::testing;
use mesos_system_tests::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SESSION_TIMEOUT: &str = "2secs";

/// One master slot: restarted on the same port and directory after a kill,
/// as a supervisor would.
struct MasterSlot {
    port: u16,
    dir: PathBuf,
    zk: String,
    proc: Option<Proc>,
}

impl MasterSlot {
    fn new(root: &Path, i: usize, zk: String) -> MasterSlot {
        let dir = root.join(format!("master{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut m = MasterSlot {
            port: free_port(),
            dir,
            zk,
            proc: None,
        };
        m.start();
        m
    }

    fn start(&mut self) {
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stderr"))
            .unwrap();
        let child = Command::new(bin("mesos-master"))
            .args([
                "--ip=127.0.0.1".to_string(),
                format!("--port={}", self.port),
                format!("--zk={}", self.zk),
                "--quorum=2".into(),
                "--masters=3".into(),
                format!("--zk_session_timeout={SESSION_TIMEOUT}"),
                format!("--work_dir={}", self.dir.display()),
                format!("--log_dir={}", self.dir.display()),
                "--allocation_interval=100ms".into(),
                "--agent_reregister_timeout=30secs".into(),
            ])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn mesos-master");
        self.proc = Some(Proc(child));
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn pid(&self) -> String {
        format!("master@127.0.0.1:{}", self.port)
    }

    fn state(&self) -> Option<Value> {
        self.proc.as_ref()?;
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/master/state", self.url()))
            .timeout(Duration::from_secs(5))
            .send()
            .ok()?;
        r.json().ok()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mesos-master.INFO")).unwrap_or_default()
    }
}

/// Polls until `f` gives `Some`, for up to `secs`; panics naming `what`.
fn wait_until<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The index of the master every live master names as leader, once they
/// agree and it is not `not`.
fn agreed_leader(masters: &[MasterSlot], not: Option<usize>) -> usize {
    wait_until(60, "the masters to agree on a new leader", || {
        let mut leader = None;
        for (i, m) in masters.iter().enumerate() {
            if m.proc.is_none() {
                continue;
            }
            let s = m.state()?;
            let named = s["leader"].as_str()?.to_string();
            let idx = masters.iter().position(|x| x.pid() == named)?;
            if leader.is_some_and(|l| l != idx) {
                return None;
            }
            if i == idx && s.get("elected_time").is_none() {
                return None;
            }
            leader = Some(idx);
        }
        leader.filter(|l| Some(*l) != not)
    })
}

/// Asks `python/ha_scheduler.py` to reconcile all its tasks and waits until
/// the master answered for every one, each in `state`.
fn reconciled(sched: &mut PyScript, tasks: usize, state: &str) {
    sched.send("reconcile");
    let count = sched.line_where("the reconciliation request", |v| {
        v["event"] == "reconciling"
    })["count"]
        .clone();
    let mut answered = std::collections::BTreeSet::new();
    while answered.len() < tasks {
        let v = sched.line_where("reconciliation answers for every task", |v| {
            v["event"] == "update"
                && v["reconciliation"] == count
                && v["reason"] == "REASON_RECONCILIATION"
        });
        assert_eq!(v["state"], state, "{v}");
        answered.insert(v["task_id"].as_str().unwrap_or_default().to_string());
    }
}

/// Tasks of framework `fid` the leader `m` reports, by state.
fn framework_tasks(m: &MasterSlot, fid: &str) -> Option<Vec<(String, String)>> {
    let s = m.state()?;
    let fw = s["frameworks"]
        .as_array()?
        .iter()
        .find(|f| f["id"] == fid)?
        .clone();
    if fw["active"] != true {
        return None;
    }
    let mut tasks: Vec<(String, String)> = fw["tasks"]
        .as_array()?
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap_or_default().to_string(),
                t["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tasks.sort();
    Some(tasks)
}

fn start_zk_agent(zk: &str, dir: &Path) -> Proc {
    std::fs::create_dir_all(dir).unwrap();
    let stderr = std::fs::File::create(dir.join("stderr")).unwrap();
    Proc(
        Command::new(bin("mesos-agent"))
            .args([
                format!("--master={zk}"),
                "--ip=127.0.0.1".into(),
                format!("--port={}", free_port()),
                format!("--work_dir={}", dir.display()),
                "--resources=cpus:2;mem:512".into(),
                "--registration_backoff_factor=100ms".into(),
            ])
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn mesos-agent"),
    )
}

#[test]
fn pymesos_framework_and_agents_follow_two_leader_failovers() {
    let Some(py) = python() else { return };
    let mut ports = std::iter::from_fn(|| Some(free_port()));
    let zk = testing::test_ensemble(3, Some(&mut ports));
    let url = zk.url("/mesos");
    let root = tempfile::tempdir().unwrap();
    let mut masters: Vec<MasterSlot> = (0..3)
        .map(|i| MasterSlot::new(root.path(), i, url.clone()))
        .collect();
    let mut leader = agreed_leader(&masters, None);
    let _agents: Vec<Proc> = (0..2)
        .map(|i| start_zk_agent(&url, &root.path().join(format!("agent{i}"))))
        .collect();
    wait_until(60, "both agents registered with the leader", || {
        let s = masters[leader].state()?;
        (s["activated_slaves"].as_u64()? == 2).then_some(())
    });

    const TASKS: usize = 4;
    let marker = format!("MESOS_HA_TEST={}", uuid::Uuid::new_v4());
    let mut sched = PyScript::start(&py, "ha_scheduler.py", &[&url, &TASKS.to_string(), &marker]);
    let first = sched.line_where("a subscription", |v| v["event"] == "subscribed");
    let fid = first["framework_id"].as_str().unwrap().to_string();
    assert_eq!(
        first["master"],
        format!("127.0.0.1:{}", masters[leader].port)
    );
    let running = wait_until(60, "every task running", || {
        let t = framework_tasks(&masters[leader], &fid)?;
        (t.len() == TASKS && t.iter().all(|(_, s)| s == "TASK_RUNNING")).then_some(t)
    });
    // Each task's processes (its shell and `sleep`): the same ones must be
    // there after every failover.
    let mut processes = processes_with_env(&marker);
    processes.sort();
    assert!(processes.len() >= TASKS, "{processes:?}");

    for round in 0..2u64 {
        let old = leader;
        let killed = Instant::now();
        if let Some(mut p) = masters[old].proc.take() {
            p.kill9();
        }
        leader = agreed_leader(&masters, Some(old));
        let tasks = wait_until(90, "agents and framework back on the new leader", || {
            let s = masters[leader].state()?;
            if s["activated_slaves"].as_u64()? != 2 {
                return None;
            }
            let t = framework_tasks(&masters[leader], &fid)?;
            (t.len() == TASKS).then_some(t)
        });
        eprintln!(
            "round {round}: kill -> agents and framework on the new leader in {:.1} s",
            killed.elapsed().as_secs_f64()
        );
        assert_eq!(
            tasks, running,
            "the same tasks, still running, none duplicated"
        );
        let sub = sched.line_where("a re-subscription", |v| {
            v["event"] == "subscribed" && v["count"] == round + 2
        });
        assert_eq!(
            sub["framework_id"],
            fid.as_str(),
            "re-subscribed with its id"
        );
        assert_eq!(sub["master"], format!("127.0.0.1:{}", masters[leader].port));
        // Once every agent is back, reconciliation answers for every task.
        reconciled(&mut sched, TASKS, "TASK_RUNNING");
        let mut now = processes_with_env(&marker);
        now.sort();
        assert_eq!(now, processes, "the tasks' processes kept running");
        // The killed master comes back (its supervisor) and follows.
        masters[old].start();
        let leader_pid = masters[leader].pid();
        wait_until(60, "the restarted master to follow the leader", || {
            let s = masters[old].state()?;
            (s["leader"] == leader_pid.as_str()).then_some(())
        });
    }
    let launched = sched
        .seen
        .iter()
        .filter(|v| v["event"] == "launched")
        .count();
    assert_eq!(launched, TASKS, "the scheduler never had to launch again");
    assert!(
        !sched.seen.iter().any(|v| v["event"] == "update"
            && v["state"] != "TASK_RUNNING"
            && v["state"] != "TASK_STAGING"
            && v["state"] != "TASK_STARTING"),
        "no task was lost: {:?}",
        sched.seen
    );
}

/// The weight master `m` (the leader) holds for `role`.
fn weight_held(m: &MasterSlot, role: &str) -> Option<f64> {
    let weights: Value = reqwest::blocking::get(format!("{}/weights", m.url()))
        .ok()?
        .json()
        .ok()?;
    weights
        .as_array()?
        .iter()
        .find(|w| w["role"] == role)
        .and_then(|w| w["weight"].as_f64())
}

/// `term=<n> zxid=<n>` of every registry write in a master's log.
fn registry_writes(log: &str) -> Vec<(u64, i64)> {
    log.lines()
        .filter(|l| l.contains("Registry write committed to ZooKeeper"))
        .filter_map(|l| {
            let field = |name: &str| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix(name))
                    .and_then(|v| v.parse::<i64>().ok())
            };
            Some((field("term=")? as u64, field("zxid=")?))
        })
        .collect()
}

#[test]
fn a_leader_partitioned_from_zookeeper_stops_and_no_two_leaders_ever_write() {
    let mut ports = std::iter::from_fn(|| Some(free_port()));
    let zk = testing::test_ensemble(3, Some(&mut ports));
    let root = tempfile::tempdir().unwrap();
    // Master 0 talks to ZooKeeper server 0 only; the others to servers 1, 2.
    let rest = zk.url_without(0, "/mesos");
    let mut masters = vec![MasterSlot::new(root.path(), 0, zk.url_of(0, "/mesos"))];
    assert_eq!(agreed_leader(&masters, None), 0);
    masters.push(MasterSlot::new(root.path(), 1, rest.clone()));
    masters.push(MasterSlot::new(root.path(), 2, rest));
    assert_eq!(agreed_leader(&masters, None), 0);

    // A client writes to every master, all the time: weights with rising
    // values. Only a leader may acknowledge (200); the others redirect.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ports: Vec<u16> = masters.iter().map(|m| m.port).collect();
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap();
            let mut acked: Vec<(usize, u64)> = Vec::new();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                for (i, port) in ports.iter().enumerate() {
                    let body = json!([{"role": "partition", "weight": n as f64}]);
                    let ok = http
                        .put(format!("http://127.0.0.1:{port}/weights"))
                        .json(&body)
                        .send()
                        .is_ok_and(|r| r.status() == 200);
                    if ok {
                        acked.push((i, n));
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            acked
        })
    };
    wait_until(30, "writes acknowledged by the first leader", || {
        registry_writes(&masters[0].log())
            .len()
            .ge(&5)
            .then_some(())
    });

    zk.pause(0);
    let paused = Instant::now();
    // The cut-off leader exits (its supervisor would restart it).
    let exited = wait_until(60, "the cut-off leader to exit", || {
        let p = masters[0].proc.as_mut()?;
        p.0.try_wait().ok().flatten()
    });
    eprintln!(
        "the cut-off leader exited {:.1} s after the pause ({exited}); session timeout {SESSION_TIMEOUT}",
        paused.elapsed().as_secs_f64()
    );
    assert!(!exited.success());
    masters[0].proc = None;
    let new = agreed_leader(&masters, Some(0));
    wait_until(30, "writes acknowledged by the new leader", || {
        (!registry_writes(&masters[new].log()).is_empty()).then_some(())
    });
    zk.resume(0);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let acked = writer.join().unwrap();

    // The history: every write of every master, in ZooKeeper's order.
    let mut history: Vec<(i64, u64, usize)> = Vec::new();
    for (i, m) in masters.iter().enumerate() {
        for (term, zxid) in registry_writes(&m.log()) {
            history.push((zxid, term, i));
        }
    }
    history.sort();
    let terms: Vec<(u64, usize)> = history.iter().map(|(_, t, i)| (*t, *i)).collect();
    assert!(
        terms.windows(2).all(|w| w[0].0 <= w[1].0),
        "an older leader wrote after a newer one: {terms:?}"
    );
    let leaders: std::collections::BTreeSet<usize> = terms.iter().map(|(_, i)| *i).collect();
    assert_eq!(leaders, [0, new].into_iter().collect(), "{terms:?}");
    // Acknowledgements came from one master at a time, and the last one
    // acknowledged is what the registry holds.
    let firsts_of_new = acked.iter().position(|(i, _)| *i == new).unwrap();
    assert!(
        acked[firsts_of_new..].iter().all(|(i, _)| *i == new),
        "the old leader acknowledged after the new one: {acked:?}"
    );
    let last = acked.last().unwrap().1 as f64;
    assert_eq!(
        weight_held(&masters[new], "partition"),
        Some(last),
        "the last acknowledged write is kept"
    );
}

/// A leader whose process stalls (SIGSTOP, as a paused VM or a long GC)
/// past its session timeout has been replaced when it wakes; it must not
/// acknowledge anything then, though its connection looks fine to it until
/// it next reads the socket. (Its registry write would be refused by the
/// fence anyway; the session probe also stops it before it tries.)
#[test]
fn a_leader_that_wakes_from_a_stall_acknowledges_nothing() {
    let mut ports = std::iter::from_fn(|| Some(free_port()));
    let zk = testing::test_ensemble(3, Some(&mut ports));
    let url = zk.url("/mesos");
    let root = tempfile::tempdir().unwrap();
    let mut masters = vec![MasterSlot::new(root.path(), 0, url.clone())];
    assert_eq!(agreed_leader(&masters, None), 0);
    masters.push(MasterSlot::new(root.path(), 1, url));
    assert_eq!(agreed_leader(&masters, None), 0);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let put = |m: &MasterSlot, w: f64| {
        http.put(format!("{}/weights", m.url()))
            .json(&json!([{"role": "stall", "weight": w}]))
            .send()
            .map(|r| r.status().as_u16())
    };
    assert_eq!(put(&masters[0], 1.0).ok(), Some(200));

    let pid = nix::unistd::Pid::from_raw(masters[0].proc.as_ref().unwrap().0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    // The other master takes over once ZooKeeper expires the stalled one's
    // session (asking only it: the stalled one cannot answer).
    let follower = &masters[1];
    let leader_pid = follower.pid();
    wait_until(60, "the other master to lead", || {
        let s = follower.state()?;
        (s["leader"] == leader_pid.as_str() && s.get("elected_time").is_some()).then_some(())
    });
    // Elected, it answers 503 until it has read the registry.
    wait_until(30, "the new leader to acknowledge a write", || {
        (put(follower, 2.0).ok() == Some(200)).then_some(())
    });
    // The write reaches the stalled master before it wakes (the kernel
    // queues it), so it is there in the same instant as the news from
    // ZooKeeper. Whatever it answers (503, or nothing as it exits), it is
    // not an acknowledgement.
    let woke = std::thread::scope(|scope| {
        let write = scope.spawn(|| put(&masters[0], 3.0));
        // Time for the request to be sent and queued; the order of events
        // is what the test is about, not a race it hides.
        std::thread::sleep(Duration::from_millis(300));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
        write.join().unwrap()
    });
    assert!(!matches!(woke, Ok(200)), "{woke:?}");
    assert_eq!(weight_held(follower, "stall"), Some(2.0));
}
