//! The large bandwidth-delay case kcp-go stalls on (its issue 338): window 32,768 with 30,000+ segments in flight
//! and 1 % loss. Data must arrive intact and the window must really fill.

use kcp::proto::{Kcp, Preset};
use netem_tests::link::{Link, LinkConfig, Loss};
use netem_tests::sim::{Pair, sim_config};

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

#[test]
fn window_32k_with_30k_in_flight_and_loss() {
    let cfg = sim_config(Preset::Fast3, true, 32_768);
    let link = |seed| {
        Link::new(
            LinkConfig {
                delay_us: 100_000,
                loss: Loss::Independent(0.01),
                fifo: true,
                ..Default::default()
            },
            seed,
        )
    };
    let mut p = Pair::new(
        Kcp::new(3, &cfg).unwrap(),
        Kcp::new(3, &cfg).unwrap(),
        link(1),
        link(2),
    );
    let total = 80usize << 20;
    let chunk: Vec<u8> = (0..65_536 * 251).map(pattern).take(251 * 4096).collect();
    let (mut sent, mut got, mut max_in_flight) = (0usize, 0usize, 0u32);
    while got < total {
        assert!(p.now_ms() < 120_000, "stalled at {got} of {total} bytes");
        let mut wrote = false;
        while sent < total && p.a.can_send() {
            // Chunks are multiples of 251 bytes long so the pattern continues across writes.
            let n = chunk.len().min(total - sent);
            p.a.send(&chunk[..n]).unwrap();
            sent += n;
            wrote = true;
        }
        if wrote {
            p.flush_a();
        }
        p.step();
        max_in_flight = max_in_flight.max(p.a.stats().in_flight);
        while let Some(b) = p.b.recv_bytes() {
            for (k, &x) in b.iter().enumerate() {
                assert_eq!(x, pattern(got + k), "byte {} corrupted", got + k);
            }
            got += b.len();
        }
        p.advance(None);
    }
    assert_eq!(got, total);
    assert!(
        max_in_flight >= 30_000,
        "window never filled: {max_in_flight}"
    );
    let s = p.a.stats();
    assert!(s.retrans_segs > 0 && p.ab.stats().lost > 500, "{s:?}");
}
