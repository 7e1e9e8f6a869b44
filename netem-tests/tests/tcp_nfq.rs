//! TCP through the link model at the packet level (NFQUEUE in a private network namespace). Root only: skips
//! with the reason otherwise. Checks that delay and loss are really applied to TCP packets, that the transfer is
//! intact, and that no namespace is left behind.

use std::path::Path;
use std::time::Duration;

use netem_tests::cell::{Workload, WorkloadParams};
use netem_tests::impair::ImpairArgs;
use netem_tests::netns;
use netem_tests::tcpimpair::run_tcp_cell;

fn exe() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_netem-matrix"))
}

/// The tests check that no namespace of this process is left, so they must not overlap.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn skip() -> bool {
    if let Some(why) = netns::nfq_unavailable() {
        eprintln!("SKIPPED: TCP impairment test: {why}");
        return true;
    }
    false
}

#[test]
fn tcp_echo_sees_the_delay_and_loss() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let params = WorkloadParams {
        workload: Workload::Interactive,
        duration: Duration::from_secs(2),
        max_bytes: 0,
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
        partner: None,
    };
    let impair = ImpairArgs {
        delay: "15ms/25ms".into(),
        loss: "10%".into(),
        ..Default::default()
    };
    let o = run_tcp_cell(exe(), "cubic", &params, &impair, 3);
    eprintln!("{o:?}");
    assert_eq!(o.error, None, "{o:?}");
    assert_eq!(o.messages, 100);
    // Every echo crosses 15 + 25 ms of delay; 10% loss forces retransmissions, which add at least an RTO.
    assert!(o.p50_ms.unwrap() >= 40.0, "{o:?}");
    assert!(o.max_ms.unwrap() >= 80.0, "{o:?}");
    assert!(o.dropped > 0 && o.packets >= 200, "{o:?}");
    assert!(netns::own_namespaces().is_empty(), "namespace left behind");
}

#[test]
fn tcp_bulk_through_rate_limit_is_checksummed_and_paced() {
    if skip() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let params = WorkloadParams {
        workload: Workload::Bulk,
        duration: Duration::from_secs(20),
        max_bytes: 2 << 20,
        interval: Duration::from_millis(20),
        timeout: Duration::from_secs(30),
        partner: None,
    };
    let impair = ImpairArgs {
        delay: "5ms".into(),
        loss: "1%".into(),
        rate: "16mbit".into(),
        queue: "200".into(),
        ..Default::default()
    };
    let o = run_tcp_cell(exe(), "cubic", &params, &impair, 5);
    eprintln!("{o:?}");
    assert_eq!(o.error, None, "{o:?}");
    assert_eq!(o.bytes, 2 << 20);
    let g = o.goodput_mbps.unwrap();
    // The 16 Mbit/s limit holds (a little slack for the timer's millisecond granularity).
    assert!(g > 1.0 && g < 17.0, "goodput {g}");
    assert!(o.dropped > 0, "{o:?}");
    assert!(netns::own_namespaces().is_empty(), "namespace left behind");
}
