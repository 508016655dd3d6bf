#!/bin/bash
# guest-memory-rss.sh [WEIR_BINARY] prints the peak RSS of `weir run` with the
# hostile guest cmd/weir/testdata/hungry (issue 14) in each of its modes, at
# the default (256 MiB) and a 1 GiB memory limit, at parallelism 1 and 4.
# Give it a binary built from another commit to compare (docs/BENCHMARKS.md,
# "Guest memory"). Needs clang with a wasm32 target and GNU time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/bin/weir}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
clang --target=wasm32 -nostdlib -O2 -mbulk-memory -std=c11 -Wl,--no-entry \
  -Wl,--stack-first -Wl,-z,stack-size=262144 -o "$work/hungry.wasm" "$root/cmd/weir/testdata/hungry/hungry.c"
for limit in 256MiB 1GiB; do
  pages=$([ $limit = 1GiB ] && echo 16384 || echo 4096)
  for par in 1 4; do
    for mode in one steps under:$pages; do
      d=$work/run
      rm -rf "$d" && mkdir "$d"
      cat > "$d/job.yaml" <<SPEC
name: hungry
parallelism: $par
restart: {attempts: 0}
sources:
  - name: events
    kind: datagen
    options: {seed: 1, count: 100, splits: $par, keys: 10, valueBytes: 8}
operators:
  - name: hungry
    module: $work/hungry.wasm
    from: events
    config: "$mode"
    limits: {memory: $limit}
sinks:
  - name: out
    kind: discard
    from: hungry
SPEC
      /usr/bin/time -o "$d/time" -f "%M %e" "$bin" run -data-dir "$d/data" -progress 0 "$d/job.yaml" >/dev/null 2>"$d/err" || true
      kib=$(tail -1 "$d/time" | cut -d' ' -f1); secs=$(tail -1 "$d/time" | cut -d' ' -f2)
      why=$(grep -o "guest memory exhausted\|time limit\|trapped: wasm error: unreachable" "$d/err" | head -1)
      printf "limit %-6s parallelism %d  %-11s peak RSS %5d MiB  %5ss  %s\n" $limit $par "${mode%%:*}" $((kib / 1024)) "$secs" "$why"
    done
  done
done
