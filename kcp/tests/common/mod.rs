//! Helpers shared by the net tests: seeded data, checksummed transfers, the kcp-go peer.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use kcp::codec::CryptKind;
use kcp::net::Config;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// xorshift64* byte stream, the same generator as `interop/kcp-peer` (`rng.fill`).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn fill(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(2685821657736338717).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Writes `len` seeded bytes; returns their CRC32.
pub async fn send_seeded<W: AsyncWrite + Unpin>(
    w: &mut W,
    len: u64,
    seed: u64,
) -> std::io::Result<u32> {
    let mut rng = Rng::new(seed);
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 32 * 1024];
    let mut left = len;
    while left > 0 {
        let n = (buf.len() as u64).min(left) as usize;
        rng.fill(&mut buf[..n]);
        crc.update(&buf[..n]);
        w.write_all(&buf[..n]).await?;
        left -= n as u64;
    }
    Ok(crc.finalize())
}

/// CRC32 of `len` seeded bytes.
pub fn seeded_crc(len: u64, seed: u64) -> u32 {
    let mut rng = Rng::new(seed);
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 32 * 1024];
    let mut left = len;
    while left > 0 {
        let n = (buf.len() as u64).min(left) as usize;
        rng.fill(&mut buf[..n]);
        crc.update(&buf[..n]);
        left -= n as u64;
    }
    crc.finalize()
}

/// Reads exactly `len` bytes; returns their CRC32.
pub async fn recv_crc<R: AsyncRead + Unpin>(r: &mut R, len: u64) -> std::io::Result<u32> {
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let n = r.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        crc.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(crc.finalize())
}

/// A fast configuration for loopback tests.
pub fn config(crypt: CryptKind, ds: usize, ps: usize) -> Config {
    Config {
        preset: kcp::proto::Preset::Fast3,
        send_window: 1024,
        recv_window: 1024,
        mtu: 1350,
        crypt,
        key: [0x42; 32],
        fec_data_shards: ds,
        fec_parity_shards: ps,
        ..Config::default()
    }
}

/// Builds the kcp-go peer (`interop/kcp-peer`), or says why it cannot.
pub fn go_peer() -> Result<PathBuf, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target").join("kcp-peer").join("kcp-peer");
    let status = Command::new("bash")
        .arg(root.join("interop/kcp-peer/build.sh"))
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run build.sh: {e}"))?;
    match status.status.code() {
        Some(0) => Ok(out),
        Some(2) => Err(String::from_utf8_lossy(&status.stderr).trim().to_string()),
        _ => panic!(
            "building the kcp-go peer failed: {}",
            String::from_utf8_lossy(&status.stderr)
        ),
    }
}

/// Raises this process's soft open-file limit to at least `want` (up to the hard limit) with util-linux
/// `prlimit`, for tests that open many sockets. Returns the soft limit in force afterwards.
pub fn raise_nofile(want: u64) -> u64 {
    let read = || -> u64 {
        std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
            })
            .unwrap_or(1024)
    };
    if read() < want {
        let _ = Command::new("prlimit")
            .args([
                "--pid",
                &std::process::id().to_string(),
                &format!("--nofile={want}:"),
            ])
            .output();
    }
    read()
}
