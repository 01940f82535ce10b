#!/usr/bin/env bash
# Image pipeline benchmark: dropgen (cold and warm cache) against sharp (libvips), side by side.
#
# Usage, from the repo root:
#   bench/images.sh [dev|dev2] [N]     fetch corpus (first N images; all if N is 0 or absent),
#                                      build dropgen, run cold, warm and sharp, measure quality
#   bench/images.sh FOLDER [N]         the same on your own JPEG and PNG images (FOLDER's own
#                                      files, not its subfolders): a corpus nothing was tuned on
#   bench/images.sh prepare            only install what the benchmark needs (idempotent)
#
# Environment:
#   SHARED_BENCH   shared bench tools (corpus.sh, peer_sharp.js, mkref.js, quality.py)
#                  [default: ../shared/bench relative to the repo root]
#   BENCH_ROOT     scratch root [default: /tmp/dropgen-bench]
#   WORK_DIR       work dir of this corpus [default: $BENCH_ROOT/<corpus>-<N or all>]; reused if present
#   PEERS_DIR      where sharp is npm-installed [default: $BENCH_ROOT/peers]
#   DROPGEN_BIN    use this binary instead of running `cargo build --release`
#   DROPGEN_JOBS   pass `-j N` to `dropgen build` [default: dropgen's own, the number of cores]
#   IMAGES_YAML    extra lines for `images:` in the generated dropgen.yaml (dropgen's defaults
#                  otherwise), e.g. IMAGES_YAML=$'quality: {avif: 60}\navif_speed: 6'
#   CHECK_SITE=1   also run `dropgen check` on the generated site first (it encodes too: slow)
#   NICE           niceness of the measured runs and of the builds [default: 0]
#   SKIP_SHARP=1   do not run the sharp peer; bytes and DSSIM of an earlier sharp run in the
#                  same WORK_DIR are still compared (its time is not: times only count side by
#                  side), which makes sweeping dropgen's settings quick
#   SKIP_QUALITY=1 do not compute references and DSSIM
#   QUALITY_ONLY=avif-linear  score only dropgen's AVIF variants, only against the linear-light
#                  references (what bench/rate_quality.sh's sweeps use: a quarter of the scoring)
#   SKIP_PREPARE=1 do not install anything; fail if something is missing
#
# Layout of WORK_DIR: corpus/ (as fetched), named/ (copies renamed to dropgen's URL-safe stems),
# site/ (generated dropgen site), ref/ (Lanczos3 references in gamma space, as sharp resizes),
# ref-linear/ (the same in linear light, as dropgen resizes), cache/ (DROPGEN_CACHE_DIR),
# out-dropgen/, out-sharp/, results/ (logs, timings, records and summary.json).
# Quote ratios from one run, not absolute seconds: the machines are shared and noisy.
set -euo pipefail

WIDTHS=400,800,1200,1600 # peer_sharp.js's and mkref.js's widths; mkref.js has them built in
SHARP_POOL=2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_dir="$repo/bench"
shared=${SHARED_BENCH:-$repo/../shared/bench}
bench_root=${BENCH_ROOT:-/tmp/dropgen-bench}
peers=${PEERS_DIR:-$bench_root/peers}
nice_n=${NICE:-0}
skip_sharp=${SKIP_SHARP:-0}
skip_quality=${SKIP_QUALITY:-0}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }
run_nice() { nice -n "$nice_n" "$@"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $*"; fi
}

apt_install() {
  log "installing Debian packages: $*"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null; then
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
  fi
}

need_sharp() { [ "$skip_sharp" != 1 ] || [ "$skip_quality" != 1 ]; } # mkref.js uses sharp too

# Installs what is missing; does nothing when everything is there.
prepare() {
  local missing=()
  [ -x /usr/bin/time ] || missing+=(time)
  if [ "$skip_quality" != 1 ]; then
    command -v avifdec >/dev/null || missing+=(libavif-bin)
    command -v dwebp >/dev/null || missing+=(webp)
  fi
  if need_sharp; then command -v node >/dev/null || missing+=(nodejs npm); fi
  if [ "${#missing[@]}" -gt 0 ]; then
    [ "${SKIP_PREPARE:-0}" != 1 ] || die "missing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  if [ "$skip_quality" != 1 ] && ! python3 -c 'import PIL, numpy' 2>/dev/null; then
    [ "${SKIP_PREPARE:-0}" != 1 ] || die "Pillow and NumPy are missing (pip install pillow numpy)"
    log "pip install pillow numpy (for linref.py)"
    python3 -m pip install --quiet --disable-pip-version-check pillow numpy
  fi
  if [ "$skip_quality" != 1 ] && ! command -v dssim >/dev/null; then
    [ "${SKIP_PREPARE:-0}" != 1 ] || die "dssim is missing (cargo install dssim --locked)"
    log "cargo install dssim (compiles, a few minutes; -j 1, nice 10)"
    nice -n 10 cargo install dssim --locked -j 1
  fi
  if need_sharp && [ ! -d "$peers/node_modules/sharp" ]; then
    [ "${SKIP_PREPARE:-0}" != 1 ] || die "sharp is missing in $peers (npm install sharp)"
    log "npm install sharp in $peers"
    mkdir -p "$peers"
    (cd "$peers" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --no-audit --no-fund sharp >/dev/null)
  fi
}

# dropgen's URL-safe stem (src/images/plan.rs url_safe_stem): lower case, runs of other characters
# as one '-', no '-' at either end, at most 60 characters. Slugs need the same characters.
safe_stem() {
  local s
  s=$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')
  s=${s:0:50}; s=${s%-}
  printf '%s' "${s:-image}"
}

# Copies the corpus to named/ and site/drops/<stem>/<stem>.<ext>, one drop per image (the image
# is its hero, referenced once), and writes dropgen.yaml.
make_site() {
  local corpus=$1 named=$2 site=$3
  rm -rf "$named" "$site"
  mkdir -p "$named" "$site/drops"
  cat >"$site/dropgen.yaml" <<EOF
# Generated by bench/images.sh: one drop per benchmark image.
base_url: https://bench.example
title: dropgen image benchmark
description: One drop per benchmark image.
checkout_url: https://bench.example/buy?sku={sku}
images:
  widths: [${WIDTHS//,/, }]
  formats: [avif, webp]
  max_megapixels: 100
EOF
  if [ -n "${IMAGES_YAML:-}" ]; then # extra keys of `images:`, e.g. IMAGES_YAML='avif_speed: 6'
    printf '%s\n' "$IMAGES_YAML" | sed 's/^/  /' >>"$site/dropgen.yaml"
  fi
  local f base ext stem n=0
  while IFS= read -r -d '' f; do
    base=$(basename "$f"); ext=${base##*.}; ext=$(printf '%s' "$ext" | tr '[:upper:]' '[:lower:]')
    stem=$(safe_stem "${base%.*}")
    if [ -e "$named/$stem.jpg" ] || [ -e "$named/$stem.jpeg" ] || [ -e "$named/$stem.png" ]; then
      local i=2; while [ -e "$named/$stem-$i.jpg" ] || [ -e "$named/$stem-$i.jpeg" ] || [ -e "$named/$stem-$i.png" ]; do i=$((i + 1)); done
      stem="$stem-$i"
    fi
    n=$((n + 1))
    cp "$f" "$named/$stem.$ext"
    mkdir -p "$site/drops/$stem"
    ln "$named/$stem.$ext" "$site/drops/$stem/$stem.$ext" 2>/dev/null || cp "$f" "$site/drops/$stem/$stem.$ext"
    cat >"$site/drops/$stem/drop.yaml" <<EOF
title: "Bench $stem"
summary: "Benchmark drop showing $base."
starts_at: 2026-01-01T00:00:00Z
hero:
  src: $stem.$ext
  alt: "Benchmark image $stem"
products:
  - sku: BENCH-$n
    name: "Bench item $n"
    price: 10
EOF
  done < <(find "$corpus" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -print0 | sort -z)
  [ "$n" -gt 0 ] || die "no images in $corpus"
  log "site: $n drops in $site"
}

# Runs a command under /usr/bin/time; writes "<wall s> <peak RSS KiB>" to $1, output to $2.
timed() {
  local tfile=$1 logfile=$2; shift 2
  if ! /usr/bin/time -f '%e %M' -o "$tfile" nice -n "$nice_n" "$@" >"$logfile" 2>&1; then
    tail -20 "$logfile" >&2
    die "failed: $* (log: $logfile)"
  fi
}

listing() { (cd "$1" && find . -type f -printf '%P %s\n' | sort); }

# ---------------------------------------------------------------------------------------------
case "${1:-dev}" in
  prepare) prepare; log "ready"; exit 0 ;;
  dev | dev2) corpus_name=${1:-dev} corpus_dir= ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
  *)
    [ -d "$1" ] || die "unknown corpus '$1' (dev, dev2, a folder of images, or prepare)"
    corpus_dir=$(cd "$1" && pwd) corpus_name=$(basename "$corpus_dir")
    ;;
esac
limit=${2:-0}
[[ "$limit" =~ ^[0-9]+$ ]] || die "N must be a number, not '$limit'"
[ -f "$shared/corpus.sh" ] || die "shared bench tools not found in $shared (set SHARED_BENCH)"
shared=$(cd "$shared" && pwd)

prepare
work=${WORK_DIR:-$bench_root/$corpus_name-$([ "$limit" = 0 ] && echo all || echo "$limit")}
mkdir -p "$work/results"
res="$work/results"
rm -f "$res"/*.time "$res"/*.json "$res"/*.log "$res"/*.txt

# 1. corpus (reused when a previous fetch completed)
if [ ! -f "$work/corpus/.complete" ]; then
  rm -rf "$work/corpus"
  log "fetching corpus $corpus_name ($([ "$limit" = 0 ] && echo all || echo "first $limit") images)"
  if [ -n "$corpus_dir" ]; then
    mkdir -p "$work/corpus"
    find "$corpus_dir" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) -print0 | sort -z |
      { n=0; while IFS= read -r -d '' f; do
        [ "$limit" -gt 0 ] && [ "$n" -ge "$limit" ] && break
        cp "$f" "$work/corpus/"; n=$((n + 1)); done; }
  else
    bash "$shared/corpus.sh" "$work/corpus" "$corpus_name" "$limit" >&2
  fi
  touch "$work/corpus/.complete"
fi

# 2. dropgen binary, then the site
if [ -n "${DROPGEN_BIN:-}" ]; then
  bin=$DROPGEN_BIN
else
  log "cargo build --release"
  (cd "$repo" && nice -n "$nice_n" cargo build --release --quiet)
  bin="$repo/target/release/dropgen"
fi
[ -x "$bin" ] || die "no dropgen binary at $bin"
make_site "$work/corpus" "$work/named" "$work/site"
if [ "${CHECK_SITE:-0}" = 1 ]; then # the measured builds validate too; check also encodes, so opt-in
  log "dropgen check"
  if ! DROPGEN_CACHE_DIR="$work/cache-check" run_nice "$bin" check --root "$work/site" >"$res/check.log" 2>&1; then
    cat "$res/check.log" >&2; die "generated site does not pass dropgen check"
  fi
  rm -rf "$work/cache-check"
fi

# 3. the measured runs, one after another
out="$work/out-dropgen" cache="$work/cache"
rm -rf "$out" "$cache"; mkdir -p "$cache"
jobs_args=(); [ -z "${DROPGEN_JOBS:-}" ] || jobs_args=(-j "$DROPGEN_JOBS")
log "dropgen cold build (empty cache)"
DROPGEN_CACHE_DIR=$cache timed "$res/cold.time" "$res/cold.log" "$bin" build --verbose --root "$work/site" --out "$out" "${jobs_args[@]}"
img=$(find "$out" -type d -name _img -print -quit); img=${img:-$out}
listing "$img" >"$res/cold-files.txt"
log "dropgen warm build (same cache, output kept)"
DROPGEN_CACHE_DIR=$cache timed "$res/warm.time" "$res/warm.log" "$bin" build --verbose --root "$work/site" --out "$out" "${jobs_args[@]}"
img=$(find "$out" -type d -name _img -print -quit); img=${img:-$out}
listing "$img" >"$res/warm-files.txt"

sharp_out="$work/out-sharp"
if [ "$skip_sharp" != 1 ]; then
  log "sharp: node peer_sharp.js named out-sharp both $WIDTHS $SHARP_POOL"
  rm -rf "$sharp_out"
  NODE_PATH="$peers/node_modules" timed "$res/sharp.time" "$res/sharp.log" \
    node "$shared/peer_sharp.js" "$work/named" "$sharp_out" both "$WIDTHS" "$SHARP_POOL"
  grep '^{' "$res/sharp.log" | tail -1 >"$res/sharp.json"
fi

# 4. quality: references from the renamed copies (so stems match), DSSIM per variant
if [ "$skip_quality" != 1 ]; then
  stamp=$(listing "$work/named" | md5sum | cut -d' ' -f1)
  if [ "$(cat "$work/ref/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "mkref.js: Lanczos3 references"
    rm -rf "$work/ref"
    NODE_PATH="$peers/node_modules" run_nice node "$shared/mkref.js" "$work/named" "$work/ref"
    echo "$stamp" >"$work/ref/.stamp"
  fi
  if [ "$(cat "$work/ref-linear/.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "linref.py: linear-light Lanczos3 references (dropgen's own resize domain)"
    rm -rf "$work/ref-linear"
    run_nice python3 "$bench_dir/linref.py" "$work/named" "$work/ref-linear"
    echo "$stamp" >"$work/ref-linear/.stamp"
  fi
  if [ "${QUALITY_ONLY:-}" = avif-linear ]; then
    log "quality.py on dropgen's AVIF variants (against the linear-light references)"
    avif_only="$work/score-avif"
    rm -rf "$avif_only"; mkdir -p "$avif_only"
    find "$img" -type f -name '*.avif' -exec ln -t "$avif_only" {} +
    run_nice python3 "$shared/quality.py" "$work/ref-linear" "$avif_only" --records >"$res/quality-dropgen-linear.json"
  else
    [ -z "${QUALITY_ONLY:-}" ] || die "QUALITY_ONLY must be avif-linear, not '$QUALITY_ONLY'"
    log "quality.py on dropgen's variants (against both references)"
    run_nice python3 "$shared/quality.py" "$work/ref" "$img" --records >"$res/quality-dropgen.json"
    run_nice python3 "$shared/quality.py" "$work/ref-linear" "$img" --records >"$res/quality-dropgen-linear.json"
  fi
  if [ "$skip_sharp" != 1 ]; then
    log "quality.py on sharp's variants"
    run_nice python3 "$shared/quality.py" "$work/ref" "$sharp_out" --records >"$res/quality-sharp.json"
    cp "$res/quality-sharp.json" "$sharp_out.quality.json"
  elif [ -f "$sharp_out.quality.json" ]; then
    cp "$sharp_out.quality.json" "$res/quality-sharp.json"
  fi
fi

# 5. summary
python3 "$bench_dir/images_summary.py" --corpus "$corpus_name" --limit "$limit" --images "$(find "$work/named" -type f | wc -l)" --results "$res" \
  --dropgen-img "$img" --sharp-out "$([ "$skip_sharp" = 1 ] && [ ! -f "$sharp_out.quality.json" ] || echo "$sharp_out")"
