#!/usr/bin/env python3
"""Cloudflare's and Fastly's purge APIs on loopback, for the `dropgen deploy --purge` tests.

No CDN runs on loopback, so this implements the documented request and response shapes:

- Cloudflare, POST /client/v4/zones/{zone}/purge_cache with `Authorization: Bearer {token}`
  and a JSON body `{"files": [absolute URL, ...]}` of 1 to 30 URLs; answers
  `{"success": true, "errors": [], "messages": [], "result": {"id": ...}}`, or
  `"success": false` with errors.
- Fastly, POST /service/{service}/purge with `Fastly-Key: {token}` and a JSON body
  `{"surrogate_keys": [key, ...]}` of 1 to 256 keys; answers a JSON map of key to purge id.

Every request that breaks a rule (method, path, auth, content type, body schema, batch size)
is answered 400/401/404 and recorded as a violation. To exercise retries, the first request
of each vendor is answered 500 and the second 429 with `Retry-After: 0`; in the `fail` mode
every request is answered 429 with `Retry-After: 0`.

Usage: purge_server.py TOKEN ZONE SERVICE. Prints `READY <base URL>`, then reads one command
a line from stdin, answering on stdout and ending each answer with `END`:

    purged VENDOR     what VENDOR purged, one JSON string a line (sorted)
    violations        every rejected request, one JSON object a line
    requests VENDOR   how many requests VENDOR received (a number)
    mode ok|fail      answer normally, or refuse every purge with 429
    quit              stop
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN, ZONE, SERVICE = sys.argv[1:4]
LOCK = threading.Lock()
STATE = {"mode": "ok", "purged": {"cloudflare": set(), "fastly": set()}, "violations": [],
         "requests": {"cloudflare": 0, "fastly": 0}}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def violation(self, status, vendor, reason):
        with LOCK:
            STATE["violations"].append({"vendor": vendor, "path": self.path, "reason": reason})
        if vendor == "cloudflare":
            self.reply(status, {"success": False, "errors": [{"code": 1012, "message": reason}], "messages": [],
                                "result": None})
        else:
            self.reply(status, {"msg": reason})

    def body(self, vendor, key, limit):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return None, "Content-Type is not application/json"
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return None, "the body is not JSON"
        if not isinstance(body, dict) or set(body) != {key}:
            return None, f"the body must be an object with exactly `{key}`"
        items = body[key]
        if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
            return None, f"`{key}` must be a list of strings"
        if not 1 <= len(items) <= limit:
            return None, f"`{key}` holds {len(items)} items; the limit is {limit}"
        if vendor == "cloudflare" and not all(item.startswith(("https://", "http://")) for item in items):
            return None, "`files` must be absolute URLs"
        return items, None

    def throttled(self, vendor):
        """The first request of each vendor fails with 500, the second with 429."""
        with LOCK:
            STATE["requests"][vendor] += 1
            count = STATE["requests"][vendor]
            mode = STATE["mode"]
        if mode == "fail" or count == 2:
            self.reply(429, {"success": False, "errors": [{"code": 971, "message": "rate limited"}]},
                       [("Retry-After", "0")])
            return True
        if count == 1:
            self.reply(500, {"success": False, "errors": [{"code": 1000, "message": "internal error"}]})
            return True
        return False

    def do_POST(self):
        parts = self.path.split("/")
        if self.path == f"/client/v4/zones/{ZONE}/purge_cache":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.violation(401, "cloudflare", "Authorization is not `Bearer <token>`")
            items, error = self.body("cloudflare", "files", 30)
            if error:
                return self.violation(400, "cloudflare", error)
            if self.throttled("cloudflare"):
                return
            with LOCK:
                STATE["purged"]["cloudflare"].update(items)
            return self.reply(200, {"success": True, "errors": [], "messages": [], "result": {"id": ZONE}})
        if self.path == f"/service/{SERVICE}/purge":
            if self.headers.get("Fastly-Key") != TOKEN:
                return self.violation(401, "fastly", "Fastly-Key is not the token")
            items, error = self.body("fastly", "surrogate_keys", 256)
            if error:
                return self.violation(400, "fastly", error)
            if self.throttled("fastly"):
                return
            with LOCK:
                STATE["purged"]["fastly"].update(items)
            return self.reply(200, {item: f"purge-{i}" for i, item in enumerate(items)})
        vendor = "cloudflare" if len(parts) > 1 and parts[1] == "client" else "fastly"
        return self.violation(404, vendor, f"no such route: POST {self.path}")

    def do_GET(self):
        vendor = "cloudflare" if self.path.startswith("/client/") else "fastly"
        return self.violation(405, vendor, f"purges are POSTs, not GET {self.path}")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY http://127.0.0.1:{server.server_address[1]}", flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        with LOCK:
            if command == "purged":
                for item in sorted(STATE["purged"][argument]):
                    print(json.dumps(item))
            elif command == "violations":
                for violation in STATE["violations"]:
                    print(json.dumps(violation))
            elif command == "requests":
                print(STATE["requests"][argument])
            elif command == "mode":
                STATE["mode"] = argument
            elif command == "quit":
                break
            else:
                print(json.dumps(f"unknown command {command!r}"))
        print("END", flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
