//! The send buffer: segments in flight, indexed by `sn - snd_una`, with the two indexes that keep the cost per
//! ACK and per retransmission independent of the window size.
//!
//! * `segs` is a ring (`VecDeque`) holding exactly the sequence numbers `[una, nxt)`: an ACK finds its segment
//!   by subtraction, a `una` pops from the front.
//! * `timers` is a min-heap of `(resend_at, tx_order, sn)`, one entry per transmission, so a flush only touches
//!   segments whose retransmission timer expired. Entries of segments acked or retransmitted since are stale and
//!   dropped lazily (recognised by `tx_order`).
//! * `tx_queue` lists transmissions in the order they were sent. Every transmission gets a fresh, increasing
//!   `tx_order`.
//!
//! Fast/early retransmit without walking the buffer: kcp-go increments `fastack` of every earlier segment whose
//! timestamp is not later than an ACK's echoed timestamp, which costs O(window) per ACK. Here an ACK instead
//! records the `tx_order` of the transmission it acknowledges, and only the `k` largest such values are kept
//! (`k` = the fast-resend threshold). A segment's fastack is then "how many ACKs acknowledged a transmission sent
//! after this segment's last transmission": it is at least `j` exactly when the `j`-th largest recorded value
//! exceeds the segment's `tx_order`. Because `tx_queue` is sorted by `tx_order`, the segments due for fast or
//! early retransmission are a prefix of it. A retransmission gets a new `tx_order` above every recorded ACK,
//! which resets its count just as kcp-go sets `fastack = 0`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use bytes::Bytes;

use super::seq::diff;

/// Largest fast-resend threshold tracked exactly; larger settings behave as this value.
pub(crate) const MAX_FAST_RESEND: u32 = 1024;

/// One segment in flight.
#[derive(Clone, Debug)]
pub(crate) struct SndSeg {
    pub frg: u8,
    pub data: Bytes,
    /// Caller clock at the last transmission (the `ts` on the wire).
    pub ts: u32,
    pub xmit: u32,
    pub rto: u32,
    pub resend_at: u64,
    pub tx_order: u64,
    pub acked: bool,
    /// `ts` of the transmission before the last one.
    pub prev_ts: u32,
    /// The last transmission was a retransmission timeout.
    pub timed_out: bool,
}

/// What an ACK told about a segment retransmitted by timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimeoutVerdict {
    /// Not applicable.
    None,
    /// The ACK echoes the transmission before the timeout: the original arrived, the timeout was spurious.
    Spurious,
    /// The ACK echoes the timeout retransmission itself.
    Repaired,
}

/// Why a segment is being retransmitted by the fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FastKind {
    Fast,
    Early,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SendBuf {
    segs: VecDeque<SndSeg>,
    una: u32,
    tx_queue: VecDeque<(u64, u32)>,
    timers: BinaryHeap<Reverse<(u64, u64, u32)>>,
    next_order: u64,
    /// The largest `tx_order`s acknowledged so far, descending; at most `k` entries.
    top_acked: Vec<u64>,
    k: usize,
    /// Segments acknowledged so far (by their own ACK or by una), each counted once.
    acked_total: u64,
    /// Segments in `segs` acknowledged by their own ACK (still held until una passes them).
    acked_in_buf: usize,
}

impl SendBuf {
    pub(crate) fn new(fast_resend: u32) -> SendBuf {
        let mut b = SendBuf {
            next_order: 1,
            ..Default::default()
        };
        b.set_fast_resend(fast_resend);
        b
    }

    pub(crate) fn set_fast_resend(&mut self, fast_resend: u32) {
        self.k = fast_resend.clamp(1, MAX_FAST_RESEND) as usize;
        self.top_acked.truncate(self.k);
    }

    pub(crate) fn una(&self) -> u32 {
        self.una
    }

    pub(crate) fn nxt(&self) -> u32 {
        self.una.wrapping_add(self.segs.len() as u32)
    }

    pub(crate) fn len(&self) -> usize {
        self.segs.len()
    }

    /// Segments sent and not acknowledged (lost ones included until they are).
    pub(crate) fn unacked(&self) -> usize {
        self.segs.len() - self.acked_in_buf
    }

    /// Segments acknowledged since creation, each once (the delivery count the window sizer samples).
    pub(crate) fn acked_total(&self) -> u64 {
        self.acked_total
    }

    fn index(&self, sn: u32) -> Option<usize> {
        let i = sn.wrapping_sub(self.una) as usize;
        (i < self.segs.len()).then_some(i)
    }

    pub(crate) fn get_mut(&mut self, sn: u32) -> Option<&mut SndSeg> {
        let i = self.index(sn)?;
        self.segs.get_mut(i)
    }

    /// Appends a new segment with `sn = nxt`.
    pub(crate) fn push_new(&mut self, frg: u8, data: Bytes) -> u32 {
        let sn = self.nxt();
        self.segs.push_back(SndSeg {
            frg,
            data,
            ts: 0,
            xmit: 0,
            rto: 0,
            resend_at: 0,
            tx_order: 0,
            acked: false,
            prev_ts: 0,
            timed_out: false,
        });
        sn
    }

    /// Drops every segment with `sn < una` (wrap-aware). Returns how many were dropped.
    pub(crate) fn pop_below(&mut self, una: u32) -> usize {
        let d = diff(una, self.una);
        if d <= 0 {
            return 0;
        }
        let n = (d as usize).min(self.segs.len());
        let fresh = self.segs.drain(..n).filter(|s| !s.acked).count();
        self.acked_total += fresh as u64;
        self.acked_in_buf -= n - fresh;
        self.una = self.una.wrapping_add(n as u32);
        n
    }

    /// Marks `sn` acknowledged and records the ACK for fast retransmission. `ts` is the echoed timestamp, which
    /// tells which transmission of `sn` arrived; only an ACK of the latest transmission is credited (an ACK of an
    /// older one cannot be placed in transmission order and is ignored for fast retransmit).
    ///
    /// Also reports whether the ACK shows a timeout retransmission of `sn` to have been spurious (it echoes the
    /// timestamp of the transmission before the timeout, as in the Eifel algorithm, RFC 3522).
    pub(crate) fn on_ack(&mut self, sn: u32, ts: u32) -> TimeoutVerdict {
        let Some(i) = self.index(sn) else {
            return TimeoutVerdict::None;
        };
        let seg = &mut self.segs[i];
        if seg.acked {
            // A repeated ACK (peers repeat those above a hole): it was counted when it first came.
            return TimeoutVerdict::None;
        }
        seg.acked = true;
        seg.data = Bytes::new();
        self.acked_total += 1;
        self.acked_in_buf += 1;
        let mut verdict = TimeoutVerdict::None;
        if seg.timed_out && seg.xmit > 1 {
            if ts == seg.ts {
                verdict = TimeoutVerdict::Repaired;
            } else if ts == seg.prev_ts {
                verdict = TimeoutVerdict::Spurious;
            }
            seg.timed_out = false;
        }
        if seg.xmit > 0 && seg.ts == ts {
            let order = seg.tx_order;
            self.record_acked_order(order);
        }
        verdict
    }

    fn record_acked_order(&mut self, order: u64) {
        if self.top_acked.len() == self.k {
            match self.top_acked.last() {
                Some(&min) if order > min => {
                    self.top_acked.pop();
                }
                _ => return,
            }
        }
        let pos = self.top_acked.partition_point(|&x| x >= order);
        self.top_acked.insert(pos, order);
    }

    /// Records a transmission of `sn` at caller time `now` / extended time `t` with the given RTO.
    pub(crate) fn record_transmit(&mut self, sn: u32, now: u32, t: u64, rto: u32, timeout: bool) {
        let order = self.next_order;
        self.next_order += 1;
        let Some(seg) = self.get_mut(sn) else { return };
        seg.xmit += 1;
        seg.prev_ts = seg.ts;
        seg.ts = now;
        seg.timed_out = timeout;
        seg.rto = rto;
        seg.resend_at = t + rto as u64;
        seg.tx_order = order;
        let at = seg.resend_at;
        self.tx_queue.push_back((order, sn));
        self.timers.push(Reverse((at, order, sn)));
        self.compact();
    }

    fn live(&self, order: u64, sn: u32) -> bool {
        match self.index(sn) {
            Some(i) => {
                let s = &self.segs[i];
                !s.acked && s.tx_order == order
            }
            None => false,
        }
    }

    /// Next segment due for fast (`fastack >= resend`, when `fast` is on) or early (`fastack > 0`, when `early`
    /// is allowed) retransmission, or `None`.
    pub(crate) fn pop_fast(&mut self, fast: bool, early: bool) -> Option<(u32, FastKind)> {
        while let Some(&(order, sn)) = self.tx_queue.front() {
            if !self.live(order, sn) {
                self.tx_queue.pop_front();
                continue;
            }
            if fast && self.top_acked.len() >= self.k && self.top_acked[self.k - 1] > order {
                self.tx_queue.pop_front();
                return Some((sn, FastKind::Fast));
            }
            if early && self.top_acked.first().is_some_and(|&m| m > order) {
                self.tx_queue.pop_front();
                return Some((sn, FastKind::Early));
            }
            return None;
        }
        None
    }

    /// Whether [`pop_fast`](Self::pop_fast) would return a segment (drops stale entries at the front).
    pub(crate) fn fast_due(&mut self, fast: bool, early: bool) -> bool {
        while let Some(&(order, sn)) = self.tx_queue.front() {
            if !self.live(order, sn) {
                self.tx_queue.pop_front();
                continue;
            }
            let fast_hit =
                fast && self.top_acked.len() >= self.k && self.top_acked[self.k - 1] > order;
            let early_hit = early && self.top_acked.first().is_some_and(|&m| m > order);
            return fast_hit || early_hit;
        }
        false
    }

    /// Next segment whose retransmission timer expired at extended time `t`, or `None`.
    pub(crate) fn pop_expired(&mut self, t: u64) -> Option<u32> {
        while let Some(&Reverse((at, order, sn))) = self.timers.peek() {
            if at > t {
                return None;
            }
            self.timers.pop();
            if self.live(order, sn) {
                return Some(sn);
            }
        }
        None
    }

    /// Earliest pending retransmission deadline (extended time).
    pub(crate) fn next_deadline(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, order, sn))) = self.timers.peek() {
            if self.live(order, sn) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Keeps the lazily-cleaned indexes within a constant factor of the live segments (amortized O(1)).
    fn compact(&mut self) {
        let limit = 2 * self.segs.len() + 1024;
        if self.tx_queue.len() > limit {
            let q = std::mem::take(&mut self.tx_queue);
            self.tx_queue = q.into_iter().filter(|&(o, sn)| self.live(o, sn)).collect();
        }
        if self.timers.len() > limit {
            let h = std::mem::take(&mut self.timers).into_vec();
            self.timers = h
                .into_iter()
                .filter(|&Reverse((_, o, sn))| self.live(o, sn))
                .collect();
        }
    }

    /// With nothing in flight, frees the indexes and the segment ring: every timer and queue entry is
    /// stale then, and every recorded ACK order is below any future transmission, so none can count.
    pub(crate) fn release(&mut self) {
        if !self.segs.is_empty() {
            return;
        }
        self.segs = VecDeque::new();
        self.tx_queue = VecDeque::new();
        self.timers = BinaryHeap::new();
        self.top_acked = Vec::new();
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.segs.capacity() * size_of::<SndSeg>()
            + self.tx_queue.capacity() * size_of::<(u64, u32)>()
            + self.timers.capacity() * size_of::<Reverse<(u64, u64, u32)>>()
            + self.top_acked.capacity() * size_of::<u64>()
    }

    pub(crate) fn iter_sn(&self) -> impl Iterator<Item = (u32, &SndSeg)> {
        self.segs
            .iter()
            .enumerate()
            .map(move |(i, s)| (self.una.wrapping_add(i as u32), s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf_with(n: u32, k: u32) -> SendBuf {
        let mut b = SendBuf::new(k);
        for i in 0..n {
            let sn = b.push_new(0, Bytes::from_static(b"x"));
            b.record_transmit(sn, 100, 1000 + i as u64, 200, false);
        }
        b
    }

    #[test]
    fn fastack_counts_later_transmissions() {
        let mut b = buf_with(5, 2);
        // ACK sn 2: segments 0 and 1 have fastack 1 -> early only.
        b.on_ack(2, 100);
        assert_eq!(b.pop_fast(true, false), None);
        b.on_ack(3, 100);
        // Now 0 and 1 have fastack 2 -> fast, in transmission order.
        assert_eq!(b.pop_fast(true, false), Some((0, FastKind::Fast)));
        b.record_transmit(0, 101, 2000, 200, false);
        assert_eq!(b.pop_fast(true, false), Some((1, FastKind::Fast)));
        b.record_transmit(1, 101, 2000, 200, false);
        // 4 was sent after both acked transmissions: nothing more.
        assert_eq!(b.pop_fast(true, true), None);
        // An ACK of the retransmitted 1 credits 4 (sent earlier) and 0 (sent just before 1).
        b.on_ack(1, 101);
        assert_eq!(b.pop_fast(false, true), Some((4, FastKind::Early)));
    }

    #[test]
    fn ack_of_old_transmission_is_not_credited() {
        let mut b = buf_with(3, 1);
        b.on_ack(2, 99); // ts does not match the latest transmission
        assert_eq!(b.pop_fast(true, true), None);
    }

    #[test]
    fn timers_skip_acked_and_pop_in_order() {
        let mut b = buf_with(4, 2);
        b.on_ack(0, 100);
        assert_eq!(b.next_deadline(), Some(1201));
        assert_eq!(b.pop_expired(1201), Some(1));
        assert_eq!(b.pop_expired(1201), None);
        assert_eq!(b.pop_below(3), 3);
        assert_eq!(b.pop_expired(5000), Some(3));
        assert_eq!(b.pop_expired(5000), None);
    }
}
