//! Drives Debian's `kcptun-server` / `kcptun-client` on loopback for interop tests and benchmarks.
//!
//! Processes are started with the flags of one matrix cell, waited for until they log that they are
//! ready (bounded), and killed when their handle drops. Shared by `stack/tests` and the `benches` crate
//! (included there with `#[path]`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a kcptun process may take to become ready.
const READY_LIMIT: Duration = Duration::from_secs(10);

/// Every cipher kcptun offers.
pub const CRYPTS: [&str; 13] = [
    "aes", "aes-128", "aes-192", "salsa20", "blowfish", "twofish", "cast5", "3des", "tea", "xtea",
    "xor", "sm4", "none",
];

/// The settings both ends must share, as kcptun flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// `--crypt`.
    pub crypt: &'static str,
    /// `--datashard`/`--parityshard`: (10, 3) or (0, 0).
    pub fec: (usize, usize),
    /// `--smuxver`.
    pub smuxver: u8,
    /// `--nocomp` when false.
    pub comp: bool,
    /// `--mode`.
    pub mode: &'static str,
}

impl Cell {
    /// The kcptun flags for this cell (key included).
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "--key",
            "stack-interop",
            "--crypt",
            self.crypt,
            "--mode",
            self.mode,
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend([
            "--datashard".into(),
            self.fec.0.to_string(),
            "--parityshard".into(),
            self.fec.1.to_string(),
            "--smuxver".into(),
            self.smuxver.to_string(),
        ]);
        if !self.comp {
            a.push("--nocomp".into());
        }
        a
    }

    /// Our configuration for the same cell, on top of `base` (client or server defaults).
    pub fn config(&self, base: stack::Config) -> stack::Config {
        stack::Config {
            key: "stack-interop".into(),
            crypt: kcp::codec::CryptKind::from_kcptun_name(self.crypt),
            mode: stack::Mode::from_name(self.mode).expect("mode name"),
            datashard: self.fec.0,
            parityshard: self.fec.1,
            smuxver: self.smuxver,
            nocomp: !self.comp,
            ..base
        }
    }

    /// Every cell of the full matrix: crypt x FEC x smuxver x compression x mode (208 cells).
    pub fn full_matrix() -> Vec<Cell> {
        let mut cells = Vec::new();
        for crypt in CRYPTS {
            for fec in [(10, 3), (0, 0)] {
                for smuxver in [1, 2] {
                    for comp in [true, false] {
                        for mode in ["fast", "fast3"] {
                            cells.push(Cell {
                                crypt,
                                fec,
                                smuxver,
                                comp,
                                mode,
                            });
                        }
                    }
                }
            }
        }
        cells
    }

    /// One cell per cipher, the other dimensions varied so that every value of each appears.
    pub fn ci_slice() -> Vec<Cell> {
        CRYPTS
            .iter()
            .enumerate()
            .map(|(i, crypt)| Cell {
                crypt,
                fec: if i & 1 == 0 { (10, 3) } else { (0, 0) },
                smuxver: if i & 2 == 0 { 1 } else { 2 },
                comp: i & 4 == 0,
                mode: if (i ^ (i >> 3)) & 1 == 0 {
                    "fast"
                } else {
                    "fast3"
                },
            })
            .collect()
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "crypt={} fec={}/{} smuxver={} comp={} mode={}",
            self.crypt, self.fec.0, self.fec.1, self.smuxver, self.comp, self.mode
        )
    }
}

/// Whether the kcptun binaries are installed; prints why not when they are not.
pub fn available() -> bool {
    for bin in ["kcptun-server", "kcptun-client"] {
        let ok = Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipping: {bin} not installed (Debian package kcptun, scripts/setup.sh)");
            return false;
        }
    }
    true
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

/// Whether some socket is bound to the IPv4 UDP address `addr` (from `/proc/net/udp`).
fn udp_bound(addr: SocketAddr) -> bool {
    let SocketAddr::V4(v4) = addr else {
        return true;
    };
    let want = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    std::fs::read_to_string("/proc/net/udp")
        .map(|t| {
            t.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(want.as_str()))
        })
        .unwrap_or(true)
}

/// A running kcptun process, killed on drop.
#[derive(Debug)]
pub struct Kcptun {
    child: Child,
    /// `--listen` of a server (UDP) or `--localaddr` of a client (TCP).
    pub addr: SocketAddr,
}

impl Kcptun {
    /// `kcptun-server -l listen -t target` with the cell's flags and `extra`.
    pub fn server(listen: SocketAddr, target: SocketAddr, cell: &Cell, extra: &[&str]) -> Kcptun {
        let mut args = vec![
            "-l".to_string(),
            listen.to_string(),
            "-t".into(),
            target.to_string(),
        ];
        args.extend(cell.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        let k = Kcptun::start("kcptun-server", &args, listen);
        // kcptun logs "key derivation done" before it binds its UDP socket; datagrams sent before the
        // bind are lost (and only recovered by retransmission), so wait until the port shows up.
        let deadline = std::time::Instant::now() + READY_LIMIT;
        while !udp_bound(listen) {
            assert!(
                std::time::Instant::now() < deadline,
                "kcptun-server never bound {listen}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        k
    }

    /// `kcptun-client -l local -r remote` with the cell's flags and `extra`.
    pub fn client(local: SocketAddr, remote: SocketAddr, cell: &Cell, extra: &[&str]) -> Kcptun {
        let mut args = vec![
            "-l".to_string(),
            local.to_string(),
            "-r".into(),
            remote.to_string(),
        ];
        args.extend(cell.args());
        args.extend(extra.iter().map(|s| s.to_string()));
        Kcptun::start("kcptun-client", &args, local)
    }

    fn start(bin: &str, args: &[String], addr: SocketAddr) -> Kcptun {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        // Reads the log until the process ends, so that a full pipe never blocks it.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("key derivation done") {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(());
                    }
                }
                if std::env::var_os("KCPTUN_LOG").is_some() {
                    eprintln!("[{addr}] {line}");
                }
            }
        });
        let mut k = Kcptun { child, addr };
        if rx.recv_timeout(READY_LIMIT).is_err() {
            let status = k.child.try_wait();
            panic!("{bin} {args:?} did not become ready: {status:?}");
        }
        k
    }

    /// The process id (for CPU accounting from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process and waits for it.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Kcptun {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP echo server on loopback; stops when dropped.
pub struct TcpEcho {
    /// Its address.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TcpEcho {
    /// Starts the echo server on a free port (call inside a tokio runtime).
    pub async fn start() -> TcpEcho {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind echo");
        let addr = l.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        TcpEcho { addr, task }
    }
}

impl Drop for TcpEcho {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions; _SC_CLK_TCK is a valid name.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / tck)
}
