#!/usr/bin/env bash
# make bench (part): `vouch admission serve` under a bounded load on loopback.
#
#   scripts/bench-admission.sh [path/to/vouch] [path/to/admission_load]
#
# One notary-server (memory storage, local signer, plain HTTP), one docker-registry, one
# image pushed with skopeo and signed; the webhook on 127.0.0.1 with a self-signed
# certificate and a policy that verifies the image under a trust lock. The load generator
# (examples/admission_load.rs) keeps CONNECTIONS TLS connections open and sends COUNT
# AdmissionReviews of a Deployment with that image, one at a time per connection.
#
# Cases:
#   warm  the verdict is cached (the default 30 s TTL): reviews/s and p99 under load;
#   cold  --cache-ttl 0: every review reads the repository's trust data from the notary
#         server (timestamp, snapshot, targets) and asks the registry for the tag's digest
#         (check_registry), one review at a time: p99;
#   RSS   the webhook's peak resident set (VmHWM) after both;
#   verify one `vouch verify IMAGE:TAG --trust-lock … --check-registry` process per image
#         (what a webhook that shells out per image would pay): median wall time.
#
# Environment: BENCH_ADMISSION_COUNT=20000, BENCH_ADMISSION_CONNECTIONS=8,
# BENCH_ADMISSION_COLD=300, BENCH_ADMISSION_VERIFY_RUNS=21.
set -euo pipefail
export LC_ALL=C
die() { echo "bench-admission: $*" >&2; exit 1; }
say() { echo "bench-admission: $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VOUCH=${1:-$ROOT/target/release/vouch}
LOAD=${2:-$ROOT/target/release/examples/admission_load}
[ -x "$VOUCH" ] || die "no vouch binary at $VOUCH (cargo build --release)"
[ -x "$LOAD" ] || die "no load generator at $LOAD (cargo build --release --example admission_load)"
COUNT=${BENCH_ADMISSION_COUNT:-20000}
CONNS=${BENCH_ADMISSION_CONNECTIONS:-8}
COLD=${BENCH_ADMISSION_COLD:-300}
VRUNS=${BENCH_ADMISSION_VERIFY_RUNS:-21}
for c in notary-server docker-registry skopeo openssl kubectl sha256sum; do
  command -v "$c" >/dev/null 2>&1 || die "$c is missing (make test-deps)"
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
W=$(mktemp -d "${TMPDIR:-/tmp}/vouch-bench-admission.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  while :; do p=$((20000 + RANDOM % 30000)); port_in_use "$p" || { echo "$p"; return; }; done
}
wait_port() { # wait_port PORT PID
  local i
  for i in $(seq 1 100); do
    port_in_use "$1" && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# notary-server (a port picked free can be taken before the server binds it: retry)
for attempt in 1 2 3 4 5; do
  NPORT=$(free_port)
  cat >"$W/server.json" <<EOF
{"server": {"http_addr": "127.0.0.1:$NPORT"}, "trust_service": {"type": "local"},
 "storage": {"backend": "memory"}, "logging": {"level": "error"}}
EOF
  notary-server -config "$W/server.json" >"$W/notary.log" 2>&1 &
  PIDS+=($!)
  wait_port "$NPORT" "$!" && break
  [ "$attempt" = 5 ] && die "notary-server did not start: $(tail -c 300 "$W/notary.log")"
done
S=http://127.0.0.1:$NPORT

# docker-registry
mkdir -p "$W/registry"
for attempt in 1 2 3 4 5; do
  RPORT=$(free_port)
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$W/registry" "$RPORT" >"$W/registry.yml"
  docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
  PIDS+=($!)
  wait_port "$RPORT" "$!" && break
  [ "$attempt" = 5 ] && die "docker-registry did not start: $(tail -c 300 "$W/registry.log")"
done
REG=127.0.0.1:$RPORT

# One OCI image (a config and one layer), pushed with skopeo.
O=$W/oci
mkdir -p "$O/blobs/sha256"
blob() { # blob FILE -> "DIGEST SIZE", stored under blobs/
  local d; d=$(sha256sum "$1" | cut -d' ' -f1)
  cp "$1" "$O/blobs/sha256/$d"
  echo "sha256:$d $(stat -c %s "$1")"
}
mkdir -p "$W/rootfs" && echo "bench image" >"$W/rootfs/hello"
tar -C "$W/rootfs" -cf "$W/layer.tar" hello
DIFF=sha256:$(sha256sum "$W/layer.tar" | cut -d' ' -f1)
gzip -n -c "$W/layer.tar" >"$W/layer.tar.gz"
read -r LD LS < <(blob "$W/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}' "$DIFF" >"$W/config.json"
read -r CD CS < <(blob "$W/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%s}]}' \
  "$CD" "$CS" "$LD" "$LS" >"$W/manifest.json"
read -r MD MS < <(blob "$W/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$MD" "$MS" >"$O/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$O/oci-layout"
HOME=$W skopeo copy -q --dest-tls-verify=false "oci:$O:v1" "docker://$REG/bench/app:1.0" >>"$W/skopeo.log" 2>&1 ||
  die "skopeo copy failed: $(tail -c 300 "$W/skopeo.log")"
IMAGE=$REG/bench/app
say "notary-server $S, registry $REG, image $IMAGE:1.0 ($MD)"

# Sign it; pin the root in a trust lock.
export VOUCH_ROOT_PASSPHRASE="bench root passphrase" VOUCH_TARGETS_PASSPHRASE="bench targets passphrase"
export VOUCH_SNAPSHOT_PASSPHRASE="bench snapshot passphrase"
export DOCKER_CONFIG=$W/no-docker-config
unset VOUCH_TRUST_LOCK VOUCH_SERVER DOCKER_CONTENT_TRUST_SERVER VOUCH_TRUST_DIR
P=$W/publisher
"$VOUCH" --trust-dir "$P" -q -s "$S" init "$IMAGE" >/dev/null
"$VOUCH" --trust-dir "$P" -q trust pin "$IMAGE" --from-cache --trust-lock "$W/vouch-trust.json" >/dev/null
"$VOUCH" --trust-dir "$P" -q -s "$S" sign "$IMAGE:1.0" >/dev/null
cat >"$W/policy.yaml" <<EOF
default: deny
rules:
  - match: "$REG/bench/*"
    trust_lock: vouch-trust.json
EOF

# TLS for the webhook: a CA, and a serving certificate for localhost signed by it.
EC=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${EC[@]}" -keyout "$W/ca.key" -out "$W/ca.crt" -days 2 -subj "/CN=bench CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req -new "${EC[@]}" -keyout "$W/tls.key" -out "$W/tls.csr" -subj /CN=localhost >/dev/null 2>&1
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost\n' >"$W/tls.ext"
openssl x509 -req -in "$W/tls.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -CAcreateserial -days 2 \
  -extfile "$W/tls.ext" -out "$W/tls.crt" >/dev/null 2>&1

# The review: a Deployment made by kubectl.
kubectl create deployment web --image="$IMAGE:1.0" --dry-run=client -o json >"$W/deploy.json"
{
  printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"bench","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"namespace":"prod","operation":"CREATE","name":"web","object":'
  cat "$W/deploy.json"
  printf '}}'
} >"$W/review.json"

WPID=""
start_webhook() { # start_webhook EXTRA-ARGS...
  local attempt
  for attempt in 1 2 3 4 5; do
    WPORT=$(free_port)
    "$VOUCH" --trust-dir "$W/webhook-trust" -s "$S" admission serve --policy "$W/policy.yaml" \
      --listen "127.0.0.1:$WPORT" --tls-cert "$W/tls.crt" --tls-key "$W/tls.key" "$@" 2>"$W/webhook.log" &
    WPID=$!
    PIDS+=("$WPID")
    wait_port "$WPORT" "$WPID" && return 0
  done
  die "the webhook did not start: $(tail -c 500 "$W/webhook.log")"
}
stop_webhook() { kill -TERM "$WPID"; wait "$WPID" 2>/dev/null || true; }
rss_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# Warm: one cold review fills the cache, then COUNT reviews on CONNS connections.
start_webhook
"$LOAD" "127.0.0.1:$WPORT" localhost "$W/ca.crt" "$W/review.json" 1 1 >/dev/null
"$LOAD" "127.0.0.1:$WPORT" localhost "$W/ca.crt" "$W/review.json" $((COUNT / 10)) "$CONNS" >/dev/null
WARM=$("$LOAD" "127.0.0.1:$WPORT" localhost "$W/ca.crt" "$W/review.json" "$COUNT" "$CONNS")
WARM_RSS=$(rss_kib "$WPID")
grep -q '"patched":true' "$W/webhook.log" || die "the webhook did not patch: $(tail -c 500 "$W/webhook.log")"
stop_webhook

# Cold: no cache; one review at a time.
start_webhook --cache-ttl 0
COLD_OUT=$("$LOAD" "127.0.0.1:$WPORT" localhost "$W/ca.crt" "$W/review.json" "$COLD" 1)
COLD_RSS=$(rss_kib "$WPID")
stop_webhook

# One `vouch verify` process per image (warm trust dir, pinned; with the registry check).
"$VOUCH" --trust-dir "$W/verify-trust" -q -s "$S" --trust-lock "$W/vouch-trust.json" verify --check-registry "$IMAGE:1.0" >/dev/null
VT=()
for _ in $(seq 1 "$VRUNS"); do
  t0=$(date +%s%N)
  "$VOUCH" --trust-dir "$W/verify-trust" -q -s "$S" --trust-lock "$W/vouch-trust.json" verify --check-registry "$IMAGE:1.0" >/dev/null
  t1=$(date +%s%N)
  VT+=($(( (t1 - t0) / 1000 )))
done
VERIFY_MED_US=$(printf '%s\n' "${VT[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

ms() { awk -v u="$1" 'BEGIN {printf "%.1f ms", u / 1000}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k / 1024}'; }
w_p99=$(field p99_ms <<<"$WARM"); w_rps=$(field reviews_per_s <<<"$WARM"); w_p50=$(field p50_ms <<<"$WARM")
w_err=$(field errors <<<"$WARM"); c_p99=$(field p99_ms <<<"$COLD_OUT"); c_p50=$(field p50_ms <<<"$COLD_OUT")
c_err=$(field errors <<<"$COLD_OUT")
rss=$(( WARM_RSS > COLD_RSS ? WARM_RSS : COLD_RSS ))
met() { awk -v v="$1" -v lim="$2" -v dir="$3" 'BEGIN { ok = (dir == "<") ? (v < lim) : (v >= lim); print ok ? "met" : "NOT met" }'; }
mkdir -p "$ROOT/target/bench"
{
  echo "### Admission webhook ($(date -u +%Y-%m-%d), $(nproc) cores, load ${CONNS} connections on loopback)"
  echo
  echo "Load average before the run: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")."
  echo "vouch: \`$VOUCH\` ($("$VOUCH" --version)); the load generator runs on the same 2 cores."
  echo
  echo "| case | result | target | |"
  echo "|---|---|---|---|"
  echo "| warm (cached verdict): reviews/s, $COUNT reviews, $CONNS connections | $w_rps /s (p50 $w_p50 ms, errors $w_err) | ≥ 2,000 /s | $(met "$w_rps" 2000 ">=") |"
  echo "| warm p99 | $w_p99 ms | < 5 ms | $(met "$w_p99" 5 "<") |"
  echo "| cold (notary + registry read per review, --cache-ttl 0), $COLD reviews one at a time: p99 | $c_p99 ms (p50 $c_p50 ms, errors $c_err) | < 50 ms | $(met "$c_p99" 50 "<") |"
  echo "| webhook peak RSS (VmHWM) | $(mb "$rss") (warm $(mb "$WARM_RSS"), cold $(mb "$COLD_RSS")) | < 50 MB | $(met "$rss" 51200 "<") |"
  echo "| one \`vouch verify --check-registry\` process per image (warm pinned trust dir), median of $VRUNS | $(ms "$VERIFY_MED_US") | | |"
} | tee "$ROOT/target/bench/admission.md"
