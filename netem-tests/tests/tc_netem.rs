//! Cross-check with the kernel's own emulator where the kernel has `sch_netem`: TCP echoes through `tc netem
//! delay` on a private namespace's loopback must show the configured delay, as they do through our NFQUEUE
//! emulator. Skips with the reason when not root or when the kernel has no sch_netem (as on this project's CI).

use std::path::Path;
use std::time::Duration;

use netem_tests::cell::{Workload, WorkloadParams};
use netem_tests::impair::ImpairArgs;
use netem_tests::netns::{self, NetNs};

#[test]
fn tcp_echo_through_tc_netem_sees_the_delay() {
    if let Some(why) = netns::nfq_unavailable() {
        eprintln!("SKIPPED: tc netem cross-check: {why}");
        return;
    }
    let ns = NetNs::create().expect("namespace");
    // Loopback egress carries both directions, so 20 ms here is a 40 ms RTT.
    if let Err(e) = ns.run(
        "tc",
        &[
            "qdisc", "add", "dev", "lo", "root", "netem", "delay", "20ms",
        ],
    ) {
        eprintln!("SKIPPED: tc netem cross-check: the kernel has no sch_netem ({e})");
        return;
    }
    let params = WorkloadParams {
        workload: Workload::Interactive,
        duration: Duration::from_secs(1),
        max_bytes: 0,
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(20),
        partner: None,
    };
    let exe = Path::new(env!("CARGO_BIN_EXE_netem-matrix"));
    let args = netem_tests::tcpimpair::child_args("cubic", &params, &ImpairArgs::default(), 1);
    let out = ns
        .command(&exe.to_string_lossy())
        .args(args)
        .output()
        .expect("tcp-cell");
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(line.lines().last().unwrap_or("")).expect("json outcome");
    let o = netem_tests::cell::Outcome::from_json(&v);
    assert_eq!(o.error, None);
    assert_eq!(o.messages, 50);
    assert!(o.p50_ms.unwrap() >= 40.0, "{o:?}");
}
