//! The receive buffer: out-of-order segments inside the receive window, a ring indexed by `sn - rcv_nxt`.
//!
//! The slots are allocated on demand, doubling up to the window as segments arrive further ahead of
//! `rcv_nxt` (a large window costs memory only once a path fills it), and can be given back with
//! [`RecvRing::release`] while the ring is empty, so an idle conversation does not hold a window-sized array.

use bytes::Bytes;

/// Slots allocated by the first insert.
const MIN_SLOTS: usize = 64;

#[derive(Clone, Debug)]
pub(crate) struct RecvRing {
    /// The ring: empty (unallocated) or up to `size` slots.
    slots: Vec<Option<(u8, Bytes)>>,
    /// The window: largest index plus one.
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
        (self.head + idx) % self.slots.len()
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
        if idx >= self.slots.len() {
            self.grow_slots(idx + 1);
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
        self.head = (self.head + 1) % self.slots.len();
        self.count -= 1;
        Some(seg)
    }

    /// Enlarges the ring to at least `size` slots, keeping every segment at its distance from `rcv_nxt`.
    pub(crate) fn grow(&mut self, size: usize) {
        self.size = self.size.max(size);
    }

    /// Makes room for at least `need` slots (at most the window), keeping every segment at its distance.
    fn grow_slots(&mut self, need: usize) {
        let cap = need
            .next_power_of_two()
            .max(2 * self.slots.len())
            .max(MIN_SLOTS)
            .min(self.size);
        let mut slots = vec![None; cap];
        if !self.slots.is_empty() {
            for (i, slot) in slots.iter_mut().enumerate().take(self.slots.len()) {
                let p = self.pos(i);
                *slot = self.slots[p].take();
            }
        }
        self.slots = slots;
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

    #[test]
    fn a_large_window_allocates_only_as_far_as_segments_reach() {
        let slot = std::mem::size_of::<Option<(u8, Bytes)>>();
        let mut r = RecvRing::new(65_535);
        assert!(r.insert(3, 0, Bytes::from_static(b"d")));
        assert_eq!(r.heap_bytes(), MIN_SLOTS * slot);
        assert!(r.insert(1000, 0, Bytes::from_static(b"z")));
        assert_eq!(r.heap_bytes(), 1024 * slot);
        assert!(r.has(3) && r.has(1000) && !r.has(4));
        assert!(r.insert(65_534, 0, Bytes::from_static(b"e")));
        assert_eq!(r.heap_bytes(), 65_535 * slot);
        assert!(r.has(3) && r.has(1000) && r.has(65_534));
        assert!(!r.insert(65_535, 0, Bytes::from_static(b"x")));
    }
}
