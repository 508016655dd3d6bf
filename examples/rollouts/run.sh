#!/usr/bin/env bash
# Roll version 2 of the tally operator out in a running job, safely: a shadow
# first (what would change?), then a canary on 10 % of the key groups (for
# real, on a few keys), then a promotion to every key group. See
# docs/rollouts.md. Run it from anywhere:
#
#   make build wasm && examples/rollouts/run.sh
#
# WEIR names the weir binary (default bin/weir), MODULES the directory of
# tally.wasm and tally2.wasm (default this one), WORK a directory for the
# server's data (default a new temporary one, removed at the end).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
weir=${WEIR:-$root/bin/weir}
here=$root/examples/rollouts
mods=${MODULES:-$here}
for f in "$weir" "$mods/tally.wasm" "$mods/tally2.wasm"; do
	[ -e "$f" ] || { echo "run.sh: $f is missing: run make build wasm first" >&2; exit 2; }
done
work=${WORK:-}
if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

step() { printf '\n== %s\n' "$*"; }

step "start weir server (data in $work)"
"$weir" server --data-dir "$work/data" --listen 127.0.0.1:0 --log-level warn >"$work/server.out" 2>"$work/server.err" &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; [ -z "${WORK:-}" ] && rm -rf "$work"' EXIT
for _ in $(seq 100); do
	grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^listening on ' "$work/server.out" || { cat "$work/server.err" >&2; exit 1; }
export WEIR_SERVER="http://$(sed -n 's/^listening on //p' "$work/server.out")"
echo "WEIR_SERVER=$WEIR_SERVER"

step "push version 1 as the job's module, submit the job"
"$weir" module push "$mods/tally.wasm" --name tally
id=$("$weir" job submit "$here/job.yaml")
echo "job $id"
sleep 1

step "shadow: run version 2 beside version 1 and compare their outputs"
"$weir" job shadow "$id" tally "$mods/tally2.wasm"
sleep 1
"$weir" job shadow "$id" --status | sed -n 1,8p # (sed reads it all: no SIGPIPE under pipefail)
"$weir" job shadow "$id" tally --stop

step "canary: version 2 for real on 10 % of the key groups"
"$weir" job canary "$id" tally "$mods/tally2.wasm" --percent 10
sleep 2
"$weir" job canary "$id" --status
out=$work/data/files/rollouts
echo "keys version 2 has run so far: $(cat "$out"/part-* | grep ' v2$' | cut -f1 | sort -u | wc -l) of 200 (the keys of its key groups)"

step "promote: version 2 on every key group from one barrier on"
"$weir" job promote "$id" tally

step "wait for the job to finish"
for _ in $(seq 600); do
	state=$("$weir" job get "$id" -o json | sed -n 's/.*"state": *"\([A-Z_]*\)".*/\1/p' | head -1)
	[ "$state" = JOB_STATE_FINISHED ] && break
	case $state in JOB_STATE_FAILED | JOB_STATE_CANCELLED) echo "job $id is $state" >&2; exit 1 ;; esac
	sleep 0.2
done
"$weir" job get "$id"

step "committed output: records per module version"
total=$(cat "$out"/part-* | wc -l)
v2=$(cat "$out"/part-* | grep -c ' v2$' || true)
echo "$total records committed, $v2 of them by version 2"
echo "output: $out/part-* (each line: key<TAB>n=<tally>[ v2])"
