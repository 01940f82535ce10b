#!/usr/bin/env bash
# AVIF rate–quality against sharp, and the libaom 3.11 fallback beside the tuned encoder.
#
# Usage, from the repo root:
#   bench/rate_quality.sh [dev|dev2|FOLDER] [N]   (FOLDER: your own images, as bench/images.sh)
#
# One run of, one after another on the same machine, each through bench/images.sh (same corpus,
# site, references and quality scoring):
#   1. dropgen at its defaults and sharp at its defaults (time, peak memory, bytes, DSSIM,
#      visibly worse variants: bench/images.sh's own table);
#   2. dropgen built against the bundled libaom 3.11 (no tune=iq), at its defaults, and, if
#      FALLBACK_312_BIN is set, a dropgen linked with libaom 3.12 or 3.13, at its defaults;
#   3. dropgen at its default AVIF quality -8 and +8, and sharp's AVIF at quality 40 and 60,
#      for the rate–quality curves;
# then prints the rate–quality table (bench/rate_quality.py) and writes it as JSON.
#
# Environment (besides bench/images.sh's own):
#   FALLBACK_BIN   a dropgen binary linked with the bundled libaom 3.11; by default one is built
#                  from a copy of this checkout without .cargo/config.toml, in
#                  $BENCH_ROOT/bundled-libaom (slow the first time: it compiles libaom)
#   FALLBACK_312_BIN  a dropgen binary linked with libaom 3.12 or 3.13 (build one after
#                  installing Debian 13's libaom-dev, or keep the binary of a checkout set up
#                  before 3.14); left out when unset
#   SKIP_FALLBACK=1  leave out the bundled libaom 3.11
#   RESUME=1       keep the points an earlier, interrupted run finished ($WORK_DIR/rate-quality/NAME)
#                  and run only the rest
# Quote ratios from one run: the machines are shared and noisy.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_root=${BENCH_ROOT:-/tmp/dropgen-bench}
shared=${SHARED_BENCH:-$repo/../shared/bench}
peers=${PEERS_DIR:-$bench_root/peers}
corpus=${1:-dev}
limit=${2:-0}
label=$corpus
case "$corpus" in dev | dev2) ;; -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  *)
    [ -d "$corpus" ] || { echo "unknown corpus '$corpus' (dev, dev2 or a folder of images)" >&2; exit 2; }
    corpus=$(cd "$corpus" && pwd) label=$(basename "$corpus")
    ;;
esac
work=${WORK_DIR:-$bench_root/$label-$([ "$limit" = 0 ] && echo all || echo "$limit")}
export WORK_DIR=$work BENCH_ROOT=$bench_root
runs="$work/rate-quality"
[ "${RESUME:-0}" = 1 ] || rm -rf "$runs"
mkdir -p "$runs"
log() { printf '[rate-quality] %s\n' "$*" >&2; }

# The default AVIF quality, read from the code so the curve is always centred on it.
default_q=$(sed -n 's/.*quality: Quality { avif: \([0-9]*\),.*/\1/p' "$repo/src/model/mod.rs")
[ -n "$default_q" ] || { echo "cannot find the default AVIF quality in src/model/mod.rs" >&2; exit 1; }

log "cargo build --release"
(cd "$repo" && cargo build --release --quiet)
tuned_bin="$repo/target/release/dropgen"

fallback_bin=${FALLBACK_BIN:-}
if [ "${SKIP_FALLBACK:-0}" != 1 ] && [ -z "$fallback_bin" ]; then
  copy="$bench_root/bundled-libaom/src"
  log "building dropgen with the bundled libaom 3.11 in $copy"
  rm -rf "$copy"; mkdir -p "$copy"
  (cd "$repo" && tar --exclude=./target --exclude=./.cargo --exclude=./.git --exclude=./.dropgen-cache -cf - .) | tar -C "$copy" -xf -
  (cd "$copy" && CARGO_TARGET_DIR="$bench_root/bundled-libaom/target" cargo build --release --quiet)
  fallback_bin="$bench_root/bundled-libaom/target/release/dropgen"
fi

# bench/images.sh once, its results kept under $runs/NAME.
images() {
  local name=$1; shift
  if [ "${RESUME:-0}" = 1 ] && [ -d "$runs/$name" ]; then log "$name: kept from the earlier run"; return; fi
  log "$name"
  env "$@" "$repo/bench/images.sh" "$corpus" "$limit" >"$runs/$name.txt"
  cp -r "$work/results" "$runs/$name"
}

images default DROPGEN_BIN="$tuned_bin"
[ -f "$runs/sharp-q50.json" ] || cp "$work/out-sharp.quality.json" "$runs/sharp-q50.json"
if [ "${SKIP_FALLBACK:-0}" != 1 ]; then
  images fallback DROPGEN_BIN="$fallback_bin" SKIP_SHARP=1 QUALITY_ONLY=avif-linear
fi
if [ -n "${FALLBACK_312_BIN:-}" ]; then
  images fallback-3.12 DROPGEN_BIN="$FALLBACK_312_BIN" SKIP_SHARP=1 QUALITY_ONLY=avif-linear
fi
for q in $((default_q - 8)) $((default_q + 8)); do
  images "q$q" DROPGEN_BIN="$tuned_bin" SKIP_SHARP=1 QUALITY_ONLY=avif-linear IMAGES_YAML="quality: {avif: $q}"
done
for q in 40 60; do
  if [ "${RESUME:-0}" = 1 ] && [ -s "$runs/sharp-q$q.json" ]; then log "sharp AVIF q$q: kept from the earlier run"; continue; fi
  log "sharp AVIF q$q"
  rm -rf "$work/out-sharp-q$q"
  NODE_PATH="$peers/node_modules" node "$repo/bench/sharp_avif.js" "$work/named" "$work/out-sharp-q$q" "$q" >"$runs/sharp-q$q.log"
  python3 "$shared/quality.py" "$work/ref" "$work/out-sharp-q$q" --records >"$runs/sharp-q$q.json"
done

cat "$runs/default.txt"
python3 "$repo/bench/rate_quality.py" "$runs" --corpus "$label" --default-q "$default_q" | tee "$runs/table.txt"
