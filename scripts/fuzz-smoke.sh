#!/usr/bin/env bash
# Short fuzz runs of every target (CI smoke test). Longer by hand: FUZZ_SECONDS=600 bash scripts/fuzz-smoke.sh
# cargo-fuzz needs nightly-only flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-10}
export RUSTC_BOOTSTRAP=1
run() {
  local dir=$1 target=$2
  echo "-- fuzz $dir $target (${secs}s)"
  # pipefail (inherited by the subshell) makes a fuzzer failure fail the script, not just tail.
  (cd "$dir" && cargo fuzz run "$target" -- -max_total_time="$secs" 2>&1 | tail -n 3)
}
run kcp/fuzz input
run kcp/fuzz decode
run smux/fuzz frames
