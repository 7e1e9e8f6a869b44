//! TEMPORARY stand-in for the proto core (no ARQ), so the driver can be exercised before
//! `kcp::proto` lands. Replaced by an adapter over `kcp::proto::Kcp`.

use std::collections::VecDeque;
use std::io;

use super::config::Config;
use super::stats::SessionStats;

/// Retransmission preset (stand-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// kcptun normal.
    Normal,
    /// kcptun fast.
    Fast,
    /// kcptun fast2.
    Fast2,
    /// kcptun fast3.
    Fast3,
}

#[derive(Debug)]
pub(crate) struct Core {
    conv: u32,
    mss: usize,
    reserved: usize,
    mtu: usize,
    snd: VecDeque<Vec<u8>>,
    rcv: VecDeque<Vec<u8>>,
    sn: u32,
}

impl Core {
    pub(crate) fn new(conv: u32, cfg: &Config, reserved: usize) -> Self {
        Core {
            conv,
            mss: cfg.mtu - 24 - reserved,
            reserved,
            mtu: cfg.mtu,
            snd: VecDeque::new(),
            rcv: VecDeque::new(),
            sn: 0,
        }
    }
    pub(crate) fn mss(&self) -> usize {
        self.mss
    }
    pub(crate) fn wait_snd(&self) -> usize {
        self.snd.len()
    }
    pub(crate) fn readable(&self) -> bool {
        !self.rcv.is_empty()
    }
    pub(crate) fn is_dead(&self) -> bool {
        false
    }
    pub(crate) fn send(&mut self, data: &[u8]) -> io::Result<()> {
        for c in data.chunks(self.mss) {
            self.snd.push_back(c.to_vec());
        }
        Ok(())
    }
    pub(crate) fn recv_stream(&mut self, buf: &mut [u8]) -> (usize, bool) {
        let mut n = 0;
        while let Some(front) = self.rcv.front_mut() {
            let k = front.len().min(buf.len() - n);
            buf[n..n + k].copy_from_slice(&front[..k]);
            n += k;
            front.drain(..k);
            if front.is_empty() {
                self.rcv.pop_front();
            }
            if n == buf.len() {
                break;
            }
        }
        (n, false)
    }
    pub(crate) fn recv_msg(&mut self, buf: &mut [u8]) -> io::Result<(usize, bool)> {
        match self.rcv.pop_front() {
            Some(m) if m.len() <= buf.len() => {
                buf[..m.len()].copy_from_slice(&m);
                Ok((m.len(), true))
            }
            Some(m) => {
                self.rcv.push_front(m);
                Err(io::Error::new(io::ErrorKind::InvalidInput, "buffer too small"))
            }
            None => Ok((0, false)),
        }
    }
    pub(crate) fn input(&mut self, data: &[u8], _regular: bool, _now: u32) {
        if data.len() < 24 || data[0..4] != self.conv.to_le_bytes() {
            return;
        }
        self.rcv.push_back(data[24..].to_vec());
    }
    pub(crate) fn flush(&mut self, _now: u32, mut out: impl FnMut(&mut [u8])) {
        while let Some(d) = self.snd.pop_front() {
            let mut b = vec![0u8; self.reserved + 24 + d.len()];
            let h = self.reserved;
            b[h..h + 4].copy_from_slice(&self.conv.to_le_bytes());
            b[h + 4] = 81;
            b[h + 12..h + 16].copy_from_slice(&self.sn.to_le_bytes());
            self.sn += 1;
            b[h + 24..].copy_from_slice(&d);
            debug_assert!(b.len() <= self.mtu);
            out(&mut b);
        }
    }
    pub(crate) fn flush_acks(&mut self, _now: u32, _out: impl FnMut(&mut [u8])) {}
    pub(crate) fn next_wake(&self, _now: u32) -> Option<u32> {
        (!self.snd.is_empty()).then_some(10)
    }
    pub(crate) fn fill_stats(&self, s: &mut SessionStats) {
        s.wait_snd = self.snd.len() as u32;
    }
}
