//! Received payloads, queued per stream without copying: each PSH payload is a `Bytes` slice of the
//! driver's transport read buffer, so the only copy is into the application's read buffer.
//!
//! A slice keeps its whole read buffer alive. [`Pins`] counts, per read buffer (a "generation"), the
//! queued slices that still refer to it, and so knows the bytes of read buffers held alive. The driver
//! stops slicing (and copies payloads out instead) once that would exceed its limit, so memory stays
//! bounded even when a paused reader holds a few bytes of many read buffers.

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, Bytes, BytesMut};

/// Generation of payloads that were copied out and pin no read buffer (not a real generation).
pub(crate) const COPIED: u64 = u64::MAX;

/// Read buffers held alive by queued payloads.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    /// Generation -> (queued payloads referring to it, its capacity in bytes).
    live: HashMap<u64, (u32, usize)>,
    bytes: usize,
}

impl Pins {
    /// Bytes of read buffers held alive by queued payloads.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether read buffer `generation` is referred to by a queued payload.
    pub fn is_pinned(&self, generation: u64) -> bool {
        self.live.contains_key(&generation)
    }

    /// A payload of read buffer `generation` (of `capacity` bytes) was queued.
    pub fn add(&mut self, generation: u64, capacity: usize) {
        let e = self.live.entry(generation).or_insert((0, capacity));
        if e.0 == 0 {
            self.bytes += e.1;
        }
        e.0 += 1;
    }

    /// A payload of read buffer `generation` was consumed or dropped.
    fn release(&mut self, generation: u64) {
        if generation == COPIED {
            return;
        }
        if let Some(e) = self.live.get_mut(&generation) {
            e.0 -= 1;
            if e.0 == 0 {
                self.bytes -= e.1;
                self.live.remove(&generation);
            }
        }
    }
}

/// A FIFO of received payloads. Small payloads (and payloads the driver must not slice) are copied
/// into `tail`, which is logically after `q`: a queue entry costs about 40 bytes, so many tiny frames
/// must not become one entry each.
#[derive(Debug, Default)]
pub(crate) struct RecvQueue {
    q: VecDeque<(Bytes, u64)>,
    tail: BytesMut,
}

/// A `tail` emptied by reading keeps its allocation only up to this size (idle streams stay small).
const TAIL_KEEP: usize = 4096;
/// An emptied `q` keeps its allocation only up to this many entries: a peer's burst of mid-size frames
/// must not leave every stream holding a large deque after it was read.
const Q_KEEP: usize = 64;

impl RecvQueue {
    /// Appends a payload of read buffer `generation` (already counted in [`Pins::add`]).
    pub fn push(&mut self, data: Bytes, generation: u64) {
        if !self.tail.is_empty() {
            self.q.push_back((self.tail.split().freeze(), COPIED));
        }
        self.q.push_back((data, generation));
    }

    /// Appends a copy of `data`.
    pub fn push_copy(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
    }

    /// Copies up to `dst.len()` bytes out, returning how many.
    pub fn read_into(&mut self, dst: &mut [u8], pins: &mut Pins) -> usize {
        let mut n = 0;
        while n < dst.len() {
            let Some((b, generation)) = self.q.front_mut() else {
                break;
            };
            let k = b.len().min(dst.len() - n);
            dst[n..n + k].copy_from_slice(&b[..k]);
            b.advance(k);
            n += k;
            if b.is_empty() {
                let generation = *generation;
                self.q.pop_front();
                pins.release(generation);
            }
        }
        if n < dst.len() && !self.tail.is_empty() {
            let k = self.tail.len().min(dst.len() - n);
            dst[n..n + k].copy_from_slice(&self.tail[..k]);
            self.tail.advance(k);
            n += k;
            if self.tail.is_empty() && self.tail.capacity() > TAIL_KEEP {
                self.tail = BytesMut::new();
            }
        }
        if self.q.is_empty() && self.q.capacity() > Q_KEEP {
            self.q = VecDeque::new();
        }
        n
    }

    /// Drops everything queued.
    pub fn clear(&mut self, pins: &mut Pins) {
        for (_, generation) in self.q.drain(..) {
            pins.release(generation);
        }
        self.q = VecDeque::new();
        self.tail = BytesMut::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_queue_gives_back_a_large_deque() {
        let mut pins = Pins::default();
        let mut q = RecvQueue::default();
        let chunk = Bytes::from(vec![5u8; 600 * 1000]);
        for i in 0..1000 {
            q.push(chunk.slice(i * 600..(i + 1) * 600), 0);
        }
        assert!(q.q.capacity() >= 1000);
        let mut out = vec![0u8; 600 * 1000];
        assert_eq!(q.read_into(&mut out, &mut pins), 600 * 1000);
        assert!(q.q.capacity() <= Q_KEEP, "{}", q.q.capacity());
    }

    #[test]
    fn pins_follow_queued_payloads() {
        let mut pins = Pins::default();
        let mut a = RecvQueue::default();
        let mut b = RecvQueue::default();
        let chunk = Bytes::from(vec![1u8; 1000]);
        pins.add(7, 1000);
        a.push(chunk.slice(0..10), 7);
        pins.add(7, 1000);
        b.push(chunk.slice(10..20), 7);
        a.push_copy(b"copied");
        assert_eq!(pins.bytes(), 1000);
        let mut out = [0u8; 12];
        assert_eq!(a.read_into(&mut out, &mut pins), 12);
        assert_eq!(&out[10..], b"co");
        assert!(pins.is_pinned(7), "b still refers to generation 7");
        b.clear(&mut pins);
        assert_eq!(pins.bytes(), 0);
        assert!(!pins.is_pinned(7));
        assert_eq!(a.read_into(&mut out, &mut pins), 4);
        assert_eq!(&out[..4], b"pied");
        assert_eq!(a.read_into(&mut out, &mut pins), 0);
    }

    #[test]
    fn copied_and_sliced_payloads_keep_their_order() {
        let mut pins = Pins::default();
        let mut q = RecvQueue::default();
        let chunk = Bytes::from_static(b"BBBBDDDD");
        q.push_copy(b"a");
        q.push_copy(b"aa");
        pins.add(1, 8);
        q.push(chunk.slice(0..4), 1);
        q.push_copy(b"ccc");
        pins.add(1, 8);
        q.push(chunk.slice(4..8), 1);
        q.push_copy(b"ee");
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = q.read_into(&mut buf, &mut pins);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(&out[..], b"aaaBBBBcccDDDDee");
        assert_eq!(pins.bytes(), 0);
        // Many tiny payloads stay one compact buffer, not one entry each.
        for _ in 0..10_000 {
            q.push_copy(b"x");
        }
        assert!(q.q.is_empty());
        assert!(q.tail.capacity() < 2 * 10_000 + 64);
    }
}
