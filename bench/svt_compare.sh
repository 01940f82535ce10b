#!/usr/bin/env bash
# svt_compare.sh - SVT-AV1 4.2 (still-image, tune IQ) vs libaom 3.14.1 (all-intra, tune=iq,
# speed 6) for 4:2:0 10-bit AVIF of photographs, via avifenc 1.4.2 from Debian forky.
#
# Idempotent: builds the chroot only if absent, copies inputs only if absent, and the sweep
# skips every (corpus, file, config, q) already recorded in $SVT_DIR/results.csv.
# Delete results.csv (and root/work/out) to re-measure from scratch.
#
# Machine is shared: every CPU-heavy step runs under `nice -n 15`, one encode at a time,
# and avifenc runs with -j 1 (single worker thread).
#
# Needs bench/images.sh dev and dev2 run first (their linear-light references are the inputs).
# The verdict and figures are in docs/benchmarks.md ("SVT-AV1").
#
# Usage: bench/svt_compare.sh             # setup + sweep + report
#        SKIP_RUN=1 bench/svt_compare.sh  # report only
#        SKIP_RETIME=1 ...                       # skip the 2nd timing pass
set -euo pipefail
bench_root=${BENCH_ROOT:-/tmp/dropgen-bench}
BASE=${SVT_DIR:-$bench_root/svt}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SVT_DIR=$BASE
ROOT=$BASE/root
N_IMAGES=${N_IMAGES:-10}                 # images per corpus (all their widths are used)
DEV=$bench_root/dev-all/ref-linear
DEV2=$bench_root/dev2-all/ref-linear
mkdir -p "$BASE"
cd "$BASE"

# ---------------------------------------------------------------- 1. chroot (Debian forky)
# libsvtav1enc4 needs libc6 >= 2.43, which Debian 12 lacks, hence a forky chroot.
if [ ! -x "$ROOT/usr/bin/avifenc" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap; }
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    # bookworm's debootstrap has no "forky" script; the sid script works for it.
    nice -n 15 debootstrap --variant=minbase forky "$ROOT" http://deb.debian.org/debian \
      /usr/share/debootstrap/scripts/sid
  fi
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  # The mirror's forky Release file can be past its Valid-Until; ignore that check.
  chroot "$ROOT" apt-get -o Acquire::Check-Valid-Until=false update -qq
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive nice -n 15 \
    apt-get -o Acquire::Check-Valid-Until=false install -y -qq --no-install-recommends libavif-bin
fi
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
echo "== versions"
chroot "$ROOT" avifenc --version
chroot "$ROOT" dpkg-query -W libavif16 libaom3 libsvtav1enc4 libc6
/root/.cargo/bin/dssim --version 2>/dev/null || true
# Must list both encoders.
chroot "$ROOT" avifenc --version | grep -q 'aom \[enc' && chroot "$ROOT" avifenc --version | grep -q 'svt \[enc'

# ---------------------------------------------------------------- 2. inputs
# dev2's resizes may still be being produced by another job: wait_dev2 waits up to 15 min for
# the folder (called after the dev corpus is done, so no time is lost).
wait_dev2() {
  for i in $(seq 1 90); do
    [ -d "$DEV2" ] && [ -n "$(ls "$DEV2" 2>/dev/null)" ] && return 0
    [ "$i" = 1 ] && echo "waiting for $DEV2 ..."
    sleep 10
  done
}

# ---------------------------------------------------------------- 3. sweep
# Encoder commands (inside the chroot), for each input PNG and each q:
#   aom : avifenc -c aom -s 6 -a tune=iq -y 420 -d 10 -j 1 -q {40,48,56,64}
#   svt : avifenc -c svt -s {4,5,6,8} -a tune=3 -y 420 -d 10 -j 1 -q {32,41,50,59}
#         (SVT-AV1 4.x: tune 3 = IQ, still image only; libavif 1.4.2 sets svt avif=1 for single
#          images => "all intra"; -s maps straight to the SVT preset; tune=iq string is rejected)
# Decode: avifdec -j 1 -d 8 --png-compress 0 ; metric: dssim <input.png> <decoded.png> (host)
if [ -z "${SKIP_RUN:-}" ]; then
  for corpus in dev dev2; do
    src=$DEV; [ "$corpus" = dev2 ] && { src=$DEV2; wait_dev2 || true; }
    if [ ! -d "$src" ]; then echo "!! $src missing, skipping corpus $corpus"; continue; fi
    # Remember the pick so re-runs use the same images even if the folder grows.
    if [ ! -s "$BASE/stems-$corpus.txt" ]; then
      python3 "$HERE/svt_bench.py" select "$src" "$N_IMAGES" > "$BASE/stems-$corpus.txt"
    fi
    # shellcheck disable=SC2046
    python3 "$HERE/svt_bench.py" run "$corpus" "$src" $(cat "$BASE/stems-$corpus.txt")
    # Second timing pass of the same encodes (no metric), to show run-to-run timing noise.
    [ -n "${SKIP_RETIME:-}" ] || python3 "$HERE/svt_bench.py" retime "$corpus"
  done
fi

# ---------------------------------------------------------------- 3b. size limits
# Does either encoder refuse tiny or odd-sized inputs? (13 crops, q 50, one encode at a time.)
echo "== size check (crops of dev aqua-400.png)"
python3 "$HERE/svt_bench.py" sizes "$DEV/aqua-400.png"

# ---------------------------------------------------------------- 4. report
python3 "$HERE/svt_bench.py" report
