//! Side-by-side loopback benchmarks of `kcp::net` and kcp-go v5.6.1 (the `interop/kcp-peer` Go program):
//! bulk one-way throughput with CPU per byte, 64-byte echo round trips, the plain UDP blast ceiling, and
//! memory per idle session. Prints a table with medians of several runs and ours/kcp-go ratios.
//!
//! ```text
//! cargo run --release -p benches --bin kcp_net_compare -- --secs 10 --runs 3
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, KcpStream};
use kcp::proto::Preset;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser, Debug)]
#[command(about = "kcp::net vs kcp-go on loopback")]
struct Args {
    /// Seconds per bulk/echo/blast run.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Runs per measurement (the median is printed).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Comma-separated parts: bulk, echo, blast, idle.
    #[arg(long, default_value = "bulk,echo,blast,idle")]
    only: String,
    /// Sessions for the idle-memory part.
    #[arg(long, default_value_t = 10_000)]
    idle_sessions: usize,
    /// Also run bulk with ack-no-delay on both sides.
    #[arg(long)]
    ack_nodelay: bool,
    /// (internal) run as the idle listener child process.
    #[arg(long, hide = true)]
    idle_child: bool,
    /// (internal) run as the bulk receiver child process with this case index.
    #[arg(long, hide = true)]
    sink_child: Option<usize>,
    /// Run our bulk sender and receiver in one process instead of two.
    #[arg(long)]
    one_process: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// utime + stime of a process in seconds.
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // state is field 3 overall, i.e. index 0 here; utime/stime are fields 14/15 -> 11/12.
    (ticks(11) + ticks(12)) / 100.0
}

/// The numbers after the tag of a peer's result line (`RESULT a b c ...`); panics, naming the line, when
/// fewer than `need` parse (a peer that failed or changed its output).
fn result_fields(line: &str, need: usize) -> Vec<f64> {
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    assert!(
        f.len() >= need,
        "peer result {line:?}: expected {need} numbers"
    );
    f
}

/// (MiB/s, CPU seconds per GiB) from a sink's `RESULT bytes seconds sink_cpu` line plus the sender's CPU.
fn bulk_result(line: &str, sender_cpu: f64) -> (f64, f64) {
    let f = result_fields(line, 3);
    let (bytes, t, sink_cpu) = (f[0], f[1], f[2]);
    (
        bytes / t / 1048576.0,
        (sender_cpu + sink_cpu) / (bytes / 1073741824.0),
    )
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn go_peer() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/kcp-peer/kcp-peer");
    let st = Command::new("bash")
        .arg(root.join("interop/kcp-peer/build.sh"))
        .arg(&out)
        .status()
        .ok()?;
    st.success().then_some(out)
}

#[derive(Clone, Copy)]
struct Case {
    name: &'static str,
    crypt: CryptKind,
    go_crypt: &'static str,
    ds: usize,
    ps: usize,
    ack_nodelay: bool,
}

fn cfg(c: Case) -> Config {
    Config {
        preset: Preset::Fast,
        send_window: 1024,
        recv_window: 1024,
        mtu: 1350,
        crypt: c.crypt,
        key: [0x42; 32],
        fec_data_shards: c.ds,
        fec_parity_shards: c.ps,
        ack_nodelay: c.ack_nodelay,
        ..Config::default()
    }
}

fn bulk_cases(ack_nodelay: bool) -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "crypt none, FEC 0/0",
            crypt: CryptKind::None,
            go_crypt: "none",
            ds: 0,
            ps: 0,
            ack_nodelay: false,
        },
        Case {
            name: "aes, FEC 10/3",
            crypt: CryptKind::Aes256,
            go_crypt: "aes",
            ds: 10,
            ps: 3,
            ack_nodelay: false,
        },
    ];
    if ack_nodelay {
        let extra: Vec<Case> = cases
            .iter()
            .map(|c| Case {
                ack_nodelay: true,
                name: if c.ds == 0 {
                    "none, 0/0, acknodelay"
                } else {
                    "aes, 10/3, acknodelay"
                },
                ..*c
            })
            .collect();
        cases.extend(extra);
    }
    cases
}

fn go_args(c: Case) -> Vec<String> {
    let mut v: Vec<String> = [
        "-crypt", c.go_crypt, "-mode", "fast", "-sndwnd", "1024", "-rcvwnd", "1024", "-mtu", "1350",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend([
        "-ds".into(),
        c.ds.to_string(),
        "-ps".into(),
        c.ps.to_string(),
    ]);
    if c.ack_nodelay {
        v.push("-acknodelay".into());
    }
    v
}

fn spawn(peer: &Path, args: &[String]) -> (Child, BufReader<ChildStdout>) {
    let mut child = Command::new(peer)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kcp-peer");
    let out = BufReader::new(child.stdout.take().expect("stdout"));
    (child, out)
}

fn line(r: &mut BufReader<ChildStdout>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).expect("peer output");
    s.trim().to_string()
}

/// (MiB/s, CPU seconds per GiB)
fn go_bulk(peer: &Path, c: Case, secs: f64) -> (f64, f64) {
    let mut a = vec![
        "-role".into(),
        "sink".into(),
        "-duration".into(),
        secs.to_string(),
    ];
    a.extend(go_args(c));
    let (mut sink, mut out) = spawn(peer, &a);
    let addr = line(&mut out).trim_start_matches("LISTEN ").to_string();
    let mut b = vec!["-role".into(), "source".into(), "-addr".into(), addr];
    b.extend(go_args(c));
    let (mut source, _) = spawn(peer, &b);
    let res = line(&mut out);
    let src_cpu = cpu_secs(&source.id().to_string());
    source.kill().ok();
    source.wait().ok();
    sink.wait().ok();
    bulk_result(&res, src_cpu)
}

async fn ours_bulk(c: Case, secs: f64) -> (f64, f64) {
    let l = KcpListener::bind("127.0.0.1:0", cfg(c)).await.unwrap();
    let mut client = KcpStream::connect(l.local_addr().unwrap(), cfg(c))
        .await
        .unwrap();
    let sender = tokio::spawn(async move {
        let buf = vec![0x5au8; 64 * 1024];
        while client.write_all(&buf).await.is_ok() {}
    });
    let (mut s, _) = l.accept().await.unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = s.read(&mut buf).await.unwrap() as f64;
    let cpu0 = cpu_secs("self");
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        total += s.read(&mut buf).await.unwrap() as f64;
    }
    let t = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs("self") - cpu0;
    if std::env::var_os("KCP_BENCH_DEBUG").is_some() {
        eprintln!(
            "server {:?}\nsnmp {:?}",
            s.stats(),
            kcp::net::snmp().snapshot()
        );
    }
    sender.abort();
    (total / t / 1048576.0, cpu / (total / 1073741824.0))
}

/// Receiver half of the two-process bulk run (the same shape as kcp-go's sink): prints LISTEN, then
/// `RESULT <bytes> <seconds> <own cpu seconds>` after `secs` from the first byte.
async fn sink_child(c: Case, secs: f64) {
    let l = KcpListener::bind("127.0.0.1:0", cfg(c)).await.unwrap();
    println!("LISTEN {}", l.local_addr().unwrap());
    std::io::stdout().flush().ok();
    let (mut s, _) = l.accept().await.unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = s.read(&mut buf).await.unwrap() as f64;
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        total += s.read(&mut buf).await.unwrap() as f64;
    }
    println!(
        "RESULT {total} {:.3} {:.3}",
        t0.elapsed().as_secs_f64(),
        cpu_secs("self")
    );
    std::io::stdout().flush().ok();
}

/// Ours as two processes (receiver child, sender here), measured like `go_bulk`.
fn ours_bulk_2proc(rt: &tokio::runtime::Runtime, idx: usize, c: Case, secs: f64) -> (f64, f64) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--sink-child",
            &idx.to_string(),
            "--secs",
            &secs.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let addr: SocketAddr = line(&mut out)
        .trim_start_matches("LISTEN ")
        .parse()
        .unwrap();
    let cpu0 = cpu_secs("self");
    let sender = rt.spawn(async move {
        let mut client = KcpStream::connect(addr, cfg(c)).await.unwrap();
        let buf = vec![0x5au8; 64 * 1024];
        while client.write_all(&buf).await.is_ok() {}
    });
    let res = line(&mut out);
    let own = cpu_secs("self") - cpu0;
    sender.abort();
    child.wait().ok();
    bulk_result(&res, own)
}

/// (round trips per second, p50 us, p99 us)
fn go_echo(peer: &Path, c: Case, secs: f64) -> (f64, f64, f64) {
    let mut a = vec!["-role".into(), "echo".into()];
    a.extend(go_args(c));
    let (mut srv, mut out) = spawn(peer, &a);
    let addr = line(&mut out).trim_start_matches("LISTEN ").to_string();
    let mut b = vec![
        "-role".into(),
        "pingpong".into(),
        "-addr".into(),
        addr,
        "-duration".into(),
        secs.to_string(),
    ];
    b.extend(go_args(c));
    let (mut cli, mut cout) = spawn(peer, &b);
    let res = line(&mut cout);
    cli.wait().ok();
    srv.kill().ok();
    srv.wait().ok();
    let f = result_fields(&res, 4);
    (f[0] / f[1], f[2], f[3])
}

async fn ours_echo(c: Case, secs: f64) -> (f64, f64, f64) {
    let l = KcpListener::bind("127.0.0.1:0", cfg(c)).await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let (mut r, mut w) = tokio::io::split(s);
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let mut s = KcpStream::connect(addr, cfg(c)).await.unwrap();
    let msg = [0x33u8; 64];
    let mut back = [0u8; 64];
    for _ in 0..100 {
        s.write_all(&msg).await.unwrap();
        s.read_exact(&mut back).await.unwrap();
    }
    let mut lat = Vec::with_capacity(1 << 20);
    let t0 = Instant::now();
    while t0.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        s.write_all(&msg).await.unwrap();
        s.read_exact(&mut back).await.unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let t = t0.elapsed().as_secs_f64();
    server.abort();
    let n = lat.len() as f64;
    lat.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    (n / t, p(0.5), p(0.99))
}

/// Plain UDP: one thread sends 1350-byte datagrams with send_to as fast as it can, one receives. MiB/s received.
fn udp_blast(secs: f64) -> f64 {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&rx)
        .set_recv_buffer_size(4 << 20)
        .ok();
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let addr = rx.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let sender = std::thread::spawn(move || {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let buf = [0xa5u8; 1350];
        while !s2.load(Ordering::Relaxed) {
            let _ = tx.send_to(&buf, addr);
        }
    });
    let mut buf = [0u8; 1500];
    let _ = rx.recv(&mut buf);
    let t0 = Instant::now();
    let mut total = 0f64;
    while t0.elapsed().as_secs_f64() < secs {
        if let Ok(n) = rx.recv(&mut buf) {
            total += n as f64;
        }
    }
    let t = t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    sender.join().ok();
    total / t / 1048576.0
}

/// Batched UDP: the sender sends 40-datagram GSO batches, the receiver uses recvmmsg + GRO (both via
/// quinn-udp, the same I/O path `kcp::net` uses). MiB/s received.
fn udp_blast_batched(secs: f64) -> f64 {
    use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&rx)
        .set_recv_buffer_size(4 << 20)
        .ok();
    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let rx_state = UdpSocketState::new(UdpSockRef::from(&rx)).unwrap();
    let addr = rx.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let sender = std::thread::spawn(move || {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let state = UdpSocketState::new(UdpSockRef::from(&tx)).unwrap();
        let segs = state.max_gso_segments().clamp(1, 40);
        let buf = vec![0xa5u8; 1350 * segs];
        while !s2.load(Ordering::Relaxed) {
            let t = Transmit {
                destination: addr,
                ecn: None,
                contents: &buf,
                segment_size: (segs > 1).then_some(1350),
                src_ip: None,
            };
            let _ = state.try_send(UdpSockRef::from(&tx), &t);
        }
    });
    let batch = quinn_udp::BATCH_SIZE.min(32);
    let stride = 64 * 1500;
    let mut bufs = vec![0u8; stride * batch];
    let mut meta = vec![RecvMeta::default(); batch];
    let mut total = 0f64;
    let mut t0 = None;
    loop {
        let mut slices: Vec<std::io::IoSliceMut<'_>> = bufs
            .chunks_mut(stride)
            .map(std::io::IoSliceMut::new)
            .collect();
        if let Ok(n) = rx_state.recv(UdpSockRef::from(&rx), &mut slices, &mut meta) {
            let start = *t0.get_or_insert_with(Instant::now);
            if start.elapsed().as_secs_f64() >= secs {
                break;
            }
            total += meta[..n].iter().map(|m| m.len as f64).sum::<f64>();
        }
    }
    let t = t0.map_or(1.0, |t| t.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    sender.join().ok();
    total / t / 1048576.0
}

fn idle_cfg() -> Config {
    // kcptun-like: aes + FEC 10/3, default windows.
    Config {
        key: [0x42; 32],
        idle_timeout: Some(Duration::from_secs(600)),
        accept_backlog: 1024,
        ..Config::default()
    }
}

/// Child process: a listener holding sessions; reports RSS before and after.
async fn idle_child(n: usize) {
    let l = KcpListener::bind("127.0.0.1:0", idle_cfg()).await.unwrap();
    println!("LISTEN {}", l.local_addr().unwrap());
    println!("BASE {}", rss_kib());
    std::io::stdout().flush().ok();
    let mut held = Vec::with_capacity(n);
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    tick.tick().await;
    while held.len() < n {
        tokio::select! {
            s = l.accept() => held.push(s.unwrap()),
            _ = tick.tick() => {
                println!("PROGRESS {} {}", held.len(), rss_kib());
                std::io::stdout().flush().ok();
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = rss_kib();
    let cpu0 = cpu_secs("self");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_cpu = (cpu_secs("self") - cpu0) / 2.0;
    println!("READY {} {} {:.3}", held.len(), rss, idle_cpu);
    std::io::stdout().flush().ok();
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
}

/// Opens `n` client sessions (1 byte each) to `addr` and waits for `READY n rss` on `out`.
async fn open_idle_clients(
    addr: SocketAddr,
    n: usize,
    out: &mut BufReader<ChildStdout>,
) -> (Vec<KcpStream>, String) {
    let mut clients = Vec::with_capacity(n);
    for chunk in 0..n.div_ceil(500) {
        let mut set = tokio::task::JoinSet::new();
        for _ in chunk * 500..((chunk + 1) * 500).min(n) {
            set.spawn(async move {
                let mut c = KcpStream::connect(addr, idle_cfg()).await.unwrap();
                c.write_all(b"x").await.unwrap();
                c
            });
        }
        while let Some(c) = set.join_next().await {
            clients.push(c.unwrap());
        }
    }
    // READY, or the last PROGRESS once sessions stop arriving (clients that gave up are not retried).
    let ready = tokio::task::block_in_place(|| {
        let mut last = String::new();
        loop {
            let l = line(out);
            if l.starts_with("READY") || l.is_empty() {
                return l;
            }
            if l.starts_with("PROGRESS") {
                if l.split_whitespace().nth(1) == last.split_whitespace().nth(1) {
                    return l;
                }
                last = l;
            }
        }
    });
    (clients, ready)
}

fn main() {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.idle_child {
        rt.block_on(idle_child(args.idle_sessions));
        return;
    }
    if let Some(i) = args.sink_child {
        rt.block_on(sink_child(bulk_cases(true)[i], args.secs));
        return;
    }
    let parts: Vec<&str> = args.only.split(',').collect();
    let peer = go_peer();
    if peer.is_none() {
        eprintln!(
            "kcp-go peer unavailable (go or golang-github-xtaci-kcp-dev missing): kcp-go columns skipped"
        );
    }
    println!(
        "# kcp::net vs kcp-go v5.6.1, loopback, {} run(s) of {} s, medians",
        args.runs, args.secs
    );
    if parts.contains(&"bulk") {
        println!("\n## bulk one-way, fast mode, wnd 1024/1024, mtu 1350");
        println!(
            "| case | ours MiB/s | kcp-go MiB/s | ratio | ours CPU s/GiB | kcp-go CPU s/GiB | CPU ratio |"
        );
        println!("|---|---|---|---|---|---|---|");
        let cases = bulk_cases(args.ack_nodelay);
        println!(
            "(ours: {})",
            if args.one_process {
                "sender and receiver in one process"
            } else {
                "receiver in a child process, as kcp-go's sink/source"
            }
        );
        for (idx, c) in cases.into_iter().enumerate() {
            let (mut om, mut oc, mut gm, mut gc) = (vec![], vec![], vec![], vec![]);
            for _ in 0..args.runs {
                let (m, cpu) = if args.one_process {
                    rt.block_on(async move { tokio::spawn(ours_bulk(c, args.secs)).await.unwrap() })
                } else {
                    ours_bulk_2proc(&rt, idx, c, args.secs)
                };
                om.push(m);
                oc.push(cpu);
                if let Some(p) = &peer {
                    let (m, cpu) = go_bulk(p, c, args.secs);
                    gm.push(m);
                    gc.push(cpu);
                }
            }
            let (om, oc, gm, gc) = (median(om), median(oc), median(gm), median(gc));
            println!(
                "| {} | {om:.1} | {gm:.1} | {:.2}x | {oc:.2} | {gc:.2} | {:.2}x |",
                c.name,
                om / gm,
                oc / gc
            );
        }
    }
    if parts.contains(&"echo") {
        println!("\n## 64-byte echo on one session, fast mode, crypt none, FEC 0/0");
        println!("| impl | round trips/s | p50 us | p99 us |");
        println!("|---|---|---|---|");
        let c = Case {
            name: "",
            crypt: CryptKind::None,
            go_crypt: "none",
            ds: 0,
            ps: 0,
            ack_nodelay: false,
        };
        let (mut o, mut g) = (vec![], vec![]);
        for _ in 0..args.runs {
            o.push(rt.block_on(async move {
                tokio::spawn(ours_echo(c, args.secs.min(5.0)))
                    .await
                    .unwrap()
            }));
            if let Some(p) = &peer {
                g.push(go_echo(p, c, args.secs.min(5.0)));
            }
        }
        for (name, v) in [("ours", o), ("kcp-go", g)] {
            if v.is_empty() {
                continue;
            }
            let rt_s = median(v.iter().map(|x| x.0).collect());
            let p50 = median(v.iter().map(|x| x.1).collect());
            let p99 = median(v.iter().map(|x| x.2).collect());
            println!("| {name} | {rt_s:.0} | {p50:.1} | {p99:.1} |");
        }
    }
    if parts.contains(&"blast") {
        println!(
            "\n## ceiling: UDP blast of 1350-byte datagrams between two sockets vs ours bulk (none, 0/0)"
        );
        let secs = args.secs.min(5.0);
        let b = median((0..args.runs).map(|_| udp_blast(secs)).collect());
        let g = median((0..args.runs).map(|_| udp_blast_batched(secs)).collect());
        let c = Case {
            name: "",
            crypt: CryptKind::None,
            go_crypt: "none",
            ds: 0,
            ps: 0,
            ack_nodelay: false,
        };
        let o = median(
            (0..args.runs)
                .map(|_| {
                    rt.block_on(async move { tokio::spawn(ours_bulk(c, secs)).await.unwrap() })
                        .0
                })
                .collect(),
        );
        println!(
            "| plain send_to/recv MiB/s | GSO+GRO MiB/s | ours MiB/s | ours / plain | ours / GSO+GRO |"
        );
        println!("|---|---|---|---|---|");
        println!("| {b:.1} | {g:.1} | {o:.1} | {:.2} | {:.2} |", o / b, o / g);
    }
    if parts.contains(&"idle") {
        println!(
            "\n## {} idle sessions on one listener (aes, FEC 10/3, wnd 128/512): server memory",
            args.idle_sessions
        );
        println!("| impl | RSS before KiB | RSS after KiB | KiB per session | idle CPU (cores) |");
        println!("|---|---|---|---|---|");
        let n = args.idle_sessions;
        let exe = std::env::current_exe().unwrap();
        let ours_cmd: Vec<String> = vec![
            "--idle-child".into(),
            "--idle-sessions".into(),
            n.to_string(),
        ];
        let mut go_cmd: Vec<String> = [
            "-role", "hold", "-crypt", "aes", "-ds", "10", "-ps", "3", "-mode", "fast", "-sndwnd",
            "128", "-rcvwnd", "512",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        go_cmd.extend(["-sessions".into(), n.to_string()]);
        let mut runs: Vec<(&str, PathBuf, Vec<String>)> = vec![("ours", exe, ours_cmd)];
        if let Some(p) = &peer {
            runs.push(("kcp-go", p.clone(), go_cmd));
        }
        for (name, prog, a) in runs {
            let mut child = Command::new(&prog)
                .args(&a)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let addr: SocketAddr = line(&mut out)
                .trim_start_matches("LISTEN ")
                .parse()
                .unwrap();
            let base: f64 = line(&mut out).trim_start_matches("BASE ").parse().unwrap();
            let pid = child.id().to_string();
            let (clients, ready) = rt.block_on(open_idle_clients(addr, n, &mut out));
            let f = result_fields(&ready, 0);
            let idle_cpu = if f.len() > 2 {
                f[2]
            } else {
                let c0 = cpu_secs(&pid);
                std::thread::sleep(Duration::from_secs(2));
                (cpu_secs(&pid) - c0) / 2.0
            };
            println!(
                "| {name} | {base:.0} | {:.0} | {:.1} | {idle_cpu:.2} |",
                f[1],
                (f[1] - base) / f[0]
            );
            drop(child.stdin.take());
            child.kill().ok();
            child.wait().ok();
            rt.block_on(async move { drop(clients) });
        }
    }
}
