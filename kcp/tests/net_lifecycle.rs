//! Session lifecycle on loopback: backpressure, a vanished peer, freeing of ended sessions, messages.

mod common;

use std::time::{Duration, Instant};

use common::config;
use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, KcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn small() -> Config {
    Config {
        send_window: 32,
        recv_window: 32,
        write_queue: 16,
        window_memory: 0,
        ..config(CryptKind::Aes128, 10, 3)
    }
}

/// A reader that does not read stops the writer after a bounded amount; reading lets it go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_when_window_and_queue_are_full() {
    let cfg = small();
    let mss = (cfg.mtu - 24 - 28) as u64;
    // Our send window + write queue + the peer's receive window, in segments.
    let bound =
        (u64::from(cfg.send_window) + u64::from(cfg.write_queue) + u64::from(cfg.recv_window) + 1)
            * mss;
    backpressure(cfg, bound).await;
}

/// With automatic windows, what a stalled reader lets the writer push is bounded by `window_memory` (the
/// peer's receive window, our send window's ceiling) plus the write queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_windows_stay_within_window_memory() {
    let cfg = Config {
        window_memory: 256 << 10,
        ..small()
    };
    let mss = (cfg.mtu - 24 - 28) as u64;
    let bound = 2 * cfg.window_memory as u64 + (u64::from(cfg.write_queue) + 1) * mss;
    backpressure(cfg, bound).await;
}

async fn backpressure(cfg: Config, bound: u64) {
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
    let mut client = KcpStream::connect(listener.local_addr().unwrap(), cfg.clone())
        .await
        .unwrap();
    client.write_all(b"x").await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let chunk = vec![7u8; 16 * 1024];
    let mut written = 1u64;
    // Write until a write stays pending for a second: the peer's window and ours are full.
    loop {
        match tokio::time::timeout(Duration::from_secs(1), client.write(&chunk)).await {
            Ok(n) => written += n.unwrap() as u64,
            Err(_) => break,
        }
        assert!(written < 64 << 20, "writer never blocked");
    }
    let mss = (cfg.mtu - 24 - 28) as u64;
    assert!(written <= bound, "accepted {written} bytes, bound {bound}");
    let rcv_wnd = u64::from(cfg.recv_window).max(cfg.window_memory as u64 / mss);
    assert!(
        written >= rcv_wnd * mss,
        "only {written} bytes moved before blocking"
    );
    let st = client.stats();
    let send_ceiling = usize::from(cfg.send_window).max(cfg.window_memory / mss as usize);
    assert!(st.wait_snd as usize <= send_ceiling + usize::from(cfg.write_queue));
    // Drain on the server while the client goes on writing: it must make progress again.
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while total < written + (1 << 20) {
            total += server.read(&mut buf).await.unwrap() as u64;
        }
        total
    });
    let more = vec![9u8; 1 << 20];
    tokio::time::timeout(Duration::from_secs(30), client.write_all(&more))
        .await
        .unwrap()
        .unwrap();
    let total = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(total >= written + (1 << 20));
}

/// A UDP forwarder between a client and `server` that can go silent: once `cut` is set it drops
/// everything, as a vanished host or a broken path does (no ICMP error reaches the client).
async fn cuttable_path(
    server: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let front = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let back = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    back.connect(server).await.unwrap();
    let addr = front.local_addr().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let client = Arc::new(std::sync::Mutex::new(None));
    let (f, b, c, k) = (front.clone(), back.clone(), client.clone(), cut.clone());
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = f.recv_from(&mut buf).await {
            *c.lock().unwrap() = Some(from);
            if !k.load(Ordering::Relaxed) {
                let _ = b.send(&buf[..n]).await;
            }
        }
    });
    let k = cut.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok(n) = back.recv(&mut buf).await {
            let to = *client.lock().unwrap();
            if let Some(to) = to
                && !k.load(Ordering::Relaxed)
            {
                let _ = front.send_to(&buf[..n], to).await;
            }
        }
    });
    (addr, cut)
}

/// The server vanishes without a word (the path goes silent): the client's blocked read and its writes
/// fail with `TimedOut` within the idle timeout (plus scheduling slack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_peer_ends_reads_and_writes_with_timeout() {
    let idle = Duration::from_millis(1500);
    let cfg = Config {
        idle_timeout: Some(idle),
        ..small()
    };
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
    let (path, cut) = cuttable_path(listener.local_addr().unwrap()).await;
    let client = KcpStream::connect(path, cfg).await.unwrap();
    let (mut r, mut w) = tokio::io::split(client);
    w.write_all(b"hello").await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 5];
    server.read_exact(&mut buf).await.unwrap();
    // Vanish: nothing passes either way from now on.
    cut.store(true, std::sync::atomic::Ordering::Relaxed);
    let gone = Instant::now();
    let reader = tokio::spawn(async move {
        let mut b = [0u8; 16];
        let e = r.read(&mut b).await.expect_err("read must fail");
        (e.kind(), gone.elapsed())
    });
    let writer = tokio::spawn(async move {
        let chunk = [1u8; 4096];
        loop {
            if let Err(e) = w.write_all(&chunk).await {
                return (e.kind(), gone.elapsed());
            }
        }
    });
    let bound = idle + Duration::from_millis(1500);
    let (rk, rt) = tokio::time::timeout(bound * 2, reader)
        .await
        .expect("read never failed")
        .unwrap();
    let (wk, wt) = tokio::time::timeout(bound * 2, writer)
        .await
        .expect("write never failed")
        .unwrap();
    assert_eq!(rk, std::io::ErrorKind::TimedOut);
    assert_eq!(wk, std::io::ErrorKind::TimedOut);
    assert!(rt <= bound, "read failed after {rt:?}, bound {bound:?}");
    assert!(wt <= bound, "write failed after {wt:?}, bound {bound:?}");
}

/// Sessions that end free their state; driver tasks exit when their socket has nothing left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_and_their_tasks_are_freed() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let cfg = Config {
        close_linger: Duration::from_millis(100),
        ..small()
    };
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::new();
    for i in 0..50u8 {
        let mut c = KcpStream::connect(addr, cfg.clone()).await.unwrap();
        c.write_all(&[i; 3000]).await.unwrap();
        clients.push(c);
    }
    let mut servers = Vec::new();
    for _ in 0..50 {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut b = vec![0u8; 3000];
        s.read_exact(&mut b).await.unwrap();
        assert!(b.iter().all(|&x| x == b[0]));
        servers.push(s);
    }
    assert_eq!(listener.live_sessions(), 50);
    // Listener driver + 50 client drivers.
    assert_eq!(metrics.num_alive_tasks(), baseline + 51);
    for mut c in clients {
        c.shutdown().await.unwrap();
    }
    drop(servers);
    let freed = async {
        while listener.live_sessions() != 0 || metrics.num_alive_tasks() != baseline + 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), freed)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "live sessions {}, tasks {} (baseline {baseline})",
                listener.live_sessions(),
                metrics.num_alive_tasks()
            )
        });
    drop(listener);
    let gone = async {
        while metrics.num_alive_tasks() != baseline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("listener driver did not exit");
}

/// Message mode keeps boundaries, including messages of several segments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_mode_keeps_boundaries() {
    let cfg = Config {
        stream_mode: false,
        ..small()
    };
    let listener = KcpListener::bind("127.0.0.1:0", cfg.clone()).await.unwrap();
    let client = KcpStream::connect(listener.local_addr().unwrap(), cfg)
        .await
        .unwrap();
    let sizes = [1usize, 100, 1297, 1298, 1299, 5000, 20_000];
    for (i, &n) in sizes.iter().enumerate() {
        client.send_msg(&vec![i as u8; n]).await.unwrap();
    }
    let (server, _) = listener.accept().await.unwrap();
    let mut buf = vec![0u8; 32 * 1024];
    for (i, &n) in sizes.iter().enumerate() {
        let got = server.recv_msg(&mut buf).await.unwrap();
        assert_eq!(got, n);
        assert!(buf[..n].iter().all(|&b| b == i as u8));
    }
    let mut tiny = [0u8; 10];
    client.send_msg(&[1u8; 11]).await.unwrap();
    let e = server
        .recv_msg(&mut tiny)
        .await
        .expect_err("too small a buffer");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        server.recv_msg(&mut buf).await.unwrap(),
        11,
        "the message stays queued"
    );
}

/// kcp-go's listener rules, driven by hand-made datagrams (crypt null, no FEC): a new conv with
/// `sn == 0` from a known address replaces its session; another conv with `sn != 0` is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_conversation_from_same_address_replaces_the_session() {
    let cfg = Config {
        crypt: CryptKind::Null,
        fec_data_shards: 0,
        fec_parity_shards: 0,
        ..small()
    };
    let listener = KcpListener::bind("127.0.0.1:0", cfg).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let push = |conv: u32, sn: u32, payload: &[u8]| {
        let mut d = Vec::with_capacity(24 + payload.len());
        d.extend_from_slice(&conv.to_le_bytes());
        d.extend_from_slice(&[81, 0]); // PUSH, frg 0
        d.extend_from_slice(&32u16.to_le_bytes()); // wnd
        d.extend_from_slice(&0u32.to_le_bytes()); // ts
        d.extend_from_slice(&sn.to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes()); // una
        d.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        d.extend_from_slice(payload);
        d
    };
    sock.send_to(&push(1, 0, b"one"), addr).await.unwrap();
    let (mut first, _) = listener.accept().await.unwrap();
    assert_eq!(first.conv(), 1);
    let mut b = [0u8; 3];
    first.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"one");
    // Another conv mid-stream (sn 5) from the same address: dropped, the session stays.
    sock.send_to(&push(9, 5, b"bad"), addr).await.unwrap();
    // A new conversation (sn 0): the old session ends, a new one is accepted.
    sock.send_to(&push(2, 0, b"two"), addr).await.unwrap();
    let (mut second, _) = listener.accept().await.unwrap();
    assert_eq!(
        second.conv(),
        2,
        "the sn 5 datagram must not have opened a session"
    );
    second.read_exact(&mut b).await.unwrap();
    assert_eq!(&b, b"two");
    let e = first
        .read(&mut b)
        .await
        .expect_err("replaced session must fail");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(listener.live_sessions(), 1);
}

/// Regression: a write flushed inline while only the idle-timeout timer was armed must still arm the
/// retransmission timer. Before the fix the first datagram, if lost, was resent only when the idle timer
/// fired (seconds later), so `stack::connect` through a lossy link timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_datagram_lost_is_retransmitted_promptly() {
    let cfg = Config {
        idle_timeout: Some(Duration::from_secs(30)),
        ..config(CryptKind::None, 0, 0)
    };
    // A raw UDP socket plays the server and never answers: every datagram it sees is a (re)transmission.
    let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut client = KcpStream::connect(raw.local_addr().unwrap(), cfg)
        .await
        .unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 2048];
    let first = tokio::time::timeout(Duration::from_secs(5), raw.recv_from(&mut buf))
        .await
        .expect("first datagram never sent")
        .unwrap();
    assert!(first.0 > 0);
    let started = Instant::now();
    // The first RTO is 200 ms (fast mode's minimum is 100 ms); allow generous slack for a loaded machine,
    // but far less than the 30 s idle timer the bug waited for.
    tokio::time::timeout(Duration::from_secs(5), raw.recv_from(&mut buf))
        .await
        .expect("lost first datagram was not retransmitted within 5 s")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// A client connecting to a loopback port nobody listens on learns of the refusal (ICMP port unreachable)
/// instead of waiting for the idle timeout: its reader and writer end with `ConnectionRefused`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_ends_client_with_connection_refused() {
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let cfg = Config {
        // Long enough that only the refusal can end the session within the test's bound.
        idle_timeout: Some(Duration::from_secs(60)),
        ..small()
    };
    let mut client = KcpStream::connect(closed, cfg).await.unwrap();
    let start = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(5), async {
        // The first write normally succeeds (queued and sent); the refusal arrives after it.
        let _ = client.write_all(b"hello").await;
        let mut buf = [0u8; 16];
        client.read(&mut buf).await
    })
    .await
    .expect("refusal not reported within 5 s");
    let err = outcome.expect_err("read from a refused session returned data");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    let err = client
        .write_all(b"again")
        .await
        .expect_err("write after refusal");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    eprintln!("refused after {:?}", start.elapsed());
}
