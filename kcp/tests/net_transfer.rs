//! Bulk transfers over loopback: both directions at once, checksummed.

mod common;

use std::time::Duration;

use common::{config, recv_crc, seeded_crc, send_seeded};
use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, KcpStream};
use tokio::io::{AsyncWriteExt, split};

/// Moves `len` bytes each way between a client and an accepted session, checks both checksums,
/// then checks that closing both ends frees the listener's session.
async fn both_directions(cfg: Config, len: u64) {
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = KcpStream::connect(addr, cfg).await.unwrap();
    let (mut cr, mut cw) = split(client);
    let up = tokio::spawn(async move {
        let crc = send_seeded(&mut cw, len, 1).await.unwrap();
        cw.shutdown().await.unwrap();
        (crc, cw)
    });
    // The session exists once the first datagram arrived.
    let (server, _) = listener.accept().await.unwrap();
    let (mut sr, mut sw) = split(server);
    let down = tokio::spawn(async move {
        let crc = send_seeded(&mut sw, len, 2).await.unwrap();
        sw.shutdown().await.unwrap();
        (crc, sw)
    });
    let got_up = recv_crc(&mut sr, len).await.unwrap();
    let got_down = recv_crc(&mut cr, len).await.unwrap();
    let (sent_up, cw) = up.await.unwrap();
    let (sent_down, sw) = down.await.unwrap();
    assert_eq!(sent_up, seeded_crc(len, 1));
    assert_eq!(got_up, sent_up, "client -> server data differs");
    assert_eq!(got_down, sent_down, "server -> client data differs");
    let server = sr.unsplit(sw);
    let stats = server.stats();
    assert_eq!(stats.bytes_received, len);
    assert_eq!(stats.bytes_sent, len);
    drop(server);
    drop(cr.unsplit(cw));
    // Everything was acknowledged (shutdown returned), so dropping ends the session promptly.
    tokio::time::timeout(Duration::from_secs(5), async {
        while listener.live_sessions() != 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("session not freed after both ends closed");
}

fn size(default: u64) -> u64 {
    std::env::var("KCP_TEST_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_crypt_none() {
    tokio::time::timeout(
        Duration::from_secs(120),
        both_directions(config(CryptKind::None, 0, 0), size(64 << 20)),
    )
    .await
    .expect("transfer took too long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_aes_fec_10_3() {
    tokio::time::timeout(
        Duration::from_secs(120),
        both_directions(config(CryptKind::Aes256, 10, 3), size(64 << 20)),
    )
    .await
    .expect("transfer took too long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1 GiB each way; run by hand with --release -- --ignored"]
async fn gib_both_directions_crypt_none() {
    tokio::time::timeout(
        Duration::from_secs(600),
        both_directions(config(CryptKind::None, 0, 0), 1 << 30),
    )
    .await
    .expect("transfer took too long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1 GiB each way; run by hand with --release -- --ignored"]
async fn gib_both_directions_aes_fec_10_3() {
    tokio::time::timeout(
        Duration::from_secs(600),
        both_directions(config(CryptKind::Aes256, 10, 3), 1 << 30),
    )
    .await
    .expect("transfer took too long");
}
