//! The receive buffer: out-of-order segments inside the receive window, a ring indexed by `sn - rcv_nxt`.
//!
//! The slots are allocated on the first insert and can be given back with [`RecvRing::release`] while the
//! ring is empty, so an idle conversation does not hold a window-sized array.

use bytes::Bytes;

#[derive(Clone, Debug)]
pub(crate) struct RecvRing {
    /// Empty (unallocated) or exactly `size` slots.
    slots: Vec<Option<(u8, Bytes)>>,
    size: usize,
    head: usize,
    count: usize,
}

impl RecvRing {
    pub(crate) fn new(size: usize) -> RecvRing {
        RecvRing {
            slots: Vec::new(),
            size: size.max(1),
            head: 0,
            count: 0,
        }
    }

    fn pos(&self, idx: usize) -> usize {
        (self.head + idx) % self.size
    }

    /// Whether the slot `idx` places after `rcv_nxt` is filled. `idx` must be below the ring size.
    pub(crate) fn has(&self, idx: usize) -> bool {
        idx < self.slots.len() && self.slots[self.pos(idx)].is_some()
    }

    /// Stores a segment `idx` places after `rcv_nxt`; returns false if out of range or already present.
    pub(crate) fn insert(&mut self, idx: usize, frg: u8, data: Bytes) -> bool {
        if idx >= self.size {
            return false;
        }
        if self.slots.is_empty() {
            self.slots = vec![None; self.size];
        }
        let p = self.pos(idx);
        if self.slots[p].is_some() {
            return false;
        }
        self.slots[p] = Some((frg, data));
        self.count += 1;
        true
    }

    /// Takes the segment at `rcv_nxt` if present and advances the ring by one.
    pub(crate) fn take_front(&mut self) -> Option<(u8, Bytes)> {
        let seg = self.slots.get_mut(self.head)?.take()?;
        self.head = (self.head + 1) % self.size;
        self.count -= 1;
        Some(seg)
    }

    /// Enlarges the ring to at least `size` slots, keeping every segment at its distance from `rcv_nxt`.
    pub(crate) fn grow(&mut self, size: usize) {
        if size <= self.size {
            return;
        }
        if self.slots.is_empty() {
            self.size = size;
            self.head = 0;
            return;
        }
        let mut slots = vec![None; size];
        for (i, slot) in slots.iter_mut().enumerate().take(self.slots.len()) {
            let p = self.pos(i);
            *slot = self.slots[p].take();
        }
        self.slots = slots;
        self.size = size;
        self.head = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Frees the slots if no segment is stored; they are allocated again by the next insert.
    pub(crate) fn release(&mut self) {
        if self.count == 0 {
            self.slots = Vec::new();
            self.head = 0;
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<(u8, Bytes)>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_keeps_positions_across_the_wrap() {
        let mut r = RecvRing::new(4);
        for i in 0..3 {
            assert!(r.insert(0, 0, Bytes::from(vec![i])));
            assert_eq!(r.take_front().unwrap().1[0], i);
        }
        // head is now 3: slots 1 and 2 wrap around the end.
        assert!(r.insert(1, 0, Bytes::from_static(b"b")));
        assert!(r.insert(2, 0, Bytes::from_static(b"c")));
        assert!(!r.insert(2, 0, Bytes::from_static(b"x")));
        r.grow(16);
        assert!(r.insert(10, 0, Bytes::from_static(b"k")));
        assert!(r.take_front().is_none());
        assert!(r.insert(0, 0, Bytes::from_static(b"a")));
        let got: Vec<u8> = std::iter::from_fn(|| r.take_front())
            .map(|(_, d)| d[0])
            .collect();
        assert_eq!(got, b"abc");
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn slots_are_lazy_and_released_when_empty() {
        let mut r = RecvRing::new(512);
        assert_eq!(r.heap_bytes(), 0);
        assert!(!r.has(3));
        assert!(r.take_front().is_none());
        assert!(r.insert(1, 0, Bytes::from_static(b"b")));
        assert!(r.heap_bytes() > 0);
        r.release(); // not empty: kept
        assert!(r.has(1));
        assert!(r.insert(0, 0, Bytes::from_static(b"a")));
        assert_eq!(r.take_front().unwrap().1, &b"a"[..]);
        assert_eq!(r.take_front().unwrap().1, &b"b"[..]);
        r.release();
        assert_eq!(r.heap_bytes(), 0);
        // Positions stay relative to rcv_nxt after a release.
        assert!(!r.insert(512, 0, Bytes::from_static(b"x")));
        assert!(r.insert(511, 0, Bytes::from_static(b"z")));
        assert!(r.has(511));
    }
}
