//! The link model applied to kernel packets through NFQUEUE (Linux, root): iptables hands each matching packet to
//! this process, which holds its verdict until the model delivers it (delay, jitter, rate) or drops it (loss,
//! queue overflow, blackhole). This puts TCP through the same impairment as the UDP relay, at the packet level.
//!
//! Limits: a verdict cannot duplicate a packet, and a corrupted packet on loopback would skip checksum checks, so
//! duplication and corruption are turned off here (a real path would drop a corrupted packet: use loss).

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nfq::{Message, Queue, Verdict};

use crate::link::{Link, LinkConfig, LinkStats};

/// What the emulator does, and which NFQUEUE numbers carry which direction.
#[derive(Clone, Debug)]
pub struct NfqConfig {
    /// Client -> server impairments (packets arriving on `up_queue`).
    pub up: LinkConfig,
    /// Server -> client impairments (packets arriving on `down_queue`).
    pub down: LinkConfig,
    /// RNG seed.
    pub seed: u64,
    /// NFQUEUE number of client -> server packets.
    pub up_queue: u16,
    /// NFQUEUE number of server -> client packets.
    pub down_queue: u16,
}

/// Counters of a finished run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NfqStats {
    /// Client -> server link counters.
    pub up: LinkStats,
    /// Server -> client link counters.
    pub down: LinkStats,
    /// Packets from a queue number this emulator does not own (accepted unchanged).
    pub foreign: u64,
    /// Packets held at the end and released.
    pub released_at_stop: u64,
}

/// A running emulator thread.
#[derive(Debug)]
pub struct NfqEmulator {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<NfqStats>>>,
}

impl NfqEmulator {
    /// Binds the two queues (fails without CAP_NET_ADMIN) and starts the emulator thread.
    pub fn start(cfg: NfqConfig) -> io::Result<NfqEmulator> {
        let mut q = Queue::open()?;
        for n in [cfg.up_queue, cfg.down_queue] {
            q.bind(n)?;
            // Headers are enough: the model needs only the length; the packet itself stays in the kernel.
            q.set_copy_range(n, 64)?;
            q.set_queue_max_len(n, 1 << 17)?;
            q.set_fail_open(n, false)?;
        }
        q.set_nonblocking(true);
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("nfq-emulator".into())
            .spawn(move || run(q, cfg, &s))?;
        Ok(NfqEmulator {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (releasing every held packet) and returns the counters.
    pub fn finish(mut self) -> io::Result<NfqStats> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("nfq emulator thread panicked"))?,
            None => Ok(NfqStats::default()),
        }
    }
}

impl Drop for NfqEmulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn dropped(s: &LinkStats) -> u64 {
    s.lost + s.queue_drops + s.blackholed
}

fn run(mut q: Queue, cfg: NfqConfig, stop: &AtomicBool) -> io::Result<NfqStats> {
    let sanitize = |mut c: LinkConfig| {
        c.duplicate = 0.0;
        c.corrupt = 0.0;
        c
    };
    let mut links = [
        Link::new(sanitize(cfg.up.clone()), cfg.seed),
        Link::new(sanitize(cfg.down.clone()), cfg.seed ^ 0x5bd1_e995),
    ];
    let mut held: HashMap<u64, Message> = HashMap::new();
    let mut token = 0u64;
    let mut stats = NfqStats::default();
    let start = Instant::now();
    let now_us = || start.elapsed().as_micros() as u64;
    while !stop.load(Ordering::Relaxed) {
        let mut got = 0;
        loop {
            let mut msg = match q.recv() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            got += 1;
            let qn = msg.get_queue_num();
            let dir = if qn == cfg.up_queue {
                0
            } else if qn == cfg.down_queue {
                1
            } else {
                stats.foreign += 1;
                msg.set_verdict(Verdict::Accept);
                q.verdict(msg)?;
                continue;
            };
            // The model sees a stand-in of the packet's length carrying a token that finds the held message.
            let len = msg.get_original_len().max(8);
            let mut stand_in = vec![0u8; len];
            stand_in[..8].copy_from_slice(&token.to_le_bytes());
            let before = dropped(links[dir].stats());
            links[dir].send(now_us(), stand_in);
            if dropped(links[dir].stats()) != before {
                msg.set_verdict(Verdict::Drop);
                q.verdict(msg)?;
            } else {
                held.insert(token, msg);
            }
            token += 1;
            if got >= 256 {
                break;
            }
        }
        let now = now_us();
        for link in &mut links {
            while let Some(p) = link.poll(now) {
                let t = p
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes);
                if let Some(mut msg) = t.and_then(|t| held.remove(&t)) {
                    msg.set_verdict(Verdict::Accept);
                    q.verdict(msg)?;
                }
            }
        }
        if got == 0 {
            // Nothing arrived: sleep until the next delivery, but wake often enough to see new packets.
            let next = links.iter().filter_map(|l| l.next_event_time()).min();
            let wait = next.map_or(200, |t| t.saturating_sub(now_us()).min(200));
            if wait > 0 {
                std::thread::sleep(Duration::from_micros(wait));
            }
        }
    }
    stats.released_at_stop = held.len() as u64;
    for (_, mut msg) in held.drain() {
        msg.set_verdict(Verdict::Accept);
        let _ = q.verdict(msg);
    }
    stats.up = links[0].stats().clone();
    stats.down = links[1].stats().clone();
    for n in [cfg.up_queue, cfg.down_queue] {
        let _ = q.unbind(n);
    }
    Ok(stats)
}
