#!/usr/bin/env bash
# Side-by-side benchmark of the datagram envelope: kcp-go v5.6.1's own benchmarks (crypt_test.go, fec_test.go,
# run on a temporary copy of the Debian package sources, GOPATH mode, offline) plus our Go envelope benchmark
# (benches/go/zz_envelope_bench_test.go), against the criterion benches of kcp::codec (benches/benches/codec.rs).
# Go and Rust alternate benchmark by benchmark for ROUNDS rounds; the table shows the median MB/s (10^6 bytes per
# CPU second of the benchmark thread, on both sides: wall time on a shared machine mostly measures the
# scheduler) and the ratio ours/kcp-go.
#
# Usage: bash benches/compare-codec.sh            (ROUNDS=5 by default; ~6 minutes on 2 cores)
#        ROUNDS=5 GO_BENCHTIME=2s bash benches/compare-codec.sh
#        PAIRS="AES256:crypt/aes EnvelopeDecode:envelope/decode" ROUNDS=3 bash benches/compare-codec.sh
#          (only those pairs; each is "kcp-go benchmark:our criterion id" from the list below)
#
# Sizes: kcp-go's crypt benchmarks encrypt+decrypt 1500-byte buffers (mtuLimit) out of place, its FEC benchmarks
# use 1500-byte packets; ours use 1350-byte datagrams (kcptun's default MTU), in place. Envelope benchmarks are
# 1350 bytes on both sides.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
GO_BENCHTIME=${GO_BENCHTIME:-1s}
root=$(cd "$(dirname "$0")/.." && pwd)
gocode=/usr/share/gocode/src
command -v go >/dev/null || { echo "compare-codec: go not installed (bash scripts/setup.sh)"; exit 1; }
[ -d "$gocode/github.com/xtaci/kcp-go" ] || { echo "compare-codec: kcp-go sources missing (golang-github-xtaci-kcp-dev)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A GOPATH that sees Debian's Go sources, with a private, writable copy of kcp-go.
mkdir -p "$tmp/src/github.com/xtaci"
for d in "$gocode"/*; do [ "$(basename "$d")" = github.com ] || ln -s "$d" "$tmp/src/"; done
for d in "$gocode"/github.com/*; do [ "$(basename "$d")" = xtaci ] || ln -s "$d" "$tmp/src/github.com/"; done
for d in "$gocode"/github.com/xtaci/*; do [ "$(basename "$d")" = kcp-go ] || ln -s "$d" "$tmp/src/github.com/xtaci/"; done
kcpgo="$tmp/src/github.com/xtaci/kcp-go"
cp -rL "$gocode/github.com/xtaci/kcp-go" "$kcpgo"
chmod -R u+w "$kcpgo"
# autotune_test.go needs testify (not packaged); sess_test.go starts servers at init. Neither holds benchmarks
# we run; `pass` (the key the crypt benchmarks use) comes from our file instead.
rm -f "$kcpgo/autotune_test.go" "$kcpgo/sess_test.go"
cp "$root/benches/go/zz_envelope_bench_test.go" "$kcpgo/"

# Pairs: kcp-go benchmark name, our criterion id. Each pair runs back to back (Go, then Rust) in every round,
# so both sides see the same machine load; the table reports medians over the rounds.
pairs="AES256:crypt/aes AES128:crypt/aes-128 AES192:crypt/aes-192 Salsa20:crypt/salsa20 None:crypt/none
Blowfish:crypt/blowfish Twofish:crypt/twofish Cast5:crypt/cast5 3DES:crypt/3des TEA:crypt/tea XTEA:crypt/xtea
XOR:crypt/xor SM4:crypt/sm4 FECEncode:fec/encode FECDecode:fec/decode EnvelopeEncode:envelope/encode
EnvelopeDecode:envelope/decode AES256:crypt-batch/aes-10 AES256:crypt-batch/aes-32
EnvelopeEncode:envelope/encode-batch10 EnvelopeEncode:envelope/encode-batch32 EnvelopeEncodeNoFEC:envelope/encode-nofec
EnvelopeEncodeNoFEC:envelope/encode-nofec-batch10 EnvelopeEncodeNoFEC:envelope/encode-nofec-batch32"
pairs=${PAIRS:-$pairs}
(cd "$kcpgo" && GO111MODULE=off GOPATH="$tmp" GOFLAGS= go test -c -o "$tmp/kcpgo.test" .)
cd "$root"
cargo bench -q -p benches --bench codec --no-run 2>/dev/null || cargo bench -p benches --bench codec --no-run
: >"$tmp/go.txt"
: >"$tmp/rust.txt"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  for pair in $pairs; do
    g=${pair%%:*}
    rid=${pair#*:}
    (cd "$kcpgo" && "$tmp/kcpgo.test" -test.run '^$' -test.bench "^BenchmarkCPU_$g\$" -test.benchtime "$GO_BENCHTIME") \
      | grep '^Benchmark' >>"$tmp/go.txt"
    cargo bench -q -p benches --bench codec -- --noplot --warm-up-time 0.5 --measurement-time 1 "^$rid\$" >/dev/null 2>&1
    median=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"])' \
      "${CARGO_TARGET_DIR:-target}/criterion/${rid%%/*}/${rid#*/}/new/estimates.json")
    echo "$rid $median" >>"$tmp/rust.txt"
  done
done

python3 - "$tmp/go.txt" "$tmp/rust.txt" "$ROUNDS" <<'PY'
import re, statistics, sys
go, rust = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    name = re.sub(r'-\d+$', '', f[0])[len('BenchmarkCPU_'):]
    mbs = float(f[f.index('cpuMB/s') - 1])
    go.setdefault(name, []).append(mbs)
for line in open(sys.argv[2]):
    name, ns = line.split()
    rust.setdefault(name, []).append(float(ns))
rows = [
    ('aes (single)', 'AES256', 'crypt/aes', 2700), ('aes-128', 'AES128', 'crypt/aes-128', 2700),
    ('aes-192', 'AES192', 'crypt/aes-192', 2700), ('salsa20', 'Salsa20', 'crypt/salsa20', 2700),
    ('none', 'None', 'crypt/none', 2700), ('blowfish', 'Blowfish', 'crypt/blowfish', 2700),
    ('twofish', 'Twofish', 'crypt/twofish', 2700), ('cast5', 'Cast5', 'crypt/cast5', 2700),
    ('3des', '3DES', 'crypt/3des', 2700), ('tea', 'TEA', 'crypt/tea', 2700), ('xtea', 'XTEA', 'crypt/xtea', 2700),
    ('xor', 'XOR', 'crypt/xor', 2700), ('sm4', 'SM4', 'crypt/sm4', 2700),
    ('FEC 10/3 encode', 'FECEncode', 'fec/encode', 1350), ('FEC 10/3 decode', 'FECDecode', 'fec/decode', 1350),
    ('env. encode aes+FEC (single)', 'EnvelopeEncode', 'envelope/encode', 1350),
    ('env. decode aes+FEC (single)', 'EnvelopeDecode', 'envelope/decode', 1350),
    # Batch rows: ours seals a whole flush (Codec::encode_batch / encrypt_many); kcp-go's session seals datagram
    # by datagram, so its per-datagram benchmark is the reference.
    ('aes (batch of 10)', 'AES256', 'crypt-batch/aes-10', 2700 * 10),
    ('aes (batch of 32)', 'AES256', 'crypt-batch/aes-32', 2700 * 32),
    ('env. encode aes+FEC (batch of 10)', 'EnvelopeEncode', 'envelope/encode-batch10', 1350 * 10),
    ('env. encode aes+FEC (batch of 32)', 'EnvelopeEncode', 'envelope/encode-batch32', 1350 * 32),
    ('env. encode aes, no FEC (single)', 'EnvelopeEncodeNoFEC', 'envelope/encode-nofec', 1350),
    ('env. encode aes, no FEC (batch 10)', 'EnvelopeEncodeNoFEC', 'envelope/encode-nofec-batch10', 1350 * 10),
    ('env. encode aes, no FEC (batch 32)', 'EnvelopeEncodeNoFEC', 'envelope/encode-nofec-batch32', 1350 * 32),
]
print(f"{'benchmark':36} {'kcp-go MB/s':>12} {'ours MB/s':>12} {'ratio':>7}   (medians of {sys.argv[3]} rounds)")
for label, g, r, nbytes in rows:
    if r not in rust:
        continue  # not in PAIRS
    if g not in go:
        print(f"{label:36} {'missing':>12}")
        continue
    gm = statistics.median(go[g])
    rm = nbytes / statistics.median(rust[r]) * 1e3
    print(f"{label:36} {gm:12.1f} {rm:12.1f} {rm / gm:6.2f}x")
PY
