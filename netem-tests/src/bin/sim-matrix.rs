//! Prints the loss x RTT matrix and the C reference latency table from the simulator.
//!
//! `cargo run --release -p netem-tests --bin sim-matrix [SEEDS]` (SEEDS for the latency test, default 20).

fn main() {
    let seeds = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    println!("{}", netem_tests::scenario::matrix_markdown());
    println!("{}", netem_tests::scenario::c_latency_table(seeds).0);
}
