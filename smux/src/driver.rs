//! The session driver: one task that reads the transport and dispatches frames, writes queued frames
//! through the shared `writer` (unless a stream's task holds it), and runs the keepalive and idle-stream
//! timers.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::AsyncRead;
use tokio::time::{Instant, Sleep};

use crate::error::Error;
use crate::frame::{Cmd, Decoder, HEADER_LEN};
use crate::state::{Ctrl, Inner, Shared, Slot};
use crate::writer;

/// Bytes asked of the transport per read, at most.
const READ_CHUNK: usize = 256 * 1024;
/// Capacity of a transport read buffer. Payloads are sliced out of it (see `recv`), so a new one is
/// started when less than `MIN_SPARE` (or less than the next frame) is left.
const READ_BUF: usize = 512 * 1024;
/// Received payloads up to this size are copied into the stream's queue rather than sliced.
const SMALL_RECV: usize = 512;
/// Read buffer of a session gone idle.
const IDLE_BUF: usize = 4096;
/// Least free space worth a read syscall.
const MIN_SPARE: usize = 128 * 1024;
/// Reads (or writes) per driver poll before giving the other direction a turn.
const OPS_PER_POLL: usize = 16;
/// Bytes read in one driver poll that count as bulk traffic (see `Driver::spin_or_sleep`).
const SPIN_BULK: usize = 32 * 1024;
/// Runtime turns without data a driver spins after bulk traffic before it sleeps, at most.
const SPIN_TURNS: u32 = 16;
/// A driver that stopped spinning (it did not pay) tries again after this many bulk reads.
const SPIN_PROBE: u32 = 64;

enum Parse {
    /// The buffer holds no complete frame.
    NeedMore,
    /// Reading is paused (bucket empty, accept backlog full, or too much control traffic queued).
    Paused,
}

pub(crate) struct Driver<T> {
    /// Kept apart from the rest so that the methods can hold the lock while changing `core`.
    shared: Arc<Shared>,
    core: Core<T>,
}

struct Core<T> {
    io: T,
    decoder: Decoder,
    rbuf: BytesMut,
    /// Generation of `rbuf`'s allocation (see `recv::Pins`) and its capacity.
    rgen: u64,
    rcap: usize,
    /// `rbuf` is the small buffer of an idle session.
    idle_buf: bool,
    /// Earlier read buffers, by generation, while queued payloads may still refer to them.
    retired: VecDeque<(u64, BytesMut)>,
    /// Empty read buffers kept for reuse, and the fewest seen since the last keepalive tick.
    spare: Vec<BytesMut>,
    spare_low: usize,
    /// Most bytes of read buffers that queued payloads may hold alive; beyond it payloads are copied.
    pin_limit: usize,
    read_done: bool,
    wakers: Vec<Waker>,
    /// Bytes read or written since the counters in `Inner` were last updated (saves lock round trips).
    pending_in: u64,
    /// A side of the last driver round stopped with work left (budget used up, or reading paused).
    busy: bool,
    data_seen: bool,
    ka_send: Option<Pin<Box<Sleep>>>,
    ka_check: Option<Pin<Box<Sleep>>>,
    idle_tick: Option<(Pin<Box<Sleep>>, Duration)>,
    /// The timers were polled once (registered with the timer driver).
    timers_armed: bool,
    /// Bytes read since the driver last decided whether to spin (see `Driver::spin_or_sleep`).
    bytes_read: usize,
    /// Since then, a stream received data and its peer may send more at once (v1; v2 with window
    /// left), so that more data may be about to arrive.
    more_due: bool,
    /// Runtime turns the driver may still spin without data before it sleeps.
    spins: u32,
    /// Turns a spin may take now: one less after a spin that found nothing, doubled (up to
    /// `SPIN_TURNS`) when it found data.
    spin_limit: u32,
    /// The driver is spinning (it yielded instead of sleeping and has not slept since).
    spinning: bool,
    /// Bulk reads while `spin_limit` is 0; every `SPIN_PROBE`-th tries one turn again.
    probes: u32,
}

impl<T: AsyncRead + Unpin> Driver<T> {
    pub fn new(io: T, shared: Arc<Shared>) -> Driver<T> {
        let core = Core::new(io, &shared);
        Driver { shared, core }
    }
}

impl<T: AsyncRead + Unpin> Core<T> {
    fn new(io: T, shared: &Shared) -> Core<T> {
        let cfg = &shared.config;
        let now = Instant::now();
        let (ka_send, ka_check) = if cfg.keep_alive_disabled {
            (None, None)
        } else {
            (
                Some(Box::pin(tokio::time::sleep_until(
                    now + cfg.keep_alive_interval,
                ))),
                Some(Box::pin(tokio::time::sleep_until(
                    now + cfg.keep_alive_timeout,
                ))),
            )
        };
        let idle_tick = cfg.idle_stream_timeout.map(|d| {
            let half = (d / 2).max(Duration::from_millis(1));
            (Box::pin(tokio::time::sleep_until(now + half)), half)
        });
        let pin_limit = cfg.max_receive_buffer + 2 * READ_BUF;
        Core {
            decoder: Decoder::new(cfg.version, cfg.max_receive_frame_size),
            io,
            rbuf: BytesMut::with_capacity(IDLE_BUF),
            rgen: 0,
            rcap: IDLE_BUF,
            idle_buf: true,
            retired: VecDeque::new(),
            spare: Vec::new(),
            spare_low: 0,
            pin_limit,
            read_done: false,
            wakers: Vec::new(),
            pending_in: 0,
            busy: false,
            data_seen: false,
            ka_send,
            ka_check,
            idle_tick,
            timers_armed: false,
            bytes_read: 0,
            more_due: false,
            spins: 0,
            spin_limit: SPIN_TURNS,
            spinning: false,
            probes: 0,
        }
    }

    fn wake_collected(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
    }

    // ---------------------------------------------------------------- timers

    fn poll_timers(&mut self, shared: &Shared, cx: &mut Context<'_>) {
        // A registered timer that has not fired keeps the waker of its last poll (this task's), so it is
        // polled only once it has elapsed (an atomic load, where each poll would register the waker
        // again and the driver is polled several times per stream opened). The first poll registers all.
        let elapsed = self.ka_send.as_ref().is_some_and(|t| t.is_elapsed())
            || self.ka_check.as_ref().is_some_and(|t| t.is_elapsed())
            || self.idle_tick.as_ref().is_some_and(|(t, _)| t.is_elapsed());
        if self.timers_armed && !elapsed {
            return;
        }
        self.timers_armed = true;
        self.poll_timers_due(shared, cx);
    }

    fn poll_timers_due(&mut self, shared: &Shared, cx: &mut Context<'_>) {
        let cfg = &shared.config;
        if let Some(t) = self.ka_send.as_mut()
            && t.as_mut().poll(cx).is_ready()
        {
            let next = t.deadline() + cfg.keep_alive_interval;
            t.as_mut().reset(next.max(Instant::now()));
            // Give back the spare read buffers that were not needed since the last tick, those whose
            // payloads have all been read, and the read buffer itself while it is empty (an idle
            // session holds none; the next read takes a new one).
            let unused = self.spare_low.min(self.spare.len());
            self.spare.truncate(self.spare.len() - unused);
            self.spare_low = self.spare.len();
            let mut inner = shared.lock();
            self.retired.retain(|(g, _)| inner.pins.is_pinned(*g));
            if self.rbuf.is_empty() && !inner.pins.is_pinned(self.rgen) {
                self.rbuf = BytesMut::with_capacity(IDLE_BUF);
                self.rcap = IDLE_BUF;
                self.idle_buf = true;
            }
            inner.pool.trim();
            if !inner.nop_pending {
                inner.nop_pending = true;
                inner.ctrl.push_back(Ctrl::Nop);
            }
            // Poll the timer again so its waker is registered for the next tick.
            let _ = t.as_mut().poll(cx);
        }
        if let Some(t) = self.ka_check.as_mut()
            && t.as_mut().poll(cx).is_ready()
        {
            let mut inner = shared.lock();
            // As smux: a session stalled only because the application does not read is not killed.
            if !self.data_seen && inner.bucket > 0 {
                inner.fail(Error::KeepaliveTimeout);
            } else {
                self.data_seen = false;
            }
            drop(inner);
            let next = Instant::now() + cfg.keep_alive_timeout;
            t.as_mut().reset(next);
            let _ = t.as_mut().poll(cx);
        }
        if let Some((t, half)) = self.idle_tick.as_mut()
            && t.as_mut().poll(cx).is_ready()
        {
            let next = Instant::now() + *half;
            t.as_mut().reset(next);
            let _ = t.as_mut().poll(cx);
            let mut inner = shared.lock();
            sweep_idle(&mut inner);
        }
    }

    // ---------------------------------------------------------------- reading

    /// Reads and dispatches frames. Returns whether anything happened. `register`: the first round of a
    /// driver poll, whose first look at the state also registers the driver's waker (saves a lock).
    fn poll_read_side(
        &mut self,
        shared: &Shared,
        cx: &mut Context<'_>,
        mut register: bool,
    ) -> bool {
        let mut progress = false;
        for _ in 0..OPS_PER_POLL {
            if self.read_done {
                if register {
                    register_driver(&mut shared.lock(), cx);
                }
                return progress;
            }
            let paused = {
                let mut inner = shared.lock();
                if register {
                    register_driver(&mut inner, cx);
                    register = false;
                }
                if inner.error.is_some() || inner.closing {
                    return progress;
                }
                inner.bytes_in += std::mem::take(&mut self.pending_in);
                let r = self.dispatch(shared, &mut inner);
                inner.read_buffered = self.rbuf.len();
                match r {
                    Err(e) => {
                        inner.fail(e);
                        drop(inner);
                        self.read_done = true;
                        // Wakers collected before the bad frame (a SYN's acceptor, readers) must run too.
                        self.wake_collected();
                        return true;
                    }
                    Ok(Parse::Paused) => {
                        inner.read_paused = true;
                        // Writing may unpause reading (too much control traffic queued).
                        self.busy = true;
                        true
                    }
                    Ok(Parse::NeedMore) => {
                        inner.read_paused = false;
                        false
                    }
                }
            };
            self.wake_collected();
            if paused {
                return progress;
            }
            let need = self
                .decoder
                .needed(&self.rbuf)
                .saturating_sub(self.rbuf.len());
            // An idle session waits with a small buffer and takes a full one once data arrives.
            let min_spare = if self.idle_buf {
                need
            } else {
                need.max(MIN_SPARE)
            };
            if self.rbuf.capacity() - self.rbuf.len() < min_spare {
                self.new_read_buffer(shared, need);
            }
            // Never read more than a chunk: unparsed bytes stay bounded by one chunk plus one frame.
            let want = READ_CHUNK.max(need);
            let mut limited = (&mut self.rbuf).limit(want);
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut limited) {
                Poll::Pending => return progress,
                Poll::Ready(Ok(0)) => {
                    self.read_done = true;
                    shared.lock().fail(Error::TransportEof);
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    progress = true;
                    // A read that filled the small buffer of an idle session: traffic is back.
                    if self.rbuf.capacity() == self.rbuf.len() {
                        self.idle_buf = false;
                    }
                    self.pending_in += n as u64;
                    self.bytes_read += n;
                }
                Poll::Ready(Err(e)) => {
                    self.read_done = true;
                    shared.lock().fail(Error::from_io(&e));
                    return true;
                }
            }
        }
        self.busy = true;
        progress
    }

    /// Bytes of transport read buffers held: the current one, spares, and replaced ones whose payloads
    /// are still queued.
    fn read_buffer_bytes(&self) -> usize {
        let current = if self.rbuf.capacity() > 0 {
            self.rcap
        } else {
            0
        };
        current + (self.spare.len() + self.retired.len()) * READ_BUF
    }

    /// Makes room for at least `need` (and `MIN_SPARE`) more bytes in `rbuf`: in place when no queued
    /// payload refers to its allocation any more, else in another read buffer (a new generation) that
    /// gets the unparsed tail (less than one frame). Replaced buffers wait in `retired` until their
    /// payloads have been read and are then kept for reuse: fresh 256 KiB allocations cost page faults.
    fn new_read_buffer(&mut self, shared: &Shared, need: usize) {
        let len = self.rbuf.len();
        let size = if self.idle_buf { IDLE_BUF } else { READ_BUF };
        let room = size.max(len + need) - len;
        let inner = shared.lock();
        if !inner.pins.is_pinned(self.rgen) && self.rbuf.try_reclaim(room) {
            return;
        }
        let mut i = 0;
        while i < self.retired.len() {
            if inner.pins.is_pinned(self.retired[i].0) {
                i += 1;
                continue;
            }
            if let Some((_, mut b)) = self.retired.swap_remove_back(i) {
                b.clear();
                // Spares and pinned buffers together stay within the pin limit.
                if (self.spare.len() + 1) * READ_BUF + inner.pins.bytes() <= self.pin_limit
                    && b.try_reclaim(READ_BUF)
                {
                    self.spare.push(b);
                }
            }
        }
        drop(inner);
        let spare = if self.idle_buf {
            None
        } else {
            self.spare.pop()
        };
        let mut fresh = match spare {
            Some(b) if b.capacity() >= len + room => b,
            _ => BytesMut::with_capacity(len + room),
        };
        self.spare_low = self.spare_low.min(self.spare.len());
        fresh.extend_from_slice(&self.rbuf);
        let mut old = std::mem::replace(&mut self.rbuf, fresh);
        old.clear();
        self.retired.push_back((self.rgen, old));
        self.rgen = self.rgen.wrapping_add(1) % crate::recv::COPIED;
        self.rcap = self.rbuf.capacity();
    }

    /// Parses and handles every complete frame in `rbuf` while the session may buffer more.
    fn dispatch(&mut self, shared: &Shared, inner: &mut Inner) -> Result<Parse, Error> {
        let cfg = &shared.config;
        let ctrl_cap = cfg.max_streams.saturating_mul(2).saturating_add(1024);
        loop {
            if inner.bucket <= 0
                || inner.accept_q.len() >= cfg.accept_backlog
                || inner.ctrl.len() >= ctrl_cap
            {
                return Ok(Parse::Paused);
            }
            let Some((h, total)) = self.decoder.peek(&self.rbuf)? else {
                return Ok(Parse::NeedMore);
            };
            self.data_seen = true;
            inner.frames_in += 1;
            let epoch = inner.epoch;
            let sid = h.sid;
            match h.cmd {
                Cmd::Nop => {}
                Cmd::Syn => {
                    if !inner.streams.contains_key(&sid) {
                        if inner.streams.len() >= cfg.max_streams {
                            inner.refused_streams += 1;
                            inner.ctrl.push_back(Ctrl::Fin(sid));
                        } else {
                            inner.streams.insert(sid, Slot::new(epoch));
                            inner.accept_q.push_back(sid);
                            self.wakers.append(&mut inner.accept_wakers);
                        }
                    }
                }
                Cmd::Fin => {
                    if let Some(slot) = inner.streams.get_mut(&sid) {
                        slot.peer_fin = true;
                        slot.last_active = epoch;
                        if let Some(w) = slot.read_waker.take() {
                            self.wakers.push(w);
                        }
                        // Unlike smux v1.5.16 (whose v2 writer gives up when FIN arrives), FIN is a half-close
                        // here: a writer waiting for window keeps waiting for the peer's UPDs.
                    }
                }
                Cmd::Psh => {
                    let n = total - HEADER_LEN;
                    if n > 0
                        && let Some(slot) = inner.streams.get_mut(&sid)
                        && !slot.dropped
                        && slot.error.is_none()
                    {
                        // Slice the payload out of the read buffer unless that would hold too much
                        // memory alive (a payload already shares a buffer that is held anyway).
                        // Small payloads are copied (cheaper than a slice, and compact).
                        let sliced = n > SMALL_RECV
                            && (inner.pins.is_pinned(self.rgen)
                                || inner.pins.bytes() + self.rcap <= self.pin_limit);
                        if sliced {
                            inner.pins.add(self.rgen, self.rcap);
                            self.rbuf.advance(HEADER_LEN);
                            slot.recv.push(self.rbuf.split_to(n).freeze(), self.rgen);
                        } else {
                            slot.recv.push_copy(&self.rbuf[HEADER_LEN..total]);
                        }
                        slot.recv_len += n;
                        slot.last_active = epoch;
                        // v2: the peer may send until its unacknowledged bytes fill the window, and
                        // unread bytes are among them. With less than half the window left it soon
                        // waits for our UPD: a window ping-pong, where spinning only moves the
                        // session's tasks between threads.
                        let left = cfg.max_stream_buffer.saturating_sub(slot.recv_len);
                        self.more_due |= cfg.version == 1
                            || (left > cfg.max_stream_buffer / 2 && left >= SPIN_BULK);
                        if let Some(w) = slot.read_waker.take() {
                            self.wakers.push(w);
                        }
                        inner.bucket -= n as i64;
                        inner.recv_total += n;
                        if sliced {
                            // The frame is consumed already.
                            continue;
                        }
                    }
                }
                Cmd::Upd => {
                    let p = &self.rbuf[HEADER_LEN..total];
                    let consumed = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                    let window = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
                    if let Some(slot) = inner.streams.get_mut(&sid) {
                        slot.peer_consumed = consumed;
                        slot.peer_window = window;
                        slot.last_active = epoch;
                        let wants = !slot.in_ready
                            && (!slot.send.is_empty() || (slot.fin_pending && !slot.fin_sent));
                        if wants {
                            // The write side runs right after this in the same driver round.
                            inner.queue_ready(sid);
                        }
                    }
                }
            }
            self.rbuf.advance(total);
        }
    }
}

/// Registers the driver task's waker, before anything is looked at in the same critical section, so that no
/// wake-up is missed. A wake-up during this poll takes the waker and has the task polled again, so later
/// rounds need not register it again. Also notes that the last handle is gone (local close).
fn register_driver(inner: &mut Inner, cx: &Context<'_>) {
    match &inner.driver_waker {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => inner.driver_waker = Some(cx.waker().clone()),
    }
    if inner.handles == 0 && !inner.closing {
        inner.closing = true;
    }
}

/// Closes streams that saw no frame for two idle ticks.
fn sweep_idle(inner: &mut Inner) {
    inner.epoch += 1;
    let epoch = inner.epoch;
    let idle: Vec<u32> = inner
        .streams
        .iter()
        .filter(|(_, s)| s.error.is_none() && epoch.saturating_sub(s.last_active) >= 2)
        .map(|(sid, _)| *sid)
        .collect();
    for sid in idle {
        inner.idle_closed += 1;
        let Some(slot) = inner.streams.get_mut(&sid) else {
            continue;
        };
        slot.error = Some(Error::StreamIdleTimeout);
        slot.wake_reader();
        slot.wake_writer();
        let (recv, send) = (slot.recv_len, slot.send.len());
        slot.recv.clear(&mut inner.pins);
        slot.recv_len = 0;
        slot.send.clear(&mut inner.pool);
        let fin = !slot.fin_sent;
        slot.fin_sent = true;
        let gone = slot.dropped || !slot.has_handle;
        inner.send_total -= send;
        if recv > 0 {
            inner.return_tokens(recv);
        }
        if fin {
            inner.ctrl.push_back(Ctrl::Fin(sid));
        }
        if gone {
            inner.accept_q.retain(|s| *s != sid);
            inner.streams.remove(&sid);
        }
    }
    // No driver wake-up: this runs inside the driver's poll, before its write side.
}

/// What a driver poll asks of its task.
enum Step {
    /// The session has ended.
    Done,
    /// Run again after the runtime has looked for I/O events once, without sleeping.
    Yield,
}

impl<T: AsyncRead + Unpin> Driver<T> {
    /// The driver task.
    pub async fn run(mut self) {
        loop {
            match std::future::poll_fn(|cx| self.poll_step(cx)).await {
                Step::Done => return,
                // Deferred until the worker has polled the I/O driver (with a zero timeout).
                Step::Yield => tokio::task::yield_now().await,
            }
        }
    }

    /// Whether to come back at once (`Step::Yield`) instead of sleeping until a wake-up. A driver that
    /// has just read a bulk of data, on a stream whose peer may send more at once, expects more soon:
    /// on a fast transport the sender's next write arrives within microseconds, while a sleeping
    /// driver's thread costs the sender a cross-CPU wake-up per write. A reader that drains faster
    /// than the sender fills would sleep after every write; on a virtual machine those wake-ups cost
    /// more than the copies, and half the throughput. So the driver keeps looking for a few runtime
    /// turns (each an I/O poll with zero timeout; other tasks run in between) before it sleeps.
    ///
    /// How many adapts: a spin that found nothing gives the next one turn less; data (any amount: a
    /// spin catches it early, in smaller reads) doubles the turns, up to `SPIN_TURNS`, and the spin
    /// goes on. At zero, every `SPIN_PROBE`-th bulk read tries one turn. (Halving on a fruitless spin
    /// was too eager: on an idle machine some spins find nothing, the shorter spins then missed more
    /// and the slow mode was back; one turn less only stops a spin that keeps finding nothing.)
    fn spin_or_sleep(core: &mut Core<T>) -> Poll<Step> {
        let read = std::mem::take(&mut core.bytes_read);
        let data = std::mem::take(&mut core.more_due) && read > 0;
        if core.spinning {
            if data {
                // Data came while spinning (a spin catches it early, in smaller reads): worth it.
                core.spin_limit = (core.spin_limit * 2).clamp(1, SPIN_TURNS);
                core.spins = core.spin_limit - 1;
                return Poll::Ready(Step::Yield);
            }
            if core.spins > 0 {
                core.spins -= 1;
                return Poll::Ready(Step::Yield);
            }
            // Nothing came: the sender is slower than a spin, or not running.
            core.spin_limit = core.spin_limit.saturating_sub(1);
            core.spinning = false;
            return Poll::Pending;
        }
        if !data || read < SPIN_BULK {
            return Poll::Pending;
        }
        if core.spin_limit == 0 {
            core.probes = core.probes.wrapping_add(1);
            if core.probes % SPIN_PROBE != 0 {
                return Poll::Pending;
            }
            core.spins = 0;
        } else {
            core.spins = core.spin_limit - 1;
        }
        core.spinning = true;
        Poll::Ready(Step::Yield)
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        let Driver { shared, core: this } = self;
        let shared: &Shared = shared;
        for round in 0..8 {
            this.busy = false;
            if round == 0 {
                this.poll_timers(shared, cx);
            }
            let r = this.poll_read_side(shared, cx, round == 0);
            // A stream's task holding the writer checks for work left once it lets go (`write_inline`).
            let mut writer = writer::try_lock(shared);
            let w = match writer.as_mut() {
                Some(wr) => {
                    let (progress, busy) = wr.poll_write_side(shared, cx, OPS_PER_POLL);
                    this.busy |= busy;
                    progress
                }
                None => false,
            };
            let write_idle = writer.as_ref().is_some_and(|wr| wr.is_idle());
            let (error, closing, write_dead) = {
                let mut inner = shared.lock();
                inner.bytes_in += std::mem::take(&mut this.pending_in);
                if let Some(wr) = writer.as_mut() {
                    inner.bytes_out += wr.take_pending_out();
                }
                inner.read_buffers = this.read_buffer_bytes();
                if inner.handles == 0 && !inner.closing {
                    inner.closing = true;
                }
                // The write side does not look again after writing all it gathered; frames queued since
                // are written before the transport is shut down (another round).
                if inner.closing
                    && writer.is_some()
                    && (!inner.ready.is_empty() || !inner.ctrl.is_empty())
                {
                    this.busy = true;
                }
                (
                    inner.error.is_some(),
                    inner.closing,
                    inner.write_error.is_some(),
                )
            };
            // After a write error the session lives on while there is still something to read.
            let finished_reading = this.read_done || closing;
            if error || (write_dead && finished_reading) || (closing && write_idle && !this.busy) {
                if closing
                    && !error
                    && !write_dead
                    && let Some(wr) = writer.as_mut()
                    && !wr.shut_down
                {
                    match wr.poll_shutdown(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(_) => wr.shut_down = true,
                    }
                }
                drop(writer);
                // The write half lives in `Shared`, which handles keep alive: let go of the transport.
                shared
                    .writer
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .release_transport();
                if write_dead {
                    let mut inner = shared.lock();
                    let e = inner.write_error.clone().unwrap_or(Error::SessionClosed);
                    inner.fail(e);
                }
                let mut inner = shared.lock();
                inner.fail(Error::SessionClosed);
                inner.driver_running = false;
                inner.driver_waker = None;
                drop(inner);
                shared.finished.notify_waiters();
                return Poll::Ready(Step::Done);
            }
            drop(writer);
            // Both sides wait for an event (their wakers are registered): another round would only
            // find the same.
            if (!r && !w) || !this.busy {
                return Self::spin_or_sleep(this);
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
