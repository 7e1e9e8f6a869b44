//! A kcptun-compatible TCP tunnel: `tunnel-client` / `tunnel-server` take kcptun's flags, defaults and JSON
//! config, so either can replace `kcptun-client` / `kcptun-server` with the same command line.

pub mod args;
pub mod client;
pub mod server;
pub mod settings;
pub mod snmp;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use args::{ClientArgs, ServerArgs};
use settings::{ClientSettings, Program, ServerSettings};

fn parse<T: CommandFactory + FromArgMatches>(argv: Vec<OsString>) -> T {
    let cmd = T::command();
    let argv = args::go_style(&cmd, argv);
    let m = cmd.get_matches_from(argv);
    T::from_arg_matches(&m).unwrap_or_else(|e| e.exit())
}

fn start(program: &Program, warnings: &[String]) -> anyhow::Result<tokio::runtime::Runtime> {
    let file = (!program.log.is_empty()).then(|| Path::new(&program.log));
    crate::logging::init("info", file)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(tokio::runtime::Runtime::new()?)
}

fn log_settings(c: &stack::Config, p: &Program) {
    tracing::info!("version: {}", env!("CARGO_PKG_VERSION"));
    tracing::info!("smux version: {}", c.smuxver);
    tracing::info!("encryption: {}", c.crypt.kcptun_name());
    tracing::info!(
        "nodelay parameters: {:?} ({})",
        c.preset().params(),
        c.mode.name()
    );
    tracing::info!("sndwnd: {} rcvwnd: {}", c.sndwnd, c.rcvwnd);
    tracing::info!("compression: {}", !c.nocomp);
    tracing::info!("mtu: {}", c.mtu);
    tracing::info!("datashard: {} parityshard: {}", c.datashard, c.parityshard);
    tracing::info!("acknodelay: {}", c.acknodelay);
    tracing::info!("dscp: {}", c.dscp);
    tracing::info!("sockbuf: {}", c.sockbuf);
    tracing::info!("smuxbuf: {} streambuf: {}", c.smuxbuf, c.streambuf);
    tracing::info!("keepalive: {}", c.keepalive);
    tracing::info!("snmplog: {:?} snmpperiod: {}", p.snmplog, p.snmpperiod);
    tracing::info!("quiet: {}", p.quiet);
}

fn finish(r: anyhow::Result<()>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn until_signal(fut: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::select! {
        r = fut => r,
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("interrupted, exiting");
            Ok(())
        }
    }
}

/// `tunnel-client` with these arguments (argv\[0\] first).
pub fn client_main(argv: Vec<OsString>) -> ExitCode {
    let a: ClientArgs = parse(argv);
    let (s, warn) = match ClientSettings::from_args(&a) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("tunnel-client: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match start(&s.program, &warn) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tunnel-client: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    log_settings(&s.config, &s.program);
    tracing::info!(
        "conn: {} autoexpire: {} scavengettl: {}",
        s.config.conn,
        s.config.autoexpire,
        s.config.scavengettl
    );
    finish(rt.block_on(async {
        tokio::spawn(snmp::run(s.program.snmplog.clone(), s.program.snmpperiod));
        until_signal(client::run(s)).await
    }))
}

/// `tunnel-server` with these arguments (argv\[0\] first).
pub fn server_main(argv: Vec<OsString>) -> ExitCode {
    let a: ServerArgs = parse(argv);
    let (s, warn) = match ServerSettings::from_args(&a) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("tunnel-server: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rt = match start(&s.program, &warn) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tunnel-server: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    log_settings(&s.config, &s.program);
    finish(rt.block_on(async {
        tokio::spawn(snmp::run(s.program.snmplog.clone(), s.program.snmpperiod));
        until_signal(server::run(s)).await
    }))
}
