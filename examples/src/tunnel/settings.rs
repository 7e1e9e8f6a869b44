//! From kcptun flags (and the `-c` JSON file, which overrides them) to a [`stack::Config`] plus the
//! program's own settings.

use std::path::PathBuf;

use anyhow::{Context, bail};
use kcp::codec::CryptKind;
use serde_json::{Map, Value};

use super::args::{ClientArgs, Common, ServerArgs};

/// What the program does besides the transport settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// `--snmplog` (empty = off).
    pub snmplog: String,
    /// `--snmpperiod` in seconds.
    pub snmpperiod: u64,
    /// `--log` (empty = stderr).
    pub log: String,
    /// `--quiet`.
    pub quiet: bool,
}

/// Everything `tunnel-client` runs with.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// TCP listen address (`localaddr`).
    pub localaddr: String,
    /// Server UDP address (`remoteaddr`).
    pub remoteaddr: String,
    /// Transport settings.
    pub config: stack::Config,
    /// Logging and SNMP.
    pub program: Program,
}

/// Everything `tunnel-server` runs with.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// UDP listen address (`listen`).
    pub listen: String,
    /// TCP `host:port` or Unix socket path (`target`).
    pub target: String,
    /// Transport settings.
    pub config: stack::Config,
    /// Logging and SNMP.
    pub program: Program,
}

/// Warnings to log once logging is up (the log file itself may come from the JSON).
pub type Warnings = Vec<String>;

fn common_config(c: &Common, base: stack::Config, warn: &mut Warnings) -> stack::Config {
    let crypt = CryptKind::from_kcptun_name(&c.crypt);
    if crypt.kcptun_name() != c.crypt {
        warn.push(format!(
            "unknown --crypt {:?}, using aes as kcptun does",
            c.crypt
        ));
    }
    let mode = stack::Mode::from_name(&c.mode).unwrap_or(stack::Mode::Manual);
    stack::Config {
        key: c.key.clone(),
        crypt,
        mode,
        nodelay: c.nodelay,
        interval: c.interval,
        resend: c.resend,
        nc: c.nc != 0,
        mtu: c.mtu,
        datashard: c.datashard,
        parityshard: c.parityshard,
        dscp: c.dscp,
        nocomp: c.nocomp,
        acknodelay: c.acknodelay,
        sockbuf: c.sockbuf,
        smuxver: c.smuxver,
        smuxbuf: c.smuxbuf,
        streambuf: c.streambuf,
        keepalive: c.keepalive,
        window_memory: c.windowmemory,
        ..base
    }
}

fn program(c: &Common) -> Program {
    Program {
        snmplog: c.snmplog.clone(),
        snmpperiod: c.snmpperiod,
        log: c.log.clone(),
        quiet: c.quiet,
    }
}

/// The JSON file: its transport keys merged over `config`, its own keys returned as a map.
fn load_json(
    path: &Option<PathBuf>,
    config: stack::Config,
) -> anyhow::Result<(stack::Config, Map<String, Value>)> {
    let Some(path) = path else {
        return Ok((config, Map::new()));
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let config = config
        .merge_json(&text)
        .with_context(|| format!("config file {}", path.display()))?;
    let map = match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    Ok((config, map))
}

fn json_string(map: &Map<String, Value>, key: &str, out: &mut String) -> anyhow::Result<()> {
    match map.get(key) {
        None => Ok(()),
        Some(Value::String(s)) => {
            *out = s.clone();
            Ok(())
        }
        Some(v) => bail!("config file: {key}: expected a string, got {v}"),
    }
}

fn json_program(map: &Map<String, Value>, p: &mut Program) -> anyhow::Result<bool> {
    json_string(map, "snmplog", &mut p.snmplog)?;
    json_string(map, "log", &mut p.log)?;
    if let Some(v) = map.get("snmpperiod") {
        p.snmpperiod = v
            .as_u64()
            .with_context(|| format!("config file: snmpperiod: expected seconds, got {v}"))?;
    }
    let flag = |key: &str| -> anyhow::Result<Option<bool>> {
        match map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => bail!("config file: {key}: expected true or false, got {v}"),
        }
    };
    if let Some(q) = flag("quiet")? {
        p.quiet = q;
    }
    Ok(flag("tcp")?.unwrap_or(false))
}

fn check_tcp(tcp: bool) -> anyhow::Result<()> {
    if tcp {
        bail!(
            "--tcp (kcptun's raw fake-TCP transport) is not supported; run without it (plain UDP)"
        );
    }
    Ok(())
}

impl ClientSettings {
    /// Builds the client settings; warnings are for the log.
    pub fn from_args(a: &ClientArgs) -> anyhow::Result<(ClientSettings, Warnings)> {
        let mut warn = Vec::new();
        let base = stack::Config {
            conn: a.conn,
            autoexpire: a.autoexpire,
            scavengettl: a.scavengettl,
            sndwnd: a.sndwnd,
            rcvwnd: a.rcvwnd,
            ..stack::Config::default()
        };
        let config = common_config(&a.common, base, &mut warn);
        let (config, map) = load_json(&a.common.c, config)?;
        let mut s = ClientSettings {
            localaddr: a.localaddr.clone(),
            remoteaddr: a.remoteaddr.clone(),
            config,
            program: program(&a.common),
        };
        json_string(&map, "localaddr", &mut s.localaddr)?;
        json_string(&map, "remoteaddr", &mut s.remoteaddr)?;
        let tcp = json_program(&map, &mut s.program)?;
        check_tcp(a.common.tcp || tcp)?;
        s.config.validate().context("invalid settings")?;
        Ok((s, warn))
    }
}

impl ServerSettings {
    /// Builds the server settings; warnings are for the log.
    pub fn from_args(a: &ServerArgs) -> anyhow::Result<(ServerSettings, Warnings)> {
        let mut warn = Vec::new();
        let base = stack::Config {
            sndwnd: a.sndwnd,
            rcvwnd: a.rcvwnd,
            ..stack::Config::server_default()
        };
        let config = common_config(&a.common, base, &mut warn);
        let (config, map) = load_json(&a.common.c, config)?;
        let mut s = ServerSettings {
            listen: a.listen.clone(),
            target: a.target.clone(),
            config,
            program: program(&a.common),
        };
        json_string(&map, "listen", &mut s.listen)?;
        json_string(&map, "target", &mut s.target)?;
        let tcp = json_program(&map, &mut s.program)?;
        check_tcp(a.common.tcp || tcp)?;
        if a.pprof || map.get("pprof") == Some(&Value::Bool(true)) {
            warn.push("--pprof is Go's profiler; not served here".into());
        }
        s.config.validate().context("invalid settings")?;
        Ok((s, warn))
    }
}
