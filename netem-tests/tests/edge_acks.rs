//! The tokio edge's ACK schedule ([`Schedule::Edge`]) in the simulator: an echo, where B replies to each
//! of A's requests at once. The ACK of a request rides on its reply even while earlier replies are in
//! flight, an ACK with no reply to ride on still goes within 2 ms, and under loss every echo comes back,
//! in order, as soon as on kcp-go's schedule, with fewer datagrams.

use kcp::proto::{Kcp, Preset};
use netem_tests::link::{Link, LinkConfig, Loss};
use netem_tests::sim::{Pair, Schedule, sim_config};

/// Requests sent per echo run.
const REQUESTS: u32 = 400;
const SIZE: usize = 64;

#[derive(Debug)]
struct Echo {
    /// Round trip of each request, ms, in order.
    rtts: Vec<u64>,
    /// Datagrams A and B put on their links.
    a_sent: u64,
    b_sent: u64,
    /// Segments A and B retransmitted.
    retrans: u64,
    /// B's smoothed RTT at the end (its replies' round trips, A's ACK delay included).
    b_srtt: i32,
}

fn link(one_way_ms: u64, loss: f64, seed: u64) -> Link {
    Link::new(
        LinkConfig {
            delay_us: one_way_ms * 1000,
            loss: if loss == 0.0 {
                Loss::None
            } else {
                Loss::Independent(loss)
            },
            fifo: true,
            ..Default::default()
        },
        seed,
    )
}

fn request(i: u32) -> [u8; SIZE] {
    let mut m = [i as u8; SIZE];
    m[..4].copy_from_slice(&i.to_le_bytes());
    m
}

/// Link parameters of one echo run.
#[derive(Clone, Copy, Debug)]
struct Path {
    one_way_ms: u64,
    loss: f64,
    seed: u64,
}

/// A 20 ms round trip without loss.
const CLEAN: Path = Path {
    one_way_ms: 10,
    loss: 0.0,
    seed: 1,
};

/// A sends [`REQUESTS`] requests, one every `gap_ms`; B echoes each as soon as it reads it.
fn echo(preset: Preset, schedule: Schedule, gap_ms: u64, path: Path) -> Echo {
    let cfg = sim_config(preset, false, 128);
    let mut p = Pair::new(
        Kcp::new(7, &cfg).unwrap(),
        Kcp::new(7, &cfg).unwrap(),
        link(path.one_way_ms, path.loss, path.seed),
        link(path.one_way_ms, path.loss, path.seed ^ 0x77),
    )
    .with_schedule(schedule);
    let mut sent_at = Vec::new();
    let mut rtts = Vec::new();
    while rtts.len() < REQUESTS as usize && p.now_ms() < 600_000 {
        let next = sent_at.len() as u64 * gap_ms;
        if sent_at.len() < REQUESTS as usize && p.now_ms() >= next {
            p.a.send(&request(sent_at.len() as u32)).unwrap();
            sent_at.push(p.now_ms());
            p.flush_a();
        }
        p.step();
        // B echoes what arrived, at once (as an application does after its read).
        let mut replied = false;
        while let Some(m) = p.b.recv_bytes() {
            p.b.send(&m).unwrap();
            replied = true;
        }
        if replied {
            p.flush_b();
        }
        while let Some(m) = p.a.recv_bytes() {
            let i = rtts.len() as u32;
            assert_eq!(&m[..], &request(i)[..], "echo {i} out of order or altered");
            rtts.push(p.now_ms() - sent_at[i as usize]);
        }
        let pending = sent_at.len() < REQUESTS as usize;
        p.advance(pending.then(|| sent_at.len() as u64 * gap_ms));
    }
    assert_eq!(
        rtts.len(),
        REQUESTS as usize,
        "{preset:?} {schedule:?}: echoes"
    );
    // Let what is still due (the ACK of the last reply) go.
    let end = p.now_ms() + 50;
    while p.now_ms() < end {
        p.advance(Some(end));
        p.step();
    }
    assert_eq!(p.input_errors, 0);
    Echo {
        rtts,
        a_sent: p.ab.stats().sent,
        b_sent: p.ba.stats().sent,
        retrans: p.a.stats().retrans_segs + p.b.stats().retrans_segs,
        b_srtt: p.b.stats().srtt,
    }
}

const PRESETS: [Preset; 2] = [Preset::Fast, Preset::Fast3];

#[test]
fn the_ack_of_a_request_rides_on_its_reply_while_earlier_replies_are_in_flight() {
    for preset in PRESETS {
        // A request every 5 ms: each arrives while about four replies are unacknowledged.
        let edge = echo(preset, Schedule::Edge, 5, CLEAN);
        let kcpgo = echo(preset, Schedule::KcpGo, 5, CLEAN);
        assert_eq!(edge.b_sent, REQUESTS as u64, "{preset:?} {edge:?}");
        assert_eq!(edge.retrans, 0, "{preset:?} {edge:?}");
        assert!(edge.rtts.iter().all(|&r| r == 20), "{preset:?} {edge:?}");
        // On kcp-go's schedule the moved `una` of each request flushes its ACK before the reply exists.
        assert!(
            kcpgo.b_sent >= 2 * REQUESTS as u64 - 10,
            "{preset:?} {kcpgo:?}"
        );
    }
}

#[test]
fn an_ack_with_no_reply_to_ride_on_goes_within_2_ms() {
    for preset in PRESETS {
        // A request every 25 ms, more than the round trip: A reads each reply and sends nothing back,
        // so the ACK of every reply goes alone once due.
        let edge = echo(preset, Schedule::Edge, 25, CLEAN);
        assert_eq!(edge.a_sent, 2 * REQUESTS as u64, "{preset:?} {edge:?}");
        assert_eq!(edge.retrans, 0, "{preset:?} {edge:?}");
        assert!(edge.rtts.iter().all(|&r| r == 20), "{preset:?} {edge:?}");
        assert!(
            (20..=22).contains(&edge.b_srtt),
            "{preset:?}: B's replies took {} ms to be acknowledged",
            edge.b_srtt
        );
    }
}

#[test]
fn under_loss_echoes_come_back_as_soon_as_on_kcp_gos_schedule() {
    // A request every 20 ms over 20 and 200 ms round trips (at 200 ms ten are in flight), 200 seeds each.
    for one_way_ms in [10, 100] {
        for preset in PRESETS {
            for loss in [0.01, 0.05, 0.10] {
                let mut rtts = [Vec::new(), Vec::new()];
                let mut sent = [0, 0];
                for seed in 0..200 {
                    let path = Path {
                        one_way_ms,
                        loss,
                        seed,
                    };
                    for (i, schedule) in [Schedule::Edge, Schedule::KcpGo].into_iter().enumerate() {
                        // `echo` checks that every echo came back, in order and intact.
                        let e = echo(preset, schedule, 20, path);
                        sent[i] += e.a_sent + e.b_sent;
                        rtts[i].extend(e.rtts);
                    }
                }
                let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
                let p99 = |v: &mut Vec<u64>| {
                    v.sort_unstable();
                    v[v.len() * 99 / 100]
                };
                let (edge, kcpgo) = (mean(&rtts[0]), mean(&rtts[1]));
                let [e, k] = &mut rtts;
                let ctx = format!(
                    "{preset:?}, {} ms RTT, {loss}: echo mean {edge:.1} ms (p99 {}) on the edge's schedule, {kcpgo:.1} ms (p99 {}) on kcp-go's; datagrams {} and {}",
                    2 * one_way_ms,
                    p99(e),
                    p99(k),
                    sent[0],
                    sent[1]
                );
                eprintln!("{ctx}");
                // The links draw losses per datagram sent, so the two schedules meet different loss
                // patterns: equal within 2 %.
                assert!(edge <= kcpgo * 1.02, "{ctx}");
                assert!(sent[0] as f64 <= sent[1] as f64 * 1.01, "{ctx}");
            }
        }
    }
}
