//! The receive buffer: out-of-order segments inside the receive window, a ring indexed by `sn - rcv_nxt`.

use bytes::Bytes;

#[derive(Clone, Debug)]
pub(crate) struct RecvRing {
    slots: Vec<Option<(u8, Bytes)>>,
    head: usize,
    count: usize,
}

impl RecvRing {
    pub(crate) fn new(size: usize) -> RecvRing {
        RecvRing {
            slots: vec![None; size.max(1)],
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
        if idx >= self.slots.len() {
            return false;
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
        let seg = self.slots[self.head].take()?;
        self.head = (self.head + 1) % self.slots.len();
        self.count -= 1;
        Some(seg)
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }
}
