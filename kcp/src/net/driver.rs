//! The per-socket driver: one task that owns the socket, receives in batches, routes datagrams to
//! sessions, runs every session's timers from one heap, and sends everything the cores emit.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use slab::Slab;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::Config;
use super::core::Core;
use super::demux::{Route, route};
use super::envelope::{Crypt, Envelope, Opened};
use super::session::{EndReason, EndpointShared, Live, Session, count_sealed};
use super::stats::{Snmp, snmp};
use super::stream::KcpStream;
use super::timer::TimerHeap;
use super::udp::{TxQueue, Udp};

/// How much [`Inner::service`] flushes.
#[derive(Clone, Copy, Debug)]
enum Flush {
    /// Everything (kcp-go `flush(false)`): after writes and when the session starts.
    Now,
    /// After received datagrams and on the timer: only what is due, see `Live::flush_due` (ACKs of
    /// in-order data wait up to 2 ms).
    Due,
}

/// KCP header size; shorter post-crypto datagrams are dropped.
const KCP_OVERHEAD: usize = 24;
/// A session quiet (nothing queued, in flight or unread) this long gives back its window-sized buffers.
/// Waiting keeps request/response traffic, which is briefly quiet after every exchange, from freeing and
/// reallocating them each time.
const TRIM_AFTER_MS: u64 = 1_000;

/// Client or listener specifics.
pub(crate) enum Role {
    /// One session to a known peer; datagrams from elsewhere are dropped.
    Client { remote: SocketAddr },
    /// Many sessions keyed by peer address.
    Listener {
        accept: mpsc::Sender<(KcpStream, SocketAddr)>,
        by_addr: HashMap<SocketAddr, usize>,
    },
}

/// Everything the driver owns besides the socket.
pub(crate) struct Inner {
    shared: Arc<EndpointShared>,
    config: Arc<Config>,
    crypt: Crypt,
    sessions: Slab<Arc<Session>>,
    timers: TimerHeap,
    tx: TxQueue,
    /// `TxOrder::driver_unsent` is set by us for this turn.
    holding: bool,
    touched: Vec<usize>,
    role: Role,
    idle_ms: Option<u64>,
    linger_ms: u64,
    /// Listener: recently ended sessions, `(peer, conv)` -> until when their stray datagrams are dropped
    /// instead of opening a new session (kcp-go would re-create a session with the old conv).
    ended: HashMap<SocketAddr, (u32, u64)>,
    ended_order: VecDeque<(SocketAddr, u64)>,
}

/// The driver task.
pub(crate) struct Driver {
    udp: Arc<Udp>,
    inner: Inner,
}

impl Driver {
    pub(crate) fn new(
        udp: Arc<Udp>,
        shared: Arc<EndpointShared>,
        config: Arc<Config>,
        role: Role,
    ) -> io::Result<Self> {
        let crypt = Crypt::new(&config)?;
        let ms = |d: Duration| d.as_millis().min(u128::from(u64::MAX / 4)) as u64;
        let idle_ms = config.idle_timeout.map(ms);
        let linger_ms = ms(config.close_linger);
        Ok(Driver {
            udp,
            inner: Inner {
                shared,
                config,
                crypt,
                sessions: Slab::new(),
                timers: TimerHeap::default(),
                tx: TxQueue::default(),
                holding: false,
                touched: Vec::new(),
                role,
                idle_ms,
                linger_ms,
                ended: HashMap::new(),
                ended_order: VecDeque::new(),
            },
        })
    }

    /// Creates the client session (before the driver is spawned).
    pub(crate) fn open_client(
        &mut self,
        remote: SocketAddr,
        conv: u32,
    ) -> io::Result<Arc<Session>> {
        let now = self.inner.shared.now_ms();
        let key = self.inner.insert(remote, conv, now)?;
        snmp().session_opened(true);
        let sess = self.inner.sessions[key].clone();
        tracing::debug!(conv, %remote, "kcp session start (client)");
        self.inner.service(key, now, Flush::Now);
        Ok(sess)
    }

    pub(crate) async fn run(mut self) {
        let shared = self.inner.shared.clone();
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far);
        tokio::pin!(sleep);
        'run: loop {
            if self.udp.refused() {
                self.inner.refuse();
            }
            if self.inner.sessions.is_empty() && self.inner.done() {
                break;
            }
            let wake = match self.inner.timers.peek() {
                Some(ms) => shared.epoch + Duration::from_millis(ms),
                None => far.into_std(),
            };
            sleep.as_mut().reset(wake.into());
            tokio::select! {
                biased;
                r = self.udp.ready() => {
                    match r {
                        Err(e) => {
                            tracing::warn!(error = %e, "kcp socket failed");
                            break;
                        }
                        Ok(true) => self.udp.take_error(),
                        Ok(false) => {}
                    }
                    self.receive();
                }
                _ = shared.notify.notified() => {}
                _ = &mut sleep => {}
            }
            if self.udp.refused() {
                self.inner.refuse();
                continue;
            }
            let now = shared.now_ms();
            self.inner.on_dirty(now);
            self.inner.on_timers(now);
            // Ours first (sealed before anything a writer queued meanwhile), then the writers' queue, until
            // it stays empty: see `TxOrder`.
            loop {
                if !self.inner.tx.is_empty() {
                    if let Err(e) = self.udp.send_all(&mut self.inner.tx).await {
                        tracing::warn!(error = %e, "kcp socket send failed");
                        break 'run;
                    }
                }
                let mut order = shared.tx_order();
                if order.queue.is_empty() {
                    order.driver_unsent = false;
                    self.inner.holding = false;
                    break;
                }
                std::mem::swap(&mut order.queue, &mut self.inner.tx);
            }
        }
        self.inner.shutdown();
    }

    /// Receives one batch (one recvmmsg, GRO-coalesced), then flushes every session that got input, so
    /// ACKs and newly allowed data go out once per batch rather than once per window.
    fn receive(&mut self) {
        let now = self.inner.shared.now_ms();
        let inner = &mut self.inner;
        // WouldBlock just means another wake-up raced us; ICMP errors do not end the socket (a refusal
        // ends the client session, see `Udp::note_error`).
        if let Err(e) = self
            .udp
            .recv_batch(|src, buf| inner.on_datagram(src, buf, now))
        {
            self.udp.note_error(&e);
        }
        let touched = std::mem::take(&mut inner.touched);
        for &key in &touched {
            if let Some(s) = inner.sessions.get(key) {
                s.lock().in_batch = false;
                inner.service(key, now, Flush::Due);
            }
        }
        inner.touched = touched;
        inner.touched.clear();
    }
}

/// Before the driver seals for a session (holding its lock): what writers queued was sealed earlier, so it
/// goes in front of `tx`, and writers queue behind it from now on (see `TxOrder`). `holding`: the driver
/// has set `TxOrder::driver_unsent` this turn.
fn claim_queue(shared: &EndpointShared, tx: &mut TxQueue, holding: &mut bool) {
    let mut order = shared.tx_order();
    if !order.queue.is_empty() {
        tx.append_from(&order.queue, 0);
        order.queue.clear();
        order.driver_unsent = true;
        *holding = true;
    }
}

/// After sealing (still holding the session's lock): while the driver has datagrams it has not sent,
/// writers queue theirs behind them (other sessions' writers too, for the rest of this turn).
fn hold_writers(shared: &EndpointShared, tx: &TxQueue, holding: &mut bool) {
    if !*holding && !tx.is_empty() {
        shared.tx_order().driver_unsent = true;
        *holding = true;
    }
}

impl Inner {
    fn done(&self) -> bool {
        match &self.role {
            Role::Client { .. } => true,
            Role::Listener { .. } => self.shared.closing.load(Ordering::Acquire),
        }
    }

    fn insert(&mut self, remote: SocketAddr, conv: u32, now: u64) -> io::Result<usize> {
        let envelope = Envelope::new(&self.config)?;
        let core = Core::new(conv, &self.config, envelope.header_len())?;
        let live = Live {
            core,
            envelope,
            write_queue: usize::from(self.config.write_queue),
        };
        let entry = self.sessions.vacant_entry();
        let key = entry.key();
        entry.insert(Session::new(
            key,
            remote,
            conv,
            self.shared.clone(),
            live,
            now,
        ));
        Ok(key)
    }

    /// One datagram from the socket.
    fn on_datagram(&mut self, src: SocketAddr, buf: &mut [u8], now: u64) {
        let snmp = snmp();
        let plain = match self.crypt.open(buf) {
            Opened::Plain(p) => p,
            Opened::Dropped => return,
        };
        if plain.len() < KCP_OVERHEAD {
            return;
        }
        let key = match &mut self.role {
            Role::Client { remote } => {
                if src != *remote {
                    snmp.in_errs.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                match self.sessions.iter().next() {
                    Some((k, _)) => k,
                    None => return,
                }
            }
            Role::Listener { by_addr, .. } => {
                let existing = by_addr.get(&src).copied();
                let conv = existing.and_then(|k| self.sessions.get(k)).map(|s| s.conv);
                match route(plain, conv) {
                    Route::Deliver => match existing {
                        Some(k) => k,
                        None => return,
                    },
                    Route::Drop => {
                        snmp.in_errs.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Route::Replace(conv) => {
                        if let Some(k) = existing {
                            self.finish(k, EndReason::Replaced);
                        }
                        match self.accept_new(src, conv, now) {
                            Some(k) => k,
                            None => return,
                        }
                    }
                    Route::Create(conv) => match self.accept_new(src, conv, now) {
                        Some(k) => k,
                        None => return,
                    },
                }
            }
        };
        let Some(sess) = self.sessions.get(key) else {
            return;
        };
        let mut st = sess.lock();
        let st = &mut *st;
        let Some(live) = st.live.as_mut() else {
            return;
        };
        Snmp::add(&snmp.in_pkts, 1);
        Snmp::add(&snmp.in_bytes, plain.len() as u64);
        st.last_recv = now;
        st.trimmed = false;
        st.stats.datagrams_received += 1;
        let now32 = now as u32;
        let Live { core, envelope, .. } = live;
        envelope.input(plain, now32, |kcp, regular| core.input(kcp, regular, now32));
        if self.config.ack_nodelay {
            claim_queue(&self.shared, &mut self.tx, &mut self.holding);
            let before = (self.tx.len(), self.tx.bytes());
            let (tx, remote) = (&mut self.tx, sess.remote);
            envelope.seal_flush(tx, remote, now32, |s| {
                core.flush_acks(now32, |dgram| s.seal(dgram))
            });
            count_sealed(&self.tx, before);
            hold_writers(&self.shared, &self.tx, &mut self.holding);
        }
        if !st.in_batch {
            st.in_batch = true;
            self.touched.push(key);
        }
    }

    /// Creates a session for a new peer if the accept queue and the session cap allow.
    fn accept_new(&mut self, src: SocketAddr, conv: u32, now: u64) -> Option<usize> {
        let Role::Listener { accept, .. } = &self.role else {
            return None;
        };
        let quarantined = self
            .ended
            .get(&src)
            .is_some_and(|&(c, until)| c == conv && now < until);
        if quarantined
            || accept.capacity() == 0
            || self.sessions.len() >= self.config.max_sessions
            || accept.is_closed()
        {
            snmp().in_errs.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let key = self.insert(src, conv, now).ok()?;
        let sess = self.sessions[key].clone();
        let Role::Listener { accept, by_addr } = &mut self.role else {
            return None;
        };
        if accept
            .try_send((KcpStream::new(sess.clone()), src))
            .is_err()
        {
            // Cannot happen (capacity checked, one producer); undo cleanly anyway.
            self.sessions.remove(key);
            sess.lock().end(EndReason::Closed, &self.shared);
            return None;
        }
        by_addr.insert(src, key);
        snmp().session_opened(false);
        tracing::debug!(conv, remote = %src, "kcp session start (accepted)");
        Some(key)
    }

    /// Sessions whose streams asked for attention.
    fn on_dirty(&mut self, now: u64) {
        let dirty =
            std::mem::take(&mut *self.shared.dirty.lock().unwrap_or_else(|e| e.into_inner()));
        for &key in &dirty {
            if let Some(s) = self.sessions.get(key) {
                s.unqueue();
                self.service(key, now, Flush::Now);
            }
        }
        // Hand the (now empty) allocation back so the list does not reallocate in steady state.
        let mut list = self.shared.dirty.lock().unwrap_or_else(|e| e.into_inner());
        if list.is_empty() {
            let mut dirty = dirty;
            dirty.clear();
            *list = dirty;
        }
    }

    fn on_timers(&mut self, now: u64) {
        while let Some((deadline, key)) = self.timers.pop_due(now) {
            let current = self.sessions.get(key).map(|s| s.lock().deadline);
            if current == Some(deadline) {
                self.service(key, now, Flush::Due);
            }
        }
        let sessions = &self.sessions;
        self.timers.compact(sessions.len(), |d, k| {
            sessions.get(k).is_some_and(|s| s.lock().deadline == d)
        });
    }

    /// Flushes a session (see `Flush`), ends it if it is finished, and re-arms its timer.
    fn service(&mut self, key: usize, now: u64, how: Flush) {
        let Some(sess) = self.sessions.get(key) else {
            return;
        };
        let sess = sess.clone();
        let mut guard = sess.lock();
        let st = &mut *guard;
        let Some(live) = st.live.as_mut() else {
            drop(guard);
            self.finish(key, EndReason::Closed);
            return;
        };
        let now32 = now as u32;
        claim_queue(&self.shared, &mut self.tx, &mut self.holding);
        let before = (self.tx.len(), self.tx.bytes());
        match how {
            Flush::Now => live.flush(&mut self.tx, sess.remote, now32),
            Flush::Due => live.flush_due(&mut self.tx, sess.remote, now32),
        }
        let Live { core, envelope, .. } = live;
        st.stats.datagrams_sent += (self.tx.len() - before.0) as u64;
        count_sealed(&self.tx, before);
        hold_writers(&self.shared, &self.tx, &mut self.holding);
        core.fold_snmp();
        st.stats.fec_recovered += envelope.fold_snmp();
        st.stats.fec_groups_without_parity = envelope.groups_without_parity();
        st.stats.datagrams_without_fec = envelope.datagrams_without_fec();
        let idle_at = self.idle_ms.map(|ms| st.last_recv.saturating_add(ms));
        let reason = if core.is_dead() {
            Some(EndReason::DeadLink)
        } else if idle_at.is_some_and(|t| now >= t) {
            Some(EndReason::IdleTimeout)
        } else if st.released
            && core.wait_snd() == 0
            && now >= st.last_recv.saturating_add(self.linger_ms)
        {
            Some(EndReason::Closed)
        } else {
            None
        };
        if let Some(reason) = reason {
            drop(guard);
            self.finish(key, reason);
            return;
        }
        // Trimming: once nothing has been queued, in flight or received for TRIM_AFTER_MS, free the empty
        // buffers.
        // While unread data remains (the reader drains it without the driver) look again later.
        let mut trim_at = None;
        if core.wait_snd() > 0 {
            st.quiet_since = None;
            st.trimmed = false;
        } else if !st.trimmed {
            // Received datagrams count as activity too (a pure receiver never has anything in flight).
            let since = (*st.quiet_since.get_or_insert(now)).max(st.last_recv);
            let at = since.saturating_add(TRIM_AFTER_MS);
            if now >= at {
                core.release_idle();
                st.trimmed = core.is_quiescent();
                if !st.trimmed {
                    trim_at = Some(now.saturating_add(TRIM_AFTER_MS));
                }
            } else {
                trim_at = Some(at);
            }
        }
        let next = core.next_wake(now32);
        st.wake_ready();
        let mut deadline = match next {
            Some(ms) => now + u64::from(ms),
            None => u64::MAX,
        };
        if let Some(t) = idle_at {
            deadline = deadline.min(t);
        }
        if let Some(t) = trim_at {
            deadline = deadline.min(t);
        }
        if st.released {
            deadline = deadline.min(st.last_recv.saturating_add(self.linger_ms));
        }
        if deadline != u64::MAX {
            deadline = deadline.max(now + 1);
        }
        if deadline != st.deadline {
            st.deadline = deadline;
            if deadline != u64::MAX {
                self.timers.push(deadline, key);
            }
        }
    }

    /// Ends a session and forgets it.
    fn finish(&mut self, key: usize, reason: EndReason) {
        if !self.sessions.contains(key) {
            return;
        }
        let sess = self.sessions.remove(key);
        if let Role::Listener { by_addr, .. } = &mut self.role {
            if by_addr.get(&sess.remote) == Some(&key) {
                by_addr.remove(&sess.remote);
            }
            self.quarantine(sess.remote, sess.conv);
        }
        let mut st = sess.lock();
        if st.end(reason, &self.shared) {
            snmp().session_closed();
            let s = &st.stats;
            tracing::debug!(
                conv = sess.conv,
                remote = %sess.remote,
                reason = ?reason,
                bytes_sent = s.bytes_sent,
                bytes_received = s.bytes_received,
                retransmits = s.retransmits,
                "kcp session end"
            );
        }
    }

    /// Remembers an ended session so late datagrams of its conversation do not open a new one.
    fn quarantine(&mut self, remote: SocketAddr, conv: u32) {
        let now = self.shared.now_ms();
        while let Some(&(addr, until)) = self.ended_order.front() {
            if until > now && self.ended_order.len() < self.config.max_sessions.max(1) {
                break;
            }
            self.ended_order.pop_front();
            if self.ended.get(&addr).is_some_and(|&(_, u)| u == until) {
                self.ended.remove(&addr);
            }
        }
        let until = now + self.idle_ms.unwrap_or(30_000).min(30_000);
        self.ended.insert(remote, (conv, until));
        self.ended_order.push_back((remote, until));
    }

    /// The client's peer refused (ICMP port unreachable): end its session.
    fn refuse(&mut self) {
        let keys: Vec<usize> = self.sessions.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.finish(key, EndReason::Refused);
        }
    }

    /// The socket is gone: end every session.
    fn shutdown(&mut self) {
        let keys: Vec<usize> = self.sessions.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.finish(key, EndReason::EndpointGone);
        }
    }
}
