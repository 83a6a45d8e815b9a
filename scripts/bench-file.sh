#!/usr/bin/env bash
# Large-file case of make bench (also runs on its own): `vouch verify-file` of a FILE_MB
# file against `sha256sum` of the same file, wall time and peak RSS (GNU time), median of
# RUNS runs each. vouch hashes sha256 and sha512 in one streamed pass; sha256sum only sha256.
# Prints a Markdown table on stdout. Needs no server (a static repository in the work dir).
#
#   scripts/bench-file.sh [path/to/vouch]     (default target/release/vouch)
#
# Environment: BENCH_FILE_MB=1024 (file size in MiB), BENCH_FILE_RUNS=5,
#              BENCH_TMPDIR=DIR (work dir; default $TMPDIR or /tmp)
set -euo pipefail
export LC_ALL=C
die() { echo "bench-file: $*" >&2; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOUCH=${1:-$ROOT/target/release/vouch}
[ -x "$VOUCH" ] || die "no vouch binary at $VOUCH (run: cargo build --release)"
MB=${BENCH_FILE_MB:-1024}
RUNS=${BENCH_FILE_RUNS:-5}
[[ $MB =~ ^[0-9]+$ && $MB -ge 1 ]] || die "BENCH_FILE_MB must be a positive number"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 && $RUNS -le 50 ]] || die "BENCH_FILE_RUNS must be 1..50"
[ -x /usr/bin/time ] && /usr/bin/time -f '%e %M' true >/dev/null 2>&1 ||
  die "GNU time (/usr/bin/time) is needed for peak RSS (apt-get install time)"
command -v sha256sum >/dev/null || die "sha256sum is missing"

W=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/vouch-bench-file.XXXXXX")
trap 'rm -rf "$W"' EXIT
export VOUCH_ROOT_PASSPHRASE="bench root passphrase" VOUCH_TARGETS_PASSPHRASE="bench targets passphrase"
export VOUCH_SNAPSHOT_PASSPHRASE="bench snapshot passphrase" VOUCH_TIMESTAMP_PASSPHRASE="bench timestamp passphrase"
G=bench.example.com/file
v() { "$VOUCH" --trust-dir "$W/trust" --server "file://$W/repo" "$@"; }

# Random content, written once and read from the page cache by every timed run (the
# file's first pass is untimed), so both tools are timed on hashing, not on the disk.
head -c $((MB << 20)) /dev/urandom >"$W/big.bin"
v init "$G" >/dev/null 2>&1 || die "vouch init failed"
v sign-file "$G" big "$W/big.bin" >/dev/null 2>&1 || die "vouch sign-file failed"
sha256sum "$W/big.bin" >/dev/null

# timed ID CMD... — "wall_s peak_kib" per run into $W/ID
timed() {
  local id=$1 i
  shift
  : >"$W/$id"
  for ((i = 1; i <= RUNS; i++)); do
    /usr/bin/time -f '%e %M' -o "$W/t.tmp" "$@" >/dev/null 2>"$W/err" || die "$id failed: $(cat "$W/err")"
    cat "$W/t.tmp" >>"$W/$id"
  done
}
med() { awk -v c="$2" '{print $c}' "$W/$1" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
timed sum sha256sum "$W/big.bin"
timed vf "$VOUCH" --trust-dir "$W/trust" --server "file://$W/repo" verify-file "$G" big "$W/big.bin" --offline
sw=$(med sum 1) sk=$(med sum 2) vw=$(med vf 1) vk=$(med vf 2)
mbps() { awk -v s="$1" -v m="$MB" 'BEGIN { printf "%.0f MiB/s", m / s }'; }
mbk() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k * 1024 / 1e6 }'; }
ok=$(awk -v a="$sw" -v b="$vw" 'BEGIN { print (a / b >= 0.9 ? "yes" : "**no**") }')
echo "| operation | N | wall | throughput | peak RSS |"
echo "|---|---|---|---|---|"
echo "| \`vouch verify-file\` (sha256 + sha512), $MB MiB file | $RUNS | ${vw} s | $(mbps "$vw") | $(mbk "$vk") |"
echo "| \`sha256sum\`, same file | $RUNS | ${sw} s | $(mbps "$sw") | $(mbk "$sk") |"
echo
echo "vouch/sha256sum throughput: $(awk -v a="$sw" -v b="$vw" 'BEGIN { printf "%.2f×", a / b }') (target ≥ 0.9×: $ok)."
