//! Wire interop with the real kcp-go v5.6.1: our endpoint exchanges messages (including multi-fragment ones) with
//! a kcp-go KCP that echoes them, over a pipe, with seeded loss in both directions. Skips when `go` or the
//! kcp-go sources are absent.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kcp::proto::{Kcp, KcpConfig, Preset};

const GOCODE: &str = "/usr/share/gocode/src";

fn build_echo() -> Option<PathBuf> {
    if Command::new("go").arg("version").output().is_err() {
        eprintln!("skipping: `go` is not installed");
        return None;
    }
    if !Path::new(GOCODE).join("github.com/xtaci/kcp-go").is_dir() {
        eprintln!("skipping: kcp-go sources not in {GOCODE}");
        return None;
    }
    let gopath = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gopath-kcpecho");
    let src = gopath.join("src");
    std::fs::create_dir_all(src.join("kcpecho")).unwrap();
    for e in std::fs::read_dir(GOCODE).unwrap() {
        let e = e.unwrap();
        let link = src.join(e.file_name());
        if !link.exists() {
            std::os::unix::fs::symlink(e.path(), &link).unwrap();
        }
    }
    let main_go = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/go/kcpecho/main.go");
    std::fs::copy(main_go, src.join("kcpecho/main.go")).unwrap();
    let bin = gopath.join("kcpecho");
    let st = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(src.join("kcpecho"))
        .env("GO111MODULE", "off")
        .env("GOPATH", &gopath)
        .status()
        .unwrap();
    assert!(st.success(), "go build failed");
    Some(bin)
}

/// A tiny deterministic generator for loss decisions and message contents.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn echo_through_kcp_go_with_loss() {
    let Some(bin) = build_echo() else { return };
    let mut child = Command::new(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_go = child.stdin.take().unwrap();
    let mut from_go = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut hdr = [0u8; 4];
        while from_go.read_exact(&mut hdr).is_ok() {
            let mut d = vec![0u8; u32::from_le_bytes(hdr) as usize];
            if from_go.read_exact(&mut d).is_err() || tx.send(d).is_err() {
                break;
            }
        }
    });

    let cfg = KcpConfig {
        preset: Preset::Fast3,
        snd_wnd: 128,
        rcv_wnd: 128,
        ..Default::default()
    };
    let mut k = Kcp::new(0x1122_3344, &cfg).unwrap();
    let mut rng = Lcg(7);
    let msgs: Vec<Vec<u8>> = (0..150)
        .map(|i| {
            let len = 1 + (rng.next() as usize % (3 * k.mss()));
            (0..len).map(|j| (i * 31 + j) as u8).collect()
        })
        .collect();
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u32;
    let (mut sent, mut echoed) = (0usize, 0usize);
    let mut dropped = [0u32; 2];
    while echoed < msgs.len() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "only {echoed} of {} echoes",
            msgs.len()
        );
        while sent < msgs.len() && k.can_send() {
            k.send(&msgs[sent]).unwrap();
            sent += 1;
        }
        let mut out = Vec::new();
        k.update(now(), |d| out.push(d.to_vec()));
        for d in out {
            if rng.next() % 100 < 5 {
                dropped[0] += 1;
                continue;
            }
            to_go.write_all(&(d.len() as u32).to_le_bytes()).unwrap();
            to_go.write_all(&d).unwrap();
        }
        to_go.flush().unwrap();
        let wait = (k.check(now()).wrapping_sub(now()) as i32).clamp(1, 10) as u64;
        if let Ok(d) = rx.recv_timeout(Duration::from_millis(wait)) {
            let mut batch = vec![d];
            batch.extend(rx.try_iter());
            for d in batch {
                if rng.next() % 100 < 5 {
                    dropped[1] += 1;
                    continue;
                }
                k.input(now(), &d, true).expect("kcp-go datagram parses");
            }
        }
        while let Some(m) = k.recv_bytes() {
            assert_eq!(&m[..], &msgs[echoed][..], "echo {echoed} differs");
            echoed += 1;
        }
    }
    drop(to_go);
    child.wait().unwrap();
    reader.join().unwrap();
    assert!(
        dropped[0] > 0 && dropped[1] > 0,
        "loss was not exercised: {dropped:?}"
    );
    let s = k.stats();
    assert!(s.retrans_segs > 0, "{s:?}");
    eprintln!(
        "interop: {} messages echoed by kcp-go, dropped {dropped:?}, {s:?}",
        msgs.len()
    );
}
