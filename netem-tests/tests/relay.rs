//! The `netem` relay on loopback: delay, loss and rate are applied to real datagrams, and a KCP stream carries
//! checksummed data through a lossy relay.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netem_tests::impair::ImpairArgs;
use netem_tests::link::LinkConfig;
use netem_tests::relay::{Relay, RelayConfig, RelayStats};
use netem_tests::workload;
use tokio::net::UdpSocket;

fn lo() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A UDP echo server; returns its address.
async fn udp_echo() -> SocketAddr {
    let s = UdpSocket::bind(lo()).await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            let _ = s.send_to(&buf[..n], from).await;
        }
    });
    addr
}

fn links(a: ImpairArgs) -> (LinkConfig, LinkConfig) {
    a.links().unwrap()
}

/// A KCP listener on loopback and its address.
async fn kcp_listener(cfg: &kcp::net::Config) -> (kcp::net::KcpListener, SocketAddr) {
    let listener = kcp::net::KcpListener::bind(lo(), cfg.clone())
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A relay on its own thread in front of `server`, and a KCP stream connected through it.
async fn connect_through(
    server: SocketAddr,
    up: LinkConfig,
    down: LinkConfig,
    seed: u64,
    cfg: kcp::net::Config,
) -> (netem_tests::relay::RelayHandle, kcp::net::KcpStream) {
    let relay = Relay::spawn_thread(lo(), RelayConfig::new(server, up, down, seed)).unwrap();
    let s = kcp::net::KcpStream::connect(relay.addr(), cfg)
        .await
        .unwrap();
    (relay, s)
}

#[tokio::test]
async fn delay_is_applied_per_direction() {
    let echo = udp_echo().await;
    let (up, down) = links(ImpairArgs {
        delay: "20ms/30ms".into(),
        jitter: "4ms".into(),
        ..Default::default()
    });
    let relay = Relay::spawn(lo(), RelayConfig::new(echo, up, down, 1))
        .await
        .unwrap();
    let c = UdpSocket::bind(lo()).await.unwrap();
    c.connect(relay.addr()).await.unwrap();
    let mut rtts = Vec::new();
    let mut buf = [0u8; 64];
    for i in 0..20u8 {
        let t = Instant::now();
        c.send(&[i; 32]).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], &[i; 32]);
        rtts.push(t.elapsed());
    }
    let st = relay.finish().await.unwrap();
    assert_eq!((st.up.delivered, st.down.delivered), (20, 20));
    // 20 + 30 ms of delay, plus jitter below 2 x 4 ms; generous upper bound for a loaded machine.
    assert!(
        rtts.iter().all(|r| *r >= Duration::from_millis(50)),
        "{rtts:?}"
    );
    assert!(
        rtts.iter().any(|r| *r < Duration::from_millis(150)),
        "{rtts:?}"
    );
}

#[tokio::test]
async fn loss_counts_add_up() {
    let echo = udp_echo().await;
    let (up, down) = links(ImpairArgs {
        loss: "20%/0%".into(),
        ..Default::default()
    });
    let relay = Relay::spawn(lo(), RelayConfig::new(echo, up, down, 7))
        .await
        .unwrap();
    let c = UdpSocket::bind(lo()).await.unwrap();
    c.connect(relay.addr()).await.unwrap();
    let mut buf = [0u8; 64];
    let mut got = 0u64;
    for i in 0..300u32 {
        c.send(&i.to_le_bytes()).await.unwrap();
        // One outstanding datagram at a time: an echo or a 100 ms silence (lost).
        if let Ok(r) = tokio::time::timeout(Duration::from_millis(100), c.recv(&mut buf)).await {
            assert_eq!(&buf[..r.unwrap()], &i.to_le_bytes());
            got += 1;
        }
    }
    let st = relay.finish().await.unwrap();
    assert_eq!(st.up.sent, 300);
    assert_eq!(st.up.lost + st.up.delivered, 300);
    assert_eq!(st.down.lost, 0);
    assert_eq!(got, st.down.delivered);
    let rate = st.up.lost as f64 / 300.0;
    assert!((0.13..0.27).contains(&rate), "loss rate {rate}");
}

#[tokio::test]
async fn rate_limit_paces_and_tail_drops() {
    let sink = UdpSocket::bind(lo()).await.unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let (up, down) = links(ImpairArgs {
        rate: "8mbit".into(), // 1 MB/s: a 972-byte datagram (1000 bytes with IP and UDP headers) every ms
        queue: "100".into(),
        ..Default::default()
    });
    let relay = Relay::spawn(lo(), RelayConfig::new(sink_addr, up, down, 3))
        .await
        .unwrap();
    let c = UdpSocket::bind(lo()).await.unwrap();
    c.connect(relay.addr()).await.unwrap();
    let t = Instant::now();
    for _ in 0..300 {
        c.send(&[0u8; 972]).await.unwrap();
    }
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while let Ok(r) = tokio::time::timeout(Duration::from_millis(500), sink.recv(&mut buf)).await {
        r.unwrap();
        n += 1;
    }
    let took = t.elapsed() - Duration::from_millis(500);
    let st = relay.finish().await.unwrap();
    assert_eq!(n, st.up.delivered);
    assert!(
        st.up.queue_drops > 0,
        "a burst of 300 into a 100-packet queue must tail-drop"
    );
    assert_eq!(st.up.queue_drops + st.up.delivered, 300);
    // What got through was paced at 1 ms per datagram.
    assert!(
        took >= Duration::from_millis(n * 9 / 10),
        "{n} datagrams in {took:?}"
    );
}

#[tokio::test]
async fn kcp_stream_through_lossy_relay_is_intact() {
    use kcp::codec::CryptKind;
    let cfg = kcp::net::Config {
        crypt: CryptKind::None,
        fec_data_shards: 0,
        fec_parity_shards: 0,
        send_window: 256,
        recv_window: 256,
        ..Default::default()
    };
    let (listener, server_addr) = kcp_listener(&cfg).await;
    let server = tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        workload::serve(s).await
    });
    let (up, down) = links(ImpairArgs {
        delay: "10ms".into(),
        loss: "5%".into(),
        burst: "1/3".into(),
        reorder: "2%".into(),
        duplicate: "1%".into(),
        ..Default::default()
    });
    let relay = Relay::spawn(lo(), RelayConfig::new(server_addr, up, down, 11))
        .await
        .unwrap();
    let s = kcp::net::KcpStream::connect(relay.addr(), cfg)
        .await
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        workload::bulk_client(s, Duration::from_secs(30), 1 << 20, 5),
    )
    .await
    .expect("1 MiB through the relay within 60 s")
    .unwrap();
    assert_eq!(r.bytes, 1 << 20);
    let st = relay.finish().await.unwrap();
    assert!(
        st.up.lost > 0 && st.down.lost > 0 && st.up.duplicated > 0,
        "{st:?}"
    );
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
}

#[tokio::test]
async fn adaptive_parity_leaves_parity_out_of_bulk_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BULK: usize = 4 << 20;
    // Defaults: AES, FEC 10/3, automatic windows, adaptive parity.
    let cfg = kcp::net::Config::default();
    let (listener, server_addr) = kcp_listener(&cfg).await;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let (mut got, mut sum) = (0usize, 0u64);
        while got < BULK {
            let n = s
                .read(&mut buf[..(BULK - got).min(64 << 10)])
                .await
                .unwrap();
            assert!(n > 0, "EOF after {got} bytes");
            sum = buf[..n]
                .iter()
                .fold(sum, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
            got += n;
        }
        s.write_all(&sum.to_le_bytes()).await.unwrap();
        // Then echo 64-byte messages until EOF.
        let mut m = [0u8; 64];
        while s.read_exact(&mut m).await.is_ok() {
            s.write_all(&m).await.unwrap();
        }
    });
    let (up, down) = links(ImpairArgs {
        delay: "10ms".into(),
        loss: "1%".into(),
        rate: "20mbit".into(),
        ..Default::default()
    });
    let (relay, mut s) = connect_through(server_addr, up, down, 5, cfg).await;
    let work = async {
        let data: Vec<u8> = (0..BULK).map(|i| (i * 7 % 251) as u8).collect();
        let want = data
            .iter()
            .fold(0u64, |a, &b| a.wrapping_mul(31).wrapping_add(b as u64));
        s.write_all(&data).await.unwrap();
        let mut sum = [0u8; 8];
        s.read_exact(&mut sum).await.unwrap();
        assert_eq!(u64::from_le_bytes(sum), want, "bulk checksum");
        let after_bulk = s.stats();
        // Interactive: one message at a time, each echoed before the next.
        for i in 0..40u8 {
            s.write_all(&[i; 64]).await.unwrap();
            let mut m = [0u8; 64];
            s.read_exact(&mut m).await.unwrap();
            assert_eq!(m, [i; 64]);
        }
        (after_bulk, s.stats())
    };
    let (bulk, inter) = tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("done within 60 s");
    // 4 MiB are about 3,200 datagrams, 320 FEC groups' worth: most go without FEC framing (and the groups
    // open when the pipe filled, without parity) while the pipe is full.
    eprintln!(
        "without FEC framing: {} datagrams after bulk, {} after interactive; groups without parity {} / {}; \
         datagrams sent {} / {}",
        bulk.datagrams_without_fec,
        inter.datagrams_without_fec,
        bulk.fec_groups_without_parity,
        inter.fec_groups_without_parity,
        bulk.datagrams_sent,
        inter.datagrams_sent
    );
    assert!(bulk.datagrams_without_fec >= 1000, "{bulk:?}");
    // 40 messages are 4 groups of data; each keeps its 3 parity shards.
    assert_eq!(inter.datagrams_without_fec, bulk.datagrams_without_fec);
    assert_eq!(
        inter.fec_groups_without_parity,
        bulk.fec_groups_without_parity
    );
    assert!(
        inter.datagrams_sent >= bulk.datagrams_sent + 40 + 3 * 3,
        "{inter:?}"
    );
    // KCP has no close handshake: the server would wait for its idle timeout.
    server.abort();
    drop(s);
    relay.finish().await.unwrap();
}

/// A KCP stream whose latest session counters are kept where the test can read them after the stream
/// has moved into a smux session.
struct Tap {
    inner: kcp::net::KcpStream,
    stats: std::sync::Arc<std::sync::Mutex<kcp::net::SessionStats>>,
}

impl tokio::io::AsyncRead for Tap {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let st = self.inner.stats();
        *self.stats.lock().unwrap() = st;
        r
    }
}

impl tokio::io::AsyncWrite for Tap {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// kcp-go (kcptun-server) takes the datagrams our sender sends without FEC framing while its pipe is full
/// (adaptive parity, on by default), mixed with FEC-framed ones in one session: 4 MiB through a 20 Mbit/s,
/// 20 ms relay with no loss arrive checksummed, and the unframed datagrams were not retransmitted (had
/// kcp-go dropped them, each would have been).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcptun_server_takes_datagrams_sent_without_fec_framing() {
    if !netem_tests::matrix::kcptun_available() {
        eprintln!("skipping: kcptun-server is not installed (scripts/setup.sh installs it)");
        return;
    }
    let sink = tokio::net::TcpListener::bind(lo()).await.unwrap();
    let sink_addr = sink.local_addr().unwrap();
    let sink_task = tokio::spawn(async move {
        let (s, _) = sink.accept().await.unwrap();
        workload::serve(s).await
    });
    let sport = std::net::UdpSocket::bind(lo())
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = tokio::process::Command::new("kcptun-server")
        .args(["-l", &format!("127.0.0.1:{sport}"), "-t"])
        .arg(sink_addr.to_string())
        .args(["--key", "plain", "--nocomp", "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start kcptun-server");
    let (up, down) = links(ImpairArgs {
        delay: "10ms".into(),
        rate: "20mbit".into(),
        ..Default::default()
    });
    let relay = Relay::spawn_thread(
        lo(),
        RelayConfig::new(([127, 0, 0, 1], sport).into(), up, down, 11),
    )
    .unwrap();
    // kcptun's defaults on both sides (fast, aes, FEC 10/3), ours with its automatic windows.
    let cfg = stack::Config {
        key: "plain".into(),
        nocomp: true,
        ..stack::Config::default()
    };
    let stats = std::sync::Arc::new(std::sync::Mutex::new(kcp::net::SessionStats::default()));
    let work = async {
        let kcp = kcp::net::KcpStream::connect(relay.addr(), cfg.kcp_config())
            .await
            .unwrap();
        let tap = Tap {
            inner: kcp,
            stats: stats.clone(),
        };
        let session = smux::Session::client(tap, cfg.smux_config()).unwrap();
        let s = session.open_stream().await.unwrap();
        workload::bulk_client(s, Duration::from_secs(30), 4 << 20, 3)
            .await
            .expect("bulk checksummed by the sink")
    };
    let r = tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("done within 60 s");
    assert_eq!(r.bytes, 4 << 20);
    let st = *stats.lock().unwrap();
    eprintln!(
        "{} of {} datagrams without FEC framing, {} retransmits",
        st.datagrams_without_fec, st.datagrams_sent, st.retransmits
    );
    assert!(st.datagrams_without_fec >= 1000, "{st:?}");
    assert!(
        st.retransmits * 10 < st.datagrams_without_fec,
        "unframed datagrams were resent: {st:?}"
    );
    sink_task.abort();
    relay.finish().await.unwrap();
}

/// 16 MiB one way through a 20 ms, 100 Mbit/s relay with a 1000-packet queue and no loss: the sender's
/// statistics and the relay's counters.
async fn bulk_through_20ms() -> (kcp::net::SessionStats, RelayStats) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BULK: usize = 16 << 20;
    let cfg = kcp::net::Config::default();
    let (listener, server_addr) = kcp_listener(&cfg).await;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 << 10];
        let mut got = 0;
        while got < BULK {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "EOF after {got} bytes");
            assert!(buf[..n].iter().all(|&b| b == 7), "corrupted");
            got += n;
        }
    });
    let (up, down) = links(ImpairArgs {
        delay: "10ms".into(),
        rate: "100mbit".into(),
        queue: "1000".into(),
        ..Default::default()
    });
    let (relay, mut s) = connect_through(server_addr, up, down, 9, cfg).await;
    let work = async {
        let chunk = vec![7u8; 16 << 10];
        for _ in 0..BULK / chunk.len() {
            s.write_all(&chunk).await.unwrap();
        }
        server.await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("done within 60 s");
    let st = s.stats();
    let links = relay.finish().await.unwrap();
    eprintln!(
        "{} datagrams, {} retransmissions ({} fast); relay up {:?}, down {:?}",
        st.datagrams_sent, st.retransmits, st.fast_retransmits, links.up, links.down
    );
    (st, links)
}

/// A writer's inline flush and the driver's flush both send a session's datagrams; those sealed first must
/// leave first. Reordered, the peer's ACKs for newer segments arrive before those for older ones, which the
/// sender takes for losses: fast retransmissions on a path that neither loses nor reorders (before the
/// order was kept, 80 to 286 per run here, most in the first 200 ms, while ACKs clock the driver's flushes
/// and the writer still flushes inline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_datagrams_leave_in_the_order_sealed() {
    let (st, links) = bulk_through_20ms().await;
    assert_eq!(
        links.up.lost + links.up.queue_drops,
        0,
        "the path dropped: {:?}",
        links.up
    );
    assert_eq!(st.fast_retransmits, 0, "{st:?}");
}

/// A receiver holds ACKs of in-order data up to 2 ms, so one ACK datagram covers what arrives meanwhile
/// (about 16 datagrams at 100 Mbit/s). When it sent them after every receive batch, and the relay hands
/// datagrams over one by one, that was 1.3 ACK datagrams per data datagram (16,420 for 12,978): twice the
/// packets for both ends to process, and 5 % of the data rate back on the return path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_receiver_acknowledges_in_batches() {
    let (_, links) = bulk_through_20ms().await;
    assert!(links.up.sent > 10_000, "{:?}", links.up);
    assert!(
        links.down.sent * 8 < links.up.sent,
        "{} ACK datagrams for {} data datagrams",
        links.down.sent,
        links.up.sent
    );
}

/// Our defaults without FEC, so that every datagram is a message, an ACK or both.
fn without_fec() -> kcp::net::Config {
    kcp::net::Config {
        fec_data_shards: 0,
        fec_parity_shards: 0,
        ..Default::default()
    }
}

/// A KCP server that echoes `messages` 64-byte messages one by one, then hands back its stream.
async fn echo_server(
    cfg: &kcp::net::Config,
    messages: u64,
) -> (tokio::task::JoinHandle<kcp::net::KcpStream>, SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listener, addr) = kcp_listener(cfg).await;
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        for _ in 0..messages {
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        }
        s
    });
    (server, addr)
}

/// A server's ACK of a request rides on the reply its application writes (within the 2 ms an ACK of
/// in-order data may wait), instead of going alone just before it, and the client's ACK of the reply
/// rides on its next request: one datagram per message each way. When every received datagram was
/// acknowledged at once, the server sent two per reply (400 for 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_ack_rides_on_its_reply() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const ECHOES: u64 = 200;
    let cfg = without_fec();
    let (server, server_addr) = echo_server(&cfg, ECHOES).await;
    let (up, down) = links(ImpairArgs {
        delay: "1ms".into(),
        ..Default::default()
    });
    let (relay, mut c) = connect_through(server_addr, up, down, 9, cfg).await;
    let work = async {
        let mut buf = [0u8; 64];
        for i in 0..ECHOES {
            buf.fill(i as u8);
            c.write_all(&buf).await.unwrap();
            c.read_exact(&mut buf).await.unwrap();
            assert!(buf.iter().all(|&b| b == i as u8), "echo {i} corrupted");
        }
        server.await.unwrap()
    };
    let _s = tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("done within 30 s");
    let links = relay.finish().await.unwrap();
    eprintln!("relay up {:?}, down {:?}", links.up, links.down);
    assert!(
        links.down.sent < ECHOES * 5 / 4,
        "{} datagrams from the server for {ECHOES} replies",
        links.down.sent
    );
}

/// As above, but pipelined: the client sends a message every 5 ms on a 20 ms round trip without waiting
/// for replies, so each request reaches the server while its earlier replies are still unacknowledged.
/// The ACK of a request still waits (up to 2 ms) for the reply and rides on it. When a session with data
/// in flight acknowledged every received datagram at once, the server sent two datagrams per reply, an
/// ACK alone and then the reply (kcptun's server sends one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_ack_rides_on_its_reply_while_replies_are_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const ECHOES: u64 = 200;
    let cfg = without_fec();
    let (server, server_addr) = echo_server(&cfg, ECHOES).await;
    let (up, down) = links(ImpairArgs {
        delay: "10ms".into(),
        ..Default::default()
    });
    let (relay, c) = connect_through(server_addr, up, down, 9, cfg).await;
    let (mut rd, mut wr) = tokio::io::split(c);
    let work = async {
        let writer = async {
            // The pace of the messages, not a wait for anything.
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            for i in 0..ECHOES {
                tick.tick().await;
                wr.write_all(&[i as u8; 64]).await.unwrap();
            }
        };
        let reader = async {
            let mut buf = [0u8; 64];
            for i in 0..ECHOES {
                rd.read_exact(&mut buf).await.unwrap();
                assert!(buf.iter().all(|&b| b == i as u8), "echo {i} corrupted");
            }
        };
        tokio::join!(writer, reader);
        server.await.unwrap()
    };
    let s = tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("done within 30 s");
    let st = s.stats();
    let links = relay.finish().await.unwrap();
    eprintln!(
        "relay up {:?}, down {:?}; server {st:?}",
        links.up, links.down
    );
    assert!(
        links.down.sent < ECHOES * 5 / 4,
        "{} datagrams from the server for {ECHOES} replies",
        links.down.sent
    );
    assert_eq!(st.retransmits, 0, "held ACKs caused no retransmission");
}
