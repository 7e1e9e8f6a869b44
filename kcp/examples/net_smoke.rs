use kcp::codec::CryptKind;
use kcp::net::{Config, KcpListener, KcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cfg = Config {
        crypt: CryptKind::None,
        fec_data_shards: 0,
        fec_parity_shards: 0,
        ..Config::default()
    };
    let l = KcpListener::bind("127.0.0.1:0", cfg.clone()).await?;
    let addr = l.local_addr()?;
    let srv = tokio::spawn(async move {
        let (mut s, peer) = l.accept().await?;
        println!("accepted {peer} conv {}", s.conv());
        let mut buf = vec![0u8; 100];
        let n = s.read(&mut buf).await?;
        s.write_all(&buf[..n]).await?;
        s.shutdown().await?;
        println!("server live {}", l.live_sessions());
        drop(s);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        println!("server live after drop {}", l.live_sessions());
        std::io::Result::Ok(())
    });
    let mut c = KcpStream::connect(addr, cfg).await?;
    c.write_all(b"hello kcp").await?;
    let mut buf = [0u8; 9];
    c.read_exact(&mut buf).await?;
    println!("client got {:?}", std::str::from_utf8(&buf));
    srv.await.unwrap()?;
    println!("{:?}", kcp::net::snmp().snapshot());
    Ok(())
}
