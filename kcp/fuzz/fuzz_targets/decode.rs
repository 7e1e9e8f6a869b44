//! Fuzzes `kcp::codec::Codec::decode` with every cipher setting, FEC on and off.
//!
//! Input: byte 0 picks the cipher (`CryptKind::ALL`), byte 1 the FEC shard counts and whether datagrams are
//! first sealed with a valid crypto header (so that arbitrary bytes get past the CRC and reach the FEC
//! decoder); the rest is a sequence of datagrams, each prefixed by a one-byte length (times 6, to reach
//! full-size datagrams). Checks: no panic, the FEC queue stays within its configured bound, every yielded
//! KCP datagram lies within the received bytes' size limits.
#![no_main]

use kcp::codec::{Codec, CodecConfig, CryptKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let crypt = CryptKind::ALL[usize::from(data[0]) % CryptKind::ALL.len()];
    let (ds, ps) = [(0, 0), (1, 1), (3, 2), (10, 3), (20, 10)][usize::from(data[1] & 7) % 5];
    let seal = data[1] & 0x80 != 0;
    let key = [0x42; 32];
    let mut rx = Codec::new(&CodecConfig::new(crypt, key, ds, ps)).expect("valid config");
    let mut sealer = Codec::new(&CodecConfig::new(crypt, key, 0, 0)).expect("valid config");
    let mut rest = &data[2..];
    let mut now = 0u32;
    let mut buf = Vec::with_capacity(1600);
    while let Some((&len, tail)) = rest.split_first() {
        let len = (usize::from(len) * 6).min(tail.len());
        let (dg, tail) = tail.split_at(len);
        rest = tail;
        now = now.wrapping_add(u32::from(len as u8) * 97);
        buf.clear();
        if seal {
            buf.resize(sealer.header_len(), 0);
            buf.extend_from_slice(dg);
            if sealer.encode(&mut buf, now).is_err() {
                continue;
            }
        } else {
            buf.extend_from_slice(dg);
        }
        let received = buf.len();
        for pkt in rx.decode(&mut buf, now) {
            assert!(pkt.data.len() <= received.max(1500));
        }
        let (stored, limit) = rx.fec_queue();
        assert!(stored <= limit, "FEC queue {stored} above its bound {limit}");
    }
});
