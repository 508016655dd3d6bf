#!/usr/bin/env bash
# The order pipeline of docs/acks.md, end to end in a `weir server`: post a
# request of three orders, and one of them again in a second request (dedup
# drops it); see the statuses (one order NACKed: an item of 0 cents failed
# and went to the DLQ), fix the item in the DLQ and resubmit it, and read the
# receipts. The payment service answers 503 to a fifth of the
# calls; the retries and the journal make each item charged once. Run it from
# anywhere:
#
#   make build wasm && examples/orders/run.sh
#
# WEIR names the weir binary (default bin/weir), MODULES the directory of
# split.wasm (default examples/orders) and charge.wasm (default
# examples/payments), PAYSVC the payment service binary (default: built from
# ./examples/payments/service), PAY_PORT its port (default 8099), WORK a
# directory for the server's data (default a new temporary one, removed at
# the end).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
weir=${WEIR:-$root/bin/weir}
here=$root/examples/orders
split=${MODULES:-$here}/split.wasm
charge=${MODULES:-$root/examples/payments}/charge.wasm
port=${PAY_PORT:-8099}
for f in "$weir" "$split" "$charge"; do
	[ -e "$f" ] || { echo "run.sh: $f is missing: run make build wasm first" >&2; exit 2; }
done
work=${WORK:-}
if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	[ -z "${WORK:-}" ] && rm -rf "$work"
	return 0
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "start the payment service on 127.0.0.1:$port (503 to 20 % of the calls)"
paysvc=${PAYSVC:-}
if [ -z "$paysvc" ]; then
	paysvc=$work/paysvc
	(cd "$root" && go build -o "$paysvc" ./examples/payments/service)
fi
"$paysvc" -addr "127.0.0.1:$port" -fail 0.2 >"$work/paysvc.out" 2>&1 &
pids+=($!)

step "start weir server (data in $work)"
"$weir" server --data-dir "$work/data" --listen 127.0.0.1:0 --log-level warn >"$work/server.out" 2>"$work/server.err" </dev/null &
pids+=($!)
for _ in $(seq 100); do
	grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^listening on ' "$work/server.out" || { cat "$work/server.err" >&2; exit 1; }
server="http://$(sed -n 's/^listening on //p' "$work/server.out")"
export WEIR_SERVER=$server
echo "WEIR_SERVER=$WEIR_SERVER"

step "push the modules, submit the job"
"$weir" module push "$split" --name split
"$weir" module push "$charge" --name charge
sed "s|127.0.0.1:8099|127.0.0.1:$port|" "$here/job.yaml" >"$work/job.yaml"
id=$("$weir" job submit "$work/job.yaml")
echo "job $id"

step "post three orders in one request (o-2 has an item of 0 cents)"
answer=$(curl -sS -X POST -H 'Content-Type: application/x-ndjson' -H 'Idempotency-Key: batch-1' \
	--data-binary $'{"order":"o-1","customer":"ann","items":[{"sku":"A7","qty":1,"cents":1200},{"sku":"B2","qty":2,"cents":350}]}\n{"order":"o-2","customer":"bob","items":[{"sku":"C1","qty":1,"cents":900},{"sku":"D4","qty":3,"cents":0}]}\n{"order":"o-3","customer":"cy","items":[{"sku":"E5","qty":1,"cents":4000}]}\n' \
	"$server/v1/ingest/orders")
echo "$answer"
seq=$(echo "$answer" | sed -n 's/.*"sequence":\([0-9]*\).*/\1/p')

step "a client posts o-1 again, in a new request: unique (dedup) drops its items"
answer2=$(curl -sS -X POST -H 'Content-Type: application/x-ndjson' -H 'Idempotency-Key: batch-2' \
	--data-binary $'{"order":"o-1","customer":"ann","items":[{"sku":"A7","qty":1,"cents":1200},{"sku":"B2","qty":2,"cents":350}]}\n' \
	"$server/v1/ingest/orders")
echo "$answer2"
seq2=$(echo "$answer2" | sed -n 's/.*"sequence":\([0-9]*\).*/\1/p')

step "the requests' statuses, once their records are decided"
for _ in $(seq 600); do
	"$weir" ingest status orders "$seq" | grep -q acked && break # (acked or nacked)
	sleep 0.1
done
"$weir" ingest status orders "$seq"
for _ in $(seq 600); do
	"$weir" ingest status orders "$seq2" | grep -q acked && break
	sleep 0.1
done
"$weir" ingest status orders "$seq2"

step "the DLQ: fix the failed item's amount and resubmit it"
"$weir" dlq ls "$id"
dlq=$("$weir" ingest status orders "$seq" -o json | sed -n 's/.*"dlq": \([0-9]*\).*/\1/p' | head -1)
"$weir" dlq get "$id" "$dlq"
"$weir" dlq edit "$id" "$dlq" --value '{"order":"o-2/1","amountCents":600}' --note "price of D4 was missing"
"$weir" dlq resubmit "$id" "$dlq"

step "the receipts (committed exactly once)"
out=$work/data/files/orders
for _ in $(seq 300); do
	[ "$(cat "$out"/part-* 2>/dev/null | grep -c 'o-2/1 charged' || true)" = 1 ] && break
	sleep 0.1
done
sort -k2 "$out"/part-*
echo "$(cat "$out"/part-* | wc -l) items committed, $(cat "$out"/part-* | grep -c ' charged ') charged"
"$weir" dlq audit "$id"
