#!/usr/bin/env bash
# Lighthouse (mobile, its default simulated throttling) on the bundled site, served locally by
# `dropgen serve --mock-inventory`, which compresses as a CDN does.
#
# Usage, from the repo root:
#   bench/lighthouse.sh [PAGE...]      (default: / and /aero-runner-2/)
#
# Prints, per page, the four category scores and the metrics behind Performance, and keeps
# each report as JSON under $BENCH_ROOT/lighthouse/. Installs the npm package `lighthouse`
# there the first time; needs Node 20+ and Chromium (DROPGEN_CHROMIUM, default
# /usr/bin/chromium); DROPGEN_BIN picks the binary (default: a release build). Performance depends on this machine's CPU: quote it with the run's
# load, and compare pages and changes within one run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_root=${BENCH_ROOT:-/tmp/dropgen-bench}
work="$bench_root/lighthouse"
chromium=${DROPGEN_CHROMIUM:-/usr/bin/chromium}
version=${LIGHTHOUSE_VERSION:-13.5.0}
pages=("$@")
[ ${#pages[@]} -gt 0 ] || pages=(/ /aero-runner-2/)
mkdir -p "$work"
log() { printf '[lighthouse] %s\n' "$*" >&2; }

if [ ! -x "$work/node_modules/.bin/lighthouse" ]; then
  log "npm install lighthouse@$version into $work"
  (cd "$work" && npm install --no-audit --no-fund --silent "lighthouse@$version")
fi

bin=${DROPGEN_BIN:-}
if [ -z "$bin" ]; then
  log "cargo build --release"
  (cd "$repo" && cargo build --release --quiet)
  bin="$repo/target/release/dropgen"
fi
site="$work/site"
rm -rf "$site"; mkdir -p "$site"
(cd "$repo" && tar --exclude=./target --exclude=./.git --exclude=./dist --exclude=./.dropgen-cache \
  --exclude=./tests --exclude=./src --exclude=./node_modules -cf - .) | tar -C "$site" -xf -

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --root "$site" --port "$port" --mock-inventory \
  --cache-dir "$work/cache" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q '^serving http' "$work/serve.log" && break
  kill -0 $server 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.5
done

printf '\n| page | Performance | Accessibility | Best Practices | SEO | FCP | LCP | TBT | CLS | render-blocking |\n|---|---|---|---|---|---|---|---|---|---|\n'
for page in "${pages[@]}"; do
  name=$(printf '%s' "$page" | tr -c 'a-zA-Z0-9-' '_')
  report="$work/report$name.json"
  CHROME_PATH="$chromium" "$work/node_modules/.bin/lighthouse" "http://127.0.0.1:$port$page" \
    --quiet --output=json --output-path="$report" \
    --chrome-flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync" \
    >/dev/null
  python3 - "$report" "$page" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
score = lambda c: round(100 * (report["categories"][c]["score"] or 0))
audit = lambda a: report["audits"].get(a, {}).get("displayValue", "–")
print(f"| `{sys.argv[2]}` | {score('performance')} | {score('accessibility')} | {score('best-practices')} | "
      f"{score('seo')} | {audit('first-contentful-paint')} | {audit('largest-contentful-paint')} | "
      f"{audit('total-blocking-time')} | {audit('cumulative-layout-shift')} | {audit('render-blocking-insight')} |")
EOF
done
printf '\nload average during the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
