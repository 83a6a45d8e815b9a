#!/usr/bin/env bash
# make demo: vouch's key workflow end to end in a throwaway trust dir.
# No server and no setup needed; passphrases come from the environment, as in CI.
set -euo pipefail
VOUCH=${1:-target/debug/vouch}
VOUCH=$(cd "$(dirname "$VOUCH")" && pwd)/$(basename "$VOUCH")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export VOUCH_TRUST_DIR="$WORK/trust"
export VOUCH_ROOT_PASSPHRASE="demo root passphrase"
export VOUCH_TARGETS_PASSPHRASE="demo targets passphrase"
export VOUCH_DELEGATION_PASSPHRASE="demo delegation passphrase"
GUN=registry.example.com/team/app

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "vouch demo — trust dir $VOUCH_TRUST_DIR"
step "$VOUCH" key generate --role root
step "$VOUCH" key generate --role targets --gun "$GUN"
step "$VOUCH" key generate --role targets/releases --algorithm ed25519
step "$VOUCH" key list
ROOT=$("$VOUCH" key list --output json | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin) if k["role"]=="root"][0])')
step "$VOUCH" key public "$ROOT" --gun "$GUN"
step "$VOUCH" key export "$ROOT" --format notary -o "$WORK/root-notary.pem"
echo "(exported for notary/docker trust: $(head -1 "$WORK/root-notary.pem"))"
step "$VOUCH" key remove "$ROOT" --yes
step "$VOUCH" key import "$WORK/root-notary.pem"
step "$VOUCH" key list
echo
echo "demo finished: keys generated, exported in notary's format, removed and imported back."
