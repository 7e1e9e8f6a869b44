//! Builds and runs the Go smux peer (`main.go` beside this file) for interop tests and benchmarks.
//! Included with `#[path]` by the smux tests and the smux benchmark; not a crate of its own.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the Go smux sources come from (Debian golang-github-xtaci-smux-dev).
pub const GOPATH: &str = "/usr/share/gocode";

/// Compiles the peer offline in GOPATH mode into `out_dir` (once per process) and returns the binary's
/// path, or the reason it cannot be built (no `go`, no smux sources, compile error).
pub fn build(out_dir: &Path) -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/smux-peer/main.go");
            if !Path::new(GOPATH).join("src/github.com/xtaci/smux").is_dir() {
                return Err(format!(
                    "{GOPATH}/src/github.com/xtaci/smux missing (golang-github-xtaci-smux-dev)"
                ));
            }
            std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
            let bin = out_dir.join("smux-peer");
            let out = Command::new("go")
                .arg("build")
                .arg("-o")
                .arg(&bin)
                .arg(&src)
                .env("GO111MODULE", "off")
                .env("GOPATH", GOPATH)
                .env("GOFLAGS", "")
                .env("GOCACHE", out_dir.join("gocache"))
                .output()
                .map_err(|e| format!("cannot run `go` ({e}); install golang-go"))?;
            if !out.status.success() {
                return Err(format!(
                    "go build failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(bin)
        })
        .clone()
}

/// Byte `i` of the interop test pattern with seed `seed` (same formula as `main.go`).
pub fn pattern_fill(seed: u64, off: u64, buf: &mut [u8]) {
    for (j, b) in buf.iter_mut().enumerate() {
        let i = off + j as u64;
        *b = ((i.wrapping_mul(31) + seed * 7 + (i >> 9)) % 251) as u8;
    }
}
