//! The driver's view of a KCP core ([`crate::proto::Kcp`]): configuration from [`Config`], stream reads
//! with leftovers, and the idle rule that keeps quiet sessions off the timer heap.

use std::io;

use bytes::{Buf, Bytes};

use super::config::Config;
use super::stats::{SessionStats, Snmp, snmp};
use crate::proto::{Kcp, KcpConfig, RecvError, SendError, Stats};

/// A KCP core plus the unread rest of the last segment handed to a stream reader.
#[derive(Debug)]
pub(crate) struct Core {
    kcp: Kcp,
    leftover: Bytes,
    /// Counters already added to the SNMP set.
    folded: Stats,
}

impl Core {
    /// `reserved`: bytes of envelope header in front of every datagram.
    pub(crate) fn new(conv: u32, cfg: &Config, reserved: usize) -> io::Result<Self> {
        let mut kcfg = KcpConfig {
            preset: cfg.preset,
            snd_wnd: cfg.send_window,
            rcv_wnd: cfg.recv_window,
            max_snd_wnd: 0,
            mtu: cfg.mtu,
            stream: cfg.stream_mode,
            reserved,
            ack_nodelay: cfg.ack_nodelay,
        };
        let auto = cfg.window_memory_segments(kcfg.mss());
        kcfg.max_snd_wnd = auto;
        kcfg.rcv_wnd = kcfg.rcv_wnd.max(auto);
        let mut kcp = Kcp::new(conv, &kcfg)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        kcp.set_bundling(cfg.bundle_unacked);
        kcp.set_pacing(cfg.pacing);
        Ok(Core {
            kcp,
            leftover: Bytes::new(),
            folded: Stats::default(),
        })
    }

    /// The send window in force, in segments.
    pub(crate) fn send_window(&self) -> usize {
        self.kcp.send_window() as usize
    }

    pub(crate) fn mss(&self) -> usize {
        self.kcp.mss()
    }

    /// Segments queued or unacknowledged.
    pub(crate) fn wait_snd(&self) -> usize {
        self.kcp.wait_snd()
    }

    /// Segments counted against the writers' limit.
    pub(crate) fn write_backlog(&self) -> usize {
        self.kcp.write_backlog()
    }

    pub(crate) fn readable(&self) -> bool {
        !self.leftover.is_empty() || self.kcp.peek_size().is_some()
    }

    /// Nothing queued, in flight, unread or unacknowledged.
    pub(crate) fn is_quiescent(&self) -> bool {
        self.leftover.is_empty() && self.kcp.is_quiescent()
    }

    /// Frees the core's empty window-sized buffers (allocated again on first use).
    pub(crate) fn release_idle(&mut self) {
        self.kcp.release_idle();
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.kcp.is_dead()
    }

    pub(crate) fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.kcp.send(data).map_err(|e| match e {
            SendError::Empty => io::Error::new(io::ErrorKind::InvalidInput, "empty message"),
            e => io::Error::new(io::ErrorKind::InvalidInput, e.to_string()),
        })
    }

    fn window_full(&self) -> bool {
        self.kcp.recv_window_full()
    }

    /// Stream read: fills `buf` from as many segments as are ready. Returns the bytes copied and
    /// whether the receive window reopened (the peer must be told: flush soon).
    pub(crate) fn recv_stream(&mut self, buf: &mut [u8]) -> (usize, bool) {
        let mut reopened = false;
        let mut n = 0;
        while n < buf.len() {
            if self.leftover.is_empty() {
                // A full queue means the peer was told window 0: taking a segment reopens it, and the
                // peer must hear so (the core queues a window update; the driver has to flush it).
                let full = self.window_full();
                match self.kcp.recv_bytes() {
                    Some(b) => {
                        reopened |= full;
                        self.leftover = b;
                    }
                    None => break,
                }
            }
            let k = self.leftover.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&self.leftover[..k]);
            self.leftover.advance(k);
            n += k;
        }
        (n, reopened)
    }

    /// Message read: one whole message into `buf`. `Ok((0, false))` when none is ready.
    pub(crate) fn recv_msg(&mut self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        let was_full = self.window_full();
        match self.kcp.recv(buf) {
            Ok(n) => Ok((n, was_full)),
            Err(RecvError::Empty) => Ok((0, false)),
            Err(RecvError::BufferTooSmall { need }) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("message of {need} bytes does not fit the buffer"),
            )),
        }
    }

    /// Feeds one datagram of KCP segments. Returns false if KCP rejected it.
    pub(crate) fn input(&mut self, data: &[u8], regular: bool, now: u32) -> bool {
        self.kcp.input(now, data, regular).is_ok()
    }

    /// Full flush: ACKs, probes, new data the window allows, due retransmissions. Each datagram is
    /// handed to `out` with the envelope prefix reserved in front.
    pub(crate) fn flush(&mut self, now: u32, out: impl FnMut(&mut [u8])) {
        self.kcp.flush(now, out);
    }

    /// See [`Kcp::pipe_limited`].
    pub(crate) fn pipe_limited(&self, now: u32) -> bool {
        self.kcp.pipe_limited(now)
    }

    /// What is due now: what input asked for, the periodic flush, held ACKs (see [`Kcp::update_due`]).
    pub(crate) fn update_due(&mut self, now: u32, out: impl FnMut(&mut [u8])) {
        self.kcp.update_due(now, out);
    }

    pub(crate) fn flush_acks(&mut self, now: u32, out: impl FnMut(&mut [u8])) {
        self.kcp.flush_acks(now, out);
    }

    /// Milliseconds until the core next needs a flush, or `None` while it has nothing outstanding
    /// ([`Kcp::due_in`]): such a session needs no timer (writes poke the driver, a reopened receive
    /// window pokes it too), so idle sessions cost no wake-ups. ACKs held back count as outstanding
    /// (due 2 ms after the oldest), and so does a peer's shut window (it is probed).
    pub(crate) fn next_wake(&self, now: u32) -> Option<u32> {
        self.kcp.due_in(now)
    }

    pub(crate) fn fill_stats(&self, s: &mut SessionStats) {
        let k = self.kcp.stats();
        s.srtt_ms = k.srtt.max(0) as u32;
        s.rttvar_ms = k.rttvar.max(0) as u32;
        s.rto_ms = k.rto;
        s.cwnd = k.cwnd;
        s.in_flight = k.in_flight;
        s.wait_snd = self.kcp.wait_snd() as u32;
        s.remote_window = k.rmt_wnd;
        s.send_window = k.snd_wnd;
        s.pipe = k.pipe;
        s.min_rtt_ms = k.min_rtt;
        s.retransmits = k.retrans_segs;
        s.fast_retransmits = k.fast_retrans_segs + k.early_retrans_segs;
        s.bundled = k.bundled_segs;
    }

    /// Adds the core's counters since the last call to the process-wide SNMP set.
    pub(crate) fn fold_snmp(&mut self) {
        let now = self.kcp.stats();
        let last = &self.folded;
        let s = snmp();
        let d = |a: u64, b: u64| a.wrapping_sub(b);
        Snmp::add(&s.in_segs, d(now.in_segs, last.in_segs));
        Snmp::add(&s.out_segs, d(now.out_segs, last.out_segs));
        Snmp::add(&s.kcp_in_errors, d(now.in_errors, last.in_errors));
        Snmp::add(&s.repeat_segs, d(now.repeat_segs, last.repeat_segs));
        Snmp::add(&s.retrans_segs, d(now.retrans_segs, last.retrans_segs));
        Snmp::add(
            &s.fast_retrans_segs,
            d(now.fast_retrans_segs, last.fast_retrans_segs),
        );
        Snmp::add(
            &s.early_retrans_segs,
            d(now.early_retrans_segs, last.early_retrans_segs),
        );
        Snmp::add(&s.lost_segs, d(now.lost_segs, last.lost_segs));
        self.folded = now;
    }
}
