//! Hostile input at a listener: 100,000 random datagrams with crypt on create no session and are
//! all counted as checksum drops. (Own test binary: the SNMP counters are process-wide.)

mod common;

use std::time::Duration;

use common::Rng;
use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, snmp};
use tokio::net::UdpSocket;

const DATAGRAMS: u64 = 100_000;
const BURST: u64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_datagrams_open_no_session_and_are_counted() {
    let cfg = Config {
        crypt: CryptKind::Aes256,
        key: [3; 32],
        ..Config::default()
    };
    let listener = KcpListener::bind("127.0.0.1:0", cfg).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let before = snmp().snapshot();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = Rng::new(0x5eed);
    let mut buf = [0u8; 1500];
    let mut len_bytes = [0u8; 2];
    let mut sent = 0;
    let work = async {
        while sent < DATAGRAMS {
            for _ in 0..BURST {
                rng.fill(&mut len_bytes);
                // 20..=1500 bytes: long enough for the crypto header, so each one is a checksum drop.
                let len = 20 + usize::from(u16::from_le_bytes(len_bytes)) % 1481;
                rng.fill(&mut buf[..len]);
                sock.send_to(&buf[..len], addr).await.unwrap();
            }
            sent += BURST;
            // Pace on the listener's own count so the socket buffer never overflows.
            while snmp().snapshot().in_csum_errors - before.in_csum_errors < sent {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("listener did not count every datagram");
    let after = snmp().snapshot();
    assert_eq!(after.in_csum_errors - before.in_csum_errors, DATAGRAMS);
    assert_eq!(
        after.passive_opens, before.passive_opens,
        "a random datagram opened a session"
    );
    assert_eq!(listener.live_sessions(), 0);
    assert_eq!(
        after.in_pkts, before.in_pkts,
        "a random datagram reached KCP"
    );
}
