//! The write side of a session: the transport's write half and the batch being written. It sits behind
//! its own lock so that not only the driver task but also a stream's task can write: a bulk writer whose
//! send buffer is full writes the queued frames itself when the writer is free (no hand-over to the
//! driver task and back for every buffer). Whatever is left is the driver's. Control frames and small
//! writes stay with the driver, which gathers those of many streams into one transport write.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::{MutexGuard, TryLockError};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::AsyncWrite;

use crate::error::Error;
use crate::frame::{Cmd, HEADER_LEN, Header};
use crate::state::{Ctrl, Inner, Shared};

/// Bytes gathered into one batch of writes.
const BATCH_BYTES: usize = 1024 * 1024;
/// Payloads up to this size are copied next to their header instead of getting their own `IoSlice`.
const SMALL_PAYLOAD: usize = 1024;
/// Most `IoSlice`s per vectored write.
const MAX_IOV: usize = 64;
/// Writes a stream's task makes at most before leaving the rest to the driver.
const INLINE_OPS: usize = 4;

/// The transport's write half, type-erased so that `Shared` need not be generic.
pub(crate) type Transport = Pin<Box<dyn AsyncWrite + Send>>;

pub(crate) struct Writer {
    io: Transport,
    /// Chunks of the batch being written.
    out: VecDeque<Bytes>,
    /// Scratch for headers and small payloads of the batch being gathered.
    scratch: BytesMut,
    vectored: bool,
    need_flush: bool,
    /// `poll_shutdown` has completed.
    pub shut_down: bool,
    /// Bytes written since `Inner::bytes_out` was last updated.
    pending_out: u64,
    /// The last gather left frames queued (batch full, or streams with more to send).
    more: bool,
    wakers: Vec<Waker>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("out", &self.out.len())
            .field("vectored", &self.vectored)
            .finish_non_exhaustive()
    }
}

impl Writer {
    pub fn new(io: Transport) -> Writer {
        Writer {
            vectored: io.is_write_vectored(),
            io,
            out: VecDeque::new(),
            scratch: BytesMut::with_capacity(16 * 1024),
            need_flush: false,
            shut_down: false,
            pending_out: 0,
            more: false,
            wakers: Vec::new(),
        }
    }

    /// Nothing is queued for the transport: no batch in progress and no flush owed.
    pub fn is_idle(&self) -> bool {
        self.out.is_empty() && !self.need_flush
    }

    pub fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.io.as_mut().poll_shutdown(cx)
    }

    /// Drops the transport's write half when the session has ended (handles may live on; the transport
    /// must not).
    pub fn release_transport(&mut self) {
        self.io = Box::pin(tokio::io::sink());
        self.out.clear();
        self.need_flush = false;
    }

    fn wake_collected(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    /// Moves queued frames into `out`: control frames first, then up to one frame per busy stream per
    /// round, round robin, until the batch is full. Returns whether anything was gathered.
    fn gather(&mut self, shared: &Shared, inner: &mut Inner) -> bool {
        let cfg = &shared.config;
        let v = cfg.version;
        let mut frames = 0u64;
        while let Some(c) = inner.ctrl.pop_front() {
            let (cmd, sid) = match c {
                Ctrl::Syn(sid) => (Cmd::Syn, sid),
                Ctrl::Fin(sid) => (Cmd::Fin, sid),
                Ctrl::Nop => {
                    inner.nop_pending = false;
                    (Cmd::Nop, 0)
                }
                Ctrl::Upd(sid) => {
                    let Some(slot) = inner.streams.get_mut(&sid) else {
                        continue;
                    };
                    // A stream closed locally since its read takes no more data (its frames are dropped
                    // on arrival), so more window is of no use to the peer: the UPD is not sent. (An
                    // xtaci writer waiting for window gives up on the FIN that follows.)
                    if !slot.upd_pending || slot.dropped {
                        slot.upd_pending = false;
                        continue;
                    }
                    slot.upd_pending = false;
                    Header {
                        version: v,
                        cmd: Cmd::Upd,
                        length: 8,
                        sid,
                    }
                    .put(&mut self.scratch);
                    self.scratch.put_u32_le(slot.num_read);
                    self.scratch.put_u32_le(cfg.max_stream_buffer as u32);
                    frames += 1;
                    continue;
                }
            };
            Header {
                version: v,
                cmd,
                length: 0,
                sid,
            }
            .put(&mut self.scratch);
            frames += 1;
        }
        let mut budget = BATCH_BYTES;
        let epoch = inner.epoch;
        while budget > 0 {
            let Some(sid) = inner.ready.pop_front() else {
                break;
            };
            let Some(slot) = inner.streams.get_mut(&sid) else {
                continue;
            };
            slot.in_ready = false;
            let window = if v == 2 {
                match slot.v2_window() {
                    Ok(w) => w.max(0) as usize,
                    Err(e) => {
                        let n = slot.send.len();
                        slot.send.clear(&mut inner.pool);
                        slot.write_error = Some(e);
                        if let Some(w) = slot.write_waker.take() {
                            self.wakers.push(w);
                        }
                        inner.send_total -= n;
                        0
                    }
                }
            } else {
                usize::MAX
            };
            let n = slot.send.front_len().min(cfg.max_frame_size).min(window);
            if n > 0 {
                Header {
                    version: v,
                    cmd: Cmd::Psh,
                    length: n as u16,
                    sid,
                }
                .put(&mut self.scratch);
                if n <= SMALL_PAYLOAD || !self.vectored {
                    slot.send
                        .copy_front_to(n, &mut self.scratch, &mut inner.pool);
                } else {
                    if !self.scratch.is_empty() {
                        self.out.push_back(self.scratch.split().freeze());
                    }
                    self.out
                        .push_back(slot.send.split_front(n, &mut inner.pool));
                }
                slot.num_written = slot.num_written.wrapping_add(n as u32);
                slot.last_active = epoch;
                frames += 1;
                budget = budget.saturating_sub(n + HEADER_LEN);
                inner.send_total -= n;
                // A writer waiting for space resumes once half the send buffer is free (not after every
                // frame), so it refills in large steps with fewer wake-ups.
                if slot.send.len() <= cfg.stream_send_buffer / 2
                    && let Some(w) = slot.write_waker.take()
                {
                    self.wakers.push(w);
                }
            }
            if !slot.send.is_empty() {
                if window > n {
                    slot.in_ready = true;
                    inner.ready.push_back(sid);
                    continue;
                }
                if !slot.dropped {
                    // v2: waits for an UPD.
                    continue;
                }
                // A dropped v2 stream without window: abortive close.
                let rest = slot.send.len();
                slot.send.clear(&mut inner.pool);
                inner.send_total -= rest;
            }
            if slot.fin_pending && !slot.fin_sent {
                Header {
                    version: v,
                    cmd: Cmd::Fin,
                    length: 0,
                    sid,
                }
                .put(&mut self.scratch);
                frames += 1;
                slot.fin_sent = true;
                if let Some(w) = slot.write_waker.take() {
                    self.wakers.push(w);
                }
            }
            if slot.dropped && slot.fin_sent {
                inner.remove(sid);
            }
        }
        if !self.scratch.is_empty() {
            self.out.push_back(self.scratch.split().freeze());
        }
        inner.frames_out += frames;
        self.more = !inner.ready.is_empty() || !inner.ctrl.is_empty();
        !self.out.is_empty()
    }

    /// Flushes the transport if a write since the last flush asks for it. Returns whether the flush
    /// failed (the write side is dead then).
    fn poll_flush_owed(&mut self, shared: &Shared, cx: &mut Context<'_>) -> bool {
        if !self.need_flush {
            return false;
        }
        match Pin::new(&mut self.io).poll_flush(cx) {
            Poll::Pending => false,
            Poll::Ready(Ok(())) => {
                self.need_flush = false;
                false
            }
            Poll::Ready(Err(e)) => {
                self.write_failed(shared, Error::from_io(&e));
                true
            }
        }
    }

    /// Bytes written since the session's counter was last updated (the caller adds them to it).
    pub fn take_pending_out(&mut self) -> u64 {
        std::mem::take(&mut self.pending_out)
    }

    /// Writes batches until the transport is busy, nothing is queued, or `ops` writes were made.
    /// Returns whether anything happened and whether it stopped with work left (`ops` used up).
    pub fn poll_write_side(
        &mut self,
        shared: &Shared,
        cx: &mut Context<'_>,
        ops: usize,
    ) -> (bool, bool) {
        let mut progress = false;
        let mut gathered = false;
        for _ in 0..ops {
            if self.out.is_empty() {
                let mut inner = shared.lock();
                if inner.error.is_some() || inner.write_error.is_some() {
                    return (progress, false);
                }
                inner.bytes_out += std::mem::take(&mut self.pending_out);
                // Nothing is in flight now: blocks whose bytes went out in earlier batches are free.
                inner.pool.recycle();
                let got = self.gather(shared, &mut inner);
                drop(inner);
                self.wake_collected();
                if !got {
                    return (self.poll_flush_owed(shared, cx) || progress, false);
                }
                gathered = true;
            }
            let res = if self.vectored && self.out.len() > 1 {
                let mut iov = [IoSlice::new(&[]); MAX_IOV];
                let mut k = 0;
                for (slot, chunk) in iov.iter_mut().zip(self.out.iter()) {
                    *slot = IoSlice::new(chunk);
                    k += 1;
                }
                Pin::new(&mut self.io).poll_write_vectored(cx, &iov[..k])
            } else {
                let front = self.out.front().map(|b| &b[..]).unwrap_or(&[]);
                Pin::new(&mut self.io).poll_write(cx, front)
            };
            match res {
                Poll::Pending => {
                    self.fold_counters(shared);
                    return (progress, false);
                }
                Poll::Ready(Ok(0)) => {
                    self.write_failed(
                        shared,
                        Error::Transport {
                            kind: std::io::ErrorKind::WriteZero,
                            message: "transport accepted no bytes".into(),
                        },
                    );
                    return (true, false);
                }
                Poll::Ready(Ok(mut n)) => {
                    progress = true;
                    self.need_flush = true;
                    self.pending_out += n as u64;
                    while n > 0 {
                        let Some(front) = self.out.front_mut() else {
                            break;
                        };
                        if front.len() <= n {
                            n -= front.len();
                            self.out.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                    if self.out.is_empty() && gathered && !self.more {
                        // All that was queued at this call's gather is written. Whatever was queued since
                        // woke the driver (registered before this) or is found by `after_release`, so no
                        // second look (and lock) now. Not so for a batch gathered by an earlier call:
                        // frames queued before this call may have woken the driver for it.
                        self.poll_flush_owed(shared, cx);
                        return (true, false);
                    }
                }
                Poll::Ready(Err(e)) => {
                    self.write_failed(shared, Error::from_io(&e));
                    return (true, false);
                }
            }
        }
        self.fold_counters(shared);
        (progress, true)
    }

    fn fold_counters(&mut self, shared: &Shared) {
        if self.pending_out > 0 {
            shared.lock().bytes_out += std::mem::take(&mut self.pending_out);
        }
    }

    /// The transport cannot be written any more. As smux, reading goes on (frames the peer sent before
    /// it went away, FINs included, are still delivered); writes fail from now on.
    fn write_failed(&mut self, shared: &Shared, e: Error) {
        self.out.clear();
        let mut inner = shared.lock();
        if inner.write_error.is_none() {
            inner.write_error = Some(e);
        }
        for slot in inner.streams.values_mut() {
            slot.wake_writer();
        }
        // The driver decides whether the session ends (it does once reading is over too).
        inner.wake_driver();
    }
}

/// Locks the writer unless another task holds it.
pub(crate) fn try_lock(shared: &Shared) -> Option<MutexGuard<'_, Writer>> {
    match shared.writer.try_lock() {
        Ok(g) => Some(g),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// Wakes the driver if frames or bytes are left to write. Called by a stream's task after it let go
/// of the writer: the driver never waits for the writer lock, so whoever holds it checks for work left.
fn after_release(shared: &Shared, left: bool, written: u64) {
    let mut inner = shared.lock();
    inner.bytes_out += written;
    // `closing`: the driver may have been waiting for this write to finish before it shuts down.
    // `read_paused`: the driver may have stopped reading because control frames piled up; this write may
    // have drained them, and no transport waker is registered for the driver then.
    if left
        || inner.read_paused
        || !inner.ctrl.is_empty()
        || !inner.ready.is_empty()
        || inner.closing
    {
        inner.wake_driver();
    }
}

/// Writes queued frames from the calling task if the writer is free; wakes the driver if anything is
/// left (the writer was busy, the transport is full, or more than `INLINE_OPS` writes' worth).
pub(crate) fn write_inline(shared: &Shared, cx: &mut Context<'_>) {
    let (left, written) = match try_lock(shared) {
        Some(mut w) => {
            let (_, busy) = w.poll_write_side(shared, cx, INLINE_OPS);
            // On `Pending` the transport holds this task's waker: the driver must poll it again to
            // be woken when it can write.
            (busy || !w.is_idle(), w.take_pending_out())
        }
        None => (true, 0),
    };
    after_release(shared, left, written);
}
