//! Helpers shared by the integration tests.
#![allow(dead_code)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Deterministic test data: byte `i` of stream `seed`.
pub fn pattern(seed: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64 * 31 + seed as u64 * 7 + (i as u64 >> 9)) % 251) as u8)
        .collect()
}

/// Writes `len` bytes of `pattern(seed)` in chunks of `chunk`, returning their CRC-32.
pub async fn write_pattern<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    seed: u32,
    len: usize,
    chunk: usize,
) -> u32 {
    let block = pattern(seed, chunk.max(1) * 4);
    let mut h = crc32fast::Hasher::new();
    let mut off = 0;
    while off < len {
        let n = chunk.min(len - off);
        // A moving window over a repeating block keeps the data position-dependent without a huge buffer.
        let start = off % (block.len() - n + 1);
        let piece = &block[start..start + n];
        h.update(piece);
        w.write_all(piece).await.expect("write");
        off += n;
    }
    h.finalize()
}

/// Reads to EOF, returning (bytes, CRC-32).
pub async fn read_crc<R: AsyncReadExt + Unpin>(r: &mut R) -> (usize, u32) {
    read_crc_each(r, || {}).await
}

/// Reads to EOF calling `each` after every read (to check the session's gauges as data moves),
/// returning (bytes, CRC-32).
pub async fn read_crc_each<R: AsyncReadExt + Unpin>(
    r: &mut R,
    mut each: impl FnMut(),
) -> (usize, u32) {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).await.expect("read");
        if n == 0 {
            return (total, h.finalize());
        }
        h.update(&buf[..n]);
        total += n;
        each();
    }
}

/// Reads exactly `len` bytes, returning their CRC-32.
pub async fn read_n_crc<R: AsyncReadExt + Unpin>(r: &mut R, len: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let k = left.min(buf.len());
        r.read_exact(&mut buf[..k]).await.expect("read_exact");
        h.update(&buf[..k]);
        left -= k;
    }
    h.finalize()
}

pub fn cfg(version: u8) -> smux::Config {
    smux::Config {
        version,
        ..smux::Config::default()
    }
}

/// A connected TCP pair on loopback.
pub async fn tcp_pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
    let c = c.expect("connect");
    let (s, _) = s.expect("accept");
    c.set_nodelay(true).expect("nodelay");
    s.set_nodelay(true).expect("nodelay");
    (c, s)
}

/// Client and server sessions over a duplex pipe or TCP loopback.
pub async fn pair(version: u8, tcp: bool) -> (smux::Session, smux::Session) {
    pair_cfg(cfg(version), cfg(version), tcp).await
}

pub async fn pair_cfg(
    c: smux::Config,
    s: smux::Config,
    tcp: bool,
) -> (smux::Session, smux::Session) {
    if tcp {
        let (a, b) = tcp_pair().await;
        (
            smux::Session::client(a, c).unwrap(),
            smux::Session::server(b, s).unwrap(),
        )
    } else {
        let (a, b) = tokio::io::duplex(256 * 1024);
        (
            smux::Session::client(a, c).unwrap(),
            smux::Session::server(b, s).unwrap(),
        )
    }
}

/// Yields until `cond` holds; panics after `max` yields (a bound, not a sleep).
pub async fn wait_until(mut cond: impl FnMut() -> bool, what: &str) {
    for _ in 0..2_000_000 {
        if cond() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("condition never held: {what}");
}
