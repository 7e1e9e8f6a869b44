#!/usr/bin/env bash
# One-time machine set-up shared by the demo and the test command. Idempotent; quiet when everything is there.
# - Debian: Go and the Go reference sources (kcp-go, smux) for the interop peers, kcptun for the interop and
#   comparison tests, iptables + iproute2 for TCP through the emulator (NFQUEUE in a private namespace),
#   a TrueType font for the report charts, a C compiler for reed-solomon-erasure's SIMD code.
# - crates.io: cargo-fuzz for the fuzz smoke runs (stable toolchain with RUSTC_BOOTSTRAP=1).
set -euo pipefail
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/xtaci/kcp-go ] || need+=(golang-github-xtaci-kcp-dev)
[ -d /usr/share/gocode/src/github.com/xtaci/smux ] || need+=(golang-github-xtaci-smux-dev)
command -v kcptun-server >/dev/null 2>&1 || need+=(kcptun)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -d /usr/share/fonts/truetype/dejavu ] || need+=(fonts-dejavu-core)
command -v cc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "setup: not root, cannot install ${need[*]}; the tests that need them will skip" >&2
  fi
fi
if [ "${1:-}" = "--fuzz" ] && ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz"
  cargo install --quiet --locked cargo-fuzz
fi
