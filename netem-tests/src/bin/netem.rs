//! `netem`: a UDP relay on loopback that applies the seeded link model between a client and a server.
//!
//! ```text
//! netem --listen 127.0.0.1:4000 --upstream 127.0.0.1:29900 --delay 25ms --jitter 5ms --loss 5% \
//!       --rate 50mbit --duration 60s
//! ```
//! Every impairment takes `X` (both directions) or `X/Y` (client->server, server->client). The relay stops after
//! `--duration` (or on Ctrl-C) and prints its counters as one JSON line.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use netem_tests::impair::{ImpairArgs, parse_duration};
use netem_tests::relay::{Relay, RelayConfig};

#[derive(Parser, Debug)]
#[command(
    about = "UDP relay applying delay, jitter, loss, reordering, duplication, corruption, rate and blackholes"
)]
struct Args {
    /// Address clients send to.
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Server the relay forwards to.
    #[arg(long)]
    upstream: SocketAddr,
    /// RNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop after this long (the relay is always bounded in time).
    #[arg(long, default_value = "60s")]
    duration: String,
    #[command(flatten)]
    impair: ImpairArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (up, down) = match args.impair.links() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("netem: {e}");
            return ExitCode::from(2);
        }
    };
    let duration = match parse_duration(&args.duration) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("netem: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("netem: {e}");
            return ExitCode::FAILURE;
        }
    };
    let res = rt.block_on(async {
        let relay = Relay::bind(
            args.listen,
            RelayConfig::new(args.upstream, up, down, args.seed),
        )
        .await?;
        eprintln!(
            "netem: relaying {} -> {} for {:?}",
            relay.local_addr()?,
            args.upstream,
            duration
        );
        relay
            .run(async {
                tokio::select! {
                    _ = tokio::time::sleep(duration) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await
    });
    match res {
        Ok(s) => {
            let dir = |l: &netem_tests::link::LinkStats| {
                serde_json::json!({
                    "sent": l.sent, "delivered": l.delivered, "lost": l.lost, "queue_drops": l.queue_drops,
                    "blackholed": l.blackholed, "duplicated": l.duplicated, "corrupted": l.corrupted,
                })
            };
            println!(
                "{}",
                serde_json::json!({
                    "clients": s.clients, "refused": s.refused, "send_errors": s.send_errors,
                    "up": dir(&s.up), "down": dir(&s.down),
                })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("netem: {e}");
            ExitCode::FAILURE
        }
    }
}
