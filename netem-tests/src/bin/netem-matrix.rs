//! `netem-matrix`: runs the loss x RTT matrix (ours, kcptun, TCP) and writes a Markdown report with charts.
//!
//! ```text
//! netem-matrix run --out target/netem-report            # the full matrix (tens of minutes)
//! netem-matrix run --small --out target/netem-small     # the CI-sized one (well under a minute)
//! netem-matrix report --out target/netem-report         # re-draw the report from results.jsonl
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use netem_tests::cell::Workload;
use netem_tests::matrix::{
    MatrixConfig, Transport, all_transports, read_rows, run_matrix, small_matrix,
};
use netem_tests::report::write_report;

#[derive(Parser, Debug)]
#[command(about = "Loss x RTT matrix: ours vs kcptun vs TCP, with a Markdown report and charts")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Runs the matrix and writes results.jsonl, report.md and charts into --out.
    Run {
        /// Output directory.
        #[arg(long, default_value = "target/netem-report")]
        out: PathBuf,
        /// The CI-sized matrix: loss 0 and 10 %, RTT 40 ms, 1 s per workload, three transports.
        #[arg(long)]
        small: bool,
        /// Loss rates in percent, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "0,1,5,10")]
        loss: Vec<f64>,
        /// RTTs in ms, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "20,100,200")]
        rtt: Vec<u64>,
        /// Transports, comma-separated (ours-fast, ours-fast-fec, ours-fast3, ours-fast3-fec, ours-default,
        /// kcptun-fast, kcptun-fast-fec, kcptun-fast3, kcptun-fast3-fec, tcp-cubic, tcp-bbr); default: all.
        #[arg(long, value_delimiter = ',')]
        transports: Vec<String>,
        /// Workloads, comma-separated (bulk, interactive).
        #[arg(long, value_delimiter = ',', default_value = "bulk,interactive")]
        workloads: Vec<String>,
        /// Bulk send time in seconds.
        #[arg(long, default_value_t = 5.0)]
        bulk_secs: f64,
        /// Bulk byte budget in MiB.
        #[arg(long, default_value_t = 256)]
        bulk_mib: u64,
        /// Interactive run time in seconds.
        #[arg(long, default_value_t = 5.0)]
        interactive_secs: f64,
        /// Rate limit each way.
        #[arg(long, default_value = "100mbit")]
        rate: String,
        /// Rate-limiter queue in packets.
        #[arg(long, default_value = "1000")]
        queue: String,
        /// Jitter each way.
        #[arg(long, default_value = "0ms")]
        jitter: String,
        /// Seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Run our cells out of process, as kcptun's, through `tunnel-client` and `tunnel-server` (the
        /// kcptun-compatible examples, `cargo build --release -p kcp-examples`) found in this directory.
        #[arg(long)]
        ours_tunnel: Option<PathBuf>,
    },
    /// Re-draws report.md and the charts from --out/results.jsonl.
    Report {
        /// Directory holding results.jsonl.
        #[arg(long, default_value = "target/netem-report")]
        out: PathBuf,
    },
    /// Internal: one TCP cell inside a prepared network namespace; prints one JSON line.
    TcpCell(netem_tests::tcpimpair::TcpCellArgs),
}

fn header(cfg: &MatrixConfig) -> String {
    let cmd: Vec<String> = std::env::args().collect();
    format!(
        "Command: `{}`\n\nPath: loss each way (independent), RTT split evenly, rate {} each way with a {}-packet \
         queue, jitter {}; our stack and kcptun through the `netem` UDP relay, TCP through NFQUEUE with the same \
         link model (loopback MTU 1500 in a private namespace); the rate limit charges what an IPv4 wire carries, \
         TCP's whole IP packets and each UDP datagram plus its 28-byte IP/UDP header, and both paths time \
         deliveries to the microsecond. Bulk: {:?} of checksummed data one way (CRC32 \
         checked); interactive: 64-byte echoes every 20 ms for {:?}, every echo compared byte for byte; \
         an interactive cell of ours runs at the same time as kcptun's with the same settings (each through its \
         own relay, kcptun's messages 10 ms after ours), so that a busy moment of the host delays both alike; \
         every other cell runs alone. \
         \"Same settings\": AES, no compression, MTU 1350, windows 1024/1024, FEC 10/3 where marked +fec. \
         \"ours default\": the stack's defaults (kcptun's: client windows 128/512, FEC 10/3, snappy on; plus ours: \
         windows sized from the measured bandwidth-delay product up to 8 MiB, and FEC groups sent without parity \
         while a transfer fills its pipe, those datagrams without the FEC header). \"Same settings\" cells of ours \
         keep the windows fixed, as kcptun's, so their parity is never left out; ours paces them (new segments \
         at most 1.5 x window / SRTT) where kcptun sends all a window allows at once. Every one of our cells repeats ACKs above a hole once (our receiver) and copies up to 3 unacknowledged \
         segments into the spare room of datagrams carrying new data (our sender). {}",
        cmd.join(" "),
        cfg.rate,
        cfg.queue,
        cfg.jitter,
        cfg.bulk_duration,
        cfg.interactive_duration,
        match &cfg.ours_tunnel {
            Some(_) =>
                "Our stack runs out of process, as kcptun does: our kcptun-compatible `tunnel-client` and \
                        `tunnel-server` with kcptun's flags (plus `--windowmemory 0` for the same-settings cells), \
                        the workload's TCP connections through them.",
            None => "Our stack runs inside the harness process (kcptun in its own two processes).",
        },
    )
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Report { out } => {
            let rows = match read_rows(&out.join("results.jsonl")) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("netem-matrix: {}: {e}", out.join("results.jsonl").display());
                    return ExitCode::FAILURE;
                }
            };
            let header = std::fs::read_to_string(out.join("header.md")).unwrap_or_default();
            match write_report(&rows, &out, &header) {
                Ok(p) => {
                    println!("{}", p.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("netem-matrix: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Cmd::Run {
            out,
            small,
            loss,
            rtt,
            transports,
            workloads,
            bulk_secs,
            bulk_mib,
            interactive_secs,
            rate,
            queue,
            jitter,
            seed,
            ours_tunnel,
        } => {
            let exe = match std::env::current_exe() {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("netem-matrix: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mut ts = Vec::new();
            for t in &transports {
                match Transport::parse(t) {
                    Some(t) => ts.push(t),
                    None => {
                        eprintln!("netem-matrix: unknown transport {t:?}");
                        return ExitCode::from(2);
                    }
                }
            }
            let mut ws = Vec::new();
            for w in &workloads {
                match Workload::parse(w) {
                    Some(w) => ws.push(w),
                    None => {
                        eprintln!("netem-matrix: unknown workload {w:?}");
                        return ExitCode::from(2);
                    }
                }
            }
            let mut cfg = MatrixConfig {
                losses: loss,
                rtts: rtt,
                transports: if ts.is_empty() { all_transports() } else { ts },
                workloads: ws,
                bulk_duration: Duration::from_secs_f64(bulk_secs),
                bulk_max_bytes: bulk_mib << 20,
                interactive_duration: Duration::from_secs_f64(interactive_secs),
                rate,
                queue,
                jitter,
                seed,
                exe,
                ours_tunnel,
            };
            if small {
                cfg = small_matrix(cfg);
            }
            let header = header(&cfg);
            if let Err(e) = std::fs::create_dir_all(&out)
                .and_then(|_| std::fs::write(out.join("header.md"), &header))
            {
                eprintln!("netem-matrix: {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
            let total =
                cfg.rtts.len() * cfg.losses.len() * cfg.workloads.len() * cfg.transports.len();
            let mut n = 0;
            let rows = run_matrix(&cfg, &out, |r| {
                n += 1;
                let o = &r.outcome;
                let what = match (&o.error, r.workload) {
                    (Some(e), _) => format!("ERROR {e}"),
                    (None, Workload::Bulk) => {
                        format!("{:.1} Mbit/s", o.goodput_mbps.unwrap_or(0.0))
                    }
                    (None, Workload::Interactive) => format!(
                        "p50 {:.0} p99 {:.0} max {:.0} ms",
                        o.p50_ms.unwrap_or(0.0),
                        o.p99_ms.unwrap_or(0.0),
                        o.max_ms.unwrap_or(0.0)
                    ),
                };
                eprintln!(
                    "[{n}/{total}] rtt {} loss {}% {} {}: {what}",
                    r.rtt_ms,
                    r.loss_pct,
                    r.workload.name(),
                    r.transport
                );
            });
            let rows = match rows {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("netem-matrix: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match write_report(&rows, &out, &header) {
                Ok(p) => println!("{}", p.display()),
                Err(e) => {
                    eprintln!("netem-matrix: {e}");
                    return ExitCode::FAILURE;
                }
            }
            let failed = rows
                .iter()
                .filter(|r| {
                    r.outcome
                        .error
                        .as_deref()
                        .is_some_and(|e| !e.starts_with("skipped"))
                })
                .count();
            if failed > 0 {
                eprintln!("netem-matrix: {failed} cell(s) failed");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Cmd::TcpCell(cell) => cell.run("netem-matrix"),
    }
}
