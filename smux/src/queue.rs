//! Per-stream send queues made of blocks, with a small per-session pool of 64 KiB blocks.
//!
//! Why blocks: one growing buffer per stream reallocates (and touches fresh pages) whenever it is not
//! drained completely, and a buffer shared with in-flight frames cannot be reused. Blocks are filled
//! at the back and consumed at the front; emptied 64 KiB blocks go back to the pool, so bulk transfers
//! run on the same few warm blocks. Small writes get small blocks so that many nearly idle streams
//! cost little: memory stays within about twice the bytes queued plus a few hundred bytes per stream.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Size of a pooled block.
pub(crate) const BLOCK: usize = 64 * 1024;
/// Smallest block.
const MIN_BLOCK: usize = 256;

#[derive(Debug)]
struct Block {
    buf: BytesMut,
    pooled: bool,
}

/// Free 64 KiB blocks of one session.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Vec<BytesMut>,
    /// Blocks whose last bytes went out as frames still being written; free once the write is done.
    retired: Vec<BytesMut>,
    max: usize,
    /// Fewest free blocks seen since the last `trim`.
    low_water: usize,
}

impl Pool {
    /// A pool keeping at most `max_bytes` of free blocks.
    pub fn new(max_bytes: usize) -> Pool {
        Pool {
            max: max_bytes / BLOCK + 1,
            ..Pool::default()
        }
    }

    /// Makes retired blocks available again (call when no frame from them is in flight).
    pub fn recycle(&mut self) {
        while let Some(b) = self.retired.pop() {
            if self.free.len() < self.max {
                self.free.push(b);
            }
        }
    }

    /// Releases the free blocks that were not needed since the last call (periodic, so that a session
    /// that went quiet gives its memory back).
    pub fn trim(&mut self) {
        let drop_n = self.low_water.min(self.free.len());
        self.free.truncate(self.free.len() - drop_n);
        self.low_water = self.free.len();
    }

    /// Free blocks held.
    pub fn free_blocks(&self) -> usize {
        self.free.len() + self.retired.len()
    }

    fn take_big(&mut self) -> BytesMut {
        let b = self.free.pop();
        self.low_water = self.low_water.min(self.free.len());
        match b {
            Some(mut b) => {
                b.clear();
                // Reclaims the whole allocation when no frame refers to it any more.
                b.reserve(BLOCK);
                b
            }
            None => BytesMut::with_capacity(BLOCK),
        }
    }

    fn give(&mut self, b: Block) {
        if b.pooled && self.free.len() < self.max {
            self.free.push(b.buf);
        }
    }

    fn retire(&mut self, b: Block) {
        if b.pooled {
            self.retired.push(b.buf);
        }
    }
}

/// A FIFO of bytes in blocks.
#[derive(Debug, Default)]
pub(crate) struct ByteQueue {
    blocks: VecDeque<Block>,
    len: usize,
}

impl ByteQueue {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a copy of `data`.
    pub fn push(&mut self, mut data: &[u8], pool: &mut Pool) {
        self.len += data.len();
        while !data.is_empty() {
            if let Some(b) = self.blocks.back_mut() {
                let spare = b.buf.capacity() - b.buf.len();
                if spare > 0 {
                    let k = spare.min(data.len());
                    b.buf.extend_from_slice(&data[..k]);
                    data = &data[k..];
                    continue;
                }
            }
            let block = if data.len() >= BLOCK / 4 || self.len >= BLOCK / 4 {
                Block {
                    buf: pool.take_big(),
                    pooled: true,
                }
            } else {
                let size = self.len.next_power_of_two().clamp(MIN_BLOCK, BLOCK / 4);
                Block {
                    buf: BytesMut::with_capacity(size),
                    pooled: false,
                }
            };
            self.blocks.push_back(block);
        }
    }

    /// Bytes readable from the front block without crossing into the next.
    pub fn front_len(&self) -> usize {
        self.blocks.front().map_or(0, |b| b.buf.len())
    }

    /// Copies `n <= front_len()` bytes from the front block to `dst` and consumes them.
    pub fn copy_front_to(&mut self, n: usize, dst: &mut BytesMut, pool: &mut Pool) {
        if let Some(b) = self.blocks.front_mut() {
            dst.extend_from_slice(&b.buf[..n]);
            b.buf.advance(n);
            self.len -= n;
            if b.buf.is_empty() {
                self.pop_front_if_spent(pool);
            }
        }
    }

    /// Takes `n <= front_len()` bytes from the front block without copying.
    pub fn split_front(&mut self, n: usize, pool: &mut Pool) -> Bytes {
        let Some(b) = self.blocks.front_mut() else {
            return Bytes::new();
        };
        let out = b.buf.split_to(n).freeze();
        self.len -= n;
        if b.buf.is_empty()
            && let Some(b) = self.blocks.pop_front()
        {
            pool.retire(b);
        }
        out
    }

    /// Returns an emptied front block to the pool.
    fn pop_front_if_spent(&mut self, pool: &mut Pool) {
        if self.blocks.front().is_some_and(|b| b.buf.is_empty())
            && let Some(b) = self.blocks.pop_front()
        {
            pool.give(b);
        }
    }

    /// Empties the queue, returning its blocks.
    pub fn clear(&mut self, pool: &mut Pool) {
        for b in self.blocks.drain(..) {
            pool.give(b);
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_across_blocks() {
        let mut pool = Pool::new(1 << 20);
        let mut q = ByteQueue::default();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut fed = 0;
        let mut out = BytesMut::new();
        while out.len() < data.len() {
            if fed < data.len() {
                let k = (data.len() - fed).min(10_000 + fed % 5000);
                q.push(&data[fed..fed + k], &mut pool);
                fed += k;
            }
            let n = q.front_len().min(7777);
            q.copy_front_to(n, &mut out, &mut pool);
            assert_eq!(q.len(), fed - out.len());
        }
        assert_eq!(out, data);
        assert!(q.is_empty());
        assert!(q.blocks.is_empty());
    }

    #[test]
    fn small_pushes_use_small_blocks() {
        let mut pool = Pool::new(1 << 20);
        let mut q = ByteQueue::default();
        q.push(b"12345678", &mut pool);
        assert_eq!(q.blocks.len(), 1);
        assert!(q.blocks[0].buf.capacity() <= 1024);
        let mut got = BytesMut::new();
        q.copy_front_to(8, &mut got, &mut pool);
        assert_eq!(&got[..], b"12345678");
        assert!(q.is_empty());
    }

    #[test]
    fn split_front_is_zero_copy() {
        let mut pool = Pool::new(1 << 20);
        let mut q = ByteQueue::default();
        q.push(&[7u8; 40_000], &mut pool);
        q.push(&[8u8; 40_000], &mut pool);
        let n = q.front_len();
        assert_eq!(n, BLOCK);
        let b = q.split_front(32768, &mut pool);
        assert_eq!(b.len(), 32768);
        assert_eq!(q.len(), 80_000 - 32768);
    }
}
