//! Interop with Debian's kcptun, both ways, many streams at once, every byte checksummed:
//! - our client -> `kcptun-server` -> TCP echo;
//! - TCP -> `kcptun-client` -> our `KcpSmuxListener` (echo).
//!
//! CI runs one cell per cipher (`ci_slice`, every value of every dimension appears); the full
//! crypt x FEC x smuxver x compression x mode matrix (208 cells, both directions) is
//! `cargo test --release -p stack --test kcptun_interop -- --ignored full_matrix`.
//! Tests skip, with a message, when the kcptun binaries are not installed.

#[path = "support/kcptun.rs"]
mod kcptun;

use std::time::Duration;

use kcptun::{Cell, Kcptun, TcpEcho, free_tcp, free_udp};
use stack::{Config, KcpSmuxListener, connect};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Streams opened at once per direction and cell.
const STREAMS: usize = 16;
/// Bytes echoed per stream.
const LEN: usize = 48 * 1024;
/// Time limit of one direction of one cell.
const CELL_LIMIT: Duration = Duration::from_secs(30);

fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491u32.wrapping_mul(i as u32 + 7);
    (0..len)
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if (k / 512) % 2 == 0 { b'z' } else { x as u8 }
        })
        .collect()
}

/// Writes `data` and reads back as many bytes at the same time (kcptun has no half-close, so the
/// stream is not shut down before the echo is complete); returns the CRC of what came back.
async fn echo_one<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    s: S,
    data: &[u8],
) -> std::io::Result<u32> {
    let (mut r, mut w) = tokio::io::split(s);
    let mut back = vec![0u8; data.len()];
    let (wr, rd) = tokio::join!(w.write_all(data), r.read_exact(&mut back));
    wr?;
    rd?;
    Ok(crc32fast::hash(&back))
}

/// Our client through kcptun-server to a TCP echo.
async fn ours_to_kcptun(cell: &Cell) -> Result<(), String> {
    let echo = TcpEcho::start().await;
    let udp = free_udp();
    let _server = Kcptun::server(udp, echo.addr, cell, &[]);
    let cfg = cell.config(Config::default());
    let client = connect(udp, &cfg)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        let s = client
            .open_stream()
            .await
            .map_err(|e| format!("open: {e}"))?;
        tasks.push(tokio::spawn(async move {
            let data = payload(i, LEN);
            let got = echo_one(s, &data)
                .await
                .map_err(|e| format!("stream {i}: {e}"))?;
            if got != crc32fast::hash(&data) {
                return Err(format!("stream {i}: checksum mismatch"));
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    client.close().await;
    Ok(())
}

/// TCP through kcptun-client to our listener, which echoes.
async fn kcptun_to_ours(cell: &Cell) -> Result<(), String> {
    let listener = KcpSmuxListener::bind("127.0.0.1:0", cell.config(Config::server_default()))
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let remote = listener.local_addr();
    let server = tokio::spawn(async move {
        while let Ok((mut s, _peer)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(&mut s);
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    let local = free_tcp();
    let _client = Kcptun::client(local, remote, cell, &[]);
    let mut tasks = Vec::new();
    for i in 0..STREAMS {
        tasks.push(tokio::spawn(async move {
            let s = TcpStream::connect(local)
                .await
                .map_err(|e| format!("tcp connect: {e}"))?;
            let data = payload(i, LEN);
            let got = echo_one(s, &data)
                .await
                .map_err(|e| format!("stream {i}: {e}"))?;
            if got != crc32fast::hash(&data) {
                return Err(format!("stream {i}: checksum mismatch"));
            }
            Ok(())
        }));
    }
    let mut r = Ok(());
    for t in tasks {
        if let Err(e) = t.await.map_err(|e| e.to_string()).and_then(|x| x) {
            r = Err(e);
        }
    }
    server.abort();
    r
}

async fn run_cell(cell: &Cell) -> Result<(), String> {
    tokio::time::timeout(CELL_LIMIT, ours_to_kcptun(cell))
        .await
        .map_err(|_| "ours -> kcptun-server: timed out".to_string())?
        .map_err(|e| format!("ours -> kcptun-server: {e}"))?;
    tokio::time::timeout(CELL_LIMIT, kcptun_to_ours(cell))
        .await
        .map_err(|_| "kcptun-client -> ours: timed out".to_string())?
        .map_err(|e| format!("kcptun-client -> ours: {e}"))?;
    Ok(())
}

async fn run_cells(cells: Vec<Cell>) {
    let total = cells.len();
    let mut failed = Vec::new();
    for cell in cells {
        let t = std::time::Instant::now();
        match run_cell(&cell).await {
            Ok(()) => eprintln!("ok   {cell} ({:.2?})", t.elapsed()),
            Err(e) => {
                eprintln!("FAIL {cell}: {e}");
                failed.push(format!("{cell}: {e}"));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {total} cells failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    eprintln!("all {total} cells passed both directions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_slice() {
    if !kcptun::available() {
        return;
    }
    run_cells(Cell::ci_slice()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "full 208-cell matrix, several minutes; run by hand"]
async fn full_matrix() {
    if !kcptun::available() {
        return;
    }
    run_cells(Cell::full_matrix()).await;
}

/// Opens a stream on `client` and checks that `data` comes back intact within 10 s.
async fn echo_checked(client: &stack::Client, data: &[u8], when: &str) {
    let s = client
        .open_stream()
        .await
        .unwrap_or_else(|e| panic!("open {when}: {e}"));
    let back = tokio::time::timeout(Duration::from_secs(10), echo_one(s, data))
        .await
        .unwrap_or_else(|_| panic!("echo {when} timed out"))
        .unwrap_or_else(|e| panic!("echo {when}: {e}"));
    assert_eq!(back, crc32fast::hash(data), "echo {when}");
}

/// kcptun-server restarts while our client is idle; the next open_stream works without reconnecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_while_idle() {
    if !kcptun::available() {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let cell = Cell {
            crypt: "aes",
            fec: (10, 3),
            smuxver: 2,
            comp: true,
            mode: "fast",
        };
        let echo = TcpEcho::start().await;
        let udp = free_udp();
        let server = Kcptun::server(udp, echo.addr, &cell, &[]);
        let cfg = Config {
            idle_recycle: Some(Duration::from_millis(300)),
            ..cell.config(Config::default())
        };
        let client = connect(udp, &cfg).await.expect("connect");
        let data = payload(1, 20_000);
        echo_checked(&client, &data, "before restart").await;

        server.stop();
        let _server = Kcptun::server(udp, echo.addr, &cell, &[]);
        // The client stays idle for longer than its idle_recycle before it opens again.
        tokio::time::sleep(Duration::from_millis(500)).await;
        echo_checked(&client, &data, "after restart").await;
        assert_eq!(client.stats().await.sessions_created, 2);
    })
    .await
    .expect("time limit");
}

/// kcptun-server restarts under a client that keeps its session (no idle recycling): the client's smux
/// keepalive notices that nothing arrives any more, the session is closed, and the next open_stream
/// replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_session_replaced_after_keepalive_timeout() {
    if !kcptun::available() {
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        let cell = Cell {
            crypt: "salsa20",
            fec: (0, 0),
            smuxver: 1,
            comp: false,
            mode: "fast3",
        };
        let echo = TcpEcho::start().await;
        let udp = free_udp();
        let server = Kcptun::server(udp, echo.addr, &cell, &["--keepalive", "1"]);
        let cfg = Config {
            idle_recycle: None,
            keepalive: 1,
            keepalive_timeout: Duration::from_secs(2),
            ..cell.config(Config::default())
        };
        let client = connect(udp, &cfg).await.expect("connect");
        let data = payload(2, 30_000);
        echo_checked(&client, &data, "before restart").await;

        server.stop();
        let _server = Kcptun::server(udp, echo.addr, &cell, &["--keepalive", "1"]);
        // Wait (bounded) until the keepalive timeout has closed the stale session.
        let mut waited = 0;
        while client.stats().await.sessions_live > 0 {
            assert!(waited < 100, "stale session was never closed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        echo_checked(&client, &data, "after restart").await;
        assert_eq!(client.stats().await.sessions_created, 2);
    })
    .await
    .expect("time limit");
}
