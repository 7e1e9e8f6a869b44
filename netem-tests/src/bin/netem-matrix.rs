//! `netem-matrix`: runs the loss x RTT matrix (ours, kcptun, TCP) and writes a Markdown report with charts.
//!
//! ```text
//! netem-matrix run --out target/netem-report            # the full matrix (tens of minutes)
//! netem-matrix run --small --out target/netem-small     # the CI-sized one (well under a minute)
//! netem-matrix report --out target/netem-report         # re-draw the report from results.jsonl
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use netem_tests::cell::{Workload, WorkloadParams};
use netem_tests::impair::ImpairArgs;

#[derive(Parser, Debug)]
#[command(about = "Loss x RTT matrix: ours vs kcptun vs TCP, with a Markdown report and charts")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Internal: one TCP cell inside a prepared network namespace; prints one JSON line.
    TcpCell {
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
    },
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::TcpCell {
            cc,
            workload,
            duration_ms,
            max_bytes,
            interval_ms,
            timeout_ms,
            seed,
            impair,
        } => {
            let Some(workload) = Workload::parse(&workload) else {
                eprintln!("netem-matrix: unknown workload {workload:?}");
                return ExitCode::from(2);
            };
            let params = WorkloadParams {
                workload,
                duration: Duration::from_millis(duration_ms),
                max_bytes,
                interval: Duration::from_millis(interval_ms),
                timeout: Duration::from_millis(timeout_ms),
            };
            let o = netem_tests::tcpimpair::child_cell(&cc, &params, &impair, seed);
            println!("{}", o.to_json());
            ExitCode::SUCCESS
        }
    }
}
