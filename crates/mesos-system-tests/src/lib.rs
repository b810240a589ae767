//! Harness for system tests: runs the workspace's real binaries (built by
//! `cargo build --workspace --bins`, which the test command does first) as
//! separate processes on free loopback ports, and finds the Python client
//! virtualenv made by `scripts/python-clients.sh`.

mod framework;
pub use framework::{
    Fw, Proc, command_task, marked_task, master_state, start_agent, wait_for_agents,
    wait_for_no_process_with,
};

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `target/debug` (the directory holding this test binary's `deps/`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf()
}

pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test.sh does)",
        p.display()
    );
    p
}

/// A loopback port for a daemon to listen on, reserved for the life of
/// this test process.
///
/// Asking the kernel for port 0 and handing the number on races: before
/// the daemon binds it, the kernel may give the same port to another
/// test's `free_port` or to an outgoing connection. So ports come from
/// below the kernel's ephemeral range (never used for outgoing
/// connections), and each is claimed with an exclusive lock on a file
/// named after it; the lock is held until the test process exits (nextest
/// runs every test in its own process).
pub fn free_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = (
        ephemeral_low.saturating_sub(12_000).max(1024),
        ephemeral_low,
    );
    let dir = std::env::temp_dir().join("mesos-system-test-ports");
    std::fs::create_dir_all(&dir).expect("port lock directory");
    let span = u32::from(high - low);
    let seed = std::process::id().wrapping_mul(7919)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    for i in 0..span {
        let port = low + ((seed.wrapping_add(i)) % span) as u16;
        let Ok(lock) = std::fs::File::create(dir.join(port.to_string())) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue; // another test process holds it
        }
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// A `mesos-local` process; killed (with its executors' process groups
/// left to the agent's shutdown) when dropped.
pub struct LocalCluster {
    child: Child,
    pub master: String,
    pub agents: Vec<String>,
    pub work_dir: tempfile::TempDir,
}

impl LocalCluster {
    pub fn start(num_agents: usize, extra: &[&str]) -> LocalCluster {
        let work_dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut child = Command::new(bin("mesos-local"))
            .arg(format!("--port={port}"))
            .arg(format!("--num_agents={num_agents}"))
            .arg(format!("--work_dir={}", work_dir.path().display()))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mesos-local");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut agents = Vec::new();
        let mut master = String::new();
        // mesos-local prints its endpoints once everything is registered.
        while agents.len() < num_agents {
            let line = lines
                .next()
                .expect("mesos-local exited before it was ready")
                .expect("read");
            if let Some(m) = line.strip_prefix("Mesos master listening on http://") {
                master = m.trim().to_string();
            } else if let Some(pos) = line.find("listening on http://") {
                agents.push(
                    line[pos + "listening on http://".len()..]
                        .trim()
                        .to_string(),
                );
            }
        }
        std::thread::spawn(move || for _ in lines.by_ref() {});
        LocalCluster {
            child,
            master,
            agents,
            work_dir,
        }
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        get_json(&format!("http://{}{}", self.master, path))
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn get_json(url: &str) -> serde_json::Value {
    reqwest::blocking::get(url)
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

/// Output of a finished command.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to completion, killing it after `timeout`.
pub fn run(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let t_err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let deadline = Instant::now() + timeout;
    let code = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status.code(),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Output {
        code,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// The virtualenv Python with the client libraries, or `None` (the test
/// then says why it is skipped). Under CI a missing venv is a failure.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("MESOS_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| bin_dir().parent().expect("target").join("venv/bin/python"));
    if candidate.exists() {
        return Some(candidate);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is missing; scripts/test.sh builds it with scripts/python-clients.sh",
            candidate.display()
        );
    }
    eprintln!(
        "SKIP: no Python client venv at {} (run scripts/python-clients.sh)",
        candidate.display()
    );
    None
}

pub fn python_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// Pids of live processes whose environment contains `marker`.
pub fn processes_with_env(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(env) = std::fs::read(e.path().join("environ"))
            && env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// A Python script of `python/` run with the client virtualenv, whose
/// stdout lines are JSON objects handed over as they are printed (other
/// lines go to stderr). Killed when dropped.
pub struct PyScript {
    pub proc: Proc,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<serde_json::Value>,
    /// Every object read so far, in order.
    pub seen: Vec<serde_json::Value>,
}

impl PyScript {
    pub fn start(py: &std::path::Path, script: &str, args: &[&str]) -> PyScript {
        let mut child = Command::new(py)
            .arg(python_script(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {script}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        let name = script.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("{name}: {line}"),
                }
            }
        });
        PyScript {
            proc: Proc(child),
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// Writes `line` to the script's stdin.
    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("the script's stdin");
        writeln!(stdin, "{line}").expect("write to the script");
        stdin.flush().expect("flush the script's stdin");
    }

    /// The next printed object that satisfies `pred`, within 90 s; panics
    /// naming `what` and listing what was printed otherwise.
    pub fn line_where(
        &mut self,
        what: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(e) => panic!(
                    "the script printed no {what} ({e}); it printed {:?}",
                    self.seen
                ),
            }
        }
    }
}
