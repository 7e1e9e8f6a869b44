//! Our client against our listener on loopback: many streams, checksummed, compression on and off,
//! several sessions, errors. (Server restarts are tested against kcptun-server in `kcptun_interop.rs`.)

use std::time::Duration;

use stack::{Config, Error, KcpSmuxListener, Mode, connect, connect_lazy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(60);

/// Deterministic payload for stream `i`.
fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32.wrapping_mul(i as u32 + 1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Mix in runs so snappy sometimes compresses.
            if x % 4 == 0 { b'a' } else { x as u8 }
        })
        .collect()
}

/// Echoes every accepted stream until the listener is dropped.
fn spawn_echo(listener: KcpSmuxListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut s, _peer)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(&mut s);
                if tokio::io::copy(&mut r, &mut w).await.is_ok() {
                    let _ = w.shutdown().await;
                }
            });
        }
    })
}

/// Opens `streams` streams at once, each echoing `len` bytes; checks every byte.
async fn echo_streams(client: &stack::Client, streams: usize, len: usize) {
    let mut tasks = Vec::new();
    for i in 0..streams {
        let mut s = client.open_stream().await.expect("open_stream");
        tasks.push(tokio::spawn(async move {
            let data = payload(i, len);
            let (mut r, mut w) = tokio::io::split(&mut s);
            let send = async {
                w.write_all(&data).await.expect("write");
                w.shutdown().await.expect("shutdown");
            };
            let mut back = Vec::with_capacity(len);
            let recv = async { r.read_to_end(&mut back).await.expect("read") };
            tokio::join!(send, recv);
            assert_eq!(crc32fast::hash(&back), crc32fast::hash(&data), "stream {i}");
            assert_eq!(back.len(), len);
        }));
    }
    for t in tasks {
        t.await.expect("stream task");
    }
}

fn config(nocomp: bool, smuxver: u8) -> Config {
    Config {
        key: "loopback".into(),
        crypt: kcp::codec::CryptKind::Salsa20,
        mode: Mode::Fast3,
        nocomp,
        smuxver,
        conn: 3,
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_over_several_sessions() {
    tokio::time::timeout(LIMIT, async {
        for (nocomp, ver) in [(false, 1), (true, 2)] {
            let cfg = config(nocomp, ver);
            let listener = KcpSmuxListener::bind(
                "127.0.0.1:0",
                Config::server_default().clone_from_peer(&cfg),
            )
            .await
            .unwrap();
            let addr = listener.local_addr();
            let server = spawn_echo(listener);
            let client = connect(addr, &cfg).await.unwrap();
            echo_streams(&client, 24, 100_000).await;
            let st = client.stats().await;
            assert_eq!(
                st.sessions_created, 3,
                "streams spread over conn=3 sessions"
            );
            assert_eq!(st.sessions_live, 3);
            server.abort();
        }
    })
    .await
    .expect("time limit");
}

/// Nothing bound at the port: the kernel answers with ICMP port unreachable, and connect says so at once
/// instead of waiting out its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refused_when_nothing_listens() {
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let cfg = Config {
        connect_timeout: Duration::from_secs(20),
        ..config(false, 1)
    };
    let started = std::time::Instant::now();
    match connect(closed, &cfg).await {
        Err(Error::ConnectRefused { addr }) => assert_eq!(addr, closed),
        other => panic!("expected ConnectRefused, got {other:?}"),
    }
    assert!(started.elapsed() < cfg.connect_timeout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_times_out_without_a_server() {
    // A bound UDP socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cfg = Config {
        connect_timeout: Duration::from_millis(300),
        ..config(false, 1)
    };
    match connect(silent.local_addr().unwrap(), &cfg).await {
        Err(Error::ConnectTimedOut { after, .. }) => assert_eq!(after, cfg.connect_timeout),
        other => panic!("expected ConnectTimedOut, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_lazy_sends_nothing_until_a_stream_opens() {
    // A socket standing in for the server: loopback delivers a datagram within the send call, so
    // what connect sent is readable as soon as it returns.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    // Readable datagrams: no cipher (the 20-byte header stays, as kcptun's "none"), no FEC.
    let cfg = Config {
        crypt: kcp::codec::CryptKind::None,
        datashard: 0,
        parityshard: 0,
        ..config(true, 1)
    };
    let mut buf = [0u8; 2048];
    let client = connect_lazy(addr, &cfg).await.unwrap();
    assert!(
        silent.try_recv_from(&mut buf).is_err(),
        "connect_lazy sent a datagram"
    );
    // The first stream goes out at once (kcptun's client does the same: no probe round trip): the first
    // datagram the server gets carries the stream's SYN, not an smux NOP probe sent in the background.
    let mut s = client.open_stream().await.unwrap();
    s.write_all(b"hello").await.unwrap();
    let (n, _) = tokio::time::timeout(LIMIT, silent.recv_from(&mut buf))
        .await
        .expect("the stream's first datagram")
        .unwrap();
    let (_, smux_frame) = kcp::proto::segments(&buf[kcp::codec::CRYPT_HEADER_LEN..n])
        .next()
        .expect("a KCP segment")
        .unwrap();
    assert_eq!(smux_frame[1], 0, "the first smux frame is a SYN (cmd 0)");
    // `connect` probes first, so a datagram is there when it gives up.
    let cfg = Config {
        connect_timeout: Duration::from_millis(200),
        ..cfg
    };
    let silent2 = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert!(connect(silent2.local_addr().unwrap(), &cfg).await.is_err());
    assert!(silent2.try_recv_from(&mut buf).is_ok(), "connect probes");
    // And against a real server, the lazy client works as the probing one.
    let listener = KcpSmuxListener::bind("127.0.0.1:0", config(true, 1))
        .await
        .unwrap();
    let server = listener.local_addr();
    let _echo = spawn_echo(listener);
    let client = connect_lazy(server, &config(true, 1)).await.unwrap();
    let mut s = client.open_stream().await.unwrap();
    s.write_all(b"ping").await.unwrap();
    let mut got = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read_exact(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got, b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_config_is_refused_by_name() {
    let cfg = Config {
        smuxver: 7,
        ..Config::default()
    };
    match connect("127.0.0.1:9", &cfg).await {
        Err(Error::ConfigInvalid { field, .. }) => assert_eq!(field, "smuxver"),
        other => panic!("expected ConfigInvalid, got {other:?}"),
    }
    match KcpSmuxListener::bind(
        "127.0.0.1:0",
        Config {
            conn: 0,
            ..Config::default()
        },
    )
    .await
    {
        Err(Error::ConfigInvalid { field, .. }) => assert_eq!(field, "conn"),
        other => panic!("expected ConfigInvalid, got {other:?}"),
    }
}

/// Helper: server config with the client's shared settings.
trait PeerConfig {
    fn clone_from_peer(self, peer: &Config) -> Config;
}

impl PeerConfig for Config {
    fn clone_from_peer(self, peer: &Config) -> Config {
        Config {
            key: peer.key.clone(),
            crypt: peer.crypt,
            mode: peer.mode,
            datashard: peer.datashard,
            parityshard: peer.parityshard,
            nocomp: peer.nocomp,
            smuxver: peer.smuxver,
            ..self
        }
    }
}

/// kcptun's autoexpire/scavengettl: after `autoexpire` a session takes no new streams (the next open gets a
/// new session) while its open streams go on; after `scavengettl` more it is closed under them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoexpire_and_scavengettl() {
    tokio::time::timeout(LIMIT, async {
        let cfg = Config {
            conn: 1,
            autoexpire: 1,
            scavengettl: 1,
            idle_recycle: None,
            ..config(false, 1)
        };
        let listener = KcpSmuxListener::bind(
            "127.0.0.1:0",
            Config::server_default().clone_from_peer(&cfg),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = spawn_echo(listener);
        let client = connect(addr, &cfg).await.unwrap();
        let mut old = client.open_stream().await.unwrap();
        old.write_all(b"before").await.unwrap();
        let mut buf = [0u8; 6];
        old.read_exact(&mut buf).await.unwrap();
        // Within autoexpire the session is reused.
        echo_streams(&client, 1, 1000).await;
        assert_eq!(client.stats().await.sessions_created, 1);

        // Past autoexpire: new streams go to a new session, the old stream still works.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        echo_streams(&client, 1, 1000).await;
        assert_eq!(client.stats().await.sessions_created, 2);
        old.write_all(b"still!").await.unwrap();
        old.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still!");

        // Past autoexpire + scavengettl (checked once per second): the old session is closed.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let mut sink = Vec::new();
        let r = old.read_to_end(&mut sink).await;
        let e = r.expect_err("old stream must fail once its session was scavenged");
        assert!(
            matches!(Error::from_io(&e), Some(Error::SessionLost(_))),
            "expected SessionLost, got {e:?}"
        );
        server.abort();
    })
    .await
    .expect("time limit");
}

/// A session closed under the client (here: its smux session ends) is replaced on the next open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_session_is_replaced_on_next_open() {
    tokio::time::timeout(LIMIT, async {
        let cfg = Config {
            conn: 2,
            ..config(true, 2)
        };
        let listener = KcpSmuxListener::bind(
            "127.0.0.1:0",
            Config::server_default().clone_from_peer(&cfg),
        )
        .await
        .unwrap();
        let addr = listener.local_addr();
        let server = spawn_echo(listener);
        let client = connect(addr, &cfg).await.unwrap();
        echo_streams(&client, 4, 5000).await;
        assert_eq!(client.stats().await.sessions_created, 2);
        client.close().await;
        assert_eq!(client.stats().await.sessions_live, 0);
        echo_streams(&client, 4, 5000).await;
        assert_eq!(client.stats().await.sessions_created, 4);
        server.abort();
    })
    .await
    .expect("time limit");
}
