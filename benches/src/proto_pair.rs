//! An allocation-free in-memory pair of KCP endpoints for the `proto` benchmarks.

use kcp::proto::{Cmd, Kcp, KcpConfig, OVERHEAD, Preset, SegmentHeader};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One direction of an in-memory wire: datagrams delivered on the next step, optional seeded loss, buffers
/// recycled so the steady state does not allocate.
pub struct Wire {
    queue: Vec<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    loss: f64,
    rng: ChaCha8Rng,
    /// Datagrams offered.
    pub sent: u64,
}

impl Wire {
    /// A wire losing each datagram with probability `loss`.
    pub fn new(loss: f64, seed: u64) -> Wire {
        Wire {
            queue: Vec::new(),
            pool: Vec::new(),
            loss,
            rng: ChaCha8Rng::seed_from_u64(seed),
            sent: 0,
        }
    }

    fn push(&mut self, d: &[u8]) {
        self.sent += 1;
        if self.loss > 0.0 && self.rng.random_bool(self.loss) {
            return;
        }
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(d);
        self.queue.push(b);
    }

    fn deliver(&mut self, to: &mut Kcp, now: u32) {
        for b in self.queue.drain(..) {
            to.input(now, &b, true).expect("valid datagram");
            self.pool.push(b);
        }
    }
}

/// Two endpoints of conversation `conv`: stream mode, fast3, windows `wnd`.
fn pair(conv: u32, wnd: u16) -> (Kcp, Kcp) {
    let cfg = KcpConfig {
        preset: Preset::Fast3,
        snd_wnd: wnd,
        rcv_wnd: wnd,
        stream: true,
        ..Default::default()
    };
    (
        Kcp::new(conv, &cfg).expect("config"),
        Kcp::new(conv, &cfg).expect("config"),
    )
}

/// Moves `total` bytes from one endpoint to another in stream mode (window `wnd`, preset fast3, no congestion
/// window) over wires with the given loss, 1 ms of virtual time per step. Returns (steps, datagrams sent).
pub fn transfer(total: usize, loss: f64, wnd: u16, seed: u64) -> (u32, u64) {
    let (mut a, mut b) = pair(1, wnd);
    let mut ab = Wire::new(loss, seed);
    let mut ba = Wire::new(loss, seed ^ 1);
    let chunk = vec![0x5au8; 64 * 1024];
    let (mut sent, mut got) = (0usize, 0usize);
    let mut now = 0u32;
    while got < total {
        while sent < total && a.can_send() {
            let n = chunk.len().min(total - sent);
            a.send(&chunk[..n]).expect("send");
            sent += n;
        }
        a.update(now, |d| ab.push(d));
        ab.deliver(&mut b, now);
        while let Some(x) = b.recv_bytes() {
            got += x.len();
        }
        b.update(now, |d| ba.push(d));
        ba.deliver(&mut a, now);
        now = now.wrapping_add(1);
        assert!(now < 100_000_000, "transfer stalled");
    }
    (now, ab.sent + ba.sent)
}

/// A sender with `in_flight` segments outstanding in a window of `wnd`, and the ACK datagrams the receiver sent
/// back after losing a fraction `loss` of the data (so una stays behind and every ACK is a selective one).
pub struct AckScenario {
    /// The sender, before it sees the ACKs.
    pub sender: Kcp,
    /// The receiver's ACK datagrams.
    pub acks: Vec<Vec<u8>>,
    /// ACK segments in `acks`.
    pub ack_count: usize,
}

impl AckScenario {
    /// Builds the scenario deterministically.
    pub fn new(wnd: u16, in_flight: usize, loss: f64, seed: u64) -> AckScenario {
        let (mut sender, mut receiver) = pair(7, wnd);
        // Tell the sender the receiver's window (kcp-go starts with a remote window of 32).
        let mut wins = [0u8; OVERHEAD];
        SegmentHeader {
            conv: 7,
            cmd: Cmd::Wins,
            frg: 0,
            wnd,
            ts: 0,
            sn: 0,
            una: 0,
            len: 0,
        }
        .encode(&mut wins);
        sender.input(0, &wins, true).expect("wins");
        sender
            .send(&vec![1u8; in_flight * sender.mss()])
            .expect("send");
        let mut data = Vec::new();
        sender.flush(0, |d| data.push(d.to_vec()));
        assert_eq!(sender.stats().in_flight as usize, in_flight);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for (i, d) in data.iter().enumerate() {
            // Always lose the first datagram so una cannot move.
            if i == 0 || rng.random_bool(loss) {
                continue;
            }
            receiver.input(5, d, true).expect("data");
        }
        let mut acks = Vec::new();
        receiver.flush(5, |d| acks.push(d.to_vec()));
        let ack_count = acks.iter().map(|d| d.len() / OVERHEAD).sum();
        AckScenario {
            sender,
            acks,
            ack_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_completes_with_loss() {
        let (steps, dgrams) = transfer(4 << 20, 0.05, 256, 9);
        assert!(steps > 0 && dgrams as usize > (4 << 20) / 1400);
    }

    #[test]
    fn ack_scenario_has_selective_acks() {
        let sc = AckScenario::new(1024, 937, 0.01, 3);
        // The first datagram is lost, so nearly every other segment gets its own ACK.
        assert!(sc.ack_count > 900, "{}", sc.ack_count);
        let mut s = sc.sender.clone();
        for d in &sc.acks {
            s.input(10, d, true).unwrap();
        }
        assert_eq!(s.stats().snd_una, 0);
        assert!(s.unacked().count() < 937 - 900);
    }
}
