//! The loss x RTT matrix, compared against the checked-in snapshot so every change to the ARQ shows up as a
//! reviewed diff of numbers. `UPDATE_SNAPSHOTS=1` rewrites the snapshot.

use netem_tests::scenario::matrix_markdown;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/matrix.md");

#[test]
fn matrix_matches_snapshot() {
    let got = matrix_markdown();
    assert!(
        !got.contains("| NO |"),
        "a matrix cell lost or reordered data:\n{got}"
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &got).expect("write snapshot");
        return;
    }
    let want =
        std::fs::read_to_string(SNAPSHOT).expect("snapshot exists (run with UPDATE_SNAPSHOTS=1)");
    if got != want {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "matrix differs from {SNAPSHOT} (UPDATE_SNAPSHOTS=1 to accept):\n{}\n(line counts {} vs {})",
            diff.join("\n"),
            want.lines().count(),
            got.lines().count()
        );
    }
}

#[test]
fn matrix_is_deterministic() {
    use kcp::proto::Preset;
    use netem_tests::scenario::run_cell;
    use netem_tests::sim::Schedule;
    for schedule in [Schedule::KcpGo, Schedule::Edge] {
        assert_eq!(
            run_cell(Preset::Fast3, schedule, 5, 100, 42),
            run_cell(Preset::Fast3, schedule, 5, 100, 42)
        );
    }
}
