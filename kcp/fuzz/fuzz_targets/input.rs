//! Feeds arbitrary datagrams to `Kcp::input`, interleaved with sends, flushes and reads.
//!
//! Input layout: one flag byte (bit 0 stream mode, bit 1 FEC-recovered, bit 2 ack_nodelay), then records of
//! `u16 length (LE) | datagram`. Datagrams starting with `0x0403_0201` LE carry the session's conv.

#![no_main]

use kcp::proto::{Kcp, KcpConfig, Preset};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else { return };
    let cfg = KcpConfig {
        preset: Preset::Fast3,
        snd_wnd: 64,
        rcv_wnd: 64,
        max_snd_wnd: if flags & 8 != 0 { 1024 } else { 0 },
        stream: flags & 1 != 0,
        ack_nodelay: flags & 4 != 0,
        reserved: 8,
        ..Default::default()
    };
    let mut k = Kcp::new(0x0403_0201, &cfg).expect("valid config");
    let mut now = 0u32;
    k.send(&[0xab; 3000]).expect("send");
    while rest.len() >= 2 {
        let n = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        rest = &rest[2..];
        let n = n.min(rest.len());
        let (dgram, tail) = rest.split_at(n);
        rest = tail;
        let before = format!("{:?}", k.stats());
        if k.input(now, dgram, flags & 2 == 0).is_err() {
            let mut s = k.stats();
            s.in_errors -= 1;
            assert_eq!(format!("{s:?}"), before, "rejected input changed state");
        }
        now = now.wrapping_add(u32::from(dgram.first().copied().unwrap_or(1)));
        k.update(now, |d| assert!(d.len() <= 1400 && d.len() >= 8 + 24));
        let _ = k.check(now);
        while k.recv_bytes().is_some() {}
        if k.can_send() {
            k.send(dgram).ok();
        }
    }
});
