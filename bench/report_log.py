#!/usr/bin/env python3
"""Writes an inventory event log (the embedded store's SQLite, schema 1 with observations) of
one drop with about N events, for bench/report.sh: a 60-minute drop of two SKUs where each
hold is created, then confirmed (70 %), expired (25 %) or released (5 %), in time order; and
one observation record per minute with refusals, hashed addresses, latency and beacons.

Seeded: the same N gives the same file. Usage: report_log.py N OUT.db
"""
import heapq
import json
import random
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

DROP = "bench"
START = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
MINUTES = 60
TTL = timedelta(minutes=5)


def iso(at):
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def main(events_wanted, path):
    rng = random.Random(26)
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE events (seq INTEGER PRIMARY KEY, drop_slug TEXT NOT NULL, at TEXT NOT NULL,
                             kind TEXT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX events_by_drop ON events (drop_slug, seq);
        CREATE TABLE observations (seq INTEGER PRIMARY KEY, drop_slug TEXT NOT NULL,
                                   minute TEXT NOT NULL, body TEXT NOT NULL);
        CREATE INDEX observations_by_drop ON observations (drop_slug, seq);
        PRAGMA user_version = 1;
        """
    )
    holds = events_wanted // 2
    stock = holds  # enough that it never sells out before the end: every hold succeeds
    rows = []

    def emit(at, kind, body):
        body = {"event": kind, "at": iso(at), "drop": DROP, **body}
        rows.append((DROP, iso(at), kind, json.dumps(body, separators=(",", ":"))))

    sku = lambda s: {"stock": stock // 2, "limit_per_customer": None, "checkout_url": "https://shop.example/c"}
    emit(START - timedelta(hours=1), "drop_synced", {"definition": {
        "starts_at": iso(START), "ends_at": iso(START + timedelta(minutes=MINUTES)), "skus": {"A": sku("A"), "B": sku("B")}}})
    ends = []  # (at, n, kind, hold)
    step = MINUTES * 60 / holds
    for n in range(1, holds + 1):
        at = START + timedelta(seconds=n * step)
        while ends and ends[0][0] <= at:
            end_at, _, kind, hold = heapq.heappop(ends)
            emit(end_at, kind, {"hold": hold} if kind != "hold_confirmed" else {"hold": hold, "key": "pay-" + hold})
        hold = f"h_{DROP}_{n}"
        emit(at, "hold_created", {"hold": hold, "sku": "A" if n % 2 else "B", "quantity": 1,
                                  "customer": f"c{rng.randrange(200_000)}", "key": f"k{n}", "expires_at": iso(at + TTL)})
        fate = rng.random()
        if fate < 0.70:
            heapq.heappush(ends, (at + timedelta(seconds=rng.uniform(5, 240)), n, "hold_confirmed", hold))
        elif fate < 0.95:
            heapq.heappush(ends, (at + TTL, n, "hold_expired", hold))
        else:
            heapq.heappush(ends, (at + timedelta(seconds=rng.uniform(5, 240)), n, "hold_released", hold))
        if len(rows) >= 50_000:
            db.executemany("INSERT INTO events (drop_slug, at, kind, body) VALUES (?, ?, ?, ?)", rows)
            rows.clear()
    while ends:
        end_at, _, kind, hold = heapq.heappop(ends)
        emit(end_at, kind, {"hold": hold} if kind != "hold_confirmed" else {"hold": hold, "key": "pay-" + hold})
    db.executemany("INSERT INTO events (drop_slug, at, kind, body) VALUES (?, ?, ?, ?)", rows)
    for minute in range(MINUTES):
        at = START + timedelta(minutes=minute)
        record = {
            "drop": DROP, "minute": iso(at).replace(".000", ""), "instance": "bench",
            "refusals": {"rate_limited": rng.randrange(1000), "sold_out": rng.randrange(100)},
            "errors": rng.randrange(3),
            "hold_latency": [rng.randrange(5000) for _ in range(16)],
            "holds_by_address": {f"{rng.getrandbits(64):016x}": rng.randrange(1, 4) for _ in range(10_000)},
            "rate_limited_addresses": {f"{rng.getrandbits(64):016x}": rng.randrange(1, 9) for _ in range(500)},
            "rate_limited_customers": {f"c{rng.randrange(200_000)}": rng.randrange(1, 9) for _ in range(500)},
            "beacon_failures": {"stock_error:timeout": rng.randrange(50)},
            "first_stock": [rng.randrange(500) for _ in range(11)],
            "overflow": 0,
        }
        db.execute("INSERT INTO observations (drop_slug, minute, body) VALUES (?, ?, ?)",
                   (DROP, record["minute"], json.dumps(record, separators=(",", ":"))))
    db.commit()
    count = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    print(count)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
