use kcp::proto::{Kcp, KcpConfig, Preset};
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}
fn main() {
    let cfg = KcpConfig {
        preset: Preset::Fast,
        snd_wnd: 128,
        rcv_wnd: 512,
        max_snd_wnd: 0,
        mtu: 1350,
        stream: true,
        reserved: 28,
        ack_nodelay: false,
    };
    let n = 3000;
    let r0 = rss();
    let mut v: Vec<Kcp> = (0..n).map(|i| Kcp::new(i, &cfg).unwrap()).collect();
    let r1 = rss();
    let mut a = Kcp::new(7, &cfg).unwrap();
    a.send(b"x").unwrap();
    let mut dg = Vec::new();
    a.flush(0, |d| dg.push(d[28..].to_vec()));
    for (i, k) in v.iter_mut().enumerate() {
        let mut d = dg[0].clone();
        d[0..4].copy_from_slice(&(i as u32).to_le_bytes());
        k.input(1, &d, true).unwrap();
        k.flush(2, |_| {});
    }
    let r2 = rss();
    // Sessions that finished an exchange (data read, ACK sent) and then released their idle buffers. Each is
    // released before the next is used, so freed memory is reused and RSS shows what an idle session keeps.
    let mut w: Vec<Kcp> = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut k = Kcp::new(i, &cfg).unwrap();
        let mut d = dg[0].clone();
        d[0..4].copy_from_slice(&i.to_le_bytes());
        k.input(1, &d, true).unwrap();
        while k.recv_bytes().is_some() {}
        k.flush(2, |_| {});
        k.release_idle();
        w.push(k);
    }
    let r2b = rss();
    let heap: usize = w.iter().map(|k| k.heap_bytes()).sum::<usize>() / n as usize;
    let codecs: Vec<kcp::codec::Codec> = (0..n)
        .map(|_| {
            kcp::codec::Codec::new(&kcp::codec::CodecConfig::new(
                kcp::codec::CryptKind::from_kcptun_name(
                    &std::env::var("C").unwrap_or("aes".into()),
                ),
                [1; 32],
                std::env::var("DS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10),
                3,
            ))
            .unwrap()
        })
        .collect();
    let r3 = rss();
    println!(
        "new {} KiB/kcp, after input {} KiB/kcp, idle after exchange + release_idle {} KiB/kcp \
         (heap_bytes {heap} B + struct {} B), codec {} KiB",
        (r1 - r0) / n as u64,
        (r2 - r1) / n as u64,
        (r2b - r2) / n as u64,
        std::mem::size_of::<Kcp>(),
        (r3 - r2b) / n as u64
    );
    drop(codecs);
    drop(w);
}
