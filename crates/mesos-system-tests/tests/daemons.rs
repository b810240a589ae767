//! The daemons as separate processes, configured the ways operators do it:
//! command-line flags, `MESOS_*` environment variables and the packaging
//! directory (`/etc/mesos-slave/<flag>`, moved with `MESOS_CONFIG_DIR`).

use mesos_system_tests::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn master_and_agent_processes_configured_by_flags_env_and_etc_files() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _master = Daemon(
        Command::new(bin("mesos-master"))
            .args([
                "--ip=127.0.0.1",
                &format!("--port={port}"),
                "--allocation_interval=100ms",
            ])
            .env("MESOS_WORK_DIR", dir.path().join("master"))
            .env("MESOS_CLUSTER", "itest")
            .env("MESOS_CONFIG_DIR", dir.path().join("etc/mesos-master"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for("master health", || {
        reqwest::blocking::get(format!("{base}/master/health")).is_ok_and(|r| r.status() == 200)
    });

    // The agent takes its resources and attributes from packaging files.
    let etc = dir.path().join("etc/mesos-slave");
    std::fs::create_dir_all(etc.join("attributes")).unwrap();
    std::fs::write(
        etc.join("resources"),
        "cpus:3;mem:2048;disk:4096;ports:[31000-31100]\n",
    )
    .unwrap();
    std::fs::write(etc.join("attributes/rack"), "r1\n").unwrap();
    let agent_port = free_port();
    let _agent = Daemon(
        Command::new(bin("mesos-agent"))
            .args([
                format!("--master=127.0.0.1:{port}"),
                format!("--port={agent_port}"),
            ])
            .env("MESOS_WORK_DIR", dir.path().join("agent"))
            .env("MESOS_CONFIG_DIR", &etc)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("agent registration", || {
        get_json(&format!("{base}/master/state"))["activated_slaves"] == 1
    });

    let state = get_json(&format!("{base}/master/state"));
    assert_eq!(state["cluster"], "itest");
    assert_eq!(state["flags"]["cluster"], "itest");
    let agent = &state["slaves"][0];
    assert_eq!(agent["resources"]["cpus"], 3.0);
    assert_eq!(agent["resources"]["mem"], 2048.0);
    assert_eq!(agent["resources"]["ports"], "[31000-31100]");
    assert_eq!(agent["attributes"]["rack"], "r1");
    assert!(agent["id"].as_str().unwrap().ends_with("-S0"));
    assert!(
        state["leader"]
            .as_str()
            .unwrap()
            .starts_with("master@127.0.0.1:")
    );

    let out = run(
        Command::new(bin("mesos-execute")).args([
            &format!("--master=127.0.0.1:{port}"),
            "--name=two-procs",
            "--command=test -n \"$MESOS_SANDBOX\"",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);

    // The agent was admitted to the embedded registry before it was told so.
    assert!(dir.path().join("master/registry.redb").exists());
    let v = get_json(&format!("{base}/version"));
    assert_eq!(v["version"], "1.11.0");
}

#[test]
fn daemons_reject_unknown_flags_naming_them() {
    for b in [
        "mesos-master",
        "mesos-agent",
        "mesos-local",
        "mesos-execute",
    ] {
        let out = run(
            Command::new(bin(b)).arg("--no_such_flag=1"),
            Duration::from_secs(10),
        );
        assert_ne!(out.code, Some(0), "{b} accepted an unknown flag");
        assert!(out.stderr.contains("--no_such_flag"), "{b}: {}", out.stderr);
    }
}

/// `--log_dir`: each daemon writes its log to `<log_dir>/<program>.INFO`
/// and serves it as `/master/log` or `/slave/log`; SET_LOGGING_LEVEL
/// really changes what the agent logs.
#[test]
fn daemons_log_to_log_dir_and_set_logging_level_changes_verbosity() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _master = Daemon(
        Command::new(bin("mesos-master"))
            .args([
                "--ip=127.0.0.1",
                &format!("--port={port}"),
                "--registry=in_memory",
                &format!("--log_dir={}", dir.path().join("mlogs").display()),
            ])
            .env_remove("RUST_LOG")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let master = format!("http://127.0.0.1:{port}");
    wait_for("master health", || {
        reqwest::blocking::get(format!("{master}/health")).is_ok_and(|r| r.status() == 200)
    });
    let agent_port = free_port();
    let log = dir.path().join("alogs/mesos-agent.INFO");
    let _agent = Daemon(
        Command::new(bin("mesos-agent"))
            .args([
                format!("--master=127.0.0.1:{port}"),
                format!("--port={agent_port}"),
                format!("--work_dir={}", dir.path().join("agent").display()),
                format!("--log_dir={}", dir.path().join("alogs").display()),
            ])
            .env_remove("RUST_LOG")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let agent = format!("http://127.0.0.1:{agent_port}");
    wait_for("agent registration", || {
        get_json(&format!("{master}/master/state"))["activated_slaves"] == 1
    });

    // Each log is served under its virtual path.
    wait_for("the master's log to show the registration", || {
        get_json(&format!("{master}/files/read?path=/master/log&offset=0"))["data"]
            .as_str()
            .is_some_and(|d| d.contains("INFO"))
    });
    let read = get_json(&format!("{agent}/files/read?path=/slave/log&offset=0"));
    assert!(read["data"].as_str().unwrap().contains("INFO"), "{read}");

    // A refused executor call is logged at debug level only.
    let client = reqwest::blocking::Client::new();
    let refused = || {
        let r = client
            .post(format!("{agent}/api/v1/executor"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 415);
    };
    let logged = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Rejected executor call")
    };
    refused();
    assert!(!logged(), "debug lines are not logged at level 0");
    let set = client
        .post(format!("{agent}/api/v1"))
        .header("content-type", "application/json")
        .body(r#"{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":3600000000000}}}"#)
        .send()
        .unwrap();
    assert_eq!(set.status().as_u16(), 200);
    refused();
    wait_for("the debug line in the agent's log", logged);
    let level = client
        .post(format!("{agent}/api/v1"))
        .header("content-type", "application/json")
        .body(r#"{"type":"GET_LOGGING_LEVEL"}"#)
        .send()
        .unwrap()
        .json::<serde_json::Value>()
        .unwrap();
    assert_eq!(level["get_logging_level"]["level"], 1);
}
