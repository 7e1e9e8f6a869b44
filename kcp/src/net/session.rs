//! State of one session, shared by its [`KcpStream`](super::KcpStream) handle and the driver.
//!
//! The driver owns all I/O and timers; a stream only moves bytes in and out of the KCP core under the
//! session lock and asks the driver (through the endpoint's dirty list) to flush.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use tokio::sync::Notify;

use super::core::Core;
use super::envelope::Envelope;
use super::stats::SessionStats;
use super::udp::{TxQueue, Udp};

/// Why a session ended; readers and writers see it as an [`io::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// Nothing received for the idle timeout.
    IdleTimeout,
    /// A segment reached the dead-link retransmission count.
    DeadLink,
    /// Closed locally (stream dropped and its data delivered, or given up on).
    Closed,
    /// The peer opened a new conversation from the same address.
    Replaced,
    /// The socket failed or the endpoint went away.
    EndpointGone,
    /// Client: the peer's host reported the port closed (ICMP port unreachable).
    Refused,
}

impl EndReason {
    pub(crate) fn to_error(self) -> io::Error {
        match self {
            EndReason::IdleTimeout => {
                io::Error::new(io::ErrorKind::TimedOut, "kcp session idle timeout")
            }
            EndReason::DeadLink => io::Error::new(
                io::ErrorKind::TimedOut,
                "kcp link dead: retransmissions exhausted",
            ),
            EndReason::Closed => io::Error::new(io::ErrorKind::NotConnected, "kcp session closed"),
            EndReason::Replaced => io::Error::new(
                io::ErrorKind::ConnectionReset,
                "kcp session replaced by a new conversation",
            ),
            EndReason::EndpointGone => {
                io::Error::new(io::ErrorKind::BrokenPipe, "kcp socket closed")
            }
            EndReason::Refused => io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "kcp peer refused: port unreachable",
            ),
        }
    }
}

/// What an endpoint's driver and its sessions share.
#[derive(Debug)]
pub(crate) struct EndpointShared {
    /// Wakes the driver.
    pub(crate) notify: Notify,
    /// Sessions (slab keys) that asked for a flush; each at most once (see [`Session::queued`]).
    pub(crate) dirty: Mutex<Vec<usize>>,
    /// Millisecond clock origin for the cores.
    pub(crate) epoch: Instant,
    /// Set when the owning listener or client handle is gone.
    pub(crate) closing: AtomicBool,
    /// Sessions whose buffers are still alive.
    pub(crate) live: AtomicUsize,
    /// The socket's local address.
    pub(crate) local: SocketAddr,
    /// The socket, shared so writers can send what their flush produced without a task hop.
    pub(crate) udp: Arc<Udp>,
    /// The order datagrams reach the socket in: see [`TxOrder`].
    pub(crate) tx_order: Mutex<TxOrder>,
}

/// Keeps each session's datagrams in the order they were sealed on their way to the socket.
///
/// A writer's inline flush and the driver both seal datagrams under the session's lock, but send them after
/// releasing it: the driver at the end of its turn, a writer at once. Without an order between the two, a
/// writer's newer segments could leave before the driver's older ones, and the peer's ACKs for them would
/// count as duplicate ACKs for the older ones: spurious fast retransmissions (at 0 % loss on a 20 ms,
/// 100 Mbit/s path, 100 to 200 of them in the first 200 ms of a bulk transfer). The rule: whoever seals takes
/// this lock before releasing the session's, so seals and places in line happen in one order.
/// - While the driver holds sealed datagrams it has not sent (`driver_unsent`), or datagrams wait in `queue`,
///   a writer appends its own to `queue` instead of sending them; the driver sends `queue` after its own.
/// - Before sealing for a session, the driver moves `queue` (all sealed earlier) in front of what it seals.
#[derive(Debug, Default)]
pub(crate) struct TxOrder {
    /// Datagrams waiting for the driver to send them, oldest first.
    pub(crate) queue: TxQueue,
    /// The driver has sealed datagrams it has not sent yet.
    pub(crate) driver_unsent: bool,
}

/// Counts (SNMP `OutPkts`, `OutBytes`) the datagrams sealed into `tx` since `before`, its length and bytes
/// then; writers and the driver count at sealing time, before the datagrams change hands.
pub(crate) fn count_sealed(tx: &TxQueue, before: (usize, usize)) {
    let snmp = super::stats::snmp();
    super::stats::Snmp::add(&snmp.out_pkts, (tx.len() - before.0) as u64);
    super::stats::Snmp::add(&snmp.out_bytes, (tx.bytes() - before.1) as u64);
}

impl EndpointShared {
    pub(crate) fn new(udp: Arc<Udp>) -> std::io::Result<Arc<Self>> {
        let local = udp.local_addr()?;
        Ok(Arc::new(EndpointShared {
            notify: Notify::new(),
            dirty: Mutex::new(Vec::new()),
            epoch: Instant::now(),
            closing: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            local,
            udp,
            tx_order: Mutex::new(TxOrder::default()),
        }))
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub(crate) fn tx_order(&self) -> MutexGuard<'_, TxOrder> {
        self.tx_order.lock().unwrap_or_else(|e| e.into_inner())
    }
}

thread_local! {
    /// Scratch queue for inline flushes (never held across an await).
    static INLINE_TX: std::cell::RefCell<TxQueue> = std::cell::RefCell::new(TxQueue::default());
}

/// One session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) key: usize,
    pub(crate) remote: SocketAddr,
    pub(crate) conv: u32,
    pub(crate) endpoint: Arc<EndpointShared>,
    /// In the endpoint's dirty list already.
    queued: AtomicBool,
    state: Mutex<State>,
}

/// Mutable session state (under the session lock).
#[derive(Debug)]
pub(crate) struct State {
    /// The KCP core and envelope; `None` once the session ended, so its buffers are freed at once.
    pub(crate) live: Option<Live>,
    pub(crate) ended: Option<EndReason>,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
    /// The stream handle is gone: end the session once its data is delivered.
    pub(crate) released: bool,
    /// Writes were shut down.
    pub(crate) write_shut: bool,
    /// Last time a datagram was accepted (ms on the endpoint clock).
    pub(crate) last_recv: u64,
    /// Deadline currently in the driver's timer heap (`u64::MAX`: none).
    pub(crate) deadline: u64,
    /// Received input in the current receive batch (the driver flushes it once at the batch end).
    pub(crate) in_batch: bool,
    /// Since when (endpoint ms) every service found the core quiescent; `None` while it is busy.
    pub(crate) quiet_since: Option<u64>,
    /// The core's buffers were released during the current quiet spell.
    pub(crate) trimmed: bool,
    pub(crate) stats: SessionStats,
}

/// The parts of a session that exist only while it is open.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) core: Core,
    pub(crate) envelope: Envelope,
    /// Segments writers may queue beyond the send window in force.
    pub(crate) write_queue: usize,
}

impl Live {
    /// One flush of the core (kcp-go `flush(false)`), sealed into `tx`; the parity budget follows the pipe
    /// first. A writer's inline flush and the driver after writes come here.
    pub(crate) fn flush(&mut self, tx: &mut TxQueue, remote: SocketAddr, now: u32) {
        self.seal(tx, remote, now, true);
    }

    /// After received datagrams and on the session's timer: only what is due (`Kcp::update_due`). What
    /// the input freed goes out at once, and so does the periodic flush of a session with data queued or
    /// in flight; ACKs of in-order data wait up to 2 ms, so that one ACK datagram covers what arrives
    /// meanwhile (a bulk receiver), or they ride on the reply the application writes (a request/response
    /// server, also while its previous reply is still in flight).
    pub(crate) fn flush_due(&mut self, tx: &mut TxQueue, remote: SocketAddr, now: u32) {
        self.seal(tx, remote, now, false);
    }

    /// A full flush, or only what is due (`Kcp::update_due`).
    fn seal(&mut self, tx: &mut TxQueue, remote: SocketAddr, now: u32, full: bool) {
        let Live { core, envelope, .. } = self;
        envelope.follow_pipe(core.pipe_limited(now));
        envelope.seal_flush(tx, remote, now, |s| {
            if full {
                core.flush(now, |d| s.seal(d))
            } else {
                core.update_due(now, |d| s.seal(d))
            }
        });
    }

    /// Segments writers may have outstanding: the send window in force (it follows the path when
    /// automatic) plus the write queue.
    pub(crate) fn write_limit(&self) -> usize {
        self.core.send_window() + self.write_queue
    }
}

impl Session {
    pub(crate) fn new(
        key: usize,
        remote: SocketAddr,
        conv: u32,
        endpoint: Arc<EndpointShared>,
        live: Live,
        now: u64,
    ) -> Arc<Self> {
        endpoint.live.fetch_add(1, Ordering::Relaxed);
        let stats = SessionStats {
            conv,
            ..SessionStats::default()
        };
        Arc::new(Session {
            key,
            remote,
            conv,
            endpoint,
            queued: AtomicBool::new(false),
            state: Mutex::new(State {
                live: Some(live),
                ended: None,
                read_waker: None,
                write_waker: None,
                released: false,
                write_shut: false,
                last_recv: now,
                deadline: u64::MAX,
                in_batch: false,
                quiet_since: None,
                trimmed: false,
                stats,
            }),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent-enough state for shutdown paths.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the driver to look at this session (flush, close, re-arm its timer).
    pub(crate) fn poke(&self) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.endpoint
                .dirty
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.key);
            self.endpoint.notify.notify_one();
        }
    }

    /// Flushes from the caller's task right after a write (as kcp-go's `Write` does), sending what the
    /// window allows without waiting for the driver. The driver is still poked when the core now needs
    /// a wake-up earlier than the timer armed for it (for example the first retransmission of what was
    /// just sent, when only an idle-timeout timer was armed) or the socket could not take everything.
    pub(crate) fn flush_inline(&self, mut st: MutexGuard<'_, State>) {
        let ep = &self.endpoint;
        let now64 = ep.now_ms();
        let now = now64 as u32;
        let mut rearm = false;
        INLINE_TX.with(|tx| {
            let mut tx = tx.borrow_mut();
            tx.clear();
            {
                let st_ref = &mut *st;
                let Some(live) = st_ref.live.as_mut() else {
                    return;
                };
                live.flush(&mut tx, self.remote, now);
                st_ref.stats.datagrams_sent += tx.len() as u64;
                rearm = live
                    .core
                    .next_wake(now)
                    .is_some_and(|ms| now64 + u64::from(ms) < st_ref.deadline);
            }
            if tx.is_empty() {
                drop(st);
                if rearm {
                    self.poke();
                }
                return;
            }
            count_sealed(&tx, (0, 0));
            // In line before the session's next seal can be (see `TxOrder`).
            let mut order = ep.tx_order();
            drop(st);
            if order.driver_unsent || !order.queue.is_empty() {
                order.queue.append_from(&tx, 0);
                drop(order);
                self.poke();
                return;
            }
            let sent = ep.udp.try_send(&tx, 0);
            if sent < tx.len() {
                order.queue.append_from(&tx, sent);
                rearm = true;
            }
            drop(order);
            if rearm || ep.udp.refused() {
                // The driver sends the rest, re-arms the timer, or ends the session (refused).
                self.poke();
            }
        });
    }

    /// Called by the driver when it takes this session off the dirty list.
    pub(crate) fn unqueue(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl State {
    /// Ends the session: frees its buffers, records why, wakes reader and writer.
    /// Returns false if it had already ended.
    pub(crate) fn end(&mut self, reason: EndReason, endpoint: &EndpointShared) -> bool {
        if self.ended.is_some() {
            return false;
        }
        if let Some(live) = self.live.take() {
            live.core.fill_stats(&mut self.stats);
            endpoint.live.fetch_sub(1, Ordering::Relaxed);
        }
        self.ended = Some(reason);
        self.wake_all();
        true
    }

    pub(crate) fn wake_all(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }

    /// Wakes the reader if data is waiting, the writer if the window has room.
    pub(crate) fn wake_ready(&mut self) {
        let Some(live) = &self.live else {
            return self.wake_all();
        };
        if self.read_waker.is_some() && live.core.readable() {
            if let Some(w) = self.read_waker.take() {
                w.wake();
            }
        }
        let writable = live.core.write_backlog() < live.write_limit() && !self.write_shut;
        if self.write_waker.is_some() && (writable || live.core.wait_snd() == 0) {
            if let Some(w) = self.write_waker.take() {
                w.wake();
            }
        }
    }
}
