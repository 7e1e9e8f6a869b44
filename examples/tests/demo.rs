//! The README's main command runs and prints its table (short and without the root-only TCP part).

#[test]
fn demo_prints_a_result() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--seconds", "1", "--no-tcp"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("bulk goodput"))
        .expect("bulk line");
    let mbps: f64 = line
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a number");
    assert!(mbps > 0.0, "{line}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("echo RTT") && l.contains(" ms")),
        "{out}"
    );
    assert!(out.contains("100 ms RTT"), "{out}");
}
