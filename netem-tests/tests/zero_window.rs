//! A receiver that stops reading shuts its window; when it reads again it announces the reopened window
//! once (WINS). Here that datagram is lost: the sender learns of the window only from its own probes
//! (WASK), which go one retransmission timeout after the window shut and then at growing intervals
//! (kcp-go's first probe waits 7 s). Both schedules, in virtual time.

use kcp::proto::{Kcp, Preset};
use netem_tests::link::{Link, LinkConfig};
use netem_tests::sim::{Pair, Schedule, sim_config};

const PAUSE_MS: u64 = 500;
const RESUME_MS: u64 = 2_000;

fn link(blackhole_ms: Option<(u64, u64)>) -> Link {
    Link::new(
        LinkConfig {
            delay_us: 10_000,
            rate_bytes_per_sec: Some(12_500_000),
            queue_limit: 1000,
            fifo: true,
            blackholes: blackhole_ms
                .map(|(a, b)| vec![(a * 1000, b * 1000)])
                .unwrap_or_default(),
            ..Default::default()
        },
        1,
    )
}

/// Runs the transfer; returns when the receiver got new data after resuming (ms).
fn resume_after_lost_wins(schedule: Schedule) -> u64 {
    let cfg = sim_config(Preset::Fast3, true, 64);
    let mut p = Pair::new(
        Kcp::new(3, &cfg).unwrap(),
        Kcp::new(3, &cfg).unwrap(),
        link(None),
        // Everything B sends around its resumption is lost, the WINS among it.
        link(Some((RESUME_MS - 10, RESUME_MS + 100))),
    )
    .with_schedule(schedule);
    let chunk = [0x42u8; 1000];
    let mut got_before = 0usize;
    let mut got_after = 0usize;
    // What B had buffered when it stopped reading (read at once when it resumes).
    let mut buffered = None;
    while p.now_ms() < 30_000 {
        p.step();
        let reading = p.now_ms() < PAUSE_MS || p.now_ms() >= RESUME_MS;
        if reading {
            while let Some(b) = p.b.recv_bytes() {
                if p.now_ms() < PAUSE_MS {
                    got_before += b.len();
                } else {
                    got_after += b.len();
                }
            }
            if p.now_ms() >= RESUME_MS {
                let buffered = *buffered.get_or_insert(got_after);
                if got_after > buffered {
                    break;
                }
            }
        }
        // The writer follows kcp-go's rule (`can_send`): with the peer's window shut it queues nothing.
        let mut wrote = false;
        while p.a.can_send() && p.a.send(&chunk).is_ok() {
            wrote = true;
        }
        if wrote {
            p.flush_a();
        }
        // B runs again when it reads again.
        p.advance(Some(if p.now_ms() < RESUME_MS {
            RESUME_MS
        } else {
            p.now_ms() + 1
        }));
    }
    assert!(got_before > 0, "{schedule:?}: the transfer never started");
    assert_eq!(
        p.ba.stats().blackholed,
        1,
        "{schedule:?}: B's WINS should be the one datagram lost"
    );
    assert!(
        buffered.is_some_and(|b| b > 0 && got_after > b),
        "{schedule:?}: the transfer never resumed"
    );
    p.now_ms()
}

#[test]
fn a_lost_window_announcement_costs_a_probe_interval_not_7_s() {
    for schedule in [Schedule::KcpGo, Schedule::Edge] {
        let at = resume_after_lost_wins(schedule);
        eprintln!("{schedule:?}: data again at {at} ms (reader resumed at {RESUME_MS} ms)");
        assert!(
            at < RESUME_MS + 1_000,
            "{schedule:?}: data resumed only at {at} ms"
        );
    }
}
