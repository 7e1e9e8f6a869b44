//! Session state shared by the driver task, the session handle and the streams (one mutex).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use tokio::sync::Notify;

use crate::config::Config;
use crate::error::Error;
use crate::queue::{ByteQueue, Pool};
use crate::recv::{Pins, RecvQueue};
use crate::writer::{Transport, Writer};

/// A control frame waiting to be written. Kept symbolic so that at most one UPD per stream is pending and
/// it carries the newest `consumed` count when it is finally written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ctrl {
    Syn(u32),
    Fin(u32),
    Upd(u32),
    Nop,
}

/// Per-stream state.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Received, unread payloads (slices of the driver's read buffers, see `recv`).
    pub recv: RecvQueue,
    pub recv_len: usize,
    pub send: ByteQueue,
    /// In `Inner::ready`.
    pub in_ready: bool,
    pub read_waker: Option<Waker>,
    pub write_waker: Option<Waker>,
    /// The peer sent FIN.
    pub peer_fin: bool,
    /// Local shutdown or drop: send FIN once `send` is empty.
    pub fin_pending: bool,
    pub fin_sent: bool,
    /// The local handle is gone (or was never accepted and the stream was refused).
    pub dropped: bool,
    /// A `Stream` handle was handed to the application.
    pub has_handle: bool,
    /// Terminal error of this stream (reads and writes fail).
    pub error: Option<Error>,
    /// Error for writes only (v2: peer finished while we waited for window).
    pub write_error: Option<Error>,
    pub upd_pending: bool,
    // v2 accounting, all wrapping u32 as smux.
    pub num_written: u32,
    pub peer_consumed: u32,
    pub peer_window: u32,
    pub num_read: u32,
    pub incr: u32,
    /// Idle sweep epoch of the last frame in either direction.
    pub last_active: u64,
}

/// smux `initialPeerWindow`.
pub(crate) const INITIAL_PEER_WINDOW: u32 = 262144;

impl Slot {
    pub fn new(epoch: u64) -> Slot {
        Slot {
            peer_window: INITIAL_PEER_WINDOW,
            last_active: epoch,
            ..Slot::default()
        }
    }

    /// v2 send window left (smux `writeV2` arithmetic), or `Err(Consumed)` when the peer claims to have
    /// consumed more than was sent.
    pub fn v2_window(&self) -> Result<i64, Error> {
        let inflight = self.num_written.wrapping_sub(self.peer_consumed) as i32;
        if inflight < 0 {
            return Err(Error::Consumed);
        }
        Ok(self.peer_window as i32 as i64 - inflight as i64)
    }

    pub fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }

    pub fn wake_writer(&mut self) {
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

/// Everything behind the session mutex.
#[derive(Debug)]
pub(crate) struct Inner {
    pub streams: HashMap<u32, Slot>,
    /// Free blocks for the stream send queues.
    pub pool: Pool,
    /// Driver read buffers held alive by received payloads.
    pub pins: Pins,
    /// Streams with data (or a FIN) to send, round robin.
    pub ready: VecDeque<u32>,
    pub ctrl: VecDeque<Ctrl>,
    pub nop_pending: bool,
    /// smux token bucket: bytes the session may still buffer before it stops reading the transport.
    pub bucket: i64,
    pub accept_q: VecDeque<u32>,
    pub accept_wakers: Vec<Waker>,
    pub driver_waker: Option<Waker>,
    /// Terminal session error; once set nothing more is read or written.
    pub error: Option<Error>,
    /// The transport failed for writing; reads go on until they fail too.
    pub write_error: Option<Error>,
    /// Local close requested: write out what is queued, then shut the transport down.
    pub closing: bool,
    pub next_id: u32,
    pub go_away: bool,
    /// Live `Session` and `Stream` handles; when 0 the driver closes the session.
    pub handles: usize,
    pub driver_running: bool,
    pub epoch: u64,
    pub recv_total: usize,
    pub send_total: usize,
    pub read_buffered: usize,
    /// Bytes of transport read buffers the driver holds (published by the driver).
    pub read_buffers: usize,
    pub read_paused: bool,
    pub frames_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub refused_streams: u64,
    pub idle_closed: u64,
}

impl Inner {
    pub fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Gives `n` bytes back to the token bucket, waking the reader if it was starved.
    pub fn return_tokens(&mut self, n: usize) {
        let before = self.bucket;
        self.bucket += n as i64;
        self.recv_total -= n;
        if before <= 0 && self.bucket > 0 {
            self.wake_driver();
        }
    }

    /// Ends the session with `err` (the first error wins) and wakes everyone.
    pub fn fail(&mut self, err: Error) {
        if self.error.is_none() {
            tracing::debug!(error = %err, "smux session ends");
            self.error = Some(err);
        }
        for slot in self.streams.values_mut() {
            slot.wake_reader();
            slot.wake_writer();
        }
        for w in self.accept_wakers.drain(..) {
            w.wake();
        }
        self.wake_driver();
    }

    /// Removes a stream, returning its unread bytes to the bucket and forgetting its unsent bytes.
    pub fn remove(&mut self, sid: u32) {
        if let Some(mut slot) = self.streams.remove(&sid) {
            if slot.recv_len > 0 {
                self.return_tokens(slot.recv_len);
            }
            self.send_total -= slot.send.len();
            slot.recv.clear(&mut self.pins);
            slot.send.clear(&mut self.pool);
        }
    }

    /// Marks a stream ready to send if it is not already queued, and wakes the driver.
    pub fn mark_ready(&mut self, sid: u32) {
        if self.queue_ready(sid) {
            self.wake_driver();
        }
    }

    /// Marks a stream ready to send without waking the driver (for the driver itself: waking its own
    /// task from inside its poll would only cost a second, empty poll). Returns whether it was queued.
    pub fn queue_ready(&mut self, sid: u32) -> bool {
        if let Some(slot) = self.streams.get_mut(&sid)
            && !slot.in_ready
        {
            slot.in_ready = true;
            self.ready.push_back(sid);
            return true;
        }
        false
    }
}

/// The shared part of a session.
#[derive(Debug)]
pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    /// The transport's write side. Lock order: `writer` before `inner`; `inner` holders only `try_lock` it.
    pub writer: Mutex<Writer>,
    pub config: Config,
    /// Notified when the driver task has ended.
    pub finished: Notify,
}

impl Shared {
    pub fn new(config: Config, client: bool, transport: Transport) -> Arc<Shared> {
        let bucket = config.max_receive_buffer as i64;
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                streams: HashMap::new(),
                pool: Pool::new(config.max_receive_buffer + config.stream_send_buffer),
                pins: Pins::default(),
                ready: VecDeque::new(),
                ctrl: VecDeque::new(),
                nop_pending: false,
                bucket,
                accept_q: VecDeque::new(),
                accept_wakers: Vec::new(),
                driver_waker: None,
                error: None,
                write_error: None,
                closing: false,
                next_id: if client { 1 } else { 0 },
                go_away: false,
                handles: 1,
                driver_running: true,
                epoch: 0,
                recv_total: 0,
                send_total: 0,
                read_buffered: 0,
                read_buffers: 0,
                read_paused: false,
                frames_in: 0,
                frames_out: 0,
                bytes_in: 0,
                bytes_out: 0,
                refused_streams: 0,
                idle_closed: 0,
            }),
            writer: Mutex::new(Writer::new(transport)),
            config,
            finished: Notify::new(),
        })
    }

    /// Locks the state. A poisoned lock (a panic elsewhere while holding it) is taken over: the state is
    /// plain data and every field stays consistent between statements that could panic.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
