//! Two KCP endpoints joined by two [`Link`]s under a virtual millisecond clock.
//!
//! Each datagram carries a 4-byte CRC-32 in the KCP `reserved` prefix, standing in for the real envelope's
//! checksum so that corrupted datagrams are dropped (and counted) before they reach `input`.

use kcp::proto::{Kcp, KcpConfig, Preset};

use crate::link::Link;

/// Bytes of the simulator's envelope (a CRC-32) at the front of every datagram.
pub const ENVELOPE: usize = 4;

/// A configuration with the simulator's envelope reserved.
pub fn sim_config(preset: Preset, stream: bool, wnd: u16) -> KcpConfig {
    KcpConfig {
        preset,
        snd_wnd: wnd,
        rcv_wnd: wnd,
        stream,
        reserved: ENVELOPE,
        ..Default::default()
    }
}

/// When the endpoints of a [`Pair`] send, apart from the application's writes (which a test flushes at
/// once with [`Pair::flush_a`] / [`Pair::flush_b`], as both kcp-go and our edge do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Schedule {
    /// kcp-go's: [`Kcp::update`] on every step and the next step at [`Kcp::check`]. Received data is
    /// acknowledged by the step that delivered it.
    #[default]
    KcpGo,
    /// The tokio edge's: [`Kcp::update_due`] on every step and the next step at [`Kcp::due_in`]. ACKs of
    /// in-order data wait up to 2 ms, or go with the application's reply.
    Edge,
}

/// Two endpoints `a` and `b`; `ab` carries a's datagrams to b, `ba` the reverse.
#[derive(Debug)]
pub struct Pair {
    /// Endpoint A.
    pub a: Kcp,
    /// Endpoint B.
    pub b: Kcp,
    /// Link from A to B.
    pub ab: Link,
    /// Link from B to A.
    pub ba: Link,
    now_ms: u64,
    clock_offset: u32,
    schedule: Schedule,
    /// Datagrams dropped because their checksum failed (corrupted on the link).
    pub checksum_drops: u64,
    /// Datagrams `input` rejected (must stay 0 with a checksummed link).
    pub input_errors: u64,
}

fn emit(link: &mut Link, now_us: u64) -> impl FnMut(&mut [u8]) + '_ {
    move |d: &mut [u8]| {
        let crc = crc32fast::hash(&d[ENVELOPE..]);
        d[..ENVELOPE].copy_from_slice(&crc.to_le_bytes());
        link.send(now_us, d.to_vec());
    }
}

impl Pair {
    /// Joins two endpoints (their configs must reserve [`ENVELOPE`] bytes).
    pub fn new(a: Kcp, b: Kcp, ab: Link, ba: Link) -> Pair {
        Pair {
            a,
            b,
            ab,
            ba,
            now_ms: 0,
            clock_offset: 0,
            schedule: Schedule::KcpGo,
            checksum_drops: 0,
            input_errors: 0,
        }
    }

    /// Shifts the endpoints' u32 clock (e.g. to just before it wraps).
    pub fn with_clock_offset(mut self, offset: u32) -> Pair {
        self.clock_offset = offset;
        self
    }

    /// Runs the endpoints on `schedule` (kcp-go's by default).
    pub fn with_schedule(mut self, schedule: Schedule) -> Pair {
        self.schedule = schedule;
        self
    }

    /// Virtual time in ms since the start.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// The endpoints' u32 clock.
    pub fn clock(&self) -> u32 {
        (self.now_ms as u32).wrapping_add(self.clock_offset)
    }

    fn deliver(k: &mut Kcp, t: u32, p: &[u8], drops: &mut u64, errors: &mut u64) {
        if p.len() < ENVELOPE || crc32fast::hash(&p[ENVELOPE..]).to_le_bytes() != p[..ENVELOPE] {
            *drops += 1;
            return;
        }
        if k.input(t, &p[ENVELOPE..], true).is_err() {
            *errors += 1;
        }
    }

    /// Delivers every packet due now, then runs both endpoints' timers ([`Schedule`]).
    pub fn step(&mut self) {
        let now_us = self.now_ms * 1000;
        let t = self.clock();
        while let Some(p) = self.ab.poll(now_us) {
            Self::deliver(
                &mut self.b,
                t,
                &p,
                &mut self.checksum_drops,
                &mut self.input_errors,
            );
        }
        while let Some(p) = self.ba.poll(now_us) {
            Self::deliver(
                &mut self.a,
                t,
                &p,
                &mut self.checksum_drops,
                &mut self.input_errors,
            );
        }
        match self.schedule {
            Schedule::KcpGo => {
                self.a.update(t, emit(&mut self.ab, now_us));
                self.b.update(t, emit(&mut self.ba, now_us));
            }
            Schedule::Edge => {
                self.a.update_due(t, emit(&mut self.ab, now_us));
                self.b.update_due(t, emit(&mut self.ba, now_us));
            }
        }
    }

    /// One step of an endless bulk transfer from A to B: runs [`Pair::step`], hands each piece B reads, in
    /// order, to `got`, then tops A's send queue up with `chunk` while it takes more (adding the bytes to
    /// `sent`) and flushes A if it wrote: a writer writes as soon as the window opens.
    pub fn bulk_step(&mut self, chunk: &[u8], sent: &mut usize, mut got: impl FnMut(&[u8])) {
        self.step();
        while let Some(b) = self.b.recv_bytes() {
            got(&b);
        }
        let mut wrote = false;
        while self.a.can_send() && self.a.send(chunk).is_ok() {
            *sent += chunk.len();
            wrote = true;
        }
        if wrote {
            self.flush_a();
        }
    }

    /// Flushes A now (as a kcp-go session does after a write).
    pub fn flush_a(&mut self) {
        let t = self.clock();
        self.a.flush(t, emit(&mut self.ab, self.now_ms * 1000));
    }

    /// Flushes B now.
    pub fn flush_b(&mut self) {
        let t = self.clock();
        self.b.flush(t, emit(&mut self.ba, self.now_ms * 1000));
    }

    /// Moves the clock to the next event: a packet arrival, an endpoint deadline, or `app_next_ms`; at least 1 ms
    /// (1 s when nothing at all is scheduled).
    pub fn advance(&mut self, app_next_ms: Option<u64>) {
        let t = self.clock();
        let mut next = u64::MAX;
        for k in [&self.a, &self.b] {
            let d = match self.schedule {
                Schedule::KcpGo => Some((k.check(t).wrapping_sub(t) as i32).max(0) as u64),
                Schedule::Edge => k.due_in(t).map(u64::from),
            };
            if let Some(d) = d {
                next = next.min(self.now_ms + d);
            }
        }
        for l in [&self.ab, &self.ba] {
            if let Some(us) = l.next_event_time() {
                next = next.min(us.div_ceil(1000));
            }
        }
        if let Some(a) = app_next_ms {
            next = next.min(a);
        }
        if next == u64::MAX {
            // Nothing scheduled anywhere (possible on the edge's schedule): an idle second passes.
            next = self.now_ms + 1000;
        }
        self.now_ms = next.max(self.now_ms + 1);
    }
}
