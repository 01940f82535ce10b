#!/usr/bin/env bash
# Scale benchmark: a generated site of N drops (one small unique image, three products and
# markdown copy each), built cold, warm with nothing changed, and warm with one drop's title
# edited. Prints wall time, peak RSS, the slowest steps and what the image stage encoded.
#
# Usage, from the repo root:
#   bench/scale.sh [N...]        default: 1000
#
# Environment:
#   DROPGEN_BIN   use this binary instead of running `cargo build --release`
#   BENCH_ROOT    scratch root [default: /tmp/dropgen-bench]
# Quote ratios and orders of magnitude, not exact seconds: the machines are shared and noisy.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_root=${BENCH_ROOT:-/tmp/dropgen-bench}
sizes=("$@")
((${#sizes[@]})) || sizes=(1000)

if [ -n "${DROPGEN_BIN:-}" ]; then
  bin=$DROPGEN_BIN
else
  (cd "$repo" && cargo build --release --quiet)
  bin=$repo/target/release/dropgen
fi

# One timed build: prints "wall_s peak_rss_mib" and keeps the build's log.
timed_build() {
  local site=$1 log=$2
  /usr/bin/time -f '%e %M' -o "$log.time" \
    "$bin" build --verbose --root "$site" --out "$site/../out" --cache-dir "$site/../cache" >"$log" 2>&1 ||
    { cat "$log" >&2; exit 1; }
  read -r wall rss <"$log.time"
  printf '%s %s\n' "$wall" "$((rss / 1024))"
}

# The build's own account: the image stage's summary and the step timings.
explain() {
  grep -E '^(images: [0-9]+ decoded|built )' "$1" | sed 's/^/      /' || true
}

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package: time)" >&2; exit 1; }
printf '%-7s %-26s %9s %9s\n' drops build wall_s rss_mib
for n in "${sizes[@]}"; do
  work=$bench_root/scale-$n
  rm -rf "$work"
  mkdir -p "$work"
  python3 "$repo/bench/scale_site.py" "$work/site" "$n"
  for run in cold warm-noop; do
    read -r wall rss < <(timed_build "$work/site" "$work/$run.log")
    printf '%-7s %-26s %9s %9s\n' "$n" "$run" "$wall" "$rss"
    explain "$work/$run.log"
  done
  python3 "$repo/bench/scale_site.py" "$work/site" "$n" --edit $((n / 2))
  read -r wall rss < <(timed_build "$work/site" "$work/edit.log")
  printf '%-7s %-26s %9s %9s\n' "$n" "warm-one-title-edited" "$wall" "$rss"
  explain "$work/edit.log"
done
