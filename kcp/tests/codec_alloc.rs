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
