#!/usr/bin/env bash
# The test command (README): set-up, formatting, lints, the whole test suite in release mode, fuzz smoke runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --fuzz
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (release)"
cargo test --workspace --release --locked
echo "== fuzz smoke"
bash scripts/fuzz-smoke.sh
