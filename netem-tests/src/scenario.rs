//! The reports: the loss x RTT matrix and the C reference's latency test, run in the simulator.

use std::fmt::Write as _;

use kcp::proto::{Kcp, Preset};

use crate::link::{Link, LinkConfig, Loss, UDP_IPV4_OVERHEAD};
use crate::sim::{Pair, Schedule, sim_config};

/// Size of one application record in the matrix workload.
pub const RECORD: usize = 1024;
/// Bytes moved by the bulk phase of each matrix cell.
pub const BULK_BYTES: usize = 16 << 20;
/// Records sent by the paced latency phase (one every [`PACE_MS`]).
pub const PACED_RECORDS: u32 = 300;
/// Interval between paced records.
pub const PACE_MS: u64 = 20;
/// Window (segments) used in the matrix.
pub const MATRIX_WND: u16 = 512;
/// Link rate in the matrix: 100 Mbit/s.
pub const MATRIX_RATE: u64 = 12_500_000;
/// Give up a phase after this much virtual time.
const PHASE_LIMIT_MS: u64 = 600_000;

/// Loss rates of the matrix, in percent.
pub const LOSSES: [u32; 5] = [0, 1, 5, 10, 20];
/// Round-trip times of the matrix, in ms.
pub const RTTS: [u64; 3] = [20, 100, 300];

/// One matrix cell's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Bulk goodput, KiB of payload per virtual second (0 if the transfer did not finish).
    pub goodput_kib_s: u64,
    /// Bytes put on the wire (both directions, envelope included) per payload byte, bulk phase.
    pub wire_per_byte: f64,
    /// Paced-phase record latency percentiles and maximum, ms.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Maximum.
    pub max: u64,
    /// Every record arrived exactly once and in order.
    pub intact: bool,
}

fn matrix_link(rtt: u64, loss_pct: u32, seed: u64) -> Link {
    let one_way = rtt * 1000 / 2;
    let cfg = LinkConfig {
        delay_us: one_way,
        jitter_us: one_way / 10,
        loss: if loss_pct == 0 {
            Loss::None
        } else {
            Loss::Independent(loss_pct as f64 / 100.0)
        },
        rate_bytes_per_sec: Some(MATRIX_RATE),
        queue_limit: 1000,
        packet_overhead: UDP_IPV4_OVERHEAD,
        fifo: true,
        ..Default::default()
    };
    Link::new(cfg, seed)
}

/// Reassembles the record stream at the receiver and checks sequence numbers.
struct RecordSink {
    buf: Vec<u8>,
    next_seq: u32,
    intact: bool,
}

impl RecordSink {
    fn new() -> Self {
        RecordSink {
            buf: Vec::with_capacity(2 * RECORD),
            next_seq: 0,
            intact: true,
        }
    }

    /// Drains `k`, calling `on_record(send_ms)` per complete record.
    fn drain(&mut self, k: &mut Kcp, mut on_record: impl FnMut(u64)) {
        while let Some(b) = k.recv_bytes() {
            self.buf.extend_from_slice(&b);
            while self.buf.len() >= RECORD {
                let seq = u32::from_le_bytes(self.buf[0..4].try_into().expect("4 bytes"));
                let sent = u64::from_le_bytes(self.buf[4..12].try_into().expect("8 bytes"));
                let fill_ok = self.buf[12..RECORD].iter().all(|&x| x == seq as u8);
                if seq != self.next_seq || !fill_ok {
                    self.intact = false;
                }
                self.next_seq = seq.wrapping_add(1);
                on_record(sent);
                self.buf.drain(..RECORD);
            }
        }
    }
}

fn record(seq: u32, now: u64) -> [u8; RECORD] {
    let mut r = [seq as u8; RECORD];
    r[0..4].copy_from_slice(&seq.to_le_bytes());
    r[4..12].copy_from_slice(&now.to_le_bytes());
    r
}

/// Runs one matrix cell: a bulk transfer of [`BULK_BYTES`], then [`PACED_RECORDS`] paced records, with
/// both endpoints on `schedule`.
pub fn run_cell(preset: Preset, schedule: Schedule, loss_pct: u32, rtt: u64, seed: u64) -> Cell {
    let cfg = sim_config(preset, true, MATRIX_WND);
    let a = Kcp::new(1, &cfg).expect("config");
    let b = Kcp::new(1, &cfg).expect("config");
    let mut p = Pair::new(
        a,
        b,
        matrix_link(rtt, loss_pct, seed),
        matrix_link(rtt, loss_pct, seed ^ 0x5a5a),
    )
    .with_schedule(schedule);
    let mut sink = RecordSink::new();

    // Bulk phase.
    let total = (BULK_BYTES / RECORD) as u32;
    let (mut sent, mut got) = (0u32, 0u32);
    let start = p.now_ms();
    while got < total && p.now_ms() - start < PHASE_LIMIT_MS {
        p.step();
        sink.drain(&mut p.b, |_| got += 1);
        // The writer writes as soon as the window lets it: after what the step delivered.
        let mut wrote = false;
        while sent < total && p.a.can_send() {
            p.a.send(&record(sent, p.now_ms())).expect("send");
            sent += 1;
            wrote = true;
        }
        if wrote {
            p.flush_a();
        }
        if got < total {
            p.advance(None);
        }
    }
    let elapsed = (p.now_ms() - start).max(1);
    let bulk_done = got == total;
    let goodput_kib_s = if bulk_done {
        (BULK_BYTES as u64 * 1000 / elapsed) >> 10
    } else {
        0
    };
    let wire = p.ab.stats().sent_bytes + p.ba.stats().sent_bytes;
    let wire_per_byte = wire as f64 / BULK_BYTES as f64;

    // Paced phase.
    let mut lat = Vec::with_capacity(PACED_RECORDS as usize);
    let first = sent;
    let end = first + PACED_RECORDS;
    let start = p.now_ms();
    let mut next_send = start;
    while (lat.len() as u32) < PACED_RECORDS && p.now_ms() - start < PHASE_LIMIT_MS {
        if sent < end && p.now_ms() >= next_send {
            p.a.send(&record(sent, p.now_ms())).expect("send");
            sent += 1;
            next_send += PACE_MS;
            p.flush_a();
        }
        p.step();
        let now = p.now_ms();
        sink.drain(&mut p.b, |t| {
            if t >= start {
                lat.push(now - t)
            }
        });
        p.advance((sent < end).then_some(next_send));
    }
    lat.sort_unstable();
    let pct = |q: usize| {
        lat.get((lat.len() * q / 100).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Cell {
        goodput_kib_s,
        wire_per_byte,
        p50: pct(50),
        p99: pct(99),
        max: lat.last().copied().unwrap_or(0),
        intact: sink.intact
            && bulk_done
            && lat.len() as u32 == PACED_RECORDS
            && p.input_errors == 0,
    }
}

/// The presets the matrix reports, on kcp-go's schedule and fast3 also on the tokio edge's (which holds
/// ACKs of in-order data up to 2 ms).
pub const MATRIX_PRESETS: [(&str, Preset, Schedule); 3] = [
    ("normal", Preset::Normal, Schedule::KcpGo),
    ("fast3", Preset::Fast3, Schedule::KcpGo),
    ("fast3 edge", Preset::Fast3, Schedule::Edge),
];

/// Runs the whole matrix and renders it as a Markdown table (deterministic: fixed seeds, integer time).
pub fn matrix_markdown() -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Loss x RTT matrix (simulated)\n\n\
         Stream mode, window {MATRIX_WND}, mtu 1400, link 100 Mbit/s charging each datagram its 28-byte IP/UDP header, a \
         1000-packet queue, jitter 10% of the one-way delay, independent loss in both directions.\nBulk: {} KiB, goodput in KiB/s of payload; \
         wire/B: bytes on the wire in both directions per payload byte.\nLatency: {PACED_RECORDS} records of \
         {RECORD} B every {PACE_MS} ms after the bulk phase, ms from write to complete read.\n\
         Modes: kcp-go's timer schedule; \"edge\": the tokio edge's (ACKs of in-order data held up to 2 ms, \
         or riding on data).\n\
         Regenerate: `UPDATE_SNAPSHOTS=1 cargo test --release -p netem-tests --test matrix`.\n",
        BULK_BYTES >> 10
    );
    let _ = writeln!(
        s,
        "| mode | loss % | RTT ms | goodput KiB/s | wire/B | p50 ms | p99 ms | max ms | intact |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (name, preset, schedule) in MATRIX_PRESETS {
        for loss in LOSSES {
            for rtt in RTTS {
                let seed = (loss as u64) << 32 | rtt;
                let c = run_cell(preset, schedule, loss, rtt, seed);
                let _ = writeln!(
                    s,
                    "| {name} | {loss} | {rtt} | {} | {:.3} | {} | {} | {} | {} |",
                    c.goodput_kib_s,
                    c.wire_per_byte,
                    c.p50,
                    c.p99,
                    c.max,
                    if c.intact { "yes" } else { "NO" }
                );
            }
        }
    }
    s
}

/// The three settings of the C reference's latency test with its published average / max RTT (ms).
pub const C_REFERENCE: [(&str, Preset, u32, u32); 3] = [
    (
        "default (0,10,0,0)",
        Preset::Manual {
            nodelay: 0,
            interval: 10,
            resend: 0,
            nc: false,
        },
        740,
        1507,
    ),
    (
        "normal (0,10,0,1)",
        Preset::Manual {
            nodelay: 0,
            interval: 10,
            resend: 0,
            nc: true,
        },
        156,
        571,
    ),
    (
        "fast (1,10,2,1)",
        Preset::Manual {
            nodelay: 1,
            interval: 10,
            resend: 2,
            nc: true,
        },
        138,
        392,
    ),
];

/// Whether the latency test's writes flush at once, as kcp-go's `UDPSession.Write` does.
pub const FLUSH_ON_WRITE: bool = true;

/// Average and maximum round trip of one run of the C reference's latency test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Echo {
    /// Mean RTT in ms.
    pub avg: f64,
    /// Largest RTT in ms.
    pub max: u64,
    /// Echoes received (1000 when complete).
    pub count: u32,
}

/// The C reference's `test.cpp`: 5 % loss each way (exactly 5 of every 100 packets, as its `Random` class draws), one-way delay uniform in [30, 62) ms, FIFO delay line of at
/// most 1000 packets, windows 128/128, interval 10 ms; the client sends an 8-byte message every 20 ms, the
/// server echoes it, until 1000 echoes returned.
pub fn c_latency_run(preset: Preset, seed: u64, flush_on_write: bool) -> Echo {
    c_latency_with_loss(
        preset,
        seed,
        flush_on_write,
        Loss::Deck { lost: 5, of: 100 },
    )
}

/// [`c_latency_run`] with another loss rate per direction.
pub fn c_latency_with_loss(preset: Preset, seed: u64, flush_on_write: bool, loss: Loss) -> Echo {
    let cfg = sim_config(preset, false, 128);
    let link = |s| {
        Link::new(
            LinkConfig {
                delay_us: 30_000,
                jitter_us: 32_000,
                jitter_step_us: 1000,
                loss,
                fifo: true,
                max_in_flight: 1000,
                ..Default::default()
            },
            s,
        )
    };
    let a = Kcp::new(0x1122_3344, &cfg).expect("config");
    let b = Kcp::new(0x1122_3344, &cfg).expect("config");
    let mut p = Pair::new(
        a,
        b,
        link(seed),
        link(seed.wrapping_mul(31).wrapping_add(7)),
    );
    let (mut index, mut next_send) = (0u32, 0u64);
    let (mut count, mut sum, mut max) = (0u32, 0u64, 0u64);
    let mut buf = [0u8; 64];
    while count < 1000 && p.now_ms() < 200_000 {
        p.step();
        while p.now_ms() >= next_send {
            let mut m = [0u8; 8];
            m[..4].copy_from_slice(&index.to_le_bytes());
            m[4..].copy_from_slice(&(next_send as u32).to_le_bytes());
            p.a.send(&m).expect("send");
            if flush_on_write {
                p.flush_a();
            }
            index += 1;
            next_send += 20;
        }
        while let Ok(n) = p.b.recv(&mut buf) {
            let echo = buf[..n].to_vec();
            p.b.send(&echo).expect("send");
            if flush_on_write {
                p.flush_b();
            }
        }
        while let Ok(n) = p.a.recv(&mut buf) {
            if n == 8 && count < 1000 {
                let ts = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes")) as u64;
                let rtt = p.now_ms() - ts;
                sum += rtt;
                max = max.max(rtt);
                count += 1;
            }
        }
        p.advance(Some(next_send));
    }
    Echo {
        avg: sum as f64 / count.max(1) as f64,
        max,
        count,
    }
}

/// Runs [`c_latency_run`] over `seeds` seeds per setting and renders a table next to the C figures.
/// Returns the table and, per setting, (mean of avg, mean of max, worst max).
pub fn c_latency_table(seeds: u64) -> (String, Vec<(f64, f64, u64)>) {
    let mut s = String::new();
    let mut rows = Vec::new();
    let _ = writeln!(
        s,
        "# C reference latency test (test.cpp), {seeds} seeds per setting\n"
    );
    let _ = writeln!(
        s,
        "| nodelay setting | ours avg ms | ours max ms (mean) | ours max ms (worst) | C avg ms | C max ms |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for (name, preset, c_avg, c_max) in C_REFERENCE {
        let runs: Vec<Echo> = (0..seeds)
            .map(|seed| c_latency_run(preset, seed, FLUSH_ON_WRITE))
            .collect();
        let avg = runs.iter().map(|e| e.avg).sum::<f64>() / seeds as f64;
        let max_mean = runs.iter().map(|e| e.max as f64).sum::<f64>() / seeds as f64;
        let worst = runs.iter().map(|e| e.max).max().unwrap_or(0);
        let _ = writeln!(
            s,
            "| {name} | {avg:.1} | {max_mean:.1} | {worst} | {c_avg} | {c_max} |"
        );
        rows.push((avg, max_mean, worst));
    }
    (s, rows)
}
