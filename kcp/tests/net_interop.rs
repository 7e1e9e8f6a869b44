//! Interop with kcp-go v5.6.1 itself (the `interop/kcp-peer` Go program): 10 MiB echoed and
//! checksummed, crypt none and aes, FEC 0/0 and 10/3, with kcp-go as server and as client.
//! Skipped, with the reason printed, when Go or kcp-go is not installed.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{config, go_peer, recv_crc, send_seeded};
use kcp::codec::CryptKind;
use kcp::net::{KcpListener, KcpStream};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, split};
use tokio::process::Command;

const LEN: u64 = 10 << 20;
const CASES: [(&str, CryptKind, usize, usize); 4] = [
    ("none", CryptKind::None, 0, 0),
    ("none", CryptKind::None, 10, 3),
    ("aes", CryptKind::Aes256, 0, 0),
    ("aes", CryptKind::Aes256, 10, 3),
];

fn peer_args(crypt: &str, ds: usize, ps: usize) -> Vec<String> {
    [
        "-crypt",
        crypt,
        "-ds",
        &ds.to_string(),
        "-ps",
        &ps.to_string(),
        "-mode",
        "fast3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// kcp-go echo server, our client.
async fn go_server_our_client(
    peer: &std::path::Path,
    name: &str,
    kind: CryptKind,
    ds: usize,
    ps: usize,
) {
    let mut child = Command::new(peer)
        .args(["-role", "echo", "-addr", "127.0.0.1:0"])
        .args(peer_args(name, ds, ps))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start kcp-go peer");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines
        .next_line()
        .await
        .expect("peer output")
        .expect("peer exited");
    let addr = line
        .strip_prefix("LISTEN ")
        .expect("LISTEN line")
        .to_string();
    let stream = KcpStream::connect(addr, config(kind, ds, ps))
        .await
        .unwrap();
    let (mut r, mut w) = split(stream);
    let writer = tokio::spawn(async move {
        let crc = send_seeded(&mut w, LEN, 7).await.unwrap();
        (crc, w)
    });
    let got = recv_crc(&mut r, LEN).await.unwrap();
    let (sent, _w) = writer.await.unwrap();
    assert_eq!(
        got, sent,
        "echo from kcp-go differs ({name}, fec {ds}/{ps})"
    );
    child.kill().await.ok();
}

/// Our echo server, kcp-go client (`echocheck` sends, reads back and compares).
async fn our_server_go_client(
    peer: &std::path::Path,
    name: &str,
    kind: CryptKind,
    ds: usize,
    ps: usize,
) {
    let listener = KcpListener::bind("127.0.0.1:0", config(kind, ds, ps))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = split(s);
        // The client never closes (KCP has no FIN); it exits once it has its echo back.
        let _ = tokio::io::copy(&mut r, &mut w).await;
        w.flush().await.ok();
    });
    let out = Command::new(peer)
        .args([
            "-role",
            "echocheck",
            "-addr",
            &addr.to_string(),
            "-bytes",
            &LEN.to_string(),
            "-seed",
            "9",
        ])
        .args(peer_args(name, ds, ps))
        .kill_on_drop(true)
        .output()
        .await
        .expect("run kcp-go peer");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("OK "),
        "kcp-go client failed ({name}, fec {ds}/{ps}): {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_10mib_with_kcp_go_both_directions() {
    let peer = match go_peer() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipping kcp-go interop: {why}");
            return;
        }
    };
    for (name, kind, ds, ps) in CASES {
        tokio::time::timeout(
            Duration::from_secs(60),
            go_server_our_client(&peer, name, kind, ds, ps),
        )
        .await
        .unwrap_or_else(|_| panic!("kcp-go server, {name} fec {ds}/{ps}: timed out"));
        tokio::time::timeout(
            Duration::from_secs(60),
            our_server_go_client(&peer, name, kind, ds, ps),
        )
        .await
        .unwrap_or_else(|_| panic!("kcp-go client, {name} fec {ds}/{ps}: timed out"));
    }
}
