#!/usr/bin/env python3
"""How long `dropgen serve` takes from a saved edit to the browser's reload.

Starts `dropgen serve` on a site that bench/scale_site.py generated, listens to the same
server-sent events the page's reload script listens to, then edits one drop's title several
times, one edit at a time. For each edit it measures, from the moment the file is written:
  reload   the `reload` event arrives (the page's script calls `location.reload()` on it);
  served   the edited drop page, fetched right after the event, carries the new title.
Prints each edit and the median and worst of both.

usage: serve_reload.py DROPGEN SITE [--edits N] [--cache-dir DIR]
Standard library only. Quote it beside a build's own figures from the same run: the machines
are shared and noisy."""
import argparse
import http.client
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("dropgen")
ap.add_argument("site", type=Path)
ap.add_argument("--edits", type=int, default=5)
ap.add_argument("--cache-dir", type=Path, default=None, help="default: SITE/../cache, as bench/scale.sh uses")
a = ap.parse_args()

drops = sorted(p for p in (a.site / "drops").iterdir() if (p / "drop.yaml").is_file())
if not drops:
    sys.exit(f"no drops in {a.site / 'drops'}")
target = drops[len(drops) // 2]
drop_file = target / "drop.yaml"
original = drop_file.read_text()
title_line = re.compile(r'^title: "(.*)"$', re.M)
if not title_line.search(original):
    sys.exit(f"{drop_file} has no `title: \"…\"` line")
cache_dir = a.cache_dir or a.site.parent / "cache"

with tempfile.TemporaryDirectory(prefix="serve-reload-") as scratch:
    out = Path(scratch) / "out"
    serve = subprocess.Popen(
        [a.dropgen, "serve", "--root", str(a.site), "--out", str(out), "--port", "0",
         "--cache-dir", str(cache_dir)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    origin = None
    log = []
    for line in serve.stderr:
        log.append(line)
        found = re.search(r"serving (http://127\.0\.0\.1:(\d+))/", line)
        if found:
            origin, port = found.group(1), int(found.group(2))
            break
    if origin is None:
        serve.wait()
        sys.exit("dropgen serve did not start:\n" + "".join(log))
    # Keep draining its log, or it blocks once the pipe is full.
    threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()

    reloads = []
    arrived = threading.Condition()

    def listen():
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/_dropgen/events", headers={"Accept": "text/event-stream"})
        response = conn.getresponse()
        while True:
            line = response.readline()
            if not line:
                return
            if line.strip() in (b"event: reload", b"event: failed"):
                with arrived:
                    reloads.append((time.monotonic(), line.strip().decode()))
                    arrived.notify_all()

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(1.0)  # the event stream is open before the first edit

    def page_has(title):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", f"/{target.name}/")
        body = conn.getresponse().read().decode("utf-8", "replace")
        return title in body

    rows = []
    try:
        for edit in range(1, a.edits + 1):
            title = f"Reload check {edit} at {time.time_ns()}"
            with arrived:
                seen = len(reloads)
            start = time.monotonic()
            drop_file.write_text(title_line.sub(f'title: "{title}"', original, count=1))
            with arrived:
                if not arrived.wait_for(lambda: len(reloads) > seen, timeout=60):
                    sys.exit(f"edit {edit}: no reload event within 60 s")
                at, kind = reloads[seen]
            if kind != "event: reload":
                sys.exit(f"edit {edit}: the rebuild failed")
            reload_s = at - start
            served = page_has(title)
            served_s = time.monotonic() - start
            if not served:
                sys.exit(f"edit {edit}: the page served after the reload event lacks the new title")
            rows.append((reload_s, served_s))
            print(f"edit {edit}: reload {reload_s:.3f} s, edited page served {served_s:.3f} s", flush=True)
            time.sleep(1.0)  # let the watcher settle; one edit at a time
    finally:
        drop_file.write_text(original)
        serve.terminate()
        serve.wait()

reload_times = [r for r, _ in rows]
served_times = [s for _, s in rows]
print(f"{len(drops)} drops, {len(rows)} edits: reload median {statistics.median(reload_times):.3f} s "
      f"(worst {max(reload_times):.3f} s); edited page served median {statistics.median(served_times):.3f} s "
      f"(worst {max(served_times):.3f} s)")
