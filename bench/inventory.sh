#!/usr/bin/env bash
# Load benchmark of `dropgen inventory serve` on loopback, with wrk (Debian's `wrk`) as the
# load generator on the same machine. Every run is bounded (DURATION seconds) and targets
# 127.0.0.1 only.
#
# For each backend (the embedded SQLite store; Redis, a redis-server this script starts on
# loopback with `appendfsync always`) it prints:
# - holds per second and p50/p99 latency at 64, 256 and 1,024 connections, each run a fresh
#   store racing for 10,000 units (then refusals: on Redis these are still one script each);
# - the units held when the run stopped and the oversell check (held + sold + available
#   - 10,000, which must be 0), and how fast the units went: the span from the first to the
#   last hold in the event log, and holds per second over it;
# - GET /stock per second, without and with If-None-Match (304s);
# - side by side, the engines alone: `redis-benchmark` running the hold script with EVALSHA
#   (one server, the same fsync policy), and `cargo bench --bench inventory_store` (each store
#   without HTTP).
#
# Usage, from anywhere in the checkout:
#   bench/inventory.sh
# Environment:
#   DURATION      seconds per wrk run [default: 10]
#   CONNECTIONS   the hold runs' connection counts [default: "64 256 1024"]
#   DROPGEN_BIN   use this binary instead of `cargo build --release`
#   BACKENDS      [default: "embedded redis", redis only when redis-server is installed]
# Quote ratios, not exact figures: the machines are shared and noisy.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-10}
connections=(${CONNECTIONS:-64 256 1024})
units=10000

backends=(${BACKENDS:-embedded $(command -v redis-server >/dev/null && echo redis)})
redis_port=16379
if ! command -v wrk >/dev/null; then
  echo "bench/inventory.sh needs wrk: apt-get install wrk" >&2
  exit 2
fi
if [ -n "${DROPGEN_BIN:-}" ]; then
  bin=$DROPGEN_BIN
else
  (cd "$repo" && cargo build --release --quiet)
  bin=$repo/target/release/dropgen
fi
# 1,024 connections, and the service's own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
service= redis=
cleanup() {
  [ -n "$service" ] && kill "$service" 2>/dev/null && wait "$service" 2>/dev/null
  [ -n "$redis" ] && kill "$redis" 2>/dev/null && wait "$redis" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export DROPGEN_INVENTORY_OPERATOR_KEY=bench-operator
"$bin" inventory keygen "$work/signing.pem" 2>/dev/null
cat >"$work/inventory.json" <<EOF
{"version": 1, "drops": {"bench": {"starts_at": "2020-01-01T00:00:00Z", "ends_at": null,
 "skus": {"BENCH-1": {"stock": $units, "limit_per_customer": null, "checkout_url": "https://shop.example/checkout"}}}}}
EOF
# Rate limits out of the way: one address sends the whole crowd here.
cat >"$work/inventory.yaml" <<EOF
catalog: inventory.json
signing_keys: [signing.pem]
holds_per_address_per_minute: 100000000
holds_per_customer_per_minute: 100000000
EOF

# Unique Idempotency-Key per request, 5,000 customers; counts statuses per thread.
cat >"$work/holds.lua" <<'EOF'
-- Globals, not locals: setup() and done() reach each thread's through thread:set/get.
threads = {}
counter, created, refused, other = 0, 0, 0, 0
function setup(thread)
  thread:set("prefix", "t" .. #threads)
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. "-" .. counter,
    ["Cookie"] = "dropgen_customer=c" .. (counter % 5000),
  }
  return wrk.format("POST", "/drops/bench/holds", headers, '{"sku": "BENCH-1", "quantity": 1}')
end
function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 409 then refused = refused + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created"); r = r + thread:get("refused"); o = o + thread:get("other")
  end
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d %d %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    c, r, o, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOF

start_redis() {
  mkdir -p "$work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync always \
    --dir "$work/redis" --logfile "$work/redis/redis.log" &
  redis=$!
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis-server did not start" >&2
  exit 1
}

# $1: the backend. Each start is a fresh store.
start_service() {
  local store=()
  rm -f "$work"/inventory.db*
  if [ "$1" = redis ]; then
    redis-cli -p "$redis_port" flushall >/dev/null
    store=(--redis "redis://127.0.0.1:$redis_port")
  fi
  (cd "$work" && exec "$bin" inventory serve --config inventory.yaml --listen 127.0.0.1:18787 "${store[@]}" 2>"$work/service.log") &
  service=$!
  for _ in $(seq 100); do
    curl -sf http://127.0.0.1:18787/healthz >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the service did not start:" >&2
  cat "$work/service.log" >&2
  exit 1
}
stop_service() {
  kill "$service" && wait "$service" 2>/dev/null || true
  service=
}

# Holds made per second while units were left: the span between the first and the last
# hold_created in the event log (the requests/s column also counts the refusals after).
# $1: the backend, whose log is read.
selling_rate() {
  if [ "$1" = redis ]; then
    redis-cli -p "$redis_port" xrange 'dropgen:{d:bench}:log' - + | grep '"hold_created"'
  else
    sqlite3_json "$work/inventory.db"
  fi | python3 -c '
import json, re, sys
from datetime import datetime
rows = [(json.loads(line)["at"],) for line in sys.stdin if line.strip()]
def seconds(text):
    m = re.match(r"(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-].*)$", text)
    base = datetime.fromisoformat(m.group(1) + (m.group(3) if m.group(3) != "Z" else "+00:00"))
    return base.timestamp() + float("0." + (m.group(2) or "0"))
times = sorted(seconds(at) for (at,) in rows)
span = times[-1] - times[0] if len(times) > 1 else 0
print(f"{span:.2f} {len(times) / span:.0f}" if span else "- -")
'
}
sqlite3_json() {
  python3 -c 'import sqlite3, sys
for (body,) in sqlite3.connect(sys.argv[1]).execute("SELECT body FROM events WHERE kind = '"'hold_created'"'"): print(body)' "$1"
}

[[ " ${backends[*]} " == *" redis "* ]] && start_redis
for backend in "${backends[@]}"; do
echo "== $backend: holds, a fresh store racing for $units units, ${duration}s per run (wrk, 2 threads)"
printf '%-12s %10s %9s %9s %9s %9s %7s %10s %12s %12s\n' connections "requests/s" "p50 ms" "p99 ms" created refused other oversold "sold out s" "holds/s"
for c in "${connections[@]}"; do
  start_service "$backend"
  read -r _ rate p50 p99 created refused other errors < <(
    wrk -t2 -c"$c" -d"${duration}s" --timeout 10s --latency -s "$work/holds.lua" http://127.0.0.1:18787 | grep '^RESULT'
  )
  state=$(curl -sf -H "Authorization: Bearer $DROPGEN_INVENTORY_OPERATOR_KEY" http://127.0.0.1:18787/drops/bench)
  oversold=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["skus"]["BENCH-1"]; print(s["held"] + s["sold"] + s["available"] - '"$units"' if s["available"] >= 0 else -1)' <<<"$state")
  read -r span selling < <(selling_rate "$backend")
  printf '%-12s %10s %9s %9s %9s %9s %7s %10s %12s %12s\n' "$c" "$rate" "$p50" "$p99" "$created" "$refused" "$((other + errors))" "$oversold" "$span" "$selling"
  stop_service
done

echo
echo "== $backend: GET /drops/bench/stock, 256 connections, ${duration}s (wrk, 2 threads)"
start_service "$backend"
etag=$(curl -sfD - -o /dev/null http://127.0.0.1:18787/drops/bench/stock | awk 'tolower($1) == "etag:" { print $2 }' | tr -d '\r')
for variant in plain if-none-match; do
  headers=()
  [ "$variant" = if-none-match ] && headers=(-H "If-None-Match: $etag")
  line=$(wrk -t2 -c256 -d"${duration}s" --latency "${headers[@]}" http://127.0.0.1:18787/drops/bench/stock)
  rate=$(awk '/^Requests\/sec/ { print $2 }' <<<"$line")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$line")
  printf '%-16s %12s requests/s   p99 %s\n' "$variant" "$rate" "$p99"
done
stop_service
echo
done

if [ -n "$redis" ]; then
  echo "== Redis alone: redis-benchmark, the hold script by EVALSHA (appendfsync always), 64 clients"
  # A drop of its own, synced and given stock through the script itself, then holds with
  # random customers and keys (a repeated key replays, as it would in the service).
  redis-cli -p "$redis_port" flushall >/dev/null
  sha=$(redis-cli -p "$redis_port" script load "$(cat "$repo/src/inventory/store/inventory.lua")")
  now=$(($(date +%s) * 1000))
  definition='{"starts_at":"2020-01-01T00:00:00Z","ends_at":null,"skus":{"BENCH-1":{"stock":100000000,"limit_per_customer":null,"checkout_url":"https://shop.example/c"}}}'
  redis-cli -p "$redis_port" evalsha "$sha" 1 'dropgen:{d:bench}' sync "$now" bench 1577836800000 '' "$definition" \
    BENCH-1 100000000 '' https://shop.example/c >/dev/null
  for clients in 64 256; do
    redis-benchmark -p "$redis_port" -c "$clients" -n 200000 -r 1000000000 -q \
      evalsha "$sha" 1 'dropgen:{d:bench}' hold "$now" bench BENCH-1 1 c__rand_int__ k__rand_int__ 600000 1 |
      tr '\r' '\n' | grep 'requests per second' | sed "s/^/$clients clients: /"
  done
  echo
fi

echo
echo "== the stores alone (no HTTP): cargo bench --bench inventory_store"
[ -n "$redis" ] && redis-cli -p "$redis_port" flushall >/dev/null && export DROPGEN_BENCH_REDIS="redis://127.0.0.1:$redis_port"
(cd "$repo" && cargo bench --quiet --bench inventory_store 2>/dev/null)
