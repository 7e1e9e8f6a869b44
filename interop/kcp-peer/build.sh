#!/usr/bin/env bash
# Build the kcp-go peer offline in GOPATH mode from Debian's golang-github-xtaci-kcp-dev.
# Usage: build.sh OUTPUT_BINARY. Exits 2 (with a reason on stderr) when go or kcp-go is missing.
set -euo pipefail
out=${1:?usage: build.sh OUTPUT}
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null 2>&1 || { echo "go not installed" >&2; exit 2; }
[ -d /usr/share/gocode/src/github.com/xtaci/kcp-go ] || { echo "golang-github-xtaci-kcp-dev not installed" >&2; exit 2; }
if [ -x "$out" ] && [ "$out" -nt "$here/main.go" ]; then exit 0; fi
mkdir -p "$(dirname "$out")"
export GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS=-mod=mod
export GOCACHE=${GOCACHE:-$(dirname "$out")/.gocache}
unset GOFLAGS
tmp="$out.tmp.$$"
go build -o "$tmp" "$here/main.go"
mv -f "$tmp" "$out"
