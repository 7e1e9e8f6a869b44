//! Behaviour of the state machine on small hand-driven exchanges.

use kcp::proto::{
    Cmd, InputError, Kcp, KcpConfig, OVERHEAD, Preset, RecvError, SegmentHeader, SendError,
    segments,
};

fn cfg(stream: bool) -> KcpConfig {
    KcpConfig {
        preset: Preset::Fast3,
        snd_wnd: 128,
        rcv_wnd: 128,
        stream,
        ..Default::default()
    }
}

fn flush(k: &mut Kcp, now: u32) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    k.flush(now, |d| v.push(d.to_vec()));
    v
}

fn deliver(to: &mut Kcp, now: u32, dgrams: &[Vec<u8>]) {
    for d in dgrams {
        to.input(now, d, true).expect("valid datagram");
    }
}

/// The segments of `dgrams`, each in a datagram of its own (to lose or deliver them one by one).
fn one_segment_each(dgrams: &[Vec<u8>]) -> Vec<Vec<u8>> {
    dgrams
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap()))
        .map(|(h, p)| {
            let mut v = vec![0u8; OVERHEAD];
            h.encode(&mut v);
            v.extend_from_slice(p);
            v
        })
        .collect()
}

/// Two ends of conversation 1 in kcptun's fast mode (a 30 ms flush interval), message mode.
fn fast_pair() -> (Kcp, Kcp) {
    let c = KcpConfig {
        preset: Preset::Fast,
        ..cfg(false)
    };
    (Kcp::new(1, &c).unwrap(), Kcp::new(1, &c).unwrap())
}

fn read_all(k: &mut Kcp) -> Vec<u8> {
    let mut got = Vec::new();
    while let Some(x) = k.recv_bytes() {
        got.extend_from_slice(&x);
    }
    got
}

fn header(conv: u32, cmd: Cmd, sn: u32, una: u32, len: u32) -> SegmentHeader {
    SegmentHeader {
        conv,
        cmd,
        frg: 0,
        wnd: 32,
        ts: 0,
        sn,
        una,
        len,
    }
}

#[test]
fn message_mode_fragments_and_reassembles() {
    let mut a = Kcp::new(9, &cfg(false)).unwrap();
    let mut b = Kcp::new(9, &cfg(false)).unwrap();
    let msg: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
    a.send(&msg).unwrap();
    a.send(b"second").unwrap();
    let d = flush(&mut a, 0);
    // 5000 bytes at mss 1376 -> 4 fragments, plus one: 5 PUSH segments with frg 3,2,1,0,0.
    let frgs: Vec<u8> = d
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0.frg))
        .collect();
    assert_eq!(frgs, vec![3, 2, 1, 0, 0]);
    assert!(d.iter().all(|x| x.len() <= 1400));
    // Deliver the last fragment first: nothing is readable until all arrive.
    deliver(&mut b, 10, &d[3..]);
    assert_eq!(b.peek_size(), None);
    deliver(&mut b, 10, &d[..3]);
    assert_eq!(b.peek_size(), Some(5000));
    let mut small = [0u8; 10];
    assert_eq!(
        b.recv(&mut small),
        Err(RecvError::BufferTooSmall { need: 5000 })
    );
    assert_eq!(b.recv_bytes().unwrap(), &msg[..]);
    assert_eq!(b.recv_bytes().unwrap(), &b"second"[..]);
    assert_eq!(b.recv(&mut small), Err(RecvError::Empty));
}

#[test]
fn message_too_large_and_empty_are_rejected() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let big = vec![0u8; 255 * a.mss() + 1];
    assert!(matches!(a.send(&big), Err(SendError::TooLarge { .. })));
    assert_eq!(a.send(&[]), Err(SendError::Empty));
    assert!(a.send(&big[..255 * a.mss()]).is_ok());
}

#[test]
fn stream_mode_coalesces_small_writes() {
    let mut a = Kcp::new(1, &cfg(true)).unwrap();
    let mut b = Kcp::new(1, &cfg(true)).unwrap();
    for i in 0..100u8 {
        a.send(&[i; 30]).unwrap();
    }
    // 3000 bytes -> 3 segments (1376 + 1376 + 248), not 100.
    assert_eq!(a.wait_snd(), 3);
    let d = flush(&mut a, 0);
    deliver(&mut b, 5, &d);
    let mut got = Vec::new();
    while let Some(x) = b.recv_bytes() {
        assert!(x.len() <= b.mss());
        got.extend_from_slice(&x);
    }
    let want: Vec<u8> = (0..100u8).flat_map(|i| [i; 30]).collect();
    assert_eq!(got, want);
    // send_bytes slices full segments without copying and keeps the stream order.
    a.send_bytes(bytes::Bytes::from(vec![7u8; 3000])).unwrap();
    a.send(&[8u8; 10]).unwrap();
    let d = flush(&mut a, 20);
    deliver(&mut b, 25, &d);
    let got = read_all(&mut b);
    assert_eq!(got.len(), 3010);
    assert!(got[..3000].iter().all(|&x| x == 7) && got[3000..].iter().all(|&x| x == 8));
}

#[test]
fn malformed_input_is_rejected_without_side_effects() {
    let mut a = Kcp::new(5, &cfg(false)).unwrap();
    let mut b = Kcp::new(5, &cfg(false)).unwrap();
    a.send(b"payload").unwrap();
    let good = flush(&mut a, 0).remove(0);

    let before = format!("{:?}", b.stats());
    // Short.
    assert_eq!(
        b.input(1, &good[..10], true),
        Err(InputError::TooShort { len: 10 })
    );
    // Length past end: a valid first segment followed by a truncated second one.
    let followed_by = |h: SegmentHeader| {
        let mut d = good.clone();
        let mut raw = [0u8; OVERHEAD];
        h.encode(&mut raw);
        d.extend_from_slice(&raw);
        d
    };
    assert_eq!(
        b.input(1, &followed_by(header(5, Cmd::Push, 1, 0, 100)), true),
        Err(InputError::LengthPastEnd {
            offset: good.len(),
            len: 100,
            remaining: 0
        })
    );
    // Wrong conv in the second segment.
    assert_eq!(
        b.input(1, &followed_by(header(6, Cmd::Wask, 0, 0, 0)), true),
        Err(InputError::WrongConv {
            offset: good.len(),
            expected: 5,
            found: 6
        })
    );
    // Bad command.
    let mut bad = good.clone();
    bad[4] = 99;
    assert_eq!(
        b.input(1, &bad, true),
        Err(InputError::BadCommand { offset: 0, cmd: 99 })
    );

    // Nothing was applied: same state apart from the error counter, nothing readable, nothing to ACK.
    let mut after = b.stats();
    assert_eq!(after.in_errors, 4);
    after.in_errors = 0;
    assert_eq!(format!("{after:?}"), before);
    assert_eq!(b.peek_size(), None);
    assert!(flush(&mut b, 2).is_empty());
    // The good datagram still works.
    b.input(3, &good, true).unwrap();
    assert_eq!(b.recv_bytes().unwrap(), &b"payload"[..]);
}

#[test]
fn acks_filter_and_una_release_the_send_buffer() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    for _ in 0..5 {
        a.send(b"x").unwrap();
    }
    let d = flush(&mut a, 0);
    deliver(&mut b, 10, &d);
    let acks = flush(&mut b, 10);
    // All five are in order, so only the last ACK is written (kcp-go's jitter filter).
    let segs: Vec<SegmentHeader> = acks
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0))
        .collect();
    assert_eq!(segs.len(), 1);
    assert_eq!((segs[0].cmd, segs[0].sn, segs[0].una), (Cmd::Ack, 4, 5));
    deliver(&mut a, 30, &acks);
    assert_eq!(a.wait_snd(), 0);
    let s = a.stats();
    // srtt 30, rttvar 15, rto = 30 + max(interval 10, 4 * 15).
    assert_eq!((s.snd_una, s.srtt, s.rttvar, s.rto), (5, 30, 15, 90));
}

#[test]
fn lost_segment_is_fast_retransmitted() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    for i in 0..4u8 {
        a.send(&[i; 1300]).unwrap();
    }
    let d = flush(&mut a, 0);
    assert_eq!(d.len(), 4);
    deliver(&mut b, 10, &d[1..]); // sn 0 lost
    deliver(&mut a, 20, &flush(&mut b, 10));
    // ACKs for 1, 2, 3 -> fastack(0) = 3 >= resend 2: retransmitted at the next flush, long before the RTO.
    let again = flush(&mut a, 21);
    let sns: Vec<u32> = again
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0.sn))
        .collect();
    assert_eq!(sns, vec![0]);
    assert_eq!(a.stats().fast_retrans_segs, 1);
    deliver(&mut b, 30, &again);
    let mut n = 0;
    while let Some(x) = b.recv_bytes() {
        assert_eq!(x[0], n);
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn timeout_backs_off_and_marks_dead_link() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    a.set_dead_link(4);
    a.send(b"lost forever").unwrap();
    let mut now = 0u32;
    let mut sends = Vec::new();
    while now < 10_000 {
        let mut n = 0;
        a.update(now, |_| n += 1);
        if n > 0 {
            sends.push(now);
        }
        now = a.check(now).max(now + 1);
    }
    // First send, then timeouts at rto (200), growing by rto/2 each time (nodelay).
    assert_eq!(&sends[..4], &[0, 200, 500, 900]);
    assert!(a.is_dead());
    assert!(a.stats().lost_segs >= 3);
}

#[test]
fn zero_window_probe_and_reopen() {
    let small = KcpConfig {
        rcv_wnd: 2,
        ..cfg(false)
    };
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &small).unwrap();
    for _ in 0..4 {
        a.send(b"m").unwrap();
    }
    // Peer window is 32 initially: all four go out; b queues two and holds two in rcv_buf.
    deliver(&mut b, 1, &flush(&mut a, 0));
    let ack = flush(&mut b, 1);
    let h = segments(&ack[0]).next().unwrap().unwrap().0;
    assert_eq!(h.wnd, 0);
    deliver(&mut a, 2, &ack);
    assert_eq!(a.stats().rmt_wnd, 0);
    assert!(!a.can_send());
    // Reading reopens the window and makes b announce it with WINS (segments 2 and 3 waited in rcv_buf).
    for _ in 0..4 {
        assert!(b.recv_bytes().is_some());
    }
    let tell = flush(&mut b, 3);
    let cmds: Vec<Cmd> = tell
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0.cmd))
        .collect();
    assert_eq!(cmds, vec![Cmd::Wins]);
    deliver(&mut a, 4, &tell);
    assert_eq!(a.stats().rmt_wnd, 2);
}

/// A peer whose window shut: `a` probes it one retransmission timeout later (200 ms before any RTT
/// sample), then at intervals half again as long each time. kcp-go's first probe waits 7 s, so a lost
/// WINS (the peer's one announcement that its window reopened) stalled a transfer that long.
#[test]
fn wask_is_sent_one_rto_after_the_window_shut_then_backs_off() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut zero = [0u8; OVERHEAD];
    SegmentHeader {
        wnd: 0,
        ..header(1, Cmd::Wins, 0, 0, 0)
    }
    .encode(&mut zero);
    a.input(0, &zero, true).unwrap();
    assert_eq!(a.stats().rto, 200);
    let mut probes = Vec::new();
    for now in (0..2_000).step_by(10) {
        let cmds: Vec<Cmd> = flush(&mut a, now)
            .iter()
            .flat_map(|x| segments(x).map(|s| s.unwrap().0.cmd))
            .collect();
        if !cmds.is_empty() {
            assert_eq!(cmds, vec![Cmd::Wask], "at {now}");
            probes.push(now);
        }
    }
    assert_eq!(probes, vec![200, 500, 950, 1630]);
}

/// With nothing queued, a writer that follows `can_send` writes nothing while the peer's window is shut;
/// `update_due` and `due_in` still run the probe timer (without it a lost WINS stalls such a session for
/// good).
#[test]
fn a_shut_peer_window_keeps_the_probe_timer_running_with_nothing_queued() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut zero = [0u8; OVERHEAD];
    SegmentHeader {
        wnd: 0,
        ..header(1, Cmd::Wins, 0, 0, 0)
    }
    .encode(&mut zero);
    a.input(0, &zero, true).unwrap();
    assert!(!a.can_send());
    assert_eq!(a.wait_snd(), 0);
    let mut now = 0;
    let mut probe_at = None;
    while now < 1_000 && probe_at.is_none() {
        let mut cmds = Vec::new();
        a.update_due(now, |d| {
            cmds.extend(segments(d).map(|s| s.unwrap().0.cmd));
        });
        if cmds.contains(&Cmd::Wask) {
            probe_at = Some(now);
        }
        now += a
            .due_in(now)
            .expect("a timer while the peer's window is shut")
            .max(1);
    }
    assert_eq!(probe_at, Some(200));
}

#[test]
fn reserved_prefix_is_left_for_the_envelope() {
    let c = KcpConfig {
        reserved: 28,
        mtu: 1350,
        ..cfg(true)
    };
    let mut a = Kcp::new(1, &c).unwrap();
    assert_eq!(a.mss(), 1298);
    a.send(&vec![1u8; 3000]).unwrap();
    let mut lens = Vec::new();
    a.flush(0, |d| {
        d[..28].fill(0xee); // the envelope writes its headers in place
        lens.push(d.len());
        let segs: Vec<_> = segments(&d[28..]).collect::<Result<_, _>>().unwrap();
        assert_eq!(segs.len(), 1);
    });
    assert_eq!(lens, vec![1350, 1350, 28 + 24 + 404]);
}

#[test]
fn fec_recovered_input_does_not_touch_rtt_or_window() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    a.send(b"x").unwrap();
    deliver(&mut b, 0, &flush(&mut a, 0));
    let ack = flush(&mut b, 0);
    for d in &ack {
        a.input(50, d, false).unwrap();
    }
    let s = a.stats();
    assert_eq!((s.srtt, s.rmt_wnd, s.snd_una), (0, 32, 1));
}

#[test]
fn clock_wraps_cleanly() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    let mut now = u32::MAX - 15;
    for i in 0..10u8 {
        a.send(&[i]).unwrap();
        deliver(&mut b, now.wrapping_add(2), &flush(&mut a, now));
        deliver(
            &mut a,
            now.wrapping_add(4),
            &flush(&mut b, now.wrapping_add(2)),
        );
        now = now.wrapping_add(5);
        assert_eq!(b.recv_bytes().unwrap()[0], i);
    }
    assert_eq!(a.stats().srtt, 4);
    assert_eq!(a.wait_snd(), 0);
    assert!(a.check(now).wrapping_sub(now) <= 10);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]
    /// Arbitrary bytes never panic; rejected datagrams change nothing.
    #[test]
    fn arbitrary_input_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), conv_hit in proptest::prelude::any::<bool>()) {
        let mut k = Kcp::new(0x0403_0201, &cfg(false)).unwrap();
        let mut data = data;
        if conv_hit && data.len() >= 4 {
            data[..4].copy_from_slice(&0x0403_0201u32.to_le_bytes());
        }
        let before = format!("{:?}", k.stats());
        match k.input(7, &data, true) {
            Ok(()) => {}
            Err(_) => {
                let mut s = k.stats();
                s.in_errors = 0;
                proptest::prop_assert_eq!(format!("{s:?}"), before);
            }
        }
        k.flush(8, |_| {});
        let _ = k.recv_bytes();
    }
}

#[test]
fn early_retransmit_without_fast_resend() {
    let c = KcpConfig {
        preset: Preset::Manual {
            nodelay: 0,
            interval: 10,
            resend: 0,
            nc: true,
        },
        ..cfg(false)
    };
    let mut a = Kcp::new(1, &c).unwrap();
    let mut b = Kcp::new(1, &c).unwrap();
    a.send(b"zero").unwrap();
    let d0 = flush(&mut a, 0);
    a.send(b"one").unwrap();
    let d1 = flush(&mut a, 1);
    deliver(&mut b, 10, &d1); // sn 0 lost
    deliver(&mut a, 20, &flush(&mut b, 10));
    assert!(d0.len() == 1);
    // One later segment acked and no new data: early retransmit at the next flush.
    let again = flush(&mut a, 21);
    let sns: Vec<u32> = again
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0.sn))
        .collect();
    assert_eq!(sns, vec![0]);
    assert_eq!(a.stats().early_retrans_segs, 1);
}

#[test]
fn mtu_and_window_change_at_runtime() {
    let mut a = Kcp::new(1, &cfg(true)).unwrap();
    let mut b = Kcp::new(
        1,
        &KcpConfig {
            rcv_wnd: 4,
            ..cfg(true)
        },
    )
    .unwrap();
    a.send(&[1u8; 100]).unwrap(); // a partial stream segment is waiting
    a.set_mtu(600).unwrap();
    assert_eq!(a.mss(), 576);
    assert!(a.set_mtu(40).is_err());
    a.send(&[2u8; 2000]).unwrap();
    b.set_window(0, 64);
    let d = flush(&mut a, 0);
    assert!(
        d.iter().all(|x| x.len() <= 600),
        "{:?}",
        d.iter().map(Vec::len).collect::<Vec<_>>()
    );
    deliver(&mut b, 1, &d);
    let got = read_all(&mut b);
    assert_eq!(got.len(), 2100);
    assert!(got[..100].iter().all(|&x| x == 1) && got[100..].iter().all(|&x| x == 2));
}

#[test]
fn idle_footprint_shrinks_after_a_transfer() {
    let c = KcpConfig {
        rcv_wnd: 512,
        ..cfg(true)
    };
    let mut a = Kcp::new(3, &c).unwrap();
    let mut b = Kcp::new(3, &c).unwrap();
    let fresh = b.heap_bytes();
    // Window-sized structures are not allocated up front: a fresh core holds little more than its MTU buffer.
    assert!(fresh < 4 * 1024, "fresh core holds {fresh} bytes");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    a.send(&data).unwrap();
    let mut got = Vec::new();
    let mut now = 0;
    // Reorder each batch (last datagram first) so the receive ring is used, not just the in-order path.
    while got.len() < data.len() || a.wait_snd() > 0 {
        let mut d = flush(&mut a, now);
        d.reverse();
        deliver(&mut b, now + 1, &d);
        let acks = flush(&mut b, now + 1);
        deliver(&mut a, now + 2, &acks);
        got.extend(read_all(&mut b));
        now += 10;
        assert!(now < 100_000, "transfer stalled");
    }
    assert_eq!(got, data);
    // The ACKs of the last batch are already out; flush once more so nothing is pending anywhere.
    flush(&mut b, now);
    assert!(a.is_quiescent() && b.is_quiescent());
    let busy_a = a.heap_bytes();
    let busy_b = b.heap_bytes();
    assert!(busy_b > 20 * 1024, "receiver used only {busy_b} bytes");
    a.release_idle();
    b.release_idle();
    for (name, k, busy) in [("sender", &a, busy_a), ("receiver", &b, busy_b)] {
        let idle = k.heap_bytes();
        assert!(
            idle < 2 * 1024,
            "{name} idle holds {idle} bytes (was {busy})"
        );
    }
    // Still a working conversation after the release, in both directions.
    b.send(b"pong").unwrap();
    a.send(b"ping").unwrap();
    let d = flush(&mut a, now);
    deliver(&mut b, now + 1, &d);
    let d = flush(&mut b, now + 1);
    deliver(&mut a, now + 2, &d);
    assert_eq!(read_all(&mut b), b"ping");
    assert_eq!(read_all(&mut a), b"pong");
}

#[test]
fn retransmission_timer_holds_the_recent_rtt_peak() {
    // A window stall drains the bottleneck queue: RTT samples fall from 110 ms (queue full) to 57 ms (empty).
    // kcp-go's estimator lets its RTO follow them down (its variance hardly reacts to falling samples), but the
    // refilled queue brings the 110 ms back a round trip later; segments sent now must not time out before that.
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    let mut now = 0u32;
    // 40 rounds of one segment at 110 ms, then 5 rounds of 10 segments each at 57 ms: a burst of fast samples.
    for (rtt, n) in std::iter::repeat_n((110u32, 1), 40).chain(std::iter::repeat_n((57, 10), 5)) {
        for _ in 0..n {
            a.send(b"x").unwrap();
        }
        let d = flush(&mut a, now);
        deliver(&mut b, now, &d);
        deliver(&mut a, now + rtt, &flush(&mut b, now));
        assert_eq!(read_all(&mut b).len(), n);
        now += rtt + 1;
    }
    assert!(
        a.rtt().rto < 100,
        "precondition: the estimator's RTO ({}) fell below the recent peak",
        a.rtt().rto
    );
    a.send(b"lost").unwrap();
    assert_eq!(flush(&mut a, now).len(), 1);
    let sent = now;
    let mut resent = None;
    while now < sent + 1_000 && resent.is_none() {
        now = a.check(now).max(now + 1);
        if !flush(&mut a, now).is_empty() {
            resent = Some(now);
        }
    }
    let resent = resent.expect("the lost segment is retransmitted") - sent;
    assert!(
        (110..=200).contains(&resent),
        "retransmitted after {resent} ms"
    );
}

#[test]
fn acks_above_a_hole_are_repeated_once_with_the_next_acks() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    for i in 0..5u8 {
        a.send(&[i; 100]).unwrap();
    }
    let segs = one_segment_each(&flush(&mut a, 0));
    assert_eq!(segs.len(), 5);
    let acks = |dgrams: &[Vec<u8>]| -> Vec<u32> {
        dgrams
            .iter()
            .flat_map(|x| segments(x).map(|s| s.unwrap().0))
            .filter(|h| h.cmd == Cmd::Ack)
            .map(|h| h.sn)
            .collect()
    };
    // sn 0 is lost; 1 and 2 arrive, and the datagram acknowledging them is lost too.
    deliver(&mut b, 5, &segs[1..3]);
    assert_eq!(acks(&flush(&mut b, 10)), [1, 2]);
    // No new ACK: nothing is sent again on its own.
    assert_eq!(acks(&flush(&mut b, 20)), Vec::<u32>::new());
    // 3 arrives: its ACK goes out last, after the repeated 1 and 2.
    deliver(&mut b, 25, &segs[3..4]);
    let second = flush(&mut b, 30);
    assert_eq!(acks(&second), [1, 2, 3]);
    deliver(&mut a, 40, &second);
    assert_eq!(
        a.unacked().collect::<Vec<_>>(),
        [0, 4],
        "1, 2, 3 acknowledged"
    );
    // 3 was above the hole too, so it rides once with 4; 1 and 2 are not repeated again.
    deliver(&mut b, 45, &segs[4..5]);
    assert_eq!(acks(&flush(&mut b, 50)), [3, 4]);
    // The hole filled: una covers 4, so it is not repeated.
    deliver(&mut b, 55, &segs[0..1]);
    assert_eq!(acks(&flush(&mut b, 60)), [0]);
    deliver(&mut b, 65, &segs[2..3]); // a duplicate below rcv_nxt
    assert_eq!(
        acks(&flush(&mut b, 70)),
        [2],
        "kcp-go's rule: the last ACK is sent even if una covers it"
    );
    assert_eq!(read_all(&mut b).len(), 500);
}

#[test]
fn a_thin_stream_recovers_a_lost_message_from_the_next_datagram() {
    let mut a = Kcp::new(1, &cfg(false)).unwrap();
    let mut b = Kcp::new(1, &cfg(false)).unwrap();
    a.set_bundling(2);
    // Message 0 is lost; messages 1 and 2 follow 20 ms apart, each in a datagram of its own.
    a.send(&[0; 64]).unwrap();
    assert_eq!(flush(&mut a, 0).len(), 1);
    a.send(&[1; 64]).unwrap();
    let d1 = flush(&mut a, 20);
    let sns = |d: &[Vec<u8>]| -> Vec<u32> {
        d.iter()
            .flat_map(|x| segments(x).map(|s| s.unwrap().0))
            .filter(|h| h.cmd == Cmd::Push)
            .map(|h| h.sn)
            .collect()
    };
    assert_eq!(d1.len(), 1, "the copy rides in the same datagram");
    assert_eq!(sns(&d1), [1, 0]);
    deliver(&mut b, 70, &d1);
    // Both messages are readable at once, in order, with no retransmission.
    assert_eq!(b.recv_bytes().unwrap().as_ref(), &[0; 64]);
    assert_eq!(b.recv_bytes().unwrap().as_ref(), &[1; 64]);
    assert_eq!(a.stats().retrans_segs, 0);
    assert_eq!(a.stats().bundled_segs, 1);
    // Unacknowledged still (b's ACKs are on their way): 0 and 1 ride with 2, the older first.
    a.send(&[2; 64]).unwrap();
    assert_eq!(sns(&flush(&mut a, 40)), [2, 0, 1]);
    // b's ACKs of 0 and 1 reach a: of those, only 2 (not yet acknowledged) is copied.
    deliver(&mut a, 90, &flush(&mut b, 70));
    a.send(&[3; 64]).unwrap();
    let d3 = flush(&mut a, 100);
    assert_eq!(sns(&d3), [3, 2], "acknowledged segments are not copied");
    // A full datagram has no room: bulk data is never copied.
    let mut c = Kcp::new(1, &cfg(true)).unwrap();
    c.set_bundling(8);
    c.send(&[9; 20_000]).unwrap();
    flush(&mut c, 0);
    c.send(&[9; 20_000]).unwrap();
    flush(&mut c, 10);
    assert_eq!(c.stats().bundled_segs, 0);
}

fn segments_in(dgrams: &[Vec<u8>]) -> usize {
    dgrams.iter().map(|d| segments(d).count()).sum()
}

#[test]
fn pacing_spreads_a_fixed_window_and_leaves_short_paths_alone() {
    // Windows of 1024 in fast3 (flush interval 10 ms). A sender whose first RTT sample was `rtt` ms gets
    // 1024 one-byte messages: how many segments does one flush send, paced or not?
    let first_flush = |pacing: bool, rtt: u32| {
        let mk = || {
            let mut c = cfg(false);
            c.snd_wnd = 1024;
            c.rcv_wnd = 1024;
            let mut k = Kcp::new(1, &c).unwrap();
            k.set_pacing(pacing);
            k
        };
        let (mut a, mut b) = (mk(), mk());
        a.send(b"x").unwrap();
        let d = flush(&mut a, 0);
        deliver(&mut b, 0, &d);
        deliver(&mut a, rtt, &flush(&mut b, 0));
        assert_eq!(read_all(&mut b).len(), 1);
        for _ in 0..1024 {
            a.send(b"y").unwrap();
        }
        let first = segments_in(&flush(&mut a, rtt));
        let next = segments_in(&flush(&mut a, rtt + 10));
        (first, next)
    };
    // Unpaced, the window (1023: the peer had one message queued when it acknowledged) leaves at once.
    assert_eq!(first_flush(false, 100), (1023, 0));
    // 100 ms paced: at most 1.5 x 1024 / 100 ms, two intervals' worth (307 segments) at once, then 10 ms'
    // worth (154) per 10 ms.
    let (first, next) = first_flush(true, 100);
    assert!((300..=310).contains(&first), "{first} segments at once");
    assert!((150..=158).contains(&next), "{next} segments 10 ms later");
    // A path whose SRTT reads 0 ms (loopback) is not paced: 0 is not "unknown" once a sample was taken.
    assert_eq!(first_flush(true, 0), (1023, 0));
}

#[test]
fn in_order_data_is_acknowledged_within_2_ms_not_at_the_next_flush() {
    // Fast: a 30 ms flush interval, which kcp-go holds in-order ACKs for. Held that long, the sender's
    // pipe must cover 30 ms more of data than the path holds, and that much waits in the bottleneck queue.
    let (mut a, mut b) = fast_pair();
    for i in 0..3u8 {
        a.send(&[i; 100]).unwrap();
    }
    let segs = one_segment_each(&flush(&mut a, 0));
    b.update(100, |_| {});
    deliver(&mut b, 100, &segs[0..1]);
    assert!(b.check(100) > 100, "the first ACK waits");
    deliver(&mut b, 101, &segs[1..2]);
    assert!(b.check(101) > 101, "1 ms later it still waits");
    deliver(&mut b, 102, &segs[2..3]);
    assert_eq!(b.check(102), 102, "2 ms after the first, they go out");
    let acks: Vec<SegmentHeader> = flush(&mut b, 102)
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0))
        .filter(|h| h.cmd == Cmd::Ack)
        .collect();
    // una covers 0 and 1; kcp-go's filter keeps the last ACK.
    assert_eq!(acks.iter().map(|h| h.sn).collect::<Vec<_>>(), [2]);
    assert_eq!(acks[0].una, 3);
}

#[test]
fn held_acks_are_due_2_ms_after_the_oldest_even_when_no_more_data_comes() {
    // `check` and `update` leave held ACKs to the next flush (30 ms here, as kcp-go); `ack_due` tells a
    // caller that flushes writes at once (the tokio edge) when to send them, and `update_due` sends them.
    let (mut a, mut b) = fast_pair();
    a.send(&[1; 100]).unwrap();
    let segs = one_segment_each(&flush(&mut a, 0));
    b.update(100, |_| {});
    assert_eq!(b.ack_due(100), None, "nothing held");
    deliver(&mut b, 100, &segs[0..1]);
    assert!(b.check(100) > 102, "the next flush is later");
    assert_eq!(b.ack_due(100), Some(102));
    assert_eq!(b.ack_due(105), Some(105), "never before now");
    let mut out = Vec::new();
    b.update_due(101, |d| out.push(d.to_vec()));
    assert!(out.is_empty(), "held at 1 ms");
    b.update(102, |d| out.push(d.to_vec()));
    assert!(out.is_empty(), "update leaves them to the next flush");
    b.update_due(102, |d| out.push(d.to_vec()));
    let acks: Vec<SegmentHeader> = out
        .iter()
        .flat_map(|x| segments(x).map(|s| s.unwrap().0))
        .collect();
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!((acks[0].cmd, acks[0].sn), (Cmd::Ack, 0));
    assert_eq!(b.ack_due(102), None, "sent");
}

/// `b` with its reply `r1` still in flight receives, at 20 ms, a datagram of `a` that acknowledges `r0`
/// (so `una` moves) and carries a new request. With `Preset::Fast` (30 ms interval) `b`'s next periodic
/// flush is after 22 ms, with `Preset::Fast3` (10 ms) it is due at 20.
fn server_with_a_reply_in_flight(preset: Preset) -> (Kcp, Kcp) {
    server_with_a_reply_in_flight_at(preset, 20)
}

/// As [`server_with_a_reply_in_flight`], the request arriving at `at` ms.
fn server_with_a_reply_in_flight_at(preset: Preset, at: u32) -> (Kcp, Kcp) {
    let c = KcpConfig {
        preset,
        ..cfg(false)
    };
    let (mut a, mut b) = (Kcp::new(1, &c).unwrap(), Kcp::new(1, &c).unwrap());
    b.send(b"r0").unwrap();
    let r0 = flush(&mut b, 0);
    b.send(b"r1").unwrap();
    flush(&mut b, 1); // r1: not delivered yet
    deliver(&mut a, 10, &r0);
    a.send(b"q").unwrap();
    let q = flush(&mut a, 10);
    deliver(&mut b, at, &q);
    assert_eq!(b.wait_snd(), 1, "r1 in flight");
    assert_eq!(read_all(&mut b), b"q");
    (a, b)
}

fn cmds_of(dgrams: &[Vec<u8>]) -> Vec<Vec<Cmd>> {
    dgrams
        .iter()
        .map(|x| segments(x).map(|s| s.unwrap().0.cmd).collect())
        .collect()
}

#[test]
fn with_data_in_flight_the_ack_of_a_request_rides_on_the_reply() {
    // The tokio edge runs `update_due` after every received batch. It used to flush in full whenever
    // anything was in flight, sending the request's ACK alone just before the reply.
    let (_a, mut b) = server_with_a_reply_in_flight(Preset::Fast);
    let mut out = Vec::new();
    b.update_due(20, |d| out.push(d.to_vec()));
    assert!(
        out.is_empty(),
        "una moved, but nothing follows it: {:?}",
        cmds_of(&out)
    );
    assert_eq!(b.ack_due(20), Some(22));
    b.update_due(21, |d| out.push(d.to_vec()));
    assert!(out.is_empty(), "held at 1 ms");
    b.send(b"reply").unwrap();
    let d = flush(&mut b, 21);
    assert_eq!(cmds_of(&d), [vec![Cmd::Ack, Cmd::Push]], "one datagram");
}

#[test]
fn with_data_in_flight_a_held_ack_still_goes_2_ms_after_it_arrived() {
    let (_a, mut b) = server_with_a_reply_in_flight(Preset::Fast);
    let mut out = Vec::new();
    b.update_due(20, |d| out.push(d.to_vec()));
    b.update_due(21, |d| out.push(d.to_vec()));
    assert!(out.is_empty());
    b.update_due(22, |d| out.push(d.to_vec()));
    assert_eq!(cmds_of(&out), [vec![Cmd::Ack]]);
    assert_eq!(b.ack_due(22), None, "sent");
}

#[test]
fn a_reopened_window_sends_queued_data_at_once() {
    // As a moved `una`, a window that opens while it held queued data back makes the next update flush,
    // not the one an interval later.
    let (mut a, mut b) = fast_pair();
    b.set_window(128, 1);
    a.send(b"m0").unwrap();
    deliver(&mut b, 1, &flush(&mut a, 0));
    deliver(&mut a, 2, &flush(&mut b, 1));
    assert_eq!(a.stats().rmt_wnd, 0, "b's window is full");
    a.send(b"m1").unwrap();
    assert!(flush(&mut a, 2).is_empty(), "m1 waits for the window");
    assert!(a.check(3) > 3);
    assert_eq!(read_all(&mut b), b"m0");
    let tell = flush(&mut b, 3);
    assert_eq!(cmds_of(&tell), [vec![Cmd::Wins]]);
    deliver(&mut a, 4, &tell);
    assert_eq!(a.check(4), 4, "due at once");
    let mut out = Vec::new();
    a.update_due(4, |d| out.push(d.to_vec()));
    assert_eq!(cmds_of(&out), [vec![Cmd::Push]]);
}

#[test]
fn a_periodic_flush_with_nothing_else_to_send_leaves_held_acks_for_the_reply() {
    // At a 10 ms interval the periodic flush of a side with replies in flight often falls between a
    // request and its reply; sending the held ACK then would cost a datagram of its own.
    let (_a, mut b) = server_with_a_reply_in_flight(Preset::Fast3);
    assert_eq!(b.check(20), 20, "the periodic flush is due");
    let mut out = Vec::new();
    b.update_due(20, |d| out.push(d.to_vec()));
    assert!(out.is_empty(), "{:?}", cmds_of(&out));
    assert!(b.check(20) > 20, "and was run (no busy loop on the timer)");
    assert_eq!(b.ack_due(20), Some(22), "the ACK is still held");
    b.send(b"reply").unwrap();
    assert_eq!(cmds_of(&flush(&mut b, 21)), [vec![Cmd::Ack, Cmd::Push]]);
}

#[test]
fn a_periodic_flush_that_resends_carries_the_held_acks() {
    // The request comes long after r1's retransmission timeout: the periodic flush resends r1, and the
    // held ACK rides on it.
    let late = 1_000;
    let (_a, mut b) = server_with_a_reply_in_flight_at(Preset::Fast3, late);
    let mut out = Vec::new();
    b.update_due(late, |d| out.push(d.to_vec()));
    assert_eq!(
        cmds_of(&out),
        [vec![Cmd::Ack, Cmd::Push]],
        "r1 again, with the ACK"
    );
    assert_eq!(b.ack_due(late), None, "sent");
}
