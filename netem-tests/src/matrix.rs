//! The loss x RTT matrix: each transport (our stack, kcptun, TCP) runs each workload through the same impairment.
//!
//! KCP transports go through the UDP [`relay`](crate::relay); TCP goes through the same link model at the
//! packet level ([`tcpimpair`](crate::tcpimpair), root only). Each cell runs in a fresh tokio runtime so nothing
//! outlives it; results are appended to `results.jsonl` as they come, so a long run leaves partial results.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cell::{Outcome, Partner, Workload, WorkloadParams, run_workload};
use crate::impair::ImpairArgs;
use crate::relay::{Relay, RelayConfig};

/// KCP retransmission preset used in the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// kcptun `fast`.
    Fast,
    /// kcptun `fast3`.
    Fast3,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Fast => "fast",
            Mode::Fast3 => "fast3",
        }
    }
}

/// One column family of the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Our stack (`stack::connect` + `KcpSmuxListener`) with kcptun's settings as given: AES, no compression,
    /// windows 1024/1024, MTU 1350, FEC 10/3 or off.
    Ours {
        /// Preset.
        mode: Mode,
        /// FEC 10/3 (else off).
        fec: bool,
    },
    /// Our stack with its defaults (kcptun's: client windows 128/512, server 1024/1024, FEC 10/3, AES, snappy).
    OursDefault,
    /// kcptun-client + kcptun-server (kcp-go v5.6.1) with the same settings as [`Transport::Ours`].
    Kcptun {
        /// Preset.
        mode: Mode,
        /// FEC 10/3 (else off).
        fec: bool,
    },
    /// Linux TCP with this congestion control, through NFQUEUE.
    Tcp {
        /// `cubic`, `bbr`, ...
        cc: String,
    },
}

impl Transport {
    /// Label used in tables and charts, e.g. `ours fast3+fec`.
    pub fn label(&self) -> String {
        let f = |fec: bool| if fec { "+fec" } else { "" };
        match self {
            Transport::Ours { mode, fec } => format!("ours {}{}", mode.name(), f(*fec)),
            Transport::OursDefault => "ours default".into(),
            Transport::Kcptun { mode, fec } => format!("kcptun {}{}", mode.name(), f(*fec)),
            Transport::Tcp { cc } => format!("tcp {cc}"),
        }
    }

    /// `ours`, `kcptun` or `tcp`.
    pub fn family(&self) -> &'static str {
        match self {
            Transport::Ours { .. } | Transport::OursDefault => "ours",
            Transport::Kcptun { .. } => "kcptun",
            Transport::Tcp { .. } => "tcp",
        }
    }

    /// Parses a short name: `ours-fast`, `ours-fast3-fec`, `ours-default`, `kcptun-fast-fec`, `tcp-cubic`, ...
    pub fn parse(s: &str) -> Option<Transport> {
        if s == "ours-default" {
            return Some(Transport::OursDefault);
        }
        if let Some(cc) = s.strip_prefix("tcp-") {
            return Some(Transport::Tcp { cc: cc.into() });
        }
        let (fam, rest) = s.split_once('-')?;
        let (mode, fec) = match rest {
            "fast" => (Mode::Fast, false),
            "fast-fec" => (Mode::Fast, true),
            "fast3" => (Mode::Fast3, false),
            "fast3-fec" => (Mode::Fast3, true),
            _ => return None,
        };
        match fam {
            "ours" => Some(Transport::Ours { mode, fec }),
            "kcptun" => Some(Transport::Kcptun { mode, fec }),
            _ => None,
        }
    }
}

/// The full list of transports of the matrix.
pub fn all_transports() -> Vec<Transport> {
    let mut v = Vec::new();
    for mode in [Mode::Fast, Mode::Fast3] {
        for fec in [false, true] {
            v.push(Transport::Ours { mode, fec });
        }
    }
    v.push(Transport::OursDefault);
    for mode in [Mode::Fast, Mode::Fast3] {
        for fec in [false, true] {
            v.push(Transport::Kcptun { mode, fec });
        }
    }
    v.push(Transport::Tcp { cc: "cubic".into() });
    v.push(Transport::Tcp { cc: "bbr".into() });
    v
}

/// Shrinks a configuration to the CI-sized matrix: loss 0 and 10 %, RTT 40 ms, 1 s per workload (2 MiB at most),
/// ours fast+fec, kcptun fast+fec and TCP cubic.
pub fn small_matrix(cfg: MatrixConfig) -> MatrixConfig {
    MatrixConfig {
        losses: vec![0.0, 10.0],
        rtts: vec![40],
        transports: vec![
            Transport::Ours {
                mode: Mode::Fast,
                fec: true,
            },
            Transport::Kcptun {
                mode: Mode::Fast,
                fec: true,
            },
            Transport::Tcp { cc: "cubic".into() },
        ],
        bulk_duration: Duration::from_secs(1),
        bulk_max_bytes: 2 << 20,
        interactive_duration: Duration::from_secs(1),
        ..cfg
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct MatrixConfig {
    /// Loss rates in percent (each direction).
    pub losses: Vec<f64>,
    /// Round-trip times in ms (half each way).
    pub rtts: Vec<u64>,
    /// Transports.
    pub transports: Vec<Transport>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// Bulk: send time.
    pub bulk_duration: Duration,
    /// Bulk: byte budget.
    pub bulk_max_bytes: u64,
    /// Interactive: run time.
    pub interactive_duration: Duration,
    /// Rate limit each way (`ImpairArgs::rate` syntax).
    pub rate: String,
    /// Rate queue in packets.
    pub queue: String,
    /// Jitter each way.
    pub jitter: String,
    /// Seed.
    pub seed: u64,
    /// The `netem-matrix` executable (for the TCP cells' child process).
    pub exe: PathBuf,
    /// Run our cells out of process, as kcptun's: through `tunnel-client` and `tunnel-server` (the
    /// kcptun-compatible example programs) in this directory, with kcptun's flags. `None`: in this process.
    pub ours_tunnel: Option<PathBuf>,
}

/// One measured cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// [`Transport::label`].
    pub transport: String,
    /// [`Transport::family`].
    pub family: String,
    /// Workload.
    pub workload: Workload,
    /// Loss in percent.
    pub loss_pct: f64,
    /// RTT in ms.
    pub rtt_ms: u64,
    /// Result.
    pub outcome: Outcome,
}

impl Row {
    /// As one JSON object.
    pub fn to_json(&self) -> Value {
        json!({
            "transport": self.transport, "family": self.family, "workload": self.workload.name(),
            "loss_pct": self.loss_pct, "rtt_ms": self.rtt_ms, "outcome": self.outcome.to_json(),
        })
    }

    /// From [`Row::to_json`].
    pub fn from_json(v: &Value) -> Option<Row> {
        Some(Row {
            transport: v.get("transport")?.as_str()?.into(),
            family: v.get("family")?.as_str()?.into(),
            workload: Workload::parse(v.get("workload")?.as_str()?)?,
            loss_pct: v.get("loss_pct")?.as_f64()?,
            rtt_ms: v.get("rtt_ms")?.as_u64()?,
            outcome: Outcome::from_json(v.get("outcome")?),
        })
    }
}

/// Reads the rows of a `results.jsonl`.
pub fn read_rows(path: &Path) -> std::io::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Row::from_json(&v))
        .collect())
}

fn impair(cfg: &MatrixConfig, loss_pct: f64, rtt_ms: u64) -> ImpairArgs {
    ImpairArgs {
        delay: format!("{}us", rtt_ms * 500),
        jitter: cfg.jitter.clone(),
        loss: format!("{loss_pct}%"),
        rate: cfg.rate.clone(),
        queue: cfg.queue.clone(),
        ..Default::default()
    }
}

fn params(cfg: &MatrixConfig, w: Workload) -> WorkloadParams {
    match w {
        Workload::Bulk => WorkloadParams {
            workload: w,
            duration: cfg.bulk_duration,
            max_bytes: cfg.bulk_max_bytes,
            interval: Duration::from_millis(20),
            timeout: cfg.bulk_duration + Duration::from_secs(60),
            partner: None,
        },
        Workload::Interactive => WorkloadParams {
            workload: w,
            duration: cfg.interactive_duration,
            max_bytes: 0,
            interval: Duration::from_millis(20),
            timeout: cfg.interactive_duration + Duration::from_secs(30),
            partner: None,
        },
    }
}

/// Runs every cell, appending each row to `out/results.jsonl` (truncated first) and calling `progress`.
///
/// Interactive cells of ours and kcptun with the same settings run side by side (see [`Partner`]); every
/// other cell runs alone. Rows are written in the order of `cfg.transports` either way.
pub fn run_matrix(
    cfg: &MatrixConfig,
    out: &Path,
    mut progress: impl FnMut(&Row),
) -> std::io::Result<Vec<Row>> {
    std::fs::create_dir_all(out)?;
    let mut file = std::fs::File::create(out.join("results.jsonl"))?;
    let mut rows = Vec::new();
    let mut seed = cfg.seed;
    // Without kcptun its cells fail at once, and ours would wait for a partner that never comes.
    let pairs = kcptun_available();
    for &rtt in &cfg.rtts {
        for &loss in &cfg.losses {
            for &w in &cfg.workloads {
                let seeds: Vec<u64> = cfg
                    .transports
                    .iter()
                    .map(|_| {
                        seed = seed.wrapping_add(1);
                        seed
                    })
                    .collect();
                let group = Group {
                    cfg,
                    p: params(cfg, w),
                    imp: impair(cfg, loss, rtt),
                    seeds,
                    pairs: pairs && w == Workload::Interactive,
                };
                group.run(|t, outcome| {
                    let row = Row {
                        transport: t.label(),
                        family: t.family().into(),
                        workload: w,
                        loss_pct: loss,
                        rtt_ms: rtt,
                        outcome,
                    };
                    writeln!(file, "{}", row.to_json())?;
                    file.flush()?;
                    progress(&row);
                    rows.push(row);
                    Ok(())
                })?;
            }
        }
    }
    Ok(rows)
}

/// Every transport's cell for one workload through one impairment.
struct Group<'a> {
    cfg: &'a MatrixConfig,
    p: WorkloadParams,
    imp: ImpairArgs,
    /// One per transport.
    seeds: Vec<u64>,
    /// Run our cells beside kcptun's with the same settings.
    pairs: bool,
}

impl Group<'_> {
    /// Runs the cells, pairs side by side, and hands each outcome to `emit` in the order of the
    /// transports, as soon as it and those before it are done.
    fn run(
        &self,
        mut emit: impl FnMut(&Transport, Outcome) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let ts = &self.cfg.transports;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; ts.len()];
        let mut emitted = 0;
        for i in 0..ts.len() {
            // Done already as the partner of an earlier one (emitted, or waiting for its turn).
            if i < emitted || outcomes[i].is_some() {
                continue;
            }
            match kcptun_partner(ts, i).filter(|_| self.pairs) {
                Some(j) => {
                    let (a, b) = self.run_pair([i, j]);
                    outcomes[i] = Some(a);
                    outcomes[j] = Some(b);
                }
                None => outcomes[i] = Some(self.run_one(i, self.p.clone())),
            }
            while let Some(outcome) = outcomes.get_mut(emitted).and_then(Option::take) {
                emit(&ts[emitted], outcome)?;
                emitted += 1;
            }
        }
        Ok(())
    }

    fn run_one(&self, i: usize, p: WorkloadParams) -> Outcome {
        run_cell(
            self.cfg,
            &self.cfg.transports[i],
            &p,
            &self.imp,
            self.seeds[i],
        )
    }

    /// Runs the cells of transports `ij` side by side, each on a thread of its own, the first one's
    /// workload half a message interval ahead (see [`Partner`]).
    fn run_pair(&self, ij: [usize; 2]) -> (Outcome, Outcome) {
        let (a, b) = Partner::pair(self.p.interval / 2);
        let with = |partner| WorkloadParams {
            partner: Some(partner),
            ..self.p.clone()
        };
        let (pa, pb) = (with(a), with(b));
        std::thread::scope(|sc| {
            let second = sc.spawn(|| self.run_one(ij[1], pb));
            let first = self.run_one(ij[0], pa);
            let second = second
                .join()
                .unwrap_or_else(|_| Outcome::failed("cell thread panicked"));
            (first, second)
        })
    }
}

/// The index of kcptun with the same settings as our transport at `i`, if `i` is one of ours and that
/// kcptun transport comes later in `ts`.
fn kcptun_partner(ts: &[Transport], i: usize) -> Option<usize> {
    let Transport::Ours { mode, fec } = ts[i] else {
        return None;
    };
    ts.iter()
        .enumerate()
        .skip(i + 1)
        .find(|(_, t)| **t == Transport::Kcptun { mode, fec })
        .map(|(j, _)| j)
}

/// Runs one cell.
pub fn run_cell(
    cfg: &MatrixConfig,
    t: &Transport,
    p: &WorkloadParams,
    imp: &ImpairArgs,
    seed: u64,
) -> Outcome {
    if let Transport::Tcp { cc } = t {
        return crate::tcpimpair::run_tcp_cell(&cfg.exe, cc, p, imp, seed);
    }
    let (up, down) = match imp.links() {
        Ok(l) => l,
        Err(e) => return Outcome::failed(e),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Outcome::failed(e),
    };
    let o = rt.block_on(async {
        match (t, &cfg.ours_tunnel) {
            (Transport::Ours { mode, fec }, Some(dir)) => {
                let mut args = kcptun_args(*mode, *fec);
                // Fixed windows, as kcptun's (ours otherwise sizes them from the path).
                args.extend(["--windowmemory".to_string(), "0".to_string()]);
                let bins = Bins::ours(dir);
                tunnel_cell(&bins, &args, p, up, down, seed).await
            }
            (Transport::OursDefault, Some(dir)) => {
                let args = ["--key", "netem-matrix", "--quiet"].map(String::from);
                tunnel_cell(&Bins::ours(dir), &args, p, up, down, seed).await
            }
            (Transport::Ours { mode, fec }, None) => {
                let (c, s) = ours_configs(*mode, *fec);
                ours_cell(c, s, p, up, down, seed).await
            }
            (Transport::OursDefault, None) => {
                ours_cell(
                    stack::Config::default(),
                    stack::Config::server_default(),
                    p,
                    up,
                    down,
                    seed,
                )
                .await
            }
            (Transport::Kcptun { mode, fec }, _) => {
                if !kcptun_available() {
                    return Outcome::failed("skipped: kcptun-client/kcptun-server not installed");
                }
                tunnel_cell(
                    &Bins::kcptun(),
                    &kcptun_args(*mode, *fec),
                    p,
                    up,
                    down,
                    seed,
                )
                .await
            }
            (Transport::Tcp { .. }, _) => Outcome::failed("unreachable"),
        }
    });
    rt.shutdown_timeout(Duration::from_millis(200));
    o
}

fn lo() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

fn ours_configs(mode: Mode, fec: bool) -> (stack::Config, stack::Config) {
    let c = stack::Config {
        mode: match mode {
            Mode::Fast => stack::Mode::Fast,
            Mode::Fast3 => stack::Mode::Fast3,
        },
        sndwnd: 1024,
        rcvwnd: 1024,
        // Same settings as kcptun's cells: fixed windows ("ours default" has the automatic ones).
        window_memory: 0,
        datashard: if fec { 10 } else { 0 },
        parityshard: if fec { 3 } else { 0 },
        nocomp: true,
        ..stack::Config::default()
    };
    (c.clone(), c)
}

async fn ours_cell(
    client_cfg: stack::Config,
    server_cfg: stack::Config,
    p: &WorkloadParams,
    up: crate::link::LinkConfig,
    down: crate::link::LinkConfig,
    seed: u64,
) -> Outcome {
    let listener = match stack::KcpSmuxListener::bind(lo(), server_cfg).await {
        Ok(l) => l,
        Err(e) => return Outcome::failed(format!("listen: {e}")),
    };
    let server_addr = listener.local_addr();
    let accept = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(crate::workload::serve(s));
        }
    });
    let relay = match Relay::spawn_thread(lo(), RelayConfig::new(server_addr, up, down, seed)) {
        Ok(r) => r,
        Err(e) => return Outcome::failed(format!("relay: {e}")),
    };
    let o = async {
        // Up to 3 attempts, counted: a connect that fails when its first datagram is lost is a stack bug the
        // report shows (connect_retries), not a reason to lose the cell.
        let mut retries = 0;
        let client = loop {
            match stack::connect(relay.addr(), &client_cfg).await {
                Ok(c) => break c,
                Err(e) if retries >= 2 => return Err(format!("connect (3 attempts): {e}")),
                Err(_) => retries += 1,
            }
        };
        let s = client
            .open_stream()
            .await
            .map_err(|e| format!("open: {e}"))?;
        let mut o = run_workload(s, p, seed).await;
        o.connect_retries = retries;
        client.close().await;
        Ok::<_, String>(o)
    };
    let o = tokio::time::timeout(p.timeout + Duration::from_secs(10), o)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
        .unwrap_or_else(Outcome::failed);
    accept.abort();
    match relay.finish().await {
        Ok(st) => o.with_links(&st.up, &st.down),
        Err(e) => Outcome::failed(format!("relay: {e}")),
    }
}

/// Whether the Debian kcptun binaries are installed.
pub fn kcptun_available() -> bool {
    ["kcptun-client", "kcptun-server"].iter().all(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

fn free_port(udp: bool) -> std::io::Result<u16> {
    if udp {
        Ok(std::net::UdpSocket::bind(lo())?.local_addr()?.port())
    } else {
        Ok(std::net::TcpListener::bind(lo())?.local_addr()?.port())
    }
}

fn kcptun_args(mode: Mode, fec: bool) -> Vec<String> {
    let (ds, ps) = if fec { ("10", "3") } else { ("0", "0") };
    [
        "--key",
        "netem-matrix",
        "--crypt",
        "aes",
        "--mode",
        mode.name(),
        "--mtu",
        "1350",
        "--sndwnd",
        "1024",
        "--rcvwnd",
        "1024",
        "--ds",
        ds,
        "--ps",
        ps,
        "--nocomp",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A kcptun-style pair of programs: `client -l TCP -r UDP`, `server -l UDP -t TCP`.
struct Bins {
    client: PathBuf,
    server: PathBuf,
}

impl Bins {
    fn kcptun() -> Bins {
        Bins {
            client: "kcptun-client".into(),
            server: "kcptun-server".into(),
        }
    }

    fn ours(dir: &Path) -> Bins {
        Bins {
            client: dir.join("tunnel-client"),
            server: dir.join("tunnel-server"),
        }
    }
}

/// One cell through a tunnel's client and server processes, with `args` on both.
async fn tunnel_cell(
    bins: &Bins,
    args: &[String],
    p: &WorkloadParams,
    up: crate::link::LinkConfig,
    down: crate::link::LinkConfig,
    seed: u64,
) -> Outcome {
    let sink = match tokio::net::TcpListener::bind(lo()).await {
        Ok(l) => l,
        Err(e) => return Outcome::failed(e),
    };
    let sink_addr = sink.local_addr().map_err(|e| e.to_string());
    let accept = tokio::spawn(async move {
        while let Ok((s, _)) = sink.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(crate::workload::serve(s));
        }
    });
    let o = async {
        let sink_addr = sink_addr?;
        let (sport, cport) = (
            free_port(true).map_err(|e| e.to_string())?,
            free_port(false).map_err(|e| e.to_string())?,
        );
        let server = tokio::process::Command::new(&bins.server)
            .args([
                "-l",
                &format!("127.0.0.1:{sport}"),
                "-t",
                &sink_addr.to_string(),
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", bins.server.display()))?;
        let relay = Relay::spawn_thread(
            lo(),
            RelayConfig::new(([127, 0, 0, 1], sport).into(), up, down, seed),
        )
        .map_err(|e| format!("relay: {e}"))?;
        let client = tokio::process::Command::new(&bins.client)
            .args([
                "-l",
                &format!("127.0.0.1:{cport}"),
                "-r",
                &relay.addr().to_string(),
            ])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", bins.client.display()))?;
        // Wait (bounded) for the client program to listen.
        let mut s = None;
        for _ in 0..100 {
            if let Ok(c) = tokio::net::TcpStream::connect(("127.0.0.1", cport)).await {
                s = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let s = s.ok_or_else(|| format!("{} did not listen within 5 s", bins.client.display()))?;
        let _ = s.set_nodelay(true);
        let o = run_workload(s, p, seed).await;
        drop((client, server));
        let st = relay.finish().await.map_err(|e| format!("relay: {e}"))?;
        Ok::<_, String>(o.with_links(&st.up, &st.down))
    };
    let o = tokio::time::timeout(p.timeout + Duration::from_secs(15), o)
        .await
        .unwrap_or_else(|_| Err("timed out".into()))
        .unwrap_or_else(Outcome::failed);
    accept.abort();
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_cells_pair_with_kcptun_of_the_same_settings() {
        let ts = all_transports();
        let label = |i: Option<usize>| i.map(|i| ts[i].label());
        for (i, t) in ts.iter().enumerate() {
            let want = match t {
                Transport::Ours { mode, fec } => Some(Transport::Kcptun {
                    mode: *mode,
                    fec: *fec,
                }),
                _ => None,
            };
            assert_eq!(
                label(kcptun_partner(&ts, i)),
                want.map(|w| w.label()),
                "{}",
                t.label()
            );
        }
        // Without kcptun in the list, ours runs alone.
        let only_ours = vec![Transport::Ours {
            mode: Mode::Fast,
            fec: false,
        }];
        assert_eq!(kcptun_partner(&only_ours, 0), None);
    }
}
