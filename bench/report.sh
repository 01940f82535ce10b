#!/usr/bin/env bash
# Benchmark of `dropgen inventory report`: a generated log of about EVENTS events (one drop,
# 60 minutes, two SKUs; bench/report_log.py) reported as HTML and as JSON, each timed with
# `/usr/bin/time -v`: wall time and peak resident memory. The floors: 1,000,000 events in
# at most 10 s and 200 MiB.
#
# Usage, from anywhere in the checkout:
#   bench/report.sh
# Environment:
#   EVENTS       events in the log [default: 1000000]
#   DROPGEN_BIN  use this binary instead of `cargo build --release`
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
events=${EVENTS:-1000000}
if [ -n "${DROPGEN_BIN:-}" ]; then
  bin=$DROPGEN_BIN
else
  (cd "$repo" && cargo build --release --quiet)
  bin=$repo/target/release/dropgen
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

written=$(python3 "$repo/bench/report_log.py" "$events" "$work/inventory.db")
echo "log: $written events, $(du -m "$work/inventory.db" | cut -f1) MiB ($bin)"
for format in html json; do
  /usr/bin/time -v "$bin" inventory report bench --database "$work/inventory.db" --format "$format" \
    --out "$work/report.$format" 2>"$work/time.txt" >/dev/null
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
  printf '%-4s  wall %s  peak RSS %d MiB  output %d KiB\n' "$format" "$wall" $((rss / 1024)) \
    $(($(stat -c %s "$work/report.$format") / 1024))
done
