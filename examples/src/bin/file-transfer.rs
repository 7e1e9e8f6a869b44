//! `file-transfer`: send files or directories over KCP + smux, several streams at once, resumable,
//! SHA-256 verified on arrival.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use kcp_examples::transfer::{self, human_bytes};

#[derive(Parser)]
#[command(
    name = "file-transfer",
    version,
    about = "Send files and directories over KCP + smux: parallel streams, progress, SHA-256, resume",
    after_help = "Example:\n  \
        receiver$ file-transfer receive --listen :9000 --dir ./inbox\n  \
        sender$   file-transfer send --to receiver.example:9000 big.iso photos/\n\n\
        An interrupted transfer resumes when the same send is run again: the receiver keeps NAME.part\n\
        and reports how much it has; the whole file is verified with SHA-256 at the end.\n\
        Logs: RUST_LOG=debug."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Send files and directories to a receiver.
    Send {
        /// Receiver address (host:port, UDP).
        #[arg(long, short = 't')]
        to: String,
        /// Files or directories to send (a directory is sent with everything below it).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Files sent at once, one stream each.
        #[arg(long, default_value_t = 4)]
        streams: usize,
        #[command(flatten)]
        link: Link,
    },
    /// Receive files into a directory (runs until Ctrl-C).
    Receive {
        /// Address to listen on (UDP); `:9000` means every interface.
        #[arg(long, short = 'l', default_value = ":9000")]
        listen: String,
        /// Directory to store files in (created if missing).
        #[arg(long, short = 'd', default_value = ".")]
        dir: PathBuf,
        #[command(flatten)]
        link: Link,
    },
}

/// Settings both ends must agree on.
#[derive(Args)]
struct Link {
    /// Shared secret.
    #[arg(
        long,
        env = "FILE_TRANSFER_KEY",
        default_value = "file-transfer",
        hide_env_values = true
    )]
    key: String,
    /// Cipher (kcptun's names: aes, salsa20, none, ...).
    #[arg(long, default_value = "aes")]
    crypt: String,
    /// KCP preset: normal, fast, fast2, fast3.
    #[arg(long, default_value = "fast2")]
    mode: String,
    /// Compress with snappy (helps text, costs CPU).
    #[arg(long)]
    compress: bool,
}

impl Link {
    fn config(&self) -> anyhow::Result<stack::Config> {
        transfer::config(&self.key, &self.crypt, &self.mode, self.compress)
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Send {
            to,
            paths,
            streams,
            link,
        } => {
            let cfg = link.config()?;
            let items = transfer::send::list(&paths)?;
            let s = transfer::send::send(&to, items, streams, &cfg).await?;
            let rate = s.sent as f64 / s.secs.max(1e-9);
            println!(
                "sent {} file(s), {} ({} over the network) in {:.1} s, {}/s; SHA-256 verified by the receiver",
                s.files,
                human_bytes(s.total),
                human_bytes(s.sent),
                s.secs,
                human_bytes(rate as u64)
            );
            Ok(())
        }
        Cmd::Receive { listen, dir, link } => {
            let cfg = link.config()?;
            tokio::select! {
                r = transfer::receive::serve(&listen, dir, cfg) => r,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = kcp_examples::logging::init("warn", None) {
        eprintln!("file-transfer: {e:#}");
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("file-transfer: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("file-transfer: {e:#}");
            ExitCode::FAILURE
        }
    }
}
