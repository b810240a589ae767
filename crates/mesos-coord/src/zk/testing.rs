//! A throwaway ZooKeeper ensemble for tests: `n` servers of Debian's
//! `zookeeper` package (3.8) on free loopback ports, each in its own
//! directory, killed when the [`Ensemble`] is dropped. Servers can be
//! paused (SIGSTOP, a partition as its clients see it), resumed, killed
//! and restarted.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's package puts ZooKeeper (its jar names the rest of its
/// class path in its manifest), with slf4j's simple logger so the servers'
/// logs reach `server.log` (without it they log nothing).
/// `$ZOOKEEPER_CLASSPATH` overrides.
const CLASSPATH: &str =
    "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar";

struct Server {
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

/// Each server's Java heap unless asked otherwise: plenty for tests.
pub const DEFAULT_HEAP_MB: u32 = 512;

/// A running ensemble.
pub struct Ensemble {
    servers: Vec<Server>,
    heap_mb: u32,
    _root: Option<tempfile_dir::TempDir>,
}

mod tempfile_dir {
    //! A directory removed on drop (std only; tempfile is a dev-dependency).
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> std::io::Result<TempDir> {
            let base = std::env::temp_dir();
            for i in 0..1000u32 {
                let p = base.join(format!("zk-ensemble-{}-{i}", std::process::id()));
                if std::fs::create_dir(&p).is_ok() {
                    return Ok(TempDir(p));
                }
            }
            Err(std::io::Error::other("no free temp directory name"))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Whether this machine can run an ensemble (the package is installed).
pub fn available() -> bool {
    std::env::var_os("ZOOKEEPER_CLASSPATH").is_some()
        || Path::new("/usr/share/java/zookeeper.jar").exists()
}

/// An ensemble of `n` servers for a test (tick 200 ms, so sessions of
/// 0.4 to 4 s are allowed), or a failure that says how to install
/// ZooKeeper. `reserved` hands out the ports (three per server) for
/// harnesses that reserve their own; `None` asks the kernel.
pub fn test_ensemble(n: usize, reserved: Option<&mut dyn Iterator<Item = u16>>) -> Ensemble {
    assert!(
        available(),
        "ZooKeeper is not installed: run scripts/test.sh (it installs Debian's `zookeeper`)"
    );
    match reserved {
        Some(ports) => Ensemble::start_on(n, 200, ports),
        None => Ensemble::start(n, 200),
    }
    .expect("a ZooKeeper ensemble starts")
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Ensemble {
    /// Starts `n` servers and waits until they serve clients (a quorum has
    /// formed). `tick_ms` is ZooKeeper's `tickTime`: sessions may last from
    /// 2 to 20 ticks.
    pub fn start(n: usize, tick_ms: u32) -> std::io::Result<Ensemble> {
        Ensemble::start_with_heap(n, tick_ms, DEFAULT_HEAP_MB)
    }

    /// [`Ensemble::start`] with `heap_mb` of Java heap per server (`-Xmx`).
    /// A server keeps its last 500 committed writes in memory, so a client
    /// writing large multi-ops (the registry's buckets at scale) needs more
    /// than the default.
    pub fn start_with_heap(n: usize, tick_ms: u32, heap_mb: u32) -> std::io::Result<Ensemble> {
        let mut ports = Vec::new();
        for _ in 0..3 * n {
            ports.push(free_port()?);
        }
        Ensemble::start_full(n, tick_ms, heap_mb, &mut ports.into_iter())
    }

    /// [`Ensemble::start`] on ports the caller reserved (three per server:
    /// client, peer, election), for harnesses that hand out ports
    /// themselves.
    pub fn start_on(
        n: usize,
        tick_ms: u32,
        reserved: &mut dyn Iterator<Item = u16>,
    ) -> std::io::Result<Ensemble> {
        Ensemble::start_full(n, tick_ms, DEFAULT_HEAP_MB, reserved)
    }

    fn start_full(
        n: usize,
        tick_ms: u32,
        heap_mb: u32,
        reserved: &mut dyn Iterator<Item = u16>,
    ) -> std::io::Result<Ensemble> {
        let root = tempfile_dir::TempDir::new()?;
        let mut next = || {
            reserved
                .next()
                .ok_or_else(|| std::io::Error::other("not enough ports for the ensemble"))
        };
        let mut ports = Vec::new();
        for _ in 0..n {
            ports.push((next()?, next()?, next()?));
        }
        let peers: String = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer, election))| {
                format!("server.{}=127.0.0.1:{peer}:{election}\n", i + 1)
            })
            .collect();
        let mut servers = Vec::new();
        for (i, (client, _, _)) in ports.iter().enumerate() {
            let dir = root.path().join(format!("zk{}", i + 1));
            std::fs::create_dir_all(dir.join("data"))?;
            std::fs::write(dir.join("data/myid"), format!("{}\n", i + 1))?;
            let mut cfg = format!(
                "tickTime={tick_ms}\ninitLimit=20\nsyncLimit=5\ndataDir={}\nclientPort={client}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=srvr,ruok,stat\nquorumListenOnAllIPs=false\n",
                dir.join("data").display()
            );
            if n > 1 {
                cfg.push_str(&peers);
            }
            std::fs::write(dir.join("zoo.cfg"), cfg)?;
            servers.push(Server {
                dir,
                client_port: *client,
                child: None,
            });
        }
        let mut e = Ensemble {
            servers,
            heap_mb,
            _root: Some(root),
        };
        for i in 0..n {
            e.launch(i)?;
        }
        e.wait_serving(Duration::from_secs(60))?;
        Ok(e)
    }

    fn launch(&mut self, i: usize) -> std::io::Result<()> {
        let s = &mut self.servers[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(s.dir.join("server.log"))?;
        let classpath =
            std::env::var("ZOOKEEPER_CLASSPATH").unwrap_or_else(|_| CLASSPATH.to_string());
        use std::os::unix::process::CommandExt;
        let child = Command::new("java")
            .arg(format!("-Xmx{}m", self.heap_mb))
            .arg("-XX:+UseSerialGC")
            .arg("-Dzookeeper.admin.enableServer=false")
            .arg(format!("-Dzookeeper.log.dir={}", s.dir.display()))
            .arg("-cp")
            .arg(classpath)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(s.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        s.child = Some(child);
        Ok(())
    }

    /// Waits until every running, unpaused server says it serves.
    pub fn wait_serving(&self, timeout: Duration) -> std::io::Result<()> {
        let deadline = Instant::now() + timeout;
        for (i, s) in self.servers.iter().enumerate() {
            if s.child.is_none() {
                continue;
            }
            loop {
                if self.mode(i).is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let log = std::fs::read_to_string(s.dir.join("server.log")).unwrap_or_default();
                    let tail: String = log
                        .lines()
                        .rev()
                        .take(30)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    return Err(std::io::Error::other(format!(
                        "ZooKeeper server {} did not start serving; its log ends:\n{tail}",
                        i + 1
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// `leader`, `follower` or `standalone` while server `i` serves.
    pub fn mode(&self, i: usize) -> Option<String> {
        let port = self.servers[i].client_port;
        let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
        c.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        c.write_all(b"srvr").ok()?;
        let mut out = String::new();
        c.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_string())
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,...`
    pub fn connect_string(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `zk://<every server>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "zk://{}/{}",
            self.connect_string(),
            path.trim_start_matches('/')
        )
    }

    /// `zk://<server i only>/<path>`: a client of one server, cut off when
    /// that server is paused.
    pub fn url_of(&self, i: usize, path: &str) -> String {
        format!(
            "zk://127.0.0.1:{}/{}",
            self.servers[i].client_port,
            path.trim_start_matches('/')
        )
    }

    /// `zk://<every server but i>/<path>`: a client that keeps ZooKeeper
    /// while server `i` is cut off.
    pub fn url_without(&self, i: usize, path: &str) -> String {
        let servers: Vec<String> = (0..self.servers.len())
            .filter(|j| *j != i)
            .map(|j| format!("127.0.0.1:{}", self.servers[j].client_port))
            .collect();
        format!(
            "zk://{}/{}",
            servers.join(","),
            path.trim_start_matches('/')
        )
    }

    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    fn signal(&self, i: usize, sig: nix::sys::signal::Signal) {
        if let Some(c) = &self.servers[i].child {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), sig);
        }
    }

    /// Freezes server `i` (SIGSTOP): its clients see silence, not a
    /// closed connection, as across a network partition.
    pub fn pause(&self, i: usize) {
        self.signal(i, nix::sys::signal::Signal::SIGSTOP);
    }

    pub fn resume(&self, i: usize) {
        self.signal(i, nix::sys::signal::Signal::SIGCONT);
    }

    /// Kills server `i` (its data stays for [`Ensemble::restart`]).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].child.take() {
            self.resume_child(&c);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn resume_child(&self, c: &Child) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGCONT,
        );
    }

    /// Starts a killed server again.
    pub fn restart(&mut self, i: usize) -> std::io::Result<()> {
        self.kill(i);
        self.launch(i)
    }

    /// Server `i`'s log (for failure messages).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.servers[i].dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}

/// The `MasterInfo` JSON a Mesos master at `addr` writes into its
/// `json.info_` znode (spec §8.1), for tests that stand in for a master's
/// own announcement.
pub fn master_info_json(addr: std::net::SocketAddr) -> Vec<u8> {
    let ip = addr.ip().to_string();
    // `ip` is the IPv4 address in network order read as a little-endian
    // integer (127.0.0.1 -> 16777343); 0 for IPv6, as Mesos leaves it.
    let packed = match addr.ip() {
        std::net::IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
        std::net::IpAddr::V6(_) => 0,
    };
    let port = addr.port();
    serde_json::json!({
        "address": {"hostname": ip, "ip": ip, "port": port},
        "hostname": ip,
        "id": format!("test-master-{port}"),
        "ip": packed,
        "pid": format!("master@{}", crate::host_port(&ip, port)),
        "port": port,
        "version": "1.11.0",
    })
    .to_string()
    .into_bytes()
}

/// Announces a master at `addr` in the group of `session`'s URL the way a
/// master joins it: an ephemeral sequential `json.info_` znode holding its
/// `MasterInfo`. Returns the znode's path; deleting it (or closing the
/// session) deposes that master.
pub async fn announce_master(
    session: &super::ZkSession,
    addr: std::net::SocketAddr,
) -> Result<String, super::ZkError> {
    let options = zookeeper_client::CreateMode::EphemeralSequential
        .with_acls(zookeeper_client::Acls::anyone_all());
    let prefix = format!("{}/{}", session.url().path, crate::MASTER_INFO_LABEL);
    let (_, seq) = session
        .client()
        .create(&prefix, &master_info_json(addr), &options)
        .await?;
    Ok(format!("{prefix}{seq}"))
}
