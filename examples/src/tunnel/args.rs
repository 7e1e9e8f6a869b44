//! kcptun's command line: the same flag names, aliases, defaults and `-c` JSON config.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser};

/// Settings both sides share (kcptun's flags of the same names).
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Pre-shared secret between client and server.
    #[arg(
        long,
        env = "KCPTUN_KEY",
        default_value = "it's a secrect",
        hide_env_values = true
    )]
    pub key: String,
    /// Cipher: aes, aes-128, aes-192, salsa20, blowfish, twofish, cast5, 3des, tea, xtea, xor, sm4, none.
    #[arg(long, default_value = "aes")]
    pub crypt: String,
    /// Profiles: fast3, fast2, fast, normal, manual.
    #[arg(long, default_value = "fast")]
    pub mode: String,
    /// Maximum transmission unit for UDP packets.
    #[arg(long, default_value_t = 1350)]
    pub mtu: usize,
    /// Reed-Solomon erasure coding: data shards (0 with --parityshard 0 disables FEC).
    #[arg(long, visible_alias = "ds", default_value_t = 10)]
    pub datashard: usize,
    /// Reed-Solomon erasure coding: parity shards.
    #[arg(long, visible_alias = "ps", default_value_t = 3)]
    pub parityshard: usize,
    /// DSCP (6 bit) of outgoing UDP packets.
    #[arg(long, default_value_t = 0)]
    pub dscp: u8,
    /// Disable snappy compression.
    #[arg(long)]
    pub nocomp: bool,
    /// Flush ACKs immediately when a packet is received.
    #[arg(long, hide = true)]
    pub acknodelay: bool,
    /// Manual mode: KCP nodelay.
    #[arg(long, hide = true, default_value_t = 0)]
    pub nodelay: u32,
    /// Manual mode: KCP update interval (ms).
    #[arg(long, hide = true, default_value_t = 50)]
    pub interval: u32,
    /// Manual mode: fast resend threshold.
    #[arg(long, hide = true, default_value_t = 0)]
    pub resend: u32,
    /// Manual mode: 1 disables congestion control.
    #[arg(long, hide = true, default_value_t = 0)]
    pub nc: u32,
    /// Per-socket buffer in bytes.
    #[arg(long, default_value_t = 4194304)]
    pub sockbuf: usize,
    /// smux version: 1 or 2.
    #[arg(long, default_value_t = 1)]
    pub smuxver: u8,
    /// Overall de-mux buffer in bytes.
    #[arg(long, default_value_t = 4194304)]
    pub smuxbuf: usize,
    /// Per-stream receive buffer in bytes (smux v2+).
    #[arg(long, default_value_t = 2097152)]
    pub streambuf: usize,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 10)]
    pub keepalive: u64,
    /// Ours, not kcptun's: bytes the KCP windows may grow to per direction, sized from the measured
    /// bandwidth-delay product, with --sndwnd as the floor (0: fixed --sndwnd/--rcvwnd, as kcptun).
    #[arg(long, default_value_t = stack::Config::default().window_memory)]
    pub windowmemory: usize,
    /// Collect SNMP counters to a CSV file; Go time layouts in the file name are expanded, e.g. ./snmp-20060102.log.
    #[arg(long, default_value = "")]
    pub snmplog: String,
    /// Seconds between SNMP lines.
    #[arg(long, default_value_t = 60)]
    pub snmpperiod: u64,
    /// Write logs to this file instead of stderr.
    #[arg(long, default_value = "")]
    pub log: String,
    /// Do not log stream open/close messages.
    #[arg(long)]
    pub quiet: bool,
    /// Emulate a TCP connection (kcptun's tcpraw; not supported here, refused).
    #[arg(long)]
    pub tcp: bool,
    /// Config from a JSON file, which overrides the command line.
    #[arg(short = 'c', value_name = "FILE")]
    pub c: Option<PathBuf>,
}

/// `tunnel-client`: forwards local TCP connections to a kcptun-compatible server.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "tunnel-client",
    version,
    about = "kcptun-compatible client: local TCP port -> KCP/smux over UDP -> server",
    after_help = "Flags, defaults and the -c JSON config are kcptun-client's; single-dash long flags \
                  (-key x, -mode fast3) and -flag=false work as in Go.\n\n\
                  Example:\n  tunnel-client -l 127.0.0.1:12948 -r vps:29900 --key secret --crypt aes --mode fast"
)]
pub struct ClientArgs {
    /// Local TCP listen address.
    #[arg(short = 'l', long, default_value = ":12948")]
    pub localaddr: String,
    /// kcp server address (UDP).
    #[arg(short = 'r', long, default_value = "vps:29900")]
    pub remoteaddr: String,
    /// Number of UDP connections to the server.
    #[arg(long, default_value_t = 1)]
    pub conn: usize,
    /// Seconds before a connection stops taking new streams (0 = never).
    #[arg(long, default_value_t = 0)]
    pub autoexpire: u64,
    /// Seconds an expired connection may live on.
    #[arg(long, default_value_t = 600)]
    pub scavengettl: u64,
    /// Send window in packets.
    #[arg(long, default_value_t = 128)]
    pub sndwnd: u32,
    /// Receive window in packets.
    #[arg(long, default_value_t = 512)]
    pub rcvwnd: u32,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `tunnel-server`: accepts kcptun-compatible clients and forwards each stream to one TCP target.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "tunnel-server",
    version,
    about = "kcptun-compatible server: KCP/smux over UDP -> one TCP (or Unix socket) target",
    after_help = "Flags, defaults and the -c JSON config are kcptun-server's; single-dash long flags \
                  (-key x, -mode fast3) and -flag=false work as in Go.\n\n\
                  Example:\n  tunnel-server -l :29900 -t 127.0.0.1:22 --key secret --crypt aes --mode fast"
)]
pub struct ServerArgs {
    /// kcp server listen address (UDP).
    #[arg(short = 'l', long, default_value = ":29900")]
    pub listen: String,
    /// Target server address: host:port for TCP, anything else is a Unix socket path.
    #[arg(short = 't', long, default_value = "127.0.0.1:12948")]
    pub target: String,
    /// Send window in packets.
    #[arg(long, default_value_t = 1024)]
    pub sndwnd: u32,
    /// Receive window in packets.
    #[arg(long, default_value_t = 1024)]
    pub rcvwnd: u32,
    /// kcptun's HTTP profiler on :6060 (accepted for compatibility, not served).
    #[arg(long)]
    pub pprof: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// Rewrites Go-style arguments into clap's: `-name` / `-name=v` for a known long flag becomes `--name`,
/// and `--flag=true` / `--flag=false` of a boolean flag becomes `--flag` / nothing.
///
/// ```
/// use clap::CommandFactory;
/// let cmd = kcp_examples::tunnel::args::ClientArgs::command();
/// let out = kcp_examples::tunnel::args::go_style(&cmd, ["x", "-key", "k", "-nocomp=false", "-l", ":1"]);
/// assert_eq!(out, ["x", "--key", "k", "-l", ":1"]);
/// ```
pub fn go_style<I, T>(cmd: &clap::Command, args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let mut longs: Vec<(String, bool)> = Vec::new();
    for a in cmd.get_arguments() {
        let is_bool = !a.get_action().takes_values();
        for name in a.get_long_and_visible_aliases().into_iter().flatten() {
            longs.push((name.to_string(), is_bool));
        }
    }
    let mut out = Vec::new();
    let mut rest = false;
    for (i, arg) in args.into_iter().map(Into::into).enumerate() {
        let Some(s) = arg.to_str().filter(|_| i > 0 && !rest) else {
            out.push(arg);
            continue;
        };
        if s == "-v" {
            // urfave/cli's short version flag (clap's is -V).
            out.push("--version".into());
            continue;
        }
        if s == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        let body = s.strip_prefix("--").or_else(|| s.strip_prefix('-'));
        let Some(body) = body.filter(|b| !b.is_empty()) else {
            out.push(arg);
            continue;
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        match longs.iter().find(|(l, _)| l == name) {
            Some((_, true)) => match value {
                Some("false") | Some("0") | Some("f") | Some("F") | Some("FALSE")
                | Some("False") => {}
                _ => out.push(format!("--{name}").into()),
            },
            Some((_, false)) => out.push(format!("--{body}").into()),
            None => out.push(arg),
        }
    }
    out
}
