//! 1,000 concurrent sessions on one listener, each moving 1 MiB, all checksummed.

mod common;

use std::time::Duration;

use common::{raise_nofile, recv_crc, send_seeded};
use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, KcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SESSIONS: usize = 1000;
const LEN: u64 = 1 << 20;

fn cfg() -> Config {
    Config {
        // 1,000 senders into one socket: with congestion control on, senders back off when the
        // listener's socket buffer overflows instead of retransmitting into it until the link counts
        // as dead.
        preset: kcp::proto::Preset::Manual {
            nodelay: 1,
            interval: 20,
            resend: 2,
            nc: false,
        },
        send_window: 64,
        recv_window: 64,
        crypt: CryptKind::Aes128,
        key: [7; 32],
        fec_data_shards: 0,
        fec_parity_shards: 0,
        socket_recv_buffer: 4 << 20,
        socket_send_buffer: 1 << 20,
        accept_backlog: 256,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_sessions_one_mib_each() {
    let limit = raise_nofile(4096);
    assert!(
        limit >= SESSIONS as u64 + 100,
        "need {} open files, have {limit}",
        SESSIONS + 100
    );
    let listener = KcpListener::bind("127.0.0.1:0", cfg()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let work = async {
        // Server: each session reads 1 MiB and answers with the CRC32 it computed.
        let server = async {
            let mut handlers = tokio::task::JoinSet::new();
            for _ in 0..SESSIONS {
                let (mut s, _) = listener.accept().await.unwrap();
                handlers.spawn(async move {
                    let crc = recv_crc(&mut s, LEN).await.unwrap();
                    s.write_all(&crc.to_le_bytes()).await.unwrap();
                    s.shutdown().await.unwrap();
                });
            }
            while let Some(r) = handlers.join_next().await {
                r.unwrap();
            }
        };
        let clients = async {
            let mut set = tokio::task::JoinSet::new();
            for i in 0..SESSIONS as u64 {
                set.spawn(async move {
                    let mut s = KcpStream::connect(addr, cfg()).await.unwrap();
                    let sent = send_seeded(&mut s, LEN, 1000 + i).await.unwrap();
                    let mut echo = [0u8; 4];
                    s.read_exact(&mut echo).await.unwrap();
                    assert_eq!(
                        u32::from_le_bytes(echo),
                        sent,
                        "session {i}: server saw different bytes"
                    );
                });
            }
            let mut done = 0;
            while let Some(r) = set.join_next().await {
                r.unwrap();
                done += 1;
            }
            done
        };
        let ((), done) = tokio::join!(server, clients);
        assert_eq!(done, SESSIONS);
    };
    tokio::time::timeout(Duration::from_secs(150), work)
        .await
        .expect("1,000 sessions took too long");
    // All streams are gone and everything was acknowledged: the listener holds nothing.
    tokio::time::timeout(Duration::from_secs(10), async {
        while listener.live_sessions() != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{} sessions still alive", listener.live_sessions()));
}
