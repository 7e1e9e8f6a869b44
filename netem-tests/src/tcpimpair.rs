//! TCP through the link model, at the packet level: a private network namespace (loopback MTU 1500), iptables
//! NFQUEUE rules for one port, and the [`nfq`](crate::nfq) emulator holding verdicts. The parent side
//! ([`run_tcp_cell`]) makes the namespace and rules and runs a child process inside it ([`child_cell`], reached
//! through the `tcp-cell` subcommand of `netem-matrix`); dropping the namespace removes everything it made.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::cell::{Outcome, WorkloadParams, run_workload};
use crate::impair::ImpairArgs;
use crate::netns::NetNs;
use crate::nfq::{NfqConfig, NfqEmulator};

/// The server port inside the namespace (the namespace is private, so a fixed port cannot clash).
pub const TCP_PORT: u16 = 5201;

/// Whether the kernel offers congestion control `cc` (`sysctl net.ipv4.tcp_available_congestion_control`).
pub fn cc_available(cc: &str) -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
        .is_ok_and(|s| s.split_whitespace().any(|x| x == cc))
}

fn tcp_socket(cc: &str) -> io::Result<socket2::Socket> {
    let s = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    s.set_tcp_congestion(cc.as_bytes())?;
    s.set_tcp_nodelay(true)?;
    // Keep at most 128 KiB unsent in the socket so a bulk sender's last write drains in bounded time; the
    // congestion window is not limited by this.
    s.set_tcp_notsent_lowat(128 * 1024)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

async fn connect(cc: &str, addr: SocketAddr) -> io::Result<TcpStream> {
    let s = tcp_socket(cc)?;
    let std_stream: std::net::TcpStream = s.into();
    TcpSocket::from_std_stream(std_stream).connect(addr).await
}

/// Runs one TCP cell in the current network namespace, which must route `TCP_PORT` through NFQUEUE 0 (to the
/// server) and 1 (from the server). Called by `netem-matrix tcp-cell`.
pub fn child_cell(cc: &str, params: &WorkloadParams, impair: &ImpairArgs, seed: u64) -> Outcome {
    let (up, down) = match impair.links() {
        Ok(l) => l,
        Err(e) => return Outcome::failed(e),
    };
    let emu = match NfqEmulator::start(NfqConfig {
        up,
        down,
        seed,
        up_queue: 0,
        down_queue: 1,
    }) {
        Ok(e) => e,
        Err(e) => return Outcome::failed(format!("nfqueue: {e}")),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Outcome::failed(e),
    };
    let outcome = rt.block_on(async {
        let addr: SocketAddr = ([127, 0, 0, 1], TCP_PORT).into();
        let l = match tcp_socket(cc).and_then(|s| {
            s.bind(&addr.into())?;
            s.listen(16)?;
            TcpListener::from_std(s.into())
        }) {
            Ok(l) => l,
            Err(e) => return Outcome::failed(format!("listen: {e}")),
        };
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(crate::workload::serve(s));
            }
        });
        match connect(cc, addr).await {
            Ok(s) => run_workload(s, params, seed).await,
            Err(e) => Outcome::failed(format!("connect: {e}")),
        }
    });
    rt.shutdown_timeout(Duration::from_millis(100));
    match emu.finish() {
        Ok(st) => outcome.with_links(&st.up, &st.down),
        Err(e) => Outcome::failed(format!("nfqueue: {e}")),
    }
}

/// The `tcp-cell` subcommand that every binary running TCP cells offers (hidden; [`run_tcp_cell`] re-executes
/// the binary with it inside the namespace). The parent side of these arguments is [`child_args`].
#[derive(Debug, Clone, clap::Args)]
pub struct TcpCellArgs {
    #[arg(long)]
    cc: String,
    #[arg(long)]
    workload: String,
    #[arg(long)]
    duration_ms: u64,
    #[arg(long)]
    max_bytes: u64,
    #[arg(long)]
    interval_ms: u64,
    #[arg(long)]
    timeout_ms: u64,
    #[arg(long)]
    seed: u64,
    #[command(flatten)]
    impair: ImpairArgs,
}

impl TcpCellArgs {
    /// Runs the cell in this process ([`child_cell`]) and prints its outcome as one JSON line; `prog` names
    /// the binary in the error for an unknown workload.
    pub fn run(&self, prog: &str) -> std::process::ExitCode {
        let Some(workload) = crate::cell::Workload::parse(&self.workload) else {
            eprintln!("{prog}: unknown workload {:?}", self.workload);
            return std::process::ExitCode::from(2);
        };
        let params = WorkloadParams {
            workload,
            duration: Duration::from_millis(self.duration_ms),
            max_bytes: self.max_bytes,
            interval: Duration::from_millis(self.interval_ms),
            timeout: Duration::from_millis(self.timeout_ms),
            partner: None,
        };
        println!(
            "{}",
            child_cell(&self.cc, &params, &self.impair, self.seed).to_json()
        );
        std::process::ExitCode::SUCCESS
    }
}

/// Command-line arguments of the `tcp-cell` subcommand for these settings.
pub fn child_args(
    cc: &str,
    params: &WorkloadParams,
    impair: &ImpairArgs,
    seed: u64,
) -> Vec<String> {
    let mut a = vec![
        "tcp-cell".to_string(),
        "--cc".into(),
        cc.into(),
        "--workload".into(),
        params.workload.name().into(),
        "--duration-ms".into(),
        params.duration.as_millis().to_string(),
        "--max-bytes".into(),
        params.max_bytes.to_string(),
        "--interval-ms".into(),
        params.interval.as_millis().to_string(),
        "--timeout-ms".into(),
        params.timeout.as_millis().to_string(),
        "--seed".into(),
        seed.to_string(),
    ];
    a.extend(impair.to_args());
    a
}

/// Runs one TCP cell: makes a namespace with NFQUEUE rules, runs `exe tcp-cell ...` inside it (killed if it
/// outlives the cell's timeout by 10 s), reads its JSON outcome, and deletes the namespace.
pub fn run_tcp_cell(
    exe: &Path,
    cc: &str,
    params: &WorkloadParams,
    impair: &ImpairArgs,
    seed: u64,
) -> Outcome {
    if let Some(why) = crate::netns::nfq_unavailable() {
        return Outcome::failed(format!("skipped: {why}"));
    }
    if !cc_available(cc) {
        return Outcome::failed(format!("skipped: congestion control {cc} not available"));
    }
    let ns = match NetNs::create().and_then(|ns| ns.nfqueue_tcp_port(TCP_PORT, 0, 1).map(|_| ns)) {
        Ok(ns) => ns,
        Err(e) => return Outcome::failed(format!("namespace: {e}")),
    };
    let child = ns
        .command(&exe.to_string_lossy())
        .args(child_args(cc, params, impair, seed))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Outcome::failed(format!("spawn: {e}")),
    };
    let deadline = Instant::now() + params.timeout + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::failed("tcp-cell child did not finish in time");
            }
        }
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => return Outcome::failed(e),
    };
    drop(ns);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
    {
        Some(v) => Outcome::from_json(&v),
        None => Outcome::failed(format!(
            "tcp-cell printed no result ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}
