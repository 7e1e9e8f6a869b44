//! Helpers for tests that run the real binaries: processes killed on drop, readiness from their logs,
//! free loopback ports, a TCP echo server.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// How long a program may take to print its ready line.
pub const READY_LIMIT: Duration = Duration::from_secs(15);

/// A running program, killed on drop; its stderr (and stdout) lines are kept for assertions.
pub struct Proc {
    pub child: Child,
    pub stdin: Option<std::process::ChildStdin>,
    pub name: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `bin args`, then waits until a line of its output contains `ready`.
    pub fn start(bin: &str, args: &[String], ready: &str) -> Proc {
        Self::start_env(bin, args, ready, &[])
    }

    /// As [`Proc::start`], with extra environment variables.
    pub fn start_env(bin: &str, args: &[String], ready: &str, env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let name = std::path::Path::new(bin)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let out: Box<dyn std::io::Read + Send> = Box::new(child.stdout.take().expect("stdout"));
        let err: Box<dyn std::io::Read + Send> = Box::new(child.stderr.take().expect("stderr"));
        for pipe in [out, err] {
            let tx = tx.clone();
            let log = log.clone();
            let ready = ready.to_string();
            let name = name.clone();
            // Reads until the process ends, so a full pipe never blocks it.
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if std::env::var_os("EXAMPLES_LOG").is_some() {
                        eprintln!("[{name}] {line}");
                    }
                    if line.contains(&ready) {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        let stdin = child.stdin.take();
        let mut p = Proc {
            child,
            stdin,
            name,
            log,
        };
        if rx.recv_timeout(READY_LIMIT).is_err() {
            let status = p.child.try_wait();
            let log = p.log.lock().unwrap().join("\n");
            panic!("{bin} {args:?} did not print {ready:?}: {status:?}\n{log}");
        }
        p
    }

    /// Waits (bounded by 20 s) until the output contains `what`.
    pub fn wait_for(&self, what: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if self.output().contains(what) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Writes one line to the program's stdin.
    pub fn say(&mut self, line: &str) {
        use std::io::Write;
        let w = self.stdin.as_mut().expect("stdin open");
        writeln!(w, "{line}").expect("write stdin");
        w.flush().expect("flush stdin");
    }

    /// Everything printed so far.
    pub fn output(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `bin --version` runs; prints why not otherwise.
pub fn have(bin: &str) -> bool {
    let ok = Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: {bin} not installed (Debian package kcptun, scripts/setup.sh)");
    }
    ok
}

/// A free loopback UDP port (bound and released; a race with other programs is possible but rare).
pub fn free_udp() -> SocketAddr {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    s.local_addr().expect("addr")
}

/// A free loopback TCP port.
pub fn free_tcp() -> SocketAddr {
    let s = std::net::TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    s.local_addr().expect("addr")
}

/// A TCP echo server on a loopback port, on its own threads (one per connection); runs until the test ends.
pub fn echo_server() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind echo");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                let mut r = c.try_clone().expect("clone");
                let _ = std::io::copy(&mut r, &mut c);
            });
        }
    });
    addr
}

/// Deterministic pseudo-random bytes (xorshift), so a failing run can be repeated.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The netem relay (seeded link model) on its own thread, forwarding a loopback port to `upstream`; stops
/// when dropped.
pub fn relay(
    upstream: SocketAddr,
    up: netem_tests::link::LinkConfig,
    down: netem_tests::link::LinkConfig,
) -> netem_tests::relay::RelayHandle {
    let cfg = netem_tests::relay::RelayConfig::new(upstream, up, down, 7);
    netem_tests::relay::Relay::spawn_thread(([127, 0, 0, 1], 0).into(), cfg).expect("relay")
}

/// A fresh empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("kcp-examples-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
