#!/usr/bin/env bash
# make demo: vouch's main job end to end on the embedded default — a static repository
# in a throwaway folder. No server, no setup; passphrases come from the environment, as
# they would in CI.
set -euo pipefail
VOUCH=${1:-target/debug/vouch}
VOUCH=$(cd "$(dirname "$VOUCH")" && pwd)/$(basename "$VOUCH")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vouch-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export VOUCH_TRUST_DIR="$WORK/trust"
export VOUCH_ROOT_PASSPHRASE="demo root passphrase"
export VOUCH_TARGETS_PASSPHRASE="demo targets passphrase"
export VOUCH_SNAPSHOT_PASSPHRASE="demo snapshot passphrase"
export VOUCH_TIMESTAMP_PASSPHRASE="demo timestamp passphrase"
GUN=registry.example.com/team/app
DIGEST=sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { bold "\$ vouch ${*}"; "$VOUCH" "$@"; }

echo "vouch demo — trust dir $VOUCH_TRUST_DIR"
step init "$GUN"
# No registry in the demo: sign a known digest and size without asking one.
step sign "$GUN:1.4.2" --digest "$DIGEST" --size 6 --no-registry-check
printf 'release notes for 1.4.2\n' > "$WORK/NOTES.txt"
step sign-file "$GUN" NOTES.txt "$WORK/NOTES.txt"
step list "$GUN"
step key list

bold "# A deployment pins the repository's root keys once, in a file kept with its manifests."
LOCK="$WORK/vouch-trust.json"
step trust pin "$GUN" --from-cache --trust-lock "$LOCK"
cat "$LOCK"

bold "# The deploy job (its own trust dir) verifies the tag and gets the pinned reference."
DEPLOY="$WORK/deploy"
bold "\$ vouch --trust-dir deploy --server file://…/repository verify $GUN:1.4.2 --trust-lock vouch-trust.json"
REF=$("$VOUCH" --trust-dir "$DEPLOY" --server "file://$VOUCH_TRUST_DIR/repository" verify "$GUN:1.4.2" --trust-lock "$LOCK")
echo "$REF"
echo "(kubectl set image deployment/app app=$REF)"

bold "# An attacker edits the published targets metadata: 1.4.2 now has another size."
TUF="$VOUCH_TRUST_DIR/repository/$GUN/_trust/tuf"
for f in "$TUF"/targets.json "$TUF"/targets.*.json; do sed -i 's/"length":6/"length":7/' "$f"; done

bold "# A fresh deploy job verifies again."
set +e
"$VOUCH" --trust-dir "$WORK/deploy2" --server "file://$VOUCH_TRUST_DIR/repository" verify "$GUN:1.4.2" --trust-lock "$LOCK"
rc=$?
set -e
if [ "$rc" -eq 1 ]; then
  bold "Refused (exit $rc): the tampered metadata does not verify. Nothing to deploy."
else
  echo "demo: expected exit 1 for tampered metadata, got $rc" >&2
  exit 1
fi
echo
echo "demo finished."
