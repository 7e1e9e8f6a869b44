#!/usr/bin/env bash
# One-time machine set-up shared by the demo and the test command: Debian packages for the Go interop peers
# (kcp-go, smux, kcptun) and cargo-fuzz for the fuzz smoke tests. Idempotent; quiet when everything is there.
set -euo pipefail
need=()
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/xtaci/kcp-go ] || need+=(golang-github-xtaci-kcp-dev)
[ -d /usr/share/gocode/src/github.com/xtaci/smux ] || need+=(golang-github-xtaci-smux-dev)
command -v kcptun-server >/dev/null 2>&1 || need+=(kcptun)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: not root, cannot install ${need[*]}; interop tests will skip" >&2
  fi
fi
