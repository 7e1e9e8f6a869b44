//! `cargo bench -p benches --bench proto`
//!
//! * `transfer/256MiB/{loss0,loss5}`: two in-memory endpoints move 256 MiB (stream mode, window 1024, fast3);
//!   throughput in bytes of payload; ns per segment = time / (256 MiB / 1376).
//! * `ack_cost/{1024,8192,32768}`: a sender with ~91.5 % of its window in flight (30,000 of 32,768) processes the
//!   selective ACKs of a receiver that lost 1 % of the data; throughput in ACK segments, so ns/ACK = 1/throughput.
//!   The cost per ACK should stay flat across windows.

use std::hint::black_box;
use std::time::Duration;

use benches::proto_pair::{AckScenario, transfer};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const TOTAL: usize = 256 << 20;

fn bench_transfer(c: &mut Criterion) {
    let mut g = c.benchmark_group("transfer");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(TOTAL as u64));
    for (name, loss) in [("256MiB/loss0", 0.0), ("256MiB/loss5", 0.05)] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(transfer(TOTAL, loss, 1024, 1)))
        });
    }
    g.finish();
}

fn bench_ack_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("ack_cost");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    for wnd in [1024u16, 8192, 32768] {
        let in_flight = wnd as usize * 30_000 / 32_768;
        let sc = AckScenario::new(wnd, in_flight, 0.01, 3);
        eprintln!(
            "ack_cost/{wnd}: {in_flight} segments in flight, {} ACK segments",
            sc.ack_count
        );
        g.throughput(Throughput::Elements(sc.ack_count as u64));
        g.bench_function(format!("{wnd}"), |b| {
            b.iter_batched(
                || sc.sender.clone(),
                |mut s| {
                    for d in &sc.acks {
                        s.input(10, d, true).expect("ack");
                    }
                    s
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_ack_cost, bench_transfer);
criterion_main!(benches);
