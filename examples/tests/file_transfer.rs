//! `file-transfer` end to end: the real binaries on loopback.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use netem_tests::link::LinkConfig;
use support::{Proc, TempDir, free_udp, pattern, relay};

const FT: &str = env!("CARGO_BIN_EXE_file-transfer");

fn receiver(dir: &Path) -> (Proc, std::net::SocketAddr) {
    let addr = free_udp();
    let p = Proc::start(
        FT,
        &[
            "receive",
            "--listen",
            &addr.to_string(),
            "--dir",
            dir.to_str().unwrap(),
        ]
        .map(String::from),
        "receiving into",
    );
    (p, addr)
}

fn send(to: std::net::SocketAddr, paths: &[&Path], extra: &[&str]) -> Output {
    let mut cmd = Command::new(FT);
    cmd.args(["send", "--to", &to.to_string()]).args(extra);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().expect("run file-transfer send")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn same_file(a: &Path, b: &Path) {
    let x = std::fs::read(a).unwrap_or_else(|e| panic!("{}: {e}", a.display()));
    let y = std::fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display()));
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}

/// Waits (bounded) for the receiver to print a line containing `what`.
fn wait_log(p: &Proc, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if p.output().contains(what) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// 100 MiB with its SHA-256 checked by the receiver, and byte-compared here.
#[test]
fn hundred_mib_file() {
    let src = TempDir::new("ft-src");
    let dst = TempDir::new("ft-dst");
    let file = src.0.join("big.bin");
    std::fs::write(&file, pattern(100 << 20, 1)).unwrap();
    let (_rx, addr) = receiver(&dst.0);
    let o = send(addr, &[&file], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SHA-256 verified"), "{}", text(&o));
    same_file(&file, &dst.0.join("big.bin"));
    eprintln!("{}", text(&o));
}

/// A directory tree plus a loose file, over several streams at once.
#[test]
fn directory_and_files_in_parallel() {
    let src = TempDir::new("ft-src");
    let dst = TempDir::new("ft-dst");
    let tree = src.0.join("tree");
    std::fs::create_dir_all(tree.join("a/b")).unwrap();
    let files = [
        ("tree/one.bin", 3 << 20),
        ("tree/a/two.txt", 10),
        ("tree/a/b/three.bin", 1 << 20),
        ("tree/a/empty", 0),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(src.0.join(name), pattern(*len, i as u64)).unwrap();
    }
    let loose = src.0.join("loose.bin");
    std::fs::write(&loose, pattern(2 << 20, 99)).unwrap();
    let (rx, addr) = receiver(&dst.0);
    let o = send(addr, &[&tree, &loose], &["--streams", "3"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("sent 5 file(s)"), "{}", text(&o));
    for (name, _) in files {
        same_file(&src.0.join(name), &dst.0.join(name));
    }
    same_file(&loose, &dst.0.join("loose.bin"));
    assert!(wait_log(&rx, "received tree/a/empty (0 B)"));
}

/// A partial file on the receiver is continued, not restarted, and the whole file is verified; a corrupt
/// partial file is detected by the final SHA-256, removed, and the next run succeeds.
#[test]
fn resumes_from_partial_file_and_catches_a_corrupt_one() {
    let src = TempDir::new("ft-src");
    let dst = TempDir::new("ft-dst");
    let data = pattern(6 << 20, 5);
    let file = src.0.join("r.bin");
    std::fs::write(&file, &data).unwrap();
    std::fs::write(dst.0.join("r.bin.part"), &data[..(2 << 20)]).unwrap();
    let (rx, addr) = receiver(&dst.0);
    let o = send(addr, &[&file], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("(4.0 MiB over the network)"),
        "{}",
        text(&o)
    );
    assert!(wait_log(&rx, "resumed at 2.0 MiB"), "{}", rx.output());
    same_file(&file, &dst.0.join("r.bin"));
    assert!(!dst.0.join("r.bin.part").exists());

    let file2 = src.0.join("c.bin");
    std::fs::write(&file2, &data).unwrap();
    let mut bad = data[..(1 << 20)].to_vec();
    bad[1000] ^= 1;
    std::fs::write(dst.0.join("c.bin.part"), &bad).unwrap();
    let o = send(addr, &[&file2], &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("SHA-256 mismatch"), "{}", text(&o));
    assert!(!dst.0.join("c.bin").exists());
    let o = send(addr, &[&file2], &[]);
    assert!(o.status.success(), "{}", text(&o));
    same_file(&file2, &dst.0.join("c.bin"));
}

/// A sender killed mid-transfer (through a rate-limited link so it is surely mid-way) leaves a partial file;
/// the same command run again resumes it and the result is verified.
#[test]
fn interrupted_transfer_resumes() {
    let src = TempDir::new("ft-src");
    let dst = TempDir::new("ft-dst");
    let file = src.0.join("i.bin");
    std::fs::write(&file, pattern(16 << 20, 9)).unwrap();
    let (rx, addr) = receiver(&dst.0);
    let slow = LinkConfig {
        rate_bytes_per_sec: Some(1 << 20),
        queue_limit: 256,
        ..LinkConfig::default()
    };
    let relay = relay(addr, slow, LinkConfig::default());
    let mut child = Command::new(FT)
        .args(["send", "--to", &relay.addr().to_string()])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let part = dst.0.join("i.bin.part");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < (1 << 20) {
        assert!(Instant::now() < deadline, "no progress through the relay");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(relay);
    let had = std::fs::metadata(&part).unwrap().len();
    assert!(had < 16 << 20, "finished before it could be interrupted");
    let o = send(addr, &[&file], &[]);
    assert!(o.status.success(), "{}", text(&o));
    same_file(&file, &dst.0.join("i.bin"));
    assert!(wait_log(&rx, "resumed at"), "{}", rx.output());
}

/// Each failure ends with a message that says what happened.
#[test]
fn failures_are_explained() {
    let src = TempDir::new("ft-src");
    let dst = TempDir::new("ft-dst");
    // Missing input: refused before any network traffic.
    let o = send(free_udp(), &[&src.0.join("missing.bin")], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("missing.bin: no such file or directory"),
        "{}",
        text(&o)
    );
    // Nobody listening.
    let f = src.0.join("f.bin");
    std::fs::write(&f, pattern(1000, 3)).unwrap();
    let o = send(free_udp(), &[&f], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot reach the receiver"),
        "{}",
        text(&o)
    );
    // A different file of the same name is already there.
    std::fs::write(dst.0.join("f.bin"), b"other").unwrap();
    let (_rx, addr) = receiver(&dst.0);
    let o = send(addr, &[&f], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("already exists"), "{}", text(&o));
}

/// Disk full on the receiver reaches the sender as "disk full" (needs root to mount a small tmpfs).
#[test]
fn disk_full_is_reported() {
    let dst = TempDir::new("ft-full");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&dst.0)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("skipping: cannot mount a 1 MiB tmpfs (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _guard = Unmount(&dst.0);
    let src = TempDir::new("ft-src");
    let f = src.0.join("big.bin");
    std::fs::write(&f, pattern(4 << 20, 4)).unwrap();
    let (rx, addr) = receiver(&dst.0);
    let o = send(addr, &[&f], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("disk full"), "{}", text(&o));
    drop(rx);
}
