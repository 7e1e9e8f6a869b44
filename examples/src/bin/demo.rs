//! `demo`: the stack at work on loopback through the network emulator, next to TCP on the same link.
//!
//! A checksummed bulk transfer and a 64-byte echo (latency) run over KCP + smux through the seeded link
//! model (5 % loss each way and 100 ms RTT by default); then the same workloads run over the kernel's TCP
//! through the same link model at the packet level (NFQUEUE in a private network namespace, which needs
//! root; without it the TCP column says so). Bounded: about 35 s with the defaults.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use netem_tests::cell::{Outcome, Workload, WorkloadParams, run_workload};
use netem_tests::impair::ImpairArgs;
use netem_tests::relay::{Relay, RelayConfig};

#[derive(Parser)]
#[command(
    name = "demo",
    version,
    about = "KCP + smux vs TCP on the same emulated lossy link (loopback, bounded in time)",
    after_help = "Example:\n  demo                      # 5% loss each way, 100 ms RTT\n  \
                  demo --loss 1% --delay 20ms --rate 50mbit"
)]
struct Cli {
    /// Loss probability each way.
    #[arg(long, default_value = "5%")]
    loss: String,
    /// One-way delay (the RTT is twice this).
    #[arg(long, default_value = "50ms")]
    delay: String,
    /// Link rate each way, e.g. `20mbit` (`0`: unlimited).
    #[arg(long, default_value = "0")]
    rate: String,
    /// Seconds of bulk transfer per transport (the echo test runs half as long).
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Seed of the link model.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skip the TCP comparison.
    #[arg(long)]
    no_tcp: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Internal: one TCP measurement inside the prepared network namespace (prints one JSON line).
    #[command(hide = true)]
    TcpCell(netem_tests::tcpimpair::TcpCellArgs),
}

fn params(workload: Workload, secs: u64) -> WorkloadParams {
    let duration = match workload {
        Workload::Bulk => Duration::from_secs(secs),
        Workload::Interactive => Duration::from_secs(secs.div_ceil(2)),
    };
    WorkloadParams {
        workload,
        duration,
        max_bytes: 1 << 30,
        interval: Duration::from_millis(20),
        timeout: duration + Duration::from_secs(10),
        partner: None,
    }
}

/// One workload over KCP + smux through the in-process relay.
async fn kcp_cell(impair: &ImpairArgs, p: &WorkloadParams, seed: u64) -> anyhow::Result<Outcome> {
    let (up, down) = impair.links().map_err(anyhow::Error::msg)?;
    let cfg = kcp_examples::link_config("demo", "aes", "fast3", false)?;
    let listener = stack::KcpSmuxListener::bind("127.0.0.1:0", cfg.clone()).await?;
    let server = listener.local_addr();
    let serve = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(netem_tests::workload::serve(s));
        }
    });
    let relay = Relay::spawn(
        "127.0.0.1:0".parse()?,
        RelayConfig::new(server, up, down, seed),
    )
    .await?;
    let outcome = async {
        let client = stack::connect(relay.addr(), &cfg).await?;
        let stream = client.open_stream().await?;
        let o = run_workload(stream, p, seed).await;
        client.close().await;
        anyhow::Ok(o)
    }
    .await;
    let stats = relay.finish().await?;
    serve.abort();
    Ok(outcome?.with_links(&stats.up, &stats.down))
}

fn mbps(o: &Outcome) -> String {
    match (&o.error, o.goodput_mbps) {
        (Some(e), _) => format!("failed: {e}"),
        (None, Some(g)) => format!("{g:.2} Mbit/s"),
        _ => "-".into(),
    }
}

fn latency(o: &Outcome) -> String {
    match (&o.error, o.p50_ms, o.p99_ms) {
        (Some(e), _, _) => format!("failed: {e}"),
        (None, Some(a), Some(b)) => format!("{a:.0} / {b:.0} ms"),
        _ => "-".into(),
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let impair = ImpairArgs {
        loss: cli.loss.clone(),
        delay: cli.delay.clone(),
        rate: cli.rate.clone(),
        ..ImpairArgs::default()
    };
    impair.links().map_err(anyhow::Error::msg)?;
    let bulk = params(Workload::Bulk, cli.seconds);
    let echo = params(Workload::Interactive, cli.seconds);
    let rtt = netem_tests::impair::parse_duration(&cli.delay).map_err(anyhow::Error::msg)? * 2;
    let rate = if cli.rate.trim() == "0" {
        "unlimited rate".to_string()
    } else {
        format!("{} each way", cli.rate)
    };
    println!(
        "link: {} loss each way, {} ms RTT, {rate}; loopback through a seeded emulator (seed {})",
        cli.loss,
        rtt.as_millis(),
        cli.seed
    );
    println!(
        "workloads: checksummed bulk transfer for {:?}; 64-byte echo every 20 ms for {:?}\n",
        bulk.duration, echo.duration
    );
    let rt = tokio::runtime::Runtime::new()?;
    eprintln!("running KCP + smux ...");
    let k_bulk = rt.block_on(kcp_cell(&impair, &bulk, cli.seed))?;
    let k_echo = rt.block_on(kcp_cell(&impair, &echo, cli.seed))?;
    let tcp = if cli.no_tcp {
        Err("skipped (--no-tcp)".to_string())
    } else if let Some(why) = netem_tests::netns::nfq_unavailable() {
        Err(format!("not measured: {why}"))
    } else {
        eprintln!("running TCP (cubic) through the same link model ...");
        let exe = std::env::current_exe()?;
        let b = netem_tests::tcpimpair::run_tcp_cell(&exe, "cubic", &bulk, &impair, cli.seed);
        let e = netem_tests::tcpimpair::run_tcp_cell(&exe, "cubic", &echo, &impair, cli.seed);
        Ok((b, e))
    };
    println!(
        "{:<28} {:>22} {:>26}",
        "", "KCP + smux (this stack)", "TCP (kernel, cubic)"
    );
    let (tb, te) = match &tcp {
        Ok((b, e)) => (mbps(b), latency(e)),
        Err(why) => (why.clone(), String::new()),
    };
    println!("{:<28} {:>22} {:>26}", "bulk goodput", mbps(&k_bulk), tb);
    println!(
        "{:<28} {:>22} {:>26}",
        "echo RTT median / p99",
        latency(&k_echo),
        te
    );
    if let (Ok((b, _)), Some(k)) = (&tcp, k_bulk.goodput_mbps) {
        if let Some(t) = b.goodput_mbps.filter(|t| *t > 0.0) {
            println!(
                "\nKCP moved {:.1}x the data TCP did on the same link.",
                k / t
            );
        }
    }
    println!(
        "(KCP: mode fast3, windows 1024, FEC 10/3, no congestion control: it spends bandwidth to keep \
         latency low)"
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::TcpCell(cell)) = &cli.cmd {
        return cell.run("demo");
    }
    if let Err(e) = kcp_examples::logging::init("warn", None) {
        eprintln!("demo: {e:#}");
        return ExitCode::FAILURE;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
