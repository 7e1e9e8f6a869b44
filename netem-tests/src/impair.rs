//! Command-line description of an impaired path: unit parsing (`25ms`, `5%`, `50mbit`) and per-direction values
//! (`A` for both directions, `A/B` for client->server `A` and server->client `B`), turned into two
//! [`LinkConfig`]s. Shared by the `netem` relay and the matrix runner.

use std::time::Duration;

use crate::link::{LinkConfig, Loss};

/// Parses a duration: `250us`, `25ms`, `1.5s`, `2m`; a bare number is milliseconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult_us) = if let Some(n) = s.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1e6)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60e6)
    } else {
        (s, 1e3)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad duration {s:?} (use e.g. 25ms, 1.5s)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("bad duration {s:?}"));
    }
    Ok(Duration::from_micros((v * mult_us).round() as u64))
}

/// Parses a probability: `5%` or `0.05`.
pub fn parse_prob(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let v = if let Some(n) = s.strip_suffix('%') {
        n.trim().parse::<f64>().map(|v| v / 100.0)
    } else {
        s.parse::<f64>()
    }
    .map_err(|_| format!("bad probability {s:?} (use e.g. 5% or 0.05)"))?;
    if !(0.0..=1.0).contains(&v) {
        return Err(format!("probability {s:?} outside 0..100%"));
    }
    Ok(v)
}

/// Parses a rate into bytes per second: `50mbit`, `800kbit`, `1gbit`, `10mbps` (megabytes), `bit` suffixes are
/// bits, `bps`/`B` suffixes bytes; `0` or `none` means unlimited (`None`).
pub fn parse_rate(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "0" || t == "none" || t == "unlimited" {
        return Ok(None);
    }
    let units: [(&str, f64); 8] = [
        ("gbit", 1e9 / 8.0),
        ("mbit", 1e6 / 8.0),
        ("kbit", 1e3 / 8.0),
        ("bit", 1.0 / 8.0),
        ("gbps", 1e9),
        ("mbps", 1e6),
        ("kbps", 1e3),
        ("bps", 1.0),
    ];
    for (suffix, mult) in units {
        if let Some(n) = t.strip_suffix(suffix) {
            let v: f64 = n
                .trim()
                .parse()
                .map_err(|_| format!("bad rate {s:?} (use e.g. 50mbit)"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("bad rate {s:?}"));
            }
            let b = (v * mult).round() as u64;
            return Ok((b > 0).then_some(b));
        }
    }
    Err(format!(
        "bad rate {s:?}: give a unit (kbit, mbit, gbit, kbps, mbps)"
    ))
}

/// Splits `A/B` into the two directions' texts (client->server, server->client); `A` is used for both.
pub fn split_dirs(s: &str) -> (&str, &str) {
    match s.split_once('/') {
        Some((a, b)) => (a, b),
        None => (s, s),
    }
}

fn both<T>(s: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<(T, T), String> {
    let (a, b) = split_dirs(s);
    Ok((f(a)?, f(b)?))
}

/// A blackhole period `START+LEN` (e.g. `10s+2s`): every packet sent in `[START, START+LEN)` is dropped.
pub fn parse_blackhole(s: &str) -> Result<(u64, u64), String> {
    let (a, b) = s
        .split_once('+')
        .ok_or_else(|| format!("bad blackhole {s:?} (use START+LEN, e.g. 10s+2s)"))?;
    let start = parse_duration(a)?.as_micros() as u64;
    let len = parse_duration(b)?.as_micros() as u64;
    Ok((start, start + len))
}

/// Impairment options. Every value is `X` (both directions) or `X/Y` (client->server `X`, server->client `Y`).
#[derive(Clone, Debug, clap::Args)]
pub struct ImpairArgs {
    /// One-way delay, e.g. `25ms` (RTT is twice this when both directions have it).
    #[arg(long, default_value = "0ms")]
    pub delay: String,
    /// Extra delay uniform in [0, jitter); packets keep their order unless --reorder is given.
    #[arg(long, default_value = "0ms")]
    pub jitter: String,
    /// Loss probability, e.g. `5%`.
    #[arg(long, default_value = "0%")]
    pub loss: String,
    /// Mean loss burst length in packets; above 1 the loss is bursty (Gilbert-Elliott) with the --loss rate.
    #[arg(long, default_value = "1")]
    pub burst: String,
    /// Probability that a packet is held back by --reorder-delay so later packets overtake it.
    #[arg(long, default_value = "0%")]
    pub reorder: String,
    /// Extra delay of a reordered packet.
    #[arg(long, default_value = "10ms")]
    pub reorder_delay: String,
    /// Probability that a packet is delivered twice.
    #[arg(long, default_value = "0%")]
    pub duplicate: String,
    /// Probability that one bit of a packet is flipped.
    #[arg(long, default_value = "0%")]
    pub corrupt: String,
    /// Rate limit, e.g. `50mbit` (`0`: unlimited).
    #[arg(long, default_value = "0")]
    pub rate: String,
    /// Packets the rate limiter's queue holds before tail drop.
    #[arg(long, default_value = "1000")]
    pub queue: String,
    /// Blackhole period START+LEN measured from start-up, e.g. `10s+2s`; repeatable; applies to both directions.
    #[arg(long)]
    pub blackhole: Vec<String>,
}

impl Default for ImpairArgs {
    /// A clean path (the command-line defaults).
    fn default() -> Self {
        ImpairArgs {
            delay: "0ms".into(),
            jitter: "0ms".into(),
            loss: "0%".into(),
            burst: "1".into(),
            reorder: "0%".into(),
            reorder_delay: "10ms".into(),
            duplicate: "0%".into(),
            corrupt: "0%".into(),
            rate: "0".into(),
            queue: "1000".into(),
            blackhole: Vec::new(),
        }
    }
}

impl ImpairArgs {
    /// The command-line arguments that reproduce these options.
    pub fn to_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        for (k, v) in [
            ("--delay", &self.delay),
            ("--jitter", &self.jitter),
            ("--loss", &self.loss),
            ("--burst", &self.burst),
            ("--reorder", &self.reorder),
            ("--reorder-delay", &self.reorder_delay),
            ("--duplicate", &self.duplicate),
            ("--corrupt", &self.corrupt),
            ("--rate", &self.rate),
            ("--queue", &self.queue),
        ] {
            a.push(k.to_string());
            a.push(v.clone());
        }
        for b in &self.blackhole {
            a.push("--blackhole".into());
            a.push(b.clone());
        }
        a
    }

    /// The two directions' link configurations (client->server, server->client).
    pub fn links(&self) -> Result<(LinkConfig, LinkConfig), String> {
        let us = |s: &str| parse_duration(s).map(|d| d.as_micros() as u64);
        let delay = both(&self.delay, us)?;
        let jitter = both(&self.jitter, us)?;
        let loss = both(&self.loss, parse_prob)?;
        let burst = both(&self.burst, |s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 1.0)
                .ok_or_else(|| format!("bad burst length {s:?} (>= 1)"))
        })?;
        let reorder = both(&self.reorder, parse_prob)?;
        let reorder_us = both(&self.reorder_delay, us)?;
        let duplicate = both(&self.duplicate, parse_prob)?;
        let corrupt = both(&self.corrupt, parse_prob)?;
        let rate = both(&self.rate, parse_rate)?;
        let queue = both(&self.queue, |s| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("bad queue length {s:?}"))
        })?;
        let blackholes = self
            .blackhole
            .iter()
            .map(|s| parse_blackhole(s))
            .collect::<Result<Vec<_>, _>>()?;
        let mk = |pick: fn(&(u64, u64)) -> u64, i: usize| {
            let sel = |p: (f64, f64)| if i == 0 { p.0 } else { p.1 };
            let l = sel(loss);
            let b = sel(burst);
            LinkConfig {
                delay_us: pick(&delay),
                jitter_us: pick(&jitter),
                jitter_step_us: 0,
                loss: if l <= 0.0 {
                    Loss::None
                } else if b > 1.0 {
                    Loss::bursty(l, b)
                } else {
                    Loss::Independent(l)
                },
                reorder: sel(reorder),
                reorder_us: pick(&reorder_us),
                duplicate: sel(duplicate),
                corrupt: sel(corrupt),
                rate_bytes_per_sec: if i == 0 { rate.0 } else { rate.1 },
                queue_limit: if i == 0 { queue.0 } else { queue.1 },
                // What a packet costs beyond its length depends on who offers it (the relay sets it).
                packet_overhead: 0,
                // Jitter alone must not reorder (a path is a FIFO); --reorder is the explicit way to reorder.
                fifo: sel(reorder) == 0.0,
                max_in_flight: 1 << 20,
                blackholes: blackholes.clone(),
            }
        };
        Ok((mk(|p| p.0, 0), mk(|p| p.1, 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration("25ms"), Ok(Duration::from_millis(25)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_millis(7)));
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_prob("5%"), Ok(0.05));
        assert_eq!(parse_prob("0.1"), Ok(0.1));
        assert!(parse_prob("150%").is_err());
        assert_eq!(parse_rate("50mbit"), Ok(Some(6_250_000)));
        assert_eq!(parse_rate("1gbit"), Ok(Some(125_000_000)));
        assert_eq!(parse_rate("2mbps"), Ok(Some(2_000_000)));
        assert_eq!(parse_rate("0"), Ok(None));
        assert!(parse_rate("50").is_err());
        assert_eq!(parse_blackhole("10s+2s"), Ok((10_000_000, 12_000_000)));
    }

    #[test]
    fn per_direction_values() {
        let a = ImpairArgs {
            delay: "10ms/30ms".into(),
            loss: "5%".into(),
            burst: "1/4".into(),
            rate: "8mbit/0".into(),
            queue: "100".into(),
            ..Default::default()
        };
        let (up, down) = a.links().unwrap();
        assert_eq!((up.delay_us, down.delay_us), (10_000, 30_000));
        assert_eq!(up.loss, Loss::Independent(0.05));
        assert!(matches!(down.loss, Loss::GilbertElliott { .. }));
        assert_eq!(up.rate_bytes_per_sec, Some(1_000_000));
        assert_eq!(down.rate_bytes_per_sec, None);
        assert!(up.fifo && down.fifo);
    }
}
