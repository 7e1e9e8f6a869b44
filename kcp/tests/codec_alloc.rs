//! Steady state allocates nothing per packet: encoding (data + parity, sealed) and decoding (checks, FEC
//! bookkeeping) of a long stream. Allocations are counted on the test's own thread only (a process-wide
//! counter also saw the test harness's threads and failed now and then on a busy machine).

use kcp::codec::{Codec, CodecConfig};

#[test]
fn steady_state_encode_and_decode_allocate_nothing() {
    for crypt in ["aes", "salsa20", "none", "null"] {
        let cfg = CodecConfig::kcptun(crypt, "k", 10, 3);
        let mut tx = Codec::new(&cfg).unwrap();
        let mut rx = Codec::new(&cfg).unwrap();
        let h = tx.header_len();
        let mut buf = vec![0u8; 1350];
        let mut parity = vec![vec![0u8; 1500]; 3];
        let mut delivered = 0usize;
        let mut run = |rounds: u32, tx: &mut Codec, rx: &mut Codec| {
            for i in 0..rounds {
                let len = 100 + (i as usize * 37) % (1350 - 100);
                let dg = &mut buf[..len];
                dg[h..h + 4].copy_from_slice(&i.to_le_bytes());
                dg[h + 4] = 81;
                let mut n = 0;
                for (slot, p) in parity.iter_mut().zip(tx.encode(dg, i).unwrap()) {
                    slot[..p.len()].copy_from_slice(p);
                    n = p.len();
                }
                delivered += rx.decode(dg, i).count();
                let produced = if n > 0 { 3 } else { 0 };
                for slot in parity.iter_mut().take(produced) {
                    delivered += rx.decode(&mut slot[..n], i).count();
                }
            }
        };
        run(200, &mut tx, &mut rx); // warm-up: pools and queues reach their working size
        let change = allocation_counter::measure(|| run(5000, &mut tx, &mut rx));
        assert_eq!(
            change.count_total, 0,
            "{crypt}: allocations in steady state"
        );
        assert_eq!(delivered, 5200, "{crypt}");

        // The batch path: flushes of 32 datagrams, parity copied out by the sink, everything decoded.
        let mut flush: Vec<Vec<u8>> = vec![vec![0u8; 1350]; 32];
        let mut out: Vec<Vec<u8>> = vec![vec![0u8; 1500]; 48];
        let mut out_len = vec![0usize; 48];
        let mut delivered = 0usize;
        let mut batch = |rounds: u32, tx: &mut Codec, rx: &mut Codec| {
            for r in 0..rounds {
                for (k, dg) in flush.iter_mut().enumerate() {
                    let len = 100 + ((r as usize * 32 + k) * 37) % (1350 - 100);
                    dg.resize(len, 0);
                    dg[h..h + 4].copy_from_slice(&(r * 32 + k as u32).to_le_bytes());
                    dg[h + 4] = 81;
                }
                let mut n = 0;
                tx.encode_batch(&mut flush, r, |s| {
                    out[n][..s.bytes.len()].copy_from_slice(s.bytes);
                    out_len[n] = s.bytes.len();
                    n += 1;
                })
                .unwrap();
                for (o, &len) in out.iter_mut().zip(&out_len).take(n) {
                    delivered += rx.decode(&mut o[..len], r).count();
                }
            }
        };
        batch(20, &mut tx, &mut rx);
        let change = allocation_counter::measure(|| batch(300, &mut tx, &mut rx));
        assert_eq!(change.count_total, 0, "{crypt}: batch allocations");
        assert_eq!(delivered, 320 * 32, "{crypt}: batch");
    }
}

/// A new session's envelope holds neither FEC shard buffers (13 x 1500 bytes with 10/3) nor Reed-Solomon
/// codes (about 9 KB each for encoder and decoder) before it needs them: shard buffers come with the first
/// datagram, at full size once, the codes with the first parity to compute or shard to rebuild.
#[test]
fn fec_buffers_and_codes_are_allocated_on_first_use() {
    let cfg = CodecConfig::kcptun("aes", "k", 10, 3);
    let mut codec = None;
    let new = allocation_counter::measure(|| codec = Some(Codec::new(&cfg).unwrap()));
    let mut tx = codec.unwrap();
    let h = tx.header_len();
    let mut buf = vec![0u8; 1350];
    let first = allocation_counter::measure(|| {
        tx.encode(&mut buf[..h + 100], 0).unwrap();
    });
    println!("Codec::new: {new:?}\nfirst encode: {first:?}");
    assert!(
        new.bytes_total < 4096,
        "Codec::new allocated {} bytes",
        new.bytes_total
    );
    assert!(
        first.bytes_total >= 1500,
        "the first datagram's shard buffer"
    );
    // The rest of the group, its parity, and the next groups (longer datagrams too) reuse those buffers
    // once each buffer has been used.
    for i in 1..30u32 {
        tx.encode(&mut buf[..h + 100 + i as usize * 40], i).unwrap();
    }
    let later = allocation_counter::measure(|| {
        for i in 30..60u32 {
            tx.encode(&mut buf[..h + 1300 - i as usize * 10], i)
                .unwrap();
        }
    });
    assert_eq!(later.count_total, 0, "after warm-up: {later:?}");
}
