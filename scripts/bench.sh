#!/usr/bin/env bash
# make bench: vouch against the notary 0.7 CLI on ONE local notary-server (memory storage,
# local signer, plain HTTP on 127.0.0.1, free port). Prints a Markdown table and writes it to
# target/bench/results.md. Needs notary and notary-server (make test-deps); uses hyperfine
# when present (installs the Debian package when running as root), else its own loop.
#
#   scripts/bench.sh [path/to/vouch]          (default target/release/vouch)
#
# Environment (all optional):
#   BENCH_RUNS=7          runs per single operation (at least 5)
#   BENCH_BULK_RUNS=3     runs of the bulk case (at least 3)
#   BENCH_TAGS=1000       tags in the bulk case and in the listed/verified repository
#   BENCH_BIG_TAGS=100000 targets in the large repository of the verify case (0 skips it)
#   BENCH_BIG_RUNS=5      timed runs of verify in the large repository (at least 3)
#   BENCH_VERIFY_RUNS=31  runs of each warm verify (a few ms each, so more runs)
#   BENCH_BIG_NOTARY=1    also time `notary lookup` in the large repository (0 skips it)
#   BENCH_TMPDIR=DIR      where the trust dirs live (default $TMPDIR or /tmp); fsync costs
#                         depend on the file system, so the results name it
#   BENCH_NO_HYPERFINE=1  use the built-in timing loop even when hyperfine is installed
#   BENCH_FILE_MB=1024    size of the verify-file vs sha256sum case (0 skips it);
#                         BENCH_FILE_RUNS=5 runs of each (scripts/bench-file.sh)
#
# Cases: init, sign one tag, sign TAGS tags, list, verify one tag (vouch verify --trust-lock
# vs notary lookup; 1-target and TAGS-target repositories, warm and cold), and verify one tag
# in a BIG_TAGS-target repository published with one `vouch sign --from-file` (time and
# peak RSS from GNU time).
#
# Every timed run starts from its own prepared state (new GUN, its own trust dir), made
# before the timing starts; each run is timed once and the MEDIAN of the runs is reported.
set -euo pipefail
export LC_ALL=C

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOUCH=${1:-$ROOT/target/release/vouch}
[ -x "$VOUCH" ] || die "no vouch binary at $VOUCH (run: cargo build --release)"
VOUCH=$(cd "$(dirname "$VOUCH")" && pwd)/$(basename "$VOUCH")
# The source the binary was built from (make bench builds the work tree just before).
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no git")
if [ -n "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then
  REV="$REV + uncommitted changes under src/"
fi
RUNS=${BENCH_RUNS:-7}
BULK_RUNS=${BENCH_BULK_RUNS:-3}
TAGS=${BENCH_TAGS:-1000}
[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 5 && $RUNS -le 100 ]] || die "BENCH_RUNS must be 5..100"
[[ $BULK_RUNS =~ ^[0-9]+$ && $BULK_RUNS -ge 3 && $BULK_RUNS -le 20 ]] || die "BENCH_BULK_RUNS must be 3..20"
[[ $TAGS =~ ^[0-9]+$ && $TAGS -ge 1 && $TAGS -le 100000 ]] || die "BENCH_TAGS must be 1..100000"
BIG_TAGS=${BENCH_BIG_TAGS:-100000}
BIG_RUNS=${BENCH_BIG_RUNS:-5}
# Warm verify takes a few milliseconds, where run-to-run noise is large: more runs.
VRUNS=${BENCH_VERIFY_RUNS:-31}
BIG_NOTARY=${BENCH_BIG_NOTARY:-1}
[[ $BIG_TAGS =~ ^[0-9]+$ && ($BIG_TAGS -eq 0 || ($BIG_TAGS -ge 1000 && $BIG_TAGS -le 1000000)) ]] ||
  die "BENCH_BIG_TAGS must be 0 or 1000..1000000"
[[ $BIG_RUNS =~ ^[0-9]+$ && $BIG_RUNS -ge 3 && $BIG_RUNS -le 20 ]] || die "BENCH_BIG_RUNS must be 3..20"
for c in notary notary-server awk sort; do
  command -v "$c" >/dev/null 2>&1 || die "$c is missing (make test-deps installs notary and notary-server)"
done

OUT_DIR=$ROOT/target/bench
mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/bench.log
: >"$LOG"

# --- timing tool ------------------------------------------------------------------------
HF=""
if [ -z "${BENCH_NO_HYPERFINE:-}" ]; then
  if ! command -v hyperfine >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing hyperfine with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends hyperfine >>"$LOG" 2>&1 ||
      { apt-get update -qq >>"$LOG" 2>&1 && apt-get install -y -qq --no-install-recommends hyperfine >>"$LOG" 2>&1; } ||
      say "could not install hyperfine; using the built-in loop"
  fi
  if command -v hyperfine >/dev/null 2>&1 && hyperfine -N --runs 1 true >/dev/null 2>&1; then
    HF=$(command -v hyperfine)
  fi
fi
if [ -n "$HF" ]; then
  METHOD="hyperfine $("$HF" --version | awk '{print $2}') (\`-N\`: no shell; one run per prepared state; wall = elapsed, CPU = user+sys of the process and its children)"
else
  METHOD="built-in bash loop (\`\$EPOCHREALTIME\`, else \`date +%s%N\`, around a direct exec; CPU from the shell's \`times\`, 1 ms resolution)"
fi

# --- work dir and server ----------------------------------------------------------------
BASE=${BENCH_TMPDIR:-${TMPDIR:-/tmp}}
W=$(mktemp -d "$BASE/vouch-bench.XXXXXX")
SERVER_PID=""
# The unlock session of cases 1s–3s (vouch key unlock); its own name, ended on exit.
export VOUCH_SESSION="vouch-bench-$$"
cleanup() {
  "$VOUCH" --trust-dir "$W/session" key lock >/dev/null 2>&1 || true
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
server_healthy() ( # GET /_notary_server/health answers 200
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
  printf 'GET /_notary_server/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  read -r -t 2 line <&3 || exit 1
  [[ $line == HTTP/1.?" 200"* ]]
) 2>/dev/null
start_server() {
  local attempt i
  for attempt in $(seq 1 10); do
    PORT=$((20000 + RANDOM % 30000))
    port_in_use "$PORT" && continue
    cat >"$W/server.json" <<EOF
{
  "server": { "http_addr": "127.0.0.1:$PORT" },
  "trust_service": { "type": "local" },
  "storage": { "backend": "memory" },
  "logging": { "level": "error" }
}
EOF
    notary-server -config "$W/server.json" >"$W/server.log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 1 100); do
      if server_healthy; then
        kill -0 "$SERVER_PID" 2>/dev/null && return 0
        break
      fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    say "notary-server did not come up on port $PORT (attempt $attempt): $(tail -c 300 "$W/server.log")"
  done
  die "could not start notary-server"
}

export VOUCH_ROOT_PASSPHRASE="bench root passphrase" NOTARY_ROOT_PASSPHRASE="bench root passphrase"
export VOUCH_TARGETS_PASSPHRASE="bench targets passphrase" NOTARY_TARGETS_PASSPHRASE="bench targets passphrase"
export VOUCH_SNAPSHOT_PASSPHRASE="bench snapshot passphrase" NOTARY_SNAPSHOT_PASSPHRASE="bench snapshot passphrase"
export VOUCH_TIMESTAMP_PASSPHRASE="bench timestamp passphrase"
export NOTARY_DELEGATION_PASSPHRASE="bench delegation passphrase"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
start_server
S=http://127.0.0.1:$PORT
H=bench.example.com
say "notary-server pid $SERVER_PID on $S; work dir $W"

q() { printf '%q' "$1"; }
QV=$(q "$VOUCH")
QW=$(q "$W")
v() { "$VOUCH" -s "$S" --tofu "$@"; }   # untimed setup calls (trust on first use, as notary)
n() { notary -s "$S" "$@"; }
quiet() { "$@" >>"$LOG" 2>&1 || die "setup failed: $* (see $LOG)"; }

# --- measurement ------------------------------------------------------------------------
# measure ID RUNS CMD — CMD is one command line (words quoted with %q) that may contain
# {n}; it runs once for each n = 1..RUNS, against state prepared for that n. Writes
# "wall cpu" seconds per run to $W/ID.times. Every run starts after a `sync` (untimed):
# on ext4 (data=ordered) an fsync also writes out other processes' dirty data, so without
# it a command that syncs its files pays for whatever the previous runs left unwritten
# (notary writes without fsync; 1000 `notary addhash` leave a lot).
us_of() { # 0m1.234s -> microseconds
  local m=${1%%m*} s=${1#*m}
  s=${s%s}
  echo $(((10#$m * 60 + 10#${s%.*}) * 1000000 + 10#${s#*.} * 1000))
}
now_us() { # NOW = wall clock in microseconds; no fork with bash >= 5
  if [ -n "${EPOCHREALTIME:-}" ]; then
    NOW=$((10#${EPOCHREALTIME/[.,]/}))
  else
    NOW=$(($(date +%s%N) / 1000))
  fi
}
measure() {
  local id=$1 runs=$2 cmd=$3 i c t0 t1 cu0 cs0 cu1 cs1 line
  say "timing $id ($runs runs)"
  : >"$W/$id.times"
  if [ -n "$HF" ]; then
    echo "### $id: $cmd" >>"$LOG"
    "$HF" -N --style basic --runs 1 --prepare sync -L n "$(seq -s, 1 "$runs")" \
      --export-json "$W/$id.json" "$cmd" >>"$LOG" 2>&1 || die "$id failed (see $LOG)"
    awk '/"user":/ {u=$2+0} /"system":/ {s=$2+0}
         /"times": \[/ {t=1; next} t && /\]/ {t=0; next}
         t {gsub(/[ ,]/, ""); printf "%.6f %.6f\n", $0, u+s}' "$W/$id.json" >"$W/$id.times"
  else
    for ((i = 1; i <= runs; i++)); do
      c=${cmd//\{n\}/$i}
      sync
      times >"$W/times.tmp"
      { read -r line; read -r cu0 cs0; } <"$W/times.tmp"
      now_us
      t0=$NOW
      eval "$c" >/dev/null 2>>"$LOG" || die "$id run $i failed: $c (see $LOG)"
      now_us
      t1=$NOW
      times >"$W/times.tmp"
      { read -r line; read -r cu1 cs1; } <"$W/times.tmp"
      local cpu=$(($(us_of "$cu1") + $(us_of "$cs1") - $(us_of "$cu0") - $(us_of "$cs0")))
      printf '%d.%06d %d.%06d\n' $(((t1 - t0) / 1000000)) $(((t1 - t0) % 1000000)) \
        $((cpu / 1000000)) $((cpu % 1000000)) >>"$W/$id.times"
    done
  fi
  [ "$(wc -l <"$W/$id.times")" -eq "$runs" ] || die "$id: expected $runs timings, got $(wc -l <"$W/$id.times")"
}
median() { # column of $W/ID.times
  awk -v c="$2" '{print $c}' "$W/$1.times" | sort -g |
    awk '{a[NR]=$1} END {if (NR % 2) printf "%.6f", a[(NR+1)/2]; else printf "%.6f", (a[NR/2]+a[NR/2+1])/2}'
}
fmt() { awk -v t="$1" 'BEGIN { if (t >= 1) printf "%.2f s", t; else printf "%.1f ms", t * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; f = r >= 10 ? "%.0f×" : r >= 1 ? "%.1f×" : "%.2f×"; printf f, r }'; }
met() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { print (a / b >= t ? "yes" : "**no**") }'; }

MAIN_ROWS=()
VARIANT_ROWS=()
# row LABEL RUNS VOUCH_ID NOTARY_ID TARGET
row() {
  local vw vc nw nc
  vw=$(median "$3" 1) vc=$(median "$3" 2) nw=$(median "$4" 1) nc=$(median "$4" 2)
  MAIN_ROWS+=("| $1 | $2 | $(fmt "$vw") | $(fmt "$vc") | $(fmt "$nw") | $(fmt "$nc") | **$(ratio "$nw" "$vw")** | ≥ $5× | $(met "$nw" "$vw" "$5") |")
}
# variant LABEL RUNS VOUCH_ID NOTARY_ID|-
variant() {
  local vw vc nw r="–" nws="–"
  vw=$(median "$3" 1) vc=$(median "$3" 2)
  if [ "$4" != - ]; then nw=$(median "$4" 1); nws=$(fmt "$nw"); r=$(ratio "$nw" "$vw"); fi
  VARIANT_ROWS+=("| $1 | $2 | $(fmt "$vw") | $(fmt "$vc") | $nws | $r |")
}

digest() { printf 'sha256:%064x' "$1"; }   # a well-formed digest per index
HEX() { printf '%064x' "$1"; }

# --- warm-up (page cache, first connection) ---------------------------------------------
quiet "$VOUCH" --version
quiet notary version
quiet v --trust-dir "$W/warm-v" init "$H/warm-v"
quiet n -d "$W/warm-n" init -p "$H/warm-n"

# --- 1. init ------------------------------------------------------------------------------
say "preparing init"
quiet "$VOUCH" --trust-dir "$W/tpl-v" key generate --role root
quiet "$VOUCH" --trust-dir "$W/tpl-vn" key generate --role root --format notary
quiet notary -d "$W/tpl-n" key generate ecdsa --role root
for ((i = 1; i <= RUNS; i++)); do
  cp -a "$W/tpl-v" "$W/root-v-$i"
  cp -a "$W/tpl-vn" "$W/root-vn-$i"
  cp -a "$W/tpl-n" "$W/root-n-$i"
done
measure init-fresh-v "$RUNS" "$QV -s $S --trust-dir $QW/fresh-v-{n} init $H/fresh-v-{n}"
measure init-fresh-n "$RUNS" "notary -s $S -d $QW/fresh-n-{n} init -p $H/fresh-n-{n}"
measure init-root-v "$RUNS" "$QV -s $S --trust-dir $QW/root-v-{n} init $H/root-v-{n}"
measure init-root-n "$RUNS" "notary -s $S -d $QW/root-n-{n} init -p $H/root-n-{n}"
measure init-fresh-vn "$RUNS" "$QV -s $S --trust-dir $QW/fresh-vn-{n} init --key-format notary $H/fresh-vn-{n}"
measure init-root-vn "$RUNS" "$QV -s $S --trust-dir $QW/root-vn-{n} init --key-format notary $H/root-vn-{n}"
row "\`init\` new GUN, fresh trust dir (root key generated) — no unlock session" "$RUNS" init-fresh-v init-fresh-n 2
row "\`init\` new GUN, existing root key — no unlock session" "$RUNS" init-root-v init-root-n 2
variant "\`init\` new GUN, fresh trust dir — vouch \`--key-format notary\` (PBKDF2 keys)" "$RUNS" init-fresh-vn init-fresh-n
variant "\`init\` new GUN, existing root key — notary-format root key + \`--key-format notary\`" "$RUNS" init-root-vn init-root-n

# --- 2. sign one tag ------------------------------------------------------------------
# `vouch sign IMAGE:TAG --digest` asks the image's registry to confirm the digest unless
# --no-registry-check is given; notary addhash asks no registry, and traffic stays on
# 127.0.0.1, so the check is off here (when this vouch has the flag).
NRC=""
SIGN_HELP=$("$VOUCH" sign --help 2>/dev/null || true)
if [[ $SIGN_HELP == *--no-registry-check* ]]; then NRC=" --no-registry-check"; fi
say "preparing sign"
quiet v --trust-dir "$W/sign-v" init "$H/sign-v"
quiet v --trust-dir "$W/sign-vn" init --key-format notary "$H/sign-vn"
quiet v --trust-dir "$W/sign-vs" init --server-managed-snapshot "$H/sign-vs"
quiet n -d "$W/sign-n" init -p "$H/sign-n"
quiet v --trust-dir "$W/sign-v" sign $NRC "$H/sign-v:warm" --digest "$(digest 0)" --size 1000
quiet v --trust-dir "$W/sign-vn" sign $NRC "$H/sign-vn:warm" --digest "$(digest 0)" --size 1000
quiet v --trust-dir "$W/sign-vs" sign $NRC "$H/sign-vs:warm" --digest "$(digest 0)" --size 1000
quiet n -d "$W/sign-n" addhash -p "$H/sign-n" warm 1000 --sha256 "$(HEX 0)"
measure sign-v "$RUNS" "$QV -s $S --trust-dir $QW/sign-v sign$NRC $H/sign-v:t{n} --digest $(digest 7) --size 1234"
measure sign-n "$RUNS" "notary -s $S -d $QW/sign-n addhash -p $H/sign-n t{n} 1234 --sha256 $(HEX 7)"
measure sign-vn "$RUNS" "$QV -s $S --trust-dir $QW/sign-vn sign$NRC $H/sign-vn:t{n} --digest $(digest 7) --size 1234"
measure sign-vs "$RUNS" "$QV -s $S --trust-dir $QW/sign-vs sign$NRC $H/sign-vs:t{n} --digest $(digest 7) --size 1234"
row "sign one tag: \`vouch sign IMAGE:TAG --digest --size$NRC\` vs \`notary addhash -p\` — no unlock session" "$RUNS" sign-v sign-n 2
variant "sign one tag — vouch repository with \`--key-format notary\` keys" "$RUNS" sign-vn sign-n
variant "sign one tag — vouch (scrypt) keys, repository made with \`--server-managed-snapshot\` (one key unlock)" "$RUNS" sign-vs sign-n

# --- 3. bulk: TAGS tags -------------------------------------------------------------------
say "preparing bulk ($TAGS tags × $BULK_RUNS runs per tool)"
: >"$W/tags.txt"
for ((t = 1; t <= TAGS; t++)); do printf 'tag-%d %d %s\n' "$t" $((1000 + t)) "$(HEX $((100000 + t)))"; done >"$W/tags.txt"
for ((i = 1; i <= BULK_RUNS; i++)); do
  quiet v --trust-dir "$W/bulk-v" init "$H/bulk-v-$i"
  quiet v --trust-dir "$W/bulk-vn" init --key-format notary "$H/bulk-vn-$i"
  quiet n -d "$W/bulk-n" init -p "$H/bulk-n-$i"
  awk -v g="$H/bulk-v-$i" '{printf "%s:%s=sha256:%s:%s\n", g, $1, $3, $2}' "$W/tags.txt" >"$W/bulk-v-$i.txt"
  awk -v g="$H/bulk-vn-$i" '{printf "%s:%s=sha256:%s:%s\n", g, $1, $3, $2}' "$W/tags.txt" >"$W/bulk-vn-$i.txt"
done
# notary: one `addhash` process per tag (staged), then one `publish`. Records its split.
cat >"$W/notary-bulk.sh" <<EOF
#!/usr/bin/env bash
set -euo pipefail
gun=\$1
t0=\$EPOCHREALTIME
while read -r tag size hex; do
  notary -s $S -d $QW/bulk-n addhash "\$gun" "\$tag" "\$size" --sha256 "\$hex" >/dev/null
done <$QW/tags.txt
t1=\$EPOCHREALTIME
notary -s $S -d $QW/bulk-n publish "\$gun" >/dev/null
t2=\$EPOCHREALTIME
echo "\$t0 \$t1 \$t2" >>$QW/notary-bulk-split.txt
EOF
measure bulk-v "$BULK_RUNS" "$QV -s $S --trust-dir $QW/bulk-v sign --from-file $QW/bulk-v-{n}.txt"
measure bulk-n "$BULK_RUNS" "bash $QW/notary-bulk.sh $H/bulk-n-{n}"
measure bulk-vn "$BULK_RUNS" "$QV -s $S --trust-dir $QW/bulk-vn sign --from-file $QW/bulk-vn-{n}.txt"
row "sign $TAGS tags: one \`vouch sign --from-file\` vs $TAGS × \`notary addhash\` + \`notary publish\` — no unlock session" "$BULK_RUNS" bulk-v bulk-n 50
variant "sign $TAGS tags in one command — vouch repository with \`--key-format notary\` keys" "$BULK_RUNS" bulk-vn bulk-n
NOTARY_SPLIT=$(awk '{s = $2 - $1; p = $3 - $2; ts += s; tp += p}
  END {printf "%.2f s staging (%.1f ms per addhash process) + %.3f s publish", ts/NR, ts/NR/'"$TAGS"'*1000, tp/NR}' "$W/notary-bulk-split.txt")

# Every bulk repository holds TAGS targets, and each tool reads the other's.
count() { "$@" 2>>"$LOG" | grep -c '^tag-' || true; }
for ((i = 1; i <= BULK_RUNS; i++)); do
  c1=$(count v --trust-dir "$W/check-v" list "$H/bulk-v-$i")
  c2=$(count n -d "$W/check-n" list "$H/bulk-v-$i")
  c3=$(count v --trust-dir "$W/check-v" list "$H/bulk-n-$i")
  c4=$(count n -d "$W/check-n" list "$H/bulk-n-$i")
  [ "$c1 $c2 $c3 $c4" = "$TAGS $TAGS $TAGS $TAGS" ] ||
    die "bulk repositories $i: expected $TAGS targets each, vouch/notary read vouch's: $c1/$c2, notary's: $c3/$c4"
done

# --- 1s–3s. init, sign, bulk in an unlock session ---------------------------------------
# The same operations with vouch's default (scrypt) keys, in an unlock session opened
# once (`vouch key unlock --root`), as an operator or a CI job running several commands
# works: each passphrase's scrypt derivation is paid once for the session (by the untimed
# warm-up init below), not once per key per command. Same prepared states as above;
# notary's rows are the same measurements as above.
say "preparing the unlock-session cases"
quiet "$VOUCH" --trust-dir "$W/session" key unlock --root --for 2h
quiet v --trust-dir "$W/warm-s" init "$H/warm-s"
quiet "$VOUCH" --trust-dir "$W/tpl-s" key generate --role root
for ((i = 1; i <= RUNS; i++)); do cp -a "$W/tpl-s" "$W/root-s-$i"; done
quiet v --trust-dir "$W/sign-s" init "$H/sign-s"
quiet v --trust-dir "$W/sign-s" sign $NRC "$H/sign-s:warm" --digest "$(digest 0)" --size 1000
for ((i = 1; i <= BULK_RUNS; i++)); do
  quiet v --trust-dir "$W/bulk-s" init "$H/bulk-s-$i"
  awk -v g="$H/bulk-s-$i" '{printf "%s:%s=sha256:%s:%s\n", g, $1, $3, $2}' "$W/tags.txt" >"$W/bulk-s-$i.txt"
done
measure init-fresh-s "$RUNS" "$QV -s $S --trust-dir $QW/fresh-s-{n} init $H/fresh-s-{n}"
measure init-root-s "$RUNS" "$QV -s $S --trust-dir $QW/root-s-{n} init $H/root-s-{n}"
measure sign-s "$RUNS" "$QV -s $S --trust-dir $QW/sign-s sign$NRC $H/sign-s:t{n} --digest $(digest 7) --size 1234"
measure bulk-s "$BULK_RUNS" "$QV -s $S --trust-dir $QW/bulk-s sign --from-file $QW/bulk-s-{n}.txt"
quiet "$VOUCH" --trust-dir "$W/session" key lock
for ((i = 1; i <= BULK_RUNS; i++)); do
  c=$(count v --trust-dir "$W/check-v" list "$H/bulk-s-$i")
  [ "$c" = "$TAGS" ] || die "bulk repository $H/bulk-s-$i: expected $TAGS targets, vouch read $c"
done
row "\`init\` new GUN, fresh trust dir (root key generated) — in an unlock session" "$RUNS" init-fresh-s init-fresh-n 2
row "\`init\` new GUN, existing root key — in an unlock session" "$RUNS" init-root-s init-root-n 2
row "sign one tag (as above) — in an unlock session" "$RUNS" sign-s sign-n 2
row "sign $TAGS tags in one command (as above) — in an unlock session" "$BULK_RUNS" bulk-s bulk-n 50

# --- 4. list a TAGS-target repository -------------------------------------------------
# The same repository (made by notary in the bulk case) is read by both tools.
LG=$H/bulk-n-1
say "preparing list ($LG)"
for ((i = 1; i <= RUNS; i++)); do
  quiet v --trust-dir "$W/list-v-$i" list "$LG"
  quiet n -d "$W/list-n-$i" list "$LG"
done
# vouch trusts a first root only when told (--tofu); notary does so silently.
measure list-v "$RUNS" "$QV -s $S --trust-dir $QW/list-v-{n} list $LG --tofu"
measure list-n "$RUNS" "notary -s $S -d $QW/list-n-{n} list $LG"
measure listc-v "$RUNS" "$QV -s $S --trust-dir $QW/listc-v-{n} list $LG --tofu"
measure listc-n "$RUNS" "notary -s $S -d $QW/listc-n-{n} list $LG"
row "\`list\` of a $TAGS-target repository, warm trust dir" "$RUNS" list-v list-n 2
row "\`list\` of a $TAGS-target repository, cold (empty trust dir)" "$RUNS" listc-v listc-n 2

# --- 5. verify one tag: `vouch verify` vs `notary lookup` ------------------------------
# The same repositories are read by both tools: a 1-target repository (made by vouch) and
# the TAGS-target repository notary made in the bulk case. vouch needs a trust anchor: the
# root is pinned in a trust lock file (`trust pin --from-cache` after a first `list`), and
# every verify passes --trust-lock. Warm = the trust dir already caches the repository's
# metadata (one untimed `list`/`lookup` before), like notary's warm lookup; cold = empty
# trust dir (vouch: root from the lock file; notary: root trusted on first use).
V1=$H/verify-1
quiet v --trust-dir "$W/verify-pub" init "$V1"
quiet v --trust-dir "$W/verify-pub" sign "$V1:v1=$(digest 42):4242"
LOCK=$W/trust-lock.json
say "preparing verify ($V1, $LG)"
quiet v --trust-dir "$W/pin" list "$V1"
quiet v --trust-dir "$W/pin" list "$LG"
quiet v --trust-dir "$W/pin" trust pin "$V1" --from-cache --trust-lock "$LOCK"
quiet v --trust-dir "$W/pin" trust pin "$LG" --from-cache --trust-lock "$LOCK"
for ((i = 1; i <= VRUNS; i++)); do
  # Warm = the cache was filled under the lock, as a deploy job's own earlier verify
  # does (the first pinned read of a cache trusted on first use records it as pinned).
  quiet v --trust-dir "$W/ver1-v-$i" list "$V1" --trust-lock "$LOCK"
  quiet n -d "$W/ver1-n-$i" list "$V1"
  quiet v --trust-dir "$W/verk-v-$i" list "$LG" --trust-lock "$LOCK"
  quiet n -d "$W/verk-n-$i" list "$LG"
done
# Both tools must answer with the signed digest before anything is timed.
want1="$V1@$(digest 42)" wantk="$LG@sha256:$(HEX 100001)"
got=$(v --trust-dir "$W/pin" verify "$V1:v1" --trust-lock "$LOCK" 2>>"$LOG") || true
[ "$got" = "$want1" ] || die "vouch verify $V1:v1 printed '$got', expected '$want1'"
got=$(v --trust-dir "$W/pin" verify "$LG:tag-1" --trust-lock "$LOCK" 2>>"$LOG") || true
[ "$got" = "$wantk" ] || die "vouch verify $LG:tag-1 printed '$got', expected '$wantk'"
got=$(n -d "$W/check-n" lookup "$V1" v1 2>>"$LOG" | awk '{print $2}') || true
[ "$got" = "$(digest 42)" ] || die "notary lookup $V1 v1 printed '$got'"
got=$(n -d "$W/check-n" lookup "$LG" tag-1 2>>"$LOG" | awk '{print $2}') || true
[ "$got" = "sha256:$(HEX 100001)" ] || die "notary lookup $LG tag-1 printed '$got'"
QL=$(q "$LOCK")
measure ver1-v "$VRUNS" "$QV -s $S --trust-dir $QW/ver1-v-{n} verify $V1:v1 --trust-lock $QL"
measure ver1-n "$VRUNS" "notary -s $S -d $QW/ver1-n-{n} lookup $V1 v1"
measure verk-v "$VRUNS" "$QV -s $S --trust-dir $QW/verk-v-{n} verify $LG:tag-1 --trust-lock $QL"
measure verk-n "$VRUNS" "notary -s $S -d $QW/verk-n-{n} lookup $LG tag-1"
measure ver1c-v "$RUNS" "$QV -s $S --trust-dir $QW/ver1c-v-{n} verify $V1:v1 --trust-lock $QL"
measure ver1c-n "$RUNS" "notary -s $S -d $QW/ver1c-n-{n} lookup $V1 v1"
measure verkc-v "$RUNS" "$QV -s $S --trust-dir $QW/verkc-v-{n} verify $LG:tag-1 --trust-lock $QL"
measure verkc-n "$RUNS" "notary -s $S -d $QW/verkc-n-{n} lookup $LG tag-1"
row "verify one tag: \`vouch verify GUN:TAG --trust-lock\` vs \`notary lookup\`, 1-target repository, warm trust dir" "$VRUNS" ver1-v ver1-n 3
row "verify one tag, $TAGS-target repository, warm trust dir" "$VRUNS" verk-v verk-n 3
variant "verify one tag, 1-target repository, **cold** (empty trust dir; vouch: root from the lock file, notary: TOFU) — vs cold \`notary lookup\`" "$RUNS" ver1c-v ver1c-n
variant "verify one tag, $TAGS-target repository, **cold** — vs cold \`notary lookup\`" "$RUNS" verkc-v verkc-n

# --- 6. verify one tag in a BIG_TAGS-target repository -------------------------------
# Published to the same notary-server with ONE `vouch sign --from-file` of BIG_TAGS lines
# (untimed by hyperfine; its wall time and peak RSS are reported). Timed: `vouch verify` of
# one tag with a warm trust dir (median of BIG_RUNS), then peak RSS (max resident set size
# from GNU time, median of 3 separate runs). notary lookup on the same repository likewise.
BIG_ROWS=()
BIG_NOTE=""
TIME_BIN=""
if [ -x /usr/bin/time ] && /usr/bin/time -f '%e %M' true >/dev/null 2>&1; then TIME_BIN=/usr/bin/time; fi
# rss ID RUNS CMD... — peak RSS in KiB of each run into $W/ID.rss (one per line)
rss() {
  local id=$1 runs=$2 i
  shift 2
  : >"$W/$id.rss"
  for ((i = 1; i <= runs; i++)); do
    "$TIME_BIN" -f '%e %M' -o "$W/rss.tmp" "$@" >/dev/null 2>>"$LOG" || die "$id (rss run $i) failed: $* (see $LOG)"
    awk '{print $2}' "$W/rss.tmp" >>"$W/$id.rss"
  done
}
med_rss() { sort -g "$W/$1.rss" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k * 1024 / 1e6 }'; }
if [ "$BIG_TAGS" -gt 0 ]; then
  BG=$H/big-$BIG_TAGS
  BT=tag-$((BIG_TAGS / 2))
  say "preparing the $BIG_TAGS-target repository $BG (one sign --from-file)"
  awk -v g="$BG" -v n="$BIG_TAGS" 'BEGIN { for (t = 1; t <= n; t++) printf "%s:tag-%d=sha256:%064x:%d\n", g, t, 1000000 + t, 1000 + t }' >"$W/big.txt"
  quiet v --trust-dir "$W/big-pub" init "$BG"
  if [ -n "$TIME_BIN" ]; then
    "$TIME_BIN" -f '%e %M' -o "$W/big-sign.tmp" "$VOUCH" -s "$S" --trust-dir "$W/big-pub" sign --from-file "$W/big.txt" >>"$LOG" 2>&1 ||
      die "signing $BIG_TAGS tags failed (see $LOG)"
    read -r bs_t bs_k <"$W/big-sign.tmp"
    BIG_NOTE="publishing it: one \`vouch sign --from-file\` of $BIG_TAGS lines to the notary-server, $(fmt "$bs_t"), peak RSS $(mb "$bs_k") (one run)"
  else
    quiet v --trust-dir "$W/big-pub" sign --from-file "$W/big.txt"
  fi
  wantb="$BG@sha256:$(printf '%064x' $((1000000 + BIG_TAGS / 2)))"
  got=$(v --trust-dir "$W/big-warm" verify --tofu "$BG:$BT" 2>>"$LOG") || true
  [ "$got" = "$wantb" ] || die "vouch verify $BG:$BT printed '$got', expected '$wantb'"
  quiet v --trust-dir "$W/big-warm" trust pin "$BG" --from-cache --trust-lock "$LOCK"
  quiet v --trust-dir "$W/big-warm" verify "$BG:$BT" --trust-lock "$LOCK"
  for ((i = 1; i <= BIG_RUNS; i++)); do cp -a "$W/big-warm" "$W/big-v-$i"; done
  measure big-v "$BIG_RUNS" "$QV -s $S --trust-dir $QW/big-v-{n} verify $BG:$BT --trust-lock $QL"
  bvw=$(median big-v 1) bvc=$(median big-v 2) bvk="" bnw="" bnk=""
  if [ -n "$TIME_BIN" ]; then
    rss big-v 3 "$VOUCH" -s "$S" --trust-dir "$W/big-v-1" verify "$BG:$BT" --trust-lock "$LOCK"
    bvk=$(med_rss big-v)
  fi
  if [ "$BIG_NOTARY" = 1 ]; then
    # warm notary trust dirs, made (untimed) by one lookup each; give up after 120 s
    if timeout 120 notary -s "$S" -d "$W/bign-warm" lookup "$BG" "$BT" >>"$LOG" 2>&1; then
      for ((i = 1; i <= 3; i++)); do cp -a "$W/bign-warm" "$W/big-n-$i"; done
      measure big-n 3 "notary -s $S -d $QW/big-n-{n} lookup $BG $BT"
      bnw=$(median big-n 1)
      if [ -n "$TIME_BIN" ]; then
        rss big-n 3 notary -s "$S" -d "$W/big-n-1" lookup "$BG" "$BT"
        bnk=$(med_rss big-n)
      fi
    else
      say "notary lookup in the $BIG_TAGS-target repository failed or took over 120 s; skipped"
      BIG_NOTE="$BIG_NOTE; notary lookup skipped (failed or over 120 s)"
    fi
  fi
  t_ok=$(awk -v t="$bvw" 'BEGIN { print (t < 0.3 ? "yes" : "**no**") }')
  m_ok="–"
  [ -n "$bvk" ] && m_ok=$(awk -v k="$bvk" 'BEGIN { print (k * 1024 < 100e6 ? "yes" : "**no**") }')
  BIG_ROWS+=("| verify one tag (\`$BT\`), $BIG_TAGS-target repository, warm trust dir | $BIG_RUNS | $(fmt "$bvw") | $(fmt "$bvc") | ${bvk:+$(mb "$bvk")} | ${bnw:+$(fmt "$bnw")} | ${bnk:+$(mb "$bnk")} | ${bnw:+$(ratio "$bnw" "$bvw")} | < 0.3 s; < 100 MB | time: $t_ok; memory: $m_ok |")
fi

# --- diagnostics: key unlock, process start -----------------------------------------
kid() { "$VOUCH" --trust-dir "$1" key list | awk '$1 == "targets" {print $3; exit}'; }
KV=$(kid "$W/sign-v") KVN=$(kid "$W/sign-vn")
[ -n "$KV" ] && [ -n "$KVN" ] || die "could not find the targets keys of the sign repositories"
measure unlock-v "$RUNS" "$QV --trust-dir $QW/sign-v key export $KV --format notary"
measure unlock-vn "$RUNS" "$QV --trust-dir $QW/sign-vn key export $KVN --format notary"
measure start-v "$RUNS" "$QV --version"
measure start-n "$RUNS" "notary version"
variant "one key unlock: \`vouch key export --format notary\` of a vouch (scrypt) key" "$RUNS" unlock-v -
variant "one key unlock: the same for a notary-format (PBKDF2) key" "$RUNS" unlock-vn -
variant "process start: \`vouch --version\` (vs \`notary version\`)" "$RUNS" start-v start-n
# --- 7. a large file: verify-file vs sha256sum (scripts/bench-file.sh) -------------------
FILE_TABLE=""
if [ "${BENCH_FILE_MB:-1024}" != 0 ]; then
  say "timing verify-file of a ${BENCH_FILE_MB:-1024} MiB file against sha256sum"
  FILE_TABLE=$(BENCH_TMPDIR="$BASE" "$ROOT/scripts/bench-file.sh" "$VOUCH" 2>>"$LOG") || die "bench-file.sh failed (see $LOG)"
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# --- report -----------------------------------------------------------------------------
CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
FS=$(df -PT "$W" 2>/dev/null | awk 'NR == 2 {print $2}')
NOTARY_VER=$(dpkg-query -W -f '${Version}' notary 2>/dev/null || echo "?")
{
  echo "# vouch vs notary — benchmark results"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs (\`nproc\`), ${CPU:-unknown CPU}; kernel $(uname -r)"
  echo "- vouch: \`$VOUCH\` ($("$VOUCH" --version), work tree at the start of the run: $REV); notary CLI and notary-server: Debian package $NOTARY_VER"
  echo "- server: one notary-server on $S (memory storage, local signer, plain HTTP)"
  echo "- timing: $METHOD"
  echo "- trust dirs on: $BASE ($FS); load average before/after: $LOAD_BEFORE / $LOAD_AFTER"
  echo "- medians of N runs; ratio = notary median wall ÷ vouch median wall (higher = vouch faster)"
  echo
  echo "| operation | N | vouch wall | vouch CPU | notary wall | notary CPU | notary/vouch | target | met |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${MAIN_ROWS[@]}"
  echo
  echo "notary bulk split (mean): $NOTARY_SPLIT."
  if [ "${#BIG_ROWS[@]}" -gt 0 ]; then
    echo
    echo "Large repository (peak RSS = max resident set size from GNU time, median of 3 runs; notary N = 3; MB = 10^6 bytes):"
    echo
    echo "| operation | N | vouch wall | vouch CPU | vouch peak RSS | notary wall | notary peak RSS | notary/vouch | target | met |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${BIG_ROWS[@]}"
    if [ -n "$BIG_NOTE" ]; then echo; echo "${BIG_NOTE^}."; fi
  fi
  if [ -n "$FILE_TABLE" ]; then
    echo
    echo "Large file (wall and peak RSS from GNU time, medians; MB = 10^6 bytes):"
    echo
    echo "$FILE_TABLE"
  fi
  echo
  echo "Variants and diagnostics (vouch only; notary column = the matching notary row above):"
  echo
  echo "| vouch variant | N | vouch wall | vouch CPU | notary wall | notary/vouch |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${VARIANT_ROWS[@]}"
} | tee "$OUT_DIR/results.md"
say "written to $OUT_DIR/results.md (timing log: $LOG)"
