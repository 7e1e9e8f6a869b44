//! The C reference's own latency test (skywind3000/kcp test.cpp) reproduced in the simulator, over 20 seeds:
//! our average and maximum round trip must be below the C library's published figures in every setting.

use netem_tests::scenario::{C_REFERENCE, c_latency_table};

#[test]
fn beats_the_c_reference_latency() {
    let (table, rows) = c_latency_table(20);
    println!("{table}");
    for ((name, _, c_avg, c_max), (avg, max_mean, _worst)) in C_REFERENCE.iter().zip(&rows) {
        assert!(
            *avg < *c_avg as f64,
            "{name}: average RTT {avg:.1} ms not below C's {c_avg} ms\n{table}"
        );
        assert!(
            *max_mean < *c_max as f64,
            "{name}: max RTT {max_mean:.1} ms not below C's {c_max} ms\n{table}"
        );
    }
}

#[test]
fn every_echo_returns() {
    use netem_tests::scenario::c_latency_run;
    for (_, preset, _, _) in C_REFERENCE {
        let e = c_latency_run(preset, 1, true);
        assert_eq!(e.count, 1000);
        assert!(e.avg > 92.0, "below the link's mean round trip: {e:?}");
    }
}
