#!/usr/bin/env bash
# The main job (README): set up the machine, build, and run the demo: a checksummed bulk transfer and a 64-byte
# echo over KCP + smux on loopback through the seeded network emulator (5 % loss each way, 100 ms RTT), next to
# the kernel's TCP through the same link model (TCP needs root for its network namespace). About 30 s.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p kcp-examples --bin demo
exec ./target/release/demo "$@"
