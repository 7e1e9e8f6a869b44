//! `chat`: a chat room over KCP + smux. `chat serve` runs the room, `chat join` joins it.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "chat",
    version,
    about = "A chat room over KCP + smux: many users, messages broadcast to all, joins and leaves announced",
    after_help = "Example:\n  \
        server$ chat serve --listen :7000\n  \
        alice$  chat join --server chat.example:7000 --name alice\n  \
        bob$    chat join --server chat.example:7000 --name bob\n\n\
        In the room: type a line and Enter to send; /who lists users; /quit or Ctrl-D leaves.\n\
        Logs: RUST_LOG=debug."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the room.
    Serve {
        /// Address to listen on (UDP); `:7000` means every interface.
        #[arg(long, short = 'l', default_value = ":7000")]
        listen: String,
        #[command(flatten)]
        link: Link,
    },
    /// Join a room.
    Join {
        /// The room's address (host:port).
        #[arg(long, short = 's')]
        server: String,
        /// Your name (1 to 32 characters, no spaces).
        #[arg(long, short = 'n')]
        name: String,
        #[command(flatten)]
        link: Link,
    },
}

/// Settings both ends must agree on.
#[derive(Args)]
struct Link {
    /// Shared secret of the room.
    #[arg(long, env = "CHAT_KEY", default_value = "chat", hide_env_values = true)]
    key: String,
    /// Cipher (kcptun's names: aes, salsa20, none, ...).
    #[arg(long, default_value = "aes")]
    crypt: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = kcp_examples::logging::init("warn", None) {
        eprintln!("chat: {e:#}");
        return ExitCode::FAILURE;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chat: {e}");
            return ExitCode::FAILURE;
        }
    };
    let r = rt.block_on(async {
        match cli.cmd {
            Cmd::Serve { listen, link } => {
                let cfg = kcp_examples::link_config(&link.key, &link.crypt, "fast3", false)?;
                tokio::select! {
                    r = kcp_examples::chat::server::serve(&listen, cfg) => r,
                    _ = tokio::signal::ctrl_c() => Ok(()),
                }
            }
            Cmd::Join { server, name, link } => {
                let cfg = kcp_examples::link_config(&link.key, &link.crypt, "fast3", false)?;
                kcp_examples::chat::client::join(&server, &name, cfg).await
            }
        }
    });
    // The line editor's thread may still wait for a key; do not wait for it.
    rt.shutdown_background();
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat: {e:#}");
            ExitCode::FAILURE
        }
    }
}
