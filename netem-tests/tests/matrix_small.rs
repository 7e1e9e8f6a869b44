//! The CI-sized matrix end to end: our stack, kcptun (skipped when not installed) and TCP cubic (skipped when not
//! root) through 0 % and 10 % loss at 40 ms RTT, every transfer checksummed, report and charts written.

use std::path::PathBuf;

use netem_tests::cell::Workload;
use netem_tests::matrix::{
    MatrixConfig, Mode, Transport, all_transports, run_matrix, small_matrix,
};
use netem_tests::report::write_report;

/// The CI-sized matrix, both workloads, every transport it has.
fn small(seed: u64, ours_tunnel: Option<PathBuf>) -> MatrixConfig {
    small_matrix(MatrixConfig {
        losses: vec![],
        rtts: vec![],
        transports: all_transports(),
        workloads: vec![Workload::Bulk, Workload::Interactive],
        bulk_duration: Default::default(),
        bulk_max_bytes: 0,
        interactive_duration: Default::default(),
        rate: "100mbit".into(),
        queue: "1000".into(),
        jitter: "0ms".into(),
        seed,
        exe: PathBuf::from(env!("CARGO_BIN_EXE_netem-matrix")),
        ours_tunnel,
    })
}

#[test]
fn small_matrix_runs_and_reports() {
    let out = std::env::temp_dir().join(format!("netem-small-{}", std::process::id()));
    let cfg = small(1, None);
    let rows = run_matrix(&cfg, &out, |r| {
        eprintln!(
            "{} {} {}% {:?}",
            r.transport,
            r.workload.name(),
            r.loss_pct,
            r.outcome
        )
    })
    .unwrap();
    assert_eq!(rows.len(), 12);
    for r in &rows {
        let o = &r.outcome;
        if let Some(e) = &o.error {
            assert!(
                e.starts_with("skipped"),
                "{} {}: {e}",
                r.transport,
                r.workload.name()
            );
            assert!(r.family != "ours", "our stack never skips");
            continue;
        }
        match r.workload {
            Workload::Bulk => assert!(
                o.bytes > 0 && o.goodput_mbps.is_some_and(|g| g > 0.0),
                "{r:?}"
            ),
            // 1 s of a message every 20 ms, each echo checked.
            Workload::Interactive => assert_eq!(o.messages, 50, "{r:?}"),
        }
        if r.loss_pct > 0.0 {
            assert!(
                o.dropped > 0,
                "the emulator dropped nothing at {}%: {r:?}",
                r.loss_pct
            );
        }
    }
    // At 10 % loss TCP collapses while KCP with FEC keeps most of its rate: a wide margin, not a close race.
    let g = |t: &str| {
        rows.iter()
            .find(|r| r.transport == t && r.workload == Workload::Bulk && r.loss_pct == 10.0)
            .and_then(|r| r.outcome.goodput_mbps.filter(|_| r.outcome.error.is_none()))
    };
    if let (Some(ours), Some(tcp)) = (g("ours fast+fec"), g("tcp cubic")) {
        assert!(
            ours > 2.0 * tcp,
            "ours {ours} vs tcp {tcp} Mbit/s at 10% loss"
        );
    }
    let report = write_report(&rows, &out, "CI matrix").unwrap();
    let md = std::fs::read_to_string(report).unwrap();
    assert!(md.contains("| ours fast+fec |"), "{md}");
    assert!(md.contains("## Bulk goodput"));
    let _ = std::fs::remove_dir_all(&out);
}

/// Our cells out of process, as kcptun's: the workload's TCP connections through our `tunnel-client` and
/// `tunnel-server` (built with the workspace, next to `netem-matrix`), same-settings and default cells.
#[test]
fn our_cells_run_through_our_tunnel_programs() {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_netem-matrix"))
        .parent()
        .unwrap()
        .to_path_buf();
    if !dir.join("tunnel-client").exists() || !dir.join("tunnel-server").exists() {
        eprintln!(
            "skipped: tunnel-client/tunnel-server not built in {} (cargo build --release -p kcp-examples)",
            dir.display()
        );
        return;
    }
    let out = std::env::temp_dir().join(format!("netem-tunnel-{}", std::process::id()));
    let cfg = small(2, Some(dir));
    let cfg = MatrixConfig {
        losses: vec![5.0],
        transports: vec![
            Transport::Ours {
                mode: Mode::Fast3,
                fec: true,
            },
            Transport::OursDefault,
        ],
        ..cfg
    };
    let rows = run_matrix(&cfg, &out, |_| {}).unwrap();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let o = &r.outcome;
        assert!(o.error.is_none(), "{r:?}");
        assert!(o.dropped > 0, "the emulator dropped nothing at 5%: {r:?}");
        match r.workload {
            Workload::Bulk => assert!(o.bytes > 0, "{r:?}"),
            Workload::Interactive => assert_eq!(o.messages, 50, "{r:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&out);
}
