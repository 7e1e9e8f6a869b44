//! Regression: a KCP session whose first datagram is lost must retransmit it (RTO), so a connect through a lossy
//! path succeeds. Found by the small matrix at 10 % loss (stack connect timed out after one datagram).

use std::time::Duration;

use netem_tests::impair::ImpairArgs;
use netem_tests::relay::{Relay, RelayConfig};

#[tokio::test]
async fn first_datagram_lost_is_retransmitted() {
    let lo: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let cfg = kcp::net::Config {
        crypt: kcp::codec::CryptKind::None,
        fec_data_shards: 0,
        fec_parity_shards: 0,
        ..Default::default()
    };
    let listener = kcp::net::KcpListener::bind(lo, cfg.clone()).await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        netem_tests::workload::serve(s).await
    });
    // Everything the client sends in its first 100 ms is dropped.
    let (up, down) = ImpairArgs {
        blackhole: vec!["0ms+100ms".into()],
        ..Default::default()
    }
    .links()
    .unwrap();
    let relay = Relay::spawn(lo, RelayConfig::new(server_addr, up, down, 1))
        .await
        .unwrap();
    let s = kcp::net::KcpStream::connect(relay.addr(), cfg)
        .await
        .unwrap();
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        netem_tests::workload::interactive_client(
            s,
            Duration::from_millis(200),
            Duration::from_millis(20),
        ),
    )
    .await;
    let st = relay.finish().await.unwrap();
    eprintln!("{st:?}");
    let r = r
        .expect("echoes within 10 s despite the lost first datagrams")
        .unwrap();
    assert_eq!(r.rtts_us.len(), 10);
}

#[tokio::test]
async fn stack_connect_survives_a_lost_first_datagram() {
    let lo: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    // The matrix's "same settings" (windows 1024/1024, FEC 10/3, no compression).
    let cfg = stack::Config {
        nocomp: true,
        sndwnd: 1024,
        rcvwnd: 1024,
        ..stack::Config::default()
    };
    let listener = stack::KcpSmuxListener::bind(lo, cfg.clone()).await.unwrap();
    let server_addr = listener.local_addr();
    tokio::spawn(async move {
        let (s, _) = listener.accept().await.unwrap();
        netem_tests::workload::serve(s).await
    });
    let (up, down) = ImpairArgs {
        blackhole: vec!["0ms+100ms".into()],
        ..Default::default()
    }
    .links()
    .unwrap();
    let relay = Relay::spawn(lo, RelayConfig::new(server_addr, up, down, 1))
        .await
        .unwrap();
    let c = stack::connect(relay.addr(), &cfg).await;
    let st = relay.finish().await.unwrap();
    eprintln!("{st:?}");
    c.expect("connect retransmits its probe");
}

/// Regression: 10 % loss, seed 8 (the first datagram is lost), the matrix's settings. With net b0dfbc3 ("writers
/// flush and send inline") the connect probe was sent once and not retransmitted before the idle timer: an
/// inline write did not re-arm the retransmission timer when another timer was armed (fixed in net 52abc1c).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_connect_through_ten_percent_loss_seed_8() {
    let lo: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let cfg = stack::Config {
        nocomp: true,
        sndwnd: 1024,
        rcvwnd: 1024,
        ..stack::Config::default()
    };
    for _ in 0..4 {
        let listener = stack::KcpSmuxListener::bind(lo, cfg.clone()).await.unwrap();
        let (up, down) = ImpairArgs {
            delay: "20ms".into(),
            loss: "10%".into(),
            ..Default::default()
        }
        .links()
        .unwrap();
        let relay = Relay::spawn(lo, RelayConfig::new(listener.local_addr(), up, down, 8))
            .await
            .unwrap();
        let c = stack::connect(relay.addr(), &cfg).await;
        let st = relay.finish().await.unwrap();
        c.unwrap_or_else(|e| panic!("{e}; relay saw {st:?}"));
    }
}
