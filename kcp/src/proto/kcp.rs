//! The KCP state machine: send/recv queues, input, flush, scheduling. No I/O and no clock of its own.

use std::collections::VecDeque;
use std::fmt;

use bytes::{Bytes, BytesMut};

use super::autownd::WindowSizer;
use super::config::{ConfigError, DEAD_LINK, KcpConfig, Preset, WND_DEF};
use super::header::{Cmd, InputError, OVERHEAD, SegmentHeader, segments};
use super::rcvbuf::RecvRing;
use super::rtt::{RTO_MAX, RTO_MIN, RTO_NDL, RttEstimator};
use super::seq::{Clock, diff};
use super::sndbuf::{FastKind, SendBuf, SndSeg, TimeoutVerdict};
use super::stats::Stats;

const ASK_SEND: u8 = 1;
const ASK_TELL: u8 = 2;
/// Longest wait between window probes (kcp-go's `IKCP_PROBE_LIMIT`).
const PROBE_LIMIT: u32 = 120_000;
const THRESH_INIT: u32 = 2;
const THRESH_MIN: u32 = 2;
/// Most unacknowledged segments copied into one datagram ([`Kcp::set_bundling`]).
pub const MAX_BUNDLE: u8 = 8;
/// How long an RTT peak holds up the retransmission timeout, ms.
const PEAK_WINDOW: u32 = 1000;
/// Longest an ACK of in-order data waits for the next flush, ms (ours; kcp-go waits for the flush interval).
/// `update` sends held ACKs with a datagram arriving this long after the oldest, or at the next flush;
/// `update_due` at `ack_due` (the tokio edge's timer) sends them this long after the oldest in any case.
/// A sender sizing its pipe must cover the ACKs held back, so a 30 ms hold keeps 30 ms of data queued at
/// the bottleneck; ACKs within 2 ms let it keep 2 ms. One ACK datagram every 2 ms at most, small beside
/// the data it acknowledges.
const ACK_HOLD_MS: i32 = 2;
/// Size of the chunks payload copies are carved from: one allocation per ~11 full segments instead of one per
/// segment. A stored segment keeps its whole chunk alive, but chunks are only filled by segments accepted
/// into the receive window (duplicates and segments outside it are dropped before the copy), and a segment
/// stays only while a hole below it is open, so what a peer can pin is about two windows of payload plus a
/// chunk, however it orders and sizes its segments.
const ARENA: usize = 16 * 1024;

/// Why [`Kcp::send`] refused data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// Empty buffer.
    Empty,
    /// Message mode: the message needs more than 255 fragments.
    TooLarge {
        /// Message length.
        len: usize,
        /// Largest message: `255 * mss`.
        max: usize,
    },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SendError::Empty => write!(f, "cannot send an empty buffer"),
            SendError::TooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes exceeds the {max}-byte limit of 255 fragments"
                )
            }
        }
    }
}

impl std::error::Error for SendError {}

/// Why [`Kcp::recv`] returned no data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// No complete message (or, in stream mode, segment) is ready.
    Empty,
    /// The caller's buffer is smaller than the next message.
    BufferTooSmall {
        /// Size of the next message.
        need: usize,
    },
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecvError::Empty => write!(f, "no complete message is ready"),
            RecvError::BufferTooSmall { need } => {
                write!(f, "buffer too small, next message has {need} bytes")
            }
        }
    }
}

impl std::error::Error for RecvError {}

/// Work that input asked the next [`Kcp::update`] to do right away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    None,
    Acks,
    Full,
}

/// Collects segments into datagrams of at most `mtu` bytes and hands each to the sink.
struct Out<'a, F: FnMut(&mut [u8])> {
    buf: &'a mut [u8],
    pos: usize,
    reserved: usize,
    /// Datagram size limit (the MTU); `buf` may be larger after the MTU was lowered.
    limit: usize,
    sink: &'a mut F,
    pkts: u64,
    bytes: u64,
    segs: u64,
}

/// Writes segment `sn` as a PUSH stamped `now` (a transmission, or a bundled copy).
fn write_push<F: FnMut(&mut [u8])>(
    out: &mut Out<'_, F>,
    conv: u32,
    una: u32,
    sn: u32,
    seg: &SndSeg,
    now: u32,
    wnd: u16,
) {
    let h = SegmentHeader {
        conv,
        cmd: Cmd::Push,
        frg: seg.frg,
        wnd,
        ts: now,
        sn,
        una,
        len: seg.data.len() as u32,
    };
    out.segment(&h, &seg.data);
}

impl<F: FnMut(&mut [u8])> Out<'_, F> {
    fn make_space(&mut self, n: usize) {
        if self.pos + n > self.limit && self.pos > self.reserved {
            self.emit();
        }
    }

    fn emit(&mut self) {
        (self.sink)(&mut self.buf[..self.pos]);
        self.pkts += 1;
        self.bytes += self.pos as u64;
        self.pos = self.reserved;
    }

    /// Bytes left in the datagram being filled.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.pos)
    }

    fn finish(&mut self) {
        if self.pos > self.reserved {
            self.emit();
        }
    }

    fn segment(&mut self, h: &SegmentHeader, data: &[u8]) {
        self.make_space(OVERHEAD + data.len());
        h.encode(&mut self.buf[self.pos..]);
        self.pos += OVERHEAD;
        self.buf[self.pos..self.pos + data.len()].copy_from_slice(data);
        self.pos += data.len();
        self.segs += 1;
    }
}

fn arena_copy(arena: &mut BytesMut, data: &[u8]) -> Bytes {
    if arena.capacity() - arena.len() < data.len() {
        arena.reserve(data.len().max(ARENA));
    }
    arena.extend_from_slice(data);
    arena.split().freeze()
}

/// One KCP conversation: a reliable, ordered pipe, driven by the caller's millisecond clock.
///
/// Feed received datagrams to [`input`](Kcp::input), queue data with [`send`](Kcp::send), call
/// [`update`](Kcp::update) at the time [`check`](Kcp::check) returns (and after each batch of input) to emit
/// datagrams, and take data out with [`recv`](Kcp::recv) / [`recv_bytes`](Kcp::recv_bytes).
///
/// ```
/// use kcp::proto::{Kcp, KcpConfig, Preset};
/// let cfg = KcpConfig { preset: Preset::Fast3, ..Default::default() };
/// let mut a = Kcp::new(1, &cfg).unwrap();
/// let mut b = Kcp::new(1, &cfg).unwrap();
/// a.send(b"hello").unwrap();
/// let mut wire = Vec::new();
/// a.update(0, |d| wire.push(d.to_vec()));
/// for d in &wire {
///     b.input(5, d, true).unwrap();
/// }
/// assert_eq!(b.recv_bytes().unwrap(), &b"hello"[..]);
/// ```
#[derive(Clone, Debug)]
pub struct Kcp {
    conv: u32,
    mtu: usize,
    mss: usize,
    reserved: usize,
    stream: bool,
    ack_nodelay: bool,

    nodelay: u32,
    interval: u32,
    fastresend: u32,
    nocwnd: bool,

    sizer: WindowSizer,
    rcv_wnd: u32,
    rmt_wnd: u32,
    cwnd: u32,
    ssthresh: u32,
    incr: u32,
    probe: u8,
    ts_probe: u64,
    probe_wait: u32,
    dead_link: u32,
    dead: bool,

    rtt: RttEstimator,
    rcv_nxt: u32,

    snd_queue: VecDeque<(u8, Bytes)>,
    /// Backing store for copied payloads; in stream mode its filled part is the last, still growing segment.
    snd_arena: BytesMut,
    snd_buf: SendBuf,
    rcv_buf: RecvRing,
    rcv_queue: VecDeque<(u8, Bytes)>,
    rcv_arena: BytesMut,
    acklist: Vec<(u32, u32)>,
    /// When the oldest entry of `acklist` was added.
    ack_since: u32,
    /// The ACKs held must go at the next chance (an out-of-order arrival, `ack_nodelay`, the hold over).
    ack_now: bool,
    /// ACKs of the last flush for segments above a hole, sent once more with the next flush's ACKs.
    ack_again: Vec<(u32, u32)>,
    out: Vec<u8>,

    /// Largest RTT sample of the last [`PEAK_WINDOW`] ms (roughly), and when it was taken.
    rtt_peak: u32,
    rtt_peak_at: u32,
    /// Last flush that left data queued because the pipe was full (automatic windows only).
    pipe_full_at: Option<u32>,
    /// Redundant bundling: copies per datagram ([`Kcp::set_bundling`]).
    bundle: u8,
    /// Pacing of first transmissions under a fixed window ([`Kcp::set_pacing`]).
    pacer: Option<Pacer>,
    /// Congestion state before the last timeout, restored if that timeout proves spurious.
    undo: Option<(u32, u32, u32)>,
    clock: Clock,
    next_flush: Option<u64>,
    pending: Pending,
    stats: Stats,
}

impl Kcp {
    /// Creates a conversation `conv` with the given configuration.
    pub fn new(conv: u32, cfg: &KcpConfig) -> Result<Kcp, ConfigError> {
        cfg.validate()?;
        let mut k = Kcp {
            conv,
            mtu: cfg.mtu,
            mss: cfg.mss(),
            reserved: cfg.reserved,
            stream: cfg.stream,
            ack_nodelay: cfg.ack_nodelay,
            nodelay: 0,
            interval: 100,
            fastresend: 0,
            nocwnd: false,
            sizer: WindowSizer::new(cfg.snd_wnd as u32, cfg.max_snd_wnd as u32),
            rcv_wnd: cfg.rcv_wnd as u32,
            rmt_wnd: WND_DEF as u32,
            cwnd: 0,
            ssthresh: THRESH_INIT,
            incr: 0,
            probe: 0,
            ts_probe: 0,
            probe_wait: 0,
            dead_link: DEAD_LINK,
            dead: false,
            rtt: RttEstimator::default(),
            rcv_nxt: 0,
            snd_queue: VecDeque::new(),
            snd_arena: BytesMut::new(),
            snd_buf: SendBuf::new(0),
            rcv_buf: RecvRing::new(cfg.rcv_wnd as usize),
            rcv_queue: VecDeque::new(),
            rcv_arena: BytesMut::new(),
            acklist: Vec::new(),
            ack_since: 0,
            ack_now: false,
            ack_again: Vec::new(),
            out: vec![0; cfg.mtu],
            rtt_peak: 0,
            rtt_peak_at: 0,
            pipe_full_at: None,
            bundle: 0,
            pacer: None,
            undo: None,
            clock: Clock::default(),
            next_flush: None,
            pending: Pending::None,
            stats: Stats::default(),
        };
        k.set_preset(cfg.preset);
        Ok(k)
    }

    /// Changes the retransmission settings (kcp-go `NoDelay`).
    pub fn set_preset(&mut self, preset: Preset) {
        let (nodelay, interval, resend, nc) = preset.params();
        self.nodelay = nodelay;
        self.rtt.min_rto = if nodelay != 0 { RTO_NDL } else { RTO_MIN };
        self.interval = interval;
        self.sizer.set_ack_delay(interval);
        self.fastresend = resend;
        self.snd_buf.set_fast_resend(resend);
        self.nocwnd = nc;
    }

    /// Changes the windows (kcp-go `WndSize`). A smaller receive window keeps what is already buffered.
    /// With an automatic send window, `snd_wnd` is its new floor.
    pub fn set_window(&mut self, snd_wnd: u16, rcv_wnd: u16) {
        if snd_wnd > 0 {
            self.sizer.set_limits(snd_wnd as u32, self.sizer.ceil());
        }
        if rcv_wnd > 0 {
            self.rcv_wnd = rcv_wnd as u32;
            self.rcv_buf.grow(rcv_wnd as usize);
        }
    }

    /// Sets the largest send window (ours): above the configured `snd_wnd`, the send window follows twice the
    /// measured bandwidth-delay product between the two; 0 or at most `snd_wnd` fixes it at `snd_wnd`.
    pub fn set_max_send_window(&mut self, max_snd_wnd: u16) {
        self.sizer
            .set_limits(self.sizer.floor(), max_snd_wnd as u32);
    }

    /// The writers' window in force, in segments (compare with [`write_backlog`](Kcp::write_backlog)): the
    /// configured one, or the automatic one.
    pub fn send_window(&self) -> u32 {
        self.sizer.window()
    }

    /// Changes the MTU (kcp-go `SetMtu`; 50..=1500 and larger than the reserved prefix plus a header). Segments
    /// already queued keep their size.
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), ConfigError> {
        let cfg = KcpConfig {
            mtu,
            reserved: self.reserved,
            ..KcpConfig::default()
        };
        cfg.validate()?;
        self.mtu = mtu;
        self.mss = cfg.mss();
        // The buffer never shrinks: segments cut for a larger MTU must still fit one datagram.
        if self.out.len() < mtu {
            self.out.resize(mtu, 0);
        }
        Ok(())
    }

    /// Sets the number of transmissions of one segment after which the link counts as dead (default 20).
    pub fn set_dead_link(&mut self, xmit: u32) {
        self.dead_link = xmit.max(1);
    }

    /// Conversation id.
    pub fn conv(&self) -> u32 {
        self.conv
    }

    /// Largest payload per segment.
    pub fn mss(&self) -> usize {
        self.mss
    }

    /// Largest datagram emitted, including the reserved prefix.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Flush interval in ms.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    // ----- sending -----

    /// Queues `data` for sending (copied once). In message mode it becomes one message (at most 255 fragments);
    /// in stream mode it is appended to the byte stream, topping up the last unsent segment first.
    pub fn send(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_inner(data, |arena, piece, _| arena_copy(arena, piece))
    }

    /// Like [`send`](Kcp::send) but takes the payload without copying it (full segments are slices of `data`;
    /// in stream mode a partial last segment is copied so later writes can top it up).
    pub fn send_bytes(&mut self, data: Bytes) -> Result<(), SendError> {
        let src = data.clone();
        self.send_inner(&data, move |_, _, range| src.slice(range))
    }

    fn send_inner<M>(&mut self, data: &[u8], mut make: M) -> Result<(), SendError>
    where
        M: FnMut(&mut BytesMut, &[u8], std::ops::Range<usize>) -> Bytes,
    {
        if data.is_empty() {
            return Err(SendError::Empty);
        }
        let mss = self.mss;
        if self.stream {
            let mut at = 0;
            // Top up the growing last segment.
            let tail = self.snd_arena.len();
            if tail > 0 {
                let take = mss.saturating_sub(tail).min(data.len());
                self.snd_arena.extend_from_slice(&data[..take]);
                at = take;
                // `>=`: the tail may exceed a smaller mss set by `set_mtu` after it was started.
                if self.snd_arena.len() >= mss {
                    let seg = self.snd_arena.split().freeze();
                    self.snd_queue.push_back((0, seg));
                }
            }
            while data.len() - at >= mss {
                let seg = make(&mut self.snd_arena, &data[at..at + mss], at..at + mss);
                self.snd_queue.push_back((0, seg));
                at += mss;
            }
            if at < data.len() {
                let rest = &data[at..];
                if self.snd_arena.capacity() - self.snd_arena.len() < mss {
                    self.snd_arena.reserve(ARENA.max(mss));
                }
                self.snd_arena.extend_from_slice(rest);
            }
            return Ok(());
        }
        let count = data.len().div_ceil(mss).max(1);
        if count > 255 {
            return Err(SendError::TooLarge {
                len: data.len(),
                max: 255 * mss,
            });
        }
        for i in 0..count {
            let r = i * mss..((i + 1) * mss).min(data.len());
            let seg = make(&mut self.snd_arena, &data[r.clone()], r);
            self.snd_queue.push_back(((count - 1 - i) as u8, seg));
        }
        Ok(())
    }

    /// Segments queued or in flight (kcp-go `WaitSnd`: acked-but-not-una'd segments still count).
    pub fn wait_snd(&self) -> usize {
        self.snd_buf.len() + self.queued()
    }

    /// Segments not yet moved into the window (the stream-mode arena's growing tail counts as one).
    fn queued(&self) -> usize {
        self.snd_queue.len() + usize::from(!self.snd_arena.is_empty())
    }

    /// No data waits to enter the window.
    fn nothing_queued(&self) -> bool {
        self.snd_queue.is_empty() && (!self.stream || self.snd_arena.is_empty())
    }

    /// Limit of the span `snd_una..snd_nxt`: the configured window, or the ceiling when it is automatic.
    fn span_limit(&self) -> u32 {
        self.sizer.floor().max(self.sizer.ceil())
    }

    /// Segments counted against the writers' limit: [`wait_snd`](Kcp::wait_snd) with a fixed window. With an
    /// automatic one, segments acknowledged but held behind a hole do not count (they wait for a
    /// retransmission, not for the path), only segments unacknowledged or queued.
    pub fn write_backlog(&self) -> usize {
        if self.sizer.is_auto() {
            self.snd_buf.unacked() + self.queued()
        } else {
            self.wait_snd()
        }
    }

    /// Whether a writer may queue more (kcp-go's rule: `wait_snd < snd_wnd && wait_snd < rmt_wnd`; with an
    /// automatic window, `write_backlog` below the window it sized).
    pub fn can_send(&self) -> bool {
        if self.sizer.is_auto() {
            return self.write_backlog() < self.sizer.window() as usize;
        }
        let w = self.wait_snd();
        w < self.span_limit() as usize && w < self.rmt_wnd as usize
    }

    /// True once some segment was transmitted `dead_link` times without being acknowledged. KCP itself does not
    /// act on it; the caller decides (kcp-go sessions ignore it, smux keepalive closes idle sessions).
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    // ----- receiving -----

    /// Whether the receive queue fills the receive window (the peer was told window 0; reading reopens it).
    pub fn recv_window_full(&self) -> bool {
        self.rcv_queue.len() >= self.rcv_wnd as usize
    }

    /// Size of the next message (stream mode: the next segment), or `None` if none is complete.
    pub fn peek_size(&self) -> Option<usize> {
        let (frg, first) = self.rcv_queue.front()?;
        if *frg == 0 {
            return Some(first.len());
        }
        if self.rcv_queue.len() < *frg as usize + 1 {
            return None;
        }
        let mut n = 0;
        for (f, d) in &self.rcv_queue {
            n += d.len();
            if *f == 0 {
                return Some(n);
            }
        }
        None
    }

    /// Copies the next message into `buf` and returns its length.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, RecvError> {
        let need = self.peek_size().ok_or(RecvError::Empty)?;
        if need > buf.len() {
            return Err(RecvError::BufferTooSmall { need });
        }
        let was_full = self.recv_window_full();
        let mut n = 0;
        while let Some((frg, d)) = self.rcv_queue.pop_front() {
            buf[n..n + d.len()].copy_from_slice(&d);
            n += d.len();
            if frg == 0 {
                break;
            }
        }
        self.after_recv(was_full);
        Ok(n)
    }

    /// Takes the next message as `Bytes`: without copying when it is a single segment (always so in stream
    /// mode), else joined into one buffer.
    pub fn recv_bytes(&mut self) -> Option<Bytes> {
        let need = self.peek_size()?;
        let was_full = self.recv_window_full();
        let out = if self.rcv_queue.front().is_some_and(|(f, _)| *f == 0) {
            self.rcv_queue.pop_front().map(|(_, d)| d)
        } else {
            let mut m = BytesMut::with_capacity(need);
            while let Some((frg, d)) = self.rcv_queue.pop_front() {
                m.extend_from_slice(&d);
                if frg == 0 {
                    break;
                }
            }
            Some(m.freeze())
        };
        self.after_recv(was_full);
        out
    }

    fn after_recv(&mut self, was_full: bool) {
        self.move_to_queue();
        if was_full && !self.recv_window_full() {
            // Tell the peer the window reopened.
            self.probe |= ASK_TELL;
        }
    }

    fn move_to_queue(&mut self) {
        while self.rcv_queue.len() < self.rcv_wnd as usize {
            let Some(seg) = self.rcv_buf.take_front() else {
                break;
            };
            self.rcv_queue.push_back(seg);
            self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
        }
    }

    fn wnd_unused(&self) -> u16 {
        self.rcv_wnd
            .saturating_sub(self.rcv_queue.len() as u32)
            .min(u16::MAX as u32) as u16
    }

    // ----- input -----

    /// Processes one received datagram (KCP segments only, the envelope already removed). `regular` is false
    /// for datagrams recovered by FEC: they update neither the peer's window nor the RTT.
    ///
    /// The whole datagram is validated first; on error nothing is applied. Afterwards call
    /// [`update`](Kcp::update): input may ask for an immediate flush (ACKs with `ack_nodelay`, or new data after
    /// the peer's `una` opened the window), which [`check`](Kcp::check) then reports as due now.
    pub fn input(&mut self, now: u32, data: &[u8], regular: bool) -> Result<(), InputError> {
        if let Err(e) = self.validate(data) {
            self.stats.in_errors += 1;
            return Err(e);
        }
        self.clock.advance(now);
        self.stats.in_pkts += 1;
        self.stats.in_bytes += data.len() as u64;
        let old_una = self.snd_buf.una();
        let old_acked = self.snd_buf.acked_total();
        let old_rmt_wnd = self.rmt_wnd;
        // The peer's window held new data back (what is in flight fills it).
        let wnd_shut = self.snd_buf.nxt().wrapping_sub(old_una) >= old_rmt_wnd;
        if self.acklist.is_empty() {
            self.ack_since = now;
        }
        let mut latest_ack_ts = None;
        let mut slid = false;
        let mut out_of_order = false;
        for seg in segments(data) {
            let Ok((h, payload)) = seg else { break };
            self.stats.in_segs += 1;
            if regular {
                self.rmt_wnd = h.wnd as u32;
            }
            if self.snd_buf.pop_below(h.una) > 0 {
                slid = true;
            }
            match h.cmd {
                Cmd::Ack => {
                    if diff(h.sn, self.snd_buf.una()) >= 0 && diff(h.sn, self.snd_buf.nxt()) < 0 {
                        match self.snd_buf.on_ack(h.sn, h.ts) {
                            TimeoutVerdict::Spurious => self.undo_timeout(),
                            TimeoutVerdict::Repaired => self.undo = None,
                            TimeoutVerdict::None => {}
                        }
                    }
                    latest_ack_ts = Some(h.ts);
                }
                Cmd::Push => {
                    let mut repeat = true;
                    if diff(h.sn, self.rcv_nxt.wrapping_add(self.rcv_wnd)) < 0 {
                        self.push_ack(h.sn, h.ts);
                        if diff(h.sn, self.rcv_nxt) >= 0 {
                            out_of_order |= h.sn != self.rcv_nxt;
                            repeat = !self.parse_data(&h, payload);
                        }
                    }
                    if regular && repeat {
                        self.stats.repeat_segs += 1;
                    }
                }
                Cmd::Wask => self.probe |= ASK_TELL,
                Cmd::Wins => {}
            }
        }
        let mut rtt_sample = None;
        if regular && let Some(ts) = latest_ack_ts {
            let rtt = diff(now, ts);
            if rtt >= 0 {
                self.rtt.update(rtt, self.interval);
                if let Some(p) = self.pacer.as_mut() {
                    p.sampled = true;
                }
                rtt_sample = Some(rtt as u32);
                if rtt as u32 >= self.rtt_peak || diff(now, self.rtt_peak_at) > PEAK_WINDOW as i32 {
                    self.rtt_peak = rtt as u32;
                    self.rtt_peak_at = now;
                }
            }
        }
        // With an automatic window, an ACK that frees room in the pipe sends the next segments at once
        // (ACK clocking), as a slid window does, instead of a burst at the next interval.
        let mut pipe_freed = false;
        if self.sizer.is_auto() {
            let acked = self.snd_buf.acked_total() - old_acked;
            if acked > 0 || rtt_sample.is_some() {
                let app_limited =
                    self.nothing_queued() && self.snd_buf.unacked() < self.sizer.pipe() as usize;
                self.sizer
                    .on_ack(now, acked as u32, rtt_sample, app_limited);
            }
            pipe_freed = acked > 0 && self.queued() > 0;
        }
        // Congestion window growth. kcp-go grows once per datagram that moved una, however many segments it
        // acknowledged; with one ACK datagram per flush that starves the window (C test: queues grow without
        // bound). Here each newly acknowledged segment counts, as TCP's byte counting (RFC 3465) does.
        let advanced = diff(self.snd_buf.una(), old_una);
        if !self.nocwnd && advanced > 0 {
            for _ in 0..advanced {
                if self.cwnd >= self.rmt_wnd {
                    break;
                }
                self.grow_cwnd();
            }
        }
        // An out-of-order arrival is acknowledged at once (RFC 5681 4.2): it is the sender's loss signal.
        // In-order data within `ACK_HOLD_MS`. Sticky until the ACKs go: a later in-order datagram of the same
        // batch does not hold them again.
        self.ack_now |= !self.acklist.is_empty()
            && (self.ack_nodelay || out_of_order || diff(now, self.ack_since) >= ACK_HOLD_MS);
        // kcp-go flushes at once when una moved the window. We also do when an ACK made a fast or early
        // retransmission due (as TCP retransmits on the third duplicate ACK instead of at the next timer tick);
        // the early case only when no new data waits, since a flush carrying new data does not early-retransmit.
        let early_possible = self.nothing_queued();
        // The peer's window reopened (a WINS answering our probe, or its application read) while it held
        // queued data back: that data goes at once rather than at the next interval.
        let wnd_opened = wnd_shut && self.rmt_wnd > old_rmt_wnd && !early_possible;
        if slid
            || pipe_freed
            || wnd_opened
            || (latest_ack_ts.is_some()
                && self.snd_buf.fast_due(self.fastresend > 0, early_possible))
        {
            self.pending = Pending::Full;
        } else if self.ack_now {
            self.pending = self.pending.max(Pending::Acks);
        }
        Ok(())
    }

    fn validate(&self, data: &[u8]) -> Result<(), InputError> {
        if data.len() < OVERHEAD {
            return Err(InputError::TooShort { len: data.len() });
        }
        let mut offset = 0;
        for seg in segments(data) {
            let (h, payload) = seg?;
            if h.conv != self.conv {
                return Err(InputError::WrongConv {
                    offset,
                    expected: self.conv,
                    found: h.conv,
                });
            }
            offset += OVERHEAD + payload.len();
        }
        Ok(())
    }

    /// Bounds the ACK list: a flood of duplicate PUSHes between two flushes cannot grow it without limit.
    /// Dropped ACKs only cost a retransmission; the newest entry always survives (it carries the freshest ts).
    fn push_ack(&mut self, sn: u32, ts: u32) {
        let cap = 4 * self.rcv_wnd as usize + 64;
        if self.acklist.len() >= cap {
            if let Some(last) = self.acklist.last_mut() {
                *last = (sn, ts);
            }
            return;
        }
        self.acklist.push((sn, ts));
    }

    /// Stores a PUSH inside the window; false if it was a duplicate.
    fn parse_data(&mut self, h: &SegmentHeader, payload: &[u8]) -> bool {
        let idx = h.sn.wrapping_sub(self.rcv_nxt) as usize;
        if idx >= self.rcv_wnd as usize || self.rcv_buf.has(idx) {
            return false;
        }
        let data = arena_copy(&mut self.rcv_arena, payload);
        let stored = self.rcv_buf.insert(idx, h.frg, data);
        self.move_to_queue();
        stored
    }

    /// A timeout turned out spurious: give back the congestion window it took (Eifel response, RFC 4015).
    fn undo_timeout(&mut self) {
        self.stats.spurious_timeouts += 1;
        if let Some((cwnd, ssthresh, incr)) = self.undo.take() {
            self.cwnd = self.cwnd.max(cwnd);
            self.ssthresh = self.ssthresh.max(ssthresh);
            self.incr = self.incr.max(incr);
        }
    }

    fn grow_cwnd(&mut self) {
        let mss = self.mss as u32;
        if self.cwnd < self.ssthresh {
            self.cwnd += 1;
            self.incr = self.incr.wrapping_add(mss);
        } else {
            if self.incr < mss {
                self.incr = mss;
            }
            self.incr = self.incr.wrapping_add((mss * mss) / self.incr + mss / 16);
            if (self.cwnd + 1).wrapping_mul(mss) <= self.incr {
                self.cwnd = self.incr.div_ceil(mss);
            }
        }
        if self.cwnd > self.rmt_wnd {
            self.cwnd = self.rmt_wnd;
            self.incr = self.rmt_wnd.wrapping_mul(mss);
        }
    }

    // ----- output -----

    /// Runs whatever is due at `now`: the periodic flush when its time came, or the immediate flush input asked
    /// for. Each datagram is passed to `sink` as `&mut [u8]`, including the `reserved` prefix (left for the outer
    /// envelope to fill in place); the slice is only valid during the call.
    pub fn update<F: FnMut(&mut [u8])>(&mut self, now: u32, mut sink: F) {
        let t = self.clock.advance(now);
        let due = self.next_flush.is_none_or(|at| t >= at);
        if due || self.pending == Pending::Full {
            self.flush(now, &mut sink);
        } else if self.pending == Pending::Acks {
            self.flush_acks(now, &mut sink);
        }
    }

    /// As [`update`](Kcp::update), for a caller that sends the application's writes at once (the tokio
    /// edge calls this after received datagrams and on its timer). What input asked for goes now (data
    /// the peer's ACKs freed or its window admits, a fast retransmission, a window answer, ACKs of
    /// out-of-order data or with `ack_nodelay`), and so does the periodic flush while anything is queued
    /// or in flight or the peer's window is shut (it runs the window probes). ACKs of in-order data
    /// wait until [`ack_due`](Kcp::ack_due) (at most `ACK_HOLD_MS`), so that one ACK covers what
    /// arrives meanwhile or rides on the reply the application writes, even while its earlier replies
    /// are still unacknowledged. So a moved `una` with nothing queued and nothing to resend does not
    /// flush (no data follows it), and a side with nothing in flight does not flush periodically (on an
    /// idle session that flush is long overdue): either would send every ACK on arrival.
    pub fn update_due<F: FnMut(&mut [u8])>(&mut self, now: u32, mut sink: F) {
        let t = self.clock.advance(now);
        if self.pending == Pending::Full && self.only_acks_to_send(t) {
            // `una` moved, but no new data follows it and nothing is to be resent: that flush would carry
            // only ACKs, which may wait. (Each segment a peer sends carries its `una`, so every request
            // moves it while replies are in flight.)
            self.pending = if self.ack_now {
                Pending::Acks
            } else {
                Pending::None
            };
        }
        let acks_due = self.ack_now || self.ack_due(now) == Some(now);
        let periodic = self.next_flush.is_none_or(|at| t >= at);
        if (self.wait_snd() > 0 && self.pending == Pending::Full) || self.probe != 0 {
            self.flush(now, &mut sink);
        } else if (self.wait_snd() > 0 || self.rmt_wnd == 0) && periodic {
            if acks_due || !self.only_acks_to_send(t) {
                self.flush(now, &mut sink);
            } else {
                // A side waiting for its peer's ACKs (at a short interval, 10 ms in fast3) would send the
                // held ACKs alone just before the reply they could ride on: they keep waiting, and the
                // flush only schedules the next one.
                let held = std::mem::take(&mut self.acklist);
                self.flush(now, &mut sink);
                self.acklist = held;
            }
        } else if acks_due {
            self.flush_acks(now, &mut sink);
        }
    }

    /// Whether a flush at `t` (extended clock) would send nothing but ACKs: nothing queued, no fast or
    /// early retransmission due, no retransmission timer expired, no window probing.
    fn only_acks_to_send(&mut self, t: u64) -> bool {
        self.nothing_queued()
            && self.rmt_wnd > 0
            && self.snd_buf.next_deadline().is_none_or(|at| at > t)
            && !self.snd_buf.fast_due(self.fastresend > 0, true)
    }

    /// Flushes now: ACKs, window probes, new data within the window, and due retransmissions (kcp-go
    /// `flush(false)`). Returns the ms until it wants to run again (at most `interval`) and schedules that.
    pub fn flush<F: FnMut(&mut [u8])>(&mut self, now: u32, mut sink: F) -> u32 {
        let t = self.clock.advance(now);
        let d = self.flush_impl(now, t, false, &mut sink);
        self.next_flush = Some(t + d as u64);
        self.pending = Pending::None;
        d
    }

    /// Sends only the pending ACKs (kcp-go `flush(true)`).
    pub fn flush_acks<F: FnMut(&mut [u8])>(&mut self, now: u32, mut sink: F) {
        let t = self.clock.advance(now);
        self.flush_impl(now, t, true, &mut sink);
        if self.pending == Pending::Acks {
            self.pending = Pending::None;
        }
    }

    /// The caller-clock time at which [`update`](Kcp::update) next has work: `now` (or earlier) if it is due.
    pub fn check(&self, now: u32) -> u32 {
        match (self.pending, self.next_flush) {
            (Pending::None, Some(at)) => self.clock.to_caller(now, at),
            _ => now,
        }
    }

    /// When ACKs held back are due (caller's clock, never before `now`), if any are held: at most
    /// `ACK_HOLD_MS` after the oldest. [`check`](Kcp::check) and [`update`](Kcp::update) leave them to
    /// the next flush, as kcp-go does (an application that writes only at flushes then sends its reply
    /// and the ACK in one datagram); a caller that flushes writes at once can wake at this time instead,
    /// and [`update_due`](Kcp::update_due) then sends them.
    pub fn ack_due(&self, now: u32) -> Option<u32> {
        if self.acklist.is_empty() {
            return None;
        }
        let at = self.ack_since.wrapping_add(ACK_HOLD_MS as u32);
        Some(if diff(at, now) < 0 { now } else { at })
    }

    /// Milliseconds until [`update_due`](Kcp::update_due) next has work (0 if it has now), or `None`
    /// while nothing is outstanding: with nothing queued or in flight only held ACKs need a timer (an
    /// idle session needs none; the application's next write, or a datagram, calls again). A zero
    /// window from the peer needs the timer too: a writer that follows [`can_send`](Kcp::can_send)
    /// queues nothing then, and only window probes learn that it reopened. A window to announce (a
    /// [`recv`](Kcp::recv) that reopened ours, or a probe to answer) is due at once.
    pub fn due_in(&self, now: u32) -> Option<u32> {
        if self.probe != 0 {
            // A window answer, or our reopened window to announce (after `recv`).
            return Some(0);
        }
        let acks = self.ack_due(now).map(|at| at.wrapping_sub(now));
        if self.wait_snd() == 0 && self.rmt_wnd > 0 {
            return acks;
        }
        let flush = self.check(now).wrapping_sub(now).min(60_000);
        Some(acks.map_or(flush, |a| a.min(flush)))
    }

    fn next_queued(&mut self) -> Option<(u8, Bytes)> {
        if let Some(s) = self.snd_queue.pop_front() {
            return Some(s);
        }
        if self.stream && !self.snd_arena.is_empty() {
            return Some((0, self.snd_arena.split().freeze()));
        }
        None
    }

    fn flush_impl<F: FnMut(&mut [u8])>(
        &mut self,
        now: u32,
        t: u64,
        ack_only: bool,
        sink: &mut F,
    ) -> u32 {
        let mut buf = std::mem::take(&mut self.out);
        let mut out = Out {
            buf: &mut buf,
            pos: self.reserved,
            reserved: self.reserved,
            limit: self.mtu,
            sink,
            pkts: 0,
            bytes: 0,
            segs: 0,
        };
        let mut scratch = SegmentHeader {
            conv: self.conv,
            cmd: Cmd::Ack,
            frg: 0,
            wnd: self.wnd_unused(),
            ts: 0,
            sn: 0,
            una: self.rcv_nxt,
            len: 0,
        };

        // An ACK above a hole is the only news of that segment (una does not cover it): lost, it makes the
        // sender resend a segment that arrived (at 10 % loss about half of all retransmissions). So such ACKs
        // go out once more with the next flush's ACKs, first, so the datagram's last ACK (whose ts gives
        // the peer's RTT sample) stays a fresh one. Never alone: a datagram of old ACKs only would give a
        // kcp-go sender a stale RTT sample.
        let n = self.acklist.len();
        if n > 0 {
            for &(sn, ts) in &self.ack_again {
                if diff(sn, self.rcv_nxt) > 0 {
                    out.make_space(OVERHEAD);
                    scratch.sn = sn;
                    scratch.ts = ts;
                    out.segment(&scratch, &[]);
                }
            }
            self.ack_again.clear();
        }
        // ACKs; those already covered by una are skipped except the last (kcp-go's jitter filter).
        for (i, &(sn, ts)) in self.acklist.iter().enumerate() {
            out.make_space(OVERHEAD);
            if diff(sn, self.rcv_nxt) >= 0 || i + 1 == n {
                scratch.sn = sn;
                scratch.ts = ts;
                out.segment(&scratch, &[]);
            }
            // Above rcv_nxt, so above a hole (rcv_nxt itself has not arrived).
            if diff(sn, self.rcv_nxt) > 0 {
                self.ack_again.push((sn, ts));
            }
        }
        self.acklist.clear();
        self.ack_now = false;

        let ret = if ack_only {
            out.finish();
            self.interval
        } else {
            self.flush_probes_and_data(now, t, &mut out, &mut scratch)
        };
        self.stats.out_pkts += out.pkts;
        self.stats.out_bytes += out.bytes;
        self.stats.out_segs += out.segs;
        self.out = buf;
        ret
    }

    fn flush_probes_and_data<F: FnMut(&mut [u8])>(
        &mut self,
        now: u32,
        t: u64,
        out: &mut Out<'_, F>,
        scratch: &mut SegmentHeader,
    ) -> u32 {
        // Window probe timer: only while the peer advertises a zero window. The peer announces its reopened
        // window once (WINS); if that datagram is lost, only a probe (WASK) gets the answer again. kcp-go
        // waits 7 s before its first probe; ours goes one retransmission timeout after the window shut
        // and backs off by half each time (up to kcp-go's 120 s), as TCP's persist timer does.
        if self.rmt_wnd == 0 {
            if self.probe_wait == 0 {
                self.probe_wait = self.timer_rto().max(self.interval);
                self.ts_probe = t + self.probe_wait as u64;
            } else if t >= self.ts_probe {
                self.probe_wait += self.probe_wait / 2;
                self.probe_wait = self.probe_wait.min(PROBE_LIMIT);
                self.ts_probe = t + self.probe_wait as u64;
                self.probe |= ASK_SEND;
            }
        } else {
            self.ts_probe = 0;
            self.probe_wait = 0;
        }
        if self.probe & ASK_SEND != 0 {
            scratch.cmd = Cmd::Wask;
            out.segment(scratch, &[]);
        }
        if self.probe & ASK_TELL != 0 {
            scratch.cmd = Cmd::Wins;
            out.segment(scratch, &[]);
        }
        self.probe = 0;

        let mut cwnd = self.span_limit().min(self.rmt_wnd);
        if !self.nocwnd {
            cwnd = cwnd.min(self.cwnd);
        }

        // Move new segments into the window (and, when it is automatic, into the pipe; when it is fixed and
        // paced, within the pacing quota).
        let first_new = self.snd_buf.nxt();
        let mut new_segs = 0u32;
        let auto = self.sizer.is_auto();
        let pipe_room = if auto {
            (self.sizer.pipe() as usize).saturating_sub(self.snd_buf.unacked())
        } else if let Some(p) = self.pacer.as_mut() {
            p.quota(t, cwnd, self.rtt.srtt, self.interval)
        } else {
            usize::MAX
        };
        while diff(self.snd_buf.nxt(), self.snd_buf.una().wrapping_add(cwnd)) < 0
            && (new_segs as usize) < pipe_room
        {
            let Some((frg, data)) = self.next_queued() else {
                break;
            };
            self.snd_buf.push_new(frg, data);
            new_segs += 1;
        }
        let room_was_the_limit = new_segs as usize >= pipe_room && !self.nothing_queued();
        if auto && room_was_the_limit {
            self.pipe_full_at = Some(now);
        }
        if !auto && let Some(p) = self.pacer.as_mut() {
            p.spend(new_segs);
        }
        // With a fixed window the room is the pacer's quota: if that held new data back, the window is not
        // full, so there is no tail to probe.
        let paced_out = !auto && room_was_the_limit;

        let wnd = scratch.wnd;
        let (mut change, mut lost) = (0u64, 0u64);
        // Fast and early retransmissions (before timeouts, as kcp-go's rule order).
        // Early retransmit is for the tail, when no new data follows a loss to trigger fast retransmit. A full
        // fixed window stands for that too (kcp-go's windows stay full under loss); a full pipe does not: it
        // is full most of the time, and ACKs arriving a flush apart would make every unacked segment look lost.
        let early = new_segs == 0 && ((!auto && !paced_out) || self.nothing_queued());
        // Transmissions in this flush change nothing the timer depends on.
        let base_rto = self.timer_rto();
        while let Some((sn, kind)) = self.snd_buf.pop_fast(self.fastresend > 0, early) {
            self.transmit(sn, now, t, base_rto, wnd, false, out);
            change += 1;
            match kind {
                FastKind::Fast => self.stats.fast_retrans_segs += 1,
                FastKind::Early => self.stats.early_retrans_segs += 1,
            }
        }
        // Retransmission timeouts.
        while let Some(sn) = self.snd_buf.pop_expired(t) {
            let step = if self.nodelay == 0 {
                base_rto
            } else {
                base_rto / 2
            };
            let rto = self
                .snd_buf
                .get_mut(sn)
                .map_or(base_rto, |s| s.rto)
                .saturating_add(step);
            self.transmit(sn, now, t, rto, wnd, true, out);
            lost += 1;
        }
        self.stats.lost_segs += lost;
        self.stats.retrans_segs += change + lost;
        // First transmissions.
        for i in 0..new_segs {
            self.transmit(first_new.wrapping_add(i), now, t, base_rto, wnd, false, out);
        }
        if new_segs > 0 {
            self.bundle_unacked(first_new, now, wnd, out);
        }
        out.finish();

        let mut minrto = self.interval;
        if let Some(at) = self.snd_buf.next_deadline() {
            let d = at.saturating_sub(t);
            if d > 0 && d < minrto as u64 {
                minrto = d as u32;
            }
        }

        if !self.nocwnd {
            let mss = self.mss as u32;
            if change > 0 {
                let inflight = self.snd_buf.nxt().wrapping_sub(self.snd_buf.una());
                self.ssthresh = (inflight / 2).max(THRESH_MIN);
                // kcp-go adds `resent` here, which wraps to ssthresh - 1 when only early retransmit is on
                // (resent = 0xFFFFFFFF); inflate by the fast-resend threshold only.
                self.cwnd = self.ssthresh.saturating_add(self.fastresend);
                self.incr = self.cwnd.wrapping_mul(mss);
            }
            if lost > 0 {
                if self.undo.is_none() {
                    self.undo = Some((self.cwnd, self.ssthresh, self.incr));
                }
                self.ssthresh = (cwnd / 2).max(THRESH_MIN);
                self.cwnd = 1;
                self.incr = mss;
            }
            if self.cwnd < 1 {
                self.cwnd = 1;
                self.incr = mss;
            }
        }
        minrto
    }

    #[allow(clippy::too_many_arguments)]
    fn transmit<F: FnMut(&mut [u8])>(
        &mut self,
        sn: u32,
        now: u32,
        t: u64,
        rto: u32,
        wnd: u16,
        timeout: bool,
        out: &mut Out<'_, F>,
    ) {
        self.snd_buf.record_transmit(sn, now, t, rto, timeout);
        let Some(seg) = self.snd_buf.get_mut(sn) else {
            return;
        };
        write_push(out, self.conv, self.rcv_nxt, sn, seg, now, wnd);
        if seg.xmit >= self.dead_link {
            self.dead = true;
        }
    }

    /// Redundant bundling (ours): copies of the most recent unacknowledged segments before `first_new` ride
    /// in the room left in the datagram that carries new data, up to `self.bundle` of them, newest first.
    /// A thin stream (small messages, far apart) then recovers a lost message with the next one, a message
    /// interval later, instead of after two more messages' ACKs or a timeout. Full datagrams (bulk) have no
    /// room, so this costs nothing there. The copies are not transmissions: they change no timer or
    /// counter, and carry `ts = now` so an ACK they draw gives a true RTT sample. A receiver (kcp-go too)
    /// treats a copy it already has as a duplicate.
    fn bundle_unacked<F: FnMut(&mut [u8])>(
        &mut self,
        first_new: u32,
        now: u32,
        wnd: u16,
        out: &mut Out<'_, F>,
    ) {
        let mut room = out.room();
        let mut picked = [0u32; MAX_BUNDLE as usize];
        let mut n = 0;
        let mut sn = first_new;
        // Look back a bounded distance: behind a repaired hole, thousands of acked segments may wait.
        let mut steps = 4 * MAX_BUNDLE as usize;
        while n < self.bundle as usize && steps > 0 && diff(sn, self.snd_buf.una()) > 0 {
            steps -= 1;
            sn = sn.wrapping_sub(1);
            let Some(seg) = self.snd_buf.get_mut(sn) else {
                break;
            };
            // Not yet acked, sent before this flush, and it fits.
            if seg.acked || seg.xmit == 0 || seg.ts == now {
                continue;
            }
            let size = OVERHEAD + seg.data.len();
            if size > room {
                break;
            }
            room -= size;
            picked[n] = sn;
            n += 1;
        }
        for &sn in picked[..n].iter().rev() {
            let Some(seg) = self.snd_buf.get_mut(sn) else {
                continue;
            };
            write_push(out, self.conv, self.rcv_nxt, sn, seg, now, wnd);
            self.stats.bundled_segs += 1;
        }
    }

    /// Paces first transmissions under a fixed window (ours; off by default, as kcp-go). Without it, a window
    /// that opens at once sends everything it allows at once: when the retransmission filling a hole
    /// arrives, `una` jumps by most of the window and the whole window leaves in one flush, more than a
    /// bottleneck queue holds (at 200 ms and windows of 1024 with FEC 10/3, 1,331 datagrams into a
    /// 1,000-packet queue), and the losses make the next hole. Paced, new segments leave at most at
    /// 1.5 x window / SRTT (the most a window allows, with room for the estimate's error), in steps of a
    /// flush interval, with at most two intervals' worth at once. Retransmissions are not paced. No effect
    /// with an automatic window, whose pipe limit does this.
    pub fn set_pacing(&mut self, on: bool) {
        self.pacer = on.then(Pacer::default);
    }

    /// Sets how many unacknowledged segments may ride again in the spare room of a datagram carrying new
    /// data (redundant bundling for thin streams; at most [`MAX_BUNDLE`]). 0, the default, sends each
    /// segment only when the ARQ says so, as kcp-go.
    pub fn set_bundling(&mut self, n: u8) {
        self.bundle = n.min(MAX_BUNDLE);
    }

    /// The timeout new transmissions get: kcp-go's RTO, but not below the largest RTT of the last second.
    /// When a window-stall drains the bottleneck queue, a few fast samples pull kcp-go's RTO (whose variance
    /// term hardly reacts to falling samples) below the delay the refilled queue brings back a round trip
    /// later; every segment of the refill then times out spuriously, the duplicates overflow the queue, and
    /// the next stall follows.
    ///
    /// With an automatic window, also not below 1.25 x the time the unacknowledged segments (at most a
    /// pipe of them) take to be delivered at the measured rate, plus the ACK delay: a segment sent now
    /// waits behind them. In startup the pipe grows faster than RTT samples come back, so the queue it
    /// builds outruns both the RTO and the peak (at 20 ms and 1 % loss, 780 of 830 timeouts in the first
    /// 500 ms were spurious).
    fn timer_rto(&self) -> u32 {
        let mut floor = self.rtt_peak;
        // Segments beyond the pipe cannot all be queued (the pipe shrank below them: most were lost), so
        // they do not count.
        if self.sizer.is_auto()
            && let Some(d) = self
                .sizer
                .drain_ms(self.snd_buf.unacked().min(self.sizer.pipe() as usize))
        {
            floor = floor.max(d.saturating_add(d / 4));
        }
        self.rtt.rto.max(floor.min(RTO_MAX))
    }

    // ----- observation -----

    /// Whether the sender is limited by its automatic pipe: a flush within the last smoothed RTT (at least
    /// one interval) left data queued because the pipe was full. Such a sender uses the path's capacity, so
    /// anything else it sends (FEC parity) displaces its own data. Always false with fixed windows.
    pub fn pipe_limited(&self, now: u32) -> bool {
        let hold = (self.rtt.srtt.max(0) as u32).max(self.interval);
        self.pipe_full_at
            .is_some_and(|at| (0..=hold as i32).contains(&diff(now, at)))
    }

    /// A snapshot of the RTT estimator, windows, queue sizes and counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.srtt = self.rtt.srtt;
        s.rttvar = self.rtt.rttvar;
        s.rto = self.rtt.rto;
        s.cwnd = self.cwnd;
        s.ssthresh = self.ssthresh;
        s.rmt_wnd = self.rmt_wnd;
        s.snd_wnd = self.sizer.window();
        s.pipe = self.sizer.pipe();
        s.min_rtt = self.sizer.min_rtt().unwrap_or(0);
        s.snd_una = self.snd_buf.una();
        s.snd_nxt = self.snd_buf.nxt();
        s.rcv_nxt = self.rcv_nxt;
        s.in_flight = self.snd_buf.nxt().wrapping_sub(self.snd_buf.una());
        s.snd_queue = self.queued();
        s.snd_buf = self.snd_buf.len();
        s.rcv_buf = self.rcv_buf.len();
        s.rcv_queue = self.rcv_queue.len();
        s.dead_link = self.dead;
        s
    }

    /// The RTT estimator (srtt, rttvar, rto, minimum rto).
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// Heap bytes this conversation holds in its own buffers and indexes (capacities, not lengths). Payload
    /// chunks are counted by the capacity of the arenas that still reference them; chunks kept alive only by
    /// queued segments are not counted.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.snd_queue.capacity() * size_of::<(u8, Bytes)>()
            + self.snd_arena.capacity()
            + self.snd_buf.heap_bytes()
            + self.rcv_buf.heap_bytes()
            + self.rcv_queue.capacity() * size_of::<(u8, Bytes)>()
            + self.rcv_arena.capacity()
            + (self.acklist.capacity() + self.ack_again.capacity()) * size_of::<(u32, u32)>()
            + self.out.capacity()
    }

    /// True when nothing is queued, in flight, buffered for the reader or waiting to be acknowledged: the
    /// state in which [`release_idle`](Kcp::release_idle) can free everything window-sized.
    pub fn is_quiescent(&self) -> bool {
        self.wait_snd() == 0
            && self.rcv_buf.len() == 0
            && self.rcv_queue.is_empty()
            && self.acklist.is_empty()
    }

    /// Gives back the memory of every empty buffer: the receive ring, the send ring and its indexes, the
    /// queues, the ACK list and the payload arenas (a partly used arena chunk would otherwise stay alive).
    /// They are allocated again on first use. Meant for a caller that finds the conversation quiet (see
    /// [`is_quiescent`](Kcp::is_quiescent)), not for every packet: reallocating costs more than reusing.
    pub fn release_idle(&mut self) {
        self.rcv_buf.release();
        self.snd_buf.release();
        if self.snd_queue.is_empty() {
            self.snd_queue = VecDeque::new();
        }
        if self.rcv_queue.is_empty() {
            self.rcv_queue = VecDeque::new();
        }
        if self.acklist.is_empty() {
            self.acklist = Vec::new();
        }
        // Quiescent means no hole, so these are all below rcv_nxt: never sent again.
        self.ack_again = Vec::new();
        if self.snd_arena.is_empty() {
            self.snd_arena = BytesMut::new();
        }
        // Its filled part is always split off, so the rest is spare capacity only.
        self.rcv_arena = BytesMut::new();
    }

    /// Sequence numbers of segments in flight that are not yet acknowledged (for tests and diagnostics; O(n)).
    pub fn unacked(&self) -> impl Iterator<Item = u32> + '_ {
        self.snd_buf
            .iter_sn()
            .filter(|(_, s)| !s.acked)
            .map(|(sn, _)| sn)
    }
}

/// Pacing of first transmissions under a fixed window ([`Kcp::set_pacing`]): a token bucket of segments.
#[derive(Clone, Debug, Default)]
struct Pacer {
    tokens: f64,
    last: Option<u64>,
    /// An RTT sample was taken (before it, SRTT 0 means "unknown").
    sampled: bool,
}

/// Pacing rate = `PACE_GAIN` x window / SRTT.
const PACE_GAIN: f64 = 1.5;
/// The SRTT assumed before the first sample (ms).
const PACE_FIRST_RTT: f64 = 100.0;
/// Below this SRTT (ms) nothing is paced.
const PACE_MIN_SRTT: i32 = 10;
/// Smallest bucket, in segments.
const PACE_MIN_BURST: f64 = 16.0;

impl Pacer {
    /// Segments that may start at internal time `t` with window `wnd`: the rate since the last call,
    /// at most two flush intervals' worth (a bucket that starts full).
    fn quota(&mut self, t: u64, wnd: u32, srtt: i32, interval: u32) -> usize {
        if self.sampled && srtt < PACE_MIN_SRTT {
            // A millisecond clock cannot pace a path this short (1 or 2 ms is a factor of two), and a
            // window there is rarely near the path's rate.
            self.last = None;
            return usize::MAX;
        }
        let srtt = if self.sampled {
            f64::from(srtt)
        } else {
            PACE_FIRST_RTT
        };
        let rate = PACE_GAIN * f64::from(wnd) / srtt; // segments per ms
        let cap = (rate * 2.0 * f64::from(interval)).max(PACE_MIN_BURST);
        self.tokens = match self.last {
            Some(last) => (self.tokens + t.saturating_sub(last) as f64 * rate).min(cap),
            None => cap,
        };
        self.last = Some(t);
        self.tokens as usize
    }

    fn spend(&mut self, segs: u32) {
        self.tokens = (self.tokens - f64::from(segs)).max(0.0);
    }
}
