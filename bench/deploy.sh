#!/usr/bin/env bash
# Deploy benchmark: a generated site of N drops (bench/scale_site.py), built, then deployed to
# a local S3-compatible server (moto, tests/s3/deploy_server.py, on loopback): a first deploy
# into an empty bucket, a no-op deploy, and a deploy after one drop's title was edited and the
# site built again. Prints each deploy's wall time, the files it uploaded and deleted, and the
# objects the bucket holds, as counted by the server.
#
# Usage, from the repo root:
#   bench/deploy.sh [N]          default: 1000
#
# Environment:
#   DROPGEN_BIN   use this binary instead of running `cargo build --release`
#   BENCH_ROOT    scratch root [default: /tmp/dropgen-bench]
# Needs python3 with tests/s3/requirements.txt installed, and jq. moto is a test server, far
# slower than S3 per request: the first deploy's time is moto's; the no-op and the edit are
# what dropgen decides, which is the point.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_root=${BENCH_ROOT:-/tmp/dropgen-bench}
n=${1:-1000}

if [ -n "${DROPGEN_BIN:-}" ]; then
  bin=$DROPGEN_BIN
else
  (cd "$repo" && cargo build --release --quiet)
  bin=$repo/target/release/dropgen
fi
command -v jq >/dev/null || { echo "needs jq" >&2; exit 1; }

work=$bench_root/deploy-$n
rm -rf "$work"
mkdir -p "$work"
python3 "$repo/bench/scale_site.py" "$work/site" "$n"
"$bin" build --quiet --root "$work/site" --out "$work/out" --cache-dir "$work/cache" 2>>"$work/build.log"

coproc server { python3 "$repo/tests/s3/deploy_server.py" bench 2>"$work/server.log"; }
trap 'echo quit >&"${server[1]}" 2>/dev/null || true; wait' EXIT
read -r ready endpoint key secret _ <&"${server[0]}"
[ "$ready" = READY ] || { cat "$work/server.log" >&2; exit 1; }
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret
export AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true

# Objects under the site's prefix, as the server counts them.
objects() {
  echo "objects site/" >&"${server[1]}"
  local count=0 line
  while read -r line <&"${server[0]}"; do
    [ "$line" = END ] && break
    count=$((count + 1))
  done
  echo "$count"
}

deploy() {
  local name=$1 start end
  start=$EPOCHREALTIME
  "$bin" deploy --out "$work/out" --to s3://bench/site --format json >"$work/$name.json" 2>"$work/$name.log" ||
    { cat "$work/$name.log" >&2; exit 1; }
  end=$EPOCHREALTIME
  printf '%-7s %-22s %8.2f %8s %8s %8s\n' "$n" "$name" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" \
    "$(jq '.uploads | length' "$work/$name.json")" "$(jq '.deletions | length' "$work/$name.json")" "$(objects)"
}

printf '%-7s %-22s %8s %8s %8s %8s\n' drops deploy wall_s uploaded deleted objects
deploy first
deploy no-op
python3 "$repo/bench/scale_site.py" "$work/site" "$n" --edit $((n / 2))
"$bin" build --quiet --root "$work/site" --out "$work/out" --cache-dir "$work/cache" 2>>"$work/build.log"
deploy one-title-edited
jq -r '"  uploaded after the edit: " + ([.uploads[].path] | join(", "))' "$work/one-title-edited.json"
