//! Bulk transfer through our stack versus through a kcptun client/server pair, same loopback, same mode,
//! cipher, FEC, smux version and compression, side by side, interleaved run by run; medians reported.
//!
//! - kcptun: TCP writer -> `kcptun-client` -> UDP/KCP -> `kcptun-server` -> TCP sink (all on 127.0.0.1).
//!   CPU = user + system seconds of the two kcptun processes (`/proc/<pid>/stat`), the TCP ends excluded.
//! - ours: `stack::connect` -> stream -> `KcpSmuxListener` -> reader, in this process (2 worker threads).
//!   CPU = this process's user + system seconds, which includes the writer and reader (a slight handicap).
//!
//! `cargo run --release -p benches --bin stack_compare -- --runs 5 --mib 256`

#[path = "../../../stack/tests/support/kcptun.rs"]
mod kcptun;

use std::net::SocketAddr;
use std::time::Instant;

use clap::Parser;
use kcptun::{CRYPTS, Cell, Kcptun, cpu_seconds, free_tcp, free_udp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser, Debug, Clone)]
#[command(about = "bulk throughput and CPU per byte: our stack vs kcptun")]
struct Args {
    /// Rounds; each runs kcptun then ours.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// MiB moved per run.
    #[arg(long, default_value_t = 256)]
    mib: u64,
    /// Cipher (kcptun name).
    #[arg(long, default_value = "aes")]
    crypt: String,
    /// KCP mode (fast or fast3).
    #[arg(long, default_value = "fast")]
    mode: String,
    /// FEC data shards (0 with --ps 0 disables FEC).
    #[arg(long, default_value_t = 10)]
    ds: usize,
    /// FEC parity shards.
    #[arg(long, default_value_t = 3)]
    ps: usize,
    /// smux version.
    #[arg(long, default_value_t = 1)]
    smuxver: u8,
    /// Enable snappy compression (the payload is incompressible either way).
    #[arg(long)]
    comp: bool,
    /// KCP send window of both ends (segments; 0 keeps kcptun's defaults: client 128, server 1024).
    #[arg(long, default_value_t = 1024)]
    sndwnd: u32,
    /// KCP receive window of both ends (segments; 0 keeps kcptun's defaults: client 512, server 1024).
    #[arg(long, default_value_t = 1024)]
    rcvwnd: u32,
    /// Which sides to run (kcptun, ours).
    #[arg(long, value_delimiter = ',', default_value = "kcptun,ours")]
    only: Vec<String>,
}

/// One run's result.
#[derive(Clone, Copy, Debug)]
struct Sample {
    mib_s: f64,
    cpu_s_per_gib: f64,
}

fn payload() -> Vec<u8> {
    let mut x = 0x1234_5678u32;
    (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn self_cpu() -> f64 {
    cpu_seconds(std::process::id()).unwrap_or(f64::NAN)
}

async fn write_n<W: AsyncWriteExt + Unpin>(w: &mut W, data: &[u8], total: u64) {
    let mut left = total;
    while left > 0 {
        let n = left.min(data.len() as u64) as usize;
        w.write_all(&data[..n]).await.expect("write");
        left -= n as u64;
    }
    w.flush().await.expect("flush");
}

async fn read_n<R: AsyncReadExt + Unpin>(r: &mut R, total: u64) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    while got < total {
        let n = r.read(&mut buf).await.expect("read");
        assert!(n > 0, "early EOF after {got} bytes");
        got += n as u64;
    }
}

/// The window flags for kcptun (empty when the defaults are kept).
fn window_flags(args: &Args) -> Vec<String> {
    let mut f = Vec::new();
    if args.sndwnd > 0 {
        f.extend(["--sndwnd".to_string(), args.sndwnd.to_string()]);
    }
    if args.rcvwnd > 0 {
        f.extend(["--rcvwnd".to_string(), args.rcvwnd.to_string()]);
    }
    f
}

/// Our config for one end: the cell on top of `base`, with the windows of `args`.
fn our_config(args: &Args, cell: &Cell, base: stack::Config) -> stack::Config {
    let mut c = cell.config(base);
    if args.sndwnd > 0 {
        c.sndwnd = args.sndwnd;
    }
    if args.rcvwnd > 0 {
        c.rcvwnd = args.rcvwnd;
    }
    c
}

async fn run_kcptun(args: &Args, cell: &Cell, total: u64, data: &[u8]) -> Sample {
    let sink = TcpListener::bind("127.0.0.1:0").await.expect("sink");
    let target: SocketAddr = sink.local_addr().expect("addr");
    let udp = free_udp();
    let local = free_tcp();
    let flags = window_flags(args);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = Kcptun::server(udp, target, cell, &flags);
    let client = Kcptun::client(local, udp, cell, &flags);
    let reader = tokio::spawn(async move {
        let (mut s, _) = sink.accept().await.expect("accept");
        read_n(&mut s, total).await;
        Instant::now()
    });
    let cpu0 = cpu_seconds(server.pid()).unwrap_or(0.0) + cpu_seconds(client.pid()).unwrap_or(0.0);
    let mut w = TcpStream::connect(local)
        .await
        .expect("connect kcptun-client");
    let t0 = Instant::now();
    let writer = async move {
        write_n(&mut w, data, total).await;
        w
    };
    let (w, end) = tokio::join!(writer, reader);
    let end = end.expect("reader");
    let cpu1 = cpu_seconds(server.pid()).unwrap_or(0.0) + cpu_seconds(client.pid()).unwrap_or(0.0);
    drop(w);
    let secs = end.duration_since(t0).as_secs_f64();
    sample(total, secs, cpu1 - cpu0)
}

async fn run_ours(args: &Args, cell: &Cell, total: u64, data: &[u8]) -> Sample {
    let listener = stack::KcpSmuxListener::bind(
        "127.0.0.1:0",
        our_config(args, cell, stack::Config::server_default()),
    )
    .await
    .expect("bind");
    let addr = listener.local_addr();
    let client = stack::connect(addr, &our_config(args, cell, stack::Config::default()))
        .await
        .expect("connect");
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        read_n(&mut s, total).await;
        Instant::now()
    });
    let cpu0 = self_cpu();
    let snmp0 = kcp::net::snmp().snapshot();
    let mut s = client.open_stream().await.expect("open");
    let t0 = Instant::now();
    write_n(&mut s, data, total).await;
    let end = reader.await.expect("reader");
    let cpu1 = self_cpu();
    let snmp1 = kcp::net::snmp().snapshot();
    if std::env::var_os("STACK_SNMP").is_some() {
        eprintln!(
            "ours: out_segs {} retrans {} fast_retrans {} lost {} repeat {} fec_recovered {} in_pkts {} out_pkts {}",
            snmp1.out_segs - snmp0.out_segs,
            snmp1.retrans_segs - snmp0.retrans_segs,
            snmp1.fast_retrans_segs - snmp0.fast_retrans_segs,
            snmp1.lost_segs - snmp0.lost_segs,
            snmp1.repeat_segs - snmp0.repeat_segs,
            snmp1.fec_recovered - snmp0.fec_recovered,
            snmp1.in_pkts - snmp0.in_pkts,
            snmp1.out_pkts - snmp0.out_pkts,
        );
    }
    drop(s);
    client.close().await;
    let secs = end.duration_since(t0).as_secs_f64();
    sample(total, secs, cpu1 - cpu0)
}

fn sample(total: u64, secs: f64, cpu: f64) -> Sample {
    let mib = total as f64 / (1 << 20) as f64;
    Sample {
        mib_s: mib / secs,
        cpu_s_per_gib: cpu / (mib / 1024.0),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn main() {
    let args = Args::parse();
    if !kcptun::available() && args.only.iter().any(|s| s == "kcptun") {
        std::process::exit(2);
    }
    let crypt = CRYPTS
        .iter()
        .copied()
        .find(|c| *c == args.crypt)
        .unwrap_or_else(|| panic!("unknown --crypt {}", args.crypt));
    let mode = ["normal", "fast", "fast2", "fast3"]
        .into_iter()
        .find(|m| *m == args.mode)
        .unwrap_or_else(|| panic!("unknown --mode {}", args.mode));
    let cell = Cell {
        crypt,
        fec: (args.ds, args.ps),
        smuxver: args.smuxver,
        comp: args.comp,
        mode,
    };
    let total = args.mib << 20;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let data = payload();
    println!(
        "bulk {} MiB, one stream, {cell}, sndwnd {} rcvwnd {} (0 = kcptun default), {} runs",
        args.mib, args.sndwnd, args.rcvwnd, args.runs
    );
    println!(
        "{:>4} {:>8} {:>10} {:>12}",
        "run", "side", "MiB/s", "CPU s/GiB"
    );
    let mut theirs = Vec::new();
    let mut ours = Vec::new();
    for run in 1..=args.runs {
        if args.only.iter().any(|s| s == "kcptun") {
            let s = rt.block_on(run_kcptun(&args, &cell, total, &data));
            println!(
                "{run:>4} {:>8} {:>10.1} {:>12.2}",
                "kcptun", s.mib_s, s.cpu_s_per_gib
            );
            theirs.push(s);
        }
        if args.only.iter().any(|s| s == "ours") {
            let s = rt.block_on(run_ours(&args, &cell, total, &data));
            println!(
                "{run:>4} {:>8} {:>10.1} {:>12.2}",
                "ours", s.mib_s, s.cpu_s_per_gib
            );
            ours.push(s);
        }
    }
    let med = |v: &[Sample]| {
        (
            median(v.iter().map(|s| s.mib_s).collect()),
            median(v.iter().map(|s| s.cpu_s_per_gib).collect()),
        )
    };
    let (kt, kc) = med(&theirs);
    let (ot, oc) = med(&ours);
    println!("median   kcptun {kt:>10.1} MiB/s {kc:>8.2} CPU s/GiB");
    println!("median   ours   {ot:>10.1} MiB/s {oc:>8.2} CPU s/GiB");
    println!(
        "ratio    throughput ours/kcptun = {:.2}x (bar >= 3), CPU per byte ours/kcptun = {:.2} (bar <= 0.5)",
        ot / kt,
        oc / kc
    );
}
