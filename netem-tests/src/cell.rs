//! One measurement: a workload over one transport through one impairment, and its outcome.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::link::LinkStats;
use crate::workload::{BulkResult, LatencyResult};

/// Which workload a cell runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Goodput of a one-way checksummed transfer.
    Bulk,
    /// Round-trip latency of 64-byte echoes.
    Interactive,
}

impl Workload {
    /// `bulk` or `interactive`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Bulk => "bulk",
            Workload::Interactive => "interactive",
        }
    }

    /// Parses [`Workload::name`].
    pub fn parse(s: &str) -> Option<Workload> {
        match s {
            "bulk" => Some(Workload::Bulk),
            "interactive" => Some(Workload::Interactive),
            _ => None,
        }
    }
}

/// How long and how much a workload runs.
#[derive(Clone, Debug)]
pub struct WorkloadParams {
    /// The workload.
    pub workload: Workload,
    /// Bulk: send for this long; interactive: send messages for this long.
    pub duration: Duration,
    /// Bulk: send at most this many bytes.
    pub max_bytes: u64,
    /// Interactive: time between messages.
    pub interval: Duration,
    /// The whole cell (including draining buffered data) must finish within this.
    pub timeout: Duration,
    /// Another cell this one runs beside, both starting their workloads together.
    pub partner: Option<Partner>,
}

/// Starts two cells' workloads together, the second `offset` after the first.
///
/// Two interactive cells compared with each other (ours and kcptun with the same settings) run at the same
/// time, so that a busy moment of the host delays both alike instead of whichever ran then: on a shared
/// machine that moment decides a 99th percentile of 750 messages. Their traffic is small (64 bytes every
/// 20 ms), so neither slows the other; `offset` (half a message interval) keeps their sends apart.
#[derive(Clone, Debug)]
pub struct Partner {
    gate: Arc<tokio::sync::Barrier>,
    offset: Duration,
}

impl Partner {
    /// The two sides of a pair: the first starts at once, the second `offset` later.
    pub fn pair(offset: Duration) -> (Partner, Partner) {
        let gate = Arc::new(tokio::sync::Barrier::new(2));
        (
            Partner {
                gate: gate.clone(),
                offset: Duration::ZERO,
            },
            Partner { gate, offset },
        )
    }

    /// Waits for the other side (at most `PARTNER_WAIT`: a partner that failed before its workload
    /// leaves this one running alone), then for this side's offset.
    async fn wait(&self) {
        let _ = tokio::time::timeout(PARTNER_WAIT, self.gate.wait()).await;
        if !self.offset.is_zero() {
            tokio::time::sleep(self.offset).await;
        }
    }
}

/// How long a cell waits for its partner to be ready (kcptun's programs take up to 5 s to listen).
const PARTNER_WAIT: Duration = Duration::from_secs(10);

/// What a cell measured. `error` is set when the transfer failed, timed out, or did not checksum.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Bulk: Mbit/s of checksummed data.
    pub goodput_mbps: Option<f64>,
    /// Bulk: bytes transferred.
    pub bytes: u64,
    /// Interactive: messages echoed.
    pub messages: usize,
    /// Interactive: median RTT (ms).
    pub p50_ms: Option<f64>,
    /// Interactive: 99th percentile RTT (ms).
    pub p99_ms: Option<f64>,
    /// Interactive: largest RTT (ms).
    pub max_ms: Option<f64>,
    /// Interactive: mean RTT (ms).
    pub mean_ms: Option<f64>,
    /// Packets the emulator dropped (loss, queue, blackhole), both directions.
    pub dropped: u64,
    /// Packets offered to the emulator, both directions.
    pub packets: u64,
    /// Connection attempts that failed before one succeeded (a sign of a connect bug: KCP should retransmit).
    pub connect_retries: u64,
    /// Failure, if any.
    pub error: Option<String>,
}

fn f(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!((x * 1000.0).round() / 1000.0))
}

impl Outcome {
    /// From a bulk result.
    pub fn bulk(r: &BulkResult) -> Outcome {
        Outcome {
            goodput_mbps: Some(r.mbit_per_sec()),
            bytes: r.bytes,
            ..Default::default()
        }
    }

    /// From an interactive result.
    pub fn interactive(r: &LatencyResult) -> Outcome {
        Outcome {
            messages: r.rtts_us.len(),
            p50_ms: Some(r.quantile_ms(0.5)),
            p99_ms: Some(r.quantile_ms(0.99)),
            max_ms: Some(r.quantile_ms(1.0)),
            mean_ms: Some(r.mean_ms()),
            ..Default::default()
        }
    }

    /// A failed cell.
    pub fn failed(e: impl std::fmt::Display) -> Outcome {
        Outcome {
            error: Some(e.to_string()),
            ..Default::default()
        }
    }

    /// Adds the emulator's counters.
    pub fn with_links(mut self, up: &LinkStats, down: &LinkStats) -> Outcome {
        self.packets = up.sent + down.sent;
        self.dropped = [up, down]
            .iter()
            .map(|s| s.lost + s.queue_drops + s.blackholed)
            .sum();
        self
    }

    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "goodput_mbps": f(self.goodput_mbps), "bytes": self.bytes, "messages": self.messages,
            "p50_ms": f(self.p50_ms), "p99_ms": f(self.p99_ms), "max_ms": f(self.max_ms), "mean_ms": f(self.mean_ms),
            "dropped": self.dropped, "packets": self.packets, "connect_retries": self.connect_retries,
            "error": self.error,
        })
    }

    /// From [`Outcome::to_json`].
    pub fn from_json(v: &Value) -> Outcome {
        let g = |k: &str| v.get(k).and_then(Value::as_f64);
        let u = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        Outcome {
            goodput_mbps: g("goodput_mbps"),
            bytes: u("bytes"),
            messages: u("messages") as usize,
            p50_ms: g("p50_ms"),
            p99_ms: g("p99_ms"),
            max_ms: g("max_ms"),
            mean_ms: g("mean_ms"),
            dropped: u("dropped"),
            packets: u("packets"),
            connect_retries: u("connect_retries"),
            error: v.get("error").and_then(Value::as_str).map(str::to_string),
        }
    }
}

/// Runs `params.workload` on a connected stream, bounded by `params.timeout`.
pub async fn run_workload<S>(s: S, params: &WorkloadParams, seed: u64) -> Outcome
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if let Some(p) = &params.partner {
        p.wait().await;
    }
    let fut = async {
        match params.workload {
            Workload::Bulk => {
                crate::workload::bulk_client(s, params.duration, params.max_bytes, seed)
                    .await
                    .map(|r| Outcome::bulk(&r))
            }
            Workload::Interactive => {
                crate::workload::interactive_client(s, params.duration, params.interval)
                    .await
                    .map(|r| Outcome::interactive(&r))
            }
        }
    };
    match tokio::time::timeout(params.timeout, fut).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => Outcome::failed(e),
        Err(_) => Outcome::failed(format!("timed out after {:?}", params.timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Neither side of a pair starts its workload before the other is ready, and the second side starts
    /// its offset after the first.
    #[test]
    fn partners_start_together() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (a, b) = Partner::pair(Duration::from_millis(10));
            let first = tokio::spawn(async move {
                a.wait().await;
                tokio::time::Instant::now()
            });
            // One thread: the first side has had every chance to run, and waits for the second.
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            assert!(!first.is_finished(), "the first side started alone");
            let ready = tokio::time::Instant::now();
            b.wait().await;
            let second = tokio::time::Instant::now();
            let first = first.await.unwrap();
            assert!(
                first >= ready,
                "the first side started before the second was ready"
            );
            assert!(
                second >= first + Duration::from_millis(10),
                "the second side ignored its offset"
            );
        });
    }
}
