#!/usr/bin/env bash
# Runs dropgen's coverage-guided fuzz targets (fuzz/README.md says what each one checks).
#
# Usage, from anywhere in the checkout:
#   scripts/fuzz.sh TARGET [SECONDS]   one target, for SECONDS (default 3600: an hour)
#   scripts/fuzz.sh all [SECONDS]      every target in turn, SECONDS each
#   scripts/fuzz.sh list               the targets
#   scripts/fuzz.sh build              build every target, run none
#
# FUZZ_PROFILE=quick builds the targets with `cargo fuzz --dev`, that is fuzz/Cargo.toml's dev
# profile (opt-level 1, many codegen units) instead of cargo-fuzz's release build (opt-level 3
# in one codegen unit per crate): a fraction of the build time, for CI's one-minute runs where
# the build, not the fuzzing, is the cost. Hour-long runs keep the default.
#
# Installs cargo-fuzz from crates.io when it is missing. libFuzzer's coverage instrumentation
# works on the stable toolchain; its sanitizers do not (they need nightly `-Z` flags), so the
# targets run with `--sanitizer none`: a panic, an abort, a stack overflow, a run over the
# time limit (a hang) or over the memory limit is a finding; a silent memory error in C code is
# not (the decoders fuzzed here are Rust). Each target's corpus grows in fuzz/corpus/TARGET
# (ignored by git) from the committed seeds in fuzz/seeds/TARGET. A finding is saved in
# fuzz/artifacts/TARGET/ and the script exits non-zero; replay it with
#   cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(site_texts markdown image previous_manifest)
# Pinned, so CI and developers build the same harness.
cargo_fuzz_version=0.13.2

usage() {
  echo "usage: scripts/fuzz.sh TARGET|all|list [SECONDS]   (targets: ${targets[*]})" >&2
  exit 2
}
[ $# -ge 1 ] || usage
case $1 in
  list) printf '%s\n' "${targets[@]}"; exit 0 ;;
  all) run=("${targets[@]}") ;;
  build) run=() ;;
  *) [[ " ${targets[*]} " == *" $1 "* ]] || usage; run=("$1") ;;
esac
seconds=${2:-3600}
[[ $seconds =~ ^[0-9]+$ ]] || usage

if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $cargo_fuzz_version" ]; then
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

profile=()
case ${FUZZ_PROFILE:-release} in
  release) ;;
  quick) profile=(--dev) ;;
  *) echo "FUZZ_PROFILE is release (default) or quick, not ${FUZZ_PROFILE}" >&2; exit 2 ;;
esac

# Warnings are errors in dropgen itself (dependencies' lints are capped by cargo): the fuzz
# targets build it without its `live` and `s3` features, a configuration no other build
# compiles, so this is where code those features leave unused shows. The same flags for every
# cargo-fuzz call, or the second would build everything again.
export RUSTFLAGS="${RUSTFLAGS:-} -D warnings"
# One build of every target, so the timed runs below only fuzz.
cargo fuzz build --sanitizer none "${profile[@]}"
for target in "${run[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  dict=()
  [ -f "fuzz/dicts/$target.dict" ] && dict=("-dict=fuzz/dicts/$target.dict")
  echo "==> $target for ${seconds}s"
  # -timeout: an input that takes over 10 s is a hang; -rss_limit_mb: a run over 2 GB is a
  # memory blow-up. Both are findings, like a panic.
  # The progress lines are dropped from the log; the final statistics stay.
  if ! cargo fuzz run --sanitizer none "${profile[@]}" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
    2>&1 | { grep -vE '^#[0-9]+\s+(NEW|REDUCE|pulse)' || true; }; then
    echo "fuzz target $target found a problem: see fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
