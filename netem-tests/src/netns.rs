//! Private network namespaces for the TCP baseline: inside one, loopback gets a 1500-byte MTU (so TCP segments
//! are the size of KCP's datagrams), and iptables NFQUEUE rules can be added freely; deleting the namespace
//! removes every rule, socket and setting made in it. Names carry the creating process id, and namespaces left
//! behind by a process that no longer exists are removed on the next [`NetNs::create`].

use std::io;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const PREFIX: &str = "netem-";

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The iptables binary to use: `iptables-legacy` where present (it needs no nft `queue` expression, which some
/// kernels lack), else `iptables`.
pub fn iptables() -> Option<&'static str> {
    ["iptables-legacy", "iptables"]
        .into_iter()
        .find(|p| runs(p, "--version"))
}

/// Why NFQUEUE-based TCP tests cannot run here, or `None` when they can.
pub fn nfq_unavailable() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("NFQUEUE needs Linux".into());
    }
    if !is_root() {
        return Some("needs root (network namespaces, iptables NFQUEUE)".into());
    }
    if !runs("ip", "-V") {
        return Some("`ip` (iproute2) is not installed".into());
    }
    if iptables().is_none() {
        return Some("iptables is not installed (apt-get install -y iptables)".into());
    }
    if !std::path::Path::new("/proc/net/netfilter/nfnetlink_queue").exists() {
        return Some("the kernel has no nfnetlink_queue (CONFIG_NETFILTER_NETLINK_QUEUE)".into());
    }
    None
}

fn check(out: io::Result<Output>, what: &str) -> io::Result<()> {
    let out = out?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A network namespace, deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a namespace with loopback up at MTU 1500, after removing namespaces of dead processes.
    pub fn create() -> io::Result<NetNs> {
        remove_stale();
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        check(
            Command::new("ip").args(["netns", "add", &name]).output(),
            "ip netns add",
        )?;
        let ns = NetNs { name };
        ns.run("ip", &["link", "set", "lo", "up", "mtu", "1500"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `program args` inside the namespace and fails with its stderr unless it succeeds.
    pub fn run(&self, program: &str, args: &[&str]) -> io::Result<()> {
        check(
            self.command(program).args(args).output(),
            &format!("{program} {}", args.join(" ")),
        )
    }

    /// Sends TCP packets to `port` through NFQUEUE `up_queue` and packets from `port` through `down_queue`, at
    /// PREROUTING: after loopback has orphaned them, so held packets do not count against the sender's TCP Small
    /// Queues budget (a real path's delay does not either).
    pub fn nfqueue_tcp_port(&self, port: u16, up_queue: u16, down_queue: u16) -> io::Result<()> {
        let ipt = iptables().ok_or_else(|| io::Error::other("iptables is not installed"))?;
        let p = port.to_string();
        for (flag, q) in [("--dport", up_queue), ("--sport", down_queue)] {
            let q = q.to_string();
            self.run(
                ipt,
                &[
                    "-t",
                    "mangle",
                    "-A",
                    "PREROUTING",
                    "-p",
                    "tcp",
                    flag,
                    &p,
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &q,
                ],
            )?;
        }
        Ok(())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Deletes `netem-<pid>-<n>` namespaces whose process is gone.
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Lists this process's namespaces that still exist (for tests checking clean-up).
pub fn own_namespaces() -> Vec<String> {
    let me = format!("{PREFIX}{}-", std::process::id());
    Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|n| n.starts_with(&me))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
