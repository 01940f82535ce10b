//! Real Redis servers on loopback for the tests: one server, or a three-node Cluster, each
//! with the append-only file fsynced on every write (`appendfsync always`), in a temporary
//! folder, stopped when dropped. Shared by the library's store tests and the CLI tests
//! (`#[path]`-included by both), so both start Redis the same way.
//!
//! Debian's `redis-server` and `redis-cli` (`apt-get install redis-server`); `.ci/run`
//! installs them. Without them a test is skipped with a note, except on CI (`CI=true`),
//! where it fails.

#![allow(dead_code, unreachable_pub)] // each including crate uses part of it, at its own visibility

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING`, and a Cluster to agree on its slots.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// Whether `redis-server` and `redis-cli` can run here; panics on CI when they cannot.
pub fn available() -> bool {
    let found = ["redis-server", "redis-cli"].iter().all(|tool| {
        Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
    });
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server and redis-cli are required on CI: apt-get install redis-server"
        );
        eprintln!(
            "note: redis-server is not installed (apt-get install redis-server); skipping a Redis test"
        );
    }
    found
}

/// A free loopback port whose Cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// One `redis-server` process.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
    cluster: bool,
    _temp: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// A durable server of its own (append-only file, fsync on every write).
    pub fn start() -> RedisServer {
        RedisServer::start_node(false)
    }

    fn start_node(cluster: bool) -> RedisServer {
        let temp = tempfile::tempdir().unwrap();
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir: temp.path().to_owned(),
            cluster,
            _temp: Some(temp),
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
        command.args(["--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction"]);
        command.arg("--dir").arg(&self.dir).arg("--logfile").arg(self.dir.join("redis.log"));
        if self.cluster {
            command.args(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]);
        }
        let child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("redis-server starts");
        self.child = Some(child);
        wait_for_ping(self.port, &self.dir);
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash or a power cut of the process would stop it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again on the same port and folder: it reloads its append-only file.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// `redis-cli` against this server.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli").args(["-p", &port.to_string()]).args(args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn wait_for_ping(port: u16, dir: &Path) {
    let started = Instant::now();
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut answer = [0; 7];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            if stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut answer).is_ok()
                && &answer == b"+PONG\r\n"
            {
                return;
            }
        }
        assert!(
            started.elapsed() < READY_WITHIN,
            "redis-server on port {port} did not answer PING: {}",
            std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Three primaries sharing the 16,384 slots, no replicas.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3).map(|_| RedisServer::start_node(true)).collect();
        let addresses: Vec<String> = nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)).collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let created = nodes[0].cli(&create);
        assert!(created.contains("All 16384 slots covered"), "the cluster was not created: {created}");
        let started = Instant::now();
        while !nodes.iter().all(|node| node.cli(&["cluster", "info"]).contains("cluster_state:ok")) {
            assert!(started.elapsed() < READY_WITHIN, "the cluster did not settle: {created}");
            std::thread::sleep(Duration::from_millis(50));
        }
        RedisCluster { nodes }
    }

    /// Every node's URL: the seeds a client discovers the Cluster from.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}
