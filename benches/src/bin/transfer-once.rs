//! Times `benches::transfer` (256 MiB, window 1024, fast3) a few times and prints the median, in the same format
//! as `go/transfer` prints kcp-go's, so the two can be run back to back: see `benches/compare.sh`.
//!
//! `cargo run --release -p benches --bin transfer-once -- [RUNS] [LOSS]`

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let loss: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let total = 256usize << 20;
    let mut secs: Vec<f64> = (0..runs)
        .map(|i| {
            let t = Instant::now();
            std::hint::black_box(benches::proto_pair::transfer(
                total,
                loss,
                1024,
                i as u64 + 1,
            ));
            t.elapsed().as_secs_f64()
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    let med = secs[secs.len() / 2];
    let segs = total as f64 / 1376.0;
    println!(
        "ours   256 MiB loss {}: median {med:.3} s, {:.0} MB/s, {:.0} ns/segment ({runs} runs)",
        loss * 100.0,
        total as f64 / med / 1e6,
        med * 1e9 / segs
    );
}
