//! Interop with xtaci/smux v1.5.16 itself (the Go peer in `interop/smux-peer`), over TCP loopback.
//! Skipped, with the reason printed, when Go or the Debian smux sources are missing.

#[path = "../../interop/smux-peer/peer.rs"]
mod peer;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use smux::{Config, Session, Stream};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

fn go_peer() -> Option<PathBuf> {
    match peer::build(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("smux-peer")) {
        Ok(p) => Some(p),
        Err(e) => {
            println!("skipping Go interop test: {e}");
            None
        }
    }
}

fn cfg(version: u8) -> Config {
    Config {
        version,
        ..Config::default()
    }
}

fn crc_of_pattern(seed: u64, n: u64) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 32768];
    let mut off = 0;
    while off < n {
        let k = (n - off).min(buf.len() as u64) as usize;
        peer::pattern_fill(seed, off, &mut buf[..k]);
        h.update(&buf[..k]);
        off += k as u64;
    }
    h.finalize()
}

async fn write_pattern(
    w: &mut (impl AsyncWriteExt + Unpin),
    seed: u64,
    n: u64,
) -> std::io::Result<u32> {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 32768];
    let mut off = 0;
    while off < n {
        let k = (n - off).min(buf.len() as u64) as usize;
        peer::pattern_fill(seed, off, &mut buf[..k]);
        h.update(&buf[..k]);
        w.write_all(&buf[..k]).await?;
        off += k as u64;
    }
    Ok(h.finalize())
}

async fn read_n_crc(r: &mut (impl AsyncReadExt + Unpin), n: u64) -> std::io::Result<u32> {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 32768];
    let mut left = n;
    while left > 0 {
        let k = left.min(buf.len() as u64) as usize;
        r.read_exact(&mut buf[..k]).await?;
        h.update(&buf[..k]);
        left -= k as u64;
    }
    Ok(h.finalize())
}

async fn expect_eof(s: &mut Stream) -> Result<(), String> {
    let mut b = [0u8; 1];
    match s.read(&mut b).await {
        Ok(0) => Ok(()),
        other => Err(format!("want EOF, got {other:?}")),
    }
}

fn request(cmd: u8, n: u64) -> [u8; 9] {
    let mut r = [0u8; 9];
    r[0] = cmd;
    r[1..].copy_from_slice(&n.to_le_bytes());
    r
}

/// Our client side of one interop stream: echo (E), sink (S, we FIN first then read the reply), or
/// gen (G, the peer FINs first and we still write our reply).
async fn client_stream(sess: &Session, i: u64, size: u64) -> Result<(), String> {
    let mut s = sess.open_stream().await.map_err(|e| e.to_string())?;
    let n = size + i * 1237;
    let e = |e: std::io::Error| e.to_string();
    match i % 3 {
        0 => {
            s.write_all(&request(b'E', n)).await.map_err(e)?;
            let (mut r, mut w) = tokio::io::split(s);
            let (sent, got) = tokio::join!(write_pattern(&mut w, i, n), read_n_crc(&mut r, n));
            if sent.map_err(e)? != got.map_err(e)? {
                return Err("echo crc mismatch".into());
            }
            let mut s = r.unsplit(w);
            expect_eof(&mut s).await?;
        }
        1 => {
            s.write_all(&request(b'S', n)).await.map_err(e)?;
            let sent = write_pattern(&mut s, i, n).await.map_err(e)?;
            s.shutdown().await.map_err(e)?; // half-close: we finish first, then read the reply
            let mut reply = [0u8; 4];
            s.read_exact(&mut reply).await.map_err(e)?;
            if u32::from_le_bytes(reply) != sent {
                return Err("sink crc mismatch".into());
            }
            expect_eof(&mut s).await?;
        }
        _ => {
            s.write_all(&request(b'G', n)).await.map_err(e)?;
            let mut h = crc32fast::Hasher::new();
            let mut buf = vec![0u8; 32768];
            let mut got = 0u64;
            loop {
                let k = s.read(&mut buf).await.map_err(e)?;
                if k == 0 {
                    break;
                }
                h.update(&buf[..k]);
                got += k as u64;
            }
            let crc = h.finalize();
            if got != n || crc != crc_of_pattern(n, n) {
                return Err(format!(
                    "gen: {got} bytes of {n}, crc mismatch {}",
                    crc != crc_of_pattern(n, n)
                ));
            }
            // The peer finished first; writing is still allowed (Go discards it).
            s.write_all(&crc.to_le_bytes()).await.map_err(e)?;
            s.shutdown().await.map_err(e)?;
        }
    }
    Ok(())
}

async fn our_client_vs_go_server(version: u8) {
    let Some(bin) = go_peer() else { return };
    let mut child = Command::new(&bin)
        .args(["server", "-ver", &version.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn go peer");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("LISTEN line");
    let addr = line
        .strip_prefix("LISTEN ")
        .expect("LISTEN addr")
        .to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let sess = std::sync::Arc::new(Session::client(tcp, cfg(version)).unwrap());
    let mut tasks = Vec::new();
    for i in 0..48u64 {
        let sess = sess.clone();
        tasks.push(tokio::spawn(async move {
            (i, client_stream(&sess, i, 300_000).await)
        }));
    }
    for t in tasks {
        let (i, r) = t.await.unwrap();
        r.unwrap_or_else(|e| panic!("v{version} stream {i}: {e}"));
    }
    assert!(!sess.is_closed(), "{:?}", sess.error());
    sess.close().await;
    drop(child.stdin.take());
    child.wait().await.unwrap();
}

/// Our server side of one stream opened by the Go client.
async fn serve_stream(mut s: Stream) -> Result<(), String> {
    let e = |e: std::io::Error| e.to_string();
    let mut req = [0u8; 9];
    s.read_exact(&mut req).await.map_err(e)?;
    let n = u64::from_le_bytes(req[1..].try_into().unwrap());
    match req[0] {
        b'E' => {
            let mut buf = vec![0u8; 32768];
            let mut left = n;
            while left > 0 {
                let k = s
                    .read(&mut buf[..left.min(32768) as usize])
                    .await
                    .map_err(e)?;
                if k == 0 {
                    return Err("echo: early EOF".into());
                }
                s.write_all(&buf[..k]).await.map_err(e)?;
                left -= k as u64;
            }
            s.shutdown().await.map_err(e)?;
            expect_eof(&mut s).await?;
        }
        b'S' => {
            let crc = read_n_crc(&mut s, n).await.map_err(e)?;
            s.write_all(&crc.to_le_bytes()).await.map_err(e)?;
            s.flush().await.map_err(e)?;
            expect_eof(&mut s).await?;
        }
        b'G' => {
            let crc = write_pattern(&mut s, n, n).await.map_err(e)?;
            s.shutdown().await.map_err(e)?; // we finish first, then read the peer's reply
            let mut reply = [0u8; 4];
            s.read_exact(&mut reply).await.map_err(e)?;
            if u32::from_le_bytes(reply) != crc {
                return Err("gen reply crc mismatch".into());
            }
            expect_eof(&mut s).await?;
        }
        c => return Err(format!("bad request {c}")),
    }
    Ok(())
}

async fn go_client_vs_our_server(version: u8) {
    let Some(bin) = go_peer() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    const STREAMS: usize = 48;
    let child = Command::new(&bin)
        .args(["client", "-ver", &version.to_string(), "-addr", &addr])
        .args(["-streams", &STREAMS.to_string(), "-size", "300000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn go peer");
    let (tcp, _) = listener.accept().await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let sess = Session::server(tcp, cfg(version)).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..STREAMS {
        let s = sess.accept_stream().await.unwrap();
        let id = s.id();
        tasks.push(tokio::spawn(async move { (id, serve_stream(s).await) }));
    }
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Go client failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    for t in tasks {
        let (id, r) = t.await.unwrap();
        r.unwrap_or_else(|e| panic!("v{version} stream {id}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_go_server_v1() {
    our_client_vs_go_server(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_go_server_v2() {
    our_client_vs_go_server(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_our_server_v1() {
    go_client_vs_our_server(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_client_our_server_v2() {
    go_client_vs_our_server(2).await;
}

/// A version mismatch with the real smux is detected and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_mismatch_with_go_is_named() {
    let Some(bin) = go_peer() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut child = Command::new(&bin)
        .args([
            "client", "-ver", "2", "-addr", &addr, "-streams", "1", "-size", "10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (tcp, _) = listener.accept().await.unwrap();
    let sess = Session::server(tcp, cfg(1)).unwrap();
    assert_eq!(
        sess.accept_stream().await.unwrap_err(),
        smux::Error::BadVersion {
            expected: 1,
            got: 2
        }
    );
    child.kill().await.unwrap();
}
