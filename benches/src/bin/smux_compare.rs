//! smux side by side over TCP loopback: ours (v1, v2), Go xtaci/smux v1.5.16 (v1, v2, one Go process per
//! run, client and server in it), async-smux (v1 only) and yamux.
//!
//! Workloads: (a) one stream moving `--bytes` in 32 KiB writes, (b) 8 streams moving `--bytes` in total,
//! (c) open a stream, echo 8 bytes, close, sequentially for `--secs` (per second), (d) the same by
//! `--loops` concurrent clients (32 by default), whose frames a library can gather into few writes: (c)
//! is bound by the kernel's cost of one round trip on loopback, (d) by the library's cost per stream.
//! Runs are interleaved (every implementation once per round) and the table shows medians, plus the
//! median CPU time (user + system, whole process, so both ends) per GiB (a, b) or per 1000 streams (c),
//! which is steadier than wall-clock on a shared machine; its ratio is Go's CPU time over ours. The last
//! two columns are medians of per-round ratios (to Go of the same version, and to async-smux).
//!
//! `cargo run --release -p benches --bin smux_compare -- --runs 5`

#[path = "../../../interop/smux-peer/peer.rs"]
mod peer;

use std::future::{Future, poll_fn};
use std::path::PathBuf;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};

#[derive(Parser, Debug, Clone)]
#[command(about = "smux throughput and stream-rate comparison (ours, Go smux, async-smux, yamux)")]
struct Args {
    /// Rounds; every implementation runs once per round and the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Bytes moved in workloads (a) and (b).
    #[arg(long, default_value_t = 1 << 30)]
    bytes: u64,
    /// Seconds per run of workload (c).
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Concurrent client loops of workload (d).
    #[arg(long, default_value_t = 32)]
    loops: usize,
    /// Workloads to run (a, b, c, d).
    #[arg(long, value_delimiter = ',', default_value = "a,b,c,d")]
    work: Vec<String>,
    /// Our `Config::stream_send_buffer` (default: the crate default).
    #[arg(long)]
    send_buffer: Option<usize>,
    /// Our `Config::max_stream_buffer` (v2 per-stream window; default: the crate default, as smux).
    #[arg(long)]
    stream_buffer: Option<usize>,
    /// Tokio worker threads for the Rust implementations (0 = a current-thread runtime). Go uses its
    /// default GOMAXPROCS (the number of CPUs).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Implementations to run (go1, ours1, go2, ours2, async-smux, yamux).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "go1,ours1,go2,ours2,async-smux,yamux"
    )]
    only: Vec<String>,
}

// ------------------------------------------------------------------ abstraction over the libraries

trait Opener: Clone + Send + Sync + 'static {
    type S: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn open(&self) -> impl Future<Output = Self::S> + Send;
}

trait Acceptor: Send + 'static {
    type S: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&mut self) -> impl Future<Output = Option<Self::S>> + Send;
}

/// The library's way of closing a whole stream.
trait Close: Sized + Send {
    fn close(self) -> impl Future<Output = ()> + Send;
}

#[derive(Clone)]
struct Ours(Arc<smux::Session>);
struct OursAcc(smux::Session);

impl Opener for Ours {
    type S = smux::Stream;
    async fn open(&self) -> smux::Stream {
        self.0.open_stream().await.expect("open")
    }
}
impl Acceptor for OursAcc {
    type S = smux::Stream;
    async fn accept(&mut self) -> Option<smux::Stream> {
        self.0.accept_stream().await.ok()
    }
}
impl Close for smux::Stream {
    async fn close(self) {
        drop(self); // smux Close: FIN after queued data
    }
}

#[derive(Clone)]
struct Asm(async_smux::MuxConnector<TcpStream>);
struct AsmAcc(async_smux::MuxAcceptor<TcpStream>);

impl Opener for Asm {
    type S = async_smux::MuxStream<TcpStream>;
    async fn open(&self) -> Self::S {
        self.0.connect().expect("open")
    }
}
impl Acceptor for AsmAcc {
    type S = async_smux::MuxStream<TcpStream>;
    async fn accept(&mut self) -> Option<Self::S> {
        self.0.accept().await
    }
}
impl Close for async_smux::MuxStream<TcpStream> {
    async fn close(self) {
        drop(self); // documented: drains and sends FIN
    }
}

#[derive(Clone)]
struct Ymx(mpsc::UnboundedSender<oneshot::Sender<yamux::Stream>>);
struct YmxAcc(mpsc::UnboundedReceiver<yamux::Stream>);

impl Opener for Ymx {
    type S = Compat<yamux::Stream>;
    async fn open(&self) -> Self::S {
        let (tx, rx) = oneshot::channel();
        self.0.send(tx).expect("yamux driver gone");
        rx.await.expect("yamux open").compat()
    }
}
impl Acceptor for YmxAcc {
    type S = Compat<yamux::Stream>;
    async fn accept(&mut self) -> Option<Self::S> {
        self.0.recv().await.map(|s| s.compat())
    }
}
impl Close for Compat<yamux::Stream> {
    async fn close(mut self) {
        let _ = self.shutdown().await;
    }
}

/// Drives a yamux connection: opens outbound streams on request, hands inbound streams out.
async fn yamux_driver(
    mut conn: yamux::Connection<Compat<TcpStream>>,
    mut open_rx: mpsc::UnboundedReceiver<oneshot::Sender<yamux::Stream>>,
    inbound: mpsc::UnboundedSender<yamux::Stream>,
) {
    let mut pending: Option<oneshot::Sender<yamux::Stream>> = None;
    let mut opening = true;
    poll_fn(|cx| {
        loop {
            if pending.is_none() && opening {
                match open_rx.poll_recv(cx) {
                    Poll::Ready(Some(tx)) => pending = Some(tx),
                    Poll::Ready(None) => opening = false,
                    Poll::Pending => {}
                }
            }
            if pending.is_some()
                && let Poll::Ready(r) = conn.poll_new_outbound(cx)
            {
                match (r, pending.take()) {
                    (Ok(s), Some(tx)) => {
                        let _ = tx.send(s);
                        continue;
                    }
                    _ => return Poll::Ready(()),
                }
            }
            match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(s))) => {
                    let _ = inbound.send(s);
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => {
                    if !opening && pending.is_none() && inbound.is_closed() {
                        return Poll::Ready(());
                    }
                    return Poll::Pending;
                }
            }
        }
    })
    .await;
    let _ = poll_fn(|cx| conn.poll_close(cx)).await;
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    let (c, (s, _)) = (c.unwrap(), s.unwrap());
    c.set_nodelay(true).unwrap();
    s.set_nodelay(true).unwrap();
    (c, s)
}

// ------------------------------------------------------------------ workloads

/// Bytes per second moving `total` bytes over `streams` streams in 32 KiB writes.
async fn bulk<O: Opener, A: Acceptor>(o: O, mut a: A, streams: usize, total: u64) -> f64 {
    const W: usize = 32 * 1024;
    let per = (total / streams as u64).div_ceil(W as u64) * W as u64;
    let server = tokio::spawn(async move {
        let mut hs = Vec::new();
        for _ in 0..streams {
            let mut s = a.accept().await.expect("accept");
            hs.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut n = 0u64;
                loop {
                    let k = s.read(&mut buf).await.expect("read");
                    if k == 0 {
                        return n;
                    }
                    n += k as u64;
                }
            }));
        }
        let mut sum = 0;
        for h in hs {
            sum += h.await.unwrap();
        }
        (sum, a)
    });
    let start = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..streams {
        let o = o.clone();
        clients.push(tokio::spawn(async move {
            let mut s = o.open().await;
            let buf = vec![0x5au8; W];
            let mut sent = 0;
            while sent < per {
                s.write_all(&buf).await.expect("write");
                sent += W as u64;
            }
            s.shutdown().await.expect("shutdown");
            s
        }));
    }
    let (got, _a) = server.await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, per * streams as u64, "bytes received");
    for c in clients {
        drop(c.await.unwrap());
    }
    got as f64 / secs
}

/// Open / echo 8 bytes / close per second, by `loops` clients each doing it sequentially (one client:
/// workload (c); many: (d), where a library can gather the frames of many streams into few writes).
async fn open_echo<O, A>(o: O, mut a: A, secs: f64, loops: usize) -> f64
where
    O: Opener,
    O::S: Close,
    A: Acceptor,
    A::S: Close,
{
    let server = tokio::spawn(async move {
        while let Some(mut s) = a.accept().await {
            tokio::spawn(async move {
                let mut b = [0u8; 8];
                if s.read_exact(&mut b).await.is_ok() {
                    let _ = s.write_all(&b).await;
                }
                s.close().await;
            });
        }
    });
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let client = |o: O| async move {
        let mut count = 0u64;
        let mut b = *b"8 bytes!";
        while start.elapsed() < limit {
            let mut s = o.open().await;
            s.write_all(&b).await.expect("write");
            s.read_exact(&mut b).await.expect("read");
            assert_eq!(&b, b"8 bytes!", "echo");
            s.close().await;
            count += 1;
        }
        count
    };
    let mut count = 0u64;
    if loops == 1 {
        count = client(o).await;
    } else {
        let tasks: Vec<_> = (0..loops)
            .map(|_| tokio::spawn(client(o.clone())))
            .collect();
        for t in tasks {
            count += t.await.expect("client loop");
        }
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    server.abort();
    rate
}

async fn run_work<O, A>(o: O, a: A, work: &str, args: &Args) -> f64
where
    O: Opener,
    O::S: Close,
    A: Acceptor,
    A::S: Close,
{
    match work {
        "a" => bulk(o, a, 1, args.bytes).await,
        "b" => bulk(o, a, 8, args.bytes).await,
        "c" => open_echo(o, a, args.secs, 1).await,
        _ => open_echo(o, a, args.secs, args.loops).await,
    }
}

async fn run_rust(imp: &str, work: &str, args: &Args) -> f64 {
    let (c, s) = tcp_pair().await;
    match imp {
        "ours1" | "ours2" => {
            let mut cfg = smux::Config {
                version: if imp == "ours1" { 1 } else { 2 },
                ..smux::Config::default()
            };
            if let Some(b) = args.send_buffer {
                cfg.stream_send_buffer = b;
            }
            if let Some(b) = args.stream_buffer {
                cfg.max_stream_buffer = b;
            }
            let client = smux::Session::client(c, cfg.clone()).unwrap();
            let server = smux::Session::server(s, cfg).unwrap();
            run_work(Ours(Arc::new(client)), OursAcc(server), work, args).await
        }
        "async-smux" => {
            let (cc, _ca, cw) = async_smux::MuxBuilder::client().with_connection(c).build();
            let (_sc, sa, sw) = async_smux::MuxBuilder::server().with_connection(s).build();
            tokio::spawn(cw);
            tokio::spawn(sw);
            run_work(Asm(cc), AsmAcc(sa), work, args).await
        }
        "yamux" => {
            let cconn =
                yamux::Connection::new(c.compat(), yamux::Config::default(), yamux::Mode::Client);
            let sconn =
                yamux::Connection::new(s.compat(), yamux::Config::default(), yamux::Mode::Server);
            let (open_tx, open_rx) = mpsc::unbounded_channel();
            let (cin_tx, _cin_rx) = mpsc::unbounded_channel();
            let (_sopen_tx, sopen_rx) = mpsc::unbounded_channel();
            let (sin_tx, sin_rx) = mpsc::unbounded_channel();
            tokio::spawn(yamux_driver(cconn, open_rx, cin_tx));
            tokio::spawn(yamux_driver(sconn, sopen_rx, sin_tx));
            run_work(Ymx(open_tx), YmxAcc(sin_rx), work, args).await
        }
        other => panic!("unknown implementation {other}"),
    }
}

fn run_go(bin: &PathBuf, version: u8, work: &str, args: &Args) -> f64 {
    let out = std::process::Command::new(bin)
        .args(["bench", "-ver", &version.to_string(), "-work", work])
        .args(["-loops", &args.loops.to_string()])
        .args([
            "-bytes",
            &args.bytes.to_string(),
            "-secs",
            &args.secs.to_string(),
        ])
        .output()
        .expect("run Go peer");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "Go bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(|v| v.trim().parse().ok())
        .expect("RESULT line")
}

/// User + system CPU seconds used so far by this process (`children == false`) or by its waited-for
/// children.
fn cpu_secs(children: bool) -> f64 {
    let who = if children {
        libc::RUSAGE_CHILDREN
    } else {
        libc::RUSAGE_SELF
    };
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer we pass, which points to enough memory.
    let ru = unsafe {
        libc::getrusage(who, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt_val(work: &str, v: f64) -> String {
    if work == "c" || work == "d" {
        format!("{:>9.0} /s", v)
    } else {
        format!("{:>7.2} GiB/s", v / (1u64 << 30) as f64)
    }
}

fn main() {
    let args = Args::parse();
    let exe_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let go_bin = match peer::build(&exe_dir.join("smux-peer-go")) {
        Ok(b) => Some(b),
        Err(e) => {
            eprintln!("Go smux peer unavailable, skipping it: {e}");
            None
        }
    };
    let rt = if args.workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.workers)
            .enable_all()
            .build()
            .unwrap()
    };
    let imps: Vec<String> = args
        .only
        .iter()
        .filter(|i| go_bin.is_some() || !i.starts_with("go"))
        .cloned()
        .collect();
    let mut results: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
    let mut cpu_results = results.clone();
    for round in 0..args.runs {
        for work in &args.work {
            for imp in &imps {
                let go = imp.starts_with("go");
                let cpu0 = cpu_secs(go);
                let t0 = Instant::now();
                let v = match (imp.as_str(), &go_bin) {
                    ("go1", Some(b)) => run_go(b, 1, work, &args),
                    ("go2", Some(b)) => run_go(b, 2, work, &args),
                    // Inside a spawned task, as an application would run (block_on would keep the client
                    // on the main thread, outside the worker pool).
                    _ => {
                        let (imp, work, a) = (imp.clone(), work.clone(), args.clone());
                        rt.block_on(async move {
                            tokio::spawn(async move { run_rust(&imp, &work, &a).await }).await
                        })
                        .expect("bench task")
                    }
                };
                // CPU seconds per unit of work (per GiB for a/b, per 1000 streams for c), whole process.
                let cpu = cpu_secs(go) - cpu0;
                let units = if work == "c" || work == "d" {
                    v * t0.elapsed().as_secs_f64() / 1000.0
                } else {
                    args.bytes as f64 / (1u64 << 30) as f64
                };
                let cpu_per = cpu / units.max(1e-9);
                eprintln!(
                    "round {round} ({work}) {imp:<10} {}  cpu {cpu_per:.5} s/unit",
                    fmt_val(work, v)
                );
                results
                    .entry((work.clone(), imp.clone()))
                    .or_default()
                    .push(v);
                cpu_results
                    .entry((work.clone(), imp.clone()))
                    .or_default()
                    .push(cpu_per);
            }
        }
    }
    let title = |w: &str| match w {
        "a" => "(a) 1 stream, 32 KiB writes",
        "b" => "(b) 8 streams",
        "c" => "(c) open/echo 8 B/close",
        _ => "(d) (c) by concurrent loops",
    };
    println!(
        "\nsmux over TCP loopback, medians of {} runs (bytes {} for a/b, {} s for c, {} tokio workers); ratio vs Go smux of the same version (async-smux and yamux vs Go v1)",
        args.runs, args.bytes, args.secs, args.workers
    );
    println!(
        "{:<30} {:<11} {:>15} {:>8} {:>12} {:>8} {:>10} {:>10}",
        "workload", "impl", "median", "vs Go", "cpu s/unit", "vs Go", "round/Go", "round/asm"
    );
    for work in &args.work {
        let med = |map: &std::collections::BTreeMap<(String, String), Vec<f64>>, imp: &str| {
            map.get(&(work.clone(), imp.to_string()))
                .map(|v| median(&mut v.clone()))
        };
        for imp in &imps {
            let Some(m) = med(&results, imp) else {
                continue;
            };
            let c = med(&cpu_results, imp).unwrap_or(f64::NAN);
            let go_name = if imp == "ours2" || imp == "go2" {
                "go2"
            } else {
                "go1"
            };
            let ratio =
                med(&results, go_name).map_or("-".to_string(), |g| format!("{:.2}x", m / g));
            // CPU ratio: Go's CPU per unit over ours (above 1 means we use less CPU).
            let cratio =
                med(&cpu_results, go_name).map_or("-".to_string(), |g| format!("{:.2}x", g / c));
            // Median of the ratios within each round (the two runs were minutes apart at most, so
            // this follows a drifting machine load better than the ratio of medians).
            let per_round = |other: &str| {
                let (Some(a), Some(b)) = (
                    results.get(&(work.clone(), imp.clone())),
                    results.get(&(work.clone(), other.to_string())),
                ) else {
                    return "-".to_string();
                };
                if imp == other {
                    return "-".to_string();
                }
                let mut r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
                format!("{:.2}x", median(&mut r))
            };
            println!(
                "{:<30} {:<11} {:>15} {:>8} {:>12.3} {:>8} {:>10} {:>10}",
                title(work),
                imp,
                fmt_val(work, m),
                ratio,
                c,
                cratio,
                per_round(go_name),
                per_round("async-smux")
            );
        }
    }
}
