//! The two measured workloads, over any ordered byte stream (TCP, a KCP stream, a kcptun tunnel, a smux stream).
//!
//! - Bulk: the client sends pseudo-random chunks `[u32 len][bytes]` for a time (or up to a byte budget), then a
//!   zero-length chunk; the server answers `[u64 bytes][u32 crc32][u64 µs from first to last byte]`, and the
//!   client checks the byte count and the CRC against its own.
//! - Interactive: the client sends a 64-byte message every 20 ms; the server echoes each at once; the client checks
//!   every echo byte for byte and records the round-trip time.
//!
//! The first byte of a connection picks the workload (`B` or `E`), so one server serves both.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const CHUNK: usize = 16 * 1024;
/// Size of an interactive message.
pub const MSG: usize = 64;
const LAST_SEQ: u32 = u32::MAX;

fn fill(buf: &mut [u8], mut x: u64) {
    // xorshift64*: cheap, deterministic payload that defeats any compression on the way.
    for c in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        c.copy_from_slice(&v[..c.len()]);
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Outcome of a bulk transfer.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkResult {
    /// Bytes the server received and checksummed.
    pub bytes: u64,
    /// Server-side time from the first to the last byte.
    pub elapsed: Duration,
}

impl BulkResult {
    /// Goodput in Mbit/s.
    pub fn mbit_per_sec(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.elapsed.as_secs_f64().max(1e-6) / 1e6
    }
}

/// Outcome of an interactive run: round-trip times of every message, in microseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyResult {
    /// RTTs in send order.
    pub rtts_us: Vec<u64>,
}

impl LatencyResult {
    /// The `q`-quantile (0..=1, nearest rank) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.rtts_us.is_empty() {
            return f64::NAN;
        }
        let mut v = self.rtts_us.clone();
        v.sort_unstable();
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    }

    /// Mean in milliseconds.
    pub fn mean_ms(&self) -> f64 {
        if self.rtts_us.is_empty() {
            return f64::NAN;
        }
        self.rtts_us.iter().sum::<u64>() as f64 / self.rtts_us.len() as f64 / 1000.0
    }
}

/// Runs the bulk client: sends for `duration` or until `max_bytes`, then checks the server's report.
pub async fn bulk_client<S>(
    mut s: S,
    duration: Duration,
    max_bytes: u64,
    seed: u64,
) -> io::Result<BulkResult>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut frame = vec![0u8; 4 + CHUNK];
    let mut crc = crc32fast::Hasher::new();
    let mut sent = 0u64;
    let start = Instant::now();
    s.write_all(b"B").await?;
    let mut i = 0u64;
    while sent < max_bytes && start.elapsed() < duration {
        let n = CHUNK.min((max_bytes - sent) as usize);
        frame[..4].copy_from_slice(&(n as u32).to_le_bytes());
        fill(
            &mut frame[4..4 + n],
            seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        );
        crc.update(&frame[4..4 + n]);
        s.write_all(&frame[..4 + n]).await?;
        sent += n as u64;
        i += 1;
    }
    s.write_all(&0u32.to_le_bytes()).await?;
    s.flush().await?;
    let mut rep = [0u8; 20];
    s.read_exact(&mut rep).await?;
    let bytes = u64::from_le_bytes(rep[..8].try_into().map_err(|_| bad("report"))?);
    let their_crc = u32::from_le_bytes(rep[8..12].try_into().map_err(|_| bad("report"))?);
    let us = u64::from_le_bytes(rep[12..20].try_into().map_err(|_| bad("report"))?);
    if bytes != sent || their_crc != crc.finalize() {
        return Err(bad(format!(
            "bulk checksum mismatch: sent {sent} bytes, server got {bytes} (crc {their_crc:08x})"
        )));
    }
    Ok(BulkResult {
        bytes,
        elapsed: Duration::from_micros(us),
    })
}

/// Runs the interactive client: a [`MSG`]-byte message every `interval` for `duration`, each echo checked.
pub async fn interactive_client<S>(
    s: S,
    duration: Duration,
    interval: Duration,
) -> io::Result<LatencyResult>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut r, mut w) = tokio::io::split(s);
    let count = (duration.as_micros() / interval.as_micros().max(1)).max(1) as u32;
    let msg = |seq: u32| {
        let mut m = [0u8; MSG];
        m[..4].copy_from_slice(&seq.to_le_bytes());
        fill(&mut m[4..], seq as u64 + 1);
        m
    };
    let writer = async move {
        w.write_all(b"E").await?;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sent_at = Vec::with_capacity(count as usize);
        for seq in 0..count {
            tick.tick().await;
            sent_at.push(Instant::now());
            w.write_all(&msg(seq)).await?;
            w.flush().await?;
        }
        w.write_all(&msg(LAST_SEQ)).await?;
        w.flush().await?;
        Ok::<_, io::Error>((sent_at, w))
    };
    let reader = async move {
        let mut got = Vec::with_capacity(count as usize);
        let mut m = [0u8; MSG];
        for seq in 0..count {
            r.read_exact(&mut m).await?;
            got.push(Instant::now());
            if m != msg(seq) {
                return Err(bad(format!("echo {seq} differs from what was sent")));
            }
        }
        r.read_exact(&mut m).await?;
        if m != msg(LAST_SEQ) {
            return Err(bad("final echo differs"));
        }
        Ok::<_, io::Error>((got, r))
    };
    let (sent, got) = tokio::try_join!(writer, reader)?;
    let rtts_us = sent
        .0
        .iter()
        .zip(&got.0)
        .map(|(a, b)| b.saturating_duration_since(*a).as_micros() as u64)
        .collect();
    Ok(LatencyResult { rtts_us })
}

/// Serves one connection of either workload until the client's last message.
pub async fn serve<S>(s: S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut r, mut w) = tokio::io::split(s);
    let mut kind = [0u8; 1];
    r.read_exact(&mut kind).await?;
    match kind[0] {
        b'B' => {
            let mut buf = vec![0u8; CHUNK];
            let mut crc = crc32fast::Hasher::new();
            let mut bytes = 0u64;
            let mut first: Option<Instant> = None;
            loop {
                let mut len = [0u8; 4];
                r.read_exact(&mut len).await?;
                first.get_or_insert_with(Instant::now);
                let n = u32::from_le_bytes(len) as usize;
                if n == 0 {
                    break;
                }
                if n > CHUNK {
                    return Err(bad(format!("bulk chunk of {n} bytes")));
                }
                r.read_exact(&mut buf[..n]).await?;
                crc.update(&buf[..n]);
                bytes += n as u64;
            }
            let us = first.map_or(0, |t| t.elapsed().as_micros() as u64);
            let mut rep = [0u8; 20];
            rep[..8].copy_from_slice(&bytes.to_le_bytes());
            rep[8..12].copy_from_slice(&crc.finalize().to_le_bytes());
            rep[12..].copy_from_slice(&us.to_le_bytes());
            w.write_all(&rep).await?;
            w.flush().await?;
        }
        b'E' => {
            let mut m = [0u8; MSG];
            loop {
                r.read_exact(&mut m).await?;
                w.write_all(&m).await?;
                w.flush().await?;
                if m[..4] == LAST_SEQ.to_le_bytes() {
                    break;
                }
            }
        }
        k => return Err(bad(format!("unknown workload {k:#04x}"))),
    }
    // Let the last bytes leave before the caller drops the stream (KCP has no close handshake).
    let mut rest = [0u8; 1];
    let _ = tokio::time::timeout(Duration::from_secs(5), r.read(&mut rest)).await;
    Ok(())
}
