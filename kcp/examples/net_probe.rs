//! Diagnostic: bulk one-way on loopback, printing progress and sender state every 100 ms.
use std::time::{Duration, Instant};

use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, KcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let cfg = Config {
        preset: kcp::proto::Preset::Fast,
        send_window: 1024,
        recv_window: 1024,
        crypt: if std::env::var_os("AES").is_some() {
            CryptKind::Aes256
        } else {
            CryptKind::None
        },
        fec_data_shards: if std::env::var_os("AES").is_some() {
            10
        } else {
            0
        },
        fec_parity_shards: if std::env::var_os("AES").is_some() {
            3
        } else {
            0
        },
        ..Config::default()
    };
    let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    let client = KcpStream::connect(l.local_addr()?, cfg).await?;
    let client = std::sync::Arc::new(tokio::sync::Mutex::new(client));
    let c2 = client.clone();
    let stats = tokio::spawn(async move {
        let buf = vec![0u8; 65536];
        let mut c = c2.lock().await;
        while c.write_all(&buf).await.is_ok() {}
    });
    let (mut s, _) = l.accept().await?;
    let mut buf = vec![0u8; 256 * 1024];
    let t0 = Instant::now();
    let mut total = 0u64;
    let mut last = Instant::now();
    while t0.elapsed() < Duration::from_secs(3) {
        total += s.read(&mut buf).await? as u64;
        if last.elapsed() > Duration::from_millis(100) {
            last = Instant::now();
            let snmp = kcp::net::snmp().snapshot();
            println!(
                "{:>5} ms {:>7.1} MiB retrans {} lost {} fast {} early {} fec_rec {} parity {} csum {}",
                t0.elapsed().as_millis(),
                total as f64 / 1048576.0,
                snmp.retrans_segs,
                snmp.lost_segs,
                snmp.fast_retrans_segs,
                snmp.early_retrans_segs,
                snmp.fec_recovered,
                snmp.fec_parity_shards,
                snmp.in_csum_errors
            );
        }
    }
    stats.abort();
    Ok(())
}
