#!/usr/bin/env bash
# Side-by-side runs of our KCP core and kcp-go v5.6.1 (needs `go` and golang-github-xtaci-kcp-dev), back to back
# so both see the same machine load: 256 MiB in-memory transfer without loss, and the cost per ACK at 1k/8k/32k.
set -euo pipefail
cd "$(dirname "$0")/.."
G=$(mktemp -d)
trap 'rm -rf "$G"' EXIT
mkdir -p "$G/src"
ln -s /usr/share/gocode/src/* "$G/src/"
for p in ackcost transfer; do
  cp -r "benches/go/$p" "$G/src/go$p"
  (cd "$G/src/go$p" && GO111MODULE=off GOPATH="$G" go build -o "$G/go$p" .)
done
cargo build --release -q -p benches --bin transfer-once
./target/release/transfer-once 5 0
"$G/gotransfer" 5
"$G/goackcost" 7
cargo bench -q -p benches --bench proto -- ack_cost 2>&1 | grep -E "^ack_cost|time:"
