//! `tunnel client ...` / `tunnel server ...`: the kcptun-compatible tunnel in one binary.
//!
//! The two sides are also built as `tunnel-client` and `tunnel-server`, whose command lines are exactly
//! `kcptun-client`'s and `kcptun-server`'s, so a script or service unit only changes the program name.
//! Invoked under a name ending in `client` or `server` (a symlink), this binary acts as that side.

use std::ffi::OsString;
use std::process::ExitCode;

const USAGE: &str = "kcptun-compatible TCP tunnel over KCP + smux

Usage: tunnel client [kcptun-client flags]   (see: tunnel client --help)
       tunnel server [kcptun-server flags]   (see: tunnel server --help)

Example (forward local port 8022 to the server's SSH port through UDP 29900):
  server$ tunnel server -l :29900 -t 127.0.0.1:22 --key secret
  laptop$ tunnel client -l 127.0.0.1:8022 -r server.example:29900 --key secret
  laptop$ ssh -p 8022 localhost";

fn main() -> ExitCode {
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let name = argv
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.ends_with("client") {
        return kcp_examples::tunnel::client_main(argv);
    }
    if name.ends_with("server") {
        return kcp_examples::tunnel::server_main(argv);
    }
    let sub = argv
        .get(1)
        .and_then(|s| s.to_str())
        .unwrap_or("")
        .to_string();
    match sub.as_str() {
        "client" | "server" => {
            let prog = format!("tunnel {sub}");
            argv.remove(0);
            argv[0] = prog.into();
            if sub == "client" {
                kcp_examples::tunnel::client_main(argv)
            } else {
                kcp_examples::tunnel::server_main(argv)
            }
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        "-V" | "--version" => {
            println!("tunnel {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
