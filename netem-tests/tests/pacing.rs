//! Pacing under a fixed window (virtual clock, seeded): a kcptun-style fixed window larger than the
//! bottleneck queue must not flood it each time the window opens at once.

use kcp::proto::{Kcp, Preset};
use netem_tests::link::{Link, LinkConfig, UDP_IPV4_OVERHEAD};
use netem_tests::sim::{Pair, sim_config};

/// 100 Mbit/s.
const RATE: u64 = 100_000_000 / 8;
const SECS: u64 = 10;

struct Outcome {
    /// Payload bytes per second delivered in order over the whole run.
    goodput: f64,
    queue_drops: u64,
    retrans_segs: u64,
    /// Fast retransmissions (each one a hole seen by the receiver).
    fast_retrans: u64,
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Bulk a -> b in fast3 with windows of 1024 over 200 ms RTT at 100 Mbit/s with a `queue`-packet
/// bottleneck, no loss.
fn bulk(pacing: bool, queue: usize) -> Outcome {
    bulk_on(pacing, 100_000, Some(RATE), queue)
}

fn bulk_on(pacing: bool, delay_us: u64, rate: Option<u64>, queue: usize) -> Outcome {
    let mut cfg = sim_config(Preset::Fast3, true, 1024);
    cfg.mtu = 1350;
    cfg.rcv_wnd = 1024;
    let link = |seed| {
        Link::new(
            LinkConfig {
                delay_us,
                rate_bytes_per_sec: rate,
                queue_limit: queue,
                packet_overhead: UDP_IPV4_OVERHEAD,
                fifo: true,
                ..Default::default()
            },
            seed,
        )
    };
    let mut a = Kcp::new(5, &cfg).unwrap();
    a.set_pacing(pacing);
    let mut p = Pair::new(a, Kcp::new(5, &cfg).unwrap(), link(1), link(2));
    let chunk: Vec<u8> = (0..251 * 256).map(pattern).collect();
    let (mut sent, mut got) = (0usize, 0usize);
    while p.now_ms() < SECS * 1000 {
        p.bulk_step(&chunk, &mut sent, |b| {
            for (k, &x) in b.iter().enumerate() {
                assert_eq!(x, pattern(got + k), "byte {} corrupted", got + k);
            }
            got += b.len();
        });
        p.advance(None);
    }
    assert!(got <= sent);
    Outcome {
        goodput: got as f64 / SECS as f64,
        queue_drops: p.ab.stats().queue_drops,
        retrans_segs: p.a.stats().retrans_segs,
        fast_retrans: p.a.stats().fast_retrans_segs,
    }
}

#[test]
fn a_fixed_window_larger_than_the_queue_is_paced_into_it() {
    // The window (1024 segments, 1.38 MB) is more than the 600-packet queue holds but less than the
    // path's bandwidth-delay product (2.5 MB): paced, it fills the window's rate, 1024 x 1298 B / 200 ms
    // = 53 Mbit/s, without a queue drop.
    let mss = 1350 - 24 - netem_tests::sim::ENVELOPE;
    let window_rate = 1024.0 * mss as f64 / 0.2;
    let paced = bulk(true, 600);
    let burst = bulk(false, 600);
    for (name, o) in [("paced", &paced), ("unpaced", &burst)] {
        eprintln!(
            "{name}: {:.1} Mbit/s ({:.0} % of the window's rate), {} queue drops, {} retransmissions ({} fast)",
            o.goodput * 8e-6,
            o.goodput / window_rate * 100.0,
            o.queue_drops,
            o.retrans_segs,
            o.fast_retrans
        );
    }
    // Paced, nothing is lost, so nothing is fast-retransmitted; the retransmissions left are the first
    // window's timeouts (kcp-go's initial RTO, 200 ms, is shorter than this path's first RTT).
    assert_eq!(paced.queue_drops, 0);
    assert_eq!(paced.fast_retrans, 0);
    assert!(paced.goodput > 0.85 * window_rate, "{:.0}", paced.goodput);
    // Unpaced, the window overflows the queue (1,639 drops) and loses about a tenth of its rate (50.7
    // against 44.7 Mbit/s; 35.3 before the receiver acknowledged within 2 ms, which smooths the bursts).
    assert!(burst.queue_drops > 500, "{}", burst.queue_drops);
    assert!(paced.goodput > 1.08 * burst.goodput);
}
