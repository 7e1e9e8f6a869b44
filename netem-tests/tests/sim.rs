//! Two endpoints through a hostile link: for many seeds, in message and stream mode and every preset, every
//! byte arrives exactly once and in order, in both directions.

use kcp::proto::{Kcp, Preset};
use netem_tests::link::{Link, LinkConfig, Loss};
use netem_tests::sim::{Pair, Schedule, sim_config};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PRESETS: [Preset; 5] = [
    Preset::Normal,
    Preset::Fast,
    Preset::Fast2,
    Preset::Fast3,
    Preset::KCP_DEFAULT,
];

fn hostile(seed: u64) -> Link {
    Link::new(
        LinkConfig {
            delay_us: 20_000,
            jitter_us: 15_000,
            loss: Loss::bursty(0.08, 3.0),
            reorder: 0.05,
            reorder_us: 30_000,
            duplicate: 0.03,
            corrupt: 0.02,
            rate_bytes_per_sec: Some(2_000_000),
            queue_limit: 64,
            blackholes: vec![(300_000, 900_000)],
            ..Default::default()
        },
        seed,
    )
}

/// What one side writes: a list of messages (message mode) or of writes (stream mode).
fn workload(seed: u64, total: usize, max_len: usize) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut n = 0;
    while n < total {
        let len = rng.random_range(1..=max_len);
        let mut m = vec![0u8; len];
        rng.fill(&mut m[..]);
        n += len;
        out.push(m);
    }
    out
}

struct Side {
    to_send: Vec<Vec<u8>>,
    next: usize,
    received: Vec<Vec<u8>>,
}

impl Side {
    fn pump(&mut self, k: &mut Kcp) -> bool {
        let mut wrote = false;
        while self.next < self.to_send.len() && k.can_send() {
            k.send(&self.to_send[self.next]).expect("send");
            self.next += 1;
            wrote = true;
        }
        wrote
    }

    fn drain(&mut self, k: &mut Kcp) {
        while let Some(b) = k.recv_bytes() {
            self.received.push(b.to_vec());
        }
    }
}

fn run(preset: Preset, stream: bool, seed: u64, schedule: Schedule) {
    let cfg = sim_config(preset, stream, 128);
    let mss = cfg.mss();
    let mut p = Pair::new(
        Kcp::new(seed as u32, &cfg).unwrap(),
        Kcp::new(seed as u32, &cfg).unwrap(),
        hostile(seed * 2 + 1),
        hostile(seed * 2 + 2),
    )
    .with_schedule(schedule);
    if seed % 3 == 0 {
        // Run across the wrap of the u32 millisecond clock.
        p = p.with_clock_offset(u32::MAX - 1_000);
    }
    let max_len = if stream { 3000 } else { 4 * mss };
    let mut a = Side {
        to_send: workload(seed, 500_000, max_len),
        next: 0,
        received: Vec::new(),
    };
    let mut b = Side {
        to_send: workload(seed ^ 0xff, 200_000, max_len),
        next: 0,
        received: Vec::new(),
    };
    let want_ab: usize = a.to_send.iter().map(Vec::len).sum();
    let want_ba: usize = b.to_send.iter().map(Vec::len).sum();
    let got = |s: &Side| s.received.iter().map(Vec::len).sum::<usize>();
    while p.now_ms() < 600_000 {
        if a.pump(&mut p.a) {
            p.flush_a();
        }
        if b.pump(&mut p.b) {
            p.flush_b();
        }
        p.step();
        a.drain(&mut p.a);
        b.drain(&mut p.b);
        if got(&b) >= want_ab && got(&a) >= want_ba {
            break;
        }
        p.advance(None);
    }
    let ctx = format!(
        "{preset:?} {schedule:?} stream={stream} seed={seed} t={}ms",
        p.now_ms()
    );
    assert_eq!(
        p.input_errors, 0,
        "{ctx}: a checksummed datagram was rejected"
    );
    assert!(
        p.ab.stats().blackholed > 0 && p.ab.stats().lost > 0,
        "{ctx}: the transfer missed the impairments"
    );
    for (name, sent, recv) in [
        ("a->b", &a.to_send, &b.received),
        ("b->a", &b.to_send, &a.received),
    ] {
        if stream {
            let s: Vec<u8> = sent.concat();
            let r: Vec<u8> = recv.concat();
            assert_eq!(r.len(), s.len(), "{ctx} {name}: byte count");
            assert!(r == s, "{ctx} {name}: stream differs");
            assert!(
                recv.iter().all(|x| x.len() <= mss),
                "{ctx} {name}: segment larger than mss"
            );
        } else {
            assert_eq!(recv.len(), sent.len(), "{ctx} {name}: message count");
            for (i, (x, y)) in sent.iter().zip(recv).enumerate() {
                assert!(x == y, "{ctx} {name}: message {i} differs");
            }
        }
    }
    // Nothing further arrives.
    assert!(
        p.a.peek_size().is_none() && p.b.peek_size().is_none(),
        "{ctx}: extra data"
    );
}

#[test]
fn message_mode_exactly_once_in_order() {
    for preset in PRESETS {
        for seed in 0..10 {
            run(preset, false, seed, Schedule::KcpGo);
        }
    }
}

#[test]
fn stream_mode_exactly_once_in_order() {
    for preset in PRESETS {
        for seed in 100..110 {
            run(preset, true, seed, Schedule::KcpGo);
        }
    }
}

/// The tokio edge's schedule (ACKs held up to 2 ms or until a reply carries them) on the same link.
#[test]
fn with_the_edges_ack_schedule_exactly_once_in_order() {
    for preset in PRESETS {
        for seed in 200..206 {
            run(preset, seed % 2 == 0, seed, Schedule::Edge);
        }
    }
}

#[test]
fn the_link_really_is_hostile() {
    // The impairments the tests above rely on actually happen on this link.
    let mut l = hostile(1);
    for i in 0..20_000u64 {
        l.send(i * 100, vec![0; 400]);
    }
    let s = l.stats().clone();
    assert!(
        s.lost > 300
            && s.duplicated > 100
            && s.corrupted > 50
            && s.queue_drops > 0
            && s.blackholed > 0,
        "{s:?}"
    );
}
